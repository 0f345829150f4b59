/**
 * What the rest of the hub sees while registrations commit: round trips of a heartbeat and of a
 * bus message to itself, timed from a process of its own. Timed from the load generator's process,
 * they also measured that process's own turns (64 replies decoded, 64 requests encoded), which
 * have nothing to do with the hub. The probe process is started once; each `measure(ms)` times
 * round trips at random moments (1-4 ms apart) for that long and answers their p50 / p99 / max.
 *
 * Run as a child: DURABLE_PROBE_URL=ws://... node --import tsx bench/_durable-probe.ts; it reads
 * one line per measurement from stdin (the milliseconds) and writes one JSON line per answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type WebSocket from 'ws';
import { callOnce, close, connect, round } from './_rpc-load.js';

export interface Probe {
  /** Round trips for `ms`: heartbeatMs and busMs, each { count, p50, p99, max }. */
  measure(ms: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

/** p50 / p99 / max of round trips in ms. */
export function latencies(xs: number[]): Record<string, number> {
  const s = [...xs].sort((a, b) => a - b);
  return { count: s.length, p50: round(percentile(s, 50), 2), p99: round(percentile(s, 99), 2), max: round(s[s.length - 1] ?? NaN, 2) };
}

/** Starts the probe process, which registers a member and subscribes to /probe/ with echo. */
export async function startProbe(wsUrl: string): Promise<Probe> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname], {
    env: { ...process.env, DURABLE_PROBE_URL: wsUrl }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (what: string): Promise<string> => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      const line = await lines.next();
      if (line.done) throw new Error(`the durable probe exited before ${what}`);
      return line.value;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    if ((await next('it was ready')) !== 'ready') throw new Error('the durable probe did not start');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    async measure(ms) {
      child.stdin!.write(`${Math.round(ms)}\n`);
      return JSON.parse(await next('its answer')) as Record<string, unknown>;
    },
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  return exited.finally(() => clearTimeout(timer));
}

/** Child side: round trips on `ws` at random moments for `ms`. */
async function roundTrips(ws: WebSocket, member: { id: string; token: string }, ms: number, ids: { next: number }): Promise<Record<string, unknown>> {
  const hb: number[] = [];
  const bus: number[] = [];
  const roundTrip = (text: string, done: (data: string) => boolean) => new Promise<number>((resolve) => {
    const t0 = performance.now();
    const onMessage = (data: Buffer) => {
      if (!done(data.toString())) return;
      ws.off('message', onMessage);
      resolve(performance.now() - t0);
    };
    ws.on('message', onMessage);
    ws.send(text);
  });
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Each after a pause of its own, in either order: a bus message sent the moment the heartbeat's
    // answer came was sent as the hub's busy stretch ended (p50 0.2 ms during a burst at `full`,
    // the heartbeat 1 ms); at random moments both measured 0.5-0.7 ms.
    for (const which of Math.random() < 0.5 ? ['heartbeat', 'bus'] : ['bus', 'heartbeat']) {
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 3));
      const n = ids.next++;
      if (which === 'heartbeat') hb.push(await roundTrip(`{"jsonrpc":"2.0","id":${n},"method":"heartbeat","params":{"id":"${member.id}","token":"${member.token}"}}`, (d) => d.includes(`"id":${n}`)));
      else bus.push(await roundTrip(`{"jsonrpc":"2.0","id":${n},"method":"bus.publish","params":{"scope":"/probe/","data":${n}}}`, (d) => d.includes('"method"') && d.includes(`"data":${n}`)));
    }
  }
  return { heartbeatMs: latencies(hb), busMs: latencies(bus) };
}

async function childMain(url: string): Promise<void> {
  const ws = await connect(url);
  const registered = (await callOnce(ws, '{"jsonrpc":"2.0","id":1,"method":"register","params":{"name":"durable-probe","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000}}}')) as { result: { id: string; token: string } };
  await callOnce(ws, '{"jsonrpc":"2.0","id":2,"method":"bus.subscribe","params":{"scope":"/probe/","echo":true}}');
  const ids = { next: 3 };
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    process.stdout.write(`${JSON.stringify(await roundTrips(ws, registered.result, Number(line), ids))}\n`);
  }
  await close(ws);
}

const probeUrl = process.env.DURABLE_PROBE_URL;
if (probeUrl) await childMain(probeUrl);
