/**
 * Snapshots of a store with 100,000 members and 10,000 kept events, in process:
 *  - saveMs, bytes: the gzip stream of a snapshot written to a file while changes go on
 *  - loopDelayMs: the event loop's delay during the save (max, p99): how long the hub is blocked at once
 *  - changesDuringSave: changes applied and acknowledged while the save ran (the hub is not paused)
 *  - inspectMs, restoreMs: `snapshot inspect` (read and check the whole file) and `restore` (check, then write)
 *  - cluster: the same file restored into a redis-server of its own (restoreMs), then saved through
 *    the cluster's store (Redis) as a cluster hub does, while changes go on (saveMs, loopDelayMs, changesDuringSave)
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SnapshotSaver } from '../src/store/snapshot-saver.js';
import { readSnapshot } from '../src/store/snapshot-reader.js';
import { restoreSnapshot } from '../src/store/snapshot-restore.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store, StoredMember } from '../src/store/store.js';
import { pino } from 'pino';
import { RedisStore } from '../src/cluster/redis-store.js';
import { restoreIntoCluster } from '../src/cluster/redis-restore.js';
import { startRedis } from '../test/support/redis.js';

const MEMBERS = 100_000;
const EVENTS = 10_000;
const round = (ms: number) => Math.round(ms * 10) / 10;

function member(i: number): StoredMember {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `sensor-${i}`, type: 'sensor', address: `tcp://10.0.${i >> 8 & 255}.${i & 255}:5555`,
    meta: { site: `site-${i % 10}` }, liveness: { kind: 'ttl', ttlMs: 20_000 }, tokenHash: 'h'.repeat(64), registeredAt: Date.now(), extra: {},
  };
}

export default async function snapshotBench(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-snapshot-'));
  try {
    const store = new SqliteStore({ dataDir: join(dir, 'data'), synchronous: 'normal' });
    await store.open();
    for (let i = 0; i < MEMBERS; i += 1000) store.restorePage(Array.from({ length: 1000 }, (_, j) => member(i + j)), []);
    store.restorePage([], Array.from({ length: EVENTS }, (_, j) => ({ revision: j + 1, json: JSON.stringify({ revision: j + 1, type: 'added', member: member(j) }) })));
    store.restoreEnd(EVENTS, 'bench');
    await store.close();
    const live = new SqliteStore({ dataDir: join(dir, 'data'), synchronous: 'normal' });
    await live.open();

    const file = join(dir, 'bench.snap');
    const sqliteSave = await timedSave(live, file);
    await live.close();

    const t1 = performance.now();
    const summary = await readSnapshot(file);
    const inspectMs = performance.now() - t1;
    const t2 = performance.now();
    await restoreSnapshot(file, join(dir, 'restored'));
    const restoreMs = performance.now() - t2;
    return {
      members: summary.members, events: summary.events, bytes: summary.bytes,
      ...sqliteSave, inspectMs: round(inspectMs), restoreMs: round(restoreMs),
      cluster: await clusterBench(file, join(dir, 'cluster.snap')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Saves `store` into `file` while one writer applies a change every millisecond or so. */
async function timedSave(store: Store, file: string): Promise<{ saveMs: number; loopDelayMs: { max: number; p99: number }; changesDuringSave: number }> {
  const saver = new SnapshotSaver({ store, hubId: 'bench' });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let changes = 0;
  let saving = true;
  const writer = (async () => {
    for (let i = 0; saving; i++) {
      const m = member(MEMBERS + 1_000_000 + i);
      m.name = `${store.kind}-${m.name}`;
      await store.apply({ puts: [{ member: m }], deletes: [], events: [JSON.stringify({ type: 'added', name: m.name })], conditions: { namesFree: [m.name] } });
      changes++;
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  delay.enable();
  const t0 = performance.now();
  await pipeline(await saver.start(), createWriteStream(file));
  const saveMs = performance.now() - t0;
  delay.disable();
  saving = false;
  await writer;
  return { saveMs: round(saveMs), loopDelayMs: { max: round(delay.max / 1e6), p99: round(delay.percentile(99) / 1e6) }, changesDuringSave: changes };
}

/** The SQLite snapshot restored into a fresh redis-server, then saved again through the cluster's store. */
async function clusterBench(from: string, file: string): Promise<Record<string, unknown>> {
  const redis = await startRedis(['--appendonly', 'no']);
  try {
    const t0 = performance.now();
    await restoreIntoCluster(from, { url: redis.url, prefix: 'bench' });
    const restoreMs = performance.now() - t0;
    const store = new RedisStore({ url: redis.url, prefix: 'bench', hubId: 'bench', eventRetention: EVENTS, commandTimeoutMs: 120_000, log: pino({ level: 'silent' }) });
    await store.open();
    try {
      const save = await timedSave(store, file);
      const summary = await readSnapshot(file);
      return { members: summary.members, events: summary.events, bytes: summary.bytes, restoreMs: round(restoreMs), ...save };
    } finally {
      await store.close();
    }
  } finally {
    await redis.stop();
  }
}
