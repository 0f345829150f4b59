/**
 * Mutations of valid seed messages. A case is data (seed index + a short list of operations), so
 * fast-check can shrink it (fewer operations, smaller numbers) and a failure prints as a recipe.
 *
 * - JSON operations work on the parsed seed: replace a node with a hostile value, drop an entry,
 *   add a key, wrap the message in a batch.
 * - Byte operations work on the encoded bytes: bit flips, set a byte or a little-endian integer,
 *   truncate, delete, duplicate, insert tokens (including invalid UTF-8), splice with another seed.
 * Positions are taken modulo the length, so any number is a valid position.
 */
import fc from 'fast-check';
import { describeValue, keyArb, valueSpec, valueText, type ValueSpec } from './values.js';

export type JsonOp =
  | { readonly op: 'replace'; readonly node: number; readonly value: ValueSpec }
  | { readonly op: 'drop'; readonly node: number }
  | { readonly op: 'add'; readonly node: number; readonly key: string; readonly value: ValueSpec }
  | { readonly op: 'batch'; readonly copies: number };

export type ByteOp =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly byte: number }
  | { readonly op: 'int'; readonly at: number; readonly width: 1 | 2 | 4 | 8; readonly value: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'delete'; readonly at: number; readonly len: number }
  | { readonly op: 'dup'; readonly at: number; readonly len: number }
  | { readonly op: 'insert'; readonly at: number; readonly token: number }
  | { readonly op: 'splice'; readonly other: number; readonly at: number; readonly otherAt: number };

/** Byte sequences worth inserting: JSON punctuation, escapes, BOM, and invalid UTF-8 (overlong, surrogate, 5-byte, 0xFF). */
export const TOKENS: readonly (readonly number[])[] = [
  [0], [0x22], [0x5c], [0x5c, 0x75], [0x7b], [0x5b], [0x7d], [0x5d], [0x2c], [0x3a], [0x20], [0x09], [0x0a], [0x0d, 0x0a],
  [...Buffer.from('null')], [...Buffer.from('1e999')], [...Buffer.from('\\ud800')], [0xef, 0xbb, 0xbf],
  [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xff], [0x80], [0xf4, 0x90, 0x80, 0x80],
];

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xc0, 0xc1, 0xed, 0xf5, 0xfe, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x2f, 0x25];
const INTERESTING_INTS = [0, 1, 2, 6, 7, 8, 13, 16, 127, 128, 255, 256, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
const INTERESTING_F64 = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, -1, 2 ** 53, 2 ** 53 + 2, 1e308, 5e-324, 300_001, 4_294_967_296];

const pos = fc.nat({ max: 1 << 20 });

export const jsonOpArb = (hugeWeight = 4): fc.Arbitrary<JsonOp> => fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('replace' as const), node: fc.nat({ max: 400 }), value: valueSpec({ hugeWeight }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drop' as const), node: fc.nat({ max: 400 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), node: fc.nat({ max: 400 }), key: keyArb, value: valueSpec({ hugeWeight }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('batch' as const), copies: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(99, 100, 101)) }) },
);

export const byteOpArb = (intWidths: readonly (1 | 2 | 4 | 8)[] = [1, 2, 4, 8]): fc.Arbitrary<ByteOp> => fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: pos, bit: fc.nat({ max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), at: pos, byte: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat({ max: 255 })) }) },
  {
    weight: 2, arbitrary: fc.record({
      op: fc.constant('int' as const), at: pos, width: fc.constantFrom(...intWidths),
      value: fc.oneof(fc.constantFrom(...INTERESTING_INTS), fc.constantFrom(...INTERESTING_F64), fc.nat()),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: pos }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dup' as const), at: pos, len: fc.integer({ min: 1, max: 256 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('insert' as const), at: pos, token: fc.nat({ max: TOKENS.length - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('splice' as const), other: fc.nat(), at: pos, otherAt: pos }) },
);

// ---- JSON operations ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const MARK = '\u0001fz';

/** Applies JSON operations to a seed's text; hostile values are spliced in as text at the end. */
export function applyJsonOps(seedText: string, ops: readonly JsonOp[]): string {
  if (ops.length === 0) return seedText;
  let root: Json = JSON.parse(seedText) as Json;
  const values: string[] = [];
  const placeholder = (s: ValueSpec): string => { values.push(valueText(s)); return `${MARK}${values.length - 1}${MARK}`; };
  let batched = false;
  for (const op of ops) {
    if (op.op === 'batch') {
      // One batch per case: batches of batches would clone the seed a million times.
      if (!batched) root = Array.from({ length: op.copies }, () => structuredClone(root));
      batched = true;
      continue;
    }
    const nodes = collect(root);
    const target = nodes[op.node % nodes.length];
    if (op.op === 'replace') {
      if (target.parent === null) root = placeholder(op.value);
      else setEntry(target.parent, target.key!, placeholder(op.value));
    } else if (op.op === 'drop') {
      if (target.parent === null) continue;
      if (Array.isArray(target.parent)) target.parent.splice(Number(target.key), 1);
      else delete target.parent[target.key!];
    } else {
      const container = typeof target.value === 'object' && target.value !== null ? target.value : target.parent;
      if (container === null) root = { [op.key]: placeholder(op.value) };
      else if (Array.isArray(container)) container.push(placeholder(op.value));
      else setEntry(container, op.key, placeholder(op.value));
    }
  }
  let text = JSON.stringify(root);
  // The placeholders were strings: replace the quoted (escaped) marker with the value's text.
  // Bounded: a batch of 100 copies of a megabyte value would be 100 MB; past 6 MB the rest become null.
  let total = text.length;
  text = text.replace(/"\\u0001fz(\d+)\\u0001fz"/g, (_m, i: string) => {
    const v = values[Number(i)];
    total += v.length;
    return total > 6 * 1024 * 1024 ? 'null' : v;
  });
  return text;
}

interface NodeRef { value: Json; parent: Json[] | { [k: string]: Json } | null; key: string | null }

/** Nodes in pre-order, at most 500 (deep seeds are not the point; their top is). */
function collect(root: Json): NodeRef[] {
  const out: NodeRef[] = [];
  const stack: NodeRef[] = [{ value: root, parent: null, key: null }];
  while (stack.length && out.length < 500) {
    const n = stack.pop()!;
    out.push(n);
    const v = n.value;
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: v, key: String(i) });
    else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v).reverse()) stack.push({ value: v[k], parent: v, key: k });
  }
  return out;
}

/** Sets an own property even for "__proto__" (assignment would change the prototype instead). */
function setEntry(container: Json[] | { [k: string]: Json }, key: string, value: Json): void {
  if (Array.isArray(container)) container[Number(key)] = value;
  else Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---- byte operations ----

export function applyByteOps(input: Uint8Array, ops: readonly ByteOp[], others: readonly Uint8Array[] = []): Buffer {
  let b: Buffer = Buffer.from(input);
  for (const op of ops) {
    const at = op.at % (b.length + 1);
    switch (op.op) {
      case 'flip': if (b.length) b[at % b.length] ^= 1 << op.bit; break;
      case 'set': if (b.length) b[at % b.length] = op.byte; break;
      case 'int': b = writeInt(b, at, op.width, op.value); break;
      case 'truncate': b = b.subarray(0, at); break;
      case 'delete': b = Buffer.concat([b.subarray(0, at), b.subarray(at + op.len)]); break;
      case 'dup': b = Buffer.concat([b.subarray(0, at + op.len), b.subarray(at, at + op.len), b.subarray(at + op.len)]); break;
      case 'insert': b = Buffer.concat([b.subarray(0, at), Buffer.from(TOKENS[op.token % TOKENS.length]), b.subarray(at)]); break;
      case 'splice': {
        if (others.length === 0) break;
        const o = others[op.other % others.length];
        b = Buffer.concat([b.subarray(0, at), Buffer.from(o.subarray(op.otherAt % (o.length + 1)))]);
        break;
      }
    }
  }
  return b;
}

/** Little-endian: u8/u16/u32 for integers, f64 for anything else (or when width is 8). */
function writeInt(b: Buffer, at: number, width: 1 | 2 | 4 | 8, value: number): Buffer {
  const asDouble = width === 8 || !Number.isInteger(value) || value < 0 || Object.is(value, -0);
  const w = asDouble ? 8 : width;
  if (b.length < w) return b;
  const p = Math.min(at, b.length - w);
  const out = Buffer.from(b);
  if (asDouble) out.writeDoubleLE(value, p);
  else if (w === 1) out[p] = value & 0xff;
  else if (w === 2) out.writeUInt16LE(value & 0xffff, p);
  else out.writeUInt32LE(value >>> 0, p);
  return out;
}

export function describeJsonOp(op: JsonOp): string {
  switch (op.op) {
    case 'replace': return `replace node ${op.node} with ${describeValue(op.value)}`;
    case 'drop': return `drop node ${op.node}`;
    case 'add': return `add ${JSON.stringify(op.key.slice(0, 40))} = ${describeValue(op.value)} at node ${op.node}`;
    case 'batch': return `batch of ${op.copies}`;
  }
}

export function describeByteOp(op: ByteOp): string {
  switch (op.op) {
    case 'flip': return `flip bit ${op.bit} at ${op.at}`;
    case 'set': return `set byte ${op.at} = 0x${op.byte.toString(16)}`;
    case 'int': return `write ${op.width === 8 ? 'f64' : `u${op.width * 8}`} ${op.value} at ${op.at}`;
    case 'truncate': return `truncate at ${op.at}`;
    case 'delete': return `delete ${op.len} at ${op.at}`;
    case 'dup': return `duplicate ${op.len} at ${op.at}`;
    case 'insert': return `insert [${TOKENS[op.token % TOKENS.length].map((x) => x.toString(16)).join(' ')}] at ${op.at}`;
    case 'splice': return `splice seed ${op.other} from ${op.otherAt} at ${op.at}`;
  }
}

/** Bytes as a reproduction: the text itself when short and UTF-8, else base64, else a preview with the length. */
export function showBytes(b: Uint8Array, limit = 1500): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const text = buf.toString('utf8');
  const isUtf8 = Buffer.from(text, 'utf8').equals(buf);
  if (buf.length <= limit) return isUtf8 ? `text ${JSON.stringify(text)}` : `base64 ${buf.toString('base64')}`;
  const head = isUtf8 ? JSON.stringify(text.slice(0, 200)) : buf.subarray(0, 150).toString('base64');
  return `${buf.length} bytes, ${isUtf8 ? 'text' : 'base64'} starting ${head}`;
}

/**
 * Whether bytes may be sent to the hub. A `probe` liveness makes the hub dial its target, and a
 * mutation could turn 127.0.0.1 into any address: frames that could register one are not sent
 * (the check is coarse on purpose: any "probe" in the text, JSON escapes resolved).
 */
export function safeToSend(b: Uint8Array): boolean {
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  const resolved = text.replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return !/p\W*r\W*o\W*b\W*e/i.test(resolved);
}
