/**
 * IdTable (src/core/id-table.ts): open requests by increasing id, without a Map per request. The
 * last test is why it exists: a long-lived Map with one set and one delete per request keeps
 * the answered ones alive through young collections once its table is old (7 MB promoted per
 * 20,000 requests here); the table must not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdTable } from '../src/core/id-table.js';
import { oldGenerationGrowth } from './support/old-generation.js';

interface Req { readonly id: number; payload?: number[] }

test('adds, finds and deletes by id; unknown and stale ids find nothing', () => {
  const t = new IdTable<Req>();
  const a = { id: 1 };
  const b = { id: 2 };
  t.add(a);
  t.add(b);
  assert.equal(t.size, 2);
  assert.equal(t.get(1), a);
  assert.equal(t.get(2), b);
  assert.equal(t.get(3), undefined);
  assert.equal(t.get(1 + 16), undefined, 'an id on the same ring place is not the one held there');
  assert.equal(t.delete(a), true);
  assert.equal(t.delete(a), false, 'deleted twice');
  assert.equal(t.get(1), undefined);
  assert.equal(t.delete({ id: 2 }), false, 'another object with the id is not the one held');
  assert.equal(t.size, 1);
  assert.deepEqual([...t.values()], [b]);
});

test('a request open for more than a lap of the ring stays findable beside the newer ones', () => {
  const t = new IdTable<Req>();
  const slow = { id: 1 };
  t.add(slow);
  // Thousands of requests asked and answered while the first stays open: several laps of the ring.
  for (let id = 2; id < 5_000; id++) {
    const r = { id };
    t.add(r);
    assert.equal(t.get(id), r);
    assert.equal(t.delete(r), true);
  }
  assert.equal(t.get(1), slow);
  assert.equal(t.size, 1);
  assert.deepEqual([...t.values()], [slow]);
  assert.equal(t.delete(slow), true);
  assert.equal(t.size, 0);
});

test('many open at once: every one found, in and out of order', () => {
  const t = new IdTable<Req>();
  const open: Req[] = [];
  for (let id = 1; id <= 10_000; id++) {
    const r = { id: id * 3 };
    open.push(r);
    t.add(r);
  }
  assert.equal(t.size, 10_000);
  for (const r of open) assert.equal(t.get(r.id), r);
  for (let i = 0; i < open.length; i += 2) assert.equal(t.delete(open[i]!), true);
  assert.equal(t.size, 5_000);
  for (let i = 0; i < open.length; i++) assert.equal(t.get(open[i]!.id), i % 2 ? open[i] : undefined);
  assert.equal(new Set(t.values()).size, 5_000);
});

test('answered requests are not kept alive once the table is old (a Map keeps them)', () => {
  const t = new IdTable<Req>();
  let id = 1;
  const live: Req[] = [];
  for (let i = 0; i < 16; i++) {
    const r = { id: id++ };
    t.add(r);
    live.push(r);
  }
  const grown = oldGenerationGrowth(20_000, (i) => {
    const r = { id: id++, payload: new Array<number>(30).fill(i) };
    t.add(r);
    live.push(r);
    t.delete(live.shift()!);
  });
  // 20,000 answered requests of ~300 bytes: a Map promotes about 7 MB of them here.
  assert.ok(grown < 1024 * 1024, `the old generation grew by ${Math.round(grown / 1024)} KiB over 20,000 answered requests`);
});
