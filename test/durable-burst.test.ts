/**
 * While a burst of durable registrations commits (--sync full: each batch synced to the disk before
 * it is acknowledged), the rest of the hub goes on: another member's heartbeats and bus messages
 * are answered between the commits, not after the burst.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
before(async () => { h = await startHub({ sync: 'full' }); });
after(async () => { await h.stop(); });

/** Registers `count` members over `peer`, `inFlight` at a time; resolves when all are acknowledged. */
async function burst(peer: RpcPeer, count: number, inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await peer.ok('register', { name: `burst-${next++}`, type: 'burst' });
  }));
}

describe('durable burst', () => {
  test('heartbeats and bus messages are answered while a burst of durable registrations commits', { timeout: 120_000 }, async () => {
    const loader = await RpcPeer.connect(h.wsUrl);
    const side = await RpcPeer.connect(h.wsUrl);
    const me = await side.ok('register', { name: 'bystander', type: 't', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await side.ok('bus.subscribe', { scope: '/side/', echo: true });

    let burstDone = false;
    const burstFinished = burst(loader, 4_000, 64).then(() => { burstDone = true; });
    const slowest: number[] = [];
    let answeredDuringBurst = 0;
    for (let i = 0; !burstDone; i++) {
      const t0 = performance.now();
      assert.deepEqual(await side.ok('heartbeat', { id: me.id, token: me.token }), { status: 'alive' });
      await side.ok('bus.publish', { scope: '/side/', data: i });
      await side.waitFor((n) => n.method === 'bus.message' && n.params?.data === i, 5_000);
      slowest.push(performance.now() - t0);
      if (!burstDone) answeredDuringBurst++;
    }
    await burstFinished;
    assert.ok(answeredDuringBurst >= 3, `only ${answeredDuringBurst} heartbeat + bus round trips were answered during the burst`);
    // Generous: a shared test machine; a hub that waited for the whole burst would take seconds.
    const worst = Math.max(...slowest);
    assert.ok(worst < 2_000, `a heartbeat + bus round trip took ${Math.round(worst)} ms during the burst`);
    assert.equal((await side.ok('list', { type: 'burst', limit: 1 })).total, 4_000);
    await loader.close();
    await side.close();
  });
});
