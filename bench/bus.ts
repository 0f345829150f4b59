/**
 * `npm run bench -- bus`: muster's bus beside NATS and Mosquitto in the same run, each driven by
 * its own Node client through the same load generator (bench/_bus-load.ts). The servers run on
 * core 0 (muster's hub as its own process under taskset; NATS and Mosquitto re-pinned to core 0
 * for the run and restored after), the load generator on core 1. Phases: (a) fan-out 1→1 and
 * 1→10, 64-byte payloads; (b) latency at 5,000 messages/s; (c) request/reply, sequential and
 * 16 in flight. Prints delivered messages/s and server CPU per delivered message for each system,
 * and the ratios muster/NATS and muster/Mosquitto.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { musterDriver, mqttDriver, natsDriver, type Driver } from './_bus-drivers.js';
import { fanout, latency, requestReply } from './_bus-load.js';
import { sdkDriver } from './_bus-sdk-driver.js';
import { pinSelf, spawnBenchHub } from './_hub-process.js';

const PAYLOAD = 64;
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

interface SystemReport {
  fanout1: Awaited<ReturnType<typeof fanout>>;
  fanout10: Awaited<ReturnType<typeof fanout>>;
  latency5k: Awaited<ReturnType<typeof latency>>;
  request1: Awaited<ReturnType<typeof requestReply>>;
  request16: Awaited<ReturnType<typeof requestReply>>;
}

async function runSystem(d: Driver): Promise<SystemReport> {
  process.stderr.write(`  ${d.name}: fan-out 1→1\n`);
  const fanout1 = await fanout(d, 1, 300_000, PAYLOAD, 15_000);
  process.stderr.write(`  ${d.name}: fan-out 1→10\n`);
  const fanout10 = await fanout(d, 10, 60_000, PAYLOAD, 15_000);
  process.stderr.write(`  ${d.name}: latency\n`);
  const latency5k = await latency(d, 5000, 4, PAYLOAD);
  process.stderr.write(`  ${d.name}: request/reply\n`);
  const request1 = await requestReply(d, 1, 10_000, 8_000, PAYLOAD);
  const request16 = await requestReply(d, 16, 100_000, 8_000, PAYLOAD);
  return { fanout1, fanout10, latency5k, request1, request16 };
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
  try {
    const drivers: Driver[] = [musterDriver(hub.pid, hub.wsUrl), sdkDriver(hub.pid, hub.wsUrl)];
    if (natsPid !== null) drivers.push(natsDriver(natsPid));
    if (mqttPid !== null) drivers.push(mqttDriver(mqttPid));
    // BUS_BENCH_SYSTEMS=muster,nats runs only those (muster always runs).
    const only = process.env.BUS_BENCH_SYSTEMS?.split(',');
    for (const d of drivers) if (!only || d.name === 'muster' || only.includes(d.name)) systems[d.name] = await runSystem(d);
  } finally {
    for (const [pid, cpus] of restore) pin(pid, cpus);
    await hub.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const vsOf = (m: SystemReport) => (other: SystemReport | undefined) => other && {
    fanout1DeliveredPerSec: ratio(m.fanout1.deliveredPerSec, other.fanout1.deliveredPerSec),
    fanout10DeliveredPerSec: ratio(m.fanout10.deliveredPerSec, other.fanout10.deliveredPerSec),
    fanout10ServerCpuPerDelivered: ratio(m.fanout10.serverCpuUsPerDelivered, other.fanout10.serverCpuUsPerDelivered),
    latencyP99: ratio(m.latency5k.p99Us, other.latency5k.p99Us),
    request1PerSec: ratio(m.request1.roundTripsPerSec, other.request1.roundTripsPerSec),
    request16PerSec: ratio(m.request16.roundTripsPerSec, other.request16.roundTripsPerSec),
  };
  const vs = vsOf(systems.muster!);
  const m = systems.muster!;
  const sdk = systems['muster-sdk'];
  const nats = systems.nats;
  return {
    setup: {
      payloadBytes: PAYLOAD, servers: 'core 0 (muster hub under taskset; nats-server and mosquitto re-pinned for the run)',
      loadGenerator: `this process, ${pinned ? 'core 1' : 'not pinned'}`, loadavgBefore: load0, loadavgAfter: loadavg(),
      clients: { muster: 'ws speaking the bus binary frame format, requests included (records batched per microtask)', 'muster-sdk': 'the SDK (muster/client) as a user writes it: bus(c).publish / subscribe / request', nats: 'nats (nats.js v2)', mosquitto: 'mqtt (MQTT.js v5, QoS 0)' },
    },
    systems,
    ratios: {
      musterOverNats: vs(nats), musterOverMosquitto: vs(systems.mosquitto),
      sdkOverNats: sdk && vsOf(sdk)(nats), sdkOverWire: sdk && vsOf(sdk)(m),
    },
    targets: {
      fanout10AtLeastMosquitto: systems.mosquitto ? m.fanout10.deliveredPerSec >= systems.mosquitto.fanout10.deliveredPerSec : null,
      fanout10AtLeastHalfNats: systems.nats ? m.fanout10.deliveredPerSec >= 0.5 * systems.nats.fanout10.deliveredPerSec : null,
      fanout10CpuAtMost1us: m.fanout10.serverCpuUsPerDelivered <= 1,
      p99AtMost650us: m.latency5k.p99Us <= 650,
      request16AtLeast2xNats: systems.nats ? m.request16.roundTripsPerSec >= 2 * systems.nats.request16.roundTripsPerSec : null,
      sdkFanout1AtLeastNats: sdk && nats ? sdk.fanout1.deliveredPerSec >= nats.fanout1.deliveredPerSec : null,
      sdkFanout10AtLeastNats: sdk && nats ? sdk.fanout10.deliveredPerSec >= nats.fanout10.deliveredPerSec : null,
    },
  };
}
