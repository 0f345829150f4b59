/**
 * The bus's send buffer. Records of the bus binary format are encoded straight into one chunk
 * (the codec's `alloc` hands out the next bytes of it). A turn's first record leaves at once when
 * nothing waits to be written; the rest of what was queued in that turn leaves as one binary frame
 * at the turn's end (at once past FRAME_BYTES, as nats.js flushes inline at its limit). Sending
 * the first at once keeps a request or a lone publish from waiting for the turn. Requests and
 * answers also go once a frame holds ROUND_TRIP_RECORDS of them: a window of requests sent as one
 * frame travels as one group that the hub and the peers each wait for in turn; in groups of four
 * they work at once.
 * While the client reconnects, frames are held and sent first once it is back. The buffer is
 * bounded: queued, held and not yet written by the socket together count against maxBytes;
 * past half of it the caller is told to wait (flush), past all of it a send is refused.
 */
import { FRAME_MAGIC, type Alloc } from '../faces/native/bus-binary.js';
import { ConnectionClosedError, MusterClientError } from './errors.js';
import type { FrameChannel } from './frame-channel.js';

const CHUNK_BYTES = 256 * 1024;
/** A frame is sent as soon as it holds this much (the hub takes frames up to maxMessageBytes, 1 MiB by default). */
const FRAME_BYTES = 64 * 1024;
/**
 * Requests and answers in one frame at most (publishes are not counted: a stream of them is best
 * sent whole). Request/reply with 16 in flight, against a bare `ws` relay: 0.88 with only the
 * turn's first sent at once, 0.94-0.96 with every one (a frame each), 1.09-1.13 in fours (1.03-1.06
 * in twos, 1.09-1.11 in threes, 1.04-1.11 in eights).
 */
const ROUND_TRIP_RECORDS = 4;

/** The next event-loop turn: setImmediate in Node; a message-channel task in browsers (setTimeout(0) may wait 4 ms). */
const nextTurn: (fn: () => void) => void = (() => {
  if (typeof setImmediate === 'function') return (fn: () => void) => { setImmediate(fn); };
  const queue: (() => void)[] = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => { for (const fn of queue.splice(0)) fn(); };
  return (fn: () => void) => { if (queue.push(fn) === 1) channel.port2.postMessage(null); };
})();

export class RecordSender {
  readonly #channel: FrameChannel;
  readonly #maxBytes: number;
  #chunk = new Uint8Array(CHUNK_BYTES);
  /** The frame being built spans [#start, #end) of the chunk (its magic byte first); empty when equal. */
  #start = 0;
  #end = 0;
  /** Frames made while the client was not connected, in order. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #scheduled = false;
  /** Requests and answers in the frame being built. */
  #roundTrips = 0;
  /** For the codec's encoders: the next n bytes of the frame being built. */
  readonly alloc: Alloc = (n) => this.#reserve(n);

  constructor(channel: FrameChannel, maxBytes: number) {
    this.#channel = channel;
    this.#maxBytes = maxBytes;
  }

  /** Connected: a record queued now goes on the current connection. */
  get connected(): boolean {
    return this.#channel.connected;
  }

  /** Bytes waiting to reach the hub: in the frame being built, held for a reconnect, and in the socket. */
  get pendingBytes(): number {
    return this.#end - this.#start + this.#heldBytes + this.#channel.bufferedAmount;
  }

  /** Throws when nothing more may be queued: the client is closed, or the buffer is full. */
  checkRoom(): void {
    if (this.#channel.closed) throw new ConnectionClosedError('The client is closed');
    const pending = this.pendingBytes;
    if (pending >= this.#maxBytes) {
      throw new MusterClientError('SEND_BUFFER_FULL', `${pending} bytes are waiting to reach the hub (maxPendingBytes ${this.#maxBytes}): await flush() before sending more`, { pendingBytes: pending, maxPendingBytes: this.#maxBytes });
    }
  }

  /**
   * After a record was encoded (`roundTrip`: a request or an answer): sends it if it is the turn's
   * first and nothing waits, or if the frame is full; else schedules the turn's frame. False past
   * the high-water mark (half the bound).
   */
  added(roundTrip = false): boolean {
    if (this.#end - this.#start >= FRAME_BYTES || (roundTrip && ++this.#roundTrips >= ROUND_TRIP_RECORDS)) this.#emit();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#held.length === 0 && this.#channel.bufferedAmount === 0) this.#emit();
      nextTurn(() => { this.#scheduled = false; this.sendNow(); });
    }
    return this.pendingBytes < this.#maxBytes / 2;
  }

  /** Sends held frames and the frame being built, if connected. */
  sendNow(): void {
    if (this.#end > this.#start) this.#emit();
    else this.#sendHeld();
  }

  /** Sends what is queued, then waits until the hub has read it. */
  async flush(): Promise<void> {
    await this.#channel.ready();
    this.sendNow();
    await this.#channel.roundTrip();
  }

  #reserve(n: number): Uint8Array {
    const building = this.#end > this.#start;
    // A record that would overflow the chunk, or a big one, starts a frame of its own.
    if (building && (this.#end + n > this.#chunk.length || n >= FRAME_BYTES)) this.#emit();
    if (this.#end === this.#start) {
      if (this.#end + 1 + n > this.#chunk.length) {
        this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, n + 1));
        this.#start = this.#end = 0;
      }
      this.#chunk[this.#end++] = FRAME_MAGIC;
    }
    const view = this.#chunk.subarray(this.#end, this.#end + n);
    this.#end += n;
    return view;
  }

  /** The frame being built goes (or is held); its bytes are never written again (sockets may keep the view). */
  #emit(): void {
    this.#roundTrips = 0;
    const frame = this.#chunk.subarray(this.#start, this.#end);
    this.#start = this.#end;
    this.#sendHeld();
    if (this.#held.length > 0 || !this.#channel.send(frame)) this.#hold(frame);
  }

  #hold(frame: Uint8Array): void {
    if (this.#channel.closed) return;
    this.#held.push(frame);
    this.#heldBytes += frame.byteLength;
  }

  #sendHeld(): void {
    while (this.#held.length > 0 && this.#channel.send(this.#held[0]!)) this.#heldBytes -= this.#held.shift()!.byteLength;
  }
}
