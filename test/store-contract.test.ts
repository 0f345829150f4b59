/** The store contract (test/contracts/store.ts) against every store muster has. */
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { MemoryStore } from '../src/store/memory.js';
import { SqliteStore } from '../src/store/sqlite.js';
import pino from 'pino';
import { RedisStore } from '../src/cluster/redis-store.js';
import { runStoreContract } from './contracts/store.js';
import { startRedis } from './support/redis.js';
import { tempDir } from './support/hub.js';

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
