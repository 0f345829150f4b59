/**
 * When each ttl member this client registered beats next: one timer for all of them, not one
 * interval each. A gateway holding thousands of members kept a timer (and its closure) per member,
 * which its collections walked and every registration paid to set up. Members of one interval
 * (a third of their ttl) wait in a queue of their own, in the order they are due (each goes to the
 * back, due an interval from now), so a run takes only the due ones; the timer is set for the
 * earliest head. A member taken out is skipped when its turn comes (`live` says so). Times are
 * the monotonic clock's: a wall clock set back must not hold heartbeats back (as intervals did not).
 */

interface Entry<M> {
  member: M;
  due: number;
}

export class HeartbeatSchedule<M> {
  readonly #beat: (m: M) => void;
  readonly #live: (m: M) => boolean;
  /** Per interval (ms): its members, oldest due first, from `head` on. */
  readonly #queues = new Map<number, { entries: Entry<M>[]; head: number }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #at = Infinity;

  constructor(beat: (m: M) => void, live: (m: M) => boolean) {
    this.#beat = beat;
    this.#live = live;
  }

  /** Beats `member` every `intervalMs` from now on, while it is live. */
  add(member: M, intervalMs: number): void {
    let q = this.#queues.get(intervalMs);
    if (!q) this.#queues.set(intervalMs, (q = { entries: [], head: 0 }));
    const due = performance.now() + intervalMs;
    q.entries.push({ member, due });
    if (due < this.#at) this.#arm(due);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
    this.#queues.clear();
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(() => this.#run(), Math.max(0, at - performance.now()));
  }

  #run(): void {
    this.#timer = undefined;
    this.#at = Infinity;
    const now = performance.now();
    // A timer fires at a whole millisecond: what is due within the next one goes now.
    const until = now + 1;
    let next = Infinity;
    for (const [intervalMs, q] of this.#queues) {
      // Only those due now: one beaten goes to the back, due an interval later.
      const end = q.entries.length;
      while (q.head < end && q.entries[q.head]!.due <= until) {
        const e = q.entries[q.head++]!;
        if (!this.#live(e.member)) continue;
        e.due = now + intervalMs;
        q.entries.push(e);
        this.#beat(e.member);
      }
      // What was taken is dropped once it is most of the array.
      if (q.head > 64 && q.head * 2 > q.entries.length) {
        q.entries = q.entries.slice(q.head);
        q.head = 0;
      }
      if (q.head === q.entries.length) this.#queues.delete(intervalMs);
      else next = Math.min(next, q.entries[q.head]!.due);
    }
    if (next < Infinity && next < this.#at) this.#arm(next);
  }
}
