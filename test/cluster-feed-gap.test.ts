/**
 * Cluster mode when a hub falls further behind the change stream than the stream keeps
 * (eventRetention; here 5, so a burst of 300 registrations trims entries before the hub's reader
 * gets to them). Nothing waits for ever: every registration is answered, those whose entry the hub
 * never read with STORE_UNAVAILABLE saying they were applied; the hub says on /healthz and in
 * /metrics that it may miss changes and wants a restart, keeps serving, and after the restart
 * shows every registration made.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
before(async () => { redis = await startRedis(); });
after(async () => {
  for (const h of hubs) await h.kill();
  await redis.stop();
});

async function start(config: string): Promise<HubProcess> {
  const h = await spawnHub(['--cluster', redis.url, '--hub-id', 'gap', '--data', tempDir(), '--config', config]);
  hubs.push(h);
  return h;
}

describe('cluster - a hub behind the change stream', () => {
  test('a burst larger than the stream keeps: every registration answered, /healthz and /metrics say so, a restart shows them all', { timeout: 90_000 }, async () => {
    const config = join(tempDir(), 'hub.json');
    writeFileSync(config, JSON.stringify({ eventRetention: 5 }));
    let hub = await start(config);
    const peer = await RpcPeer.connect(hub.wsUrl);
    const names = Array.from({ length: 300 }, (_, i) => `gap-${i}`);
    const answers = await Promise.race([
      Promise.all(names.map((name) => peer.call('register', { name, type: 'gap', liveness: { kind: 'ttl', ttlMs: 600_000 } }))),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('registrations still unanswered after 20 s')), 20_000)),
    ]);
    const refused = answers.filter((a) => a.error);
    assert.ok(refused.length > 0, 'the burst outran the stream (else this test shows nothing)');
    for (const r of refused) {
      assert.equal(r.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(r));
      assert.match(r.error!.message, /was applied, but this hub fell behind/);
    }
    const health = await fetch(`${hub.url}/healthz`);
    assert.equal(health.status, 503);
    assert.match(((await health.json()) as { reason: string }).reason, /fell behind the shared store's change stream .*restart it/);
    assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^muster_cluster_feed_gaps_total [1-9]/m);
    // It keeps serving, and its reader goes on.
    assert.equal((await peer.ok('register', { name: 'after-gap', type: 'gap' })).name, 'after-gap');
    peer.ws.close();

    await hub.kill();
    hubs.length = 0;
    hub = await start(config);
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
    const listed = new Set<string>();
    for (const name of [...names, 'after-gap']) {
      const r = await fetch(`${hub.url}/v1/members/${name}`);
      if (r.status === 200) listed.add(name);
    }
    assert.equal(listed.size, 301, `every registration was applied; missing: ${[...names, 'after-gap'].filter((n) => !listed.has(n)).slice(0, 5).join(', ')}`);
  });
});
