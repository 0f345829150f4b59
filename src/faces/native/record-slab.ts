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

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** Plain Uint8Array views: a Buffer's subarray costs about twice as much per record. */
export const slabAlloc: Alloc = (n) => {
  if (n > OWN_BUFFER_BYTES) return new Uint8Array(n);
  if (used + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const view = new Uint8Array(slab, used, n);
  used += n;
  return view;
};
