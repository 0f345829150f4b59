/**
 * The quickest way to a call, for the one shape most calls have: a method with one struct of
 * strings, byte for byte as Python's xmlrpc.client writes it (relay.relay, relay.register's
 * sibling calls). ASCII only, no entities, no other layout: anything else returns null and goes
 * the whole way (decode.ts), so every refusal and every unusual form keeps that answer. Where this
 * answers, it is the call the whole way would decode (tested side by side in
 * test/co2-quick-call.test.ts). It saves building the element tree (most of a relay call's XML
 * cost) and decoding the text twice.
 */
import { struct, type XmlRpcValue } from './values.js';

const HEAD = bytes("<?xml version='1.0'?>\n<methodCall>\n<methodName>");
const PARAMS = bytes('</methodName>\n<params>\n<param>\n<value><struct>\n');
const MEMBER = bytes('<member>\n<name>');
const NAME_END = bytes('</name>\n<value><string>');
const MEMBER_END = bytes('</string></value>\n</member>\n');
const TAIL = bytes('</struct></value>\n</param>\n</params>\n</methodCall>\n');
/** methodCall, methodName, params, param, value, struct; then member, name, value, string each. */
const FIXED_ELEMENTS = 6;
const MEMBER_ELEMENTS = 4;
/** methodCall > params > param > value > struct > member > value > string. */
const DEPTH = 8;
const CHARSET = /charset/i;

/** decode.ts's limits and call (declared here too: decode.ts imports this module). */
export interface QuickLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxElements: number;
  readonly maxValueDepth: number;
}

export interface QuickCall {
  readonly method: string;
  readonly params: readonly XmlRpcValue[];
}

export function quickCall(body: Buffer, contentType: string | undefined, limits: QuickLimits): QuickCall | null {
  // A charset (even a refused one) is for decode.ts to judge; so are non-ASCII bytes (plainEnd).
  if (body.length > limits.maxBytes || limits.maxDepth < DEPTH || limits.maxValueDepth < 1) return null;
  if (contentType !== undefined && CHARSET.test(contentType)) return null;
  if (!at(body, 0, HEAD)) return null;
  let i = HEAD.length;
  let end = plainEnd(body, i);
  if (end <= i || !at(body, end, PARAMS)) return null;
  const method = body.toString('latin1', i, end);
  i = end + PARAMS.length;
  const entries: [string, XmlRpcValue][] = [];
  while (at(body, i, MEMBER)) {
    i += MEMBER.length;
    end = plainEnd(body, i);
    if (end < 0 || !at(body, end, NAME_END)) return null;
    const name = body.toString('latin1', i, end);
    i = end + NAME_END.length;
    end = plainEnd(body, i);
    if (end < 0 || !at(body, end, MEMBER_END)) return null;
    entries.push([name, body.toString('latin1', i, end)]);
    i = end + MEMBER_END.length;
  }
  if (i + TAIL.length !== body.length || !at(body, i, TAIL)) return null;
  if (FIXED_ELEMENTS + MEMBER_ELEMENTS * entries.length > limits.maxElements) return null;
  return { method, params: [struct(entries)] };
}

function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** Whether `lit` is in `buf` at `from` (a loop: quicker than a native call for these few bytes). */
function at(buf: Buffer, from: number, lit: Uint8Array): boolean {
  if (from + lit.length > buf.length) return false;
  for (let i = 0; i < lit.length; i++) if (buf[from + i] !== lit[i]) return false;
  return true;
}

/**
 * Where ASCII text that reads as itself ends (at the next `<`); -1 for anything an XML reader
 * would change or judge: an entity, a carriage return (line ends are normalised), a control
 * character XML forbids, `]]>`, a byte past ASCII (its encoding is decode.ts's to judge), or no `<`.
 */
function plainEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 60) return i; // <
    if (c === 38 || c > 126 || (c < 32 && c !== 9 && c !== 10)) return -1; // &, past ASCII (and DEL), a control character
    if (c === 62 && i >= from + 2 && buf[i - 1] === 93 && buf[i - 2] === 93) return -1; // ]]>
  }
  return -1;
}
