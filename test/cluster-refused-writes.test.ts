/**
 * Cluster mode - removals and changes that Redis refuses (a replica: READONLY), made in the hub's
 * memory first: a federation parent that runs as a cluster losing a child hub (silent, or leaving
 * cleanly), a client's unregister, a component's lifecycle transition, an RSB participant leaving
 * cleanly, a plantimager device changing its alive_timeout. Each is written again once Redis takes
 * writes, and reaches the other hub of the cluster. Before 2026-12-07 they were dropped: the removed
 * records stayed in Redis and at the other hub for good (ghosts), and a change never left the hub
 * that made it. Real hub processes, a real redis-server.
 */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import type { HubInfo, MemberView } from '../src/client/index.js';
import { PyClient } from './python/plantimager-client.js';
import { spawnHub, startHub, tempDir, type HubProcess, type TestHub } from './support/hub.js';
import { freePort } from './support/net.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { sleep, until } from './support/wait.js';

const FED = 'federation-token-removals';
const MONITOR_MS = 500;
let redis: TestRedis;
let admin: ReturnType<typeof createClient>;
let plantimagerPort = 0;
/** p0 takes the child hubs and runs the faces; p1 is the other hub of the cluster, where the removals must arrive. */
const cluster: HubProcess[] = [];

before(async () => {
  redis = await startRedis();
  admin = createClient({ url: redis.url });
  admin.on('error', () => {});
  await admin.connect();
  plantimagerPort = await freePort();
  const env = { MUSTER_CLUSTER_LEASE_MS: '3000', MUSTER_STORE_TIMEOUT_MS: '1000' };
  const common = ['--cluster', redis.url, '--federation-token', FED, '--monitor-ms', String(MONITOR_MS)];
  cluster.push(await spawnHub([...common, '--hub-id', 'p0', '--data', tempDir(), '--rsb', '127.0.0.1:0', '--plantimager', `127.0.0.1:${plantimagerPort}`], env));
  cluster.push(await spawnHub([...common, '--hub-id', 'p1', '--data', tempDir()], env));
});

after(async () => {
  await admin.sendCommand(['REPLICAOF', 'NO', 'ONE']).catch(() => {});
  await admin.quit().catch(() => {});
  for (const h of cluster) await h.kill('SIGKILL');
  await redis.stop();
});

/**
 * Runs `during` while Redis refuses every write: made a replica of a master that is not there
 * (READONLY). Not at maxmemory: Redis 7 runs a script whose first write frees memory (a removal's
 * DEL) to its end, so a removal is taken then.
 */
async function refusingWrites(during: () => Promise<void>): Promise<void> {
  await admin.sendCommand(['REPLICAOF', '127.0.0.1', '1']);
  try {
    await during();
  } finally {
    await admin.sendCommand(['REPLICAOF', 'NO', 'ONE']);
  }
}

async function listed(h: HubProcess, query: string): Promise<MemberView[]> {
  return ((await (await fetch(`${h.url}/v1/members?${query}&limit=1000`)).json()) as { members: MemberView[] }).members;
}

/** A watch at p1: the events it saw, as `type name reason`. */
async function watchAtP1(filter: Record<string, string>): Promise<{ events: () => string[]; close: () => Promise<void> }> {
  const peer = await RpcPeer.connect(cluster[1]!.wsUrl);
  await peer.ok('watch', { filter });
  const events = () => peer.notifications.filter((n) => n.method === 'event')
    .map((n) => `${n.params.event.type} ${n.params.event.member.name} ${n.params.event.reason ?? ''}`.trim());
  return { events, close: () => peer.close() };
}

/**
 * A child hub (its own process) below p0 with a grandchild below it; `lose` makes p0 lose the
 * child while Redis refuses writes. Once Redis takes writes, both records must be gone at p0 and
 * p1, with `removed` events at p1.
 */
async function childLost(child: string, grandchild: string, reason: string, lose: (c: HubProcess) => Promise<void>): Promise<void> {
  const [p0, p1] = cluster as [HubProcess, HubProcess];
  const c = await spawnHub(['--hub-id', child, '--data', tempDir(), '--registrar', p0.url, '--registrar-token', FED, '--federation-token', FED, '--monitor-ms', String(MONITOR_MS)]);
  let g: TestHub | null = null;
  const watch = await watchAtP1({ type: 'hub' });
  try {
    g = await startHub({ hubId: grandchild, registrar: c.url, registrarToken: FED, federationMonitorMs: MONITOR_MS });
    const both = [child, grandchild].sort();
    // This test's records only: another test's ghosts (on the code before the fix) are not this one's failure.
    const hubRecords = async (h: HubProcess) => (await listed(h, 'type=hub')).map((m) => m.name).filter((n) => both.includes(n)).sort();
    await until('both records at p1', async () => (await hubRecords(p1)).join() === both.join(), 15_000);
    await refusingWrites(async () => {
      await lose(c);
      await until('both records gone at p0', async () => (await hubRecords(p0)).length === 0, 10_000);
      await sleep(1_000); // a few tries refused
      assert.deepEqual(await hubRecords(p1), both, 'still at p1 while Redis refuses writes');
    });
    await until('both records gone at p1', async () => (await hubRecords(p1)).length === 0, 10_000).catch(() => {});
    assert.deepEqual(await hubRecords(p1), [], 'no ghost left at p1');
    assert.deepEqual(await hubRecords(p0), []);
    const removed = watch.events().filter((e) => e.startsWith('removed')).sort();
    assert.deepEqual(removed, both.map((n) => `removed ${n} ${reason}`), watch.events().join(', '));
  } finally {
    await c.kill('SIGKILL');
    await g?.stop();
    await watch.close();
  }
}

describe('cluster - a child hub lost while Redis refuses writes', () => {
  test('a child that stops answering (SIGSTOP): its subtree\'s records leave both parent hubs once Redis takes writes', { timeout: 45_000 }, async () => {
    await childLost('silent-child', 'silent-grand', 'hub-lost', async (c) => { process.kill(c.pid, 'SIGSTOP'); });
  });

  test('a child that deregisters and leaves (SIGTERM): its subtree\'s records leave both parent hubs once Redis takes writes', { timeout: 45_000 }, async () => {
    await childLost('leaving-child', 'leaving-grand', 'unregistered', async (c) => { assert.equal(await c.kill('SIGTERM'), 0); });
  });
});

describe('cluster - a client\'s unregister while Redis refuses writes', () => {
  test('told STORE_UNAVAILABLE, then NO_SUCH_MEMBER when it tries again; the member leaves the other hub once Redis takes writes', { timeout: 30_000 }, async () => {
    const [p0, p1] = cluster as [HubProcess, HubProcess];
    const client = await RpcPeer.connect(p0.wsUrl);
    const watch = await watchAtP1({ prefix: 'departing-' });
    try {
      const { id, token } = await client.ok<{ id: string; token: string }>('register', { name: 'departing-sensor', type: 'sensor', exclusive: true, liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await until('at p1', async () => (await listed(p1, 'prefix=departing-')).length === 1, 10_000);
      await refusingWrites(async () => {
        const first = await client.call('unregister', { id, token });
        assert.equal(first.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(first));
        const again = await client.call('unregister', { id, token });
        assert.equal(again.error?.data?.code, 'NO_SUCH_MEMBER', JSON.stringify(again));
        await sleep(1_000);
        assert.equal((await listed(p1, 'prefix=departing-')).length, 1, 'still at p1 while Redis refuses writes');
      });
      await until('gone at p1', async () => (await listed(p1, 'prefix=departing-')).length === 0, 10_000).catch(() => {});
      assert.deepEqual((await listed(p1, 'prefix=departing-')).map((m) => m.name), [], 'no ghost left at p1');
      assert.deepEqual(watch.events().filter((e) => e.startsWith('removed')), ['removed departing-sensor unregistered']);
    } finally {
      await client.close();
      await watch.close();
    }
  });
});

describe('cluster - a component\'s lifecycle while Redis refuses writes', () => {
  test('a transition Redis did not take reaches the other hub once it takes writes', { timeout: 30_000 }, async () => {
    const [p0, p1] = cluster as [HubProcess, HubProcess];
    const component = await RpcPeer.connect(p0.wsUrl);
    const stateAt = async (h: HubProcess) => (await listed(h, 'prefix=stepping-')).find((m) => m.name === 'stepping-worker')?.lifecycle?.state;
    try {
      await component.ok('register', { name: 'stepping-worker', type: 'worker', roles: ['component'], liveness: 'session', exclusive: true });
      await until('starting at p1', async () => (await stateAt(p1)) === 'starting', 10_000);
      await refusingWrites(async () => {
        await component.call('lifecycle.ready', { endpoints: { data: ['tcp://127.0.0.1:9100'] } });
        assert.equal(await stateAt(p0), 'ready');
        await sleep(1_000);
        assert.equal(await stateAt(p1), 'starting', 'the old state at p1 while Redis refuses writes');
      });
      await until('ready at p1', async () => (await stateAt(p1)) === 'ready', 10_000).catch(() => {});
      assert.equal(await stateAt(p1), 'ready', 'the new state at p1');
    } finally {
      await component.close();
    }
  });
});

describe('cluster - faces\' writes while Redis refuses writes', () => {
  test('rsb: a participant that leaves cleanly is removed at the other hub once Redis takes writes', { timeout: 30_000 }, async () => {
    const [p0, p1] = cluster as [HubProcess, HubProcess];
    const info = (await (await fetch(`${p0.url}/v1/info`)).json()) as HubInfo;
    const port = Number(info.faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1));
    const watch = await watchAtP1({ type: 'rsb' });
    const socket: Socket = createConnection({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    try {
      await new Promise<void>((resolve) => socket.once('data', () => resolve())); // the handshake
      const [member] = await until('the participant at p1', async () => { const l = await listed(p1, 'type=rsb'); return l.length === 1 && l; });
      await refusingWrites(async () => {
        socket.end(); // a clean leave
        await until('gone at p0', async () => (await listed(p0, 'type=rsb')).length === 0, 5_000);
        await sleep(1_000);
        assert.equal((await listed(p1, 'type=rsb')).length, 1, 'still at p1 while Redis refuses writes');
      });
      await until('gone at p1', async () => (await listed(p1, 'type=rsb')).length === 0, 10_000).catch(() => {});
      assert.deepEqual((await listed(p1, 'type=rsb')).map((m) => m.name), [], 'no ghost left at p1');
      assert.deepEqual(watch.events().filter((e) => e.startsWith('removed')), [`removed ${member!.name} unregistered`]);
    } finally {
      socket.destroy();
      await watch.close();
    }
  });

  test('plantimager: a device\'s new alive_timeout reaches the other hub once Redis takes writes', { timeout: 30_000 }, async () => {
    const [p0, p1] = cluster as [HubProcess, HubProcess];
    const py = new PyClient(`tcp://127.0.0.1:${plantimagerPort}`);
    try {
      const device = await py.register('camera', 'tcp://10.2.0.1:5000', 'refused-cam');
      assert.equal(await py.alive(device.uuid, 60), 'ok');
      const ttlAt = async (h: HubProcess) => (await listed(h, 'meta.face=plantimager')).find((m) => m.name === device.name)?.liveness;
      await until('60 s at p1', async () => JSON.stringify(await ttlAt(p1)) === JSON.stringify({ kind: 'ttl', ttlMs: 60_000 }), 10_000);
      await refusingWrites(async () => {
        assert.equal(await py.alive(device.uuid, 90), 'ok');
        assert.deepEqual(await ttlAt(p0), { kind: 'ttl', ttlMs: 90_000 });
        await sleep(1_500);
        assert.deepEqual(await ttlAt(p1), { kind: 'ttl', ttlMs: 60_000 }, 'the old ttl at p1 while Redis refuses writes');
      });
      await until('90 s at p1', async () => JSON.stringify(await ttlAt(p1)) === JSON.stringify({ kind: 'ttl', ttlMs: 90_000 }), 10_000).catch(() => {});
      assert.deepEqual(await ttlAt(p1), { kind: 'ttl', ttlMs: 90_000 }, 'the new ttl at p1');
    } finally {
      await py.close();
    }
  });
});
