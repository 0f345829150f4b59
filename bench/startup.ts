/**
 * Start-up: how long a person waits for the `muster` command and for a hub. Each figure is the
 * median of RUNS whole processes (spawn to exit, or to the hub's "listening" line).
 *  - cliVersionMs: `muster --version` as `npm ci` leaves it (dist/), and from the sources (tsx)
 *  - cliLsMs: `muster ls` against a running hub (connect, one request, print), dist and sources
 *  - hubListenMs: `muster hub` on an empty data folder until it prints where it listens
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnBenchHub } from './_hub-process.js';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
const RUNS = 11;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (ms: number) => Math.round(ms * 10) / 10;
const progress = (s: string) => process.stderr.write(`  startup: ${s}\n`);

/** ms from spawn to exit of `muster ARGS`; throws on a non-zero exit. */
function timeCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => child.on('close', (code) => {
    if (code === 0) resolve(performance.now() - t0);
    else reject(new Error(`muster ${args.join(' ')} exited ${code}: ${stderr}`));
  }));
}

async function medianOf(label: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  progress(`${label}: ${RUNS} runs`);
  await timeCli(args, env); // warm the file cache
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await timeCli(args, env));
  return round(median(times));
}

export default async function startup(): Promise<Record<string, unknown>> {
  const dist = { MUSTER_FROM_SOURCE: '0' };
  const source = { MUSTER_FROM_SOURCE: '1' };
  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-startup-'));
  try {
    const listen: number[] = [];
    progress(`hub start to listening: ${RUNS} runs`);
    for (let i = 0; i <= RUNS; i++) {
      const hub = await spawnBenchHub({ dataDir: join(dir, `hub-${i}`), sync: 'normal' });
      if (i > 0) listen.push(hub.listenMs);
      await hub.kill();
    }
    const hub = await spawnBenchHub({ dataDir: join(dir, 'ls'), sync: 'normal' });
    try {
      return {
        runs: RUNS,
        note: 'dist = as npm ci leaves a checkout (built); source = src/ newer than the build, run through tsx',
        cliVersionMs: { dist: await medianOf('muster --version (dist)', ['--version'], dist), source: await medianOf('muster --version (source)', ['--version'], source) },
        cliLsMs: { dist: await medianOf('muster ls (dist)', ['ls', '--hub', hub.url], dist), source: await medianOf('muster ls (source)', ['ls', '--hub', hub.url], source) },
        hubListenMs: round(median(listen)),
      };
    } finally {
      await hub.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
