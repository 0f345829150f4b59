/**
 * Registry figures of the cluster bench, each measured the same way for the cluster (three
 * sockets, one on each hub) and for the single hub (the same three sockets, all on that hub):
 * durable registrations/s and heartbeats/s, pipelined over bench/_rpc-load.ts as
 * bench/registry.ts does (one request per frame, and JSON-RPC batches of 100), and expiry lag
 * through bench/registry.ts's own measurement (registered at one hub, watched at another).
 */
import type WebSocket from 'ws';
import type { BenchHub } from './_hub-process.js';
import { batchOf, callOnce, close, connect, pipeline, round, type LoadResult } from './_rpc-load.js';
import { cpuMsOf, cpuSplit, median, medianByKey, type Procs } from './_cluster-setup.js';
import { expiryLag } from './registry.js';

/** One system under test: three WebSocket URLs (a socket each) and the processes whose CPU counts. */
export interface Target {
  label: 'single' | 'cluster';
  wsUrls: readonly string[];
  pids: readonly number[];
  /** Cluster: ZADD commands Redis has run so far (each carries the heartbeats a hub gathered meanwhile). */
  storeWrites?: () => Promise<number>;
  /** Cluster: its processes by name, for the CPU per request of each. */
  procs?: Procs;
  /** Cluster: commands Redis has run so far, by name. */
  commandCalls?: () => Promise<Record<string, number>>;
}

/** Waits until the servers are idle again (work left from the last sample is not counted in the next). */
export type Quiet = () => Promise<unknown>;

export const ROUNDS = 3;
const PHASE_MS = 2_500;
const LONG_TTL = 3_600_000;
/** In flight per socket (three sockets): 3 x 683 single requests ~ registry.ts's 2048; batches 4 each. */
const SINGLE_WINDOW = 683;
const BATCH_WINDOW = 4;
/** Fewer members and a longer ttl than bench/registry.ts (10,000, 3 s): the cluster registers them all before the first expires. */
export const EXPIRY_MEMBERS = 5_000;
export const EXPIRY_TTL_MS = 5_000;

interface Sample extends LoadResult {
  serverCpuPercent: number; serverCpuUsPerRequest: number; storeWritesPerSecond?: number; cpuUsPerRequestByProcess?: Record<string, number>;
  redisCallsPerRequest?: Record<string, number>;
}

/** Commands run between two counts, per request (those under 0.01 a request left out). */
function callsPer(before: Record<string, number>, after: Record<string, number>, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) {
    const per = (n - (before[k] ?? 0)) / Math.max(requests, 1);
    if (per >= 0.01) out[k] = round(per, 3);
  }
  return out;
}

const req = (id: number, method: string, params: string) => `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`;
const register = (name: string) => req(0, 'register', `{"name":"${name}","type":"bench","liveness":{"kind":"ttl","ttlMs":${LONG_TTL}}}`);

/**
 * Runs one load on every socket at once; rates are the sum over the wall time of the slowest.
 * `executed` (cluster registrations: the stream entries Redis wrote): the load generator stops
 * counting at its deadline with up to a window of requests in flight per socket, which the
 * servers still carry out; CPU per request is then taken once they are idle again, over the
 * requests they executed, so that work is neither lost nor counted against too few requests.
 */
async function together(t: Target, sockets: WebSocket[], quiet: Quiet, load: (ws: WebSocket, k: number) => Promise<LoadResult>, countStoreWrites = false, executed?: (calls: Record<string, number>) => number): Promise<Sample> {
  await quiet();
  const w0 = countStoreWrites ? await t.storeWrites?.() : undefined;
  const calls0 = await t.commandCalls?.();
  const split = t.procs ? cpuSplit(t.procs) : null;
  const c0 = cpuMsOf(t.pids);
  const t0 = performance.now();
  const results = await Promise.all(sockets.map((ws, k) => load(ws, k)));
  const ms = performance.now() - t0;
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const w1 = countStoreWrites ? await t.storeWrites?.() : undefined;
  if (executed && calls0) await quiet();
  const cpu = cpuMsOf(t.pids) - c0;
  // Heartbeats: read after the CPU, work left over (a backlog of ZADDs) is not waited for.
  const calls1 = calls0 && (await t.commandCalls?.());
  const done = executed && calls0 && calls1 ? executed(calls1) - executed(calls0) : requests;
  const byProcess = split?.(done / 1000);
  return {
    requests, errors: results.reduce((n, r) => n + r.errors, 0), firstError: results.find((r) => r.firstError)?.firstError ?? null,
    ms: round(ms), perSecond: Math.round(requests / (ms / 1000)),
    serverCpuPercent: Math.round((100 * cpu) / ms), serverCpuUsPerRequest: done ? round((cpu * 1000) / done, 2) : NaN,
    ...(w0 !== undefined && w1 !== undefined ? { storeWritesPerSecond: Math.round((w1 - w0) / (ms / 1000)) } : {}),
    ...(byProcess ? { cpuUsPerRequestByProcess: byProcess } : {}),
    ...(calls0 && calls1 ? { redisCallsPerRequest: callsPer(calls0, calls1, done) } : {}),
  };
}

/** Cluster registrations executed: one stream entry each (XADD), whether or not the generator counted the reply. */
const entriesWritten = (calls: Record<string, number>) => calls.xadd ?? 0;

function summary(samples: Sample[]): Record<string, unknown> {
  const first = samples.find((s) => s.firstError)?.firstError;
  return {
    median: median(samples.map((s) => s.perSecond)), runs: samples.map((s) => s.perSecond),
    serverCpuPercent: samples.map((s) => s.serverCpuPercent), serverCpuUsPerRequest: median(samples.map((s) => s.serverCpuUsPerRequest)),
    requests: samples.map((s) => s.requests), errors: samples.reduce((n, s) => n + s.errors, 0), ...(first ? { firstError: first } : {}),
    ...(samples[0]?.storeWritesPerSecond !== undefined ? { storeWritesPerSecond: samples.map((s) => s.storeWritesPerSecond) } : {}),
    ...(samples[0]?.cpuUsPerRequestByProcess ? perCpu(medianByKey(samples.map((s) => s.cpuUsPerRequestByProcess!))) : {}),
    ...(samples[0]?.redisCallsPerRequest ? { redisCallsPerRequest: medianByKey(samples.map((s) => s.redisCallsPerRequest!)) } : {}),
  };
}

/**
 * CPU per request by process, and what it gives: requests per CPU-second of every server
 * process together (what one core shared by all of them could do), and with a core per process,
 * the pace the busiest one sets.
 */
function perCpu(byProcess: Record<string, number>): Record<string, unknown> {
  const total = Object.values(byProcess).reduce((a, b) => a + b, 0);
  const busiest = Object.entries(byProcess).reduce((a, b) => (b[1] > a[1] ? b : a));
  return {
    cpuUsPerRequestByProcess: byProcess,
    perCpuSecond: { allProcessesOnOneCore: Math.round(1e6 / total), corePerProcess: Math.round(1e6 / busiest[1]), busiest: busiest[0] },
  };
}

async function sockets(t: Target): Promise<WebSocket[]> {
  return Promise.all(t.wsUrls.map((u) => connect(u)));
}

/** Durable registrations (each reply: the member is in the store), single requests and batches of 100. */
export async function registrations(targets: Target[], quiet: Quiet): Promise<Record<string, unknown>> {
  const open = await Promise.all(targets.map(sockets));
  const single = targets.map((): Sample[] => []);
  const batch = targets.map((): Sample[] => []);
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, t] of targets.entries()) {
        single[i]!.push(await together(t, open[i]!, quiet, (ws, k) => pipeline(ws, {
          frames: 20_000, perFrame: 1, window: SINGLE_WINDOW, maxMs: PHASE_MS, frame: (n) => register(`rs${r}-${k}-${n}`),
        }), false, entriesWritten));
        batch[i]!.push(await together(t, open[i]!, quiet, (ws, k) => pipeline(ws, {
          frames: 200, perFrame: 100, window: BATCH_WINDOW, maxMs: PHASE_MS, frame: batchOf(100, (n) => register(`rb${r}-${k}-${n}`)),
        }), false, entriesWritten));
      }
    }
  } finally {
    for (const s of open.flat()) await close(s);
  }
  return Object.fromEntries(targets.map((t, i) => [t.label, {
    single: { windowPerSocket: SINGLE_WINDOW, ...summary(single[i]!) }, batch100: { windowPerSocket: BATCH_WINDOW, ...summary(batch[i]!) },
  }]));
}

/**
 * 1,000 ttl members per socket, registered at that socket's hub in batches of 100 (those refused,
 * e.g. STORE_UNAVAILABLE from a busy cluster, are tried again, 5 times at most); returns the
 * heartbeat params of each and how many registrations had to be retried.
 */
async function heartbeatMembers(ws: WebSocket, k: number): Promise<{ params: string[]; retried: number }> {
  const params: string[] = [];
  let todo = Array.from({ length: 1000 }, (_, j) => `hb-${k}-${j}`);
  let retried = 0;
  let last: unknown = null;
  for (let attempt = 0; attempt < 5 && todo.length; attempt++) {
    const failed: string[] = [];
    for (let b = 0; b < todo.length; b += 100) {
      const names = todo.slice(b, b + 100);
      const text = `[${names.map((n, j) => req(j, 'register', `{"name":"${n}","type":"bench","liveness":{"kind":"ttl","ttlMs":${LONG_TTL}}}`)).join(',')}]`;
      const replies = (await callOnce(ws, text)) as { id: number; result?: { name: string; token: string } }[];
      for (const x of replies) {
        if (x.result) params.push(`{"id":"${x.result.name}","token":"${x.result.token}"}`);
        else { last = x; failed.push(names[x.id]!); }
      }
    }
    retried += failed.length;
    todo = failed;
  }
  if (params.length !== 1000) throw new Error(`heartbeat setup registered ${params.length} of 1000: ${JSON.stringify(last).slice(0, 300)}`);
  return { params, retried };
}

/** Heartbeats round-robin over each socket's own members, single requests and batches of 100. */
export async function heartbeats(targets: Target[], quiet: Quiet): Promise<Record<string, unknown>> {
  const open = await Promise.all(targets.map(sockets));
  const single = targets.map((): Sample[] => []);
  const batch = targets.map((): Sample[] => []);
  const setupRetried = targets.map(() => 0);
  try {
    const setup = await Promise.all(open.map((socks) => Promise.all(socks.map((ws, k) => heartbeatMembers(ws, k)))));
    setup.forEach((s, i) => { setupRetried[i] = s.reduce((n, x) => n + x.retried, 0); });
    const members = setup.map((s) => s.map((x) => x.params));
    const hb = (params: string[]) => (n: number) => req(n, 'heartbeat', params[n % params.length]!);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, t] of targets.entries()) {
        single[i]!.push(await together(t, open[i]!, quiet, (ws, k) => pipeline(ws, {
          frames: 300_000, perFrame: 1, window: SINGLE_WINDOW, maxMs: PHASE_MS, frame: hb(members[i]![k]!),
        }), true));
        batch[i]!.push(await together(t, open[i]!, quiet, (ws, k) => pipeline(ws, {
          frames: 5_000, perFrame: 100, window: 8, maxMs: PHASE_MS, frame: batchOf(100, hb(members[i]![k]!)),
        }), true));
      }
    }
  } finally {
    for (const s of open.flat()) await close(s);
  }
  return Object.fromEntries(targets.map((t, i) => [t.label, {
    single: { windowPerSocket: SINGLE_WINDOW, ...summary(single[i]!) }, batch100: { windowPerSocket: 8, ...summary(batch[i]!) },
    setupRegistrationsRetried: setupRetried[i],
  }]));
}

/** Expiry lag: 5,000 ttl members (5 s) registered at `register`, `removed` events watched at `watch`. */
export async function expiry(systems: { label: string; register: BenchHub; watch: BenchHub; pids: readonly number[] }[], quiet: Quiet): Promise<Record<string, unknown>> {
  const runs = systems.map((): Record<string, unknown>[] => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, s] of systems.entries()) {
      await quiet();
      runs[i]!.push(await expiryLag(s.register, r, EXPIRY_MEMBERS, EXPIRY_TTL_MS, { watchUrl: s.watch.wsUrl, cpuPids: s.pids }));
    }
  }
  return Object.fromEntries(systems.map((s, i) => [s.label, {
    p50Ms: median(runs[i]!.map((x) => x.p50 as number)), p99Ms: median(runs[i]!.map((x) => x.p99 as number)),
    removedSeen: runs[i]!.map((x) => x.removedSeen), runs: runs[i]!,
  }]));
}
