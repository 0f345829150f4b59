/**
 * Open requests by the increasing ids their owner hands out, without a hash table per request:
 * a ring indexed by the id's low bits, which grows with the number open (never with how far
 * apart their ids are), and a Map for the few that outlive a lap of the ring.
 *
 * Why not one Map: one set and one delete per request makes V8 replace a long-lived Map's table
 * again and again, and each replaced table points to the next. Once one of them is in the old
 * generation (any table that lived through two young collections, as on a hub that served
 * something else first), that dead table keeps every later table, and the requests in them,
 * alive through every young collection until the next full one: each request is copied and
 * promoted. In the bus bench a hub that had run a fan-out first promoted 1.3 MB per young
 * collection during request/reply and spent about 30% more CPU per round trip
 * (docs/benchmarks.md, "Requests on a hub that has aged"). A ring slot is only overwritten.
 */
export class IdTable<T extends { readonly id: number }> {
  /** Allocated at the first add: a connection the hub never asks anything costs an empty array. */
  #ring: (T | undefined)[] = [];
  #mask = 0;
  /** Entries in the ring. */
  #inRing = 0;
  /** Entries whose ring place a newer one needed (open for longer than a lap of the ring). */
  readonly #aside = new Map<number, T>();

  get size(): number {
    return this.#inRing + this.#aside.size;
  }

  /** Adds `v` (its id not in the table). */
  add(v: T): void {
    if (this.#inRing >= this.#ring.length >> 1) this.#grow();
    const i = v.id & this.#mask;
    const held = this.#ring[i];
    if (held !== undefined) {
      this.#aside.set(held.id, held);
      this.#inRing--;
    }
    this.#ring[i] = v;
    this.#inRing++;
  }

  get(id: number): T | undefined {
    const v = this.#ring[id & this.#mask];
    if (v !== undefined && v.id === id) return v;
    return this.#aside.size > 0 ? this.#aside.get(id) : undefined;
  }

  /** Takes `v` out; false when it was not in the table. */
  delete(v: T): boolean {
    const i = v.id & this.#mask;
    if (this.#ring[i] === v) {
      this.#ring[i] = undefined;
      this.#inRing--;
      return true;
    }
    return this.#aside.get(v.id) === v && this.#aside.delete(v.id);
  }

  *values(): IterableIterator<T> {
    for (const v of this.#ring) if (v !== undefined) yield v;
    yield* this.#aside.values();
  }

  /** Twice the ring (16 at first); what collides in the new one goes aside. */
  #grow(): void {
    const old = this.#ring;
    this.#ring = new Array<T | undefined>(Math.max(16, old.length * 2)).fill(undefined);
    this.#mask = this.#ring.length - 1;
    this.#inRing = 0;
    for (const v of old) if (v !== undefined) this.add(v);
  }
}
