/**
 * Operating a cluster, with real hub processes and a real redis-server: /metrics shows the
 * cluster's figures (Redis round trips, the change feed, the bus between hubs and what it dropped,
 * expiries and reaps done by this hub, health, hubs) and they move with the traffic; `muster info`
 * (the real CLI) lists the cluster's hubs with this one marked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { runMuster as muster } from './support/cli.js';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: TestRedis | undefined;
/** oa, ob, oc; oc is killed by the last test. */
let hubs: HubProcess[] = [];
const started: HubProcess[] = [];

async function until<T>(what: () => Promise<T | undefined | false> | T | undefined | false, label: string, ms = 6_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${label}`);
    await sleep(50);
  }
}

/** A hub's /metrics as `name{labels}` -> value. */
async function metrics(h: HubProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('muster_cluster_')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
const total = async (name: string, of: HubProcess[] = hubs) => (await Promise.all(of.map(metrics))).reduce((n, m) => n + (m.get(name) ?? 0), 0);

async function register(h: HubProcess, body: Record<string, unknown>): Promise<{ id: string; name: string; token: string }> {
  const r = await fetch(`${h.url}/v1/members`, { method: 'POST', headers: json, body: JSON.stringify(body) });
  assert.equal(r.status, 201);
  return (await r.json()) as { id: string; name: string; token: string };
}

before(async () => {
  const r = (redis = await startRedis());
  const env = { MUSTER_CLUSTER_LEASE_MS: '1000' };
  const spawned = await Promise.allSettled(['oa', 'ob', 'oc'].map(async (id) => {
    const h = await spawnHub(['--cluster', r.url, '--hub-id', id, '--data', tempDir()], env);
    started.push(h);
    return h;
  }));
  const failed = spawned.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  hubs = spawned.map((s) => (s as PromiseFulfilledResult<HubProcess>).value);
});
after(async () => {
  for (const h of started) await h.kill('SIGKILL');
  await redis?.stop();
});

describe('cluster ops - /metrics', () => {
  test('healthy, the hubs counted, the change feed and Redis round trips move with registrations on another hub', async () => {
    const [a, b] = hubs as [HubProcess, HubProcess];
    await until(async () => (await metrics(a)).get('muster_cluster_hubs') === 3, 'hub a sees 3 hubs');
    const before = await metrics(a);
    assert.equal(before.get('muster_cluster_healthy'), 1);
    assert.ok(before.get('muster_cluster_redis_commands_total')! > 0, 'a hub talks to Redis from the start');
    assert.equal(before.get('muster_cluster_epochs_total'), 0, 'Redis was never wiped');
    for (let i = 0; i < 20; i++) await register(b, { type: 'ops', name: `fed-${i}` });
    await register(a, { type: 'ops', name: 'fed-on-a' });
    const later = await until(async () => { const m = await metrics(a); return m.get('muster_cluster_changes_fed_total')! >= before.get('muster_cluster_changes_fed_total')! + 21 && m; }, 'a fed the 21 changes');
    assert.ok(later.get('muster_cluster_redis_commands_total')! > before.get('muster_cluster_redis_commands_total')!);
    const lag = later.get('muster_cluster_feed_lag_ms')!;
    assert.ok(lag >= 0 && lag < 5_000, `feed lag ${lag} ms`);
    for (const reason of ['queue-full', 'redis-error', 'no-subscriber', 'no-member', 'unreadable']) {
      assert.ok(later.has(`muster_cluster_bus_dropped_total{reason="${reason}"}`), `dropped{${reason}} is shown`);
    }
  });

  test('a publication across hubs counts as sent at the publisher\'s hub and received at the subscriber\'s; a send to a member gone counts as dropped there', async () => {
    const [a, b, c] = hubs as [HubProcess, HubProcess, HubProcess];
    const pub = await RpcPeer.connect(a.wsUrl);
    const sub = await RpcPeer.connect(b.wsUrl);
    const away = await RpcPeer.connect(c.wsUrl);
    try {
      await pub.ok('register', { type: 'ops', name: 'ops-pub', liveness: 'session' });
      await sub.ok('register', { type: 'ops', name: 'ops-sub', liveness: 'session' });
      await away.ok('register', { type: 'ops', name: 'ops-away', liveness: { kind: 'session', graceMs: 60_000 } });
      await sub.ok('bus.subscribe', { scope: '/ops/' });
      const got = () => sub.notifications.filter((n) => n.method === 'bus.message').length;
      await until(async () => { await pub.ok('bus.publish', { scope: '/ops/', data: 'probe' }); await sleep(50); return got() > 0; }, 'interest reached hub a');
      const [sentBefore, receivedBefore] = [(await metrics(a)).get('muster_cluster_bus_sent_total')!, (await metrics(b)).get('muster_cluster_bus_received_total')!];
      const seen = got();
      for (let i = 0; i < 50; i++) await pub.ok('bus.publish', { scope: '/ops/x/', data: { i } });
      await until(() => got() >= seen + 50, 'the 50 publications at b');
      assert.ok((await metrics(a)).get('muster_cluster_bus_sent_total')! >= sentBefore + 50);
      assert.ok((await metrics(b)).get('muster_cluster_bus_received_total')! >= receivedBefore + 50);

      // ops-away's connection drops: it stays (suspect) for its grace, held by hub c, which can no longer deliver to it.
      await away.close();
      await until(async () => ((await (await fetch(`${a.url}/v1/members/ops-away`)).json()) as { status: string }).status === 'suspect', 'ops-away suspect at a');
      const droppedBefore = (await metrics(c)).get('muster_cluster_bus_dropped_total{reason="no-member"}')!;
      const sent = await pub.ok('bus.send', { to: 'ops-away', data: 'lost' });
      assert.equal(sent.delivered, 1, 'across hubs, delivered counts the hub it was handed to');
      await until(async () => (await metrics(c)).get('muster_cluster_bus_dropped_total{reason="no-member"}')! === droppedBefore + 1, 'hub c counts the drop');
    } finally {
      await pub.close();
      await sub.close();
      await away.close();
    }
  });

});

describe('cluster ops - muster info', () => {
  test('lists every hub of the cluster with its URL and start, this hub marked; --json gives /v1/info as is', async () => {
    const b = hubs[1]!;
    const [people, asJson] = await Promise.all([muster(['info', '--hub', b.url]), muster(['info', '--hub', b.url, '--json'])]);
    assert.equal(people.code, 0, people.stderr);
    assert.match(people.stdout, /^cluster\s+3 hubs, prefix muster, healthy$/m);
    for (const h of hubs) {
      const id = /hub-id (\S+)/.exec(h.child.spawnargs.join(' '))![1]!;
      const row = people.stdout.split('\n').find((l) => l.startsWith(`${id} `));
      assert.ok(row, `${id} listed:\n${people.stdout}`);
      assert.ok(row.includes(h.url), `${id}'s URL`);
      assert.match(row, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(\d+s ago\)/);
      assert.equal(row.endsWith('<- this hub'), id === 'ob', `only ob marked: ${row}`);
    }
    assert.equal(asJson.code, 0, asJson.stderr);
    const info = JSON.parse(asJson.stdout) as { cluster: { prefix: string; healthy: boolean; hubs: { hubId: string; url: string; startedAt: number }[] } };
    assert.equal(info.cluster.prefix, 'muster');
    assert.equal(info.cluster.healthy, true);
    assert.deepEqual(info.cluster.hubs.map((h) => h.hubId).sort(), ['oa', 'ob', 'oc']);
    assert.deepEqual(Object.keys(info.cluster.hubs[0]!).sort(), ['hubId', 'startedAt', 'url']);
  });
});

describe('cluster ops - a hub joining', () => {
  test('a hub joining a cluster of 2,500 members (more than one page of records) loads every one', async () => {
    const p = await RpcPeer.connect(hubs[0]!.wsUrl);
    for (let b = 0; b < 25; b++) {
      const batch = Array.from({ length: 100 }, (_, j) => ({ jsonrpc: '2.0', id: j, method: 'register', params: { name: `many-${b * 100 + j}`, type: 'svc', liveness: { kind: 'ttl', ttlMs: 600_000 } } }));
      const replies = JSON.parse(await p.raw(JSON.stringify(batch))) as { result?: unknown }[];
      assert.ok(replies.every((r) => r.result), JSON.stringify(replies.find((r) => !r.result)));
    }
    await p.close();
    const late = await spawnHub(['--cluster', redis!.url, '--hub-id', 'od', '--data', tempDir()], { MUSTER_CLUSTER_LEASE_MS: '1000' });
    started.push(late);
    const listed = await (await fetch(`${late.url}/v1/members?prefix=many-&limit=1`)).json() as { total: number };
    assert.equal(listed.total, 2_500);
    await late.kill();
  });

  test('a hub killed with 1,200 session members (more than one reap batch): every one turns suspect at the others, then the hub leaves the list', async () => {
    const doomed = await spawnHub(['--cluster', redis!.url, '--hub-id', 'oe', '--data', tempDir()], { MUSTER_CLUSTER_LEASE_MS: '1000' });
    started.push(doomed);
    const p = await RpcPeer.connect(doomed.wsUrl);
    for (let b = 0; b < 12; b++) {
      const batch = Array.from({ length: 100 }, (_, j) => ({ jsonrpc: '2.0', id: j, method: 'register', params: { name: `held-${b * 100 + j}`, type: 'svc', liveness: { kind: 'session', graceMs: 600_000 } } }));
      const replies = JSON.parse(await p.raw(JSON.stringify(batch))) as { result?: unknown }[];
      assert.ok(replies.every((r) => r.result), JSON.stringify(replies.find((r) => !r.result)));
    }
    await doomed.kill('SIGKILL');
    const suspect = async () => ((await (await fetch(`${hubs[0]!.url}/v1/members?prefix=held-&status=suspect&limit=1`)).json()) as { total: number }).total;
    await until(async () => (await suspect()) === 1_200, 'all 1,200 suspect at oa', 20_000);
    // The counts by status, kept as the mirror changes each status (not walked), agree with the members.
    const counts = ((await (await fetch(`${hubs[0]!.url}/v1/info`)).json()) as { members: { total: number; suspect: number } }).members;
    const listed = async (q: string) => ((await (await fetch(`${hubs[0]!.url}/v1/members?limit=1${q}`)).json()) as { total: number }).total;
    assert.deepEqual([counts.total, counts.suspect], [await listed(''), await listed('&status=suspect')]);
    assert.ok(counts.suspect >= 1_200);
    const one = await (await fetch(`${hubs[1]!.url}/v1/members/held-1199`)).json() as { status: string; hub?: string };
    assert.equal(one.status, 'suspect');
    const hubIds = async () => ((await (await fetch(`${hubs[0]!.url}/v1/info`)).json()) as { cluster: { hubs: { hubId: string }[] } }).cluster.hubs.map((x) => x.hubId);
    await until(async () => !(await hubIds()).includes('oe'), 'oe out of the list', 10_000);
    // In the change stream: reap entries (k = h) of at most 500 members each, 1,200 in all.
    const r = createClient({ url: redis!.url });
    await r.connect();
    try {
      const sizes = ((await r.xRange('{muster}:events', '-', '+')) ?? []).flatMap((e) => (e && e.message.k === 'h' ? [e] : [])).map((e) => Number(e.id.split('-')[0]) - Number(e.message.r) + 1);
      assert.ok(sizes.length >= 3 && Math.max(...sizes) <= 500, `reap entries of ${sizes.join(', ')} members`);
      assert.equal(sizes.reduce((a, b) => a + b, 0), 1_200);
    } finally {
      await r.quit();
    }
    await p.close().catch(() => {});
  });
});

describe('cluster ops - shared duties', () => {
  test('a ttl member is expired once, by one hub of the cluster; a hub killed with SIGKILL is reaped once, and the hubs count goes down', async () => {
    const expiredBefore = await total('muster_cluster_expired_total');
    const watcher = await RpcPeer.connect(hubs[0]!.wsUrl);
    await watcher.ok('watch', { filter: { prefix: 'ops-ttl' } });
    await register(hubs[1]!, { type: 'ops', name: 'ops-ttl', liveness: { kind: 'ttl', ttlMs: 300 } });
    await until(async () => (await fetch(`${hubs[0]!.url}/v1/members/ops-ttl`)).status === 404, 'ops-ttl expired');
    // Counted where it was expired. Other members may expire meanwhile (the session members an
    // earlier test closed, whose 10 s grace can end now): the shared log tells this one's removals.
    await until(async () => (await total('muster_cluster_expired_total')) >= expiredBefore + 1, 'the expiry counted, across the hubs');
    await sleep(500);
    const removals = watcher.notifications.filter((n) => n.method === 'event' && n.params.event.type === 'removed');
    assert.deepEqual(removals.map((n) => [n.params.event.member.name, n.params.event.reason]), [['ops-ttl', 'expired']], 'expired once');
    await watcher.close();

    const survivors = hubs.slice(0, 2);
    const reapedBefore = await total('muster_cluster_hubs_reaped_total', survivors);
    await hubs[2]!.kill('SIGKILL');
    await until(async () => (await total('muster_cluster_hubs_reaped_total', survivors)) === reapedBefore + 1, 'oc reaped by one hub', 8_000);
    for (const h of survivors) await until(async () => (await metrics(h)).get('muster_cluster_hubs') === 2, 'two hubs left');
    await sleep(1_200);
    assert.equal(await total('muster_cluster_hubs_reaped_total', survivors), reapedBefore + 1, 'reaped once');
  });
});
