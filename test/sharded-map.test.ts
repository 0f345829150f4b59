/**
 * ShardedMap (src/core/sharded-map.ts): the registry's and the store's tables with an entry per
 * member. It must answer as a Map does, count its entries exactly, and spread the keys the hub
 * uses (uuids, names, token hashes) over its tables, so that they grow at different times.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ShardedMap } from '../src/core/sharded-map.js';
import { hashToken, newToken } from '../src/core/tokens.js';

describe('ShardedMap', () => {
  test('answers get, has, set and delete as a Map, and counts each key once', () => {
    const m = new ShardedMap<number>();
    const ref = new Map<string, number>();
    const keys = ['', 'a', 'sensor', 'sensor-1', 'sensor-2', ...Array.from({ length: 500 }, (_, i) => `k-${i}`)];
    keys.forEach((k, i) => { m.set(k, i); ref.set(k, i); });
    m.set('sensor', 99); // again: replaced, not counted twice
    ref.set('sensor', 99);
    assert.equal(m.size, ref.size);
    for (const k of keys) assert.equal(m.get(k), ref.get(k));
    assert.equal(m.delete('sensor-1'), true);
    assert.equal(m.delete('sensor-1'), false);
    assert.equal(m.delete('never'), false);
    assert.equal(m.has('sensor-1'), false);
    assert.equal(m.get('sensor-1'), undefined);
    assert.equal(m.size, ref.size - 1);
  });

  test('spreads ids, names and token hashes over its tables (none holds more than twice its share)', () => {
    const kinds: Record<string, (i: number) => string> = {
      uuid: () => randomUUID(),
      'name-N': (i) => `sensor-${i}`,
      'bench name': (i) => `m3-${i}`,
      'token hash': () => hashToken(newToken()),
    };
    for (const [kind, key] of Object.entries(kinds)) {
      const m = new ShardedMap<true>();
      for (let i = 0; i < 16_000; i++) m.set(key(i), true);
      const sizes = m.shardSizes();
      assert.equal(sizes.length, 16);
      assert.ok(Math.max(...sizes) <= 2_000, `${kind}: tables of ${sizes.join(', ')}`);
    }
  });
});
