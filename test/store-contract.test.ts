/** The store contract (test/contracts/store.ts) against every store muster has. */
import { rmSync } from 'node:fs';
import { MemoryStore } from '../src/store/memory.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { runStoreContract } from './contracts/store.js';
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
