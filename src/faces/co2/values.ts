/**
 * XML-RPC values as the face holds them. JSON-like where JavaScript can say it (int as a number,
 * boolean, string, nil as null, arrays, structs as null-prototype objects) and small classes where
 * it cannot: a double (1.0 is not the int 1), a dateTime (kept as its wire text, so it round-trips
 * exactly) and base64 (kept as canonical base64 text).
 */

export class XmlRpcDouble {
  constructor(readonly value: number) {}
}

export class XmlRpcDateTime {
  /** As on the wire, e.g. 20030501T12:00:00. */
  constructor(readonly text: string) {}

  /** Python's xmlrpc.client format (UTC here; the protocol carries no zone). */
  static of(ms: number): XmlRpcDateTime {
    const d = new Date(ms);
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    return new XmlRpcDateTime(`${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`);
  }
}

export class XmlRpcBase64 {
  /** Canonical base64 (no whitespace). */
  constructor(readonly base64: string) {}
}

export interface XmlRpcStruct {
  readonly [key: string]: XmlRpcValue;
}

export type XmlRpcValue =
  | number
  | boolean
  | string
  | null
  | XmlRpcDouble
  | XmlRpcDateTime
  | XmlRpcBase64
  | readonly XmlRpcValue[]
  | XmlRpcStruct;

/** Python's xmlrpc.client refuses <int> values outside this range. */
export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/** A struct safe from prototype keys (`__proto__` is an ordinary member name). */
export function struct(entries: Iterable<readonly [string, XmlRpcValue]> = []): XmlRpcStruct {
  const out: Record<string, XmlRpcValue> = Object.create(null) as Record<string, XmlRpcValue>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

export function isStruct(v: XmlRpcValue | undefined): v is XmlRpcStruct {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    && !(v instanceof XmlRpcDouble) && !(v instanceof XmlRpcDateTime) && !(v instanceof XmlRpcBase64);
}

/** The XML-RPC type name of a value, for error messages. */
export function typeName(v: XmlRpcValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'nil';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (v instanceof XmlRpcDouble) return 'double';
  if (v instanceof XmlRpcDateTime) return 'dateTime.iso8601';
  if (v instanceof XmlRpcBase64) return 'base64';
  return Array.isArray(v) ? 'array' : 'struct';
}

/** Python's repr(float): shortest round-trip digits, fixed notation for exponents -4..15, else d.ddde+XX. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac === '' ? '0' : frac}`;
}
