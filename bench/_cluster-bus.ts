/**
 * Bus figures of the cluster bench, through bench/_bus-load.ts and bench/_bus-drivers.ts as
 * bench/bus.ts measures them (binary frames, 64-byte payloads), and through the SDK as
 * bench/federation.ts measures request/reply. The cross-hub driver puts the publisher and the
 * requester on hub a, subscribers on b and c in turn, the responder on b.
 */
import { bus, type MusterClient } from '../src/client/index.js';
import { musterDriver, type Driver } from './_bus-drivers.js';
import { fanout, requestReply, type FanoutResult, type RequestResult } from './_bus-load.js';
import { cpuMsOf, cpuSplit, median, medianByKey, type Procs } from './_cluster-setup.js';
import type { Quiet } from './_cluster-registry.js';
import type { BenchHub } from './_hub-process.js';
import { member, requests } from './federation.js';
import { percentile } from './registry.js';

export const PAYLOAD = 64;
const FANOUT_MESSAGES = 40_000;
const FANOUT_MS = 8_000;
const IN_FLIGHT = 16;

/** Hub a publishes and asks; subscribers alternate over b and c; b answers. CPU: `pids`. */
export function crossHubDriver(hubs: readonly BenchHub[], hubIds: readonly string[], pids: readonly number[]): Driver {
  const on = hubs.map((h, i) => musterDriver(h.pid, h.wsUrl, `bench-${hubIds[i]}`));
  let nextSub = 0;
  return {
    name: 'muster', serverPid: hubs[0]!.pid, serverPids: pids,
    publisher: (topic) => on[0]!.publisher(topic),
    subscriber: (topic, onMessage) => on[1 + (nextSub++ % (on.length - 1))]!.subscriber(topic, onMessage),
    responder: (service) => on[1]!.responder(service),
    requester: (service) => on[0]!.requester(service),
  };
}

/** The driver with each request's round trip (ms) pushed to `lat`. */
function timed(d: Driver, lat: number[]): Driver {
  return {
    ...d,
    async requester(service) {
      const r = await d.requester(service);
      return {
        request: async (p) => {
          const t = performance.now();
          const out = await r.request(p);
          lat.push(performance.now() - t);
          return out;
        },
        close: () => r.close(),
      };
    },
  };
}

type FanoutRun = FanoutResult & { generatorCpuPercent: number; cpuUsPerDeliveredByProcess?: Record<string, number> };

/**
 * Fan-out 1 -> 10 for each driver, rounds interleaved; medians and every run. Where `procs[i]` is
 * given, the CPU of each of those processes per delivered message (counted around the whole
 * fanout() call, its setup included).
 */
export async function fanout10(
  drivers: readonly Driver[], labels: readonly string[], procs: readonly (Procs | null)[], rounds: number, progress: (s: string) => void, quiet: Quiet,
): Promise<Record<string, unknown>> {
  const runs = drivers.map((): FanoutRun[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, d] of drivers.entries()) {
      progress(`fan-out 1→10 ${labels[i]} round ${r + 1}`);
      await quiet();
      const split = procs[i] ? cpuSplit(procs[i]!) : null;
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await fanout(d, 10, FANOUT_MESSAGES, PAYLOAD, FANOUT_MS);
      const u = process.cpuUsage(u0);
      const byProcess = split?.(res.delivered / 1000);
      runs[i]!.push({ ...res, generatorCpuPercent: Math.round((u.user + u.system) / 10 / (performance.now() - t0)), ...(byProcess ? { cpuUsPerDeliveredByProcess: byProcess } : {}) });
    }
  }
  return Object.fromEntries(labels.map((l, i) => [l, {
    deliveredPerSec: median(runs[i]!.map((x) => x.deliveredPerSec)),
    serverCpuUsPerDelivered: median(runs[i]!.map((x) => x.serverCpuUsPerDelivered)),
    complete: runs[i]!.every((x) => x.complete),
    ...(procs[i] ? { cpuUsPerDeliveredByProcess: medianByKey(runs[i]!.map((x) => x.cpuUsPerDeliveredByProcess ?? {})) } : {}),
    runs: runs[i]!,
  }]));
}

type RequestRun = RequestResult & { p50Us: number; p99Us: number };

/** Binary request/reply, 16 in flight (bus.ts's request16) with latency percentiles. */
export async function request16(drivers: readonly Driver[], labels: readonly string[], rounds: number, progress: (s: string) => void, quiet: Quiet): Promise<Record<string, unknown>> {
  const runs = drivers.map((): RequestRun[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, d] of drivers.entries()) {
      progress(`request/reply ${labels[i]} round ${r + 1}`);
      await quiet();
      const lat: number[] = [];
      const res = await requestReply(timed(d, lat), IN_FLIGHT, 100_000, 4_000, PAYLOAD);
      lat.sort((a, b) => a - b);
      runs[i]!.push({ ...res, p50Us: Math.round(percentile(lat, 50) * 1000), p99Us: Math.round(percentile(lat, 99) * 1000) });
    }
  }
  return Object.fromEntries(labels.map((l, i) => [l, {
    roundTripsPerSec: median(runs[i]!.map((x) => x.roundTripsPerSec)), p50Us: median(runs[i]!.map((x) => x.p50Us)), p99Us: median(runs[i]!.map((x) => x.p99Us)),
    serverCpuUsPerRoundTrip: median(runs[i]!.map((x) => x.serverCpuUsPerRoundTrip)), errors: runs[i]!.reduce((n, x) => n + x.errors, 0), runs: runs[i]!,
  }]));
}

/** Where the SDK's asker and answerer connect, and whose CPU counts. */
export interface SdkPair { label: string; askerUrl: string; answererUrl: string; pids: readonly number[] }

/** SDK request/reply (JSON-RPC), 16 in flight for 4 s (federation.ts's `requests`). */
export async function sdkRequest16(pairs: readonly SdkPair[], rounds: number, progress: (s: string) => void, quiet: Quiet): Promise<Record<string, unknown>> {
  const clients: MusterClient[] = [];
  const runs = pairs.map((): { perSec: number; p50Us: number; p99Us: number; serverCpuUsPerRoundTrip: number }[] => []);
  try {
    const peers: [MusterClient, string][] = [];
    for (const p of pairs) {
      const asker = await member(p.askerUrl, `sdk-asker-${p.label}`);
      const answerer = await member(p.answererUrl, `sdk-answerer-${p.label}`);
      clients.push(asker, answerer);
      bus(answerer).onRequest('echo', (x) => x);
      const to = `sdk-answerer-${p.label}`;
      // Ready when a request answers (the answerer's hub must be known to the asker's).
      for (let i = 0; i < 50; i++) {
        if (await bus(asker).request(to, 'echo', 1, { timeoutMs: 1000 }).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      peers.push([asker, to]);
    }
    for (let r = 0; r < rounds; r++) {
      for (const [i, p] of pairs.entries()) {
        progress(`SDK request/reply ${p.label} round ${r + 1}`);
        await quiet();
        const c0 = cpuMsOf(p.pids);
        const t0 = performance.now();
        const res = await requests(peers[i]![0], peers[i]![1], IN_FLIGHT);
        const done = (res.perSec * (performance.now() - t0)) / 1000;
        runs[i]!.push({ ...res, serverCpuUsPerRoundTrip: Math.round(((cpuMsOf(p.pids) - c0) * 1000) / Math.max(done, 1)) });
      }
    }
  } finally {
    for (const c of clients) await c.close().catch(() => {});
  }
  return Object.fromEntries(pairs.map((p, i) => [p.label, {
    roundTripsPerSec: median(runs[i]!.map((x) => x.perSec)), p50Us: median(runs[i]!.map((x) => x.p50Us)), p99Us: median(runs[i]!.map((x) => x.p99Us)),
    serverCpuUsPerRoundTrip: median(runs[i]!.map((x) => x.serverCpuUsPerRoundTrip)), runs: runs[i]!,
  }]));
}
