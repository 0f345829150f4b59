/**
 * Group commit: the changes a hub makes in one event-loop turn go to Redis as one call of the
 * apply script (scripts.ts APPLY), not one call each. Redis then parses one command, runs one
 * script and writes its effects to the append-only file once for all of them; the hub encodes
 * and sends one command. A call takes at most BATCH_CHANGES changes (and about BATCH_BYTES), so
 * it holds Redis for a few ms at most; the calls of a turn are pipelined, in the changes' order.
 */
import { CommitHold, type ReadBacklog } from '../store/commit-hold.js';
import type { ChangeArgs } from './change-wire.js';
import { APPLY } from './scripts.js';
import type { Scripts } from './redis-scripts.js';

const BATCH_CHANGES = 128;
const BATCH_BYTES = 512 * 1024;

/** The script's answer for one change: OK and its first revision, a failed condition and what it was about (MEMBER_EXISTS: and the member's registeredAt), or EPOCH. */
export type Answer = [string, string | number, string?];

interface Queued {
  wire: ChangeArgs;
  resolve(answer: Answer): void;
  reject(err: unknown): void;
}

export interface ApplyBatchesOptions {
  scripts: Scripts;
  prefix: string;
  eventRetention: number;
  /** The history the hub writes in now; `sending` is told the changes of each call as it goes. */
  epoch(): string;
  sending(tickets: readonly string[], epoch: string): void;
}

export class ApplyBatches {
  readonly #o: ApplyBatchesOptions;
  #queue: Queued[] = [];
  #scheduled = false;
  /** The call held for the rest of a burst the face is still handling (Store.holdCommitsFor). */
  readonly #hold = new CommitHold();

  constructor(options: ApplyBatchesOptions) {
    this.#o = options;
  }

  /** Queues a change for this turn's call; resolves with its answer (rejects if Redis does not answer). */
  apply(wire: ChangeArgs): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.#queue.push({ wire, resolve, reject });
      if (!this.#scheduled) { this.#scheduled = true; setImmediate(() => this.#flush()); }
    });
  }

  /** Store.holdCommitsFor: the rest of a burst goes in this call too. */
  holdFor(backlog: ReadBacklog): void {
    this.#hold.attach(backlog);
  }

  /** Refuses what waits (the store is closing). */
  close(err: unknown): void {
    for (const q of this.#queue) q.reject(err);
    this.#queue = [];
  }

  #flush(): void {
    if (this.#queue.length < BATCH_CHANGES && this.#hold.wait()) {
      setImmediate(() => this.#flush());
      return;
    }
    this.#hold.release();
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (let start = 0; start < queue.length;) {
      let end = start + 1;
      let bytes = queue[start]!.wire.bytes;
      while (end < queue.length && end - start < BATCH_CHANGES && bytes + queue[end]!.wire.bytes <= BATCH_BYTES) bytes += queue[end++]!.wire.bytes;
      void this.#send(queue.slice(start, end));
      start = end;
    }
  }

  async #send(batch: Queued[]): Promise<void> {
    const epoch = this.#o.epoch();
    this.#o.sending(batch.map((q) => q.wire.args[0]!), epoch);
    const argv = [this.#o.prefix, String(Date.now()), String(this.#o.eventRetention), epoch, String(batch.length)];
    for (const q of batch) for (const a of q.wire.args) argv.push(a);
    let reply: Answer[] | Answer;
    try {
      reply = await this.#o.scripts.run<Answer[] | Answer>(APPLY, argv);
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    if (typeof reply[0] === 'string') for (const q of batch) q.resolve(reply as Answer);
    else batch.forEach((q, i) => q.resolve((reply as Answer[])[i] ?? ['INTERNAL', 'no answer']));
  }
}
