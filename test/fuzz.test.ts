/**
 * The fuzz suite's bounded run (test/fuzz/): every codec and face target for about 45 s in all,
 * against one spawned hub, hub start included. Any fault fails the test with its reproduction;
 * `npm run fuzz -- --minutes N` runs the same targets longer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from './fuzz/runner.js';
import { TARGETS } from './fuzz/targets/index.js';

const BUDGET_MS = 45_000;

test('fuzz - every codec and face, bounded: the hub never exits, answers catalogued codes, keeps serving, loses nothing', { timeout: 90_000 }, async () => {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  const summary = await runFuzz({ targets: TARGETS, budgetMs: BUDGET_MS, seed });
  const report = summary.faults.map((f) => `\n[${f.target}] ${f.signature}\n${f.reproduction}\n${f.message.slice(0, 1500)}\nreplay: npm run fuzz -- --target ${f.target} --seed ${f.seed ?? summary.seed} ${f.path ? `--path ${f.path}` : '(sweep or batch check: see the case above)'}`).join('\n');
  assert.equal(summary.faults.length, 0, `fuzz seed ${summary.seed} found ${summary.faults.length} fault(s):${report}`);
  for (const t of TARGETS) assert.ok((summary.targets[t.name]?.cases ?? 0) + (summary.targets[t.name]?.sweepCases ?? 0) > 0, `${t.name} ran no case`);
  assert.ok((summary.hub?.checks ?? 0) > 0, 'the batch invariants were checked');
  assert.ok(summary.elapsedMs < 60_000, `the bounded run took ${summary.elapsedMs} ms`);
});
