/**
 * Cluster mode - one hub cut off from Redis while the others reach it (a network partition that
 * heals: bytes wait, as TCP would retransmit them): the cut hub answers its clients' heartbeats,
 * but their deadlines do not reach Redis, so the other hubs expire its ttl members; the cut hub
 * is not waited for. When the partition heals, what it held back goes through without bringing
 * the expired member back, the cut hub hears the removal, and its client's next heartbeat answers
 * NO_SUCH_MEMBER (the SDK then registers it again). A member the cut hub removed meanwhile, whose
 * client resumed it at the other hub, is not removed when the cut hub's removal reaches Redis;
 * one changed at the other hub meanwhile is gone at both once healed. Real hub processes, a real
 * redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { redisBlackhole, type RedisBlackhole } from './support/redis-blackhole.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { sleep, until } from './support/wait.js';

let redis: TestRedis;
let proxy: RedisBlackhole;
let direct: HubProcess;
let cut: HubProcess;
const TTL_MS = 2_000;

before(async () => {
  redis = await startRedis();
  proxy = await redisBlackhole(redis.port);
  const env = { MUSTER_CLUSTER_LEASE_MS: '3000', MUSTER_STORE_TIMEOUT_MS: '1000' };
  direct = await spawnHub(['--cluster', redis.url, '--hub-id', 'direct', '--data', tempDir()], env);
  cut = await spawnHub(['--cluster', proxy.url, '--hub-id', 'cut', '--data', tempDir()], env);
});
after(async () => {
  for (const h of [direct, cut]) await h.kill('SIGKILL');
  await proxy.close();
  await redis.stop();
});

test('a hub cut off from Redis: the others expire its ttl members; healed, the member stays gone and its client hears NO_SUCH_MEMBER', { timeout: 60_000 }, async () => {
  const member = await RpcPeer.connect(cut.wsUrl);
  const watcher = await RpcPeer.connect(direct.wsUrl);
  await watcher.ok('watch', { filter: { prefix: 'cut-' } });
  const made = await member.ok<{ id: string; token: string }>('register', { name: 'cut-cam', type: 'cam', exclusive: true, liveness: { kind: 'ttl', ttlMs: TTL_MS } });
  const removed = () => watcher.notifications.find((n) => n.method === 'event' && n.params.event.type === 'removed')?.params.event as { reason: string; member: { id: string } } | undefined;
  let beats = true;
  const answers: { status?: string; code?: string }[] = [];
  const beater = (async () => {
    while (beats) {
      const r = await member.call('heartbeat', { id: made.id, token: made.token });
      answers.push(r.error ? { code: r.error.data?.code } : (r.result as { status: string }));
      await sleep(400);
    }
  })();
  try {
    await sleep(1_000);
    proxy.partition();
    try {
      await until('expired by the hub that reaches Redis', () => removed() !== undefined, 3 * TTL_MS + 2_000);
      assert.equal(removed()!.reason, 'expired');
      assert.equal(removed()!.member.id, made.id);
      assert.equal(answers.at(-1)?.status, 'alive', 'the cut hub still answers its heartbeats');
    } finally {
      proxy.heal();
    }
    await until('the cut hub hears the removal; its client is told', () => answers.at(-1)?.code === 'NO_SUCH_MEMBER', 15_000);
    await until('the cut hub healthy again', async () => (await fetch(`${cut.url}/healthz`)).status === 200, 10_000);
    for (const h of [direct, cut]) {
      const members = (await (await fetch(`${h.url}/v1/members?prefix=cut-`)).json()).members as unknown[];
      assert.deepEqual(members, [], `${h.url}: what the cut hub held back did not bring the member back`);
    }
  } finally {
    beats = false;
    await beater;
    await member.close();
    await watcher.close();
  }
});

test('a removal the cut hub decided is not made once the member\'s client has resumed it at the other hub', { timeout: 60_000 }, async () => {
  const first = await RpcPeer.connect(cut.wsUrl);
  const admin = await RpcPeer.connect(`${cut.wsUrl}?token=${ADMIN_TOKEN}`);
  const watcher = await RpcPeer.connect(direct.wsUrl);
  await watcher.ok('watch', { filter: { prefix: 'moved-' } });
  const liveness = { kind: 'ttl', ttlMs: 60_000 };
  const made = await first.ok<{ id: string; token: string }>('register', { name: 'moved-cam', type: 'cam', exclusive: true, liveness });
  await until('the other hub knows it', async () => (await fetch(`${direct.url}/v1/members/moved-cam`)).status === 200, 5_000);
  let second: RpcPeer | undefined;
  proxy.partition();
  try {
    // Out of the cut hub's memory at once; Redis does not take the removal before the partition heals.
    const unregistered = await admin.call('unregister', { id: made.id });
    assert.equal(unregistered.error?.data?.code, 'STORE_UNAVAILABLE');
    // Its client goes to the other hub and resumes it there with its token.
    second = await RpcPeer.connect(direct.wsUrl);
    const resumed = await second.ok<{ id: string }>('register', { name: 'moved-cam', type: 'cam', exclusive: true, token: made.token, liveness });
    assert.equal(resumed.id, made.id);
  } finally {
    proxy.heal();
  }
  await until('the cut hub healthy again', async () => (await fetch(`${cut.url}/healthz`)).status === 200, 10_000);
  // The held removal and its tries again (100 ms apart) reach Redis meanwhile.
  await sleep(2_000);
  const removed = watcher.notifications.filter((n) => n.method === 'event' && n.params.event.type === 'removed');
  assert.deepEqual(removed.map((n) => n.params.event.member.name), [], 'no removal of the resumed member');
  for (const h of [direct, cut]) {
    const view = (await (await fetch(`${h.url}/v1/members/moved-cam`)).json()) as { id: string; hub: string; status: string };
    assert.deepEqual([view.id, view.hub, view.status], [made.id, 'direct', 'alive'], `${h.url}: held by the hub its client resumed it at`);
  }
  for (const p of [first, admin, watcher, second]) await p?.close();
});

test('a member the cut hub removed while cut off, changed meanwhile at the other hub, is gone at both hubs once healed', { timeout: 60_000 }, async () => {
  const client = await RpcPeer.connect(cut.wsUrl);
  const cutAdmin = await RpcPeer.connect(`${cut.wsUrl}?token=${ADMIN_TOKEN}`);
  const directAdmin = await RpcPeer.connect(`${direct.wsUrl}?token=${ADMIN_TOKEN}`);
  const made = await client.ok<{ id: string }>('register', { name: 'changed-cam', type: 'cam', exclusive: true, liveness: { kind: 'ttl', ttlMs: 60_000 } });
  await until('the other hub knows it', async () => (await fetch(`${direct.url}/v1/members/changed-cam`)).status === 200, 5_000);
  proxy.partition();
  try {
    const unregistered = await cutAdmin.call('unregister', { id: made.id });
    assert.equal(unregistered.error?.data?.code, 'STORE_UNAVAILABLE');
    // In Redis before the cut hub's removal, which waits in the partition: it reaches the cut hub as older than that removal.
    await directAdmin.ok('update', { id: made.id, address: 'changed:1' });
  } finally {
    proxy.heal();
  }
  await until('the cut hub healthy again', async () => (await fetch(`${cut.url}/healthz`)).status === 200, 10_000);
  await sleep(2_000);
  for (const h of [direct, cut]) assert.equal((await fetch(`${h.url}/v1/members/changed-cam`)).status, 404, `${h.url}: removed`);
  for (const p of [client, cutAdmin, directAdmin]) await p.close();
});
