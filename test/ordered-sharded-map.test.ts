/**
 * OrderedShardedMap (src/core/ordered-sharded-map.ts): the registry's members by id. It must
 * answer as a Map does, walk its entries in the order they came, and keep a Map's word while a
 * walk is under way: entries added meanwhile are visited, entries deleted before the walk reaches
 * them are not, whatever the walk stands on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OrderedShardedMap, type OrderLinks } from '../src/core/ordered-sharded-map.js';

interface Entry extends OrderLinks<Entry> { v: string | number }
const entry = (v: string | number): Entry => ({ v, older: null, newer: null });
const seen = (walk: Iterable<Entry>) => [...walk].map((e) => e.v);

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

function sameAsMap(m: OrderedShardedMap<Entry>, ref: Map<string, Entry>, keys: readonly string[]): void {
  assert.equal(m.size, ref.size);
  assert.deepEqual(seen(m.values()), seen(ref.values()));
  for (const k of keys) {
    assert.equal(m.get(k), ref.get(k), `get ${k}`);
    assert.equal(m.has(k), ref.has(k), `has ${k}`);
  }
}

describe('OrderedShardedMap', () => {
  test('keeps the order entries came in; a key set again (with another entry, or after a delete) goes last', () => {
    const m = new OrderedShardedMap<Entry>();
    for (const k of ['a', 'b', 'c', 'd']) m.set(k, entry(k));
    const old = m.get('b');
    assert.equal(m.set('b', entry('B')), old, 'set answers the entry the key had');
    assert.deepEqual(seen(m.values()), ['a', 'c', 'd', 'B']);
    m.set('c', m.get('c')!); // the same entry again: it stays where it is
    assert.deepEqual(seen(m.values()), ['a', 'c', 'd', 'B']);
    assert.equal(m.delete('a'), true);
    assert.equal(m.delete('a'), false);
    m.set('a', entry('A'));
    assert.equal(m.delete('d'), true); // the last one
    assert.deepEqual(seen(m.values()), ['c', 'B', 'A']);
    m.set('e', entry('e'));
    assert.deepEqual(seen(m.values()), ['c', 'B', 'A', 'e']);
    for (const k of ['b', 'c', 'a', 'e']) m.delete(k);
    assert.equal(m.size, 0);
    assert.deepEqual(seen(m.values()), []);
    m.set('f', entry('f'));
    assert.deepEqual(seen(m.values()), ['f']);
  });

  test('an entry deleted and set again (a member renamed in a cluster) goes last, once', () => {
    const m = new OrderedShardedMap<Entry>();
    const [a, b, c] = [entry('a'), entry('b'), entry('c')];
    for (const [k, e] of [['a', a], ['b', b], ['c', c]] as const) assert.equal(m.set(k, e), undefined, 'a new key had no entry');
    m.delete('a');
    m.set('a', a);
    assert.deepEqual(seen(m.values()), ['b', 'c', 'a']);
    m.delete('a'); // the last one now
    m.set('a', a);
    assert.deepEqual(seen(m.values()), ['b', 'c', 'a']);
    m.delete('b');
    m.set('b', b);
    assert.deepEqual(seen(m.values()), ['c', 'a', 'b']);
  });

  test('a walk standing on the last entry, deleted, goes on to entries added after it', () => {
    const m = new OrderedShardedMap<Entry>();
    for (const k of ['a', 'b']) m.set(k, entry(k));
    const walk = m.values();
    assert.equal(walk.next().value?.v, 'a');
    assert.equal(walk.next().value?.v, 'b');
    m.delete('b');
    m.delete('a');
    m.set('c', entry('c'));
    m.set('b', entry('b2'));
    assert.equal(walk.next().value?.v, 'c');
    m.delete('c');
    assert.equal(walk.next().value?.v, 'b2');
    assert.equal(walk.next().done, true);
    assert.deepEqual(seen(m.values()), ['b2']);
  });

  test('answers as a Map through thousands of random sets and deletes', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const m = new OrderedShardedMap<Entry>();
      const ref = new Map<string, Entry>();
      const keys = Array.from({ length: 60 }, (_, i) => `k-${i}`);
      for (let op = 0; op < 5_000; op++) {
        const k = keys[Math.floor(next() * keys.length)]!;
        if (next() < 0.45) {
          assert.equal(m.delete(k), ref.delete(k));
        } else {
          const e = entry(op);
          m.set(k, e);
          ref.delete(k); // set again, it goes last
          ref.set(k, e);
        }
        if (op % 97 === 0) sameAsMap(m, ref, keys);
      }
      sameAsMap(m, ref, keys);
    }
  });

  test('a walk under way sees what a Map walk sees while entries are set and deleted around it', () => {
    for (let seed = 7; seed < 40; seed++) {
      const next = random(seed);
      const m = new OrderedShardedMap<Entry>();
      const ref = new Map<string, Entry>();
      const keys = Array.from({ length: 24 }, (_, i) => `k-${i}`);
      for (let i = 0; i < 12; i++) { const e = entry(i); m.set(keys[i]!, e); ref.set(keys[i]!, e); }
      const walk = m.values();
      const refWalk = ref.values();
      // Each step: a few changes (often to the entry just visited, or the last one), then both walks move on.
      for (let step = 0; step < 400; step++) {
        const a = walk.next();
        const b = refWalk.next();
        assert.equal(a.done, b.done, `seed ${seed}, step ${step}`);
        if (b.done) break;
        assert.equal(a.value, b.value, `seed ${seed}, step ${step}`);
        const current: Entry = b.value;
        for (let c = Math.floor(next() * 4); c > 0; c--) {
          const r = next();
          const visited: string | undefined = keys.find((key) => ref.get(key) === current);
          const last: string | undefined = [...ref.keys()].at(-1);
          const k: string = r < 0.3 && visited ? visited : r < 0.5 && last ? last : keys[Math.floor(next() * keys.length)]!;
          if (next() < 0.5) assert.equal(m.delete(k), ref.delete(k));
          else { const e = entry(1_000 + step * 10 + c); m.set(k, e); ref.delete(k); ref.set(k, e); }
        }
      }
      sameAsMap(m, ref, keys);
    }
  });
});
