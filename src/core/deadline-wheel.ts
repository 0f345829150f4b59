/**
 * Expiry without scanning. Each entry sits in the slot of the deadline it had when it was
 * scheduled; moving a deadline later (a heartbeat) only writes a number. When a slot comes due,
 * entries whose deadline moved are put back in their new slot; the rest expire. A heartbeat is
 * O(1) and each entry is re-slotted at most once per period.
 *
 * The timer sleeps until the earliest slot that holds entries (a heap of slot numbers, pushed
 * when a slot is first filled): an idle hub is not woken every resolution step for nothing.
 */
export interface WheelEntry {
  /** ms since the epoch; Infinity means "not scheduled". */
  deadline: number;
  /** The slot the entry sits in, or -1. */
  slot: number;
  /** Its place in that slot's list (the wheel's own bookkeeping). */
  slotIndex: number;
}

/** setTimeout's longest delay (a longer one fires at once); a slot further off is waited for in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export class DeadlineWheel<T extends WheelEntry> {
  readonly #resolutionMs: number;
  /**
   * Each slot's entries, a list each entry knows its place in (O(1) removal). Not Sets: an entry
   * added and taken out per request makes V8 replace a long-lived Set's table again and again,
   * and a replaced table in the old generation keeps the later ones alive (id-table.ts).
   */
  readonly #slots = new Map<number, T[]>();
  /** Min-heap of slot numbers filled since they were last due; an emptied slot stays until popped. */
  readonly #filled: number[] = [];
  readonly #onExpire: (entry: T) => void;
  readonly #now: () => number;
  #nextSlot: number;
  #running = false;
  /** Entries expired per batch before the loop gets a turn. */
  readonly #budget: number;
  #timer: NodeJS.Timeout | undefined;
  #later: NodeJS.Immediate | undefined;
  /** The slot the timer is set for (Infinity: none). */
  #timerSlot = Infinity;

  constructor(onExpire: (entry: T) => void, options: { resolutionMs?: number; now?: () => number; budget?: number } = {}) {
    this.#resolutionMs = options.resolutionMs ?? 10;
    this.#budget = options.budget ?? 500;
    this.#onExpire = onExpire;
    this.#now = options.now ?? Date.now;
    this.#nextSlot = this.#slotOf(this.#now());
  }

  /** Expires entries on a timer of its own from now on (which never keeps the process alive). */
  start(): void {
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    this.#disarm();
  }

  get size(): number {
    let n = 0;
    for (const s of this.#slots.values()) n += s.length;
    return n;
  }

  /** Sets the entry's deadline. Later deadlines cost nothing now; earlier ones re-slot. */
  schedule(entry: T, deadline: number): void {
    entry.deadline = deadline;
    if (deadline === Infinity) return this.cancel(entry);
    const slot = this.#slotOf(deadline);
    if (entry.slot !== -1 && entry.slot <= slot) return; // lazily moved when its old slot comes due
    this.#remove(entry);
    this.#insert(entry, slot);
    if (this.#running && entry.slot < this.#timerSlot) this.#arm();
  }

  cancel(entry: T): void {
    entry.deadline = Infinity;
    this.#remove(entry);
  }

  /**
   * Processes the slots that are due, expiring at most `budget` entries; true when due entries
   * are left for another call. Called by the timer; public for tests and benches.
   */
  tick(budget = Infinity): boolean {
    const now = this.#now();
    // A slot is due once its end has passed, so all of it expires together: a timer that fires a
    // little early (Node times it from the loop's cached clock) finds nothing and is set again,
    // rather than sending the slot's last entries a whole slot on.
    const due = Math.floor(now / this.#resolutionMs);
    // What is (re)slotted from here on goes after the due slots, never back into one.
    this.#nextSlot = Math.max(this.#nextSlot, due + 1);
    let expired = 0;
    while (this.#filled.length > 0 && this.#filled[0]! <= due) {
      const slot = this.#filled[0]!;
      const list = this.#slots.get(slot);
      if (list) {
        // Taken out whole, oldest first; what an expiry removes or moves meanwhile is skipped.
        this.#slots.delete(slot);
        for (let i = 0; i < list.length; i++) {
          const entry = list[i]!;
          if (entry.slot !== slot) continue;
          if (expired >= budget) {
            // The slot stays first in the heap with what is left.
            this.#keep(slot, list.slice(i).filter((e) => e.slot === slot));
            return true;
          }
          entry.slot = -1;
          entry.slotIndex = -1;
          if (entry.deadline === Infinity) continue;
          if (entry.deadline > now) this.#insert(entry, this.#slotOf(entry.deadline));
          else {
            expired++;
            this.#onExpire(entry);
          }
        }
      }
      // Done, emptied by cancels, or a second push of a slot already done (unless an expiry's
      // schedule() re-armed the timer, which drops an emptied slot itself).
      if (this.#filled[0] === slot) this.#pop();
    }
    return false;
  }

  #slotOf(ms: number): number {
    return Math.ceil(ms / this.#resolutionMs);
  }

  #insert(entry: T, slot: number): void {
    const s = Math.max(slot, this.#nextSlot);
    let list = this.#slots.get(s);
    if (!list) {
      this.#slots.set(s, (list = []));
      this.#push(s);
    }
    entry.slot = s;
    entry.slotIndex = list.push(entry) - 1;
  }

  /** What was left of a due slot's list, put back with their places renumbered. */
  #keep(slot: number, rest: T[]): void {
    for (let i = 0; i < rest.length; i++) rest[i]!.slotIndex = i;
    this.#slots.set(slot, rest);
    // An #arm() meanwhile (a tick called while the timer runs) dropped the slot it no longer found.
    if (this.#filled[0] !== slot) this.#push(slot);
  }

  /** Out of its slot's list: the last entry takes its place. */
  #remove(entry: T): void {
    if (entry.slot === -1) return;
    const list = this.#slots.get(entry.slot);
    if (list && list[entry.slotIndex] === entry) {
      const last = list.pop()!;
      if (last !== entry) {
        list[entry.slotIndex] = last;
        last.slotIndex = entry.slotIndex;
      }
      if (list.length === 0) this.#slots.delete(entry.slot);
    }
    entry.slot = -1;
    entry.slotIndex = -1;
  }

  /** Sets the timer for the earliest filled slot, or none when nothing waits. */
  #arm(): void {
    this.#disarm();
    // Slots emptied by cancels are dropped here, so an idle wheel does not wake for them.
    while (this.#filled.length > 0 && !this.#slots.has(this.#filled[0]!)) this.#pop();
    if (!this.#running || this.#filled.length === 0) return;
    const slot = this.#filled[0]!;
    this.#timerSlot = slot;
    this.#timer = setTimeout(() => this.#due(), Math.min(MAX_TIMER_MS, Math.max(0, slot * this.#resolutionMs - this.#now())));
    this.#timer.unref();
  }

  /**
   * Expires a budget's worth, then lets the loop read its sockets before the next: heartbeats
   * waiting there are counted before their members' turn (a slot of 50,000 members, all at once,
   * held the hub for 2 s, and a heartbeat sent in time could find its member expired).
   */
  #due(): void {
    this.#disarm();
    // Busy until this batch is done: what the expiries schedule waits for the #arm() after it.
    this.#timerSlot = -Infinity;
    if (!this.tick(this.#budget)) {
      this.#timerSlot = Infinity;
      return this.#arm();
    }
    if (!this.#running) return; // stopped by one of the expiries
    this.#later = setImmediate(() => this.#due());
    this.#later.unref();
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#later) clearImmediate(this.#later);
    this.#timer = undefined;
    this.#later = undefined;
    this.#timerSlot = Infinity;
  }

  #push(slot: number): void {
    const h = this.#filled;
    // A heap grown mostly of emptied slots (cancels) is rebuilt from the slots in use.
    if (h.length > 2 * this.#slots.size + 64) {
      h.length = 0;
      for (const s of [...this.#slots.keys()].sort((a, b) => a - b)) h.push(s);
      if (this.#slots.has(slot)) return;
    }
    let i = h.push(slot) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= slot) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = slot;
  }

  #pop(): number {
    const h = this.#filled;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]! < h[l]! ? l + 1 : l;
        if (h[c]! >= last) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
