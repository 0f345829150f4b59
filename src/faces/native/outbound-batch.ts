/**
 * Write coalescing for WebSocket connections, as NATS does it: a connection's first write in an
 * event-loop turn corks its TCP socket and puts it on one shared dirty list; one setImmediate
 * flushes every dirty connection. The bus messages it was owed that turn leave as one frame (a
 * JSON array of notifications, or 0xB5 + binary records), then the socket is uncorked: one
 * writev per connection per turn, however many messages. Replies and other frames share the
 * path (a reply flushes the queued messages first, so order is kept). A turn that queues more
 * than INLINE_FLUSH_BYTES for one connection (a burst read in one go, as from Redis in cluster mode)
 * sends what it has at once, so the kernel takes it and only a peer that does not read counts
 * against its bound. A connection whose own frames still wait for a slice of a later turn
 * (turn-slices.ts) stays corked until they are handled: the answers to one read leave together,
 * as they did when a read was handled in one turn (a client whose next requests follow its
 * answers then sends them together again, and they are committed together).
 *
 * Binary records are encoded side by side in the face's slab (record-slab.ts), so a turn's
 * records are kept as runs of it, not one Buffer each. The frame is written by hand to the TCP
 * socket: its WebSocket header, then each run of at least SHARE_MIN_BYTES as a view of the slab
 * (the same bytes go to every receiver of a message, no copy), shorter runs copied together. The
 * socket is corked, so that is still one writev. `ws` writes its own frames synchronously (the
 * face negotiates no compression), so frames never interleave; with an extension negotiated the
 * batch goes through `ws.send` as one copied buffer.
 */
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { SLAB_BYTES, type Span } from './record-slab.js';

const OPEN_BATCH = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE_BATCH = Buffer.from(']');
const BINARY_FRAME = Buffer.from([0xb5]);
/**
 * A run of the slab this long or longer is written as a view; a socket that cannot write keeps it,
 * and with it its whole slab: at most 8 times the bytes it is owed.
 */
const SHARE_MIN_BYTES = SLAB_BYTES / 8;
const OPEN = 1;
/** Queued in one turn past this, a connection's batch goes out at once (nats flushes inline at a limit too). */
const INLINE_FLUSH_BYTES = 64 * 1024;

const dirty: OutboundBatch[] = [];
let flushScheduled = false;

function flushDirty(): void {
  flushScheduled = false;
  const list = dirty.splice(0);
  for (const b of list) {
    if (!b.held()) { b.flush(); continue; }
    dirty.push(b); // still dirty: flushed in a later turn
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDirty);
    }
  }
}

export class OutboundBatch {
  readonly #socket: WebSocket;
  /** The TCP socket under the WebSocket, corked while a turn's writes accumulate. */
  readonly #raw: Duplex | null;
  /** Binary batches are written to the TCP socket as frames of our own (no extension negotiated). */
  readonly #direct: boolean;
  #dirty = false;
  #corked = false;
  /** JSON mode: this turn's notifications. */
  #batch: Uint8Array[] = [];
  /** Binary mode: this turn's records as closed runs, then the open run [#runStart, #runEnd) of #run. */
  #runs: Uint8Array[] = [];
  #run: Uint8Array | null = null;
  #runStart = 0;
  #runEnd = 0;
  /** Messages and bytes queued this turn. */
  #count = 0;
  #batchBytes = 0;
  /** Messages handed to the socket whose write has not completed yet. */
  #inflight = 0;
  #binary = false;
  #holdWhile: (() => boolean) | null = null;

  constructor(socket: WebSocket, raw: Duplex | null) {
    this.#socket = socket;
    this.#raw = raw;
    this.#direct = raw !== null && socket.extensions === '';
  }

  /** Keeps the turn's writes corked while `pending()` (the connection's own frames wait for a later slice). */
  holdWhile(pending: () => boolean): void {
    this.#holdWhile = pending;
  }

  /** Corked for a later turn: not past INLINE_FLUSH_BYTES, so a peer that keeps its queue full still gets its answers. */
  held(): boolean {
    return this.#holdWhile !== null && this.#socket.readyState === OPEN && this.#socket.bufferedAmount < INLINE_FLUSH_BYTES && this.#holdWhile();
  }

  /** Queued messages are binary records (one binary frame per turn), not JSON notifications. */
  get binary(): boolean {
    return this.#binary;
  }

  setBinary(on: boolean): void {
    if (this.#count) this.#sendBatch();
    this.#binary = on;
  }

  /** Bytes owed to the peer: queued this turn plus not yet written to the kernel. */
  get bytes(): number {
    return this.#batchBytes + this.#socket.bufferedAmount;
  }

  /** Messages owed to the peer: queued this turn plus in writes not yet completed. */
  get messages(): number {
    return this.#count + this.#inflight;
  }

  /** Sends one already-encoded frame now (after whatever is queued), within this turn's corked write. */
  send(data: string | Buffer): void {
    if (this.#socket.readyState !== OPEN) return;
    if (this.#count) this.#sendBatch();
    this.#markDirty();
    this.#socket.send(data);
  }

  /** Queues an encoded message for this turn's batch frame: a JSON notification, or (binary mode) a record of its own. */
  enqueue(frame: Uint8Array): void {
    if (this.#binary) this.#addRecord(frame, 0, frame.length);
    else if (this.#socket.readyState === OPEN) {
      this.#batch.push(frame);
      this.#added(frame.length);
    }
  }

  /** Queues a binary record encoded in the slab (the same span goes to every receiver of a message). */
  enqueueSpan(s: Span): void {
    this.#addRecord(s.bytes, s.start, s.end);
  }

  #addRecord(bytes: Uint8Array, start: number, end: number): void {
    if (this.#socket.readyState !== OPEN) return;
    if (bytes === this.#run && start === this.#runEnd) this.#runEnd = end;
    else {
      this.#closeRun();
      this.#run = bytes;
      this.#runStart = start;
      this.#runEnd = end;
    }
    this.#added(end - start);
  }

  #added(bytes: number): void {
    this.#count++;
    this.#batchBytes += bytes;
    this.#markDirty();
    if (this.#batchBytes >= INLINE_FLUSH_BYTES) this.#sendNow();
  }

  /** Called once per turn for a connection written to: one frame for the batch, then uncork. */
  flush(): void {
    this.#dirty = false;
    if (this.#count && this.#socket.readyState === OPEN) this.#sendBatch();
    if (this.#corked) {
      this.#corked = false;
      this.#raw!.uncork();
    }
  }

  /** The batch as one frame now, written through to the kernel; the socket stays corked for the rest of the turn. */
  #sendNow(): void {
    this.#sendBatch();
    if (this.#corked) {
      this.#raw!.uncork();
      this.#raw!.cork();
    }
  }

  clear(): void {
    this.#batch = [];
    this.#runs = [];
    this.#run = null;
    this.#count = 0;
    this.#batchBytes = 0;
  }

  #closeRun(): void {
    const run = this.#run;
    if (run === null) return;
    this.#run = null;
    const whole = this.#runStart === 0 && this.#runEnd === run.length;
    this.#runs.push(whole ? run : new Uint8Array(run.buffer, run.byteOffset + this.#runStart, this.#runEnd - this.#runStart));
  }

  #sendBatch(): void {
    const n = this.#count;
    const bytes = this.#batchBytes;
    this.#count = 0;
    this.#batchBytes = 0;
    this.#inflight += n;
    const done = () => { this.#inflight -= n; };
    if (this.#binary) {
      this.#closeRun();
      const runs = this.#runs;
      this.#runs = [];
      if (this.#direct) this.#writeFrame(runs, bytes, done);
      else {
        runs.unshift(BINARY_FRAME);
        this.#socket.send(Buffer.concat(runs, bytes + 1), { binary: true }, done);
      }
      return;
    }
    const batch = this.#batch;
    this.#batch = [];
    let frame: Uint8Array;
    if (n === 1) frame = batch[0]!;
    else {
      const parts: Uint8Array[] = [OPEN_BATCH];
      for (let i = 0; i < n; i++) { if (i) parts.push(COMMA); parts.push(batch[i]!); }
      parts.push(CLOSE_BATCH);
      frame = Buffer.concat(parts);
    }
    this.#socket.send(frame, { binary: false }, done);
  }

  /** One binary WebSocket frame (0xB5 + the runs) straight to the TCP socket: long runs as views, short ones copied together. */
  #writeFrame(runs: Uint8Array[], bytes: number, done: () => void): void {
    const out: Uint8Array[] = [];
    let copy: Uint8Array[] = [frameHead(bytes + 1)];
    let copyBytes = copy[0]!.length;
    for (const run of runs) {
      if (run.length < SHARE_MIN_BYTES) {
        copy.push(run);
        copyBytes += run.length;
        continue;
      }
      if (copy.length) out.push(copy.length === 1 ? copy[0]! : Buffer.concat(copy, copyBytes));
      copy = [];
      copyBytes = 0;
      out.push(run);
    }
    if (copy.length) out.push(copy.length === 1 ? copy[0]! : Buffer.concat(copy, copyBytes));
    const raw = this.#raw!;
    const last = out.length - 1;
    for (let i = 0; i < last; i++) raw.write(out[i]);
    raw.write(out[last], done);
  }

  #markDirty(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    if (this.#raw && !this.#raw.writableCorked) {
      this.#raw.cork();
      this.#corked = true;
    }
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDirty);
    }
  }
}

/** The header of an unmasked, final, binary WebSocket frame of `length` bytes (RFC 6455 5.2), then the bus frame's magic byte. */
function frameHead(length: number): Buffer {
  if (length < 126) {
    const b = Buffer.allocUnsafe(3);
    b[0] = 0x82;
    b[1] = length;
    b[2] = BINARY_FRAME[0]!;
    return b;
  }
  if (length < 0x10000) {
    const b = Buffer.allocUnsafe(5);
    b[0] = 0x82;
    b[1] = 126;
    b.writeUInt16BE(length, 2);
    b[4] = BINARY_FRAME[0]!;
    return b;
  }
  const b = Buffer.allocUnsafe(11);
  b[0] = 0x82;
  b[1] = 127;
  b.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  b.writeUInt32BE(length >>> 0, 6);
  b[10] = BINARY_FRAME[0]!;
  return b;
}
