/**
 * Watch behaviour, the same on one hub and across a cluster: a watch from a `since` replays what
 * came after it in revision order, each event once, then goes on live; a client that lost its
 * connection resumes its watch with nothing missed or repeated; a `since` the log cannot serve
 * (older than it keeps, ahead of it, or from another history) answers COMPACTED with the revision
 * to re-list at, never stale or missing events.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MusterClientError, RegistryEvent } from '../../src/client/index.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { BEHAVIOUR_CONFIG, errorOf, type Behaviour } from './behaviour-topology.js';
import { collect } from './behaviour-registry.js';

const increasing = (events: readonly RegistryEvent[]): boolean => events.every((e, i) => i === 0 || e.revision > events[i - 1]!.revision);

export function watchBehaviour(b: Behaviour): void {
  describe(`watch behaviour - ${b.name}`, () => {
    test('a watch from a since replays every change after it, made at any hub, in order and once, then goes on live', async () => {
      const first = await b.peer(0);
      const start = await first.ok('watch', { filter: { prefix: 'ws-' } });
      assert.equal(typeof start.epoch, 'string');
      const c0 = await b.client(0);
      const r = await c0.register({ name: 'ws-a', type: 'svc', meta: { n: '1' } });
      await (await b.client(1)).register({ name: 'ws-b', type: 'svc' });
      await b.until('ws-a at hub 2', async () => (await b.http(2, 'GET', '/v1/members/ws-a')).status === 200);
      await b.http(2, 'PATCH', `/v1/members/${r.id}`, { meta: { n: '2' } }, r.token);
      const gone = (await b.http(1, 'POST', '/v1/members', { name: 'ws-c', type: 'svc' })).body;
      await b.http(2, 'DELETE', `/v1/members/${gone.id}`, undefined, gone.token);
      // The first watcher saw them live: the same five, in the same order.
      const live = await b.until('five live events', () => { const e = first.notifications.filter((n) => n.method === 'event').map((n) => n.params.event as RegistryEvent); return e.length >= 5 && e; });
      assert.deepEqual(live.map((e) => `${e.type}:${e.member.name}`), ['added:ws-a', 'added:ws-b', 'updated:ws-a', 'added:ws-c', 'removed:ws-c']);
      assert.ok(increasing(live));

      // Another client at another hub, from the first watch's revision and epoch: the same five, then live.
      const w = (await b.client(1)).watch({ prefix: 'ws-' }, { since: start.revision });
      const seen = collect(w);
      await b.until('five replayed', () => seen.length >= 5);
      assert.deepEqual(seen.slice(0, 5).map((e) => e.revision), live.map((e) => e.revision));
      await (await b.client(2)).register({ name: 'ws-d', type: 'svc' });
      await b.until('ws-d live', () => seen.some((e) => e.member.name === 'ws-d'));
      assert.ok(increasing(seen));
      assert.equal(new Set(seen.map((e) => e.revision)).size, seen.length, 'each once');

      const resumed = await b.peer(2);
      const again = await resumed.ok('watch', { filter: { prefix: 'ws-' }, since: live[1]!.revision, epoch: start.epoch });
      assert.equal(again.epoch, start.epoch, 'one history everywhere');
      const replay = await b.until('replay at hub 2', () => { const e = resumed.notifications.filter((n) => n.method === 'event'); return e.length >= 4 && e; });
      assert.deepEqual(replay.map((n) => n.params.event.member.name), ['ws-a', 'ws-c', 'ws-c', 'ws-d']);
    });

    test('a client that loses its connection resumes its watch: nothing missed, nothing repeated', async () => {
      const proxy = await TcpProxy.start(Number(new URL(b.hub(0).url).port));
      b.cleanup(() => proxy.close());
      // Slow to reconnect, so that the changes below are made while it is away.
      const c = await b.client(0, { url: proxy.url, reconnect: { initialDelayMs: 800, maxDelayMs: 1_000 } });
      const w = c.watch({ prefix: 'wr-' });
      await w.ready;
      const seen = collect(w);
      const other = await b.client(1);
      await other.register({ name: 'wr-0', type: 'svc' });
      await b.until('wr-0', () => seen.length === 1);
      const statuses: string[] = [];
      c.on('status', (s) => statuses.push(s.type));
      proxy.cut();
      await b.until('the client noticed', () => statuses.includes('disconnected') || statuses.includes('reconnecting'));
      for (let i = 1; i <= 3; i++) await (await b.client(i)).register({ name: `wr-${i}`, type: 'svc' });
      await b.until('every event after the reconnect', () => seen.length >= 4);
      await other.register({ name: 'wr-4', type: 'svc' });
      await b.until('wr-4 live', () => seen.length >= 5);
      assert.deepEqual(seen.map((e) => e.member.name), ['wr-0', 'wr-1', 'wr-2', 'wr-3', 'wr-4']);
      assert.ok(statuses.includes('reconnected'), statuses.join(' '));
      assert.ok(increasing(seen));
    });

    test('a since the log cannot serve answers COMPACTED with the revision to re-list at', async () => {
      const p = await b.peer(1);
      const { revision, epoch } = await p.ok('watch', {});
      const ahead = await p.call('watch', { since: revision + 1_000 });
      assert.equal(ahead.error?.data?.code, 'COMPACTED');
      assert.match(ahead.error!.message, /ahead of the log/);
      const other = await p.call('watch', { since: revision, epoch: 'another-history' });
      assert.equal(other.error?.data?.code, 'COMPACTED');
      assert.equal((other.error?.data?.details as { epoch: string }).epoch, epoch);

      // More events than the log keeps: a since before them is gone.
      const retention = BEHAVIOUR_CONFIG.eventRetention!;
      const needed = retention + 2 - revision;
      for (let i = 0; i < needed; i += 10) {
        await Promise.all(Array.from({ length: Math.min(10, needed - i) }, (_, k) => b.http(i + k, 'POST', '/v1/members', { name: `fill-${i + k}`, type: 'fill' })));
      }
      const c = await b.client(2);
      const now = await b.until('the log moved past its retention', async () => { const l = await c.list({ limit: 1 }); return l.revision > retention + 1 && l.revision; });
      const old = await p.call('watch', { since: 1 });
      assert.equal(old.error?.data?.code, 'COMPACTED');
      assert.match(old.error!.message, /older than the log keeps/);
      const details = old.error?.data?.details as { revision: number; oldest: number };
      assert.ok(details.revision > retention && details.oldest > 1, JSON.stringify(details));

      const w = c.watch({}, { since: 1 });
      const err = await errorOf(w.ready) as MusterClientError;
      assert.equal(err.code, 'COMPACTED');
      assert.ok(typeof err.details?.revision === 'number' && err.details.revision >= now);
      // Re-list at that revision, then watch from it: served.
      const list = await c.list({ type: 'fill' });
      const fromList = c.watch({ type: 'fill' }, { since: list.revision });
      assert.ok((await fromList.ready) >= list.revision);
    });
  });
}
