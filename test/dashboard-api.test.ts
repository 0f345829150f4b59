/**
 * What the dashboard asks of the hub, over the real API: lists filtered, searched, sorted and
 * paged with a total; the face a member came through; subscribers per scope; the hub's counters
 * over time; members summed up; the page itself served at `/`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { firstInOrder } from '../src/core/registry/list-order.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
before(async () => { h = await startHub(); });
after(async () => { await h.stop(); });

async function get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(h.url + path);
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text, headers: res.headers };
}

const names = (r: { body: { members: { name: string }[] } }) => r.body.members.map((m) => m.name);

describe('dashboard api - member lists', () => {
  before(async () => {
    for (let i = 0; i < 12; i++) {
      await h.hub.registry.register({ name: `node-${String(i).padStart(2, '0')}`, type: i % 3 === 0 ? 'camera' : 'sensor', meta: { rack: i < 6 ? 'a' : 'b' } });
    }
    await h.hub.registry.register({ name: 'Other-Thing', type: 'sensor' });
  });

  test('a list says how many members match, whatever the page, and pages by offset', async () => {
    const first = await get('/v1/members?type=sensor&limit=3');
    assert.equal(first.body.total, 9);
    assert.deepEqual(names(first), ['Other-Thing', 'node-01', 'node-02']);
    assert.equal(first.body.next, 'node-02', 'the name cursor still works in name order');
    const third = await get('/v1/members?type=sensor&limit=3&offset=6');
    assert.deepEqual(names(third), ['node-08', 'node-10', 'node-11']);
    assert.equal(third.body.total, 9);
    assert.equal(third.body.next, null);
    const past = await get('/v1/members?type=sensor&limit=3&offset=30');
    assert.deepEqual(names(past), []);
    assert.equal(past.body.total, 9);
  });

  test('a list sorts by a column, either way; ties go by name', async () => {
    const byType = await get('/v1/members?prefix=node-&sort=type&limit=5');
    assert.deepEqual(names(byType), ['node-00', 'node-03', 'node-06', 'node-09', 'node-01']);
    const desc = await get('/v1/members?prefix=node-&sort=name&order=desc&limit=2');
    assert.deepEqual(names(desc), ['node-11', 'node-10']);
    assert.equal(desc.body.next, null, 'no name cursor outside ascending name order');
    const refused = await get('/v1/members?sort=colour');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'INVALID_PARAMS');
  });

  test('search finds a part of the name in any case; filters combine with meta', async () => {
    assert.deepEqual(names(await get('/v1/members?search=THING')), ['Other-Thing']);
    const r = await get('/v1/members?search=node&meta.rack=b&type=camera');
    assert.deepEqual(names(r), ['node-06', 'node-09']);
    assert.equal(r.body.total, 2);
  });

  test('role lists only components; a WebSocket member shows the face it came through', async () => {
    const peer = await RpcPeer.connect(h.wsUrl);
    try {
      await peer.ok('register', { name: 'worker-ws', type: 'worker', roles: ['component'], liveness: 'session' });
      const r = await get('/v1/members?role=component');
      assert.deepEqual(names(r), ['worker-ws']);
      assert.equal(r.body.members[0].face, 'native');
      assert.equal(r.body.members[0].lifecycle.state, 'starting');
      const http = await get('/v1/members/node-00');
      assert.equal(http.body.face, undefined, 'registered over HTTP: no connection, no face');
    } finally {
      await peer.close();
    }
    for (let i = 0; i < 100 && h.hub.registry.get('worker-ws').status !== 'suspect'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await get('/v1/members/worker-ws')).body.face, 'native', 'the face is kept once the connection closed');
  });
});

describe('dashboard api - list order', () => {
  test('a page taken from one pass is the page a full sort gives, at any offset and order', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 50; round++) {
      const items = Array.from({ length: 1 + Math.floor(random() * 400) }, () => Math.floor(random() * 100));
      const k = Math.floor(random() * 60);
      const desc = random() < 0.5;
      const compare = (a: number, b: number) => (desc ? b - a : a - b);
      assert.deepEqual(firstInOrder(items, k, compare), items.slice().sort(compare).slice(0, k));
    }
  });
});

describe('dashboard api - statistics', () => {
  test('bus.stats counts subscribers per scope, and forgets a scope when its last subscriber leaves', async () => {
    const a = await RpcPeer.connect(`${h.wsUrl}?token=${ADMIN_TOKEN}`);
    const b = await RpcPeer.connect(`${h.wsUrl}?token=${ADMIN_TOKEN}`);
    try {
      await a.ok('bus.subscribe', { scope: '/plant/' });
      await b.ok('bus.subscribe', { scope: '/plant' });
      await b.ok('bus.subscribe', { scope: '/plant/a/' });
      let stats = (await get('/v1/bus/stats')).body;
      assert.equal(stats.subscribers['/plant/'], 2);
      assert.equal(stats.subscribers['/plant/a/'], 1);
      await b.close();
      for (let i = 0; i < 100 && (await get('/v1/bus/stats')).body.subscribers['/plant/a/'] !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      stats = (await get('/v1/bus/stats')).body;
      assert.deepEqual(stats.subscribers, { '/plant/': 1 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('stats.history holds one sample a second of the counters; since= gives only newer ones', async () => {
    const before = (await get('/v1/stats/history')).body;
    assert.equal(before.intervalMs, 1000);
    assert.equal(before.keep, 900);
    assert.ok(before.times.length >= 1);
    assert.equal(before.series.members.length, before.times.length);
    const last = before.times.at(-1);
    await h.hub.registry.register({ name: 'counted', type: 'sensor' });
    h.hub.stats.sample();
    const after = (await get(`/v1/stats/history?since=${last}`)).body;
    assert.ok(after.times.every((t: number) => t > last), 'only samples after since');
    assert.ok(after.times.length >= 1);
    const total = h.hub.registry.size;
    assert.equal(after.series.members.at(-1), total);
    assert.ok(after.series.events.at(-1) > before.series.events.at(-1), 'the event counter moved');
    assert.ok(after.series.registrations.at(-1) > before.series.registrations.at(-1));
    const refused = await get('/v1/stats/history?since=yesterday');
    assert.equal(refused.status, 400);
  });

  test('the history is a bounded ring: the oldest samples make way', () => {
    for (let i = 0; i < 905; i++) h.hub.stats.sample();
    const all = h.hub.stats.since();
    assert.equal(all.times.length, 900);
    assert.ok(all.times.every((t, i) => i === 0 || t >= all.times[i - 1]!), 'oldest first');
  });

  test('stats.members counts members by status, type, lifecycle state and face', async () => {
    const s = (await get('/v1/stats/members')).body;
    assert.equal(s.total, h.hub.registry.size);
    assert.equal(s.byType.sensor, 10);
    assert.equal(s.byType.camera, 4);
    assert.equal(s.byState.starting, 1);
    assert.equal(s.byFace.native, 1);
    assert.equal(s.byStatus.alive + s.byStatus.suspect + s.byStatus.gone, s.total);
  });
});
