/**
 * The layout is the architecture: the core imports no face, no store implementation and no
 * network or transport library; no face imports another face; nothing imports in a cycle. The
 * rules are the table in docs/architecture.md ("Who may import whom"), so the page and the
 * code cannot drift apart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { cycles, importGraph } from './support/import-graph.js';

const ROOT = new URL('..', import.meta.url).pathname;

interface Rule { files: string[]; allowed: string[] | 'everything' }

/** The rows of the "Who may import whom" table. */
function rules(): Rule[] {
  const doc = readFileSync(`${ROOT}docs/architecture.md`, 'utf8');
  const section = doc.split('## Who may import whom')[1]?.split('\n## ')[0];
  assert.ok(section, 'docs/architecture.md has a "Who may import whom" section');
  const cells = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return section.split('\n').filter((l) => l.startsWith('| `')).map((line) => {
    const [, files = '', allowed = ''] = line.split('|');
    return { files: cells(files), allowed: allowed.trim() === 'everything' ? 'everything' : cells(allowed) };
  });
}

const covers = (entry: string, target: string) => (entry.endsWith('/') ? target.startsWith(entry) : target === entry);

/** The most specific row naming a file: an exact file beats the longest folder. */
function ruleFor(all: Rule[], file: string): Rule | undefined {
  let best: { rule: Rule; weight: number } | undefined;
  for (const rule of all) {
    for (const f of rule.files) {
      if (!covers(f, file)) continue;
      const weight = f.endsWith('/') ? f.length : Infinity;
      if (!best || weight > best.weight) best = { rule, weight };
    }
  }
  return best?.rule;
}

describe('architecture', () => {
  const graph = importGraph(ROOT);
  const table = rules();

  test('every file of src/ imports only what docs/architecture.md allows it', () => {
    const broken: string[] = [];
    for (const [file, deps] of graph.files) {
      const rule = ruleFor(table, file);
      if (!rule) { broken.push(`${file}: no row of the table names it`); continue; }
      if (rule.allowed === 'everything') continue;
      const allowed = rule.allowed;
      for (const d of [...deps, ...graph.packages.get(file)!]) if (!allowed.some((a) => covers(a, d))) broken.push(`${file} imports ${d}`);
    }
    assert.deepEqual(broken, []);
  });

  test('no import cycles in src/', () => {
    assert.deepEqual(cycles(graph.files), []);
  });

  test('the checker sees what it must: a core-to-face import and a cycle are caught', () => {
    const files = new Map([
      ['src/core/a.ts', new Set(['src/faces/native/x.ts'])],
      ['src/faces/native/x.ts', new Set(['src/core/a.ts'])],
    ]);
    assert.equal(cycles(files).length, 1);
    const core = ruleFor(table, 'src/core/a.ts')!;
    assert.ok(core.allowed !== 'everything' && !core.allowed.some((a) => covers(a, 'src/faces/native/x.ts')));
    assert.ok(!(core.allowed as string[]).some((a) => covers(a, 'ws') || covers(a, 'node:net') || covers(a, 'src/hub.ts')));
  });

  test('no file in src/ is much over 400 lines', () => {
    const long = [...graph.files.keys()].map((f) => [f, readFileSync(`${ROOT}${f}`, 'utf8').split('\n').length] as const).filter(([, n]) => n > 430);
    assert.deepEqual(long, []);
  });
});
