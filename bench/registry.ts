/**
 * `npm run bench -- registry`: the registry over the WebSocket API, hub in its own process on
 * core 0, this load generator on core 1. Throughput (durable registrations, heartbeats, lookups)
 * is measured pipelined, as single requests and as JSON-RPC batches, and durable registrations
 * sequential and 64 in flight beside Redis (bench/_durable.ts); then expiry lag with 10,000
 * ttl members, memory per idle ttl member, and restart time with 100,000 members.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { cpuMs, gcAndHeap, machineTicks, pinSelf, rssBytes, spawnBenchHub, type BenchHub } from './_hub-process.js';
import { connect as sdkConnect } from '../src/client/index.js';
import { durableBeside, pipelineAlone } from './_durable.js';
import { batchOf, callOnce, close, connect, pipeline, round, type LoadOptions, type LoadResult } from './_rpc-load.js';

const ROUNDS = 3;
// Requests in flight one frame each: with 512 the hub and the generator take turns (hub ~75% busy);
// 2048 keeps both working at once.
const SINGLE_WINDOW = 2048;
const LONG_TTL = 3_600_000;

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

function req(id: number, method: string, params: string): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`;
}

type Measured = LoadResult & { hubCpuPercent: number; perHubCpuSecond: number };

/**
 * Runs a load and reads the hub's CPU time around it. On a shared machine the rate depends on
 * how much CPU the hub got; requests per hub CPU-second depends much less on the neighbours.
 */
async function measured(hub: BenchHub, load: () => Promise<LoadResult>): Promise<Measured> {
  const c0 = cpuMs(hub.pid);
  const r = await load();
  const used = cpuMs(hub.pid) - c0;
  return { ...r, hubCpuPercent: Math.round((100 * used) / r.ms), perHubCpuSecond: used > 0 ? Math.round(r.requests / (used / 1000)) : 0 };
}

/** Best and spread of repeated runs of one measurement. */
function summary(runs: Measured[]): Record<string, unknown> {
  const rates = runs.map((r) => r.perSecond);
  return {
    best: Math.max(...rates), worst: Math.min(...rates), runs: rates,
    hubCpuPercent: runs.map((r) => r.hubCpuPercent), perHubCpuSecond: Math.max(...runs.map((r) => r.perHubCpuSecond)),
    requests: runs.map((r) => r.requests), errors: runs.reduce((n, r) => n + r.errors, 0),
    ...(runs.find((r) => r.firstError) ? { firstError: runs.find((r) => r.firstError)!.firstError } : {}),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Registers `count` ttl members named prefix-N over `ws` in batches of 100, pipelined. */
async function registerMany(ws: WebSocket, prefix: string, count: number, ttlMs: number, window = 8): Promise<LoadResult> {
  const per = 100;
  return pipeline(ws, {
    frames: Math.ceil(count / per), perFrame: per, window, maxMs: 120_000,
    frame: batchOf(per, (k) => req(k, 'register', `{"name":"${prefix}-${k}","type":"bench","liveness":{"kind":"ttl","ttlMs":${ttlMs}}}`)),
  });
}

async function throughput(hub: BenchHub): Promise<Record<string, unknown>> {
  const ws = await connect(hub.wsUrl);
  const m = (load: () => Promise<LoadResult>) => measured(hub, load);
  // Each measured load on a socket of its own (see pipelineAlone): late replies of one never count in the next.
  const alone = (o: LoadOptions) => pipelineAlone(hub.wsUrl, o);
  const out: Record<string, unknown> = {};
  try {
    // Durable registrations: each reply means the member is committed to the store.
    const regSingle: Measured[] = [];
    const regBatch: Measured[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const p = `rs${r}`;
      regSingle.push(await m(() => alone({
        frames: 20_000, perFrame: 1, window: SINGLE_WINDOW, maxMs: 5_000,
        frame: (i) => req(i, 'register', `{"name":"${p}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":${LONG_TTL}}}`),
      })));
      const q = `rb${r}`;
      regBatch.push(await m(() => alone({
        frames: 300, perFrame: 100, window: 8, maxMs: 5_000,
        frame: batchOf(100, (k) => req(k, 'register', `{"name":"${q}-${k}","type":"bench","liveness":{"kind":"ttl","ttlMs":${LONG_TTL}}}`)),
      })));
    }
    out.registrations = { single: { window: SINGLE_WINDOW, ...summary(regSingle) }, batch100: { window: 8, ...summary(regBatch) } };

    // Heartbeats: 1,000 ttl members heartbeated round-robin with their own tokens.
    const members: { name: string; token: string }[] = [];
    for (let b = 0; b < 10; b++) {
      const text = `[${Array.from({ length: 100 }, (_, j) => req(b * 100 + j, 'register', `{"name":"hb-${b * 100 + j}","type":"bench","liveness":{"kind":"ttl","ttlMs":${LONG_TTL}}}`)).join(',')}]`;
      const replies = (await callOnce(ws, text)) as { result?: { name: string; token: string } }[];
      for (const r of replies) if (r.result) members.push({ name: r.result.name, token: r.result.token });
    }
    if (members.length !== 1000) throw new Error(`heartbeat setup registered ${members.length} of 1000`);
    const hbParams = members.map((m) => `{"id":"${m.name}","token":"${m.token}"}`);
    const hb = (k: number) => req(k, 'heartbeat', hbParams[k % hbParams.length]!);
    const getParams = members.map((m) => `{"name":"${m.name}"}`);
    const get = (k: number) => req(k, 'get', getParams[k % getParams.length]!);
    const hbSingle: Measured[] = [];
    const hbBatch: Measured[] = [];
    const getSingle: Measured[] = [];
    const getBatch: Measured[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      hbSingle.push(await m(() => alone({ frames: 300_000, perFrame: 1, window: SINGLE_WINDOW, maxMs: 4_000, frame: hb })));
      hbBatch.push(await m(() => alone({ frames: 10_000, perFrame: 100, window: 8, maxMs: 4_000, frame: batchOf(100, hb) })));
      getSingle.push(await m(() => alone({ frames: 300_000, perFrame: 1, window: SINGLE_WINDOW, maxMs: 4_000, frame: get })));
      getBatch.push(await m(() => alone({ frames: 10_000, perFrame: 100, window: 8, maxMs: 4_000, frame: batchOf(100, get) })));
    }
    const hbSdk: Measured[] = [];
    for (let r = 0; r < ROUNDS; r++) hbSdk.push(await m(() => sdkHeartbeats(hub.wsUrl, `sdkhb${r}`)));
    out.heartbeats = {
      single: { window: SINGLE_WINDOW, ...summary(hbSingle) }, batch100: { window: 8, ...summary(hbBatch) },
      sdk: { what: '1,000 ttl members of one SDK client, all heartbeating at once, again and again', ...summary(hbSdk) },
    };
    out.lookups = { single: { window: SINGLE_WINDOW, ...summary(getSingle) }, batch100: { window: 8, ...summary(getBatch) } };
  } finally {
    await close(ws);
  }
  return out;
}

/**
 * Heartbeats as a program holding many members sends them (a gateway for its devices): one SDK
 * client registers 1,000 ttl members, then heartbeats all of them at once, again and again, for 4 s.
 */
async function sdkHeartbeats(wsUrl: string, prefix: string): Promise<LoadResult> {
  const client = await sdkConnect({ url: wsUrl, reconnect: false });
  try {
    const ids: string[] = [];
    for (let b = 0; b < 10; b++) {
      const made = await Promise.all(Array.from({ length: 100 }, (_, j) => client.register({ name: `${prefix}-${b * 100 + j}`, type: 'bench', liveness: { kind: 'ttl', ttlMs: LONG_TTL } })));
      ids.push(...made.map((r) => r.id));
    }
    let requests = 0;
    let errors = 0;
    let firstError: string | null = null;
    const t0 = performance.now();
    while (performance.now() - t0 < 4_000) {
      const done = await Promise.allSettled(ids.map((id) => client.heartbeat(id)));
      for (const d of done) if (d.status === 'rejected') { errors++; firstError ??= String(d.reason); }
      requests += ids.length;
    }
    const ms = performance.now() - t0;
    return { requests, errors, firstError, ms, perSecond: Math.round((requests / ms) * 1000) };
  } finally {
    await client.close();
  }
}

/** Registration rate with --sync normal, for comparison with the default full. */
async function registrationsNormal(hub: BenchHub): Promise<Record<string, unknown>> {
  const ws = await connect(hub.wsUrl);
  try {
    const single: Measured[] = [];
    const batch: Measured[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      single.push(await measured(hub, () => pipelineAlone(hub.wsUrl, {
        frames: 20_000, perFrame: 1, window: SINGLE_WINDOW, maxMs: 5_000,
        frame: (i) => req(i, 'register', `{"name":"n${r}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":${LONG_TTL}}}`),
      })));
      batch.push(await measured(hub, () => registerMany(ws, `nb${r}`, 30_000, LONG_TTL)));
    }
    return { single: { window: SINGLE_WINDOW, ...summary(single) }, batch100: { window: 8, ...summary(batch) } };
  } finally {
    await close(ws);
  }
}

/** Where expiry is measured: the hub that registers, the one watched (default the same) and the processes whose CPU counts. */
export interface ExpirySetup {
  watchUrl?: string;
  cpuPids?: readonly number[];
}

/**
 * 10,000 ttl members that never heartbeat; lag from each TTL deadline to its `removed` event at a
 * watcher (on `hub` itself, or on another hub of a cluster: `at.watchUrl`).
 */
export async function expiryLag(hub: BenchHub, round: number, count = 10_000, ttlMs = 3_000, at: ExpirySetup = {}): Promise<Record<string, unknown>> {
  const pids = at.cpuPids ?? [hub.pid];
  const cpuNow = () => pids.reduce((s, pid) => s + cpuMs(pid), 0);
  const watcher = await connect(at.watchUrl ?? hub.wsUrl);
  const ws = await connect(hub.wsUrl);
  const prefix = `exp${round}`;
  const arrivals: { at: number; text: string }[] = [];
  try {
    await callOnce(watcher, req(1, 'watch', `{"filter":{"types":["removed"],"prefix":"${prefix}-"}}`));
    let done: () => void = () => {};
    const allSeen = new Promise<void>((resolve) => { done = resolve; });
    watcher.on('message', (data: Buffer) => {
      arrivals.push({ at: Date.now(), text: data.toString() });
      if (arrivals.length >= count) done();
    });
    const reg = await registerMany(ws, prefix, count, ttlMs, 4);
    if (reg.errors) throw new Error(`expiry setup: ${reg.firstError}`);
    // The hub's CPU share while the members expire: low means the hub waited for a core.
    await new Promise((r) => setTimeout(r, Math.max(0, ttlMs - reg.ms - 200)));
    const c0 = cpuNow();
    const m0 = machineTicks();
    const w0 = performance.now();
    await Promise.race([allSeen, new Promise((r) => setTimeout(r, 15_000))]);
    const hubCpuPercent = Math.round((100 * (cpuNow() - c0)) / (performance.now() - w0));
    const m1 = machineTicks();
    const machineBusyPercent = Math.round((100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total));
    const lags: number[] = [];
    for (const a of arrivals) {
      const msg = JSON.parse(a.text) as { params?: { event?: { type: string; member: { lastSeen: number; liveness: { ttlMs: number } } } } };
      const e = msg.params?.event;
      if (!e || e.type !== 'removed') continue;
      lags.push(a.at - (e.member.lastSeen + e.member.liveness.ttlMs));
    }
    lags.sort((a, b) => a - b);
    return {
      members: count, ttlMs, registeredInMs: reg.ms, removedSeen: lags.length, hubCpuPercent, machineBusyPercent,
      p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1] ?? NaN, min: lags[0] ?? NaN,
    };
  } finally {
    await close(watcher);
    await close(ws);
  }
}

async function info(hub: BenchHub): Promise<{ members: { total: number } }> {
  const res = await fetch(`${hub.url}/v1/info`);
  return (await res.json()) as { members: { total: number } };
}

/** Memory per idle ttl member (after a forced GC), then restart time with those members. */
async function memoryAndRestart(dataDir: string, count = 100_000): Promise<Record<string, unknown>> {
  let hub = await spawnBenchHub({ dataDir, inspect: true });
  const restarts: { readyMs: number; listenMs: number; emptyBootMs: number; loadMs: number }[] = [];
  let memory: Record<string, unknown> = {};
  try {
    if (!hub.inspectorUrl) await new Promise((r) => setTimeout(r, 500));
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await gcAndHeap(hub.inspectorUrl!);
    const rssBefore = rssBytes(hub.pid);
    const ws = await connect(hub.wsUrl);
    const reg = await registerMany(ws, 'idle', count, LONG_TTL);
    await close(ws);
    if (reg.errors || reg.requests !== count) throw new Error(`memory setup: ${reg.requests} registered, ${reg.firstError}`);
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await gcAndHeap(hub.inspectorUrl!);
    const rssAfter = rssBytes(hub.pid);
    memory = {
      members: count, registeredPerSecond: reg.perSecond,
      heapBytesPerMember: Math.round((after.heapUsed - before.heapUsed) / count),
      rssBytesPerMember: Math.round((rssAfter - rssBefore) / count),
      heapUsedMB: { before: round(before.heapUsed / 2 ** 20), after: round(after.heapUsed / 2 ** 20) },
      rssMB: { before: round(rssBefore / 2 ** 20), after: round(rssAfter / 2 ** 20) },
    };
    // Restart: kill -9, then a new hub on the same data; ready when it listens and counts them all.
    for (let r = 0; r < ROUNDS; r++) {
      // What a hub with no data takes to boot right now (node, tsx, fastify): the rest is loading.
      const empty = await spawnBenchHub({ dataDir: `${dataDir}-empty${r}` });
      const emptyBootMs = empty.listenMs;
      await empty.kill();
      rmSync(`${dataDir}-empty${r}`, { recursive: true, force: true });
      await hub.kill('SIGKILL');
      const t0 = performance.now();
      hub = await spawnBenchHub({ dataDir });
      let total = (await info(hub)).members.total;
      for (let i = 0; i < 300 && total < count; i++) {
        await new Promise((res) => setTimeout(res, 10));
        total = (await info(hub)).members.total;
      }
      if (total < count) throw new Error(`restart: ${total} of ${count} members back`);
      const readyMs = performance.now() - t0;
      restarts.push({ readyMs: round(readyMs), listenMs: round(hub.listenMs), emptyBootMs: round(emptyBootMs), loadMs: round(readyMs - emptyBootMs) });
    }
  } finally {
    await hub.kill('SIGKILL');
  }
  const ready = restarts.map((r) => r.readyMs);
  return { memory, restart: { members: count, bestMs: Math.min(...ready), worstMs: Math.max(...ready), runs: restarts } };
}

/** The targets next to the figures measured (best run; both framings where both exist). */
function targets(r: Record<string, any>): Record<string, unknown> {
  const t = (target: number, value: number, higherIsBetter: boolean) => ({ target, value, met: higherIsBetter ? value >= target : value <= target });
  return {
    heartbeatsPerSecond: { ...t(100_000, r.heartbeats?.batch100?.best ?? 0, true), single: r.heartbeats?.single?.best },
    durableRegistrationsPerSecond: { ...t(10_000, Math.max(r.registrations?.batch100?.best ?? 0, r.registrations?.single?.best ?? 0), true), single: r.registrations?.single?.best, batch100: r.registrations?.batch100?.best },
    durableBesideRedisAofAlways: {
      // Met when the median of the interleaved rounds' muster / Redis ratios is at least 1.
      sequential: { value: r.durable?.muster?.sequential?.best, redis: r.durable?.redis?.sequential?.best, pairedRatio: r.durable?.musterOverRedis?.sequential, met: r.durable?.musterOverRedis?.sequential >= 1 },
      inFlight64: { value: r.durable?.muster?.inFlight64?.best, redis: r.durable?.redis?.inFlight64?.best, pairedRatio: r.durable?.musterOverRedis?.inFlight64, met: r.durable?.musterOverRedis?.inFlight64 >= 1 },
    },
    expiryLagP99Ms: t(100, r.expiryLagMs?.bestP99 ?? Infinity, false),
    restartReadyMs: t(3_000, r.restart?.bestMs ?? Infinity, false),
    heapBytesPerIdleTtlMember: { ...t(2_048, r.memory?.heapBytesPerMember ?? Infinity, false), rss: r.memory?.rssBytesPerMember },
  };
}

export default async function registry(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const root = mkdtempSync(join(tmpdir(), 'muster-bench-'));
  const report: Record<string, unknown> = { method: {
    hub: 'own process, taskset -c 0, --sync full unless said', client: `this process, ${pinned ? 'taskset core 1' : 'not pinned'}, one WebSocket`,
    single: `one request per frame, ${SINGLE_WINDOW} in flight`, batch100: 'JSON-RPC batches of 100, 8 in flight', rounds: ROUNDS,
  }, loadavgStart: loadavg() };
  const hubs: BenchHub[] = [];
  try {
    const emptyHub = await spawnBenchHub({ dataDir: join(root, 'a') });
    hubs.push(emptyHub);
    report.emptyHubStartMs = round(emptyHub.listenMs);
    report.durable = await durableBeside(emptyHub);
    Object.assign(report, await throughput(emptyHub));
    await emptyHub.kill();

    const normalHub = await spawnBenchHub({ dataDir: join(root, 'b'), sync: 'normal' });
    hubs.push(normalHub);
    report.registrationsSyncNormal = await registrationsNormal(normalHub);
    await normalHub.kill();

    const expiryHub = await spawnBenchHub({ dataDir: join(root, 'c') });
    hubs.push(expiryHub);
    const lags: Record<string, unknown>[] = [];
    for (let r = 0; r < ROUNDS; r++) lags.push(await expiryLag(expiryHub, r));
    const p99s = lags.map((l) => l.p99 as number);
    report.expiryLagMs = { bestP99: Math.min(...p99s), worstP99: Math.max(...p99s), runs: lags };
    await expiryHub.kill();

    Object.assign(report, await memoryAndRestart(join(root, 'd')));
  } finally {
    for (const h of hubs) await h.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    if (pinned) pinSelf(`0-${cpus().length - 1}`); // benchmarks that run after this one get every core back
  }
  report.loadavgEnd = loadavg();
  report.targets = targets(report);
  return report;
}
