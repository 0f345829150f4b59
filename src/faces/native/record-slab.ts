/**
 * Where the face encodes bus binary records: side by side in one slab, never written twice. The
 * records one turn owes a connection are then mostly one run of the slab, which goes to the
 * socket as a view: a message delivered to 10 receivers is encoded once and its bytes are
 * written to all 10 sockets without a copy (outbound-batch.ts).
 */
import type { Alloc } from './bus-binary.js';

/**
 * Small enough that a view kept by a socket that cannot write pins little (outbound-batch.ts
 * shares only runs of at least SLAB_BYTES / 8), large enough that a turn's records are few runs.
 */
export const SLAB_BYTES = 32 * 1024;
/** Records past this get a buffer of their own (a slab would be mostly one record). */
const OWN_BUFFER_BYTES = SLAB_BYTES / 4;

/**
 * A record's bytes: [start, end) of `bytes`, a slab or a buffer of its own. Bus deliveries are
 * kept as spans, not views: making a Uint8Array view costs several times what a plain object does.
 */
export interface Span {
  readonly bytes: Uint8Array;
  /** A DataView over `bytes` (one per slab), for writers that copy through one (BusPayload.copyTo). */
  readonly data: DataView;
  readonly start: number;
  readonly end: number;
}

let slab = new Uint8Array(SLAB_BYTES);
let slabData = new DataView(slab.buffer);
let used = 0;

/** The next n bytes of the slab (a buffer of their own past OWN_BUFFER_BYTES), for the caller to fill. */
export function slabSpan(n: number): Span {
  if (n > OWN_BUFFER_BYTES) {
    const own = new Uint8Array(n);
    return { bytes: own, data: new DataView(own.buffer), start: 0, end: n };
  }
  if (used + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabData = new DataView(slab.buffer);
    used = 0;
  }
  const start = used;
  used += n;
  return { bytes: slab, data: slabData, start, end: used };
}

/** For encoders that want a view (answers, handles): plain Uint8Array views, a Buffer's subarray costs about twice as much. */
export const slabAlloc: Alloc = (n) => {
  const s = slabSpan(n);
  return s.start === 0 && s.end === s.bytes.length ? s.bytes : new Uint8Array(s.bytes.buffer, s.start, n);
};
