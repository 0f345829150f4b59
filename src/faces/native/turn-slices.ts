/**
 * Fair turns for the WebSocket face. One read can bring a connection's whole burst (64
 * registrations, a thousand publishes), and `ws` hands its frames over one after another in the
 * same turn: every other connection's heartbeat or bus message then waited for the whole burst
 * and its commit (p50 1.3-1.5 ms during a burst of registrations at `--sync normal`, 0.2 idle).
 *
 * Here frames are handled at once while the turn's slice of time (SLICE_MS) lasts. Past it, a
 * connection's frames wait in its own queue, in order (a connection with frames waiting queues its
 * new ones too), and the queues are served round-robin, a slice per event-loop turn, so a burst is
 * spread over turns with every other socket read in between. A queue longer than MAX_QUEUED
 * frames or MAX_QUEUED_BYTES pauses its socket until it is down to half of both (memory stays
 * bounded whatever a peer sends). A
 * connection that closes is closed once its queued frames are handled, as it was when every
 * frame was handled on arrival (a member registered by a queued frame is bound to a connection
 * whose close is still to come, so its session ends with it).
 */

/**
 * Face work one turn does before frames wait for the next: about 20 registrations, hundreds of
 * publishes. 0.25 ms cost 5-8% of the hub's CPU a registration at `--sync normal` (a loop turn
 * per slice); 0.5 ms measured the same as without slices.
 */
export const SLICE_MS = 0.5;
/** Frames a connection may have waiting before its socket stops being read. */
export const MAX_QUEUED = 1024;
/** Bytes of frames a connection may have waiting before its socket stops being read. */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** What the slices need of a connection: a way to handle a frame, and to stop and start reading. */
export interface FrameSink<F> {
  /** Must not throw: its errors are its own to answer (a throw would stop the slices' turn). */
  handle(frame: F): void;
  /** The frame's size in bytes (what it holds while it waits). */
  sizeOf(frame: F): number;
  pause(): void;
  resume(): void;
}

/** A connection's frames waiting for a slice, oldest first. */
export class FrameQueue<F> {
  readonly sink: FrameSink<F>;
  readonly #frames: F[] = [];
  #head = 0;
  #bytes = 0;
  #paused = false;
  #drained: (() => void) | null = null;

  constructor(sink: FrameSink<F>) {
    this.sink = sink;
  }

  get length(): number {
    return this.#frames.length - this.#head;
  }

  /** Runs `fn` once the frames waiting now are handled; at once when none waits. */
  whenDrained(fn: () => void): void {
    if (this.length === 0) fn();
    else this.#drained = fn;
  }

  push(frame: F): void {
    this.#frames.push(frame);
    this.#bytes += this.sink.sizeOf(frame);
    if (!this.#paused && (this.length > MAX_QUEUED || this.#bytes > MAX_QUEUED_BYTES)) {
      this.#paused = true;
      this.sink.pause();
    }
  }

  /** Handles the oldest frame; true while more wait. */
  handleOne(): boolean {
    const frame = this.#frames[this.#head]!;
    this.#frames[this.#head++] = undefined as F; // let it go now: the array is reused until it empties
    this.#bytes -= this.sink.sizeOf(frame);
    if (this.#head === this.#frames.length) {
      this.#frames.length = 0;
      this.#head = 0;
    }
    if (this.#paused && this.length <= MAX_QUEUED / 2 && this.#bytes <= MAX_QUEUED_BYTES / 2) {
      this.#paused = false;
      this.sink.resume();
    }
    this.sink.handle(frame);
    if (this.length > 0) return true;
    const drained = this.#drained;
    this.#drained = null;
    drained?.();
    return false;
  }
}

export class TurnSlices {
  readonly #sliceMs: number;
  /** When this turn's slice ends (performance.now()); 0 until the turn's first frame. */
  #ends = 0;
  /** Queues with frames waiting, served round-robin from #next. */
  #waiting: FrameQueue<unknown>[] = [];
  #next = 0;
  #drainScheduled = false;
  #handled = 0;
  #waitingFrames = 0;

  constructor(sliceMs = SLICE_MS) {
    this.#sliceMs = sliceMs;
  }

  /** Frames handled so far (only grows): with `waiting`, what a store holds a commit for (store/commit-hold.ts). */
  get handled(): number {
    return this.#handled;
  }

  /** Frames waiting for a later slice, over every connection. */
  get waiting(): number {
    return this.#waitingFrames;
  }

  /** Handles `frame` now if the slice has time left and neither its connection nor any other waits; else queues it. */
  offer<F>(queue: FrameQueue<F>, frame: F): void {
    if (queue.length === 0 && this.#next === this.#waiting.length && this.#open()) {
      this.#handled++;
      queue.sink.handle(frame);
      return;
    }
    this.#waitingFrames++;
    queue.push(frame);
    if (queue.length === 1) this.#wait(queue as FrameQueue<unknown>);
  }

  #open(): boolean {
    const now = performance.now();
    if (this.#ends === 0) {
      this.#ends = now + this.#sliceMs;
      setImmediate(() => { this.#ends = 0; });
      return true;
    }
    return now < this.#ends;
  }

  #wait(queue: FrameQueue<unknown>): void {
    this.#waiting.push(queue);
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => this.#drain());
  }

  /** One slice over the waiting queues, a frame from each in turn; what is left waits for the next turn. */
  #drain(): void {
    this.#drainScheduled = false;
    const ends = performance.now() + this.#sliceMs;
    do {
      const queue = this.#waiting[this.#next++]!;
      this.#waitingFrames--;
      this.#handled++;
      if (queue.handleOne()) this.#waiting.push(queue);
    } while (this.#next < this.#waiting.length && performance.now() < ends);
    if (this.#next === this.#waiting.length) {
      this.#waiting = [];
      this.#next = 0;
      return;
    }
    if (this.#next >= 1024 && this.#next * 2 >= this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#next);
      this.#next = 0;
    }
    this.#drainScheduled = true;
    setImmediate(() => this.#drain());
  }
}
