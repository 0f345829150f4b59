/**
 * The processes of the cluster bench, all on core 0 (the load generator is on core 1): a private
 * redis-server (test/support/redis.ts: free port, own temp folder, stopped by its pid), three
 * muster hubs in cluster mode on it, one single hub on SQLite, and three socket.io nodes on the
 * same Redis. Everything started is stopped by `stop()`, whatever failed on the way.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { startRedis, type TestRedis } from '../test/support/redis.js';
import { cpuMs, spawnBenchHub, type BenchHub } from './_hub-process.js';
import { spawnSocketIoNode, type SocketIoNode } from './_cluster-socketio.js';

/**
 * Redis as the cluster tests run it: every acknowledged write on disk (as SQLite with --sync full).
 * No automatic AOF rewrite: its forked child is pinned to core 0 like Redis and took half of that
 * core, the hubs', for seconds at a time in the durable bench (bench/_durable.ts).
 */
export const REDIS_ARGS = ['--appendonly', 'yes', '--appendfsync', process.env.CLUSTER_BENCH_FSYNC ?? 'always', '--auto-aof-rewrite-percentage', '0'];
export const HUB_IDS = ['a', 'b', 'c'] as const;

export interface Rig {
  redis: TestRedis;
  /** Cluster hubs a, b, c. */
  hubs: BenchHub[];
  /** One hub on SQLite (--sync full), for the single-hub figures. */
  single: BenchHub;
  socketIo: SocketIoNode[];
  /** The cluster's hubs and its Redis: the processes whose CPU a cluster figure counts. */
  clusterPids: number[];
  /** The same, by name, and socket.io's nodes and Redis. */
  clusterProcs: Procs;
  socketIoProcs: Procs;
  /** Every server process started (for settle()). */
  allPids: number[];
  /** ZADD commands Redis has run so far (cluster heartbeats are ZADDs: this counts those that reached it). */
  zaddCalls(): Promise<number>;
  /** Commands Redis has run so far, by name (INFO commandstats; a script's own commands are counted too). */
  commandCalls(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Pins every thread of a running process to `cores`; false where taskset is missing. */
export function pinPid(pid: number, cores: number | string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cores), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** CPU ms (user + system) used by all of `pids`. */
export function cpuMsOf(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) ms += cpuMs(pid);
  return ms;
}

/** Server processes by name ("hub a", "redis"), for CPU split by process. */
export type Procs = Readonly<Record<string, number>>;

/** Starts counting; the returned function gives the CPU ms each process used since, divided by `per` (default 1). */
export function cpuSplit(procs: Procs): (per?: number) => Record<string, number> {
  const c0 = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuMs(pid)]));
  return (per = 1) => Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, Math.round(((cpuMs(pid) - c0[k]!) / Math.max(per, 1)) * 1000) / 1000]));
}

/** The median of each key over several records. */
export function medianByKey(records: readonly Record<string, number>[]): Record<string, number> {
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, median(records.map((r) => r[k] ?? NaN))]));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Waits (at most `maxMs`) until `pids` together use under `busyPercent` of a core over 300 ms, so
 * that work left from the last measurement (queues draining, timers firing) is not counted in the
 * next one. Returns the ms waited.
 */
export async function settle(pids: readonly number[], busyPercent = 25, maxMs = 8_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const c0 = cpuMsOf(pids);
    await new Promise((r) => setTimeout(r, 300));
    if ((100 * (cpuMsOf(pids) - c0)) / 300 < busyPercent || performance.now() - t0 > maxMs) return Math.round(performance.now() - t0);
  }
}

async function clusterSize(hub: BenchHub): Promise<number> {
  const info = (await (await fetch(`${hub.url}/v1/info`)).json()) as { cluster?: { hubs: unknown[] } };
  return info.cluster?.hubs.length ?? 0;
}

export async function startRig(): Promise<Rig> {
  const root = mkdtempSync(join(tmpdir(), 'muster-bench-cluster-'));
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => {});
    stoppers.length = 0;
    rmSync(root, { recursive: true, force: true });
  };
  try {
    // Unlimited senders and deep queues, as bench/bus.ts: the bench measures the hubs, not the limits.
    const config = join(root, 'bench-config.json');
    writeFileSync(config, JSON.stringify({
      busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } },
      busQueueMessages: 100_000, busQueueBytes: 64 * 1024 * 1024,
    }));
    const redis = await startRedis(REDIS_ARGS);
    stoppers.push(() => redis.stop());
    pinPid(redis.child.pid!, 0);
    const stats = createClient({ url: redis.url });
    stats.on('error', () => {});
    await stats.connect();
    stoppers.push(() => stats.quit().then(() => {}));
    const commandCalls = async () => Object.fromEntries([...(await stats.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    const zaddCalls = async () => (await commandCalls()).zadd ?? 0;
    const single = await spawnBenchHub({ dataDir: join(root, 'single'), core: 0, sync: 'full', extraArgs: ['--hub-id', 'single', '--config', config] });
    stoppers.push(() => single.kill());
    // CLUSTER_BENCH_PROF=DIR writes a CPU profile of each cluster hub there (node --cpu-prof).
    const prof = process.env.CLUSTER_BENCH_PROF;
    const hubs: BenchHub[] = [];
    for (const id of HUB_IDS) {
      const h = await spawnBenchHub({
        dataDir: join(root, id), core: 0, extraArgs: ['--cluster', redis.url, '--hub-id', id, '--config', config],
        nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [],
      });
      stoppers.push(() => h.kill());
      hubs.push(h);
    }
    for (let i = 0; i < 100 && (await clusterSize(hubs[0]!)) < HUB_IDS.length; i++) await new Promise((r) => setTimeout(r, 100));
    const socketIo: SocketIoNode[] = [];
    for (let i = 0; i < 3; i++) {
      const n = await spawnSocketIoNode(redis.url, 0);
      stoppers.push(() => n.kill());
      socketIo.push(n);
    }
    const clusterPids = [...hubs.map((h) => h.pid), redis.child.pid!];
    const clusterProcs = { ...Object.fromEntries(hubs.map((h, i) => [`hub ${HUB_IDS[i]}`, h.pid])), redis: redis.child.pid! };
    const socketIoProcs = { ...Object.fromEntries(socketIo.map((n, i) => [`node ${i + 1}`, n.pid])), redis: redis.child.pid! };
    return { redis, hubs, single, socketIo, clusterPids, clusterProcs, socketIoProcs, allPids: [...clusterPids, single.pid, ...socketIo.map((n) => n.pid)], zaddCalls, commandCalls, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
