/**
 * When a hub that fell behind the change stream loads the store whole again: at once the first
 * time; if it falls behind again within CALM_MS of its last load, after a wait twice as long as
 * the last one (from WAIT_MS up to CALM_MS), reading on meanwhile. A hub too slow for the
 * cluster's writes must not add a whole load of the store (and its watchers' lists after it) to
 * every gap.
 */
export const RELOAD_WAIT_MS = 1_000;
export const RELOAD_CALM_MS = 60_000;

export class ReloadPacing {
  #wanted = false;
  #at = 0;
  #wait = 0;
  #loadedAt = -Infinity;

  /** A load is wanted (entries were trimmed before this hub read them). */
  get wanted(): boolean {
    return this.#wanted;
  }

  /** Entries were trimmed before this hub read them: ms until the load (0: at once). */
  fellBehind(now: number): number {
    if (!this.#wanted) {
      this.#wait = now - this.#loadedAt < RELOAD_CALM_MS ? Math.min(Math.max(this.#wait * 2, RELOAD_WAIT_MS), RELOAD_CALM_MS) : 0;
      this.#at = now + this.#wait;
      this.#wanted = true;
    }
    return Math.max(0, this.#at - now);
  }

  /** True when a load is wanted and its time has come. */
  due(now: number): boolean {
    return this.#wanted && now >= this.#at;
  }

  loaded(now: number): void {
    this.#wanted = false;
    this.#loadedAt = now;
  }

  /** The store was loaded whole some other way (a new history joined): no load is wanted. */
  cancel(): void {
    this.#wanted = false;
  }
}
