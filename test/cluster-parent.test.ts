/**
 * A cluster as a parent in a federation tree: two cluster hubs (processes on one redis-server)
 * take child hubs; `leaf` registers with p0 only. From p1, which has no link to it, the leaf's
 * members are looked up, listed, messaged and asked, and the tree shows it: the cluster is one
 * node of the tree. Tree-wide publications cross between the leaf and both cluster hubs, each
 * reaching every subscriber once.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bus, type BusMessage, type MemberView, type MusterClient } from '../src/client/index.js';
import type { TreeNode } from '../src/schemas/federation.js';
import { spawnHub, startHub, tempDir, type HubProcess, type TestHub } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { adminHttp, hubIds, sessionMember } from './support/tree.js';
import { sleep, until } from './support/wait.js';

const FED = 'federation-token-2';
const MONITOR_MS = 500;
let redis: TestRedis;
let leaf: TestHub;
const cluster: HubProcess[] = [];
const clients: MusterClient[] = [];
const dir = tempDir('muster-cparent-');

const http = adminHttp;
const member = (url: string, name: string) => sessionMember(url, name, clients);

before(async () => {
  redis = await startRedis();
  for (const id of ['p0', 'p1']) {
    cluster.push(await spawnHub(['--cluster', redis.url, '--hub-id', id, '--data', join(dir, id), '--federation-token', FED, '--monitor-ms', String(MONITOR_MS)], { MUSTER_CLUSTER_LEASE_MS: '1000' }));
  }
  leaf = await startHub({ hubId: 'leaf', registrar: cluster[0]!.url, registrarToken: FED, federationMonitorMs: MONITOR_MS });
  await until('the leaf below p0', async () => hubIds((await http<TreeNode>(cluster[0]!.url, 'GET', '/v1/tree')).body).join(',') === 'p0,leaf');
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await leaf.stop();
  for (const h of cluster) await h.kill('SIGKILL');
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a cluster as a parent of hubs', () => {
  test('the other cluster hub shows the leaf in its tree, finds and lists its members', async () => {
    const tree = await until('the leaf in p1\'s tree', async () => {
      const t = (await http<TreeNode>(cluster[1]!.url, 'GET', '/v1/tree')).body;
      return t.children.length === 1 && t;
    });
    assert.deepEqual([tree.hubId, tree.children[0]!.hubId, tree.children[0]!.status], ['p1', 'leaf', 'up'], 'asked now, through p0');
    assert.equal(tree.children[0]!.members?.total, 1, 'the leaf\'s own count (its record of p0)');
    await member(leaf.url, 'cam');
    const found = await until('leaf/cam from p1', async () => { const r = await http<MemberView>(cluster[1]!.url, 'GET', '/v1/members/leaf%2Fcam'); return r.status === 200 && r.body; });
    assert.deepEqual([found.name, found.hub], ['cam', 'leaf']);
    const listed = (await http<{ members: MemberView[] }>(cluster[1]!.url, 'GET', '/v1/members?hub=leaf&type=svc')).body.members;
    assert.deepEqual(listed.map((m) => `${m.hub}/${m.name}`), ['leaf/cam']);
    await member(cluster[1]!.url, 'on-p1');
    const subtree = await until('the subtree from p1', async () => {
      const l = (await http<{ members: MemberView[] }>(cluster[1]!.url, 'GET', '/v1/members?subtree=true&type=svc')).body.members;
      return l.some((m) => m.name === 'on-p1') && l;
    });
    assert.deepEqual(subtree.map((m) => `${m.hub}/${m.name}`).filter((a) => /cam|on-p1/.test(a)).sort(), ['leaf/cam', 'p1/on-p1'], 'each once');
    const missing = await http<{ error: { code: string } }>(cluster[1]!.url, 'GET', '/v1/members/nowhere%2Fcam');
    assert.equal(missing.body.error.code, 'NO_SUCH_HUB');
  });

  test('send and request from p1 reach a member of the leaf, and the leaf\'s member asks p1\'s back', async () => {
    const target = await member(leaf.url, 'target');
    const got: BusMessage[] = [];
    bus(target).onMessage((m) => got.push(m));
    bus(target).onRequest('add', (p, ctx) => ({ sum: (p as { a: number; b: number }).a + (p as { a: number; b: number }).b, from: ctx.from }));
    const asker = await member(cluster[1]!.url, 'asker');
    await until('leaf/target known at p1', async () => (await http(cluster[1]!.url, 'GET', '/v1/members/leaf%2Ftarget')).status === 200);
    assert.equal(bus(asker).send('leaf/target', { hello: 1 }), true);
    await bus(asker).flush();
    await until('the message at the leaf', () => got.length === 1);
    assert.deepEqual([got[0]!.from, got[0]!.data], ['p1/asker', { hello: 1 }]);
    assert.deepEqual(await bus(asker).request('leaf/target', 'add', { a: 2, b: 3 }, { timeoutMs: 3000 }), { sum: 5, from: 'p1/asker' });
    bus(asker).onRequest('ping', (_p, ctx) => `pong ${ctx.from}`);
    assert.equal(await bus(target).request('p1/asker', 'ping', null, { timeoutMs: 3000 }), 'pong leaf/target');
  });

  test('a tree-wide publication crosses between the leaf and both cluster hubs, reaching each subscriber once', async () => {
    const where = ['leaf', 'p0', 'p1'] as const;
    const urls = { leaf: leaf.url, p0: cluster[0]!.url, p1: cluster[1]!.url };
    const got = new Map<string, BusMessage[]>(where.map((w) => [w, []]));
    for (const w of where) await bus(await member(urls[w], `sub-${w}`)).subscribe('/tree/news/', (m) => got.get(w)!.push(m)).ready;
    const pub = { leaf: await member(leaf.url, 'pub-leaf'), p0: await member(urls.p0, 'pub-p0'), p1: await member(urls.p1, 'pub-p1') };
    const count = (w: string, n: string) => got.get(w)!.filter((m) => (m.data as { n?: string }).n === n).length;
    // Interest spreads with a delay: probe until each publisher reaches every subscriber.
    for (const from of where) {
      await until(`${from} reaches all`, async () => {
        await bus(pub[from]).publish('/tree/news/', { probe: from });
        await sleep(100);
        return where.every((w) => got.get(w)!.some((m) => (m.data as { probe?: string }).probe === from));
      });
    }
    // Markers, each sent once the one before arrived everywhere: a copy that came the long way
    // round (leaf -> p0 -> Redis -> p1 -> ...) would be counted before the last one arrives.
    const order = ['leaf', 'p1', 'p0', 'leaf', 'p1'] as const;
    for (const [i, from] of order.entries()) {
      await bus(pub[from]).publish('/tree/news/', { n: `marker-${i}` });
      await until(`marker-${i} everywhere`, () => where.every((w) => count(w, `marker-${i}`) >= 1));
    }
    await sleep(200);
    for (const i of order.keys()) for (const w of where) assert.equal(count(w, `marker-${i}`), 1, `marker-${i} (from ${order[i]}) once at ${w}`);
    const fromLeaf = got.get('p1')!.find((m) => (m.data as { n?: string }).n === 'marker-0')!;
    assert.equal(fromLeaf.from, 'leaf/pub-leaf');
    const fromP1 = got.get('leaf')!.find((m) => (m.data as { n?: string }).n === 'marker-1')!;
    assert.equal(fromP1.from, 'p1/pub-p1');
  });
});
