/**
 * Heartbeats on their way to the shared deadlines (cluster mode): those of a turn, or of the time
 * the last write took, go as one ZADD XX (a member removed meanwhile is not brought back by a late
 * heartbeat), one at a time, so what waits is at most one deadline per member. The heartbeat is
 * answered before its write. A write Redis did not take (away, frozen past the command timeout,
 * refusing writes) is kept and tried again every RETRY_MS, a newer heartbeat of a member winning:
 * dropped, the member's old deadline would pass while Redis is away and the first expiry run once
 * it is back would remove a member whose client never stopped (ClusterKeeper also holds its
 * expiry runs then, until every hub has written what it kept).
 */
import type { SharedDeadlines } from '../store/store.js';

/** Between a write Redis did not take and the next try. */
export const RETRY_MS = 100;
/** Deadlines a ZADD at most: what a long outage kept goes in writes of a few ms of Redis's time each. */
const MAX_PER_WRITE = 10_000;

export class PendingTouches implements SharedDeadlines {
  readonly #key: string;
  readonly #send: (args: string[]) => Promise<unknown>;
  /** Heartbeats not yet written: member id -> deadline (ms since the epoch). */
  #touched = new Map<string, number>();
  /** The heartbeats of the write under way: kept again if Redis does not take it. */
  #sending: Map<string, number> | null = null;
  #flushing = false;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(key: string, send: (args: string[]) => Promise<unknown>) {
    this.#key = key;
    this.#send = send;
  }

  /** Heartbeats whose deadline Redis has not taken yet: kept, or in the write under way (for /metrics and tests). */
  get pending(): number {
    return this.#touched.size + (this.#sending?.size ?? 0);
  }

  touch(id: string, at: number): void {
    this.#touched.set(id, at);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.#flush());
    }
  }

  /** A change that writes the member whole sets its deadline itself: its heartbeat need not. */
  forget(id: string): void {
    this.#touched.delete(id);
    this.#sending?.delete(id);
  }

  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
  }

  /** The oldest MAX_PER_WRITE heartbeats (all of them, usually), out of #touched. */
  #take(): Map<string, number> {
    const all = this.#touched;
    if (all.size <= MAX_PER_WRITE) {
      this.#touched = new Map();
      return all;
    }
    const some = new Map<string, number>();
    for (const [id, at] of all) {
      some.set(id, at);
      all.delete(id);
      if (some.size === MAX_PER_WRITE) break;
    }
    return some;
  }

  #flush(): void {
    if (this.#touched.size === 0 || this.#closed) {
      this.#flushing = false;
      return;
    }
    const batch = (this.#sending = this.#take());
    const args = ['ZADD', this.#key, 'XX'];
    for (const [id, at] of batch) args.push(String(at), id);
    this.#send(args).then(() => {
      this.#sending = null;
      this.#flush();
    }, () => {
      this.#sending = null;
      // Kept, under any newer heartbeat of the same member (not one forgotten meanwhile: its change set a later deadline).
      for (const [id, at] of batch) if (!this.#touched.has(id)) this.#touched.set(id, at);
      if (this.#closed) return;
      this.#retry = setTimeout(() => {
        this.#retry = null;
        this.#flush();
      }, RETRY_MS);
    });
  }
}
