/**
 * The store contract: what every store must do, run against each (memory, SQLite, Redis) by
 * test/store-contract.test.ts, the way one router suite runs against every router. A store
 * applies a change atomically after checking its conditions, hands out revisions in order,
 * feeds every applied change in revision order, and (durable stores) keeps it all across a reopen.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Applied, Change, Store, StoredMember } from '../../src/store/store.js';

export interface StoreFactory {
  name: string;
  /** A fresh, empty store. */
  create(): Promise<Store>;
  /** The same store opened again (after close), or null when it keeps nothing (with the reason). */
  reopen: ((store: Store) => Promise<Store>) | { skip: string };
  /** Events kept after a reopen when retention is `n` (the factory creates stores with retention 5). */
  retention: number;
}

const member = (id: string, name: string): StoredMember => ({
  id, name, type: 't', address: '', meta: {}, liveness: { kind: 'ttl', ttlMs: 1000 }, tokenHash: `h-${id}`, registeredAt: 1, extra: {},
});
const added = (name: string) => JSON.stringify({ type: 'added', name });
const put = (id: string, name: string, conditions?: Change['conditions']): Change => ({ puts: [{ member: member(id, name) }], deletes: [], events: [added(name)], conditions });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

export function runStoreContract(f: StoreFactory): void {
  describe(`store contract - ${f.name}`, () => {
    test('an empty store opens at revision 0 with an epoch', async () => {
      const s = await f.create();
      const snap = await s.open();
      assert.deepEqual(snap.members, []);
      assert.deepEqual(snap.events, []);
      assert.equal(snap.position.revision, 0);
      assert.ok(snap.position.epoch.length > 0);
      await s.close();
    });

    test('apply hands out increasing revisions, one per event, and feeds each change once, in order, before resolving', async () => {
      const s = await f.create();
      await s.open();
      const fed: Applied[] = [];
      s.feed((a) => fed.push(a));
      const results = await Promise.all(['a', 'b', 'c'].map((n, i) => s.apply(put(`id-${i}`, n))));
      assert.deepEqual(results.map((r) => r.events.map((e) => e.revision)), [[1], [2], [3]]);
      assert.deepEqual(fed.map((a) => a.events[0]!.revision), [1, 2, 3]);
      const two = await s.apply({ puts: [], deletes: ['id-0'], events: [added('x'), added('y')] });
      assert.deepEqual(two.events.map((e) => e.revision), [4, 5]);
      assert.equal(JSON.parse(two.events[1]!.json).revision, 5, 'the revision is in the JSON');
      assert.equal(JSON.parse(two.events[1]!.json).name, 'y', 'and the rest of the draft kept');
      assert.equal(fed.length, 4);
      await s.close();
    });

    test('a failed condition applies nothing and uses no revision', async () => {
      const s = await f.create();
      await s.open();
      await s.apply(put('a', 'taken', { namesFree: ['taken'] }));
      assert.equal(await codeOf(s.apply(put('b', 'taken', { namesFree: ['taken'] }))), 'NAME_TAKEN');
      assert.equal(await codeOf(s.apply({ puts: [], deletes: ['nobody'], events: [added('z')], conditions: { present: ['nobody'] } })), 'NO_SUCH_MEMBER');
      assert.equal(await codeOf(s.apply(put('c', 'third', { maxMembers: 1 }))), 'REGISTRY_FULL');
      assert.equal(await codeOf(s.apply(put('a', 'again', { absent: ['a'] }))), 'MEMBER_EXISTS');
      const next = await s.apply(put('d', 'fourth'));
      assert.equal(next.events[0]!.revision, 2, 'refused changes took no revision');
      assert.equal((await s.apply(put('e', 'fifth', { absent: ['e'] }))).events[0]!.revision, 3, 'a member not there yet may be made');
      await s.close();
    });

    test('a name freed by the same change may be taken in it (evict and add in one commit)', async () => {
      const s = await f.create();
      await s.open();
      await s.apply(put('old', 'cam'));
      const r = await s.apply({ puts: [{ member: member('new', 'cam') }], deletes: ['old'], events: [added('cam')], conditions: { namesFree: ['cam'], maxMembers: 1 } });
      assert.equal(r.events.length, 1);
      await s.close();
    });

    test('concurrent registrations of one name: exactly one wins', async () => {
      const s = await f.create();
      await s.open();
      const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => codeOf(s.apply(put(`r${i}`, 'race', { namesFree: ['race'] })))));
      assert.equal(codes.filter((c) => c === undefined).length, 1);
      assert.ok(codes.every((c) => c === undefined || c === 'NAME_TAKEN'));
      await s.close();
    });

    test('changes sent together build on each other in order: the cap counts the ones before, a member just added can be changed and removed', async () => {
      const s = await f.create();
      await s.open();
      const cap = { maxMembers: 2 };
      const codes = await Promise.all([
        codeOf(s.apply(put('t1', 'one', { namesFree: ['one'], ...cap }))),
        codeOf(s.apply(put('t2', 'two', { namesFree: ['two'], ...cap }))),
        codeOf(s.apply(put('t3', 'three', cap))),
        codeOf(s.apply({ puts: [{ member: { ...member('t1', 'one'), address: 'here' }, fields: ['address'] }], deletes: [], events: [added('one')], conditions: { present: ['t1'] } })),
        codeOf(s.apply({ puts: [], deletes: ['t2'], events: [added('gone')], conditions: { present: ['t2'] } })),
        codeOf(s.apply(put('t4', 'two', { namesFree: ['two'], ...cap }))),
      ]);
      assert.deepEqual(codes, [undefined, undefined, 'REGISTRY_FULL', undefined, undefined, undefined]);
      if (typeof f.reopen === 'function') {
        await s.close();
        const again = await f.reopen(s);
        const snap = await again.open();
        assert.deepEqual(snap.members.map((m) => [m.id, m.name, m.address]).sort(), [['t1', 'one', 'here'], ['t4', 'two', '']]);
        assert.equal(snap.position.revision, 5);
        assert.equal(await codeOf(again.apply(put('t5', 'five', cap))), 'REGISTRY_FULL', 'the cap counts what is there after the reopen');
        await again.close();
      } else {
        await s.close();
      }
    });

    test('an event that changes no member (an admin action) takes the next revision, is fed, and is kept', async () => {
      const s = await f.create();
      await s.open();
      const fed: Applied[] = [];
      s.feed((a) => fed.push(a));
      await s.apply(put('m1', 'stays'));
      const audit = JSON.stringify({ type: 'admin', action: 'log-level', by: 'admin', detail: { from: 'info', to: 'debug' } });
      const r = await s.apply({ puts: [], deletes: [], events: [audit] });
      assert.deepEqual(r.events.map((e) => e.revision), [2]);
      assert.deepEqual(JSON.parse(r.events[0]!.json), { revision: 2, ...JSON.parse(audit) });
      assert.equal(fed.at(-1)!.events[0]!.json, r.events[0]!.json, 'fed like any change');
      assert.equal((await s.apply(put('m2', 'next'))).events[0]!.revision, 3);
      if (typeof f.reopen === 'function') {
        await s.close();
        const again = await f.reopen(s);
        const snap = await again.open();
        assert.deepEqual(snap.members.map((m) => m.name).sort(), ['next', 'stays'], 'no member changed');
        assert.equal(snap.events.find((e) => e.revision === 2)?.json, r.events[0]!.json, 'kept across a reopen');
        await again.close();
      } else {
        await s.close();
      }
    });

    const reopen = f.reopen;
    test('what was applied is there after a reopen: members, revision, epoch, the last events', { skip: typeof reopen === 'function' ? false : reopen.skip }, async () => {
      if (typeof reopen !== 'function') return;
      const s = await f.create();
      const first = await s.open();
      for (let i = 0; i < 8; i++) await s.apply(put(`k${i}`, `keep-${i}`));
      await s.apply({ puts: [{ member: { ...member('k1', 'keep-1'), address: 'moved' }, fields: ['address'] }], deletes: ['k0'], events: [added('u')] });
      await s.close();
      const again = await reopen(s);
      const snap = await again.open();
      assert.equal(snap.position.revision, 9);
      assert.equal(snap.position.epoch, first.position.epoch);
      assert.deepEqual(snap.members.map((m) => m.id).sort(), ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
      assert.equal(snap.members.find((m) => m.id === 'k1')!.address, 'moved');
      assert.deepEqual(snap.events.map((e) => e.revision), [5, 6, 7, 8, 9].slice(-f.retention));
      assert.equal(await codeOf(again.apply(put('x', 'keep-3', { namesFree: ['keep-3'] }))), 'NAME_TAKEN', 'conditions know what was kept');
      assert.equal((await again.apply(put('y', 'new'))).events[0]!.revision, 10);
      // Changes to members loaded at open reach their kept records: a whole record written again,
      // a removal (an embedded store must find the rows it loaded, or a removed member comes back).
      await again.apply({ puts: [{ member: { ...member('k2', 'keep-2'), address: 'again' } }], deletes: ['k3'], events: [added('w')] });
      await again.close();
      const third = await reopen(again);
      const last = await third.open();
      assert.deepEqual(last.members.map((m) => m.id).sort(), ['k1', 'k2', 'k4', 'k5', 'k6', 'k7', 'y']);
      assert.deepEqual(last.members.filter((m) => m.id === 'k2').map((m) => m.address), ['again'], 'one record of k2, the one written last');
      await third.close();
    });
  });
}
