/**
 * XML-RPC decoding without sockets: a request body's bytes (and its Content-Type) in, a typed
 * call or a catalogued error out; and a response body in, a value or a fault out (for the calls
 * the hub makes to satellites). Caps: body size, element depth and count (xml-tree.ts), value
 * nesting; any DOCTYPE is refused.
 */
import type { ErrorCode } from '../../errors.js';
import { quickCall } from './quick-call.js';
import { parseXmlTree, type XmlElement } from './xml-tree.js';
import { struct, XmlRpcBase64, XmlRpcDateTime, XmlRpcDouble, type XmlRpcValue } from './values.js';

export const DECODE_LIMITS = {
  /** Largest body read. */
  maxBytes: 1024 * 1024,
  /** Elements nested deeper than this are refused while parsing. */
  maxDepth: 256,
  maxElements: 100_000,
  /** Arrays and structs nested deeper than this are refused. */
  maxValueDepth: 64,
} as const;

export type DecodeLimits = { [K in keyof typeof DECODE_LIMITS]: number };

export interface XmlRpcCall {
  readonly method: string;
  readonly params: readonly XmlRpcValue[];
}

export type DecodedCall =
  | { readonly ok: true; readonly call: XmlRpcCall }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

export type DecodedResponse =
  | { readonly ok: true; readonly value: XmlRpcValue }
  | { readonly ok: false; readonly fault: { readonly code: number; readonly message: string } }
  | { readonly ok: false; readonly fault: null; readonly code: ErrorCode; readonly message: string };

/** A refusal raised while walking the tree; caught by the two entry points. */
class Bad extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

export function decodeCall(body: Uint8Array, contentType?: string, limits: DecodeLimits = DECODE_LIMITS): DecodedCall {
  const quick = quickCall(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength), contentType, limits);
  return quick ? { ok: true, call: quick } : decodeCallTree(body, contentType, limits);
}

/** decodeCall through the element tree, for every shape (exported for the side-by-side test of the quick way). */
export function decodeCallTree(body: Uint8Array, contentType?: string, limits: DecodeLimits = DECODE_LIMITS): DecodedCall {
  try {
    const root = tree(body, contentType, limits);
    if (root.name !== 'methodCall') throw new Bad('INVALID_REQUEST', `Expected <methodCall>, got <${clip(root.name)}>`);
    onlyWhitespace(root);
    let method: string | null = null;
    let params: XmlRpcValue[] = [];
    for (const el of root.children) {
      if (el.name === 'methodName' && method === null) {
        if (el.children.length) throw new Bad('INVALID_REQUEST', '<methodName> holds elements');
        method = el.text;
      } else if (el.name === 'params' && params.length === 0) {
        params = decodeParams(el, limits);
      } else {
        throw new Bad('INVALID_REQUEST', `Unexpected <${clip(el.name)}> in <methodCall>`);
      }
    }
    if (method === null || method === '') throw new Bad('INVALID_REQUEST', '<methodCall> needs a <methodName>');
    return { ok: true, call: { method, params } };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, code: err.code, message: err.message };
    throw err;
  }
}

export function decodeResponse(body: Uint8Array, contentType?: string, limits: DecodeLimits = DECODE_LIMITS): DecodedResponse {
  try {
    const root = tree(body, contentType, limits);
    if (root.name !== 'methodResponse') throw new Bad('INVALID_REQUEST', `Expected <methodResponse>, got <${clip(root.name)}>`);
    onlyWhitespace(root);
    const [el, extra] = root.children;
    if (!el || extra) throw new Bad('INVALID_REQUEST', '<methodResponse> holds one <params> or one <fault>');
    if (el.name === 'params') {
      const params = decodeParams(el, limits);
      if (params.length !== 1) throw new Bad('INVALID_REQUEST', 'A response has exactly one <param>');
      return { ok: true, value: params[0]! };
    }
    if (el.name !== 'fault') throw new Bad('INVALID_REQUEST', `Unexpected <${clip(el.name)}> in <methodResponse>`);
    onlyWhitespace(el);
    if (el.children.length !== 1) throw new Bad('INVALID_REQUEST', '<fault> holds one <value>');
    const f = decodeValue(el.children[0]!, 0, limits) as Record<string, XmlRpcValue> | null;
    const code = f && typeof f === 'object' ? f.faultCode : undefined;
    const message = f && typeof f === 'object' ? f.faultString : undefined;
    if (typeof code !== 'number' || typeof message !== 'string') throw new Bad('INVALID_REQUEST', 'A fault is a struct of faultCode (int) and faultString (string)');
    return { ok: false, fault: { code, message } };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, fault: null, code: err.code, message: err.message };
    throw err;
  }
}

function tree(body: Uint8Array, contentType: string | undefined, limits: DecodeLimits): XmlElement {
  if (body.byteLength > limits.maxBytes) throw new Bad('PAYLOAD_TOO_LARGE', `Bodies are limited to ${limits.maxBytes} bytes`);
  const text = decodeText(body, contentType);
  const parsed = parseXmlTree(text, limits);
  if (!parsed.ok) throw new Bad(parsed.code, parsed.message);
  return parsed.root;
}

const NOT_ASCII = /[\x80-\xff]/;
const DECLARED_ENCODING = /^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']/;
const CHARSET = /;\s*charset\s*=\s*"?([A-Za-z0-9._-]{1,40})"?/i;
const DECODERS: Readonly<Record<string, TextDecoder>> = {
  'utf-8': new TextDecoder('utf-8', { fatal: true }),
  'iso-8859-1': new TextDecoder('latin1'),
};
const ALIASES: Readonly<Record<string, string>> = {
  'utf-8': 'utf-8', utf8: 'utf-8', 'us-ascii': 'utf-8', ascii: 'utf-8',
  'iso-8859-1': 'iso-8859-1', 'iso8859-1': 'iso-8859-1', latin1: 'iso-8859-1', 'latin-1': 'iso-8859-1',
};

/** The body as text: the XML declaration's encoding, else the Content-Type charset, else UTF-8. */
function decodeText(body: Uint8Array, contentType: string | undefined): string {
  // ASCII reads the same in every encoding allowed here, so it is decoded before the encoding is checked.
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  const ascii = NOT_ASCII.test(bytes) ? null : bytes;
  const head = bytes.slice(0, 200);
  const declared = DECLARED_ENCODING.exec(head)?.[1] ?? (contentType ? CHARSET.exec(contentType)?.[1] : undefined) ?? 'utf-8';
  const name = ALIASES[declared.toLowerCase()];
  if (!name) throw new Bad('PARSE_ERROR', `Unsupported encoding ${JSON.stringify(declared)}: use UTF-8 or ISO-8859-1`);
  if (ascii !== null) return ascii;
  try {
    return DECODERS[name]!.decode(body);
  } catch {
    throw new Bad('PARSE_ERROR', 'The body is not valid UTF-8');
  }
}

function decodeParams(el: XmlElement, limits: DecodeLimits): XmlRpcValue[] {
  onlyWhitespace(el);
  const out: XmlRpcValue[] = [];
  for (const p of el.children) {
    if (p.name !== 'param') throw new Bad('INVALID_REQUEST', `Unexpected <${clip(p.name)}> in <params>`);
    onlyWhitespace(p);
    if (p.children.length !== 1) throw new Bad('INVALID_REQUEST', '<param> holds one <value>');
    out.push(decodeValue(p.children[0]!, 0, limits));
  }
  return out;
}

const INTEGER = /^[+-]?\d{1,20}$/;
const DOUBLE = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?\s*$/;
const DATE_TIME = /^\d{4}-?\d{2}-?\d{2}T\d{2}:?\d{2}:?\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE = /[ \t\r\n]+/g;
const XML_SPACE = /^[ \t\r\n]*$/;

function decodeValue(el: XmlElement, depth: number, limits: DecodeLimits): XmlRpcValue {
  if (el.name !== 'value') throw new Bad('INVALID_REQUEST', `Expected <value>, got <${clip(el.name)}>`);
  if (el.children.length === 0) return el.text; // an untyped value is a string
  onlyWhitespace(el);
  if (el.children.length !== 1) throw new Bad('INVALID_REQUEST', '<value> holds one typed element');
  const t = el.children[0]!;
  if (t.name !== 'struct' && t.name !== 'array' && t.children.length) throw new Bad('INVALID_REQUEST', `<${clip(t.name)}> holds elements`);
  switch (t.name) {
    case 'string':
      return t.text;
    case 'int': case 'i4': case 'i8': case 'i1': case 'i2': {
      const text = t.text.trim();
      const n = Number(text);
      if (!INTEGER.test(text) || !Number.isSafeInteger(n)) throw new Bad('INVALID_PARAMS', `<${t.name}> ${quote(text)} is not an integer in ±2^53`);
      return n;
    }
    case 'boolean':
      if (t.text === '1' || t.text === '0') return t.text === '1';
      throw new Bad('INVALID_PARAMS', `<boolean> ${quote(t.text)} is not 0 or 1`);
    case 'double': {
      const n = Number(t.text);
      if (!DOUBLE.test(t.text) || !Number.isFinite(n)) throw new Bad('INVALID_PARAMS', `<double> ${quote(t.text)} is not a finite number`);
      return new XmlRpcDouble(n);
    }
    case 'dateTime.iso8601': {
      const text = t.text.trim();
      if (!DATE_TIME.test(text)) throw new Bad('INVALID_PARAMS', `<dateTime.iso8601> ${quote(text)} is not like 20030501T12:00:00`);
      return new XmlRpcDateTime(text);
    }
    case 'base64': {
      const text = t.text.replace(WHITESPACE, '');
      if (text.length % 4 !== 0 || !BASE64.test(text)) throw new Bad('INVALID_PARAMS', '<base64> is not base64');
      return new XmlRpcBase64(text);
    }
    case 'nil': case 'ex:nil':
      if (t.text.trim() !== '') throw new Bad('INVALID_PARAMS', '<nil/> is empty');
      return null;
    case 'array':
      return decodeArray(t, depth + 1, limits);
    case 'struct':
      return decodeStruct(t, depth + 1, limits);
    default:
      throw new Bad('INVALID_REQUEST', `Unknown value type <${clip(t.name)}>`);
  }
}

function decodeArray(t: XmlElement, depth: number, limits: DecodeLimits): XmlRpcValue[] {
  if (depth > limits.maxValueDepth) throw new Bad('INVALID_PARAMS', `Values nested deeper than ${limits.maxValueDepth} levels`);
  onlyWhitespace(t);
  const data = t.children[0];
  if (t.children.length !== 1 || data!.name !== 'data') throw new Bad('INVALID_REQUEST', '<array> holds one <data>');
  onlyWhitespace(data!);
  return data!.children.map((v) => decodeValue(v, depth, limits));
}

function decodeStruct(t: XmlElement, depth: number, limits: DecodeLimits): XmlRpcValue {
  if (depth > limits.maxValueDepth) throw new Bad('INVALID_PARAMS', `Values nested deeper than ${limits.maxValueDepth} levels`);
  onlyWhitespace(t);
  const entries: [string, XmlRpcValue][] = [];
  for (const m of t.children) {
    if (m.name !== 'member') throw new Bad('INVALID_REQUEST', `Unexpected <${clip(m.name)}> in <struct>`);
    onlyWhitespace(m);
    const [name, value, extra] = m.children;
    if (!name || !value || extra || name.name !== 'name' || name.children.length) throw new Bad('INVALID_REQUEST', '<member> holds <name> then <value>');
    entries.push([name.text, decodeValue(value, depth, limits)]);
  }
  return struct(entries);
}

/** Text between child elements must be whitespace (no mixed content). */
function onlyWhitespace(el: XmlElement): void {
  if (el.text !== '' && !XML_SPACE.test(el.text)) throw new Bad('INVALID_REQUEST', `Unexpected text in <${clip(el.name)}>`);
}

function clip(name: string): string {
  return name.slice(0, 40);
}

function quote(text: string): string {
  return JSON.stringify(text.slice(0, 40));
}
