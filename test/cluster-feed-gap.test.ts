/**
 * Cluster mode when a hub falls further behind the change stream than the stream keeps
 * (eventRetention; here 5, so a few hundred changes trim entries before the hub's reader gets to
 * them). Nothing waits for ever: every registration is answered, those whose entry the hub never
 * read with STORE_UNAVAILABLE saying they were applied. The hub says so on /healthz and in
 * /metrics while it loads the store whole again, by itself, and then shows what the store holds:
 * every registration made, and not the members removed at another hub meanwhile.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from './support/eventually.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
before(async () => { redis = await startRedis(); });
after(async () => {
  for (const h of hubs) {
    process.kill(h.pid, 'SIGCONT');
    await h.kill();
  }
  await redis.stop();
});

async function start(hubId: string, config: string): Promise<HubProcess> {
  const h = await spawnHub(['--cluster', redis.url, '--hub-id', hubId, '--data', tempDir(), '--config', config]);
  hubs.push(h);
  return h;
}

function smallStream(): string {
  const config = join(tempDir(), 'hub.json');
  writeFileSync(config, JSON.stringify({ eventRetention: 5 }));
  return config;
}

async function register(peer: RpcPeer, names: readonly string[]) {
  return Promise.race([
    Promise.all(names.map((name) => peer.call('register', { name, type: 'gap', liveness: { kind: 'ttl', ttlMs: 600_000 } }))),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('registrations still unanswered after 20 s')), 20_000)),
  ]);
}

const listed = async (hub: HubProcess, name: string) => (await fetch(`${hub.url}/v1/members/${name}`)).status === 200;

describe('cluster - a hub behind the change stream', () => {
  test('a burst larger than the stream keeps: every registration answered, the gap said, the store loaded again by itself', { timeout: 90_000 }, async () => {
    const hub = await start('gap', smallStream());
    const peer = await RpcPeer.connect(hub.wsUrl);
    const names = Array.from({ length: 300 }, (_, i) => `gap-${i}`);
    const answers = await register(peer, names);
    const refused = answers.filter((a) => a.error);
    assert.ok(refused.length > 0, 'the burst outran the stream (else this test shows nothing)');
    for (const r of refused) {
      assert.equal(r.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(r));
      assert.match(r.error!.message, /was applied, but this hub fell behind/);
    }
    assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^muster_cluster_feed_gaps_total [1-9]/m);
    await eventually(async () => (await fetch(`${hub.url}/healthz`)).status === 200, 'the hub healthy again without a restart');
    // It kept serving, and it shows every registration the store applied, without a restart.
    assert.equal((await peer.ok('register', { name: 'after-gap', type: 'gap' })).name, 'after-gap');
    peer.ws.close();
    const missing: string[] = [];
    for (const name of [...names, 'after-gap']) if (!(await listed(hub, name))) missing.push(name);
    assert.deepEqual(missing, [], 'every registration was applied and is shown');

    // Behind again soon after that load: it waits (a second at least) before the next, reading on.
    let down = 0;
    let up = 0;
    const polling = (async () => {
      const until = Date.now() + 20_000;
      while (!up && Date.now() < until) {
        const status = (await fetch(`${hub.url}/healthz`)).status;
        if (status === 503 && !down) down = Date.now();
        else if (status === 200 && down) up = Date.now();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const again = await RpcPeer.connect(hub.wsUrl);
    const second = await register(again, names.map((n) => `${n}-again`));
    assert.ok(second.some((a) => a.error), 'the second burst outran the stream too');
    await polling;
    again.ws.close();
    assert.ok(down > 0 && up > 0, 'unhealthy, then healthy again');
    assert.ok(up - down >= 900, `unhealthy for ${up - down} ms: the second load waited`);
    for (const name of ['gap-0-again', 'gap-299-again']) assert.ok(await listed(hub, name), `${name} shown after the second load`);
    await hub.kill();
    hubs.length = 0;
  });

  test('a hub that stood still while another changed more than the stream keeps sees those changes after', { timeout: 90_000 }, async () => {
    const config = smallStream();
    const still = await start('still', config);
    const busy = await start('busy', config);
    const atStill = await RpcPeer.connect(still.wsUrl);
    await atStill.ok('register', { name: 'held-here', type: 'gap', liveness: { kind: 'ttl', ttlMs: 600_000 } });
    await eventually(() => listed(busy, 'held-here'), 'the member at the other hub');
    // Stopped for a second (well within the 3 s lease): the other hub removes its member and registers 300.
    process.kill(still.pid, 'SIGSTOP');
    try {
      const removed = await fetch(`${busy.url}/v1/members/held-here`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.ok(removed.ok, String(removed.status));
      // One at a time, so that the busy hub's own reader keeps up.
      const atBusy = await RpcPeer.connect(busy.wsUrl);
      for (let i = 0; i < 300; i++) await atBusy.ok('register', { name: `busy-${i}`, type: 'gap', liveness: { kind: 'ttl', ttlMs: 600_000 } });
      atBusy.ws.close();
    } finally {
      process.kill(still.pid, 'SIGCONT');
    }
    const gaps = async () => Number(/^muster_cluster_feed_gaps_total (\d+)/m.exec(await (await fetch(`${still.url}/metrics`)).text())?.[1] ?? 0);
    await eventually(async () => (await gaps()) > 0, 'the stopped hub finding the gap');
    await eventually(async () => (await fetch(`${still.url}/healthz`)).status === 200, 'the stopped hub healthy again');
    assert.equal(await listed(still, 'held-here'), false, 'the removal it never read is seen');
    for (const name of ['busy-0', 'busy-150', 'busy-299']) assert.ok(await listed(still, name), `${name} seen at the hub that stood still`);
    // Its own client, whose member was removed elsewhere, hears it at its next call.
    const beat = await atStill.call('heartbeat', { id: 'held-here' });
    assert.equal(beat.error?.data?.code, 'NO_SUCH_MEMBER', JSON.stringify(beat));
    atStill.ws.close();
  });
});
