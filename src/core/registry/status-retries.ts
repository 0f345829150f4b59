/**
 * Cluster mode: status changes the shared store did not take (Redis away, frozen or refusing
 * writes: STORE_UNAVAILABLE) are written again until it takes them. Liveness makes them on its
 * own (a session's client gone, a probe answering again), so no caller retries them; dropped, a
 * session member whose client left while Redis was away stayed alive there for ever, with no
 * deadline, held by a hub that no longer had its connection. Each try writes the member's status
 * as it is then (the hub holding a member is the one that knows it), while the hub still holds it.
 * One member first: the rest, BATCH a turn, only once the store took that one.
 */
import type { MusterError } from '../../errors.js';
import type { Member } from './member.js';

/** Between a try the store refused and the next. */
export const RETRY_MS = 250;
const BATCH = 1_000;

export class StatusRetries {
  readonly #write: (m: Member) => Promise<unknown>;
  readonly #held: (m: Member) => boolean;
  #members = new Set<Member>();
  #timer: NodeJS.Timeout | null = null;
  /** A try failed since the last round began: the round stops, the next waits RETRY_MS. */
  #stalled = false;
  #closed = false;

  /** `write`: the member's status to the store; `held`: whether this hub still holds the member. */
  constructor(write: (m: Member) => Promise<unknown>, held: (m: Member) => boolean) {
    this.#write = write;
    this.#held = held;
  }

  /** Members whose status waits to be written. */
  get size(): number {
    return this.#members.size;
  }

  /** A status write of `m` failed with `err`: tried again later if the store was only unavailable. */
  failed(m: Member, err: unknown): void {
    if (this.#closed || (err as MusterError | undefined)?.code !== 'STORE_UNAVAILABLE') return;
    this.#members.add(m);
    this.#stalled = true;
    this.#timer ??= setTimeout(() => this.#retry(), RETRY_MS);
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
    const first = this.#next();
    if (first) this.#try(first, () => this.#rest());
  }

  #rest(): void {
    if (this.#stalled) return;
    for (let i = 0; i < BATCH; i++) {
      const m = this.#next();
      if (!m) return;
      this.#try(m);
    }
    setImmediate(() => this.#rest());
  }

  #try(m: Member, then?: () => void): void {
    this.#write(m).then(then, (err: unknown) => this.failed(m, err));
  }

  /** The next member still held here, out of the set. */
  #next(): Member | undefined {
    for (const m of this.#members) {
      this.#members.delete(m);
      if (this.#held(m)) return m;
    }
    return undefined;
  }
}
