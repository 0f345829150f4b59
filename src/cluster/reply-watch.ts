/**
 * Replies from Redis within a deadline, or STORE_UNAVAILABLE. node-redis's own command timeout
 * covers only commands still queued, not one already written to a Redis that stopped answering
 * (a paused or frozen server), and it costs a timer and an AbortSignal per command, which on the
 * hot paths (heartbeats, publications) was a fifth of a hub's CPU. Here every command waits in
 * one queue in the order it was sent, all with the same timeout, so one coarse timer checks the
 * oldest: a command costs an entry in an array. A late reply, if it comes, is dropped.
 */
import { MusterError } from '../errors.js';

interface Entry {
  at: number;
  settled: boolean;
  reject(err: unknown): void;
}

export class ReplyWatch {
  readonly timeoutMs: number;
  #queue: Entry[] = [];
  #head = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#timer = setInterval(() => this.#expire(), Math.max(10, Math.min(250, timeoutMs / 4)));
    this.#timer.unref();
  }

  /** The reply, or STORE_UNAVAILABLE once the timeout has passed (within a quarter of it). */
  answered<T>(reply: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const e: Entry = { at: Date.now() + this.timeoutMs, settled: false, reject };
      this.#queue.push(e);
      reply.then(
        (v) => { if (!e.settled) { e.settled = true; resolve(v); } },
        (err: unknown) => { if (!e.settled) { e.settled = true; reject(err); } },
      );
    });
  }

  #expire(): void {
    const now = Date.now();
    const q = this.#queue;
    while (this.#head < q.length) {
      const e = q[this.#head]!;
      if (!e.settled && e.at > now) break;
      this.#head++;
      if (!e.settled) {
        e.settled = true;
        e.reject(new MusterError('STORE_UNAVAILABLE', `Redis did not answer within ${this.timeoutMs} ms`));
      }
    }
    if (this.#head === q.length) { this.#queue = []; this.#head = 0; } else if (this.#head > 4096) { this.#queue = q.slice(this.#head); this.#head = 0; }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
