/**
 * Saturnin ICCP on the wire, without sockets: one multipart message's frames in, a typed message
 * or a reason out; and the encoders for both sides (the hub speaks the controller's, test peers
 * and the fuzz suite the component's). See docs/protocol.md, "Saturnin ICCP face", and
 * ../shared/PROTOCOLS.md section 3.
 *
 * Frame 0 is the type, a big-endian uint16. READY [PeerIdentification, Struct or zero bytes];
 * REQUEST [CONF, ConfigProto] (the original controller's [ConfigProto] is accepted); OK; ERROR
 * [text]; STOP; FINISHED [outcome, detail...].
 */
import { create, fromBinary, fromJson, toBinary } from '@bufbuild/protobuf';
import { StructSchema, type Struct } from '@bufbuild/protobuf/wkt';
import { ConfigProtoSchema, type ConfigProto } from './gen/config_pb.js';
import { PeerIdentificationSchema } from './gen/peer_pb.js';

export const PROTOCOL = 'saturnin-iccp-1';
export const MSG = { READY: 1, REQUEST: 2, OK: 3, ERROR: 4, STOP: 5, FINISHED: 6 } as const;
export type MsgName = keyof typeof MSG;
const NAME_OF: Readonly<Record<number, MsgName>> = Object.fromEntries(Object.entries(MSG).map(([k, v]) => [v, k as MsgName]));
export const CONF = 'CONF';
export const OUTCOMES = ['OK', 'ERROR', 'UNKNOWN'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Longest frame read by default (config iccpMaxFrameBytes). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** ERROR texts and FINISHED details kept up to this many characters; longer ones keep their last line. */
export const MAX_TEXT = 4096;
export const MAX_DETAILS = 64;
export const MAX_CHANNELS = 32;
export const MAX_ADDRESSES = 32;
const CHANNEL_MAX = 64;
const ADDRESS_MAX = 512;
const HOST_MAX = 255;
const CONTROL = /[\x00-\x1f\x7f]/;

/** Who a READY says it is. */
export interface Peer {
  /** The 16-byte uuid1 as 8-4-4-4-12 hex. */
  readonly uid: string;
  readonly pid: number;
  readonly host: string;
  /** How many supplement Anys came (kept unread). */
  readonly supplements: number;
}

export type Endpoints = Record<string, string[]>;

export type IccpMessage =
  | { readonly type: 'READY'; readonly peer: Peer; readonly endpoints: Endpoints }
  | { readonly type: 'REQUEST'; readonly config: ConfigProto; readonly withConf: boolean }
  | { readonly type: 'OK' }
  | { readonly type: 'ERROR'; readonly text: string }
  | { readonly type: 'STOP' }
  | { readonly type: 'FINISHED'; readonly outcome: Outcome; readonly details: string[] };

export type Decoded =
  | { readonly ok: true; readonly message: IccpMessage }
  /** `type`: the message type when frame 0 named a known one. */
  | { readonly ok: false; readonly type: MsgName | null; readonly reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const fail = (type: MsgName | null, reason: string): Decoded => ({ ok: false, type, reason });

/** Decodes one message in either direction; every failure names its reason. */
export function decode(frames: readonly Uint8Array[], maxFrameBytes = MAX_FRAME_BYTES): Decoded {
  if (frames.length === 0) return fail(null, 'an empty message');
  const head = frames[0]!;
  if (head.byteLength !== 2) return fail(null, `frame 0 must be a 2-byte message type, got ${head.byteLength} bytes`);
  const code = (head[0]! << 8) | head[1]!;
  const type = NAME_OF[code];
  if (!type) return fail(null, `unknown message type ${code}`);
  for (let i = 1; i < frames.length; i++) {
    if (frames[i]!.byteLength > maxFrameBytes) return fail(type, `frame ${i} of ${type} is ${frames[i]!.byteLength} bytes; the limit is ${maxFrameBytes}`);
  }
  try {
    return { ok: true, message: body(type, frames) };
  } catch (err) {
    return fail(type, err instanceof BadFrame ? err.message : `${type}: garbage protobuf (${shortReason(err)})`);
  }
}

class BadFrame extends Error {}

function expectFrames(type: MsgName, frames: readonly Uint8Array[], counts: string, ok: boolean): void {
  if (!ok) throw new BadFrame(`${type} takes ${counts}, got ${frames.length}`);
}

function body(type: MsgName, frames: readonly Uint8Array[]): IccpMessage {
  const n = frames.length;
  switch (type) {
    case 'READY':
      expectFrames(type, frames, '3 frames', n === 3);
      return { type, peer: peerOf(frames[1]!), endpoints: endpointsOf(frames[2]!) };
    case 'REQUEST': {
      expectFrames(type, frames, '2 or 3 frames', n === 2 || n === 3);
      if (n === 3 && text(frames[1]!, 'the request code') !== CONF) throw new BadFrame(`REQUEST code must be ${CONF}`);
      return { type, config: fromBinary(ConfigProtoSchema, frames[n - 1]!, { readUnknownFields: false }), withConf: n === 3 };
    }
    case 'OK': case 'STOP':
      expectFrames(type, frames, '1 frame', n === 1);
      return { type };
    case 'ERROR':
      expectFrames(type, frames, '2 frames', n === 2);
      return { type, text: trimText(text(frames[1]!, 'the error text')) };
    case 'FINISHED': {
      expectFrames(type, frames, `2 to ${MAX_DETAILS + 2} frames`, n >= 2 && n <= MAX_DETAILS + 2);
      const outcome = text(frames[1]!, 'the outcome');
      if (!(OUTCOMES as readonly string[]).includes(outcome)) throw new BadFrame(`FINISHED outcome must be OK, ERROR or UNKNOWN, got ${JSON.stringify(outcome.slice(0, 32))}`);
      return { type, outcome: outcome as Outcome, details: frames.slice(2).map((f, i) => trimText(text(f, `detail ${i + 1}`))) };
    }
  }
}

function text(frame: Uint8Array, what: string): string {
  try {
    return utf8.decode(frame);
  } catch {
    throw new BadFrame(`${what} is not UTF-8`);
  }
}

function peerOf(frame: Uint8Array): Peer {
  const p = fromBinary(PeerIdentificationSchema, frame, { readUnknownFields: false });
  if (p.uid.byteLength !== 16) throw new BadFrame(`READY: the peer uid must be 16 bytes (a uuid1), got ${p.uid.byteLength}`);
  if (p.host.length > HOST_MAX || CONTROL.test(p.host)) throw new BadFrame(`READY: the peer host must be at most ${HOST_MAX} characters without control characters`);
  const hex = Buffer.from(p.uid).toString('hex');
  const uid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { uid, pid: p.pid, host: p.host, supplements: p.supplement.length };
}

/** The endpoints Struct: channel name -> list of address strings; zero bytes is none. */
function endpointsOf(frame: Uint8Array): Endpoints {
  const out: Endpoints = Object.create(null) as Endpoints;
  if (frame.byteLength === 0) return {};
  const s: Struct = fromBinary(StructSchema, frame, { readUnknownFields: false });
  const names = Object.keys(s.fields);
  if (names.length > MAX_CHANNELS) throw new BadFrame(`READY: more than ${MAX_CHANNELS} endpoint channels`);
  for (const name of names) {
    if (name.length === 0 || name.length > CHANNEL_MAX || CONTROL.test(name)) throw new BadFrame(`READY: channel names are 1-${CHANNEL_MAX} characters without control characters`);
    const v = s.fields[name]!.kind;
    // protobuf's Python Struct.update leaves an empty list as a Value with no kind.
    if (v.case === undefined || v.case === 'nullValue') {
      out[name] = [];
      continue;
    }
    if (v.case !== 'listValue') throw new BadFrame(`READY: channel ${JSON.stringify(name)} must map to a list of addresses`);
    const list = v.value.values;
    if (list.length > MAX_ADDRESSES) throw new BadFrame(`READY: channel ${JSON.stringify(name)} has more than ${MAX_ADDRESSES} addresses`);
    out[name] = list.map((a) => {
      if (a.kind.case !== 'stringValue' || a.kind.value.length > ADDRESS_MAX || CONTROL.test(a.kind.value)) {
        throw new BadFrame(`READY: channel ${JSON.stringify(name)} addresses must be strings of at most ${ADDRESS_MAX} characters`);
      }
      return a.kind.value;
    });
  }
  return { ...out };
}

/** Keeps texts up to MAX_TEXT characters; a longer one (a traceback) keeps its head and its last line, which names the exception. */
export function trimText(s: string, max = MAX_TEXT): string {
  if (s.length <= max) return s;
  const trimmed = s.replace(/\s+$/, '');
  const cut = trimmed.lastIndexOf('\n');
  let last = cut === -1 ? '' : trimmed.slice(cut + 1);
  if (last.length > max / 4) last = `${last.slice(0, max / 4)}…`;
  const marker = `\n… [${s.length - max} characters trimmed] …\n`;
  return `${s.slice(0, max - last.length - marker.length)}${marker}${last}`;
}

function shortReason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^cannot decode (message )?[\w.]+ from binary: /, '').slice(0, 120);
}

// ---- Encoders -----------------------------------------------------------------------------

function head(type: MsgName): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(MSG[type]);
  return b;
}

/** REQUEST/CONF as the hub sends it: [type, CONF, ConfigProto]. */
export function encodeRequest(config: ConfigProto): Buffer[] {
  return [head('REQUEST'), Buffer.from(CONF), Buffer.from(toBinary(ConfigProtoSchema, config))];
}

export function encodeStop(): Buffer[] {
  return [head('STOP')];
}

/** The component's side, for test peers and the fuzz suite. */
export function encodeReady(peer: { uid: Uint8Array; pid: number; host: string }, endpoints: Endpoints): Buffer[] {
  const id = toBinary(PeerIdentificationSchema, create(PeerIdentificationSchema, peer));
  const names = Object.keys(endpoints);
  const struct = names.length === 0 ? new Uint8Array(0) : toBinary(StructSchema, fromJson(StructSchema, endpoints));
  return [head('READY'), Buffer.from(id), Buffer.from(struct)];
}

export function encodeOk(): Buffer[] {
  return [head('OK')];
}

export function encodeError(text: string): Buffer[] {
  return [head('ERROR'), Buffer.from(text)];
}

export function encodeFinished(outcome: Outcome, details: readonly string[] = []): Buffer[] {
  return [head('FINISHED'), Buffer.from(outcome), ...details.map((d) => Buffer.from(d))];
}
