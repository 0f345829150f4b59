/**
 * Cluster mode - a write Redis ran after the hub had given up on it: Redis frozen longer than the
 * hubs' store timeout, with a registration in its socket. The client is answered
 * STORE_UNAVAILABLE; once Redis runs again it runs the registration, and the member comes back to
 * the hub that sent it through the store's feed, held by that hub but with no connection there.
 * Before 2026-12-07 a session member so made stayed alive at every hub for good (a ghost no
 * client held); now it lapses as when its connection closes: suspect, then removed after its
 * grace, unless its client takes it back with its token meanwhile. Real hub processes, a real
 * redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { until } from './support/wait.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
const GRACE_MS = 1_500;

before(async () => {
  redis = await startRedis();
  const env = { MUSTER_CLUSTER_LEASE_MS: '3000', MUSTER_STORE_TIMEOUT_MS: '1000' };
  for (const id of ['la', 'lb']) hubs.push(await spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', tempDir()], env));
});
after(async () => {
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

async function statusAt(h: HubProcess, name: string): Promise<string | undefined> {
  const members = ((await (await fetch(`${h.url}/v1/members?prefix=late-&limit=100`)).json()) as { members: { name: string; status: string }[] }).members;
  return members.find((m) => m.name === name)?.status;
}

test('a session registration Redis ran after its timeout lapses at every hub, as after a closed connection', { timeout: 40_000 }, async () => {
  const [la, lb] = hubs as [HubProcess, HubProcess];
  const client = await RpcPeer.connect(la.wsUrl);
  const watcher = await RpcPeer.connect(lb.wsUrl);
  try {
    // The apply script loaded (a first call on a fresh Redis is NOSCRIPT, then EVAL).
    await client.ok('register', { name: 'warm-up', type: 'cam', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await watcher.ok('watch', { filter: { prefix: 'late-' } });
    const frozen = redis.pause(2_500);
    await new Promise((r) => setTimeout(r, 200));
    const answer = await client.call('register', { name: 'late-session', type: 'cam', exclusive: true, liveness: { kind: 'session', graceMs: GRACE_MS } });
    assert.equal(answer.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(answer));
    await frozen;
    // Redis ran the registration once it ran again: the member is at both hubs, held by la.
    await until('the late member at lb', async () => (await statusAt(lb, 'late-session')) !== undefined, 10_000);
    await until('removed at both hubs', async () => (await statusAt(la, 'late-session')) === undefined && (await statusAt(lb, 'late-session')) === undefined, 15_000).catch(() => {});
    assert.equal(await statusAt(la, 'late-session'), undefined, 'no ghost at la');
    assert.equal(await statusAt(lb, 'late-session'), undefined, 'no ghost at lb');
    const events = watcher.notifications.filter((n) => n.method === 'event').map((n) => `${n.params.event.type} ${n.params.event.member.status ?? ''} ${n.params.event.reason ?? ''}`.trim());
    assert.deepEqual(events, ['added alive', 'updated suspect', 'removed gone session-lost'], events.join(', '));
  } finally {
    await client.close();
    await watcher.close();
  }
});
