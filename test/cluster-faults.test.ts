/**
 * Cluster mode when things break, with real hub processes and a real redis-server: Redis frozen
 * for 5 s (writes answer STORE_UNAVAILABLE rather than hang, /healthz says so, all recover by
 * themselves), Redis frozen longer than a lease (no live hub taken for lost), Redis killed and restarted (appendfsync always: nothing acknowledged is lost),
 * a hub killed with SIGKILL under load (every acknowledged registration is kept).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { redisBlackhole } from './support/redis-blackhole.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

let redis: TestRedis;
let hubs: HubProcess[] = [];
const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: () => Promise<T | undefined | false> | T | undefined | false, label: string, ms = 8_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve().then(what).catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${label}`);
    await sleep(50);
  }
}

const hubArgs = (id: string) => ['--cluster', redis.url, '--hub-id', id, '--data', tempDir()];
const env = { MUSTER_CLUSTER_LEASE_MS: '3000', MUSTER_STORE_TIMEOUT_MS: '1000' };
async function register(h: HubProcess, name: string): Promise<{ status: number; body: any }> {
  const r = await fetch(h.url + '/v1/members', { method: 'POST', headers: json, body: JSON.stringify({ type: 'f', name, liveness: { kind: 'ttl', ttlMs: 600_000 } }) });
  return { status: r.status, body: await r.json() };
}
const listed = async (h: HubProcess) => ((await (await fetch(`${h.url}/v1/members?limit=1000`)).json()).members as { id: string; name: string }[]);

before(async () => {
  redis = await startRedis();
  for (const id of ['fa', 'fb']) hubs.push(await spawnHub(hubArgs(id), env));
});
after(async () => {
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
});

describe('cluster - faults', () => {
  test('Redis frozen for 5 s: writes answer STORE_UNAVAILABLE, /healthz says 503; both recover by themselves and watches go on', { timeout: 40_000 }, async () => {
    const watcher = await RpcPeer.connect(hubs[1]!.wsUrl);
    await watcher.ok('watch', { filter: { prefix: 'frozen-' } });
    assert.equal((await register(hubs[0]!, 'frozen-before')).status, 201);
    const frozen = redis.pause(5_000);
    await sleep(200);
    const t0 = Date.now();
    const refused = await register(hubs[0]!, 'frozen-during');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'STORE_UNAVAILABLE');
    assert.ok(Date.now() - t0 < 3_000, `answered in ${Date.now() - t0} ms, not hung`);
    const sick = await until(async () => { const r = await fetch(`${hubs[1]!.url}/healthz`); return r.status === 503 && (await r.json()); }, 'healthz 503', 5_000);
    assert.equal(sick.ok, false);
    await frozen;
    await until(async () => (await fetch(`${hubs[1]!.url}/healthz`)).status === 200, 'healthz 200 again', 10_000);
    assert.equal((await until(async () => { const r = await register(hubs[0]!, 'frozen-after'); return r.status === 201 && r; }, 'writes work again')).status, 201);
    await until(() => watcher.notifications.some((n) => n.method === 'event' && n.params.event.member.name === 'frozen-after'), 'the watch goes on');
    await watcher.close();
  });

  test('Redis frozen for longer than a lease (4.5 s > 3 s): no live hub is taken for lost, its session members stay alive', { timeout: 40_000 }, async () => {
    const member = await RpcPeer.connect(hubs[0]!.wsUrl);
    await member.ok('register', { type: 'f', name: 'stall-held', liveness: { kind: 'session', graceMs: 1_000 } });
    const watcher = await RpcPeer.connect(hubs[1]!.wsUrl);
    await watcher.ok('watch', { filter: { name: 'stall-held' } });
    await until(async () => (await listed(hubs[1]!)).some((m) => m.name === 'stall-held'), 'held, seen at the other hub');
    await redis.pause(4_500);
    await until(async () => (await fetch(`${hubs[0]!.url}/healthz`)).status === 200 && (await fetch(`${hubs[1]!.url}/healthz`)).status === 200, 'healthy again', 10_000);
    // Two leases and the member's grace after Redis runs again: a reap would have shown by now.
    await sleep(7_000);
    const changes = watcher.notifications.filter((n) => n.method === 'event').map((n) => `${n.params.event.type} ${n.params.event.member.status}`);
    assert.deepEqual(changes, [], 'no suspect, no removal');
    const info = await (await fetch(`${hubs[1]!.url}/v1/info`)).json();
    assert.deepEqual(info.cluster.hubs.map((h: { hubId: string }) => h.hubId).sort(), ['fa', 'fb']);
    const seen = (await listed(hubs[1]!)).find((m) => m.name === 'stall-held') as { status?: string } | undefined;
    assert.equal(seen?.status, 'alive');
    await member.close();
    await watcher.close();
  });

  test('Redis killed and restarted (appendfsync always): hubs reconnect, nothing acknowledged is lost, watches go on', { timeout: 60_000 }, async () => {
    const acked: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await register(hubs[i % 2]!, `kept-${i}`);
      if (r.status === 201) acked.push(r.body.name);
    }
    assert.equal(acked.length, 40);
    const watcher = await RpcPeer.connect(hubs[0]!.wsUrl);
    await watcher.ok('watch', { filter: { prefix: 'kept-' } });
    await redis.stop({ keepData: true });
    redis = await redis.restart();
    const r = await until(async () => { const x = await register(hubs[1]!, 'kept-after'); return x.status === 201 && x; }, 'writes after the restart', 15_000);
    assert.equal(r.status, 201);
    for (const h of hubs) {
      const names = new Set((await listed(h)).map((m) => m.name));
      for (const n of acked) assert.ok(names.has(n), `${n} kept`);
    }
    await until(() => watcher.notifications.some((n) => n.method === 'event' && n.params.event.member.name === 'kept-after'), 'the watch goes on');
    await watcher.close();
  });

  test('a hub killed with SIGKILL under load: every registration it acknowledged is in the registry', { timeout: 60_000 }, async () => {
    const doomed = await spawnHub(hubArgs('doomed'), env);
    const acked: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; i < 2_000 && !stop; i++) {
        const r = await register(doomed, `load-${i}`).catch(() => null);
        if (r?.status === 201) acked.push(r.body.id);
      }
    })();
    await until(() => acked.length >= 50, 'some acknowledged');
    await doomed.kill('SIGKILL');
    stop = true;
    await load;
    const ids = new Set((await listed(hubs[0]!)).map((m) => m.id));
    const missing = acked.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged registrations lost`);
  });

  test('a hub that cannot reach its Redis does not start: it says why (password hidden) and exits 1', { timeout: 30_000 }, async () => {
    const t0 = Date.now();
    const failed = await spawnHub(['--cluster', 'redis://:s3cret-pass@127.0.0.1:1', '--hub-id', 'nowhere', '--data', tempDir()], { ...env, MUSTER_STORE_TIMEOUT_MS: '500' }).then(
      () => null, (err: Error) => err.message);
    assert.ok(failed, 'it did not start');
    assert.match(failed, /exited with 1/);
    // Both the stable code and the reason, with the address the operator gave (password hidden).
    assert.match(failed, /STORE_UNAVAILABLE/);
    assert.match(failed, /Cannot reach the cluster's Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 within \d+ ms: connect ECONNREFUSED/);
    assert.doesNotMatch(failed, /s3cret-pass/);
    assert.ok(Date.now() - t0 < 15_000, `gave up in ${Date.now() - t0} ms`);
  });

  test('a hub asked to stop while its Redis is frozen, or gone, stops within its store timeout', { timeout: 40_000 }, async () => {
    for (const fault of ['frozen', 'gone'] as const) {
      const own = await startRedis();
      const h = await spawnHub(['--cluster', own.url, '--hub-id', `stops-${fault}`, '--data', tempDir()], env);
      assert.equal((await register(h, `before-${fault}`)).status, 201);
      const thawed = fault === 'frozen' ? own.pause(10_000) : own.stop().then(() => {});
      if (fault === 'gone') await thawed;
      const t0 = Date.now();
      const code = await Promise.race([h.kill('SIGTERM'), sleep(8_000).then(() => 'still running')]);
      const took = Date.now() - t0;
      if (code === 'still running') await h.kill('SIGKILL');
      assert.equal(code, 0, `Redis ${fault}: the hub stopped (exit ${String(code)}) in ${took} ms`);
      // Leaving the cluster and closing the store each wait one store timeout (1 s here) at most.
      assert.ok(took < 3_500, `Redis ${fault}: stopped in ${took} ms`);
      await thawed;
      if (fault === 'frozen') await own.stop();
    }
  });

  test('a hub whose bus subscription dies silently notices (unhealthy), subscribes again by itself, and hears the other hubs again', { timeout: 40_000 }, async () => {
    const hole = await redisBlackhole(redis.port);
    const quiet = await spawnHub(['--cluster', hole.url, '--hub-id', 'quiet', '--data', tempDir()], env);
    try {
      const sub = await RpcPeer.connect(quiet.wsUrl);
      await sub.ok('register', { type: 'f', name: 'quiet-sub' });
      await sub.ok('bus.subscribe', { scope: '/quiet/' });
      const pub = await RpcPeer.connect(hubs[0]!.wsUrl);
      await pub.ok('register', { type: 'f', name: 'quiet-pub' });
      const heard = (text: string) => sub.notifications.some((n) => n.method === 'bus.message' && JSON.stringify(n.params).includes(text));
      await until(async () => { await pub.ok('bus.publish', { scope: '/quiet/', data: 'before' }); await sleep(100); return heard('before'); }, 'heard before');
      assert.ok(hole.silenceSubscribers() >= 1, 'the subscription is silenced');
      const sick = await until(async () => { const r = await fetch(`${quiet.url}/healthz`); return r.status === 503 && r; }, 'unhealthy', 10_000);
      assert.equal(sick.status, 503);
      await until(async () => (await fetch(`${quiet.url}/healthz`)).status === 200, 'healthy again', 10_000);
      await until(async () => { await pub.ok('bus.publish', { scope: '/quiet/', data: 'after' }); await sleep(100); return heard('after'); }, 'hears the others again', 10_000);
      const metrics = await (await fetch(`${quiet.url}/metrics`)).text();
      assert.match(metrics, /muster_cluster_bus_resubscribed_total [1-9]/);
      await sub.close();
      await pub.close();
    } finally {
      await quiet.kill('SIGKILL');
      await hole.close();
    }
  });
});
