/**
 * `npm run bench -- versus`: two hub builds raced on durable registrations, to tell whether a
 * change to the registration path is faster. `VERSUS_BIN` names the other build's CLI (another
 * checkout's bin/muster.js, with its dist/ built); without it this checkout races itself, and the
 * ratios say how far apart two equal builds come out on this machine (the noise to beat).
 *
 * Both hubs are up at once on core 0 (the idle one costs nothing), fed from core 1 with 64
 * registrations in flight (`VERSUS_IN_FLIGHT`) in phases of 1.5 s that alternate between them,
 * the order flipped every round, so the VM's swings in speed fall on both. Each round gives this build's rate and CPU a
 * registration over the other's; the report is the median of those ratios. `--sync normal` by
 * default (`VERSUS_SYNC`): without a sync the hub's core is the bound, which is what a change to
 * the path moves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './_cluster-setup.js';
import { pipelineAlone, procUse } from './_durable.js';
import { pinSelf, spawnBenchHub, type BenchHub } from './_hub-process.js';
import { round } from './_rpc-load.js';

const ROUNDS = Number(process.env.VERSUS_ROUNDS ?? 12);
const PHASE_MS = Number(process.env.VERSUS_MS ?? 1_500);
const WARM_UP_MS = 2_500;
/** 64 in flight by default; 1 races the path of a lone registration (with VERSUS_SYNC=full, the sync's hand-off too). */
const IN_FLIGHT = Number(process.env.VERSUS_IN_FLIGHT ?? 64);

const register = (i: number, p: string) =>
  `{"jsonrpc":"2.0","id":${i},"method":"register","params":{"name":"${p}-${i}","type":"bench","liveness":{"kind":"ttl","ttlMs":3600000}}}`;

interface Phase { rate: number; cpuUs: number }

async function phase(hub: BenchHub, prefix: string, ms: number): Promise<Phase> {
  const a = procUse(hub.pid);
  const done = await pipelineAlone(hub.wsUrl, { frames: 10_000_000, perFrame: 1, window: IN_FLIGHT, maxMs: ms, frame: (i) => register(i, prefix) });
  const b = procUse(hub.pid);
  if (done.errors) throw new Error(`registrations refused: ${done.firstError}`);
  return { rate: done.perSecond, cpuUs: ((b.main + b.others - a.main - a.others) * 1000) / done.requests };
}

export default async function versus(): Promise<Record<string, unknown>> {
  const other = process.env.VERSUS_BIN;
  const sync = process.env.VERSUS_SYNC === 'full' ? 'full' : 'normal';
  const pinned = pinSelf(1);
  const root = mkdtempSync(join(tmpdir(), 'muster-bench-versus-'));
  const hubs: BenchHub[] = [];
  try {
    for (const [i, bin] of [undefined, other].entries()) {
      hubs.push(await spawnBenchHub({ dataDir: join(root, String(i)), sync, bin, extraArgs: ['--max-members', '5000000'] }));
    }
    for (const [i, hub] of hubs.entries()) await phase(hub, `w${i}`, WARM_UP_MS);
    const runs: Phase[][] = [[], []];
    for (let r = 0; r < ROUNDS; r++) {
      for (const i of r % 2 ? [1, 0] : [0, 1]) runs[i]!.push(await phase(hubs[i]!, `m${i}-${r}`, PHASE_MS));
    }
    const [mine, theirs] = runs as [Phase[], Phase[]];
    const ratio = (k: keyof Phase) => round(median(mine.map((p, r) => p[k] / theirs[r]![k])), 3);
    const side = (ps: Phase[]) => ({ rate: Math.round(median(ps.map((p) => p.rate))), cpuUsPerRegistration: round(median(ps.map((p) => p.cpuUs)), 1) });
    return {
      method: `${ROUNDS} rounds of ${PHASE_MS / 1000} s phases, ${IN_FLIGHT} in flight, --sync ${sync}, both hubs up on core 0, alternating`,
      against: other ?? 'this checkout (the noise floor)',
      thisBuild: side(mine), otherBuild: side(theirs),
      thisOverOther: { rate: ratio('rate'), cpuUsPerRegistration: ratio('cpuUs') },
    };
  } finally {
    for (const hub of hubs) await hub.kill();
    rmSync(root, { recursive: true, force: true });
    if (pinned) pinSelf(`0-${cpus().length - 1}`);
  }
}
