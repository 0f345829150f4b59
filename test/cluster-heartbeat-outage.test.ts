/**
 * Cluster mode - heartbeats while Redis is away: a ttl member whose client goes on heartbeating
 * through a Redis outage longer than its ttl (frozen, killed and restarted, refusing writes) is
 * not expired when Redis is back, while one whose client stopped is. Before 2026-12-06 a
 * heartbeat Redis did not take was dropped, and the first expiry run after the outage removed
 * every such member (its SDK then registered it again under a new id). A session member whose
 * client leaves while Redis is down turns suspect once Redis is back and is removed after its
 * grace (it stayed alive for ever before); a probed member whose probes fail then is removed at
 * every hub (it stayed at the others before). Real hub processes, a real redis-server.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { sleep, until } from './support/wait.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
const TTL_MS = 2_000;
/** Longer than the ttl, and than the hubs' store timeout: every hub sees Redis fail. */
const OUTAGE_MS = 4_500;

before(async () => {
  redis = await startRedis();
  const env = { MUSTER_CLUSTER_LEASE_MS: '3000', MUSTER_STORE_TIMEOUT_MS: '1000' };
  for (const id of ['ha', 'hb']) hubs.push(await spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', tempDir()], env));
});
after(async () => {
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

/** A gauge of a hub's /metrics. */
async function gauge(h: HubProcess, name: string): Promise<number> {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${h.url}/metrics`)).text())?.[1]);
}

/**
 * Registers two ttl members at the first hub, watched at the second, runs `outage` while one
 * heartbeats every 400 ms and the other is silent, then waits two ttls past Redis's return.
 */
async function throughOutage(label: string, outage: () => Promise<void>): Promise<void> {
  const beating = await RpcPeer.connect(hubs[0]!.wsUrl);
  const quiet = await RpcPeer.connect(hubs[0]!.wsUrl);
  const watcher = await RpcPeer.connect(hubs[1]!.wsUrl);
  await watcher.ok('watch', { filter: { prefix: `${label}-` } });
  const kept = await beating.ok<{ id: string; token: string }>('register', { name: `${label}-beating`, type: 'cam', exclusive: true, liveness: { kind: 'ttl', ttlMs: TTL_MS } });
  await quiet.ok('register', { name: `${label}-quiet`, type: 'cam', exclusive: true, liveness: { kind: 'ttl', ttlMs: TTL_MS } });
  let beats = true;
  const answers: unknown[] = [];
  const beater = (async () => {
    while (beats) {
      const r = await beating.call('heartbeat', { id: kept.id, token: kept.token });
      answers.push(r.result ?? r.error);
      await sleep(400);
    }
  })();
  try {
    await outage();
    await sleep(2 * TTL_MS + 1_000);
    beats = false;
    await beater;
    assert.ok(answers.length > 8 && answers.every((a) => (a as { status?: string })?.status === 'alive'), `heartbeats answered alive throughout: ${JSON.stringify(answers.filter((a) => (a as { status?: string })?.status !== "alive").slice(0, 3))} of ${answers.length}`);
    const removed = watcher.notifications.filter((n) => n.method === 'event' && n.params.event.type === 'removed').map((n) => n.params.event.member.name as string);
    assert.deepEqual(removed, [`${label}-quiet`], 'the silent member expired, the heartbeating one did not');
    for (const h of hubs) {
      assert.equal(await gauge(h, 'muster_cluster_heartbeats_unwritten'), 0, 'every kept heartbeat written');
      assert.equal(await gauge(h, 'muster_cluster_expiry_held'), 0, 'expiry runs again');
      const members = (await (await fetch(`${h.url}/v1/members?prefix=${label}-`)).json()).members as { id: string; name: string; status: string }[];
      assert.deepEqual(members.map((m) => [m.id, m.status]), [[kept.id, 'alive']], `${h.url} holds the heartbeating member, alive, under its id`);
    }
  } finally {
    beats = false;
    await beater;
    for (const p of [beating, quiet, watcher]) await p.close();
  }
}

describe('cluster - heartbeats while Redis is away', () => {
  test('Redis frozen for longer than the ttl: the heartbeating member stays, the silent one expires', { timeout: 40_000 }, async () => {
    await throughOutage('frozen', () => redis.pause(OUTAGE_MS));
  });

  test('Redis killed and restarted after longer than the ttl (appendfsync always): the heartbeating member stays', { timeout: 60_000 }, async () => {
    await throughOutage('killed', async () => {
      await redis.stop({ keepData: true });
      await sleep(OUTAGE_MS);
      // The heartbeating member's deadline waits at its hub, whose expiry runs are held.
      assert.equal(await gauge(hubs[0]!, 'muster_cluster_heartbeats_unwritten'), 1);
      assert.equal(await gauge(hubs[0]!, 'muster_cluster_expiry_held'), 1);
      redis = await redis.restart();
    });
  });

  test('Redis refusing writes (maxmemory, noeviction) for longer than the ttl: the heartbeating member stays', { timeout: 40_000 }, async () => {
    const admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
    try {
      await throughOutage('refusing', async () => {
        const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
        await admin.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: String(used - 100_000) });
        await sleep(OUTAGE_MS);
        await admin.configSet({ maxmemory: '0' });
      });
    } finally {
      await admin.quit().catch(() => {});
    }
  });
});

describe('cluster - sessions and probes that end while Redis is away', () => {
  test('a session member whose client disconnects while Redis is down turns suspect and is removed after its grace once Redis is back', { timeout: 60_000 }, async () => {
    const member = await RpcPeer.connect(hubs[0]!.wsUrl);
    const watcher = await RpcPeer.connect(hubs[1]!.wsUrl);
    await watcher.ok('watch', { filter: { prefix: 'ended-' } });
    await member.ok('register', { name: 'ended-session', type: 'cam', exclusive: true, liveness: { kind: 'session', graceMs: 1_000 } });
    await redis.stop({ keepData: true });
    await member.close();
    await sleep(1_500);
    redis = await redis.restart();
    const removed = () => watcher.notifications.some((n) => n.method === 'event' && n.params.event.type === 'removed' && n.params.event.member.name === 'ended-session');
    // Waited for, then checked below with what is there.
    await until('removed', removed, 15_000).catch(() => {});
    const members = (await (await fetch(`${hubs[1]!.url}/v1/members?prefix=ended-`)).json()).members as { name: string; status: string }[];
    assert.deepEqual(members, [], `no member left behind: ${JSON.stringify(members)}`);
    const events = watcher.notifications.filter((n) => n.method === 'event').map((n) => `${n.params.event.type} ${n.params.event.member.status} ${n.params.event.reason ?? ''}`.trim());
    assert.deepEqual(events, ['added alive', 'updated suspect', 'removed gone session-lost'], 'suspect once Redis took it, then removed after the grace');
    await watcher.close();
  });

  test('a probed member whose probes fail while Redis is down is removed once Redis is back, at every hub', { timeout: 60_000 }, async () => {
    const device = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
    const port = (device.address() as { port: number }).port;
    const watcher = await RpcPeer.connect(hubs[1]!.wsUrl);
    await watcher.ok('watch', { filter: { prefix: 'probed-' } });
    const r = await fetch(`${hubs[0]!.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'probed-device', type: 'cam', liveness: { kind: 'probe', target: `tcp://127.0.0.1:${port}`, intervalMs: 100, timeoutMs: 100, failures: 2 } }) });
    assert.equal(r.status, 201);
    await sleep(500);
    await redis.stop({ keepData: true });
    await new Promise<void>((resolve) => device.close(() => resolve()));
    await sleep(1_500);
    redis = await redis.restart();
    const gone = async (h: HubProcess) => ((await (await fetch(`${h.url}/v1/members?prefix=probed-`)).json()).members as unknown[]).length === 0;
    await until('gone at both hubs', async () => (await gone(hubs[0]!)) && gone(hubs[1]!), 15_000).catch(() => {});
    for (const h of hubs) assert.ok(await gone(h), `${h.url} holds no probed member whose probes failed`);
    const events = watcher.notifications.filter((n) => n.method === 'event').map((n) => `${n.params.event.type} ${n.params.event.reason ?? ''}`.trim());
    assert.equal(events.at(-1), 'removed probe-failed', JSON.stringify(events));
    await watcher.close();
  });
});
