/**
 * XML-RPC values on the native bus, as JSON: what a native subscriber of /co2/relay/ sees and what
 * a native publisher sends to satellites. Lossless both ways: where JSON cannot tell the types
 * apart, a one-key tag object says it.
 *
 *   int, i4, i8         -> number                 boolean, string -> the same; nil <-> null
 *   double              -> number; an integral double (1.0) -> {"$double": 1}
 *   dateTime.iso8601    -> {"$dateTime": "20030501T12:00:00"}
 *   base64              -> {"$base64": "AAEC"}
 *   array, struct       -> array, object; a struct whose only key is a tag -> {"$struct": {...}}
 *
 * From JSON: integers in ±2^53 are ints (past 32 bits written as <i8>), other numbers doubles.
 */
import { struct, XmlRpcBase64, XmlRpcDateTime, XmlRpcDouble, type XmlRpcStruct, type XmlRpcValue } from './values.js';

export const TAGS = ['$double', '$dateTime', '$base64', '$struct'] as const;
const TAG_SET: ReadonlySet<string> = new Set(TAGS);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATE_TIME = /^\d{4}-?\d{2}-?\d{2}T\d{2}:?\d{2}:?\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;
export const MAX_JSON_VALUE_DEPTH = 64;

export function toJsonText(v: XmlRpcValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v instanceof XmlRpcDouble) return Number.isInteger(v.value) ? `{"$double":${Object.is(v.value, -0) ? '-0' : v.value}}` : String(v.value);
  if (v instanceof XmlRpcDateTime) return `{"$dateTime":${JSON.stringify(v.text)}}`;
  if (v instanceof XmlRpcBase64) return `{"$base64":"${v.base64}"}`;
  if (Array.isArray(v)) return `[${(v as readonly XmlRpcValue[]).map(toJsonText).join(',')}]`;
  const s = v as XmlRpcStruct;
  const keys = Object.keys(s);
  const body = keys.map((k) => `${JSON.stringify(k)}:${toJsonText(s[k]!)}`).join(',');
  return keys.length === 1 && TAG_SET.has(keys[0]!) ? `{"$struct":{${body}}}` : `{${body}}`;
}

/** A JSON value (parsed) as an XML-RPC value; throws RangeError past the nesting cap. */
export function fromJsonValue(u: unknown, depth = 0): XmlRpcValue {
  if (u === null || u === undefined) return null;
  if (typeof u === 'string' || typeof u === 'boolean') return u;
  if (typeof u === 'number') return Number.isSafeInteger(u) && !Object.is(u, -0) ? u : new XmlRpcDouble(u);
  if (depth >= MAX_JSON_VALUE_DEPTH) throw new RangeError(`JSON nested deeper than ${MAX_JSON_VALUE_DEPTH} levels`);
  if (Array.isArray(u)) return u.map((x) => fromJsonValue(x, depth + 1));
  if (typeof u !== 'object') return null;
  const o = u as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const tagged = fromTag(keys[0]!, o[keys[0]!], depth);
    if (tagged !== undefined) return tagged;
  }
  return struct(keys.map((k) => [k, fromJsonValue(o[k], depth + 1)] as const));
}

function fromTag(key: string, value: unknown, depth: number): XmlRpcValue | undefined {
  switch (key) {
    case '$double':
      return typeof value === 'number' ? new XmlRpcDouble(value) : undefined;
    case '$dateTime':
      return typeof value === 'string' && DATE_TIME.test(value) ? new XmlRpcDateTime(value) : undefined;
    case '$base64':
      return typeof value === 'string' && value.length % 4 === 0 && BASE64.test(value) ? new XmlRpcBase64(value) : undefined;
    case '$struct': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      const o = value as Record<string, unknown>;
      return struct(Object.keys(o).map((k) => [k, fromJsonValue(o[k], depth + 2)] as const));
    }
    default:
      return undefined;
  }
}

