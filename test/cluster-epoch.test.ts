/**
 * Cluster mode when Redis loses everything while the hubs run (FLUSHALL; a Redis restarted
 * without its data): the hubs notice that the store holds another history (epoch), never serve
 * the old one as the new: every watch is dropped with COMPACTED, a `since` of the old history
 * answers COMPACTED with the new revision; each hub puts the members it holds (clients still
 * connected) into the new history, so the registry is whole again; writes, watches and the bus
 * go on, also for a hub that joins afterwards.
 */
import assert from 'node:assert/strict';
import { createClient } from '@redis/client';
import { after, before, describe, test } from 'node:test';
import { bus, connect, MusterClientError, type BusMessage, type MusterClient, type RegistryEvent } from '../src/client/index.js';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
const clients: MusterClient[] = [];
const peers: RpcPeer[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(label: string, what: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve().then(what).catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${label}`);
    await sleep(50);
  }
}

const hubArgs = (id: string) => ['--cluster', redis.url, '--hub-id', id, '--data', tempDir()];
const env = { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_STORE_TIMEOUT_MS: '1000', MUSTER_EVENT_RETENTION: '1000' };
async function http(h: HubProcess, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(h.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}
const names = async (h: HubProcess, prefix: string) => ((await http(h, 'GET', `/v1/members?limit=1000&prefix=${prefix}`)).body.members as { id: string; name: string; hub: string }[]);

async function client(h: HubProcess): Promise<MusterClient> {
  const c = await connect({ url: h.url, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
  clients.push(c);
  return c;
}

async function peer(h: HubProcess): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
  peers.push(p);
  return p;
}

/** Reads a watch into an array; `error` holds what ended it. */
function collect(w: AsyncIterable<RegistryEvent>): { events: RegistryEvent[]; error?: unknown } {
  const out: { events: RegistryEvent[]; error?: unknown } = { events: [] };
  void (async () => { try { for await (const e of w) out.events.push(e); } catch (err) { out.error = err; } })();
  return out;
}

async function wipe(): Promise<void> {
  const r = createClient({ url: redis.url });
  await r.connect();
  await r.sendCommand(['FLUSHALL']);
  await r.quit();
}

before(async () => {
  redis = await startRedis();
  for (const id of ['ea', 'eb']) hubs.push(await spawnHub(hubArgs(id), env));
});
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const p of peers) p.ws.terminate();
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

describe('cluster - the store wiped', () => {
  test('FLUSHALL: watchers are told COMPACTED, an old since answers COMPACTED, each hub puts its members again, and all goes on', { timeout: 90_000 }, async () => {
    const [a, b] = hubs as [HubProcess, HubProcess];
    // Members held by each hub: session members of SDK clients, a ttl member registered over HTTP.
    const onA = await client(a);
    const sa = await onA.register({ name: 'ep-session-a', type: 'ep', liveness: 'session' });
    const onB = await client(b);
    const sb = await onB.register({ name: 'ep-session-b', type: 'ep', liveness: 'session' });
    const ttl = (await http(a, 'POST', '/v1/members', { name: 'ep-ttl-a', type: 'ep', liveness: { kind: 'ttl', ttlMs: 60_000 } })).body;
    for (let i = 0; i < 30; i++) await http(i % 2 ? a : b, 'POST', '/v1/members', { name: `ep-old-${i}`, type: 'old', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await until('every hub has all of them', async () => (await names(b, 'ep-')).length === 33 && (await names(a, 'ep-')).length === 33);
    // A subscription on b, in force at a.
    const sub = await client(b);
    await sub.register({ name: 'ep-sub', type: 'ep', liveness: 'session' });
    const got: BusMessage[] = [];
    await bus(sub).subscribe('/ep/', (m) => got.push(m)).ready;
    await until('interest at a', async () => { await bus(onA).publish('/ep/', 'before'); await sleep(50); return got.length > 0; });
    // Watchers: a bare peer at b, an SDK watch at a.
    const watcher = await peer(b);
    const old = await watcher.ok('watch', { filter: { prefix: 'ep-' } });
    const sdkWatch = collect((await client(a)).watch({ prefix: 'ep-' }));
    await http(a, 'POST', '/v1/members', { name: 'ep-last-old', type: 'old', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await until('the last old event at both watchers', () => sdkWatch.events.some((e) => e.member.name === 'ep-last-old') && watcher.notifications.some((n) => n.method === 'event' && n.params.event.member.name === 'ep-last-old'));
    const oldRevision = (await http(b, 'GET', '/v1/info')).body.revision as number;

    await wipe();

    // Live watchers are told; a resume from the old history answers COMPACTED with the new revision.
    const dropped = await watcher.waitFor((n) => n.method === 'watch.dropped', 15_000);
    assert.equal(dropped.params.code, 'COMPACTED');
    assert.equal(dropped.params.watch, old.watch);
    assert.ok(dropped.params.resumeAfter >= old.revision);
    const resumed = await watcher.call('watch', { filter: { prefix: 'ep-' }, since: dropped.params.resumeAfter, epoch: old.epoch });
    assert.equal(resumed.error?.data?.code, 'COMPACTED');
    const details = resumed.error?.data?.details as { revision: number; epoch: string };
    assert.notEqual(details.epoch, old.epoch, 'a new history');
    assert.ok(details.revision > oldRevision, `revisions never go back (${details.revision} > ${oldRevision})`);
    for (const since of [oldRevision, oldRevision - 3]) {
      const bare = await watcher.call('watch', { since });
      assert.equal(bare.error?.data?.code, 'COMPACTED', `an old since (${since}) without its epoch is not served either`);
    }
    await until('the SDK watch ended with COMPACTED', () => sdkWatch.error !== undefined);
    assert.ok(sdkWatch.error instanceof MusterClientError);
    assert.equal((sdkWatch.error as MusterClientError).code, 'COMPACTED');

    // The registry is whole again: what each hub held, with the same ids, at both hubs; ep-old-* (also held) too.
    for (const h of hubs) {
      const listed = await until(`whole again at ${h.url}`, async () => { const l = await names(h, 'ep-'); return l.length === 35 && l; });
      assert.equal(listed.find((m) => m.name === 'ep-session-a')?.id, sa.id);
      assert.equal(listed.find((m) => m.name === 'ep-session-b')?.id, sb.id);
      assert.equal(listed.find((m) => m.name === 'ep-ttl-a')?.id, ttl.id);
      assert.equal(listed.find((m) => m.name === 'ep-session-b')?.hub, 'eb');
    }
    // Writes, heartbeats and tokens work in the new history.
    const fresh = await until('a registration at b', async () => { const r = await http(b, 'POST', '/v1/members', { name: 'ep-new', type: 'ep' }); return r.status === 201 && r; });
    assert.equal(fresh.body.name, 'ep-new');
    assert.equal((await http(b, 'PUT', `/v1/members/${ttl.id}/heartbeat`, undefined, ttl.token)).status, 200);
    assert.equal((await http(b, 'POST', '/v1/members', { name: 'ep-session-a', type: 'ep', exclusive: true })).body.error.code, 'NAME_TAKEN');
    // A watch from the new history's list goes on live.
    const now = (await http(a, 'GET', '/v1/members?prefix=ep-')).body;
    const again = collect((await client(a)).watch({ prefix: 'ep-' }, { since: now.revision }));
    await http(b, 'POST', '/v1/members', { name: 'ep-after', type: 'ep' });
    await until('a new event at the new watch', () => again.events.some((e) => e.member.name === 'ep-after'));
    assert.ok(!again.events.some((e) => e.revision <= now.revision));

    // The bus across hubs, and for a hub that joins after the wipe.
    await until('publications reach b again', async () => { await bus(onA).publish('/ep/', 'after'); await sleep(50); return got.some((m) => m.data === 'after'); });
    const late = await spawnHub(hubArgs('ec'), env);
    hubs.push(late);
    const onC = await client(late);
    await onC.register({ name: 'ep-pub-c', type: 'ep', liveness: 'session' });
    await until('a publication from the late hub reaches b', async () => { await bus(onC).publish('/ep/', 'late'); await sleep(50); return got.some((m) => m.data === 'late'); });
  });

  test('Redis restarted without its data: the same, once the hubs reach it again', { timeout: 90_000 }, async () => {
    const [a, b] = hubs as [HubProcess, HubProcess];
    const holder = await client(b);
    const held = await holder.register({ name: 'rs-held', type: 'rs', liveness: 'session' });
    await until('rs-held at a', async () => (await names(a, 'rs-')).length === 1);
    const watcher = await peer(a);
    const old = await watcher.ok('watch', { filter: { prefix: 'rs-' } });
    const port = redis.port;
    await redis.stop();
    redis = await startRedis(['--appendonly', 'no'], port);
    const dropped = await watcher.waitFor((n) => n.method === 'watch.dropped', 20_000);
    assert.equal(dropped.params.code, 'COMPACTED');
    const resumed = await watcher.call('watch', { filter: { prefix: 'rs-' }, since: old.revision, epoch: old.epoch });
    assert.equal(resumed.error?.data?.code, 'COMPACTED');
    for (const h of [a, b]) {
      const listed = await until(`rs-held again at ${h.url}`, async () => { const l = await names(h, 'rs-'); return l.length === 1 && l; });
      assert.equal(listed[0]!.id, held.id);
    }
    const r = await until('writes again', async () => { const x = await http(a, 'POST', '/v1/members', { name: 'rs-new', type: 'rs' }); return x.status === 201 && x; });
    assert.equal(r.body.name, 'rs-new');
    await until('rs-new at b', async () => (await names(b, 'rs-')).length === 2);
  });

  test('Redis restarted from an older snapshot (same epoch key, fewer revisions): the hubs notice, take it as a new history, and the same follows', { timeout: 90_000 }, async () => {
    const [a, b] = hubs as [HubProcess, HubProcess];
    const holder = await client(a);
    const early = await holder.register({ name: 'sn-early', type: 'sn', liveness: 'session' });
    await until('sn-early at b', async () => (await names(b, 'sn-')).length === 1);
    // A snapshot now; what comes after it is not in the file Redis restarts from.
    const r = createClient({ url: redis.url });
    await r.connect();
    await r.sendCommand(['SAVE']);
    await r.quit();
    const late = await holder.register({ name: 'sn-late', type: 'sn', liveness: 'session' });
    await until('sn-late at b', async () => (await names(b, 'sn-')).length === 2);
    const watcher = await peer(b);
    const old = await watcher.ok('watch', { filter: { prefix: 'sn-' } });
    const port = redis.port;
    await redis.stop({ keepData: true });
    redis = await startRedis(['--appendonly', 'no', '--dbfilename', 'dump.rdb'], port, redis.dir);
    const dropped = await watcher.waitFor((n) => n.method === 'watch.dropped', 20_000);
    assert.equal(dropped.params.code, 'COMPACTED', 'the old history is not served as if nothing was lost');
    const resumed = await watcher.call('watch', { filter: { prefix: 'sn-' }, since: old.revision, epoch: old.epoch });
    assert.equal(resumed.error?.data?.code, 'COMPACTED');
    assert.ok((resumed.error?.data?.details as { revision: number }).revision > old.revision, 'revisions never go back');
    // The hub holding both puts them again: the one the snapshot lost is back, with its id.
    for (const h of [a, b]) {
      const listed = await until(`whole again at ${h.url}`, async () => { const l = await names(h, 'sn-'); return l.length === 2 && l; });
      assert.equal(listed.find((m) => m.name === 'sn-early')?.id, early.id);
      assert.equal(listed.find((m) => m.name === 'sn-late')?.id, late.id);
    }
  });
});
