/**
 * A ShardedMap that also keeps its entries in the order they came, for the registry's members by
 * id (lists and services walk them in that order). A plain Map keeps the order but grows by
 * rehashing all of itself at once: 24 ms at 524,288 entries and 52 ms at 1,048,576 on this machine
 * alone, up to 270 ms in a registry under load, a stop every heartbeat and bus message waits out.
 * Here the table is sharded and the order is a list through the entries themselves (two fields
 * each, as the deadline wheel's), which grows by one link at a time.
 *
 * A walk answers as a Map's does: an entry added meanwhile is visited, one deleted before the walk
 * reaches it is not; a key set again with another entry goes last, as if deleted and set. A
 * removed entry keeps its link forward, so a walk standing on it goes on from there; the last
 * entry, once removed, stays in the list until a successor comes, so a walk standing on it still
 * reaches what is added after. Unlike a Map, an entry has one place: one deleted and set again
 * while a walk stands on it goes last, and that walk ends there, missing those in between. The
 * registry does that only from the store's feed (a member renamed at another hub), never inside a
 * walk (walks run to their end in one turn).
 */
import { ShardedMap } from './sharded-map.js';

/**
 * The list's links, kept in each entry (the map's own bookkeeping). A removed entry is marked by
 * a link to itself: `older` once it is out of the list, `newer` while it stays as the last one.
 */
export interface OrderLinks<T> {
  older: T | null;
  newer: T | null;
}

export class OrderedShardedMap<V extends OrderLinks<V>> {
  readonly #byKey = new ShardedMap<V>();
  #first: V | null = null;
  #last: V | null = null;

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): V | undefined {
    return this.#byKey.get(key);
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /**
   * A new key goes last. So does a key set again with another entry (as after a delete): a walk
   * that passed the old entry must not meet the new one, and one that did not must. Returns the
   * entry the key had (the caller need not look it up first).
   */
  set(key: string, value: V): V | undefined {
    const known = this.#byKey.get(key);
    if (known === value) return known;
    if (known !== undefined) this.#remove(known);
    this.#append(value);
    this.#byKey.set(key, value);
    return known;
  }

  delete(key: string): boolean {
    const entry = this.#byKey.get(key);
    if (entry === undefined) return false;
    this.#byKey.delete(key);
    this.#remove(entry);
    return true;
  }

  *values(): IterableIterator<V> {
    for (let e = this.#first; e !== null; e = e.newer) {
      if (e.newer === e) return; // the last one, removed: nothing after it yet
      if (e.older !== e) yield e;
    }
  }

  #append(entry: V): void {
    const last = this.#last;
    if (last === entry) { // removed as the last one and back: it is last again
      entry.newer = null;
      return;
    }
    entry.older = last;
    entry.newer = null;
    if (last === null) this.#first = entry;
    else {
      const removed = last.newer === last;
      last.newer = entry;
      if (removed) this.#unlink(last); // it waited for this successor
    }
    this.#last = entry;
  }

  #remove(entry: V): void {
    if (entry === this.#last) entry.newer = entry; // stays until a successor comes
    else this.#unlink(entry);
  }

  /** Out of the list, marked; its link forward is kept for a walk standing on it. */
  #unlink(entry: V): void {
    const { older, newer } = entry;
    if (older === null) this.#first = newer;
    else older.newer = newer;
    if (newer === null) this.#last = older;
    else newer.older = older;
    entry.older = entry;
  }
}
