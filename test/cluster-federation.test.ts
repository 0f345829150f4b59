/**
 * A cluster as part of a federation tree: two cluster hubs (processes on one redis-server) are
 * each a child of one root hub (`--registrar` on both). The root sees members of the cluster as
 * `hub/name` of the cluster hub that holds them, once each; bus traffic crosses both ways, and a
 * tree-wide publication reaches each subscriber once (no loop through Redis and the tree).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bus, type BusMessage, type HubInfo, type MemberView, type MusterClient } from '../src/client/index.js';
import type { TreeNode } from '../src/schemas/federation.js';
import { spawnHub, startHub, tempDir, type HubProcess, type TestHub } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { adminHttp, hubIds, sessionMember } from './support/tree.js';
import { sleep, until } from './support/wait.js';

const FED = 'federation-token-1';
const MONITOR_MS = 500;
let redis: TestRedis;
let root: TestHub;
const cluster: HubProcess[] = [];
const clients: MusterClient[] = [];
const dir = tempDir('muster-cfed-');

const http = adminHttp;
const member = (url: string, name: string) => sessionMember(url, name, clients);

before(async () => {
  redis = await startRedis();
  root = await startHub({ hubId: 'root', federationToken: FED, federationMonitorMs: MONITOR_MS, federationGraceMs: 1500 });
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ registrar: root.url, registrarToken: FED, federationMonitorMs: MONITOR_MS }));
  for (const id of ['k0', 'k1']) {
    cluster.push(await spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', join(dir, id), '--config', config], { MUSTER_CLUSTER_LEASE_MS: '1000' }));
  }
  await until('both cluster hubs below the root', async () => hubIds((await http<TreeNode>(root.url, 'GET', '/v1/tree')).body).sort().join(',') === 'k0,k1,root');
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const h of cluster) await h.kill('SIGKILL');
  await root.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('cluster in a federation tree', () => {
  test('members of the cluster appear at the root as hub/name of the cluster hub holding them, once each', async () => {
    await member(cluster[0]!.url, 'on-k0');
    await member(cluster[1]!.url, 'on-k1');
    const one = (await until('on-k1 at the root', async () => { const r = await http<MemberView>(root.url, 'GET', '/v1/members/k1%2Fon-k1'); return r.status === 200 && r; })).body;
    assert.equal(one.hub, 'k1');
    assert.equal((await http<MemberView>(root.url, 'GET', '/v1/members/k0%2Fon-k0')).body.hub, 'k0');
    const listed = (await http<{ members: MemberView[] }>(root.url, 'GET', '/v1/members?hub=k1&type=svc')).body.members;
    assert.deepEqual(listed.map((m) => `${m.hub}/${m.name}`), ['k1/on-k1'], 'a hub lists the members it holds');
    const all = await until('both in the subtree', async () => {
      const l = (await http<{ members: MemberView[] }>(root.url, 'GET', '/v1/members?subtree=true&type=svc')).body.members;
      return l.length >= 2 && l;
    });
    assert.deepEqual(all.map((m) => `${m.hub}/${m.name}`).sort(), ['k0/on-k0', 'k1/on-k1'], 'each once');
    const tree = (await http<TreeNode>(root.url, 'GET', '/v1/tree')).body;
    assert.deepEqual(tree.children.map((c) => c.hubId).sort(), ['k0', 'k1']);
  });

  test('send and request from the root reach a member on the second cluster hub; the answer comes back', async () => {
    const target = await member(cluster[1]!.url, 'target');
    const got: BusMessage[] = [];
    bus(target).onMessage((m) => got.push(m));
    bus(target).onRequest('add', (p, ctx) => ({ sum: (p as { a: number; b: number }).a + (p as { a: number; b: number }).b, from: ctx.from }));
    const sender = await member(root.url, 'sender');
    await until('target known at the root', async () => (await http(root.url, 'GET', '/v1/members/k1%2Ftarget')).status === 200);
    bus(sender).send('k1/target', { hello: 1 });
    await bus(sender).flush(); // resolves: no refusal reported
    await until('the message at the target', () => got.length === 1);
    assert.deepEqual([got[0]!.from, got[0]!.data], ['root/sender', { hello: 1 }]);
    assert.deepEqual(await bus(sender).request('k1/target', 'add', { a: 2, b: 3 }, { timeoutMs: 3000 }), { sum: 5, from: 'root/sender' });
    // And up: a member of the cluster asks a member of the root.
    bus(sender).onRequest('ping', (_p, ctx) => `pong ${ctx.from}`);
    assert.equal(await bus(target).request('root/sender', 'ping', null, { timeoutMs: 3000 }), 'pong k1/target');
  });

  test('a tree-wide publication crosses into the cluster and out of it, reaching each subscriber once', async () => {
    const s0 = await member(cluster[0]!.url, 'sub-k0');
    const s1 = await member(cluster[1]!.url, 'sub-k1');
    const sRoot = await member(root.url, 'sub-root');
    const got = new Map<string, BusMessage[]>([['k0', []], ['k1', []], ['root', []]]);
    await bus(s0).subscribe('/tree/news/', (m) => got.get('k0')!.push(m)).ready;
    await bus(s1).subscribe('/tree/news/', (m) => got.get('k1')!.push(m)).ready;
    await bus(sRoot).subscribe('/tree/news/', (m) => got.get('root')!.push(m)).ready;
    const pubRoot = await member(root.url, 'pub-root');
    const pubK0 = await member(cluster[0]!.url, 'pub-k0');
    const probe = (from: MusterClient, tag: string, where: string[]) => until(`${tag} reaches ${where.join(' ')}`, async () => {
      await bus(from).publish('/tree/news/', { probe: tag });
      await sleep(100);
      return where.every((w) => got.get(w)!.some((m) => (m.data as { probe?: string }).probe === tag));
    });
    await probe(pubRoot, 'down', ['k0', 'k1']);
    await probe(pubK0, 'up', ['root', 'k1']);
    await bus(pubRoot).publish('/tree/news/', { n: 'from-root' });
    await bus(pubK0).publish('/tree/news/', { n: 'from-k0' });
    const count = (w: string, n: string) => got.get(w)!.filter((m) => (m.data as { n?: string }).n === n).length;
    await until('every subscriber got both', () => ['k0', 'k1', 'root'].every((w) => count(w, 'from-root') >= 1 && count(w, 'from-k0') >= 1));
    // Markers, each sent once the one before arrived, so they follow every copy on every link
    // (root to each cluster hub, each cluster hub to the root, Redis both ways): a copy of the
    // two that came the long way round would be counted before the last marker arrives.
    const marker = async (from: MusterClient, n: string) => {
      await bus(from).publish('/tree/news/', { n });
      await until(n, () => ['k0', 'k1', 'root'].every((w) => count(w, n) >= 1));
    };
    const pubK1 = await member(cluster[1]!.url, 'pub-k1');
    await probe(pubK1, 'k1', ['k0', 'root']);
    await marker(pubK0, 'marker-1');
    await marker(pubRoot, 'marker-2');
    await marker(pubK1, 'marker-3');
    await marker(pubK0, 'marker-4');
    for (const n of ['marker-1', 'marker-2', 'marker-3', 'marker-4']) for (const w of ['k0', 'k1', 'root']) assert.equal(count(w, n), 1, `${n} once at ${w}`);
    for (const w of ['k0', 'k1', 'root']) {
      assert.equal(count(w, 'from-root'), 1, `from-root once at ${w}`);
      assert.equal(count(w, 'from-k0'), 1, `from-k0 once at ${w}`);
    }
    const k0Msg = got.get('root')!.find((m) => (m.data as { n?: string }).n === 'from-k0')!;
    assert.equal(k0Msg.from, 'k0/pub-k0');
  });

  test('one cluster hub stopped: the root drops it, the other goes on below the root', async () => {
    const target = await member(cluster[1]!.url, 'stays');
    const got: BusMessage[] = [];
    bus(target).onMessage((m) => got.push(m));
    assert.equal((await http<MemberView>(cluster[1]!.url, 'GET', '/v1/members/root')).body.roles?.[0], 'registrar', 'the cluster keeps one record of its registrar');
    assert.equal(await cluster[0]!.kill('SIGTERM'), 0);
    await until('k0 gone from the tree', async () => hubIds((await http<TreeNode>(root.url, 'GET', '/v1/tree')).body).sort().join(',') === 'k1,root');
    const sender = await member(root.url, 'sender-2');
    await until('stays known at the root', async () => (await http(root.url, 'GET', '/v1/members/k1%2Fstays')).status === 200);
    await bus(sender).send('k1/stays', 'still here');
    await until('the message', () => got.some((m) => m.data === 'still here'));
    const info = (await http<HubInfo>(cluster[1]!.url, 'GET', '/v1/info')).body;
    assert.equal(info.federation.connected, true);
    // The stopped hub took the registrar's record with it: the other's connection monitor puts it back, held by it.
    const record = await until('the registrar record back at k1', async () => {
      const r = await http<MemberView>(cluster[1]!.url, 'GET', '/v1/members/root');
      return r.status === 200 && r.body.status === 'alive' && r.body;
    });
    assert.deepEqual([record.hub, record.roles], ['k1', ['registrar']]);
  });
});
