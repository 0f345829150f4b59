/**
 * The bus load generator: the same phases for every driver. Every phase is bounded in count and
 * in time. Server CPU comes from /proc/PID/stat (utime + stime), so it is the server's own time
 * whatever the load generator costs.
 */
import { readFileSync } from 'node:fs';
import type { Closer, Driver } from './_bus-drivers.js';
import { median } from './_cluster-setup.js';

const TICK_S = 1 / 100; // USER_HZ on Linux

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_S;
}

/** CPU seconds of every process serving the driver's load. */
export function serverCpuSeconds(d: Driver): number {
  let s = 0;
  for (const pid of d.serverPids ?? [d.serverPid]) s += cpuSeconds(pid);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 0) => Number(x.toFixed(d));

export interface FanoutResult {
  subscribers: number; sent: number; delivered: number; seconds: number; deliveredPerSec: number;
  serverCpuSec: number; serverCpuUsPerDelivered: number; complete: boolean;
}

/**
 * 1 publisher to `subs` subscribers: publishes `count` messages as fast as the window allows
 * (at most `window` messages ahead of the slowest subscriber), for at most `maxMs`.
 */
export async function fanout(d: Driver, subs: number, count: number, payloadBytes: number, maxMs: number, window = 4000): Promise<FanoutResult> {
  const topic = d.name.startsWith('muster') ? `/bench/fan${subs}/` : d.name === 'nats' ? `bench.fan${subs}` : `bench/fan${subs}`;
  const got = new Array<number>(subs).fill(0);
  const closers: Closer[] = [];
  let wake: (() => void) | null = null;
  for (let i = 0; i < subs; i++) {
    closers.push(await d.subscriber(topic, () => { got[i]!++; if (wake && (got[i]! & 255) === 0) { const w = wake; wake = null; w(); } }));
  }
  const pub = await d.publisher(topic);
  closers.push(pub);
  await sleep(200);
  const payload = Buffer.alloc(payloadBytes, 7);
  const minGot = () => { let m = Infinity; for (const g of got) if (g < m) m = g; return m; };
  const t0 = performance.now();
  const cpu0 = serverCpuSeconds(d);
  const deadline = t0 + maxMs;
  let sent = 0;
  while (sent < count && performance.now() < deadline) {
    const room = Math.min(count - sent, window - (sent - minGot()));
    for (let i = 0; i < room; i++) pub.publish(payload);
    sent += Math.max(room, 0);
    await new Promise<void>((resolve) => { wake = resolve; setTimeout(() => { wake = null; resolve(); }, room > 0 ? 0 : 5); });
  }
  while (minGot() < sent && performance.now() < deadline) await sleep(1);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = serverCpuSeconds(d) - cpu0;
  const delivered = got.reduce((a, b) => a + b, 0);
  for (const c of closers) await c.close();
  return {
    subscribers: subs, sent, delivered, seconds: round(seconds, 3), deliveredPerSec: round(delivered / seconds),
    serverCpuSec: round(cpu, 2), serverCpuUsPerDelivered: round((cpu * 1e6) / Math.max(delivered, 1), 3), complete: delivered === sent * subs,
  };
}

export interface FanoutMedians extends FanoutResult {
  /** Each measured run's rate and CPU. The fields above are the median run's (by rate), with the runs' median CPU. */
  runs: { deliveredPerSec: number; serverCpuUsPerDelivered: number }[];
}

/** `times` runs of one fan-out phase, one after another: a single run of under a second is noisy. */
export async function fanoutRuns(times: number, run: () => Promise<FanoutResult>): Promise<FanoutMedians> {
  const all: FanoutResult[] = [];
  for (let i = 0; i < times; i++) all.push(await run());
  const byRate = [...all].sort((a, b) => a.deliveredPerSec - b.deliveredPerSec);
  return {
    ...byRate[(byRate.length - 1) >> 1]!,
    serverCpuUsPerDelivered: round(median(all.map((r) => r.serverCpuUsPerDelivered)), 3),
    complete: all.every((r) => r.complete),
    runs: all.map((r) => ({ deliveredPerSec: r.deliveredPerSec, serverCpuUsPerDelivered: r.serverCpuUsPerDelivered })),
  };
}

export interface RequestResult {
  inFlight: number; roundTrips: number; seconds: number; roundTripsPerSec: number; serverCpuUsPerRoundTrip: number; errors: number;
}

/** Request/reply round trips with `inFlight` outstanding, `count` in all, at most `maxMs`. */
export async function requestReply(d: Driver, inFlight: number, count: number, maxMs: number, payloadBytes: number): Promise<RequestResult> {
  const service = d.name.startsWith('muster') ? `bench-echo-${inFlight}` : d.name === 'nats' ? `bench.echo${inFlight}` : `bench/echo${inFlight}`;
  const responder = await d.responder(service);
  const req = await d.requester(service);
  await sleep(200);
  const payload = Buffer.alloc(payloadBytes, 7);
  let done = 0;
  let errors = 0;
  let started = 0;
  const cpu0 = serverCpuSeconds(d);
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  const worker = async () => {
    while (started < count && performance.now() < deadline) {
      started++;
      try { await req.request(payload); done++; } catch { errors++; }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = serverCpuSeconds(d) - cpu0;
  await req.close();
  await responder.close();
  return {
    inFlight, roundTrips: done, seconds: round(seconds, 3), roundTripsPerSec: round(done / seconds),
    serverCpuUsPerRoundTrip: round((cpu * 1e6) / Math.max(done, 1), 2), errors,
  };
}
