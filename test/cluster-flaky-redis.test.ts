/**
 * Cluster mode - expiry while Redis fails now and then: a hub holds its expiry runs after Redis
 * failed one of its commands, until it has been connected 2 s without a failure, so that the
 * heartbeats Redis missed are written first (cluster-heartbeat-outage.test.ts). Before 2026-12-07
 * that was all: a Redis that refused writes for a moment every second (or timed out now and then)
 * never gave 2 calm seconds, and no member expired for as long as it went on: a device that died
 * stayed alive at every hub. Now the hold lasts at most a lease longer; past that, expiry runs
 * whenever the hub is connected and the heartbeats it kept are written. A member whose client goes
 * on heartbeating is still not expired. Real hub processes, a real redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { sleep } from './support/wait.js';

let redis: TestRedis;
let admin: ReturnType<typeof createClient>;
const hubs: HubProcess[] = [];
const TTL_MS = 1_500;
const LEASE_MS = 3_000;

before(async () => {
  redis = await startRedis();
  admin = createClient({ url: redis.url });
  admin.on('error', () => {});
  await admin.connect();
  const env = { MUSTER_CLUSTER_LEASE_MS: String(LEASE_MS), MUSTER_STORE_TIMEOUT_MS: '1000' };
  for (const id of ['fa', 'fb']) hubs.push(await spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', tempDir()], env));
});
after(async () => {
  await admin.sendCommand(['REPLICAOF', 'NO', 'ONE']).catch(() => {});
  await admin.quit().catch(() => {});
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

/** Until `stop` resolves: Redis refuses every write (a replica of a master that is not there: READONLY) for 250 ms of every second. */
async function flaky(stop: Promise<void>): Promise<number> {
  let done = false;
  void stop.then(() => { done = true; });
  let refusals = 0;
  while (!done) {
    await admin.sendCommand(['REPLICAOF', '127.0.0.1', '1']);
    refusals++;
    await sleep(250);
    await admin.sendCommand(['REPLICAOF', 'NO', 'ONE']);
    await sleep(750);
  }
  return refusals;
}

test('a member whose client stopped expires while Redis refuses writes for a moment every second; those that heartbeat do not', { timeout: 60_000 }, async () => {
  // A member heartbeating at each hub, every 100 ms: every hub has a write refused in every one of
  // Redis's moments, and holds its expiry (a hub that wrote nothing then did not, and expired).
  const beating = await Promise.all(hubs.map((h) => RpcPeer.connect(h.wsUrl)));
  const quiet = await RpcPeer.connect(hubs[0]!.wsUrl);
  const watcher = await RpcPeer.connect(hubs[1]!.wsUrl);
  await watcher.ok('watch', { filter: { prefix: 'flaky-' } });
  const kept = await Promise.all(beating.map((p, i) => p.ok<{ id: string; token: string }>('register', { name: `flaky-beating-${i}`, type: 'cam', exclusive: true, liveness: { kind: 'ttl', ttlMs: TTL_MS } })));
  let beats = true;
  const beaters = beating.map(async (p, i) => {
    while (beats) {
      await p.call('heartbeat', { id: kept[i]!.id, token: kept[i]!.token });
      await sleep(100);
    }
  });
  let stopFlaky!: () => void;
  const flakiness = flaky(new Promise<void>((resolve) => { stopFlaky = resolve; }));
  try {
    // Its deadline passes once Redis has been flaky for a while (the hold began at its first moment).
    await sleep(3_000);
    const gone = await quiet.ok<{ id: string }>('register', { name: 'flaky-quiet', type: 'cam', exclusive: true, liveness: { kind: 'ttl', ttlMs: TTL_MS } });
    const t0 = Date.now();
    // Its ttl, the calm wait (2 s) and a lease, with room: it expires while Redis is still flaky.
    const expired = await watcher.waitFor((n) => n.method === 'event' && n.params.event.type === 'removed', 15_000).catch(() => null);
    const after = Date.now() - t0;
    stopFlaky();
    const refusals = await flakiness;
    assert.ok(refusals >= 5, `Redis refused writes ${refusals} times`);
    assert.ok(after >= TTL_MS, `expired after ${after} ms`);
    assert.ok(expired, `the silent member expired while Redis refused writes now and then (waited ${after} ms)`);
    assert.equal(expired.params.event.member.id, gone.id);
    assert.equal(expired.params.event.reason, 'expired');
    // The heartbeating members outlived the flakiness, under their ids, at both hubs.
    await sleep(TTL_MS + 500);
    beats = false;
    await Promise.all(beaters);
    const removed = watcher.notifications.filter((n) => n.method === 'event' && n.params.event.type === 'removed').map((n) => n.params.event.member.name as string);
    assert.deepEqual(removed, ['flaky-quiet']);
    for (const h of hubs) {
      const members = (await (await fetch(`${h.url}/v1/members?prefix=flaky-`)).json()).members as { id: string; status: string }[];
      assert.deepEqual(members.map((m) => [m.id, m.status]).sort(), kept.map((k) => [k.id, 'alive']).sort(), `${h.url} holds the heartbeating members, alive, under their ids`);
    }
  } finally {
    stopFlaky();
    await flakiness.catch(() => 0);
    beats = false;
    await Promise.all(beaters);
    for (const p of [...beating, quiet, watcher]) await p.close();
  }
});
