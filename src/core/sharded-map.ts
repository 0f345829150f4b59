/**
 * A Map of string keys split into 16 by a cheap hash of the key's last characters, for the
 * tables that hold an entry per member. V8 grows a Map by rehashing all of it at once, on the
 * event loop; the registry's and the store's tables all hold one entry per member, so they grew
 * on the same registration: near a million members, a hub taking registrations stopped for up
 * to 800 ms. Sixteen tables of a sixteenth each grow at different registrations, in a sixteenth of
 * the time. No iteration: where order matters (the registry's members by id), OrderedShardedMap.
 */
const SHARD_BITS = 4;
const SHARDS = 1 << SHARD_BITS;

export class ShardedMap<V> {
  readonly #shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map<string, V>());
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    return this.#shard(key).get(key);
  }

  has(key: string): boolean {
    return this.#shard(key).has(key);
  }

  set(key: string, value: V): this {
    const shard = this.#shard(key);
    const before = shard.size;
    shard.set(key, value);
    this.#size += shard.size - before;
    return this;
  }

  delete(key: string): boolean {
    if (!this.#shard(key).delete(key)) return false;
    this.#size--;
    return true;
  }

  /** Each table's size (how evenly the keys spread). */
  shardSizes(): number[] {
    return this.#shards.map((s) => s.size);
  }

  /**
   * Ids, names and token hashes differ most at their end: the last three characters, mixed by a
   * multiplicative hash whose top bits pick the table (a uuid's hex digits alone would not spread).
   */
  #shard(key: string): Map<string, V> {
    const n = key.length;
    const mix = (key.charCodeAt(n - 1) | 0) * 65_599 + (key.charCodeAt(n - 2) | 0) * 257 + (key.charCodeAt(n - 3) | 0) + n;
    return this.#shards[Math.imul(mix, 0x9e3779b1) >>> (32 - SHARD_BITS)]!;
  }
}
