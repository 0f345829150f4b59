/**
 * A controller's JSON config <-> firebird-base's ConfigProto (the payload of REQUEST/CONF). Pure.
 *
 * JSON to ConfigProto (documented in docs/protocol.md, "Saturnin ICCP face"):
 * - string -> as_string; boolean -> as_bool; null -> the option is left out (Saturnin's "not set")
 * - a whole number (a safe integer) -> as_sint64: Saturnin's int options refuse a double
 * - any other number -> as_double
 * - an object with one `$kind` key forces a kind: {"$double": 1}, {"$float": 1.5}, {"$sint32": -1},
 *   {"$uint32": 1}, {"$sint64": "-9007199254740993"}, {"$uint64": "18446744073709551615"} (integers as
 *   numbers or decimal strings), {"$bytes": "<base64>"}, {"$any": {"typeUrl": "...", "value": "<base64>"}}
 * - any other object -> a nested config (configs[key]), to `MAX_CONFIG_DEPTH` levels
 * - arrays are refused: Saturnin's list options travel as their text form ("a, b")
 * ConfigProto to JSON writes each kind back so that JSON -> proto -> JSON is the identity and
 * proto -> JSON -> proto keeps every kind: as_string, as_bool, as_sint64 within the safe range
 * and as_double that is not whole come back plain; everything else comes back as its `$kind`.
 */
import { create } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import { MusterError } from '../../errors.js';
import { ConfigProtoSchema, ValueSchema, type ConfigProto, type Value } from './gen/config_pb.js';

/** Nested configs deeper than this are refused (the decoder's own recursion limit is 100 messages). */
export const MAX_CONFIG_DEPTH = 16;
/** Options and configs per level. */
export const MAX_CONFIG_KEYS = 1024;
const KEY_MAX = 256;

type Kind = NonNullable<Value['kind']['case']>;
const KINDS = {
  $double: 'asDouble', $float: 'asFloat', $sint32: 'asSint32', $uint32: 'asUint32', $sint64: 'asSint64', $uint64: 'asUint64',
  $bytes: 'asBytes', $any: 'asMsg', $string: 'asString', $bool: 'asBool',
} as const satisfies Record<string, Kind>;
type Tag = keyof typeof KINDS;
const TAG_OF = Object.fromEntries(Object.entries(KINDS).map(([t, k]) => [k, t])) as Record<Kind, Tag>;

const bad = (path: string, why: string) => new MusterError('INVALID_PARAMS', `config${path}: ${why}`, { path });

/** A controller's JSON config as ConfigProto; INVALID_PARAMS names the first bad key. */
export function toConfigProto(config: Readonly<Record<string, unknown>>, path = '', depth = 1): ConfigProto {
  if (depth > MAX_CONFIG_DEPTH) throw bad(path, `nested deeper than ${MAX_CONFIG_DEPTH} configs`);
  const keys = Object.keys(config);
  if (keys.length > MAX_CONFIG_KEYS) throw bad(path, `more than ${MAX_CONFIG_KEYS} keys`);
  const proto = create(ConfigProtoSchema);
  for (const key of keys.sort()) {
    const at = `${path}.${key}`;
    if (key.length === 0 || key.length > KEY_MAX) throw bad(at, `keys are 1-${KEY_MAX} characters`);
    const v = config[key];
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v) && !isTagged(v)) {
      define(proto.configs, key, toConfigProto(v as Record<string, unknown>, at, depth + 1));
    } else {
      define(proto.options, key, toValue(v, at));
    }
  }
  return proto;
}

function isTagged(v: object): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0]!.startsWith('$');
}

function toValue(v: unknown, at: string): Value {
  switch (typeof v) {
    case 'string': return value('asString', v);
    case 'boolean': return value('asBool', v);
    case 'number':
      if (!Number.isFinite(v)) throw bad(at, 'numbers must be finite');
      return Number.isSafeInteger(v) ? value('asSint64', BigInt(v)) : value('asDouble', v);
    case 'object':
      if (Array.isArray(v)) throw bad(at, 'arrays have no ConfigProto kind: give a list option as its text, "a, b"');
      return tagged(v as Record<string, unknown>, at);
    default:
      throw bad(at, `a ${typeof v} has no ConfigProto kind`);
  }
}

function tagged(v: Record<string, unknown>, at: string): Value {
  const tag = Object.keys(v)[0]!;
  const x = v[tag];
  if (!(tag in KINDS)) throw bad(at, `unknown kind ${JSON.stringify(tag.slice(0, 32))}; kinds are ${Object.keys(KINDS).join(', ')}`);
  const kind = KINDS[tag as Tag];
  switch (kind) {
    case 'asString': if (typeof x === 'string') return value(kind, x); break;
    case 'asBool': if (typeof x === 'boolean') return value(kind, x); break;
    case 'asDouble': if (typeof x === 'number' && Number.isFinite(x)) return value(kind, x); break;
    case 'asFloat': if (typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= 3.4028234663852886e38) return value(kind, x); break;
    case 'asSint32': if (Number.isInteger(x) && (x as number) >= -(2 ** 31) && (x as number) < 2 ** 31) return value(kind, x as number); break;
    case 'asUint32': if (Number.isInteger(x) && (x as number) >= 0 && (x as number) < 2 ** 32) return value(kind, x as number); break;
    case 'asSint64': { const n = bigIntOf(x, -(2n ** 63n), 2n ** 63n - 1n); if (n !== null) return value(kind, n); break; }
    case 'asUint64': { const n = bigIntOf(x, 0n, 2n ** 64n - 1n); if (n !== null) return value(kind, n); break; }
    case 'asBytes': if (typeof x === 'string' && BASE64.test(x)) return value(kind, Buffer.from(x, 'base64')); break;
    case 'asMsg': { const any = anyOf(x); if (any) return value(kind, any); break; }
  }
  throw bad(at, `${tag} takes ${TAKES[tag as Tag]}`);
}

const TAKES: Record<Tag, string> = {
  $string: 'a string', $bool: 'a boolean', $double: 'a finite number', $float: 'a number within float range',
  $sint32: 'a 32-bit signed integer', $uint32: 'a 32-bit unsigned integer', $sint64: 'a 64-bit signed integer (a number or a decimal string)',
  $uint64: 'a 64-bit unsigned integer (a number or a decimal string)', $bytes: 'base64 text', $any: '{"typeUrl": string, "value": base64}',
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bigIntOf(x: unknown, min: bigint, max: bigint): bigint | null {
  let n: bigint;
  if (typeof x === 'number' && Number.isSafeInteger(x)) n = BigInt(x);
  else if (typeof x === 'string' && /^-?\d{1,20}$/.test(x)) n = BigInt(x);
  else return null;
  return n >= min && n <= max ? n : null;
}

function anyOf(x: unknown): Any | null {
  if (typeof x !== 'object' || x === null) return null;
  const { typeUrl, value: v } = x as { typeUrl?: unknown; value?: unknown };
  if (typeof typeUrl !== 'string' || typeUrl.length > 512 || typeof v !== 'string' || !BASE64.test(v)) return null;
  return create(AnySchema, { typeUrl, value: Buffer.from(v, 'base64') });
}

function value<K extends Kind>(kind: K, v: Extract<Value['kind'], { case: K }>['value']): Value {
  return create(ValueSchema, { kind: { case: kind, value: v } as Value['kind'] });
}

/** ConfigProto back to JSON (see the header for which kinds come back tagged). */
export function fromConfigProto(proto: ConfigProto): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(proto.options).sort()) define(out, key, fromValue(proto.options[key]!));
  for (const key of Object.keys(proto.configs).sort()) define(out, key, fromConfigProto(proto.configs[key]!));
  return out;
}

/** A key such as "__proto__" becomes an own property, never the object's prototype. */
function define<T>(o: Record<string, T>, key: string, v: T): void {
  Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
}

function fromValue(v: Value): unknown {
  const k = v.kind;
  switch (k.case) {
    case undefined: return null;
    case 'asString': case 'asBool': return k.value;
    case 'asDouble': return Number.isInteger(k.value) ? { $double: k.value } : k.value;
    case 'asSint64': return k.value >= BigInt(Number.MIN_SAFE_INTEGER) && k.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(k.value) : { $sint64: String(k.value) };
    case 'asUint64': return { $uint64: k.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(k.value) : String(k.value) };
    case 'asFloat': case 'asSint32': case 'asUint32': return { [TAG_OF[k.case]]: k.value };
    case 'asBytes': return { $bytes: Buffer.from(k.value).toString('base64') };
    case 'asMsg': return { $any: { typeUrl: k.value.typeUrl, value: Buffer.from(k.value.value).toString('base64') } };
  }
}
