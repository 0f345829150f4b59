/**
 * ChurnMap (src/core/churn-map.ts): a Map for keys that come and go, refreshed by copying every
 * 1,024 deletes. It must behave as a Map across its refreshes, and not keep deleted entries alive
 * once it is old, as a plain Map does (about 7 MB promoted per 20,000 calls here).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChurnMap } from '../src/core/churn-map.js';
import { oldGenerationGrowth } from './support/old-generation.js';

test('behaves as a Map across its refreshes: entries kept, in insertion order, deletes counted once', () => {
  const m = new ChurnMap<string, number>();
  m.set('kept-a', 1).set('kept-b', 2);
  for (let i = 0; i < 5_000; i++) {
    m.set(`call-${i}`, i);
    assert.equal(m.get(`call-${i}`), i);
    assert.equal(m.delete(`call-${i}`), true);
    assert.equal(m.delete(`call-${i}`), false);
  }
  assert.equal(m.size, 2);
  assert.equal(m.has('kept-a'), true);
  assert.deepEqual([...m], [['kept-a', 1], ['kept-b', 2]]);
  assert.deepEqual([...m.keys()], ['kept-a', 'kept-b']);
  // Deleting while iterating, across a refresh, visits each entry once.
  for (let i = 0; i < 2_000; i++) m.set(`open-${i}`, i);
  const seen: string[] = [];
  for (const [k] of m) {
    seen.push(k);
    m.delete(k);
  }
  assert.equal(seen.length, 2_002);
  assert.equal(new Set(seen).size, 2_002);
  assert.equal(m.size, 0);
});

test('calls answered long ago are not kept alive once the map is old (a Map keeps them)', () => {
  const m = new ChurnMap<string, { payload: number[] }>();
  const live: string[] = [];
  for (let i = 0; i < 16; i++) {
    live.push(`setup-${i}`);
    m.set(`setup-${i}`, { payload: [] });
  }
  const grown = oldGenerationGrowth(20_000, (i) => {
    const key = `call-${i}`;
    m.set(key, { payload: new Array<number>(30).fill(i) });
    live.push(key);
    m.delete(live.shift()!);
  });
  assert.ok(grown < 2 * 1024 * 1024, `the old generation grew by ${Math.round(grown / 1024)} KiB over 20,000 answered calls`);
});
