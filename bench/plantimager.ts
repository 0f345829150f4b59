/**
 * `npm run bench -- plantimager`: REGISTER and CHECK_ALIVE round trips per second through the
 * plantimager face, from 1 and from 8 REQ clients. The hub runs in this process with the default
 * durable store (sync full, plantimagerSync normal); the clients run in a child process (this same file, in client mode)
 * so that they do not share the hub's event loop. A last run caps the face at one request at a
 * time, which is what the original's REP socket does, to show what ROUTER buys. Then REGISTER
 * again with 200 and with 10,000 devices already registered (flat: nothing in the face scans).
 * REGISTER is measured at the default (`--sync full` with `--plantimager-sync normal`: a device's
 * ack once its change reached the OS, which survives kill -9, not a power loss; docs/operations.md
 * says why) and again with `--plantimager-sync full` (each ack after a sync of the WAL).
 * As issue 16 measured the real registry: the hub (this process, its threads included) on core 0,
 * the clients on core 1; every REGISTER phase (1 and 8 clients, each level, each device count) is
 * run 3 times and gives the median run by rate (`runs` lists the 3 rates).
 * Each fresh hub first takes WARM_UP_MS of REGISTER from 8 clients, not counted (the hubs of the
 * by-devices runs excepted, whose device counts it would change).
 * Each phase also gives `hubCpuUsPerRequest`: the CPU time of this whole process (the hub's main
 * thread, its SQLite writer and ZeroMQ I/O threads, V8's helpers; on the reference's side, the
 * reference's process) over the requests answered, which a busy shared machine disturbs far less
 * than the rate. `loadAverage` is the machine's at start and end.
 * Every REGISTER phase also runs against a reference registry (bench/_plantimager-reference.ts: the
 * original's loop rebuilt from its published source, in Python on core 0), a fresh one per run
 * holding the phase's devices: the three runs alternate between the face and the reference, which
 * goes first flipped each round, and `versusReference` is the median of the rounds' own ratios. This machine's speed moves
 * by up to 2x within minutes, so a ratio to figures measured elsewhere (issue 16's of the original,
 * kept in `issueFigures` and `versusIssueFigures`) says little on its own.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { DEFAULT_CONFIG } from '../src/config.js';
import { PlantimagerFace } from '../src/faces/plantimager/face.js';
import { Hub } from '../src/hub.js';
import { randomUUID } from 'node:crypto';
import { median } from './_cluster-setup.js';
import { cpuMs, pinSelf } from './_hub-process.js';
import { startReferenceRegistry } from './_plantimager-reference.js';

const DURATION_MS = Number(process.env.PLANTIMAGER_BENCH_MS ?? 3000);
/** Unmeasured REGISTER load on every fresh hub first: its first seconds include V8 compiling the hot path (a cold hub took twice the CPU per registration). */
const WARM_UP_MS = Number(process.env.PLANTIMAGER_BENCH_WARM_MS ?? 2000);
type Op = 'register' | 'alive';

interface ClientReport { requests: number; perSecond: number; p50Ms: number; p99Ms: number; failures: number; hubCpuUsPerRequest?: number; runs?: number[] }

// ---- client mode: N REQ sockets in a loop for a fixed time ----

async function runClients(url: string, clients: number, op: Op, durationMs: number, run: string): Promise<ClientReport> {
  const sockets = Array.from({ length: clients }, () => {
    const s = new zmq.Request({ linger: 0, receiveTimeout: 10_000 });
    s.connect(url);
    return s;
  });
  // CHECK_ALIVE needs a device per client.
  const uuids: string[] = [];
  for (let c = 0; c < clients; c++) {
    if (op !== 'alive') break;
    await sockets[c]!.send(JSON.stringify({ event: 'REGISTER', payload: { device_type: 'bench', addr: `tcp://${run}-alive-${c}:1`, name: `${run}-alive-${c}` } }));
    const [reply] = await sockets[c]!.receive();
    uuids.push((JSON.parse(reply!.toString()) as { payload: { uuid: string } }).payload.uuid);
  }
  const latencies: number[] = [];
  let failures = 0;
  const end = performance.now() + durationMs;
  const t0 = performance.now();
  await Promise.all(sockets.map(async (s, c) => {
    for (let i = 0; performance.now() < end; i++) {
      const msg = op === 'register'
        ? { event: 'REGISTER', payload: { device_type: 'bench', addr: `tcp://${run}-${c}-${i}:1`, name: `${run}-${c}-${i}`, overwrite: false } }
        : { event: 'CHECK_ALIVE', payload: { uuid: uuids[c], alive_timeout: 60 } };
      const start = performance.now();
      await s.send(JSON.stringify(msg));
      const [reply] = await s.receive();
      latencies.push(performance.now() - start);
      const event = (JSON.parse(reply!.toString()) as { event: string }).event;
      if (event !== (op === 'register' ? 'REGISTER_ACK' : 'ACK')) failures++;
    }
  }));
  const elapsed = performance.now() - t0;
  for (const s of sockets) s.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 100) / 100;
  return { requests: latencies.length, perSecond: Math.round(latencies.length / (elapsed / 1000)), p50Ms: pct(0.5), p99Ms: pct(0.99), failures };
}

if (process.env.PLANTIMAGER_BENCH_CLIENT) {
  const [url, clients, op, durationMs, run] = process.env.PLANTIMAGER_BENCH_CLIENT.split(' ');
  pinSelf(1);
  const report = await runClients(url!, Number(clients), op as Op, Number(durationMs), run!);
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(0);
}

// ---- bench mode ----

/** CPU µs used so far by the server under test: this process (the hub) by default. */
type CpuClock = () => number;
const hubCpuUs: CpuClock = () => { const c = process.cpuUsage(); return c.user + c.system; };

/** Runs the clients in a child process; adds the server's CPU per request answered meanwhile. */
async function clientProcess(url: string, clients: number, op: Op, run: string, durationMs = DURATION_MS, cpuUs: CpuClock = hubCpuUs): Promise<ClientReport> {
  const cpu0 = cpuUs();
  const report = await clientChild(url, clients, op, run, durationMs);
  return { ...report, hubCpuUsPerRequest: Math.round((cpuUs() - cpu0) / Math.max(1, report.requests)) };
}

function clientChild(url: string, clients: number, op: Op, run: string, durationMs: number): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname], {
      env: { ...process.env, PLANTIMAGER_BENCH_CLIENT: `${url} ${clients} ${op} ${durationMs} ${run}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), DURATION_MS + 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out) as ClientReport);
      else reject(new Error(`bench client exited ${code}`));
    });
  });
}

/** The median run by rate, with every run's rate. */
function medianRun(runs: readonly ClientReport[]): ClientReport {
  const rates = runs.map((r) => r.perSecond);
  const mid = median(rates);
  return { ...runs.find((r) => r.perSecond === mid)!, runs: rates };
}

interface Beside { face: ClientReport; reference: ClientReport; ratio: number }

/**
 * REGISTER from `clients` clients, three runs on the face and three on the reference, alternating
 * (the reference first in the middle round): the median run of each, and the median of the
 * rounds' own ratios (face / reference). Each reference run is a fresh reference holding `devices`:
 * the thousands a run registers live 20 s and would slow the next run's scans.
 */
async function besideOf3(url: string, devices: number, clients: number, run: string): Promise<Beside> {
  const face: ClientReport[] = [];
  const reference: ClientReport[] = [];
  for (let i = 0; i < 3; i++) {
    const onFace = () => clientProcess(url, clients, 'register', `${run}-${i}`);
    const onRef = async () => {
      const ref = await startReferenceRegistry(devices);
      try {
        return await clientProcess(ref.address, clients, 'register', `${run}-${i}`, DURATION_MS, () => cpuMs(ref.pid) * 1000);
      } finally {
        await ref.stop();
      }
    };
    if (i === 1) { reference.push(await onRef()); face.push(await onFace()); } else { face.push(await onFace()); reference.push(await onRef()); }
  }
  return { face: medianRun(face), reference: medianRun(reference), ratio: round2(median(face.map((f, i) => f.perSecond / reference[i]!.perSecond))) };
}

/** `default`: --sync full, devices acknowledged once written (plantimagerSync normal); `full`: devices wait for the sync too. */
type Durability = 'default' | 'full';

/** The warm-up: 8 clients registering, not counted. */
const warmUp = (url: string, run: string) => clientProcess(url, 8, 'register', `warm-${run}`, WARM_UP_MS);

const startHub = (dataDir: string, durability: Durability) => Hub.start({ config: {
  ...DEFAULT_CONFIG, host: '127.0.0.1', port: 0, dataDir, hubId: 'bench', logLevel: 'silent', maxMembers: 1_000_000,
  sync: 'full', plantimagerSync: durability === 'full' ? 'full' : DEFAULT_CONFIG.plantimagerSync,
} });

/** The original registry's figures as issue 16 quotes them (measured elsewhere, on another day). */
const ISSUE_FIGURES = {
  source: 'issue 16: the real plantimager registry, measured elsewhere',
  register_1_client: 2_200,
  register_by_devices_registered: { 200: 3_300, 2_000: 2_600 },
};

/** A fresh hub at `durability` holding `devices` plantimager devices (added before the face starts), with its face. */
async function withFace<T>(durability: Durability, devices: number, run: (faceUrl: string, hub: Hub) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'muster-bench-plantimager-'));
  const hub = await startHub(dataDir, durability);
  try {
    for (let i = 0; i < devices; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, devices - i) }, (_, k) => hub.registry.add(hub.registry.createMember({
        id: randomUUID(), name: `pre-${i + k}`, type: 'bench', address: `tcp://pre-${i + k}:1`, meta: { face: 'plantimager' },
        liveness: { kind: 'ttl', ttlMs: 3_600_000 }, tokenHash: randomUUID(), registeredAt: Date.now(),
      }))));
    }
    const face = await PlantimagerFace.start(hub, { listen: '0', defaultHost: '127.0.0.1' });
    hub.addFace(face);
    return await run(face.address, hub);
  } finally {
    await hub.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** REGISTER from 1 and 8 clients beside the reference, each holding `devices` devices at first. */
function registerAt(devices: number): Promise<Record<string, unknown>> {
  // No warm-up here: it would add thousands of devices to the count being compared; both counts start cold alike.
  return withFace('default', devices, async (url) => ({
    devicesBefore: devices,
    register_1_client: await besideOf3(url, devices, 1, `d${devices}c1`),
    register_8_clients: await besideOf3(url, devices, 8, `d${devices}c8`),
  }));
}

/** REGISTER from 1 and 8 clients beside the reference, on a fresh hub with `--plantimager-sync full`. */
function registerSyncFull(): Promise<Record<string, unknown>> {
  return withFace('full', 0, async (url) => {
    await warmUp(url, 'f');
    return { register_1_client: await besideOf3(url, 0, 1, 'f1'), register_8_clients: await besideOf3(url, 0, 8, 'f8') };
  });
}

export default async function bench(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(0);
  try {
    return await phases();
  } finally {
    if (pinned) pinSelf(`0-${cpus().length - 1}`);
  }
}

async function phases(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {
    durationMsPerRun: DURATION_MS, warmUpMsPerHub: WARM_UP_MS, store: 'sqlite sync=full, plantimagerSync=normal (the default) unless said',
    reference: 'bench/_plantimager-reference.ts: the original DeviceRegistry loop rebuilt from its published source, /usr/bin/python3 on core 0',
    issueFigures: ISSUE_FIGURES, loadAverage: { start: loadavg().map(round2) },
  };
  await withFace('default', 0, async (url, hub) => {
    const serial = await PlantimagerFace.start(hub, { listen: '0', defaultHost: '127.0.0.1', maxInFlight: 1 });
    hub.addFace(serial);
    // The reference has no compiler to warm up (and each of its runs starts fresh).
    await warmUp(url, 'default');
    for (const clients of [1, 8]) {
      const n = clients === 1 ? '1_client' : `${clients}_clients`;
      report[`register_${n}`] = await besideOf3(url, 0, clients, `r${clients}`);
      report[`check_alive_${n}`] = await clientProcess(url, clients, 'alive', `a${clients}`);
    }
    report.register_8_clients_one_at_a_time_like_REP = await clientProcess(serial.address, 8, 'register', 's8');
    report.check_alive_8_clients_one_at_a_time_like_REP = await clientProcess(serial.address, 8, 'alive', 'sa8');
    report.membersAtEnd = hub.registry.size;
  });
  report.plantimagerSyncFull = await registerSyncFull();
  const byDevices = [await registerAt(200), await registerAt(10_000)];
  report.registerByDevicesRegistered = byDevices;
  const phase = (r: Record<string, unknown>, k: string) => r[k] as Beside;
  const full = report.plantimagerSyncFull as Record<string, unknown>;
  const flat = (k: string, side: 'face' | 'reference') => round2(phase(byDevices[1]!, k)[side].perSecond / phase(byDevices[0]!, k)[side].perSecond);
  (report.loadAverage as Record<string, number[]>).end = loadavg().map(round2);
  report.versusReference = {
    register_1_client: { default: phase(report, 'register_1_client').ratio, plantimagerSyncFull: phase(full, 'register_1_client').ratio },
    register_8_clients: { default: phase(report, 'register_8_clients').ratio, plantimagerSyncFull: phase(full, 'register_8_clients').ratio },
    register_at_10000_devices: { '1_client': phase(byDevices[1]!, 'register_1_client').ratio, '8_clients': phase(byDevices[1]!, 'register_8_clients').ratio },
    flat_1_client_10000_over_200_devices: { face: flat('register_1_client', 'face'), reference: flat('register_1_client', 'reference') },
    flat_8_clients_10000_over_200_devices: { face: flat('register_8_clients', 'face'), reference: flat('register_8_clients', 'reference') },
  };
  const faceRate = (r: Record<string, unknown>, k: string) => phase(r, k).face.perSecond;
  report.versusIssueFigures = {
    register_1_client: { default: round2(faceRate(report, 'register_1_client') / ISSUE_FIGURES.register_1_client), plantimagerSyncFull: round2(faceRate(full, 'register_1_client') / ISSUE_FIGURES.register_1_client) },
    register_8_clients: { default: round2(faceRate(report, 'register_8_clients') / ISSUE_FIGURES.register_by_devices_registered[200]), plantimagerSyncFull: round2(faceRate(full, 'register_8_clients') / ISSUE_FIGURES.register_by_devices_registered[200]) },
  };
  return report;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
