/**
 * The bus's wire encoding on the native face. A delivered message is one JSON-RPC notification
 * `bus.message`, serialized once into a Buffer that is written as-is to every receiver. Binary
 * payloads travel as `bytes` (base64) instead of `data`, so a JSON value never needs escaping
 * rules and the SDK knows to hand the receiver a Uint8Array.
 */
import { MusterError } from '../errors.js';

export type MessageKind = 'publish' | 'broadcast' | 'send';

/** A payload: a JSON value (kept with its encoded text) or raw bytes. */
export type BusPayload =
  | { readonly kind: 'json'; readonly json: string; readonly size: number }
  | { readonly kind: 'bytes'; readonly base64: string; readonly size: number };

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
    const pad = p.bytes.endsWith('==') ? 2 : p.bytes.endsWith('=') ? 1 : 0;
    return { kind: 'bytes', base64: p.bytes, size: (p.bytes.length / 4) * 3 - pad };
  }
  const json = JSON.stringify(p.data ?? null);
  return { kind: 'json', json, size: Buffer.byteLength(json) };
}

export function bytesPayload(bytes: Uint8Array): BusPayload {
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return { kind: 'bytes', base64, size: bytes.byteLength };
}

/**
 * The `bus.message` notification. Names, scopes and numbers need no escaping (names and scopes
 * are validated to plain ASCII), so this is string concatenation plus one Buffer.
 */
export function encodeMessage(m: BusMessage): Buffer {
  const where = m.scope !== null ? `,"scope":"${m.scope}"` : m.to !== null ? `,"to":"${m.to}"` : '';
  const body = m.payload.kind === 'json' ? `"data":${m.payload.json}` : `"bytes":"${m.payload.base64}"`;
  return Buffer.from(
    `{"jsonrpc":"2.0","method":"bus.message","params":{"kind":"${m.kind}","from":"${m.from}"${where},"seq":${m.seq},` +
    `"created":${m.created},"sent":${m.sent},"received":${m.received},${body}}}`,
  );
}

/** Microseconds since the epoch. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
