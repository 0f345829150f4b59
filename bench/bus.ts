/**
 * `npm run bench -- bus`: muster's bus beside NATS and Mosquitto in the same run, each driven by
 * its own Node client through the same load generator (bench/_bus-load.ts). The servers run on
 * core 0 (muster's hub as its own process under taskset; NATS and Mosquitto re-pinned to core 0
 * for the run and restored after), the load generator on core 1. Phases: (a) fan-out 1→1 and
 * 1→10, 64-byte payloads; (b) request/reply one at a time, each system after the other, and 16 in
 * flight with the systems interleaved in 1 s slices (bench/_bus-requests.ts; beside them a bare
 * `ws` relay, bench/_bus-ws-relay.ts); (c) latency at 5,000 messages/s, the systems interleaved in
 * short slices (bench/_bus-latency.ts). The fan-out and
 * latency phases run once unmeasured first (warm-up). Prints delivered messages/s and server CPU
 * per delivered message for each system, the ratios muster/NATS and muster/Mosquitto, and
 * muster's latency p50 minus NATS's paired round by round.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { musterDriver, mqttDriver, natsDriver, type Driver } from './_bus-drivers.js';
import { fanout, fanoutRuns, requestReply, type FanoutMedians, type RequestResult } from './_bus-load.js';
import { interleavedRequests, pairedRatio, type InterleavedRequestResult, type RequestOptions } from './_bus-requests.js';
import { interleavedLatency, pairedDifference, type LatencyOptions, type LatencyResult, type PairedDifference } from './_bus-latency.js';
import { startWsRelay, type WsRelay } from './_bus-ws-relay.js';
import { sdkDriver } from './_bus-sdk-driver.js';
import { pinSelf, spawnBenchHub } from './_hub-process.js';

const PAYLOAD = 64;
/**
 * 20 rounds of 0.25 s slices: 4 s measured per system, as the consecutive phases measured, in
 * about their time. Shorter slices than 0.5 s put a pair closer in time and give more rounds for
 * the median. Warm-up: 2.5 s per system alone (the hub gets 5 s of it from its two lanes; the
 * consecutive phases gave it 6), then one unmeasured round.
 */
const LATENCY: LatencyOptions = {
  rate: 5000, payloadBytes: PAYLOAD, warmSeconds: 2.5, warmRounds: 1, leadInSeconds: 0.05, sliceSeconds: 0.25,
  // BUS_BENCH_LATENCY_ROUNDS=N: more rounds for a tighter median (2 to 100).
  rounds: Math.min(100, Math.max(2, Math.round(Number(process.env.BUS_BENCH_LATENCY_ROUNDS ?? 20)) || 20)),
};
/**
 * 8 rounds of 1 s slices at 16 in flight, as the consecutive phase measured 8 s per system, after
 * 2 s per system alone. BUS_BENCH_REQUEST_ROUNDS=N for more rounds (2 to 50).
 */
const REQUESTS: RequestOptions = {
  inFlight: 16, payloadBytes: PAYLOAD, warmMs: 2_000, sliceMs: 1_000,
  rounds: Math.min(50, Math.max(2, Math.round(Number(process.env.BUS_BENCH_REQUEST_ROUNDS ?? 8)) || 8)),
};
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

function pidOf(name: string): number | null {
  try {
    const out = execFileSync('pgrep', ['-o', '-x', name], { encoding: 'utf8' }).trim();
    return out ? Number(out) : null;
  } catch { return null; }
}

/** Pins every thread of a process to `cpus`; returns its previous list to restore. */
function pin(pid: number, cpus: string): string | null {
  try {
    const before = /list: (\S+)/.exec(execFileSync('taskset', ['-p', '-c', String(pid)], { encoding: 'utf8' }))?.[1] ?? null;
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return before;
  } catch { return null; }
}

const ratio = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(2)) : null);

/** A phase the system did not run (BUS_BENCH_PHASES, or a driver that serves only some) is null. */
interface SystemReport {
  fanout1: FanoutMedians | null;
  fanout10: FanoutMedians | null;
  latency5k: LatencyResult | null;
  request1: RequestResult | null;
  request16: InterleavedRequestResult | null;
}

/** Measured runs of each fan-out phase (BUS_BENCH_FANOUT_RUNS, default 3); the report gives their medians. */
const FANOUT_RUNS = Math.min(9, Math.max(1, Math.round(Number(process.env.BUS_BENCH_FANOUT_RUNS ?? 3)) || 3));
/** BUS_BENCH_PHASES=fanout1,fanout10 runs only those phases; all by default. */
const phases = process.env.BUS_BENCH_PHASES?.split(',');
const runs = (d: Driver, name: string) => (!phases || phases.includes(name)) && (!d.phases || d.phases.includes(name));

/** Every phase but request16 and latency, which run interleaved across systems afterwards. */
async function runSystem(d: Driver): Promise<SystemReport> {
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
    if (!runs(d, name)) return null;
    process.stderr.write(`  ${d.name}: ${name}\n`);
    return run();
  };
  // Unmeasured fan-out first, for every system alike: connections and code paths warm up (V8's
  // optimizing compiler runs on threads of the hub process and would count as its CPU), as the
  // latency phase warms up before it measures.
  await phase('fanout1', () => fanout(d, 1, 60_000, PAYLOAD, 5_000));
  await phase('fanout10', () => fanout(d, 10, 20_000, PAYLOAD, 5_000));
  const fanout1 = await phase('fanout1', () => fanoutRuns(FANOUT_RUNS, () => fanout(d, 1, 300_000, PAYLOAD, 15_000)));
  const fanout10 = await phase('fanout10', () => fanoutRuns(FANOUT_RUNS, () => fanout(d, 10, 60_000, PAYLOAD, 15_000)));
  const request1 = await phase('request1', () => requestReply(d, 1, 10_000, 8_000, PAYLOAD));
  return { fanout1, fanout10, latency5k: null, request1, request16: null };
}

export default async function bench(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const load0 = loadavg();
  const dataDir = mkdtempSync(join(tmpdir(), 'muster-bench-bus-'));
  const configFile = join(dataDir, 'bench-config.json');
  writeFileSync(configFile, JSON.stringify({
    busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } },
    busQueueMessages: 100_000, busQueueBytes: 64 * 1024 * 1024,
  }));
  // BUS_BENCH_PROF=DIR writes a CPU profile of the hub there (node --cpu-prof).
  const prof = process.env.BUS_BENCH_PROF;
  const hub = await spawnBenchHub({ dataDir, core: 0, sync: 'normal', extraArgs: ['--config', configFile], nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [] });
  const natsPid = pidOf('nats-server');
  const mqttPid = pidOf('mosquitto');
  const restore: [number, string][] = [];
  for (const pid of [natsPid, mqttPid]) {
    if (pid === null) continue;
    const before = pin(pid, '0');
    if (before) restore.push([pid, before]);
  }
  const systems: Record<string, SystemReport> = {};
  let relay: WsRelay | null = null;
  let latencyOrders: string[][] = [];
  let latencySeconds: number | null = null;
  try {
    const drivers: Driver[] = [musterDriver(hub.pid, hub.wsUrl), sdkDriver(hub.pid, hub.wsUrl)];
    if (natsPid !== null) drivers.push(natsDriver(natsPid));
    if (mqttPid !== null) drivers.push(mqttDriver(mqttPid));
    // BUS_BENCH_SYSTEMS=muster,nats runs only those (muster always runs).
    const only = process.env.BUS_BENCH_SYSTEMS?.split(',');
    if (!only || only.includes('ws-relay')) drivers.push((relay = await startWsRelay(0)).driver);
    const chosen = drivers.filter((d) => !only || d.name === 'muster' || only.includes(d.name));
    for (const d of chosen) systems[d.name] = await runSystem(d);
    const reqDrivers = chosen.filter((d) => runs(d, 'request16'));
    if (reqDrivers.length) {
      const req = await interleavedRequests(reqDrivers, REQUESTS, (line) => process.stderr.write(`${line}\n`));
      for (const [name, r] of Object.entries(req)) systems[name]!.request16 = r;
    }
    // A latency path (a frame of one or a few records per turn) warms up apart from fan-out's: a hub
    // measured on it first had p50s and CPU per message up to twice those of a second run.
    const latDrivers = chosen.filter((d) => runs(d, 'latency5k'));
    if (latDrivers.length) {
      const lat = await interleavedLatency(latDrivers, LATENCY, (line) => process.stderr.write(`${line}\n`));
      for (const [name, r] of Object.entries(lat.systems)) systems[name]!.latency5k = r;
      latencyOrders = lat.orders;
      latencySeconds = lat.seconds;
    }
  } finally {
    for (const [pid, cpus] of restore) pin(pid, cpus);
    await relay?.kill();
    await hub.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const m = systems.muster!;
  const sdk = systems['muster-sdk'];
  const nats = systems.nats;
  const wsRelay = systems['ws-relay'];
  /** a's figure over b's, null when either did not run that phase. */
  const over = <K extends keyof SystemReport>(a: SystemReport | undefined, b: SystemReport | undefined, phase: K, figure: (r: NonNullable<SystemReport[K]>) => number) => {
    const x = a?.[phase];
    const y = b?.[phase];
    return x && y ? ratio(figure(x as NonNullable<SystemReport[K]>), figure(y as NonNullable<SystemReport[K]>)) : null;
  };
  const atLeast = (r: number | null, bound: number) => (r === null ? null : r >= bound);
  const atMost = (r: number | null, bound: number) => (r === null ? null : r <= bound);
  const vsOf = (a: SystemReport) => (b: SystemReport | undefined) => b && {
    fanout1DeliveredPerSec: over(a, b, 'fanout1', (r) => r.deliveredPerSec),
    fanout10DeliveredPerSec: over(a, b, 'fanout10', (r) => r.deliveredPerSec),
    fanout1ServerCpuPerDelivered: over(a, b, 'fanout1', (r) => r.serverCpuUsPerDelivered),
    fanout10ServerCpuPerDelivered: over(a, b, 'fanout10', (r) => r.serverCpuUsPerDelivered),
    latencyP50: over(a, b, 'latency5k', (r) => r.p50Us),
    latencyP99: over(a, b, 'latency5k', (r) => r.p99Us),
    request1PerSec: over(a, b, 'request1', (r) => r.roundTripsPerSec),
    // The median of the interleaved rounds' ratios (bench/_bus-requests.ts).
    request16PerSec: pairedRatio(a.request16, b.request16),
  };
  const vs = vsOf(m);
  const paired = (a: SystemReport | undefined): PairedDifference | null => (a?.latency5k && nats?.latency5k ? pairedDifference(a.latency5k, nats.latency5k) : null);
  const latencyPaired = { muster: paired(m), 'muster-sdk': paired(sdk) };
  // The median of the per-round differences: each pair met the same machine within about a second.
  const medianOf = (p: PairedDifference | null) => (p && Number.isFinite(p.medianUs) ? p.medianUs : null);
  const p50OverNatsUs = medianOf(latencyPaired.muster);
  return {
    setup: {
      payloadBytes: PAYLOAD, servers: 'core 0 (muster hub under taskset; nats-server and mosquitto re-pinned for the run; the bare ws relay under taskset)',
      loadGenerator: `this process, ${pinned ? 'core 1' : 'not pinned'}`, loadavgBefore: load0, loadavgAfter: loadavg(),
      latency: { ...LATENCY, seconds: latencySeconds, orders: latencyOrders },
      request16: { ...REQUESTS, method: 'the systems interleaved, one slice each per round, the order reversed every other round; ratios are the median of the rounds\' own' },
      clients: {
        muster: 'ws speaking the bus binary frame format, requests included (records batched per microtask)', 'muster-sdk': 'the SDK (muster/client) as a user writes it: bus(c).publish / subscribe / request',
        nats: 'nats (nats.js v2)', mosquitto: 'mqtt (MQTT.js v5, QoS 0)', 'ws-relay': 'a bare ws server relaying each request to the responder\'s socket and back, one ws.send per message (requests only)',
      },
    },
    systems,
    ratios: {
      musterOverNats: vs(nats), musterOverMosquitto: vs(systems.mosquitto),
      sdkOverNats: sdk && vsOf(sdk)(nats), sdkOverWire: sdk && vsOf(sdk)(m), sdkOverWsRelay: sdk && vsOf(sdk)(wsRelay),
      latencyP50OverNatsUs: p50OverNatsUs,
      sdkLatencyP50OverNatsUs: medianOf(latencyPaired['muster-sdk']),
      latencyP50OverNatsPaired: latencyPaired,
    },
    targets: {
      fanout10AtLeastMosquitto: atLeast(over(m, systems.mosquitto, 'fanout10', (r) => r.deliveredPerSec), 1),
      fanout10AtLeastHalfNats: atLeast(over(m, nats, 'fanout10', (r) => r.deliveredPerSec), 0.5),
      fanout10CpuAtMost1us: m.fanout10 ? m.fanout10.serverCpuUsPerDelivered <= 1 : null,
      p99AtMost650us: m.latency5k ? m.latency5k.p99Us <= 650 : null,
      request16AtLeast2xNats: atLeast(pairedRatio(m.request16, nats?.request16), 2),
      // Issue 16, part 1: the SDK against nats.js, and its requests against a bare ws relay.
      sdkFanout1AtLeastNats: atLeast(over(sdk, nats, 'fanout1', (r) => r.deliveredPerSec), 1),
      sdkFanout10AtLeastNats: atLeast(over(sdk, nats, 'fanout10', (r) => r.deliveredPerSec), 1),
      sdkRequest16AtLeastWsRelay: atLeast(pairedRatio(sdk?.request16, wsRelay?.request16), 1),
      // Part 2: the hub's CPU per delivered message against nats-server's, and latency.
      fanout1CpuAtMost2xNats: atMost(over(m, nats, 'fanout1', (r) => r.serverCpuUsPerDelivered), 2),
      fanout10CpuAtMost1_2xNats: atMost(over(m, nats, 'fanout10', (r) => r.serverCpuUsPerDelivered), 1.2),
      latencyP50AtMostNatsPlus30us: p50OverNatsUs === null ? null : p50OverNatsUs <= 30,
    },
  };
}
