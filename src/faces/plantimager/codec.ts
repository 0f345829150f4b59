/**
 * The plantimager device-registry wire format, without sockets: one request's frames in, a typed
 * request or an encoded error reply out; and the reply encoders. Each message is one frame of
 * UTF-8 JSON `{"event": E, "payload": {...}}` (see docs/protocol.md, "plantimager face").
 *
 * Error replies keep the `event` + `payload` shape because the real client indexes both keys
 * before looking at the event: `{"event":"ERROR","payload":{"req_event":E|null,"error":CODE,
 * "message":TEXT}}`. `register_device` reads any event but REGISTER_ACK as failure ("", ""),
 * `send_alive_check` reads anything but ACK+success as "unknown", `unregister_device` anything
 * but ACK as False.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MusterError, toMusterError, type ErrorCode } from '../../errors.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../schemas/json-depth.js';
import { validate } from '../../schemas/validate.js';

export const PROTOCOL_VERSION = 'plantimager-deviceregistry-1';
export const DEFAULT_PORT = 5555;
/** Seconds of life at registration and the default alive_timeout (plantimager's ALIVE_TIMEOUT). */
export const ALIVE_TIMEOUT_S = 20;
/** Longest frame answered normally; longer ones (up to the socket's hard cap) get PAYLOAD_TOO_LARGE. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Longest alive_timeout accepted: a year. */
export const MAX_ALIVE_TIMEOUT_S = 365 * 24 * 3600;

export const EVENTS = {
  REGISTER: 'REGISTER', REGISTER_ACK: 'REGISTER_ACK', UNREGISTER: 'UNREGISTER', CHECK_ALIVE: 'CHECK_ALIVE',
  ACK: 'ACK', UNSUPPORTED: 'UNSUPPORTED', ERROR: 'ERROR',
} as const;

// Extra payload keys are ignored, as the original does.
const RegisterPayload = Type.Object({
  device_type: Type.String({ maxLength: 256 }),
  addr: Type.String({ maxLength: 512 }),
  name: Type.String({ maxLength: 256 }),
  // register_device always sends a bool; None reads as false in the original too.
  overwrite: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
});
const UnregisterPayload = Type.Object({ uuid: Type.String({ maxLength: 256 }) });
const CheckAlivePayload = Type.Object({
  uuid: Type.String({ maxLength: 256 }),
  alive_timeout: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_ALIVE_TIMEOUT_S })),
});
/** ASCII control characters: no device needs them, and names and addresses reach operators' terminals. */
const CONTROL_CHAR = /[\x00-\x1f\x7f]/;
const REGISTER_TEXT_KEYS = ['device_type', 'addr', 'name'] as const;

export type PlantimagerRequest =
  | { readonly event: 'REGISTER'; readonly deviceType: string; readonly addr: string; readonly name: string; readonly overwrite: boolean }
  | { readonly event: 'UNREGISTER'; readonly uuid: string }
  | { readonly event: 'CHECK_ALIVE'; readonly uuid: string; readonly aliveTimeoutS: number }
  | { readonly event: 'UNSUPPORTED'; readonly reqEvent: string };

export type Decoded =
  | { readonly ok: true; readonly request: PlantimagerRequest }
  | { readonly ok: false; readonly code: ErrorCode; readonly reply: Buffer };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one request (the message's body frames, routing envelope already removed). */
export function decodeRequest(frames: readonly Uint8Array[], maxFrameBytes = MAX_FRAME_BYTES): Decoded {
  if (frames.length !== 1) return fail(null, 'INVALID_REQUEST', `Expected one frame, got ${frames.length}`);
  const frame = frames[0]!;
  if (frame.byteLength > maxFrameBytes) return fail(null, 'PAYLOAD_TOO_LARGE', `Frames are limited to ${maxFrameBytes} bytes`);
  let message: unknown;
  try {
    const text = utf8.decode(frame);
    if (jsonTooDeep(text)) return fail(null, 'INVALID_PARAMS', `The message is JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    message = JSON.parse(text);
  } catch {
    return fail(null, 'PARSE_ERROR', 'The frame is not UTF-8 JSON');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return fail(null, 'INVALID_REQUEST', 'The message must be a JSON object');
  const { event, payload } = message as { event?: unknown; payload?: unknown };
  if (typeof event !== 'string') return fail(null, 'INVALID_REQUEST', 'The message needs a string "event"');
  const reqEvent = event.slice(0, 64);
  if (payload === undefined) return fail(reqEvent, 'INVALID_REQUEST', 'The message needs a "payload"');
  try {
    return { ok: true, request: toRequest(event, payload) };
  } catch (err) {
    const e = toMusterError(err);
    return { ok: false, code: e.code, reply: encodeError(reqEvent, e.code, e.message) };
  }
}

function toRequest(event: string, payload: unknown): PlantimagerRequest {
  switch (event) {
    case EVENTS.REGISTER: {
      const p = validate(RegisterPayload, payload, 'payload');
      for (const key of REGISTER_TEXT_KEYS) {
        if (CONTROL_CHAR.test(p[key])) throw new MusterError('INVALID_PARAMS', `payload.${key}: control characters (0x00-0x1f, 0x7f) are not allowed`, { path: `/${key}` });
      }
      return { event, deviceType: p.device_type, addr: p.addr, name: p.name, overwrite: p.overwrite === true };
    }
    case EVENTS.UNREGISTER:
      return { event, uuid: validate(UnregisterPayload, payload, 'payload').uuid };
    case EVENTS.CHECK_ALIVE: {
      const p = validate(CheckAlivePayload, payload, 'payload') as Static<typeof CheckAlivePayload>;
      return { event, uuid: p.uuid, aliveTimeoutS: p.alive_timeout ?? ALIVE_TIMEOUT_S };
    }
    default:
      // The original answers UNSUPPORTED for any other event string; so do we (bounded echo).
      if (event.length > 64) throw new MusterError('INVALID_REQUEST', 'Event names are at most 64 characters');
      return { event: 'UNSUPPORTED', reqEvent: event };
  }
}

function fail(reqEvent: string | null, code: ErrorCode, message: string): Decoded {
  return { ok: false, code, reply: encodeError(reqEvent, code, message) };
}

function encode(event: string, payload: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ event, payload }));
}

export function encodeRegisterAck(name: string, uuid: string): Buffer {
  return encode(EVENTS.REGISTER_ACK, { name, uuid });
}

export function encodeAck(reqEvent: 'UNREGISTER' | 'CHECK_ALIVE', success: boolean): Buffer {
  return encode(EVENTS.ACK, { req_event: reqEvent, success });
}

export function encodeUnsupported(reqEvent: string): Buffer {
  return encode(EVENTS.UNSUPPORTED, { req_event: reqEvent });
}

/** muster's own reply for requests it cannot serve; every plantimager client reads it as failure. */
export function encodeError(reqEvent: string | null, code: ErrorCode, message: string): Buffer {
  return encode(EVENTS.ERROR, { req_event: reqEvent, error: code, message });
}
