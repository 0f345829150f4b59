/**
 * Durable registrations beside their peer in the same run: the hub (--sync full) registering one
 * at a time and with 64 in flight, and a redis-server with `appendonly yes`, `appendfsync always`
 * (every acknowledged write on disk, as --sync full) and no automatic AOF rewrite (redisSide says
 * why), in the same temp folder's file system, driven
 * from this process by @redis/client doing what a registration writes: the name taken (HSETNX),
 * the record (HSET), the event (XADD), in one MULTI. During the 64-in-flight burst a process of
 * its own (bench/_durable-probe.ts) times the round trip of a heartbeat and of a bus message to
 * itself: what the rest of the hub sees while registrations commit. The same registrations
 * through the SDK (`muster/client`, what users run: `await client.register(...)`) are measured as
 * a third side, on the same hub, and the hub's own frames sent to a registry of one's own (a `ws`
 * JSON-RPC server over a second such Redis, bench/_durable-homemade.ts) as a fourth.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient } from '@redis/client';
import { connect as sdkConnect } from '../src/client/index.js';
import { storeFigures } from '../test/support/metrics.js';
import { startRedis } from '../test/support/redis.js';
import { median, pinPid } from './_cluster-setup.js';
import type { BenchHub } from './_hub-process.js';
import { startHomemade } from './_durable-homemade.js';
import { latencies, startProbe } from './_durable-probe.js';
import { connect, pipeline, round, type LoadOptions, type LoadResult } from './_rpc-load.js';

// DURABLE_BENCH_MS / DURABLE_BENCH_ROUNDS shorten a run on a busy machine.
const PHASE_MS = Number(process.env.DURABLE_BENCH_MS ?? 1_500);
const IN_FLIGHT = 64;
const ROUNDS = Number(process.env.DURABLE_BENCH_ROUNDS ?? 6);
/** Each side's unmeasured sequential and in-flight load before its rounds. */
const WARM_UP_MS = Number(process.env.DURABLE_BENCH_WARM_MS ?? 2_000);

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const register = (i: number, p: string) =>
  `{"jsonrpc":"2.0","id":${i},"method":"register","params":{"name":"${p}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000}}}`;

/** What a process used so far: CPU ms of its main thread and of its other threads, and its writes. */
export interface ProcUse { main: number; others: number; writeBytes: number; writeCalls: number }

/**
 * From /proc: CPU time (ms) of the main thread (its tid is the pid) and of all other threads (the
 * hub's SQLite writer, GC, libuv's pool; Redis's bio threads), bytes the process sent towards the
 * disk (`write_bytes`) and its write system calls (`syscw`: pwrite, write, also to sockets).
 * Counted per registration they hold up on a busy machine, where rates do not.
 */
export function procUse(pid: number): ProcUse {
  const ticks = (path: string) => {
    const f = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  };
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN);
  return { main, others: ticks(`/proc/${pid}/stat`) - main, writeBytes: field('write_bytes'), writeCalls: field('syscw') };
}

/** Per registration between two samples: CPU µs by thread, bytes towards the disk, write calls. */
function perRegistration(a: ProcUse, b: ProcUse, registrations: number): Record<string, number> {
  const per = (x: number, scale = 1) => (registrations ? Math.round((x * scale) / registrations) : NaN);
  return {
    cpuUsMain: per(b.main - a.main, 1000), cpuUsOthers: per(b.others - a.others, 1000),
    diskBytes: per(b.writeBytes - a.writeBytes), writeCalls: round((b.writeCalls - a.writeCalls) / registrations, 1),
  };
}

/**
 * Runs one load (resolving to the registrations it made) and returns what the server used per
 * registration, and how busy the server's core and this process's (the load generator's) were
 * over it: CPU time over wall time. A side well under 1 is waiting, for the other side or for
 * its disk: with 64 in flight, a hub whose every sync holds the whole window idles while it syncs.
 */
async function measured(pid: number, load: () => Promise<number>): Promise<{ registrations: number; seconds: number; use: Record<string, number> }> {
  const a = procUse(pid);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const registrations = await load();
  const ms = performance.now() - t0;
  const b = procUse(pid);
  const own = process.cpuUsage(cpu);
  return {
    registrations, seconds: ms / 1000,
    use: {
      ...perRegistration(a, b, registrations),
      serverBusy: round((b.main + b.others - a.main - a.others) / ms, 2), loadBusy: round((own.user + own.system) / 1000 / ms, 2),
    },
  };
}

/**
 * One measured load on a socket of its own, dropped at the end: a load that stops at maxMs leaves
 * up to `window` requests unanswered, and their replies on a socket reused by the next load would
 * be counted there (a sequential run after a burst would measure the burst's window).
 */
export async function pipelineAlone(url: string, o: LoadOptions): Promise<LoadResult> {
  const ws = await connect(url);
  try {
    return await pipeline(ws, o);
  } finally {
    ws.terminate();
  }
}

/** The hub's group commit over a phase, from its muster_store_* counters: changes per commit and per sync. */
async function groupCommit(url: string, during: () => Promise<unknown>): Promise<Record<string, number>> {
  const a = await storeFigures(url);
  await during();
  const b = await storeFigures(url);
  const per = (n: number) => (n > 0 ? round((b.changes - a.changes) / n, 1) : NaN);
  return { changesPerCommit: per(b.commits - a.commits), changesPerSync: per(b.syncs - a.syncs) };
}

/**
 * One measured phase of a side: registrations/s and what the process used per registration; one
 * at a time, also how long each registration waited for its answer (a commit held back by a
 * checkpoint, a collection, shows in the p99 and the longest).
 */
interface Phase { rate: number; use: Record<string, number>; waits?: Record<string, number> }

/** A system under test, ready (warmed up): one measured phase at a time, interleaved with the other side's. */
interface Side {
  phase(inFlight: number, prefix: string): Promise<Phase & { during?: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/**
 * A phase of the hub's own registration frames sent to a server (`pid` serving `wsUrl`): its rate,
 * what the server used, and one at a time each registration's wait.
 */
async function framesPhase(wsUrl: string, pid: number, inFlight: number, prefix: string, ms = PHASE_MS): Promise<Phase & { errors: number; firstError: string | null }> {
  let done: LoadResult | undefined;
  const waits = inFlight === 1 ? [] : undefined;
  const { use } = await measured(pid, async () => {
    done = await pipelineAlone(wsUrl, { frames: 1_000_000, perFrame: 1, window: inFlight, maxMs: ms, frame: (i) => register(i, prefix), waits });
    return done.requests;
  });
  return { rate: done!.perSecond, use, ...(waits ? { waits: latencies(waits) } : {}), errors: done!.errors, firstError: done!.firstError };
}

async function musterSide(hub: BenchHub): Promise<Side & { idle: Record<string, unknown> }> {
  // Unmeasured first: a fresh hub's first seconds include V8 compiling its hot path (a cold hub
  // took twice the CPU per sequential registration).
  await pipelineAlone(hub.wsUrl, { frames: 1_000_000, perFrame: 1, window: 1, maxMs: WARM_UP_MS, frame: (i) => register(i, 'dws') });
  await pipelineAlone(hub.wsUrl, { frames: 1_000_000, perFrame: 1, window: IN_FLIGHT, maxMs: WARM_UP_MS, frame: (i) => register(i, 'dwf') });
  const probe = await startProbe(hub.wsUrl);
  let idle: Record<string, unknown>;
  try {
    idle = await probe.measure(1_000);
  } catch (err) {
    await probe.stop();
    throw err;
  }
  return {
    idle,
    async phase(inFlight, prefix) {
      // During a burst a process of its own times a heartbeat and a bus message: what the rest of the hub sees.
      const seen = inFlight > 1 ? probe.measure(PHASE_MS) : null;
      let frames: Phase & { errors: number; firstError: string | null } | undefined;
      const group = await groupCommit(hub.url, async () => { frames = await framesPhase(hub.wsUrl, hub.pid, inFlight, prefix); });
      const { rate, use, waits } = frames!;
      return { rate, use: { ...use, ...group }, ...(waits ? { waits } : {}), ...(seen ? { during: await seen } : {}) };
    },
    stop: () => probe.stop(),
  };
}

/**
 * The same registrations through the SDK, `inFlight` workers each awaiting `client.register` in
 * turn, on a client of each phase's own: a client keeps every member it registered (for their
 * heartbeats and a reconnect), and one kept for all phases held 300,000 and more, whose
 * collections took this process's core from every side's load in the phases after.
 */
async function sdkSide(hub: BenchHub): Promise<Side> {
  const phase = async (workers: number, prefix: string, ms = PHASE_MS): Promise<Phase> => {
    const client = await sdkConnect({ url: hub.wsUrl, reconnect: false });
    try {
      let run = { registrations: 0, seconds: 1, use: {} as Record<string, number> };
      const waits: number[] = [];
      const group = await groupCommit(hub.url, async () => {
        run = await measured(hub.pid, async () => {
          let done = 0;
          const t0 = performance.now();
          await Promise.all(Array.from({ length: workers }, async (_, w) => {
            for (let i = 0; performance.now() - t0 < ms; i++) {
              const sent = performance.now();
              await client.register({ name: `${prefix}-${w}-${i}`, type: 'bench', liveness: { kind: 'ttl', ttlMs: 3_600_000 } });
              if (workers === 1) waits.push(performance.now() - sent);
              done++;
            }
          }));
          return done;
        });
      });
      return { rate: Math.round(run.registrations / run.seconds), use: { ...run.use, ...group }, ...(workers === 1 ? { waits: latencies(waits) } : {}) };
    } finally {
      await client.close();
    }
  };
  await phase(1, 'sws', WARM_UP_MS);
  await phase(IN_FLIGHT, 'swf', WARM_UP_MS);
  return { phase: (inFlight, prefix) => phase(inFlight, prefix), stop: async () => {} };
}

/** The home-made registry (bench/_durable-homemade.ts), driven with the hub's own frames. */
async function homemadeSide(fsync: AppendFsync): Promise<Side> {
  const server = await startHomemade(fsync);
  const phase = async (inFlight: number, prefix: string, ms = PHASE_MS): Promise<Phase> => {
    const { rate, use, waits, errors, firstError } = await framesPhase(server.wsUrl, server.pid, inFlight, prefix, ms);
    if (errors) throw new Error(`the home-made registry answered errors: ${firstError}`);
    return { rate, use, ...(waits ? { waits } : {}) };
  };
  try {
    await phase(1, 'hws', WARM_UP_MS);
    await phase(IN_FLIGHT, 'hwf', WARM_UP_MS);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { phase: (inFlight, prefix) => phase(inFlight, prefix), stop: () => server.stop() };
}

/** Redis's fsync policy beside a hub's --sync: `always` beside full, `everysec` beside normal. */
export type AppendFsync = 'always' | 'everysec';

async function redisSide(fsync: AppendFsync): Promise<Side> {
  // No automatic AOF rewrite: its child process (forked, so pinned to core 0 as well) took half of
  // the hub's core for seconds in the phases after it (one or two rounds a run at 9,600-18,000/s).
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', fsync, '--auto-aof-rewrite-percentage', '0']);
  pinPid(redis.child.pid!, 0);
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  const one = async (name: string) => {
    const id = randomUUID();
    await client.multi()
      .hSetNX('names', name, id)
      .hSet(`member:${id}`, { name, type: 'bench', address: '', meta: '{}', liveness: '{"kind":"ttl","ttlMs":3600000}', tokenHash: id, registeredAt: Date.now(), extra: '{}' })
      .xAdd('events', '*', { json: `{"type":"added","member":{"id":"${id}","name":"${name}"}}` }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 } })
      .exec();
  };
  const phase = async (workers: number, prefix: string, ms = PHASE_MS): Promise<Phase> => {
    const waits: number[] = [];
    const run = await measured(redis.child.pid!, async () => {
      let done = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: workers }, async (_, w) => {
        for (let i = 0; performance.now() - t0 < ms; i++) {
          const sent = performance.now();
          await one(`${prefix}-${w}-${i}`);
          if (workers === 1) waits.push(performance.now() - sent);
          done++;
        }
      }));
      return done;
    });
    return { rate: Math.round(run.registrations / run.seconds), use: run.use, ...(workers === 1 ? { waits: latencies(waits) } : {}) };
  };
  const stop = async () => {
    await client.quit().catch(() => {});
    await redis.stop();
  };
  try {
    // Warmed up as the hub is (the generator's own client compiles its hot path too).
    await phase(1, 'ws', WARM_UP_MS);
    await phase(IN_FLIGHT, 'wf', WARM_UP_MS);
  } catch (err) {
    await stop();
    throw err;
  }
  return { phase: (inFlight, prefix) => phase(inFlight, prefix), stop };
}

/** The median of the rounds' muster / Redis ratios (each round runs both sides back to back). */
function pairedMedian(muster: readonly number[], redis: readonly number[]): number {
  return round(median(muster.map((m, i) => m / redis[i]!)), 2);
}

/**
 * The hub's durable registrations (raw JSON-RPC frames, and through the SDK) and the Redis peer's,
 * one at a time and 64 in flight. All are up at once (hub and Redis both on core 0, the idle one
 * costing nothing) and their phases alternate, the order flipped every round: this VM's speed
 * moves by up to 2x within minutes, so each round's ratio compares them under the same
 * conditions, and the ratio reported is the median of the rounds'.
 */
export async function durableBeside(hub: BenchHub, fsync: AppendFsync = 'always'): Promise<Record<string, unknown>> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const muster = await musterSide(hub);
    stops.push(() => muster.stop());
    const sdk = await sdkSide(hub);
    stops.push(() => sdk.stop());
    const redis = await redisSide(fsync);
    stops.push(() => redis.stop());
    const homemade = await homemadeSide(fsync);
    stops.push(() => homemade.stop());
    const sides = { muster, sdk, redis, homemade } as const;
    type Who = keyof typeof sides;
    const kinds = [['sequential', 1], ['inFlight64', IN_FLIGHT]] as const;
    type Kind = (typeof kinds)[number][0];
    const runs = Object.fromEntries(Object.keys(sides).map((w) => [w, { sequential: [] as Phase[], inFlight64: [] as Phase[] }])) as Record<Who, Record<Kind, Phase[]>>;
    const during: Record<string, unknown>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const [kind, inFlight] of kinds) {
        const order: readonly Who[] = r % 2 === 0 ? ['muster', 'sdk', 'redis', 'homemade'] : ['homemade', 'redis', 'sdk', 'muster'];
        for (const who of order) {
          const p: Phase & { during?: Record<string, unknown> } = await sides[who].phase(inFlight, `${who[0]}${kind[0]}${r}`);
          runs[who][kind].push(p);
          if (p.during) during.push(p.during);
        }
      }
    }
    const summary = (ps: Phase[]) => ({
      best: Math.max(...ps.map((p) => p.rate)), runs: ps.map((p) => p.rate), perRegistration: ps.map((p) => p.use),
      ...(ps[0]?.waits ? { waitsMs: ps.map((p) => p.waits) } : {}),
    });
    const rates = (who: Who, kind: Kind) => runs[who][kind].map((p) => p.rate);
    const over = (who: Who, peer: Who = 'redis') => ({ sequential: pairedMedian(rates(who, 'sequential'), rates(peer, 'sequential')), inFlight64: pairedMedian(rates(who, 'inFlight64'), rates(peer, 'inFlight64')) });
    return {
      method: `${ROUNDS} rounds of ${PHASE_MS / 1000} s phases, muster's (raw frames, then the SDK) and Redis's alternating (order flipped each round), after ${WARM_UP_MS / 1000} s sequential and ${WARM_UP_MS / 1000} s in flight unmeasured on each side; Redis: appendonly yes, appendfsync ${fsync}, no automatic AOF rewrite, on core 0 as the hub, one MULTI (HSETNX, HSET, XADD) per registration from @redis/client; homemade: the hub's frames to a ws JSON-RPC server that writes the same MULTI to a Redis of its own (both on core 0)`,
      muster: { sequential: summary(runs.muster.sequential), inFlight64: summary(runs.muster.inFlight64), idleRoundTrips: muster.idle, roundTripsDuringBurst: during },
      sdk: { sequential: summary(runs.sdk.sequential), inFlight64: summary(runs.sdk.inFlight64) },
      redis: { appendfsync: fsync, sequential: summary(runs.redis.sequential), inFlight64: summary(runs.redis.inFlight64) },
      homemade: { what: 'a ws JSON-RPC server over Redis (bench/_durable-homemade-server.ts); perRegistration is its server process alone, not its Redis', sequential: summary(runs.homemade.sequential), inFlight64: summary(runs.homemade.inFlight64) },
      // The median of each round's ratio; bestOverBest as the bench gave it before the rounds were interleaved.
      musterOverRedis: over('muster'),
      sdkOverRedis: over('sdk'),
      musterOverHomemade: over('muster', 'homemade'),
      sdkOverHomemade: over('sdk', 'homemade'),
      musterOverRedisBestOverBest: {
        sequential: round(Math.max(...rates('muster', 'sequential')) / Math.max(...rates('redis', 'sequential')), 2),
        inFlight64: round(Math.max(...rates('muster', 'inFlight64')) / Math.max(...rates('redis', 'inFlight64')), 2),
      },
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}
