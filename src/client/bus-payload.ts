/**
 * Bus payloads in the binary format: a Uint8Array travels as bytes (flag bit 0), any other value
 * as UTF-8 JSON. Received bytes are views into the frame they came in (no copy); JSON is parsed
 * once, by its receiver.
 */
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export interface EncodedPayload { isBytes: boolean; payload: Uint8Array }

/** JSON.stringify's TypeErrors (cycles, BigInt) reach the caller. */
export function encodePayload(data: unknown): EncodedPayload {
  if (data instanceof Uint8Array) return { isBytes: true, payload: data };
  return { isBytes: false, payload: utf8.encode(JSON.stringify(data ?? null) ?? 'null') };
}

/** Bytes as a plain Uint8Array (a view, also over a Node Buffer); JSON parsed (empty: null). */
export function decodePayload(payload: Uint8Array, isBytes: boolean): unknown {
  if (isBytes) return payload.constructor === Uint8Array ? payload : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload.byteLength === 0) return null;
  return JSON.parse(utf8Decoder.decode(payload)) as unknown;
}
