/**
 * XML-RPC encoding, byte for byte what Python's xmlrpc.client.dumps writes (the layout real CO2
 * satellites send and expect), with two deliberate differences: a carriage return is written as
 * `&#13;` (XML parsers turn a raw one into a newline, so Python's own output loses it), and a
 * character XML 1.0 cannot carry at all (C0 controls but tab and newline, lone surrogates) becomes
 * U+FFFD rather than invalid XML. Integers past 32 bits are written as <i8>, which Python reads.
 */
import { INT32_MAX, INT32_MIN, pythonFloatRepr, XmlRpcBase64, XmlRpcDateTime, XmlRpcDouble, type XmlRpcValue } from './values.js';

export const XML_HEADER = "<?xml version='1.0'?>\n";

const NEEDS_ESCAPE = /[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const ESCAPED = /[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '&': return '&amp;';
    case '<': return '&lt;';
    case '>': return '&gt;';
    case '\r': return '&#13;';
    default: return '\ufffd';
  }
}

export function escapeXml(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, escapeChar) : s;
}

/** One value as Python writes it: `<value>...</value>` and a newline (nil has none, as in Python). */
export function encodeValue(v: XmlRpcValue): string {
  if (typeof v === 'string') return `<value><string>${escapeXml(v)}</string></value>\n`;
  if (typeof v === 'number') {
    return v >= INT32_MIN && v <= INT32_MAX ? `<value><int>${v}</int></value>\n` : `<value><i8>${v}</i8></value>\n`;
  }
  if (typeof v === 'boolean') return `<value><boolean>${v ? '1' : '0'}</boolean></value>\n`;
  if (v === null) return '<value><nil/></value>';
  if (v instanceof XmlRpcDouble) return `<value><double>${pythonFloatRepr(v.value)}</double></value>\n`;
  if (v instanceof XmlRpcDateTime) return `<value><dateTime.iso8601>${escapeXml(v.text)}</dateTime.iso8601></value>\n`;
  if (v instanceof XmlRpcBase64) return `<value><base64>\n${wrapBase64(v.base64)}</base64></value>\n`;
  if (Array.isArray(v)) {
    let out = '<value><array><data>\n';
    for (const item of v as readonly XmlRpcValue[]) out += encodeValue(item);
    return out + '</data></array></value>\n';
  }
  let out = '<value><struct>\n';
  const s = v as Readonly<Record<string, XmlRpcValue>>;
  for (const key in s) out += `<member>\n<name>${escapeXml(key)}</name>\n${encodeValue(s[key]!)}</member>\n`;
  return out + '</struct></value>\n';
}

/** base64.encodebytes: lines of 76 characters, each ending in a newline. */
function wrapBase64(b64: string): string {
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += b64.slice(i, i + 76) + '\n';
  return out;
}

export function encodeParams(params: readonly XmlRpcValue[]): string {
  let out = '<params>\n';
  for (const p of params) out += `<param>\n${encodeValue(p)}</param>\n`;
  return out + '</params>\n';
}

export function encodeCall(method: string, params: readonly XmlRpcValue[]): string {
  return `${XML_HEADER}<methodCall>\n<methodName>${escapeXml(method)}</methodName>\n${encodeParams(params)}</methodCall>\n`;
}

export function encodeResponse(value: XmlRpcValue): string {
  return `${XML_HEADER}<methodResponse>\n${encodeParams([value])}</methodResponse>\n`;
}

export function encodeFault(faultCode: number, faultString: string): string {
  const body = `<value><struct>\n<member>\n<name>faultCode</name>\n${encodeValue(faultCode)}</member>\n<member>\n<name>faultString</name>\n${encodeValue(faultString)}</member>\n</struct></value>\n`;
  return `${XML_HEADER}<methodResponse>\n<fault>\n${body}</fault>\n</methodResponse>\n`;
}
