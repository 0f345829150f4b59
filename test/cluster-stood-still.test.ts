/**
 * Cluster mode - a hub that stands still (SIGSTOP, as a long pause or a frozen VM) for longer than
 * two leases is reaped by the others: its session members turn suspect (hub-lost). When it runs
 * again it finds their clients still connected and holds them again (alive, attached to it), also
 * when Redis refuses its first writes then (its resume is written again once Redis takes writes;
 * before 2026-12-06 it was dropped, and the member was removed after its grace though its client
 * was connected). Real hub processes, a real redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { sleep, until } from './support/wait.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
const LEASE_MS = 2_000;
/** Past two leases and the reaper's second: the hub is reaped while it stands still. */
const STILL_MS = 6_500;
const GRACE_MS = 5_000;

before(async () => {
  redis = await startRedis();
  const env = { MUSTER_CLUSTER_LEASE_MS: String(LEASE_MS), MUSTER_STORE_TIMEOUT_MS: '1000' };
  for (const id of ['still', 'other']) hubs.push(await spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', tempDir()], env));
});
after(async () => {
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

/**
 * A session member of the first hub, watched at the second; the first stands still until it is
 * reaped, then runs again with `whileResuming` around its first moments; the member must end
 * alive, held by it, past its grace.
 */
async function standStill(name: string, whileResuming: (resume: () => void) => Promise<void>): Promise<void> {
  const [still, other] = hubs as [HubProcess, HubProcess];
  const member = await RpcPeer.connect(still.wsUrl);
  const watcher = await RpcPeer.connect(other.wsUrl);
  await watcher.ok('watch', { filter: { name } });
  await member.ok('register', { name, type: 'cam', exclusive: true, liveness: { kind: 'session', graceMs: GRACE_MS } });
  const statuses = () => watcher.notifications.filter((n) => n.method === 'event').map((n) => `${n.params.event.type} ${n.params.event.member.status}`);
  await until('seen at the other hub', () => statuses().includes('added alive'), 5_000);
  process.kill(still.pid, 'SIGSTOP');
  try {
    await until('reaped: suspect (hub-lost)', () => statuses().includes('updated suspect'), STILL_MS + 4_000);
  } finally {
    await whileResuming(() => process.kill(still.pid, 'SIGCONT'));
  }
  await until('held again: alive', () => statuses().at(-1) === 'updated alive', 10_000);
  // Past the grace counted from the reap: a member left suspect would be gone by now.
  await sleep(GRACE_MS + 2_500);
  const at = (await (await fetch(`${other.url}/v1/members/${name}`)).json()) as { status?: string; hub?: string };
  assert.equal(at.status, 'alive', JSON.stringify(at));
  assert.equal(at.hub, 'still', 'held by the hub that stood still');
  assert.ok(!statuses().some((s) => s.startsWith('removed')), statuses().join(', '));
  await member.close();
  await watcher.close();
}

describe('cluster - a hub that stood still', () => {
  test('reaped while it stood still, it holds its connected session members again when it runs', { timeout: 60_000 }, async () => {
    await standStill('still-held', async (resume) => resume());
  });

  test('also when Redis refuses its writes as it runs again (at maxmemory): its resume is written once Redis takes writes', { timeout: 60_000 }, async () => {
    const admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
    try {
      await standStill('still-refused', async (resume) => {
        const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
        await admin.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: String(used - 100_000) });
        resume();
        await sleep(2_000);
        await admin.configSet({ maxmemory: '0' });
      });
    } finally {
      await admin.configSet({ maxmemory: '0' }).catch(() => {});
      await admin.quit().catch(() => {});
    }
  });
});
