/** A replay this long is announced at once; a shorter one only if it is still going after a second. */
const LONG_REPLAY = 1_000;

/**
 * `muster watch --since OLD` replays history before it streams live: say so on stderr (stdout
 * stays events only), once a second while it replays, and once when it is live. A short replay,
 * over at once, says nothing.
 */
export class CatchUp {
  #last: number;
  #done = false;
  #replayed = false;
  #announced = false;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(private readonly since: number, private readonly target: number, private readonly say: (line: string) => void) {
    this.#last = since;
    this.#done = target <= since;
    if (this.#done) return;
    if (target - since >= LONG_REPLAY) this.#announce();
    this.#timer = setInterval(() => this.#tick(), 1_000);
    this.#timer.unref();
  }

  /** An event was printed. */
  seen(revision: number): void {
    this.#last = revision;
    if (!this.#done && revision >= this.target) this.#finish();
  }

  /**
   * The hub has sent the whole replay (a filter may have skipped its end); the next tick says so,
   * once what was queued has had its turn to print.
   */
  replayed(): void {
    this.#replayed = true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #announce(): void {
    this.#announced = true;
    this.say(`muster: catching up from revision ${this.since} to ${this.target} (${this.target - this.since} events at most)`);
  }

  #tick(): void {
    if (this.#replayed) return this.#finish();
    if (!this.#announced) this.#announce();
    const share = Math.floor(((this.#last - this.since) / (this.target - this.since)) * 100);
    this.say(`muster: catching up: revision ${this.#last} of ${this.target} (${share}%)`);
  }

  #finish(): void {
    this.#done = true;
    clearInterval(this.#timer);
    if (this.#announced) this.say(`muster: caught up at revision ${Math.max(this.#last, this.target)}; live from now on`);
  }
}
