/**
 * `npm run bench -- growth`: what heartbeats and bus messages see while a hub (--sync full) grows
 * to a million members and more, 64 registrations in flight. Each step is a few seconds of load
 * with a probe process timing a heartbeat's and a bus message's round trip every few ms
 * (bench/_durable-probe.ts); a step reports the members at its end, the registration rate and the
 * probe's p50 / p99 / max. The stops this shows are the registry's tables growing and full
 * collections of a heap of that size on the hub's one core.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProbe } from './_durable-probe.js';
import { pipelineAlone } from './_durable.js';
import { pinSelf, spawnBenchHub } from './_hub-process.js';

const MEMBERS = Number(process.env.GROWTH_MEMBERS ?? 1_100_000);
const STEP_MS = Number(process.env.GROWTH_STEP_MS ?? 3_000);
/** However slow the machine, the bench ends: at most this many steps. */
const MAX_STEPS = 80;

const register = (step: number, i: number) =>
  `{"jsonrpc":"2.0","id":${i},"method":"register","params":{"name":"g${step}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000}}}`;

interface Latency { count: number; p50: number; p99: number; max: number }

export default async function growth(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const root = mkdtempSync(join(tmpdir(), 'muster-bench-growth-'));
  const hub = await spawnBenchHub({ dataDir: join(root, 'data'), sync: 'full', extraArgs: ['--max-members', String(MEMBERS + 64 * MAX_STEPS + 100)] });
  try {
    const probe = await startProbe(hub.wsUrl);
    try {
      const steps: { members: number; perSecond: number; heartbeatMs: Latency; busMs: Latency }[] = [];
      let members = 0;
      for (let s = 0; s < MAX_STEPS && members < MEMBERS; s++) {
        const seen = probe.measure(STEP_MS);
        const done = await pipelineAlone(hub.wsUrl, { frames: MEMBERS - members, perFrame: 1, window: 64, maxMs: STEP_MS, frame: (i) => register(s, i) });
        if (done.errors > 0) throw new Error(`registrations failed: ${done.firstError}`);
        members += done.requests; // and up to 64 more, answered after the step's socket closed
        const { heartbeatMs, busMs } = (await seen) as { heartbeatMs: Latency; busMs: Latency };
        steps.push({ members, perSecond: done.perSecond, heartbeatMs, busMs });
      }
      const worst = steps.reduce((a, b) => (b.heartbeatMs.max > a.heartbeatMs.max ? b : a));
      const past = (n: number) => steps.filter((x) => x.members > n);
      const maxOf = (xs: typeof steps) => Math.max(...xs.map((x) => Math.max(x.heartbeatMs.max, x.busMs.max)));
      return {
        method: `a fresh hub (--sync full) pinned to core 0, ${MEMBERS} registrations 64 in flight in steps of ${STEP_MS / 1000} s; a probe process times a heartbeat's and a bus message's round trip every few ms during each step`,
        members,
        worstHeartbeat: { ms: worst.heartbeatMs.max, atMembers: worst.members },
        worstRoundTripMs: { upTo500k: maxOf(steps.filter((x) => x.members <= 500_000)), past500k: maxOf(past(500_000)), past1M: past(1_000_000).length ? maxOf(past(1_000_000)) : null },
        steps,
      };
    } finally {
      await probe.stop();
    }
  } finally {
    await hub.kill();
    rmSync(root, { recursive: true, force: true });
    if (pinned) pinSelf(`0-${cpus().length - 1}`);
  }
}
