/**
 * A Map for keys that come and go all the time and that the owner does not number itself (a
 * call keyed by its peer's id, a client's chain of replies, a change in flight by member id),
 * replaced by a fresh copy every REFRESH_DELETES deletes.
 *
 * Why: V8 links each replaced table of a Map to the next, and once one of them is in the old
 * generation it keeps every later table, and their values, alive through young collections
 * (id-table.ts tells the whole story). A copy starts tables no old one leads to, so such a chain
 * holds at most one refresh's worth of entries. Ids the owner hands out go in an IdTable.
 */
const REFRESH_DELETES = 1024;

export class ChurnMap<K, V> {
  #map = new Map<K, V>();
  #deletes = 0;

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    this.#map.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.#map.delete(key)) return false;
    if (++this.#deletes >= REFRESH_DELETES) {
      this.#deletes = 0;
      this.#map = new Map(this.#map);
    }
    return true;
  }

  keys(): IterableIterator<K> {
    return this.#map.keys();
  }

  /**
   * Insertion order. A loop that deletes may cross a refresh: it then goes on over the copy it
   * started with, so an entry the loop deleted before reaching it is still visited (a Map would
   * skip it). The callers look each entry up again or delete only the one they are on.
   */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.#map.entries();
  }
}
