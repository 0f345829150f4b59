/**
 * Cluster mode - a probed member is probed by the hub that holds it, and only by it: a hub that
 * started after the member registered elsewhere does not probe it too. Before 2026-12-07 such a
 * hub probed every probed member it loaded at start (twice the probes at the device, and its own
 * failed probes removed a member the holding hub still reached), but none added after its start.
 * When its hub dies, the hub that reaps it holds and probes it: before, it was removed after the
 * grace (hub-lost), its device alive. Real hub processes, a real redis-server, a TCP device that
 * counts the probes it sees.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { sleep, until } from './support/wait.js';

let redis: TestRedis;
const hubs: HubProcess[] = [];
let device: Server;
let probes = 0;
let port = 0;
const INTERVAL_MS = 200;

before(async () => {
  redis = await startRedis();
  device = createServer((socket) => { probes++; socket.end(); });
  await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
  port = (device.address() as { port: number }).port;
});
after(async () => {
  for (const h of hubs) await h.kill('SIGKILL');
  await redis.stop();
  if (device.listening) await new Promise<void>((resolve) => device.close(() => resolve()));
});

const GRACE_MS = 1_000;
const hub = (id: string) => spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', tempDir()], { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_GRACE_MS: String(GRACE_MS) });

async function member(h: HubProcess): Promise<{ name: string; status: string; hub: string } | undefined> {
  return ((await (await fetch(`${h.url}/v1/members?prefix=probed-`)).json()).members as { name: string; status: string; hub: string }[])[0];
}

/** Probes the device saw over `ms`. */
async function probesOver(ms: number): Promise<number> {
  const before = probes;
  await sleep(ms);
  return probes - before;
}

test('a probed member is probed by its hub alone, also by a hub started after it registered', { timeout: 40_000 }, async () => {
  hubs.push(await hub('pa'));
  const r = await fetch(`${hubs[0]!.url}/v1/members`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'probed-once', type: 'cam', liveness: { kind: 'probe', target: `tcp://127.0.0.1:${port}`, intervalMs: INTERVAL_MS, timeoutMs: 500, failures: 3 } }),
  });
  assert.equal(r.status, 201);
  await until('probed', () => probes > 0, 5_000);
  const alone = await probesOver(3_000);
  hubs.push(await hub('pb'));
  await until('the member at pb', async () => ((await (await fetch(`${hubs[1]!.url}/v1/members?prefix=probed-`)).json()).members as unknown[]).length === 1, 10_000);
  const withSecondHub = await probesOver(3_000);
  // One hub: about 15 in 3 s. Both hubs probing would be about 30.
  assert.ok(alone >= 8 && alone <= 20, `one hub probes every ${INTERVAL_MS} ms: ${alone} in 3 s`);
  assert.ok(withSecondHub <= alone * 1.4, `the second hub does not probe it too: ${withSecondHub} in 3 s with two hubs against ${alone} with one`);
});

test('a probed member of a hub that dies is held and probed by the hub that reaps it, not removed', { timeout: 40_000 }, async () => {
  const [pa, pb] = hubs as [HubProcess, HubProcess];
  assert.equal((await member(pb))?.hub, 'pa');
  await pa.kill('SIGKILL');
  await until('held by pb', async () => (await member(pb))?.hub === 'pb', 15_000);
  await sleep(GRACE_MS * 2); // past the grace it would have been removed after
  // One read: pb probes it every 200 ms, so two reads may differ in lastSeen and stats.
  const held = await member(pb);
  assert.deepEqual({ name: held?.name, status: held?.status, hub: held?.hub }, { name: 'probed-once', status: 'alive', hub: 'pb' });
  const probed = await probesOver(2_000);
  assert.ok(probed >= 5, `pb probes it: ${probed} in 2 s`);
  // Its device gone, pb's probes fail, and pb removes it.
  await new Promise<void>((resolve) => device.close(() => resolve()));
  await until('removed after failed probes', async () => (await member(pb)) === undefined, 10_000);
});
