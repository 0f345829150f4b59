/**
 * Cluster mode - a Redis that refuses writes (at maxmemory with noeviction; made a replica): a
 * registration answers STORE_UNAVAILABLE saying Redis refused the command and why (it was
 * INTERNAL, "a cluster script failed", before 2026-12-06), writes nothing, and the hub goes on
 * serving what needs no write; once the operator mends Redis, the same registration makes its member, once,
 * under its name. A real redis-server, a real hub.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from '@redis/client';
import { startHub } from './support/hub.js';
import { startRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

/** What the test asks of its own Redis connection. */
interface Admin {
  info(section: string): Promise<string>;
  configSet(settings: Record<string, string>): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
}

const failures = async (url: string) => Number(/^muster_cluster_redis_failures_total (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

for (const [what, refuse, mend, reason] of [
  ['at maxmemory with noeviction', async (r: Admin) => {
    const used = Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);
    await r.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: String(used - 100_000) });
  }, async (r: Admin) => { await r.configSet({ maxmemory: '0' }); }, /Redis refused the command: OOM command not allowed/],
  ['made a replica (of a master that is not there)', async (r: Admin) => { await r.sendCommand(['REPLICAOF', '127.0.0.1', '1']); },
    async (r: Admin) => { await r.sendCommand(['REPLICAOF', 'NO', 'ONE']); }, /Redis refused the command: READONLY/],
] as const) {
  test(`cluster - Redis ${what}: a registration answers STORE_UNAVAILABLE with Redis's reason and writes nothing; mended, it makes its member once`, { timeout: 60_000 }, async () => {
    const redis = await startRedis([]);
    const hub = await startHub({ cluster: redis.url, hubId: 'refused' });
    const admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
    try {
      const peer = await RpcPeer.connect(hub.wsUrl);
      const before = await peer.ok<{ id: string; token: string }>('register', { name: 'before', type: 'cam', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      const failed = await failures(hub.url);
      await refuse(admin);
      const refused = await peer.call('register', { name: 'cam', type: 'cam', exclusive: true });
      assert.equal(refused.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(refused));
      assert.match(refused.error!.message, reason);
      assert.ok((await failures(hub.url)) > failed, 'counted in muster_cluster_redis_failures_total');
      // What needs no write goes on.
      assert.deepEqual(await peer.ok('heartbeat', { id: before.id, token: before.token }), { status: 'alive' });
      assert.equal((await peer.ok<{ total: number }>('list', {})).total, 1);
      await mend(admin);
      const made = await peer.ok<{ name: string }>('register', { name: 'cam', type: 'cam', exclusive: true });
      assert.equal(made.name, 'cam', 'the refused registration left its name free');
      assert.deepEqual((await admin.hKeys('{muster}:names')).sort(), ['before', 'cam'], 'Redis holds each name once');
      peer.ws.close();
    } finally {
      await admin.quit().catch(() => {});
      await hub.stop();
      await redis.stop();
    }
  });
}
