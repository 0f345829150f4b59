/**
 * Registry behaviour, the same on one hub and across the hubs of a cluster: registration and
 * names (the suffix rule, exclusive), lookups and filtered lists, unregistering, ttl heartbeats and
 * expiry, session members and their grace, and the events each change makes. In a cluster the
 * client that registers, the one that changes, and the watcher sit on different hubs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MemberView, RegistryEvent, Watch } from '../../src/client/index.js';
import { codeOf, type Behaviour } from './behaviour-topology.js';

/** Reads a watch into an array as events come (the test reads the array). */
export function collect(w: Watch): RegistryEvent[] {
  const seen: RegistryEvent[] = [];
  void (async () => { try { for await (const e of w) seen.push(e); } catch { /* the test asserts what it needs */ } })();
  return seen;
}

export function registryBehaviour(b: Behaviour): void {
  const view = async (i: number, name: string): Promise<MemberView | undefined> => {
    const r = await b.http(i, 'GET', `/v1/members/${encodeURIComponent(name)}`);
    return r.status === 200 ? (r.body as MemberView) : undefined;
  };

  describe(`registry behaviour - ${b.name}`, () => {
    test('register answers id, name and token; every hub gets the member by name and by id, with the hub that holds it', async () => {
      const c = await b.client(0);
      const r = await c.register({ name: 'reg-one', type: 'svc', meta: { room: '1' } });
      assert.equal(r.name, 'reg-one');
      assert.equal(typeof r.id, 'string');
      assert.equal(typeof r.token, 'string');
      for (let i = 0; i < b.hubs.length; i++) {
        const v = await b.until(`reg-one at hub ${i}`, () => view(i, 'reg-one'));
        assert.deepEqual([v.id, v.type, v.status, v.hub, v.meta], [r.id, 'svc', 'alive', b.hub(0).id, { room: '1' }]);
        assert.equal((await view(i, r.id))?.name, 'reg-one', 'by id too');
      }
      assert.equal((await b.http(b.hubs.length - 1, 'GET', '/v1/members/nobody-at-all')).body.error.code, 'NO_SUCH_MEMBER');
    });

    test('a taken name gets the next free suffix at any hub; exclusive answers NAME_TAKEN', async () => {
      const names: string[] = [];
      for (let i = 0; i < 3; i++) names.push((await (await b.client(i)).register({ name: 'dup', type: 'svc' })).name);
      assert.deepEqual(names, ['dup', 'dup-1', 'dup-2']);
      const c = await b.client(2);
      const refused = c.register({ name: 'dup', type: 'svc', exclusive: true });
      assert.equal(await codeOf(refused), 'NAME_TAKEN');
      const http = await b.http(1, 'POST', '/v1/members', { name: 'dup-1', type: 'svc', exclusive: true });
      assert.deepEqual([http.status, http.body.error.code], [409, 'NAME_TAKEN']);
    });

    test('twelve registrations of one name at once, spread over the hubs: twelve names, the name itself once', async () => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => b.http(i, 'POST', '/v1/members', { name: 'crowd', type: 'svc' })));
      assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.find((r) => r.status !== 201)?.body));
      const names = results.map((r) => r.body.name as string);
      assert.equal(new Set(names).size, 12);
      assert.ok(names.includes('crowd'));
      assert.ok(names.every((n) => /^crowd(-\d+)?$/.test(n)), names.join(' '));
    });

    test('get, list and filters (type, meta, prefix, status) answer the same at every hub', async () => {
      await (await b.client(0)).register({ name: 'ls-a', type: 'ls-cam', meta: { site: 'north' } });
      await (await b.client(1)).register({ name: 'ls-b', type: 'ls-cam', meta: { site: 'south' } });
      await (await b.client(2)).register({ name: 'ls-c', type: 'ls-light', meta: { site: 'north' } });
      for (let i = 0; i < b.hubs.length; i++) {
        const c = await b.client(i);
        const all = await b.until(`three ls- members at hub ${i}`, async () => { const l = await c.list({ prefix: 'ls-' }); return l.members.length === 3 && l; });
        assert.deepEqual(all.members.map((m) => [m.name, m.hub]), [['ls-a', b.hub(0).id], ['ls-b', b.hub(1).id], ['ls-c', b.hub(2).id]]);
        assert.ok(all.revision > 0);
        assert.deepEqual((await c.list({ type: 'ls-cam' })).members.map((m) => m.name), ['ls-a', 'ls-b']);
        assert.deepEqual((await c.list({ prefix: 'ls-', meta: { site: 'north' } })).members.map((m) => m.name), ['ls-a', 'ls-c']);
        assert.deepEqual((await c.list({ prefix: 'ls-', status: 'alive', limit: 1 })).members.map((m) => m.name), ['ls-a']);
        const http = await b.http(i, 'GET', '/v1/members?type=ls-light');
        assert.deepEqual(http.body.members.map((m: MemberView) => m.name), ['ls-c']);
        assert.equal((await c.get('ls-b')).meta.site, 'south');
      }
    });

    test('unregister needs the member token (or the admin token); watchers everywhere see it removed once', async () => {
      const reg = (await b.http(0, 'POST', '/v1/members', { name: 'unreg', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } })).body;
      const watcher = await b.client(2);
      const w = watcher.watch({ name: 'unreg' });
      await w.ready;
      const seen = collect(w);
      await b.until('unreg known at hub 1', () => b.http(1, 'GET', '/v1/members/unreg').then((r) => r.status === 200));
      const anon = await b.http(1, 'DELETE', `/v1/members/${reg.id}`);
      assert.deepEqual([anon.status, anon.body.error.code], [401, 'UNAUTHORIZED']);
      const wrong = await b.http(1, 'DELETE', `/v1/members/${reg.id}`, undefined, 'not-its-token');
      assert.equal(wrong.status, 401);
      const ok = await b.http(1, 'DELETE', `/v1/members/${reg.id}`, undefined, reg.token);
      assert.ok(ok.status >= 200 && ok.status < 300, JSON.stringify(ok.body));
      const removed = await b.until('removed at the watcher', () => seen.find((e) => e.type === 'removed'));
      assert.equal(removed.type === 'removed' && removed.reason, 'unregistered');
      for (let i = 0; i < b.hubs.length; i++) await b.until(`gone at hub ${i}`, async () => (await b.http(i, 'GET', '/v1/members/unreg')).status === 404);
      // A later event for another member shows nothing more came for this one.
      await (await b.client(0)).register({ name: 'unreg-after', type: 'svc' });
      const w2 = watcher.watch({ prefix: 'unreg' }, { since: removed.revision - 1 });
      const again = collect(w2);
      await b.until('replayed through unreg-after', () => again.some((e) => e.member.name === 'unreg-after'));
      assert.equal(again.filter((e) => e.member.name === 'unreg').length, 1, 'removed once');
      assert.equal(seen.filter((e) => e.type === 'removed').length, 1);
    });

    test('heartbeats at another hub keep a ttl member alive; when they stop it expires, once, with an event', async () => {
      const reg = (await b.http(0, 'POST', '/v1/members', { name: 'beat', type: 'svc', liveness: { kind: 'ttl', ttlMs: 600 } })).body;
      const watcher = await b.client(2);
      const w = watcher.watch({ name: 'beat' });
      await w.ready;
      const seen = collect(w);
      const started = Date.now();
      while (Date.now() - started < 1_800) {
        const r = await b.http(1, 'PUT', `/v1/members/${reg.id}/heartbeat`, undefined, reg.token);
        assert.equal(r.status, 200, 'alive, heartbeats at hub 1');
        await new Promise((res) => setTimeout(res, 150));
      }
      assert.equal(seen.filter((e) => e.type === 'removed').length, 0, 'alive past three ttls');
      const stopped = Date.now();
      const removed = await b.until('expired', () => seen.find((e) => e.type === 'removed'));
      assert.equal(removed.type === 'removed' && removed.reason, 'expired');
      assert.ok(removed.at - stopped >= 400, `expired ${removed.at - stopped} ms after the last heartbeat`);
      const refused = await b.http(1, 'PUT', `/v1/members/${reg.id}/heartbeat`, undefined, reg.token);
      assert.deepEqual([refused.status, refused.body.error.code], [404, 'NO_SUCH_MEMBER']);
      await (await b.client(0)).register({ name: 'beat-after', type: 'svc' });
      const all = collect(watcher.watch({ prefix: 'beat' }, { since: removed.revision - 1 }));
      await b.until('replayed through beat-after', () => all.some((e) => e.member.name === 'beat-after'));
      assert.equal(all.filter((e) => e.type === 'removed' && e.member.name === 'beat').length, 1, 'expired once');
    });

    test('an update of meta made at another hub is an updated event everywhere', async () => {
      const owner = await b.client(0);
      const reg = await owner.register({ name: 'meta-m', type: 'svc', meta: { v: '1' } });
      const w = (await b.client(2)).watch({ name: 'meta-m', types: ['updated'] });
      await w.ready;
      const seen = collect(w);
      await b.until('meta-m at hub 1', () => view(1, 'meta-m'));
      const r = await b.http(1, 'PATCH', `/v1/members/${reg.id}`, { meta: { v: '2', extra: 'yes' } }, reg.token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.meta, { v: '2', extra: 'yes' });
      const e = await b.until('updated at the watcher', () => seen.find((x) => x.member.meta.v === '2'));
      assert.deepEqual(e.member.meta, { v: '2', extra: 'yes' });
      await b.until('hub 0 sees the new meta', async () => (await view(0, 'meta-m'))?.meta.v === '2');
      await owner.update(reg.id, { address: 'tcp://10.0.0.1:1' });
      const moved = await b.until('address update', () => seen.find((x) => x.member.address === 'tcp://10.0.0.1:1'));
      assert.deepEqual(moved.member.meta, { v: '2', extra: 'yes' }, 'one field changed, the other kept');
    });

    test('a session member whose client goes turns suspect, then is removed after its grace (session-lost)', async () => {
      const own = await b.client(1, { reconnect: false });
      const reg = await own.register({ name: 'sess', type: 'svc', liveness: { kind: 'session', graceMs: 700 } });
      const w = (await b.client(0)).watch({ name: 'sess' });
      await w.ready;
      const seen = collect(w);
      await b.until('sess at hub 0', () => view(0, 'sess'));
      const closedAt = Date.now();
      await own.close();
      const suspect = await b.until('suspect', () => seen.find((e) => e.type === 'updated' && e.member.status === 'suspect'));
      assert.equal(suspect.member.id, reg.id);
      const removed = await b.until('removed', () => seen.find((e) => e.type === 'removed'));
      assert.equal(removed.type === 'removed' && removed.reason, 'session-lost');
      assert.ok(removed.at - closedAt >= 600, `removed ${removed.at - closedAt} ms after the close`);
      assert.ok(removed.revision > suspect.revision);
    });
  });
}
