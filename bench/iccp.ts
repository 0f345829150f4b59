/**
 * `npm run bench -- iccp`: Saturnin ICCP components beside native SDK components, in one run.
 *
 * - configure round trips per second across 50 components: an SDK controller keeps one CONFIGURE
 *   open per component (ICCP allows one at a time) for a fixed time; each answer is OK. ICCP
 *   components are ZeroMQ PAIR peers speaking the wire exactly (READY, REQUEST/CONF -> OK); native
 *   ones are SDK components on their own WebSocket connections.
 * - READY on the wire to the watcher's event: the time from sending READY (the PAIR frames, or the
 *   SDK's lifecycle.ready) to an SDK watch receiving the `lifecycle` event that shows the component
 *   ready (the registry's update event for a lifecycle change), p50/p99 over sequential samples.
 *
 * The hub is its own process pinned to core 0 (SQLite sync=full, as shipped); this process (the
 * components, the controller, the watcher) is pinned to core 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { component, connect, controller, type MusterClient } from '../src/client/index.js';
import { decode, encodeOk, encodeFinished, encodeReady } from '../src/faces/iccp/codec.js';
import type { RegistryEvent } from '../src/schemas/event.js';
import { BENCH_ADMIN_TOKEN, pinSelf, spawnBenchHub, type BenchHub } from './_hub-process.js';

const COMPONENTS = 50;
const DURATION_MS = Number(process.env.ICCP_BENCH_MS ?? 4000);
const READY_SAMPLES = Number(process.env.ICCP_BENCH_READY_SAMPLES ?? 200);

interface Figures { roundTrips: number; perSecond: number; p50Ms: number; p99Ms: number; failures: number }

const pct = (sorted: number[], p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 1000) / 1000;

async function endpointOf(hub: BenchHub, name: string): Promise<string> {
  const res = await fetch(`${hub.url}/v1/iccp/endpoints/${name}`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`iccp.endpoint ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { endpoint: string }).endpoint;
}

/** A component as the wire sees it: PAIR, READY, OK to every CONF, FINISHED to STOP. */
class WireComponent {
  readonly socket = new zmq.Pair({ linger: 0, sendHighWaterMark: 5, receiveHighWaterMark: 5 });

  constructor(endpoint: string) {
    this.socket.connect(endpoint);
    void this.#serve();
  }

  ready(n: number): Promise<void> {
    const uid = Buffer.alloc(16);
    uid.writeUInt32BE(n);
    return this.socket.send(encodeReady({ uid, pid: process.pid, host: 'bench' }, { data: [`tcp://127.0.0.1:${20000 + n}`] }));
  }

  async #serve(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const d = decode(frames);
        if (!d.ok) continue;
        if (d.message.type === 'REQUEST') await this.socket.send(encodeOk());
        else if (d.message.type === 'STOP') await this.socket.send(encodeFinished('OK'));
      }
    } catch {
      // closed
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Lifecycle events of one watch, waited for by name. */
class ReadyWatch {
  readonly #waiters = new Map<string, (at: number) => void>();

  constructor(client: MusterClient) {
    const w = client.watch({ types: ['lifecycle'] });
    void (async () => {
      for await (const e of w as AsyncIterable<RegistryEvent>) {
        if (e.type !== 'lifecycle' || e.to !== 'ready') continue;
        const at = performance.now();
        this.#waiters.get(e.member.name)?.(at);
      }
    })().catch(() => {});
  }

  next(name: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready event for ${name}`)), 10_000);
      this.#waiters.set(name, (at) => { clearTimeout(timer); this.#waiters.delete(name); resolve(at); });
    });
  }
}

async function configureLoad(admin: MusterClient, names: string[]): Promise<Figures> {
  const ctl = controller(admin);
  const latencies: number[] = [];
  let failures = 0;
  const t0 = performance.now();
  const end = t0 + DURATION_MS;
  await Promise.all(names.map(async (name, i) => {
    for (let n = 0; performance.now() < end; n++) {
      const start = performance.now();
      const r = await ctl.configure(name, { port: 5000 + i, round: n, ratio: 0.5 }).catch(() => null);
      latencies.push(performance.now() - start);
      if (!r?.ok) failures++;
    }
  }));
  const elapsed = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  return { roundTrips: latencies.length, perSecond: Math.round(latencies.length / (elapsed / 1000)), p50Ms: pct(latencies, 0.5), p99Ms: pct(latencies, 0.99), failures };
}

function summary(samples: number[]): { samples: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { samples: s.length, p50Ms: pct(s, 0.5), p99Ms: pct(s, 0.99), maxMs: pct(s, 1) };
}

export default async function bench(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'muster-bench-iccp-'));
  const pinned = pinSelf(1);
  const hub = await spawnBenchHub({ dataDir, core: 0, extraArgs: ['--iccp'] });
  const admin = await connect({ url: hub.url, token: BENCH_ADMIN_TOKEN, reconnect: false });
  const wires: WireComponent[] = [];
  const natives: MusterClient[] = [];
  try {
    const watch = new ReadyWatch(admin);
    // 50 of each, ready.
    const iccpNames = Array.from({ length: COMPONENTS }, (_, i) => `iccp-${i}`);
    for (const [i, name] of iccpNames.entries()) {
      const w = new WireComponent(await endpointOf(hub, name));
      wires.push(w);
      const seen = watch.next(name);
      await w.ready(i);
      await seen;
    }
    const nativeNames = Array.from({ length: COMPONENTS }, (_, i) => `native-${i}`);
    for (const name of nativeNames) {
      const client = await connect({ url: hub.url, reconnect: false });
      natives.push(client);
      const c = await component(client, { name, type: 'bench', exclusive: true, onConfigure: () => {} });
      const seen = watch.next(name);
      await c.ready({ data: ['tcp://127.0.0.1:1'] });
      await seen;
    }

    const configure = { iccp: await configureLoad(admin, iccpNames), native: await configureLoad(admin, nativeNames) };

    // READY on the wire -> the watcher's lifecycle event, sequential samples, alternating kinds.
    const readyIccp: number[] = [];
    const readyNative: number[] = [];
    for (let n = 0; n < READY_SAMPLES; n++) {
      const iname = `iccp-ready-${n}`;
      const w = new WireComponent(await endpointOf(hub, iname));
      wires.push(w);
      await new Promise((r) => setTimeout(r, 5)); // connected before the clock starts
      const iseen = watch.next(iname);
      const t0 = performance.now();
      await w.ready(1000 + n);
      readyIccp.push((await iseen) - t0);

      const nname = `native-ready-${n}`;
      const client = natives[n % natives.length]!;
      const c = await component(client, { name: nname, type: 'bench-ready', exclusive: true });
      const nseen = watch.next(nname);
      const t1 = performance.now();
      void c.ready({});
      readyNative.push((await nseen) - t1);
    }
    const ready = { iccp: summary(readyIccp), native: summary(readyNative) };
    return {
      components: COMPONENTS, durationMsPerRun: DURATION_MS, store: 'sqlite sync=full', pinned: pinned ? 'hub core 0, bench core 1' : 'not pinned (no taskset)',
      configureRoundTrips: configure,
      configureRatioIccpToNative: Math.round((configure.iccp.perSecond / Math.max(1, configure.native.perSecond)) * 100) / 100,
      readyToWatcherEvent: ready,
      readyP50RatioIccpToNative: Math.round((ready.iccp.p50Ms / Math.max(0.001, ready.native.p50Ms)) * 100) / 100,
    };
  } finally {
    for (const w of wires) w.close();
    for (const c of natives) await c.close().catch(() => {});
    await admin.close().catch(() => {});
    await hub.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
