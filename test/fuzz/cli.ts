/**
 * `npm run fuzz -- --minutes N [--seed S] [--target NAME,...] [--path P]`: runs the fuzz suite for
 * N minutes (default 1) and prints the JSON summary on stdout (progress on stderr). With --path
 * (and the --seed and --target of a fault) it replays that one counterexample.
 */
import { runFuzz } from './runner.js';
import { TARGETS } from './targets/index.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const minutes = Number(flag('minutes') ?? '1');
const seed = flag('seed') !== undefined ? Number(flag('seed')) : Math.floor(Math.random() * 2 ** 31);
const only = flag('target')?.split(',');
const path = flag('path');
if (!Number.isFinite(minutes) || minutes <= 0 || !Number.isInteger(seed)) {
  process.stderr.write('usage: npm run fuzz -- --minutes N [--seed S] [--target NAME,...] [--path P]\n');
  process.exit(2);
}
const targets = only ? TARGETS.filter((t) => only.includes(t.name)) : TARGETS;
if (only && targets.length !== only.length) {
  process.stderr.write(`unknown target; targets: ${TARGETS.map((t) => t.name).join(', ')}\n`);
  process.exit(2);
}
if (path && targets.length !== 1) {
  process.stderr.write('--path replays one counterexample: give one --target and its --seed\n');
  process.exit(2);
}

const summary = await runFuzz({
  targets, budgetMs: minutes * 60_000, seed,
  replay: path ? { target: targets[0].name, seed, path } : undefined,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.exit(summary.faults.length ? 1 : 0);
