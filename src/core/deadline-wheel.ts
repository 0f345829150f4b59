/**
 * Expiry without scanning. Each entry sits in the slot of the deadline it had when it was
 * scheduled; moving a deadline later (a heartbeat) only writes a number. When a slot comes due,
 * entries whose deadline moved are put back in their new slot; the rest expire. A heartbeat is
 * O(1) and each entry is re-slotted at most once per period.
 */
export interface WheelEntry {
  /** ms since the epoch; Infinity means "not scheduled". */
  deadline: number;
  /** The slot the entry sits in, or -1. */
  slot: number;
}

export class DeadlineWheel<T extends WheelEntry> {
  readonly #resolutionMs: number;
  readonly #slots = new Map<number, Set<T>>();
  readonly #onExpire: (entry: T) => void;
  readonly #now: () => number;
  #nextSlot: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(onExpire: (entry: T) => void, options: { resolutionMs?: number; now?: () => number } = {}) {
    this.#resolutionMs = options.resolutionMs ?? 10;
    this.#onExpire = onExpire;
    this.#now = options.now ?? Date.now;
    this.#nextSlot = this.#slotOf(this.#now());
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.tick(), this.#resolutionMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get size(): number {
    let n = 0;
    for (const s of this.#slots.values()) n += s.size;
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
  }

  cancel(entry: T): void {
    entry.deadline = Infinity;
    this.#remove(entry);
  }

  /** Processes every slot that is due. Called by the interval; public for tests and benches. */
  tick(): void {
    const now = this.#now();
    const due = this.#slotOf(now);
    for (; this.#nextSlot <= due; this.#nextSlot++) {
      const set = this.#slots.get(this.#nextSlot);
      if (!set) continue;
      this.#slots.delete(this.#nextSlot);
      for (const entry of set) {
        entry.slot = -1;
        if (entry.deadline === Infinity) continue;
        if (entry.deadline > now) this.#insert(entry, Math.max(this.#slotOf(entry.deadline), this.#nextSlot + 1));
        else this.#onExpire(entry);
      }
    }
  }

  #slotOf(ms: number): number {
    return Math.ceil(ms / this.#resolutionMs);
  }

  #insert(entry: T, slot: number): void {
    const s = Math.max(slot, this.#nextSlot);
    let set = this.#slots.get(s);
    if (!set) this.#slots.set(s, (set = new Set()));
    set.add(entry);
    entry.slot = s;
  }

  #remove(entry: T): void {
    if (entry.slot === -1) return;
    const set = this.#slots.get(entry.slot);
    if (set) {
      set.delete(entry);
      if (set.size === 0) this.#slots.delete(entry.slot);
    }
    entry.slot = -1;
  }
}
