/** The store contract (test/contracts/store.ts) against every store muster has. */
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
runStoreContract({
  name: 'sqlite',
  create: async () => {
    const dir = tempDir('muster-store-');
    const s = new SqliteStore({ dataDir: dir, eventRetention: 5, synchronous: 'normal' });
    dirs.set(s, dir);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return s;
  },
  reopen: async (s) => {
    const again = new SqliteStore({ dataDir: dirs.get(s)!, eventRetention: 5, synchronous: 'normal' });
    dirs.set(again, dirs.get(s)!);
    return again;
  },
  retention: 5,
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
  reopen: async (s) => redisStore(prefixOf.get(s)!),
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
