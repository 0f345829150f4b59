/**
 * Writes of a member that the store did not take for now (in a cluster Redis away, frozen or
 * refusing writes; on a SQLite file, a full disk), written again every RETRY_MS until it does, so that no
 * caller retries them (retried-writes.ts makes them: every removal, change and resume of the
 * registry's, liveness's own among them).
 * Dropped, a session member whose client left while Redis was away stayed alive there for ever,
 * with no deadline, held by a hub that no longer had its connection; a probed member removed here
 * stayed in Redis, probed by no hub. A member's next try is made when its turn comes (`again`,
 * which gives null when there is nothing to write any more), so it writes what holds then. One
 * member first: the rest, BATCH a turn, only once the store took it.
 */
import type { Member } from './member.js';

/** Between a try the store refused and the next. */
export const RETRY_MS = 250;
const BATCH = 1_000;

/** A member's next try, or null when there is nothing to write any more. */
export type Again = () => Promise<unknown> | null;
/** What is written again: fields of the member (its status, say), the member held here again (whole), its removal. Each kind's last `again` wins. */
export type RetryKind = 'change' | 'hold' | 'removal';

export class WriteRetries {
  #members = new Map<Member, Map<RetryKind, Again>>();
  #timer: NodeJS.Timeout | null = null;
  /** A try failed since the last round began: the round stops, the next waits RETRY_MS. */
  #stalled = false;
  #closed = false;
  /** Which refusals are worth trying again (a store that stopped for good is not). */
  readonly retryable: (err: unknown) => boolean;

  constructor(retryable: (err: unknown) => boolean) {
    this.retryable = retryable;
  }

  /** A write of `m` failed with `err`: `again` later if the store was only unavailable. */
  failed(m: Member, err: unknown, kind: RetryKind, again: Again): void {
    if (this.#closed || !this.retryable(err)) return;
    let agains = this.#members.get(m);
    if (!agains) this.#members.set(m, (agains = new Map()));
    agains.set(kind, again);
    this.#stalled = true;
    this.#timer ??= setTimeout(() => this.#retry(), RETRY_MS);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#members.clear();
  }

  #retry(): void {
    this.#timer = null;
    this.#stalled = false;
    this.#next(() => this.#rest());
  }

  #rest(): void {
    if (this.#stalled) return;
    for (let i = 0; i < BATCH; i++) if (!this.#next()) return;
    setImmediate(() => this.#rest());
  }

  /** Tries the next member with something to write (then `then` once the store took all of it); false when none is left. */
  #next(then?: () => void): boolean {
    for (const [m, agains] of this.#members) {
      this.#members.delete(m);
      const writes: Promise<unknown>[] = [];
      for (const [kind, again] of agains) {
        const write = again();
        if (write) writes.push(write.catch((err: unknown) => {
          this.failed(m, err, kind, again);
          throw err;
        }));
      }
      if (writes.length === 0) continue;
      Promise.all(writes).then(then, () => {});
      return true;
    }
    return false;
  }
}
