/**
 * A store's commit held for the rest of a burst. The WebSocket face handles a read in slices of
 * the event loop's turns (faces/native/turn-slices.ts), so a burst of 64 registrations read in
 * one go is applied over several turns; a store that commits each turn's changes would make a
 * commit per slice (a SQLite store at `normal`; a cluster's call of the apply script). Held, the
 * commit waits until the frames that were waiting when it first came due are handled: the burst
 * that was read, not what keeps arriving after it, so a steady stream does not hold a commit back
 * (MAX_HOLD_MS at most, in case). At `--sync full` the SQLite store holds nothing: its syncs pace
 * its commits (sqlite.ts).
 */

/** A face's frames read and not yet handled, as a store waits on them. */
export interface ReadBacklog {
  /** Frames handled so far (only grows). */
  readonly handled: number;
  /** Frames read and waiting now. */
  readonly waiting: number;
}

/** The longest a commit is held, whatever the backlog does. */
export const MAX_HOLD_MS = 50;

export class CommitHold {
  #backlog: ReadBacklog | null = null;
  /** The backlog's `handled` the held commit waits for; -1 when none is held. */
  #until = -1;
  #since = 0;

  /** Store.holdCommitsFor. */
  attach(backlog: ReadBacklog): void {
    this.#backlog = backlog;
  }

  /** Asked when a commit comes due: true to wait another turn for the frames read before it. */
  wait(): boolean {
    const b = this.#backlog;
    if (!b) return false;
    if (this.#until < 0) {
      if (b.waiting === 0) return false;
      this.#until = b.handled + b.waiting;
      this.#since = performance.now();
    }
    if (b.handled < this.#until && performance.now() - this.#since < MAX_HOLD_MS) return true;
    this.#until = -1;
    return false;
  }

  /** The commit is made: the next one decides afresh. */
  release(): void {
    this.#until = -1;
  }
}
