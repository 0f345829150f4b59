/**
 * The bus's wire encodings on the native face, each built once per message and shared by every
 * receiver that takes that format:
 * - JSON: a JSON-RPC notification `bus.message`; binary payloads travel as `bytes` (base64)
 *   instead of `data`, so the SDK knows to hand the receiver a Uint8Array.
 * - binary: a record of the bus binary frame format (bus-binary.ts), for connections that
 *   asked for it with `bus.format`.
 */
import { MusterError } from '../errors.js';
import { encodeDeliveryRecord, KIND_CODE, type MessageKind } from './bus-binary.js';

export type { MessageKind } from './bus-binary.js';

/** A payload: JSON text or raw bytes, converted between forms only when a receiver needs it. */
export class BusPayload {
  readonly isBytes: boolean;
  readonly size: number;
  #json: string | null;
  #base64: string | null;
  #raw: Uint8Array | null;

  private constructor(isBytes: boolean, size: number, json: string | null, base64: string | null, raw: Uint8Array | null) {
    this.isBytes = isBytes;
    this.size = size;
    this.#json = json;
    this.#base64 = base64;
    this.#raw = raw;
  }

  static json(text: string): BusPayload {
    return new BusPayload(false, Buffer.byteLength(text), text, null, null);
  }

  static base64(b64: string): BusPayload {
    const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    return new BusPayload(true, (b64.length / 4) * 3 - pad, null, b64, null);
  }

  /** Raw bytes, or UTF-8 JSON text as bytes (already checked by the caller). */
  static raw(bytes: Uint8Array, isBytes: boolean): BusPayload {
    return new BusPayload(isBytes, bytes.byteLength, null, null, bytes);
  }

  /** The JSON text of a JSON payload. */
  get jsonText(): string {
    return (this.#json ??= Buffer.from(this.#raw!.buffer, this.#raw!.byteOffset, this.#raw!.byteLength).toString('utf8'));
  }

  get base64(): string {
    return (this.#base64 ??= Buffer.from(this.#raw!.buffer, this.#raw!.byteOffset, this.#raw!.byteLength).toString('base64'));
  }

  get raw(): Uint8Array {
    if (!this.#raw) this.#raw = this.isBytes ? Buffer.from(this.#base64!, 'base64') : Buffer.from(this.#json!);
    return this.#raw;
  }
}

export interface BusMessage {
  readonly kind: MessageKind;
  readonly from: string;
  readonly scope: string | null;
  readonly to: string | null;
  readonly seq: number;
  /** Microseconds since the epoch: set by the sender, its SDK, and the hub. */
  readonly created: number;
  readonly sent: number;
  readonly received: number;
  readonly payload: BusPayload;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Builds the payload of params carrying `data` (any JSON value) or `bytes` (base64). */
export function payloadOf(p: { data?: unknown; bytes?: string }): BusPayload {
  if (p.bytes !== undefined) {
    if (p.data !== undefined) throw new MusterError('INVALID_PARAMS', 'Give data or bytes, not both');
    if (p.bytes.length % 4 !== 0 || !BASE64.test(p.bytes)) throw new MusterError('INVALID_PARAMS', 'params.bytes: not base64');
    return BusPayload.base64(p.bytes);
  }
  return BusPayload.json(JSON.stringify(p.data ?? null));
}

/**
 * The `bus.message` notification. Names, scopes and numbers need no escaping (names and scopes
 * are validated to plain ASCII), so this is string concatenation plus one Buffer.
 */
export function encodeMessage(m: BusMessage): Buffer {
  const where = m.scope !== null ? `,"scope":"${m.scope}"` : m.to !== null ? `,"to":"${m.to}"` : '';
  const body = m.payload.isBytes ? `"bytes":"${m.payload.base64}"` : `"data":${m.payload.jsonText}`;
  return Buffer.from(
    `{"jsonrpc":"2.0","method":"bus.message","params":{"kind":"${m.kind}","from":"${m.from}"${where},"seq":${m.seq},` +
    `"created":${m.created},"sent":${m.sent},"received":${m.received},${body}}}`,
  );
}

/** The binary record of a message (see bus-binary.ts). */
export function encodeBinary(m: BusMessage): Buffer {
  const r = encodeDeliveryRecord({
    kind: KIND_CODE[m.kind], isBytes: m.payload.isBytes, from: m.from, where: m.scope ?? m.to ?? '',
    seq: m.seq, created: m.created, sent: m.sent, received: m.received, payload: m.payload.raw,
  }, Buffer.allocUnsafe) as Buffer;
  return r;
}

/** Microseconds since the epoch. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
