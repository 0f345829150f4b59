/**
 * This hub's changes sent to the shared store and not fed back yet, by ticket: each is answered
 * when the change stream brings it back, or failed when it never will (its history wiped, its
 * entry trimmed before this hub read it, the store closed).
 */
import { MusterError } from '../errors.js';
import type { Applied, Change } from '../store/store.js';

export interface Waiting {
  change: Change;
  /** The history it was written in: lost with it if the store is wiped before it is fed. */
  epoch: string;
  /** Its first revision, once the apply script answered. */
  first?: number;
  resolve(applied: Applied): void;
  reject(err: unknown): void;
}

export class WaitingChanges {
  readonly #byTicket = new Map<string, Waiting>();

  /** Waits for `change` (sent in `epoch`) to be fed back; the promise never goes unhandled. */
  add(ticket: string, change: Change, epoch: string): Promise<Applied> {
    const fed = new Promise<Applied>((resolve, reject) => this.#byTicket.set(ticket, { change, epoch, resolve, reject }));
    fed.catch(() => {});
    return fed;
  }

  get(ticket: string): Waiting | undefined {
    return this.#byTicket.get(ticket);
  }

  delete(ticket: string): void {
    this.#byTicket.delete(ticket);
  }

  /** The apply script wrote them in `epoch` (a history joined meanwhile is theirs now). */
  wroteIn(tickets: readonly string[], epoch: string): void {
    for (const t of tickets) {
      const w = this.#byTicket.get(t);
      if (w) w.epoch = epoch;
    }
  }

  /** Fails, and stops waiting for, every change `which` picks. */
  fail(which: (w: Waiting) => boolean, err: () => unknown): void {
    for (const [ticket, w] of this.#byTicket) {
      if (!which(w)) continue;
      this.#byTicket.delete(ticket);
      w.reject(err());
    }
  }

  /** Changes applied at or before `revision` whose entries this hub will not read (trimmed, or inside a snapshot): applied, never fed. */
  failLostUpTo(revision: number): void {
    this.fail((w) => w.first !== undefined && w.first <= revision, lostInGap);
  }

  failAll(err: unknown): void {
    this.fail(() => true, () => err);
  }
}

/** A change applied in the store whose entry this hub skipped (trimmed before it read it). */
export function lostInGap(): MusterError {
  return new MusterError('STORE_UNAVAILABLE', "The change was applied, but this hub fell behind the shared store's change stream before it came back (it loads the store whole again)");
}
