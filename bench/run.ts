/**
 * `npm run bench -- NAME [NAME ...]` runs bench/NAME.ts (its default export, an async function
 * returning a JSON-able report) and prints one JSON object keyed by name. No name: all of them.
 */
import { readdirSync } from 'node:fs';

type Bench = () => Promise<Record<string, unknown>>;

const dir = new URL('.', import.meta.url);
const available = readdirSync(dir).filter((f) => f.endsWith('.ts') && !['run.ts'].includes(f) && !f.startsWith('_')).map((f) => f.slice(0, -3));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : available;
const report: Record<string, unknown> = { machine: { node: process.version, cpus: (await import('node:os')).cpus().length }, at: new Date().toISOString() };
for (const name of names) {
  if (!available.includes(name)) {
    process.stderr.write(`no benchmark ${name}; have: ${available.join(', ')}\n`);
    process.exit(2);
  }
  const mod = (await import(new URL(`./${name}.ts`, dir).href)) as { default: Bench };
  process.stderr.write(`running ${name}...\n`);
  // Every bench shows it is alive, even one that prints nothing of its own for a while.
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 1000);
  const alive = setInterval(() => process.stderr.write(`  ${name}: still running (${seconds()} s)\n`), 10_000);
  try {
    report[name] = await mod.default();
  } finally {
    clearInterval(alive);
  }
  process.stderr.write(`${name} done in ${seconds()} s\n`);
}
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
process.exit(0);
