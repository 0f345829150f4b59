/** The store contract (test/contracts/store.ts) against every store muster has. */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MemoryStore } from '../src/store/memory.js';
import { SqliteStore } from '../src/store/sqlite.js';
import pino from 'pino';
import { RedisStore } from '../src/cluster/redis-store.js';
import type { Applied } from '../src/store/store.js';
import { runStoreContract } from './contracts/store.js';
import { startRedis } from './support/redis.js';
import { tempDir } from './support/hub.js';
import { until } from './support/wait.js';

runStoreContract({
  name: 'memory',
  create: async () => new MemoryStore({ eventRetention: 5 }),
  reopen: { skip: 'the memory store keeps nothing across a reopen, by design' },
  retention: 5,
});

const dirs = new WeakMap<object, string>();
// Both levels: at `full` changes wait for a sync of the WAL (pipelined), at `normal` they do not.
for (const synchronous of ['normal', 'full'] as const) runStoreContract({
  name: `sqlite (${synchronous})`,
  create: async () => {
    const dir = tempDir('muster-store-');
    const s = new SqliteStore({ dataDir: dir, eventRetention: 5, synchronous });
    dirs.set(s, dir);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return s;
  },
  reopen: async (s) => {
    const again = new SqliteStore({ dataDir: dirs.get(s)!, eventRetention: 5, synchronous });
    dirs.set(again, dirs.get(s)!);
    return again;
  },
  retention: 5,
});

// The SQLite store writes a backlog a chunk per turn and pipelines its syncs: callers still hear
// back, and the feed still runs, in revision order, and everything is in the file after a reopen.
// 10,000: a backlog many chunks long, whose written part is dropped from the queue as it goes.
for (const [synchronous, count] of [['normal', 300], ['full', 300], ['normal', 10_000]] as const) test(`sqlite (${synchronous}): a burst of ${count} changes in one turn, and 50 sent while it commits, resolve and are fed in revision order`, async () => {
  const dir = tempDir('muster-store-burst-');
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const s = new SqliteStore({ dataDir: dir, synchronous });
  await s.open();
  const fed: number[] = [];
  const resolved: number[] = [];
  s.feed((a) => fed.push(a.events[0]!.revision));
  const member = (id: string) => ({ id, name: id, type: 't', address: '', meta: {}, liveness: { kind: 'ttl' as const, ttlMs: 1000 }, tokenHash: `h-${id}`, registeredAt: 1, extra: {} });
  const send = (from: number, n: number) => Array.from({ length: n }, (_, i) => s.apply({ puts: [{ member: member(`b-${from + i}`) }], deletes: [], events: ['{"type":"added"}'] })
    .then((a) => { resolved.push(a.events[0]!.revision); }));
  const first = send(0, count);
  await new Promise((r) => setImmediate(r));
  const later = send(count, 50);
  await Promise.all([...first, ...later]);
  const inOrder = Array.from({ length: count + 50 }, (_, i) => i + 1);
  assert.deepEqual(fed, inOrder);
  assert.deepEqual(resolved, inOrder);
  await s.close();
  const again = new SqliteStore({ dataDir: dir, synchronous });
  const snap = await again.open();
  await again.close();
  assert.equal(snap.members.length, count + 50);
  assert.equal(snap.position.revision, count + 50);
});

// A feed listener that throws (a bug elsewhere) at --sync full: the changes are still answered and
// the syncs go on; the error reaches the process's unhandled-rejection backstop. In a process of
// its own: the test runner fails any test that leaves a rejection unhandled.
test('sqlite (full): a feed listener that throws leaves no change unanswered', async () => {
  const dir = tempDir('muster-store-listener-');
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const script = `
    import { SqliteStore } from ${JSON.stringify(new URL('../src/store/sqlite.ts', import.meta.url).href)};
    const seen = [];
    process.on('unhandledRejection', (r) => seen.push(String(r)));
    const s = new SqliteStore({ dataDir: ${JSON.stringify(dir)}, synchronous: 'full' });
    await s.open();
    let calls = 0;
    s.feed(() => { if (++calls === 2) throw new Error('listener bug'); });
    const member = (id) => ({ id, name: id, type: 't', address: '', meta: {}, liveness: { kind: 'ttl', ttlMs: 1000 }, tokenHash: 'h', registeredAt: 1, extra: {} });
    const apply = (id) => s.apply({ puts: [{ member: member(id) }], deletes: [], events: ['{"type":"added"}'] });
    const first = await Promise.all(['l-0', 'l-1', 'l-2'].map(apply));
    const later = await apply('l-3');
    await new Promise((r) => setTimeout(r, 50));
    await s.close();
    console.log(JSON.stringify({ revisions: [...first, later].map((a) => a.events[0].revision), seen }));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  const { revisions, seen } = JSON.parse(out.trim().split('\n').at(-1)!) as { revisions: number[]; seen: string[] };
  assert.deepEqual(revisions, [1, 2, 3, 4], 'every change answered, later ones too');
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /listener bug/);
});

// Redis: a real redis-server started for this file; each store gets its own key prefix.
const redis = await startRedis();
after(() => redis.stop());
let prefixes = 0;
const silent = pino({ level: 'silent' });
const redisStore = (prefix: string) => new RedisStore({ url: redis.url, prefix, hubId: 'contract', eventRetention: 5, commandTimeoutMs: 2000, log: silent });
const prefixOf = new WeakMap<object, string>();
runStoreContract({
  name: 'redis',
  create: async () => {
    const prefix = `contract-${++prefixes}`;
    const s = redisStore(prefix);
    prefixOf.set(s, prefix);
    return s;
  },
  reopen: async (s) => {
    const prefix = prefixOf.get(s)!;
    const again = redisStore(prefix);
    prefixOf.set(again, prefix);
    return again;
  },
  retention: 5,
});

// Entries written by hubs before the change wire of change-wire.ts (one JSON object a change,
// events and ticket inside) are still read: at open (the events kept) and by the reader.
describe('redis store - change stream entries of earlier versions', () => {
  test('an entry in the old layout is read at open and when it comes later', async () => {
    const s = redisStore('legacy');
    const again = redisStore('legacy');
    const P = '{legacy}';
    try {
      await s.open();
      const fed: Applied[] = [];
      s.feed((a) => fed.push(a));
      const epoch = await s.send<string>(['GET', `${P}:epoch`]);
      const old = async (id: string, name: string, revision: number) => {
        const put = { id, set: { name, type: 't', address: '', meta: '{"k":"v"}', liveness: '{"kind":"ttl","ttlMs":1000}', tokenHash: `h-${id}`, registeredAt: '1', extra: '{}', attachedTo: '', status: 'alive' }, whole: true };
        const body = JSON.stringify({ puts: [put], deletes: [], events: [JSON.stringify({ type: 'added', name })], conditions: {}, origin: 'older', ticket: `older:${id}` });
        // The counter first: a reader that has read past it takes the store for one that lost history.
        await s.send(['SET', `${P}:rev`, String(revision)]);
        return s.send(['XADD', `${P}:events`, `${revision}-0`, 'k', 'c', 'b', body, 'r', String(revision), 'at', String(Date.now()), 'e', epoch]);
      };
      await old('o1', 'first', 1);
      await until('the reader fed the old entry', () => fed.length === 1, 5_000);
      assert.equal(fed[0]!.change.puts[0]!.member.name, 'first');
      assert.deepEqual(fed[0]!.change.puts[0]!.member.meta, { k: 'v' });
      assert.equal(JSON.parse(fed[0]!.events[0]!.json).revision, 1);
      await old('o2', 'second', 2);
      await until('and the next one', () => fed.length === 2, 5_000);
      await s.close();
      const snap = await again.open();
      assert.deepEqual(snap.events.map((e) => JSON.parse(e.json) as unknown), [{ revision: 1, type: 'added', name: 'first' }, { revision: 2, type: 'added', name: 'second' }]);
    } finally {
      await s.close();
      await again.close();
    }
  });
});
