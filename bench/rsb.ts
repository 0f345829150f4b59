/**
 * `npm run bench -- rsb`: the RSB face's fan-out beside muster's native binary bus and NATS, in
 * the same run, with the same load generator (bench/_bus-load.ts): one RSB client publishing
 * 64-byte `bytes` events to 1 and to 10 RSB clients, delivered notifications/s and hub CPU per
 * delivered notification. The hub runs as its own process on core 0 (nats-server re-pinned there
 * for the run), this process on core 1. Target: RSB within 1.5x the native binary bus per
 * delivered message.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { musterDriver, natsDriver, type Driver } from './_bus-drivers.js';
import { fanout, type FanoutResult } from './_bus-load.js';
import { pinSelf, spawnBenchHub } from './_hub-process.js';
import { rsbDriver } from './_rsb-driver.js';

const PAYLOAD = 64;
const ratio = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(2)) : null);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const a = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return typeof a === 'object' && a ? a.port : 0;
}

function natsPid(): number | null {
  try { return Number(execFileSync('pgrep', ['-o', '-x', 'nats-server'], { encoding: 'utf8' }).trim()) || null; } catch { return null; }
}

function pin(pid: number, cpus: string): string | null {
  try {
    const before = /list: (\S+)/.exec(execFileSync('taskset', ['-p', '-c', String(pid)], { encoding: 'utf8' }))?.[1] ?? null;
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return before;
  } catch { return null; }
}

interface Run { fanout1: FanoutResult; fanout10: FanoutResult }

async function run(d: Driver): Promise<Run> {
  process.stderr.write(`  ${d.name}: fan-out 1→1\n`);
  const fanout1 = await fanout(d, 1, 300_000, PAYLOAD, 15_000);
  process.stderr.write(`  ${d.name}: fan-out 1→10\n`);
  const fanout10 = await fanout(d, 10, 60_000, PAYLOAD, 15_000);
  return { fanout1, fanout10 };
}

export default async function bench(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const dataDir = mkdtempSync(join(tmpdir(), 'muster-bench-rsb-'));
  const configFile = join(dataDir, 'bench-config.json');
  const rsbPort = await freePort();
  writeFileSync(configFile, JSON.stringify({
    busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } },
    busQueueMessages: 100_000, busQueueBytes: 64 * 1024 * 1024, rsb: `127.0.0.1:${rsbPort}`,
  }));
  // RSB_BENCH_PROF=DIR writes a CPU profile of the hub there (node --cpu-prof); RSB_BENCH_ONLY=rsb skips the others.
  const prof = process.env.RSB_BENCH_PROF;
  const hub = await spawnBenchHub({ dataDir, core: 0, sync: 'normal', extraArgs: ['--config', configFile], nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [] });
  const nats = natsPid();
  const restore = nats !== null ? pin(nats, '0') : null;
  const systems: Record<string, Run> = {};
  try {
    systems.rsb = await run(rsbDriver(hub.pid, rsbPort));
    const only = process.env.RSB_BENCH_ONLY === 'rsb';
    if (!only) systems.native = await run(musterDriver(hub.pid, hub.wsUrl));
    if (nats !== null && !only) systems.nats = await run(natsDriver(nats));
  } finally {
    if (nats !== null && restore) pin(nats, restore);
    await hub.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const r = systems.rsb!;
  const n = systems.native;
  if (!n) return { systems };
  const cpu10 = ratio(r.fanout10.serverCpuUsPerDelivered, n.fanout10.serverCpuUsPerDelivered);
  return {
    setup: {
      payloadBytes: PAYLOAD, hub: 'core 0 (own process under taskset; nats-server re-pinned for the run)', loadGenerator: `this process, ${pinned ? 'core 1' : 'not pinned'}`,
      clients: { rsb: 'raw TCP RSB clients (frames built with the face\'s encoder, written per microtask)', native: 'ws, bus binary frames', nats: 'nats.js v2' },
    },
    systems,
    ratios: {
      rsbOverNative: {
        fanout1DeliveredPerSec: ratio(r.fanout1.deliveredPerSec, n.fanout1.deliveredPerSec),
        fanout10DeliveredPerSec: ratio(r.fanout10.deliveredPerSec, n.fanout10.deliveredPerSec),
        fanout1CpuPerDelivered: ratio(r.fanout1.serverCpuUsPerDelivered, n.fanout1.serverCpuUsPerDelivered),
        fanout10CpuPerDelivered: cpu10,
      },
      rsbOverNats: systems.nats ? {
        fanout10DeliveredPerSec: ratio(r.fanout10.deliveredPerSec, systems.nats.fanout10.deliveredPerSec),
        fanout10CpuPerDelivered: ratio(r.fanout10.serverCpuUsPerDelivered, systems.nats.fanout10.serverCpuUsPerDelivered),
      } : null,
    },
    targets: { rsbCpuPerDeliveredWithin1_5xNative: cpu10 !== null && cpu10 <= 1.5 },
  };
}
