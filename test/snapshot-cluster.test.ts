import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createClient } from '@redis/client';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';

interface Registered { id: string; name: string; token: string }
interface Saved { members: number; events: number; revision: number; epoch: string; store: string }

const dir = tempDir('muster-snapshot-cluster-');
const env = { MUSTER_CLUSTER_LEASE_MS: '1000', MUSTER_STORE_TIMEOUT_MS: '2000' };
let redis: TestRedis;
const running: HubProcess[] = [];
const peers: RpcPeer[] = [];

async function http(url: string, method: string, body?: unknown, token?: string): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  try { return { status: res.status, json: JSON.parse(text) }; } catch { return { status: res.status, json: text }; }
}

async function register(hub: HubProcess, name: string): Promise<Registered> {
  const r = await http(`${hub.url}/v1/members`, 'POST', { name, type: 'sensor', address: `tcp://10.0.0.1/${name}`, meta: { k: 'v' }, liveness: { kind: 'ttl', ttlMs: 600_000 } });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json as Registered;
}

async function hub(args: string[]): Promise<HubProcess> {
  const h = await spawnHub(args, env);
  running.push(h);
  return h;
}
const clusterHub = (id: string, prefix = 'muster') => hub(['--cluster', redis.url, '--cluster-prefix', prefix, '--hub-id', id, '--data', tempDir()]);
const admin = (h: HubProcess) => ['--hub', h.url, '--token', ADMIN_TOKEN];

/**
 * Registers `pre` members, then keeps `writers` registering on every hub while `save` runs; returns
 * the snapshot's summary, the members acknowledged before the save started and all acknowledged.
 */
async function saveUnderLoad(hubs: HubProcess[], tag: string, file: string): Promise<{ saved: Saved; before: Registered[]; acked: Registered[] }> {
  const acked: Registered[] = [];
  for (let i = 0; i < 120; i++) acked.push(await register(hubs[i % hubs.length]!, `${tag}-pre-${i}`));
  let stop = false;
  const writers = hubs.flatMap((h, hi) => [0, 1].map(async (w) => {
    for (let i = 0; i < 300 && !stop; i++) acked.push(await register(h, `${tag}-load-${hi}-${w}-${i}`));
  }));
  await new Promise((r) => setTimeout(r, 100));
  const before = acked.slice();
  const save = await runMuster(['snapshot', 'save', file, ...admin(hubs[0]!), '--json']);
  const duringSave = acked.length;
  stop = true;
  await Promise.all(writers);
  assert.equal(save.code, 0, save.stderr);
  assert.ok(duringSave > before.length, 'registrations went on during the save');
  return { saved: JSON.parse(save.stdout) as Saved, before, acked };
}

/** Every member acknowledged before the save is at `h` with its id and name, and acts with its old token. */
async function allPresent(h: HubProcess, before: Registered[], acked: Registered[], saved: Saved): Promise<void> {
  const byId = new Map<string, string>();
  for (let after = ''; ;) {
    const page = await http(`${h.url}/v1/members?limit=1000${after ? `&after=${after}` : ''}`, 'GET');
    assert.equal(page.status, 200, JSON.stringify(page.json));
    for (const m of page.json.members as { id: string; name: string }[]) byId.set(m.id, m.name);
    if (!page.json.next) break;
    after = page.json.next as string;
  }
  assert.equal(byId.size, saved.members);
  for (const m of before) assert.equal(byId.get(m.id), m.name, `${m.name} (${m.id}) missing after restore`);
  // None half-written: every member in the file was acknowledged, whole, with its own name.
  const ackedNames = new Map(acked.map((m) => [m.id, m.name]));
  for (const [id, name] of byId) assert.equal(ackedNames.get(id), name, `${id} restored but never acknowledged as ${name}`);
  for (const m of [before[0]!, before[before.length - 1]!]) {
    const hb = await http(`${h.url}/v1/members/${m.id}/heartbeat`, 'PUT', undefined, m.token);
    assert.equal(hb.status, 200, JSON.stringify(hb.json));
    assert.notEqual((await http(`${h.url}/v1/members/${m.id}/heartbeat`, 'PUT', undefined, 'not-its-token')).status, 200);
  }
}

async function keysOf(prefix: string): Promise<string[]> {
  const c = createClient({ url: redis.url });
  await c.connect();
  try {
    return await c.sendCommand<string[]>(['KEYS', `{${prefix}}:*`]);
  } finally {
    await c.quit();
  }
}

before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const p of peers) p.ws.terminate();
  for (const h of running) await h.kill('SIGKILL');
  await redis.stop();
});

describe('snapshot - cluster', () => {
  const clusterFile = join(dir, 'cluster.snap');
  let source: HubProcess[] = [];
  let sourceAcked: Registered[] = [];

  test('saved from a cluster of 3 hubs under load, restored into a SQLite hub: every member acknowledged before the save, with its id, name and token', { timeout: 120_000 }, async (t) => {
    source = [await clusterHub('sa'), await clusterHub('sb'), await clusterHub('sc')];
    const { saved, before, acked } = await saveUnderLoad(source, 'c', clusterFile);
    sourceAcked = acked;
    t.diagnostic(`acknowledged before the save ${before.length}, saved ${saved.members} at revision ${saved.revision}, acknowledged in all ${acked.length}`);
    assert.equal(saved.store, 'redis');
    assert.ok(saved.members >= before.length && saved.members <= acked.length);
    assert.deepEqual((await keysOf('muster')).filter((k) => k.includes(':snap:')), [], 'the spool is gone');
    const inspect = await runMuster(['snapshot', 'inspect', clusterFile]);
    assert.match(inspect.stdout, /from\s+hub sa, redis store/);

    const data = join(dir, 'from-cluster');
    const restore = await runMuster(['snapshot', 'restore', clusterFile, '--data', data]);
    assert.equal(restore.code, 0, restore.stderr);
    const single = await hub(['--data', data]);
    await allPresent(single, before, acked, saved);
  });

  test('saved from a SQLite hub under load, restored into a fresh cluster of 2 hubs; a watch of the old history answers COMPACTED', { timeout: 120_000 }, async () => {
    const single = await hub(['--data', join(dir, 'single'), '--sync', 'normal']);
    const file = join(dir, 'single.snap');
    const { saved, before, acked } = await saveUnderLoad([single], 's', file);
    const restore = await runMuster(['snapshot', 'restore', file, '--cluster', redis.url, '--cluster-prefix', 'restored', '--json']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(JSON.parse(restore.stdout).members, saved.members);
    const hubs = [await clusterHub('ra', 'restored'), await clusterHub('rb', 'restored')];
    for (const h of hubs) await allPresent(h, before, acked, saved);
    const peer = await RpcPeer.connect(hubs[1]!.wsUrl);
    peers.push(peer);
    const resumed = await peer.call('watch', { since: saved.revision - 1, epoch: saved.epoch });
    assert.equal(resumed.error?.data?.code, 'COMPACTED');
    // The restored cluster goes on: a new member, after the snapshot's revision.
    const fresh = await register(hubs[0]!, 'after-restore');
    const deadline = Date.now() + 5_000;
    while ((await http(`${hubs[1]!.url}/v1/members/${fresh.id}`, 'GET')).status !== 200) {
      assert.ok(Date.now() < deadline, 'the other hub of the restored cluster never saw the new member');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  test('restore into a cluster refuses while a hub of the prefix runs, and a prefix that holds a registry unless --force', { timeout: 60_000 }, async () => {
    // Keys of other prefixes spread the leases over several SCAN pages: every running hub is still named.
    const other = createClient({ url: redis.url });
    await other.connect();
    try {
      for (let i = 0; i < 20_000; i += 1_000) await other.mSet(Array.from({ length: 1_000 }, (_, j) => [`{spread}:key:${i + j}`, 'x'] as [string, string]));
    } finally {
      await other.quit();
    }
    const busy = await runMuster(['snapshot', 'restore', clusterFile, '--cluster', redis.url, '--cluster-prefix', 'restored']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /INVALID_PARAMS: Hubs of cluster prefix restored are running \((ra, rb|rb, ra)\)/);
    for (const h of running.filter((x) => /restored/.test(x.child.spawnargs.join(' ')))) await h.kill('SIGTERM');
    const held = await runMuster(['snapshot', 'restore', clusterFile, '--cluster', redis.url, '--cluster-prefix', 'restored']);
    assert.equal(held.code, 1);
    assert.match(held.stderr, /INVALID_PARAMS: .*already holds a registry.*--force/);
    const forced = await runMuster(['snapshot', 'restore', clusterFile, '--cluster', redis.url, '--cluster-prefix', 'restored', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const back = await clusterHub('rc', 'restored');
    const saved = JSON.parse((await runMuster(['snapshot', 'inspect', clusterFile, '--json'])).stdout) as Saved;
    assert.equal((await http(`${back.url}/v1/members?limit=1`, 'GET')).json.total, saved.members);
  });

  describe('bad files into a cluster: SNAPSHOT_INVALID, nothing written to Redis', () => {
    const lines = () => gunzipSync(readFileSync(clusterFile)).toString('utf8').split('\n');
    const cases: [string, () => Buffer, RegExp][] = [
      ['truncated', () => readFileSync(clusterFile).subarray(0, Math.floor(readFileSync(clusterFile).length / 2)), /cut short/],
      ['no trailer', () => gzipSync(lines().slice(0, 20).join('\n')), /no trailer/],
      ['a changed line', () => gzipSync(lines().map((l, i) => (i === 5 ? l.replace('"name":"', '"name":"x') : l)).join('\n')), /checksum/],
      ['a newer version', () => gzipSync([lines()[0]!.replace('"version":1', '"version":2'), ...lines().slice(1)].join('\n')), /version 2; this muster reads version 1/],
    ];
    for (const [what, make, reason] of cases) {
      test(what, async () => {
        const file = join(dir, `bad-${what.replace(/ /g, '-')}.snap`);
        writeFileSync(file, make());
        const r = await runMuster(['snapshot', 'restore', file, '--cluster', redis.url, '--cluster-prefix', 'bad']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^muster: SNAPSHOT_INVALID: /);
        assert.match(r.stderr, reason);
        assert.deepEqual(await keysOf('bad'), []);
      });
    }
  });

  test('concurrent saves on one cluster hub: at most 2 at once, a third THROTTLED; the cluster lost nothing', { timeout: 60_000 }, async () => {
    const answers = await Promise.all([0, 1, 2, 3].map(() => fetch(`${source[0]!.url}/v1/admin/snapshot`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })));
    const statuses = answers.map((a) => a.status).sort();
    const refused = answers.filter((a) => a.status === 429);
    assert.ok(refused.length >= 2, `statuses ${statuses.join(',')}`);
    for (const a of refused) assert.equal(((await a.json()) as { error: { code: string } }).error.code, 'THROTTLED');
    for (const a of answers.filter((x) => x.status === 200)) assert.ok((await a.arrayBuffer()).byteLength > 0);
    for (const h of source) assert.equal((await http(`${h.url}/v1/members?limit=1`, 'GET')).json.total, sourceAcked.length);
  });
});
