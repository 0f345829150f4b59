/**
 * The hub's writer of delivery record heads (the layout of bus-binary.ts) into its slab. The head
 * of consecutive deliveries mostly repeats up to the record's own fields (one sender, one scope,
 * one payload size): the last one is kept and copied four bytes at a time, cheaper than writing
 * the names again char by char; the times go through the slab's DataView.
 */
import { copyWords } from '../../core/bus/copy-words.js';
import { writeRecordHeader, type DeliveryHead } from './bus-binary.js';

/** Heads up to here (names of up to about 500 bytes) are kept; longer ones are written each time. */
const KEPT_MAX = 512;
const kept = new Uint8Array(KEPT_MAX);
const keptView = new DataView(kept.buffer);
/** The bytes kept (0: none), and what they were written for. */
let keptBytes = 0;
let keptLen = -1;
let keptKind = -1;
let keptIsBytes = false;
let keptFrom = '';
let keptWhere = '';

/** Writes a delivery record of `len` bytes (deliveryRecordBytes) at `at` but its payload; returns where the payload goes. */
export function writeDeliveryHead(h: DeliveryHead, len: number, buf: Uint8Array, view: DataView, at: number): number {
  let p: number;
  if (keptBytes !== 0 && len === keptLen && h.kind === keptKind && h.isBytes === keptIsBytes && h.from === keptFrom && h.where === keptWhere) {
    copyWords(keptView, 0, view, at, keptBytes);
    p = at + keptBytes;
  } else {
    p = writeRecordHeader(h, len, buf, at);
    const n = p - at;
    keptBytes = n <= KEPT_MAX ? n : 0;
    if (keptBytes !== 0) {
      copyWords(view, at, keptView, 0, n);
      keptLen = len;
      keptKind = h.kind;
      keptIsBytes = h.isBytes;
      keptFrom = h.from;
      keptWhere = h.where;
    }
  }
  view.setFloat64(p, h.seq, true);
  view.setFloat64(p + 8, h.created, true);
  view.setFloat64(p + 16, h.sent, true);
  view.setFloat64(p + 24, h.received, true);
  return p + 32;
}
