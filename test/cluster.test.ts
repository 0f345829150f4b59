/**
 * Cluster mode with three real hub processes and a real redis-server the test starts on a free
 * port with its own data folder: one namespace, one history, liveness across hubs, one bus,
 * lifecycle control across hubs, and a hub killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type MusterClient, type RegistryEvent } from '../src/client/index.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

let redis: TestRedis;
let hubs: HubProcess[];
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: () => Promise<T | undefined | false> | T | undefined | false, label: string, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${label}`);
    await sleep(25);
  }
}

const hubArgs = (id: string) => ['--cluster', redis.url, '--hub-id', id, '--data', tempDir()];
async function api(h: HubProcess, method: string, path: string, body?: unknown, headers: Record<string, string> = json): Promise<{ status: number; body: any }> {
  const r = await fetch(h.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}
const names = async (h: HubProcess) => ((await api(h, 'GET', '/v1/members?limit=1000')).body.members as { name: string; hub: string }[]);

before(async () => {
  redis = await startRedis();
  hubs = [];
  for (const id of ['a', 'b', 'c']) hubs.push(await spawnHub(hubArgs(id), { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_GRACE_MS: '1000' }));
});
after(async () => {
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

describe('cluster - one namespace', () => {
  test('3 hubs x 50 clients racing for 20 names: every registration gets a name, never one twice', async () => {
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => api(hubs[i % 3]!, 'POST', '/v1/members', { type: 'racer', name: `race-${i % 20}` })));
    assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.find((r) => r.status !== 201)));
    const taken = results.map((r) => r.body.name as string);
    assert.equal(new Set(taken).size, 150, 'no name twice');
    for (let b = 0; b < 20; b++) assert.ok(taken.includes(`race-${b}`), `race-${b} itself was given`);
    for (const h of hubs) {
      const listed = await until(async () => { const l = (await names(h)).filter((m) => m.name.startsWith('race-')); return l.length === 150 && l; }, 'every hub lists all 150');
      assert.equal(new Set(listed.map((m) => m.name)).size, 150);
    }
  });

  test('exclusive: of 150 registrations for 20 names across 3 hubs, exactly 20 win', async () => {
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => api(hubs[i % 3]!, 'POST', '/v1/members', { type: 'racer', name: `excl-${i % 20}`, exclusive: true })));
    assert.equal(results.filter((r) => r.status === 201).length, 20);
    assert.ok(results.filter((r) => r.status !== 201).every((r) => r.body.error.code === 'NAME_TAKEN'));
  });

  test('muster ls on any hub lists every member with the hub it is attached to', async () => {
    await api(hubs[0]!, 'POST', '/v1/members', { type: 'svc', name: 'on-a' });
    await api(hubs[1]!, 'POST', '/v1/members', { type: 'svc', name: 'on-b' });
    for (const h of hubs) {
      const listed = await until(async () => { const l = await names(h); return l.some((m) => m.name === 'on-b') && l; }, 'on-b listed');
      assert.equal(listed.find((m) => m.name === 'on-a')!.hub, 'a');
      assert.equal(listed.find((m) => m.name === 'on-b')!.hub, 'b');
    }
    const info = (await api(hubs[2]!, 'GET', '/v1/info')).body;
    assert.deepEqual(info.cluster.hubs.map((h: { hubId: string }) => h.hubId).sort(), ['a', 'b', 'c']);
    assert.equal(info.store, 'redis');
  });
});

describe('cluster - one history', () => {
  test('a watch on hub a sees changes made on b and c, in revision order, each once', async () => {
    const peer = await RpcPeer.connect(hubs[0]!.wsUrl);
    try {
      await peer.ok('watch', { filter: { prefix: 'hist-' } });
      for (let i = 0; i < 10; i++) await api(hubs[1 + (i % 2)]!, 'POST', '/v1/members', { type: 'h', name: `hist-${i}` });
      const events = await until(() => { const e = peer.notifications.filter((n) => n.method === 'event').map((n) => n.params.event as RegistryEvent); return e.length >= 10 && e; }, 'ten events');
      const revisions = events.map((e) => e.revision);
      assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
      assert.equal(new Set(revisions).size, revisions.length);
      assert.deepEqual(events.map((e) => e.member.name), Array.from({ length: 10 }, (_, i) => `hist-${i}`));
    } finally {
      await peer.close();
    }
  });

  test('a watch resumed on another hub from its revision and epoch misses nothing and repeats nothing', async () => {
    const onA = await RpcPeer.connect(hubs[0]!.wsUrl);
    const first = await onA.ok('watch', { filter: { prefix: 'resume-' } });
    await onA.close();
    for (let i = 0; i < 5; i++) await api(hubs[i % 3]!, 'POST', '/v1/members', { type: 'h', name: `resume-${i}` });
    const onB = await RpcPeer.connect(hubs[1]!.wsUrl);
    try {
      const again = await onB.ok('watch', { filter: { prefix: 'resume-' }, since: first.revision, epoch: first.epoch });
      assert.equal(again.epoch, first.epoch, 'one epoch across the cluster');
      const events = await until(() => { const e = onB.notifications.filter((n) => n.method === 'event'); return e.length >= 5 && e; }, 'five replayed');
      assert.deepEqual(events.map((n) => n.params.event.member.name), Array.from({ length: 5 }, (_, i) => `resume-${i}`));
      const ahead = await onB.call('watch', { since: again.revision + 1000 });
      assert.equal(ahead.error?.data?.code, 'COMPACTED');
    } finally {
      await onB.close();
    }
  });

  test('the SDK given every hub URL resumes its watch on another hub when its hub dies, nothing missed or repeated', async () => {
    const extra = await spawnHub(hubArgs('d'), { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_GRACE_MS: '1000' });
    const c: MusterClient = await connect({ url: [extra.url, hubs[0]!.url], reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    try {
      const w = c.watch({ prefix: 'sdk-' });
      await w.ready;
      await api(hubs[1]!, 'POST', '/v1/members', { type: 'h', name: 'sdk-0' });
      const seen: string[] = [];
      const reader = (async () => { for await (const e of w) { seen.push(e.member.name); if (seen.length === 4) break; } })();
      await until(() => seen.length === 1, 'first event');
      await extra.kill('SIGKILL');
      for (let i = 1; i < 4; i++) await api(hubs[2]!, 'POST', '/v1/members', { type: 'h', name: `sdk-${i}` });
      await Promise.race([reader, sleep(10_000).then(() => { throw new Error(`events after failover: ${seen.join(',')}`); })]);
      assert.deepEqual(seen, ['sdk-0', 'sdk-1', 'sdk-2', 'sdk-3']);
    } finally {
      await c.close();
      await extra.kill('SIGKILL');
    }
  });
});

describe('cluster - liveness across hubs', () => {
  test('heartbeats at another hub keep a ttl member alive; when they stop it is removed once', async () => {
    const reg = (await api(hubs[0]!, 'POST', '/v1/members', { type: 't', name: 'beater', liveness: { kind: 'ttl', ttlMs: 400 } })).body;
    const watcher = await RpcPeer.connect(hubs[2]!.wsUrl);
    try {
      await watcher.ok('watch', { filter: { name: 'beater' } });
      for (let i = 0; i < 8; i++) {
        await sleep(150);
        const r = await api(hubs[1]!, 'PUT', `/v1/members/${reg.id}/heartbeat`, undefined, { authorization: `Bearer ${reg.token}` });
        assert.equal(r.status, 200, 'alive through hub b');
      }
      const t0 = Date.now();
      const removed = await until(() => watcher.notifications.find((n) => n.method === 'event' && n.params.event.type === 'removed'), 'expired', 3_000);
      assert.equal(removed.params.event.reason, 'expired');
      assert.ok(Date.now() - t0 < 1_500);
      await sleep(200);
      assert.equal(watcher.notifications.filter((n) => n.method === 'event' && n.params.event.type === 'removed').length, 1, 'removed once');
    } finally {
      await watcher.close();
    }
  });

  test('a session member of a hub killed with SIGKILL turns suspect, then is removed (hub-lost) by the others', async () => {
    const victim = await spawnHub(hubArgs('victim'), { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_GRACE_MS: '1000' });
    const peer = await RpcPeer.connect(victim.wsUrl);
    await peer.ok('register', { type: 's', name: 'on-victim', liveness: { kind: 'session', graceMs: 800 } });
    const watcher = await RpcPeer.connect(hubs[0]!.wsUrl);
    try {
      await watcher.ok('watch', { filter: { name: 'on-victim' } });
      await victim.kill('SIGKILL');
      const suspect = await until(() => watcher.notifications.find((n) => n.method === 'event' && n.params.event.member.status === 'suspect'), 'suspect', 5_000);
      assert.equal(suspect.params.event.type, 'updated');
      const removed = await until(() => watcher.notifications.find((n) => n.method === 'event' && n.params.event.type === 'removed'), 'removed', 5_000);
      assert.equal(removed.params.event.reason, 'hub-lost');
      const info = (await api(hubs[0]!, 'GET', '/v1/info')).body;
      assert.ok(!info.cluster.hubs.some((h: { hubId: string }) => h.hubId === 'victim'));
    } finally {
      peer.ws.terminate();
      await watcher.close();
    }
  });
});

describe('cluster - one bus', () => {
  test('publish, broadcast, send and request between members on different hubs; no echo', async () => {
    const a = await RpcPeer.connect(hubs[0]!.wsUrl);
    const b = await RpcPeer.connect(hubs[1]!.wsUrl);
    const c = await RpcPeer.connect(hubs[2]!.wsUrl);
    try {
      await a.ok('register', { type: 'p', name: 'bus-a', liveness: 'session' });
      await b.ok('register', { type: 'p', name: 'bus-b', liveness: 'session' });
      await c.ok('register', { type: 'p', name: 'bus-c', liveness: 'session' });
      await b.ok('bus.subscribe', { scope: '/x/' });
      await a.ok('bus.subscribe', { scope: '/x/' });
      const messages = (p: RpcPeer) => p.notifications.filter((n) => n.method === 'bus.message').map((n) => n.params);
      await until(async () => { await a.ok('bus.publish', { scope: '/x/y/', data: 'probe' }); await sleep(50); return messages(b).length > 0; }, 'interest reached hub a');
      const before = messages(b).length;
      await a.ok('bus.publish', { scope: '/x/y/', data: { n: 1 } });
      await until(() => messages(b).length > before, 'publication at b');
      assert.deepEqual(messages(b).at(-1)!.data, { n: 1 });
      assert.ok(!messages(a).some((m) => m.from === 'bus-a'), 'no echo to the publisher');
      await a.ok('bus.broadcast', { data: 'all' });
      await until(() => messages(b).some((m) => m.kind === 'broadcast') && messages(c).some((m) => m.kind === 'broadcast'), 'broadcast at b and c');
      await a.ok('bus.send', { to: 'bus-c', data: 'direct' });
      await until(() => messages(c).some((m) => m.kind === 'send' && m.data === 'direct' && m.from === 'bus-a'), 'send at c');
      const asked = a.call('bus.request', { to: 'bus-c', method: 'sum', params: [1, 2] });
      const handle = await c.waitFor((n) => n.method === 'bus.handle');
      assert.equal(handle.params.from, 'bus-a');
      c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: (handle as unknown as { id: string }).id, result: 3 }));
      assert.equal((await asked).result, 3);
      const failing = a.call('bus.request', { to: 'bus-c', method: 'no' });
      const h2 = await c.waitFor((n) => n.method === 'bus.handle' && n.params.method === 'no');
      c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: (h2 as unknown as { id: string }).id, error: { code: -1, message: 'refused' } }));
      const err = (await failing).error!;
      assert.equal(err.data?.code, 'MEMBER_ERROR');
      assert.equal(err.message, 'refused');
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });
  test('a hub that just started is reached at once: a request to a member on it is answered from another hub', async () => {
    const fresh = await spawnHub(hubArgs('fresh'), { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_GRACE_MS: '1000' });
    const member = await RpcPeer.connect(fresh.wsUrl);
    const asker = await RpcPeer.connect(hubs[0]!.wsUrl);
    try {
      await member.ok('register', { type: 'p', name: 'on-fresh', liveness: 'session' });
      await asker.ok('register', { type: 'p', name: 'asks-fresh', liveness: 'session' });
      // No waiting: the other hubs learn of a new hub when it joins, not at their next look at the list.
      const asked = asker.call('bus.request', { to: 'on-fresh', method: 'hello', timeoutMs: 3000 });
      const handle = await Promise.race([
        member.waitFor((n) => n.method === 'bus.handle'),
        asked.then((r) => { throw new Error(`answered before it reached the member: ${JSON.stringify(r.error)}`); }),
      ]);
      member.ws.send(JSON.stringify({ jsonrpc: '2.0', id: (handle as unknown as { id: string }).id, result: 'hi' }));
      const answer = await asked;
      assert.equal(answer.result, 'hi', JSON.stringify(answer.error));
    } finally {
      await member.close();
      await asker.close();
      await fresh.kill('SIGTERM');
    }
  });
});

describe('cluster - lifecycle control across hubs', () => {
  test('a component attached to hub b is configured and stopped from hub a', async () => {
    const comp = await RpcPeer.connect(hubs[1]!.wsUrl);
    try {
      await comp.ok('register', { type: 'worker', name: 'remote-comp', roles: ['component'], liveness: 'session' });
      await comp.ok('lifecycle.ready', { endpoints: {} });
      const configuring = api(hubs[0]!, 'POST', '/v1/members/remote-comp/configure', { config: { speed: 3 } }, admin);
      const cmd = await comp.waitFor((n) => n.method === 'lifecycle.configure');
      assert.deepEqual(cmd.params.config, { speed: 3 });
      await comp.ok('lifecycle.ok', { call: cmd.params.call });
      const r = await configuring;
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { name: 'remote-comp', ok: true, state: 'configured' });
      const lc = await until(async () => { const v = (await api(hubs[2]!, 'GET', '/v1/members/remote-comp')).body; return v.lifecycle?.state === 'configured' && v; }, 'state seen at hub c');
      assert.equal(lc.hub, 'b');
      const stopping = api(hubs[2]!, 'POST', '/v1/members/remote-comp/stop', {}, admin);
      const stop = await comp.waitFor((n) => n.method === 'lifecycle.stop');
      await comp.ok('lifecycle.finished', { call: stop.params.call, outcome: 'OK', details: ['bye'] });
      assert.deepEqual((await stopping).body, { name: 'remote-comp', outcome: 'OK', details: ['bye'], state: 'finished' });
    } finally {
      await comp.close();
    }
  });
});
