/**
 * Write coalescing for WebSocket connections, as NATS does it: a connection's first write in an
 * event-loop turn corks its TCP socket and puts it on one shared dirty list; one setImmediate
 * flushes every dirty connection. The bus messages it was owed that turn leave as one frame (a
 * JSON array of notifications, or 0xB5 + binary records), then the socket is uncorked: one
 * writev per connection per turn, however many messages. Replies and other frames share the
 * path (a reply flushes the queued messages first, so order is kept). A turn that queues more
 * than INLINE_FLUSH_BYTES for one connection (a burst read in one go, as from Redis in cluster mode)
 * sends what it has at once, so the kernel takes it and only a peer that does not read counts
 * against its bound.
 */
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';

const OPEN_BATCH = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE_BATCH = Buffer.from(']');
const BINARY_FRAME = Buffer.from([0xb5]);
const OPEN = 1;
/** Queued in one turn past this, a connection's batch goes out at once (nats flushes inline at a limit too). */
const INLINE_FLUSH_BYTES = 64 * 1024;

const dirty: OutboundBatch[] = [];
let flushScheduled = false;

function flushDirty(): void {
  flushScheduled = false;
  const list = dirty.splice(0);
  for (const b of list) b.flush();
}

export class OutboundBatch {
  readonly #socket: WebSocket;
  /** The TCP socket under the WebSocket, corked while a turn's writes accumulate. */
  readonly #raw: Duplex | null;
  #dirty = false;
  #corked = false;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  /** Messages handed to the socket whose write has not completed yet. */
  #inflight = 0;
  #binary = false;

  constructor(socket: WebSocket, raw: Duplex | null) {
    this.#socket = socket;
    this.#raw = raw;
  }

  /** Queued messages are binary records (one binary frame per turn), not JSON notifications. */
  get binary(): boolean {
    return this.#binary;
  }

  setBinary(on: boolean): void {
    if (this.#batch.length) this.#sendBatch();
    this.#binary = on;
  }

  /** Bytes owed to the peer: queued this turn plus not yet written to the kernel. */
  get bytes(): number {
    return this.#batchBytes + this.#socket.bufferedAmount;
  }

  /** Messages owed to the peer: queued this turn plus in writes not yet completed. */
  get messages(): number {
    return this.#batch.length + this.#inflight;
  }

  /** Sends one already-encoded frame now (after whatever is queued), within this turn's corked write. */
  send(data: string | Buffer): void {
    if (this.#socket.readyState !== OPEN) return;
    if (this.#batch.length) this.#sendBatch();
    this.#markDirty();
    this.#socket.send(data);
  }

  /** Queues an encoded message (the same Buffer goes to every receiver) for this turn's batch frame. */
  enqueue(frame: Buffer): void {
    if (this.#socket.readyState !== OPEN) return;
    this.#batch.push(frame);
    this.#batchBytes += frame.length;
    this.#markDirty();
    if (this.#batchBytes >= INLINE_FLUSH_BYTES) this.#sendNow();
  }

  /** Called once per turn for a connection written to: one frame for the batch, then uncork. */
  flush(): void {
    this.#dirty = false;
    if (this.#batch.length && this.#socket.readyState === OPEN) this.#sendBatch();
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
    this.#batchBytes = 0;
  }

  #sendBatch(): void {
    const batch = this.#batch;
    const n = batch.length;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#inflight += n;
    const done = () => { this.#inflight -= n; };
    if (this.#binary) {
      batch.unshift(BINARY_FRAME);
      this.#socket.send(Buffer.concat(batch), { binary: true }, done);
      return;
    }
    let frame: Buffer;
    if (n === 1) frame = batch[0]!;
    else {
      const parts: Buffer[] = [OPEN_BATCH];
      for (let i = 0; i < n; i++) { if (i) parts.push(COMMA); parts.push(batch[i]!); }
      parts.push(CLOSE_BATCH);
      frame = Buffer.concat(parts);
    }
    this.#socket.send(frame, { binary: false }, done);
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
