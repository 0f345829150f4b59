/**
 * Docs - the examples of README.md and of every docs/*.md, run against real hubs.
 *
 * How a doc marks its examples (test/docs/markdown.ts reads them):
 *
 * - A ```ts block is a whole program. It runs as written (`node --import tsx`, with a time bound,
 *   so it must end by itself: close clients, break out of watches), with `'muster/client'`
 *   pointing at src/client/index.ts and `http://127.0.0.1:7070` at a test hub
 *   (`127.0.0.1:7071` at a port where nothing listens). MUSTER_TOKEN holds the hub's admin token.
 *   Every ts block of docs/sdk.md gets a hub of its own; other docs' run on their tour's hub, in order.
 *   Every one is type-checked too, as a user's `tsc` would see it.
 * - The ```text block right after a ts block (only blank lines between) is what it prints; one is
 *   required. Lines compare with whitespace runs as one space; `…` alone is any text; `WORD…` is
 *   one value of `[A-Za-z0-9_-]` that changes from run to run (the same wherever it recurs).
 * - `<!-- not run: why -->` on the line before a block leaves it out (keep them rare: a fragment,
 *   a page for a browser). ts and console blocks run; a sh or bash block must carry the marker
 *   (commands that run belong in a console block).
 * - The ```console blocks of a doc are one tour, run in order (test/docs/tour.ts): `$ ` lines are
 *   commands (`npx muster` runs bin/muster.js, MUSTER_HUB points at the hub on 7070), the lines
 *   under one are its output, compared as above, where an age (`2m`) matches any age. A `WORD…`
 *   shown in an output may be used by a later command, which gets the real value.
 *   `$ npx muster hub ARGS &` starts a hub (`--data` in a temporary folder), `$ redis-server ... &`
 *   a Redis server, `$ kill %N` stops the tour's Nth, `$ export K=V` sets K for what follows. The
 *   ports a doc shows (`--port 7071`, `--co2 8000`, `:6379`) are mapped onto free ones, and back in
 *   outputs. Commands that stream (`muster watch`, `muster sub`, `curl -N`) are stopped once they
 *   printed as many lines as the doc shows. Others must end with status 0.
 * - Every `muster ...` command line in the docs (blocks and inline code) must name a real command
 *   and only flags it has.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkInvocation, musterInvocations, musterProgram } from './docs/cli-commands.js';
import { codeBlocks, compareOutput, fillPlaceholders, inlineCode, tourSteps, type CodeBlock } from './docs/markdown.js';
import { run, RUN_BOUND_MS, Tour, type Ran } from './docs/tour.js';
import { freePort } from './support/net.js';
import { ADMIN_TOKEN, startHub } from './support/hub.js';

const ROOT = new URL('..', import.meta.url).pathname;
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
/** Its ts examples each get a hub of their own; other docs' run on the hub their tour started. */
const OWN_HUBS = 'docs/sdk.md';

const read = (doc: string): string => readFileSync(join(ROOT, doc), 'utf8');
const blocksOf = new Map(DOCS.map((d) => [d, codeBlocks(read(d))]));

mkdirSync(join(ROOT, '.tmp'), { recursive: true });
const WORK = mkdtempSync(join(ROOT, '.tmp', 'docs-examples-'));
const CLIENT = relative(WORK, join(ROOT, 'src/client/index.js'));

/** Writes an example as a program of its own, importing the SDK's source. */
function exampleFile(doc: string, block: CodeBlock, name: string, hubUrl?: string, deadUrl?: string): string {
  let code = block.code.replace(/(['"])muster\/client\1/g, `'${CLIENT}'`);
  if (hubUrl) code = code.replaceAll('http://127.0.0.1:7070', hubUrl).replaceAll('ws://127.0.0.1:7070', hubUrl.replace(/^http/, 'ws'));
  if (deadUrl) code = code.replaceAll('http://127.0.0.1:7071', deadUrl);
  const path = join(WORK, `${doc.replace(/\W+/g, '-')}-${block.line}${name}.ts`);
  writeFileSync(path, code);
  return path;
}

const runnable = (b: CodeBlock): boolean => b.lang === 'ts' && b.notRun === undefined;
const shown = (b: CodeBlock): boolean => b.lang === 'sh' || b.lang === 'bash' || b.lang === 'shell';

function runExample(path: string, env: Record<string, string>): Promise<Ran> {
  return run(process.execPath, ['--import', 'tsx', path], env);
}

/** Checks a run example against the output its doc shows. */
function assertPrinted(where: string, block: CodeBlock, r: Ran): void {
  assert.ok(!r.timedOut, `${where}: did not end within ${RUN_BOUND_MS} ms (a client left open, a watch without a bound?)\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, `${where}: exited with ${r.status}\n${r.stdout}\n${r.stderr}`);
  const diff = compareOutput(block.output!.split('\n'), r.stdout.split('\n'));
  assert.equal(diff, null, `${where}: ${diff}\n--- printed:\n${r.stdout}--- stderr:\n${r.stderr}`);
}

/** tsc over every runnable example, as a user's compiler sees it; started now, it runs beside the examples. */
function typecheck(): Promise<Ran> {
  const files: string[] = [];
  for (const doc of DOCS) for (const b of blocksOf.get(doc)!.filter(runnable)) files.push(exampleFile(doc, b, '-check'));
  const tsconfig = join(WORK, 'tsconfig.json');
  writeFileSync(tsconfig, JSON.stringify({
    extends: relative(WORK, join(ROOT, 'tsconfig.json')),
    compilerOptions: { noEmit: true, noUnusedLocals: false },
    files: files.map((f) => relative(WORK, f)),
    // The examples and what they import, not the project's own `include` (its tests and benches,
    // which took tsc past the run's bound on a slow VM).
    include: [],
  }));
  return run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {});
}
const typechecked = typecheck();

after(() => rmSync(WORK, { recursive: true, force: true }));

describe('docs - conventions', () => {
  test('docs - every ts example shows its output; sh blocks say why they are not run; not-run blocks are rare', () => {
    const problems: string[] = [];
    for (const doc of DOCS) {
      const blocks = blocksOf.get(doc)!;
      for (const b of blocks.filter(runnable)) if (b.output === undefined) problems.push(`${doc}:${b.line}: a ts example needs a \`\`\`text block right after it with what it prints`);
      for (const b of blocks.filter(shown)) if (b.notRun === undefined) problems.push(`${doc}:${b.line}: a ${b.lang} block runs as a \`\`\`console tour, or says why not (<!-- not run: why -->)`);
      const examples = blocks.filter((b) => b.lang === 'ts' || b.lang === 'console' || shown(b));
      const skipped = examples.filter((b) => b.notRun !== undefined);
      if (skipped.length > Math.max(2, examples.length / 3)) problems.push(`${doc}: ${skipped.length} of ${examples.length} examples are not run`);
    }
    assert.deepEqual(problems, []);
    assert.ok(blocksOf.get('docs/sdk.md')!.filter(runnable).length >= 10, 'docs/sdk.md has its examples');
  });

  test('docs - the output matcher: placeholders, wildcards and ages', () => {
    const vars = new Map<string, string>();
    assert.equal(compareOutput(['{"id":"4fd8-…","n":"a",…}'], ['{"id":"9d9e-2851","n":"a","x":1}'], { vars }), null);
    assert.equal(vars.get('4fd8-…'), '9d9e-2851');
    assert.match(compareOutput(['id 4fd8-…'], ['id other'], { vars }) ?? '', /line 1/);
    assert.equal(compareOutput(['cam-1   camera  alive  2m'], ['cam-1 camera alive 15s'], { ages: true }), null);
    assert.match(compareOutput(['a', 'b'], ['a']) ?? '', /nothing was printed/);
    assert.equal(fillPlaceholders('curl x/4fd8-…/y', vars), 'curl x/9d9e-2851/y');
  });
});

describe('docs - muster commands', () => {
  test('docs - every muster command a doc shows exists and takes the flags shown', () => {
    const program = musterProgram();
    const problems: string[] = [];
    for (const doc of DOCS) {
      const lines: string[] = [...inlineCode(read(doc))];
      for (const b of blocksOf.get(doc)!) {
        if (b.lang === 'console') lines.push(...tourSteps(b.code).map((s) => s.command));
        else if (shown(b)) lines.push(...b.code.split('\n'));
      }
      for (const line of lines) {
        for (const args of musterInvocations(line)) {
          const problem = checkInvocation(program, args);
          if (problem) problems.push(`${doc}: ${line.trim()}: ${problem}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('docs - relative links point at files that exist', () => {
    for (const doc of DOCS) {
      for (const m of read(doc).matchAll(/\]\(([^)\s#]+)(#[^)\s]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        assert.ok(existsSync(join(ROOT, dirname(doc), target)), `${doc}: link to ${target}`);
      }
    }
  });
});

describe(`docs - ${OWN_HUBS} examples, each on a hub of its own`, () => {
  const doc = OWN_HUBS;
  let dead: string;
  before(async () => { dead = `http://127.0.0.1:${await freePort()}`; });

  for (const block of blocksOf.get(doc)!.filter((b) => b.lang === 'ts')) {
    test(`docs - ${doc}:${block.line} (${block.heading})`, { skip: block.notRun }, async () => {
      const h = await startHub();
      try {
        const r = await runExample(exampleFile(doc, block, '', h.url, dead), { MUSTER_TOKEN: ADMIN_TOKEN, MUSTER_HUB: h.url });
        assertPrinted(`${doc}:${block.line}`, block, r);
      } finally {
        await h.stop();
      }
    });
  }
});

describe('docs - tours: console blocks and ts examples in order, on the hubs they start', () => {
  const toured = (doc: string, b: CodeBlock): boolean => b.notRun === undefined && (b.lang === 'console' || (b.lang === 'ts' && doc !== OWN_HUBS));
  for (const doc of DOCS.filter((d) => blocksOf.get(d)!.some((b) => toured(d, b)))) {
    test(`docs - ${doc}: the tour`, async () => {
      const tour = new Tour();
      try {
        for (const block of blocksOf.get(doc)!.filter((b) => toured(doc, b))) {
          if (block.lang === 'ts') {
            assert.ok(tour.hubUrl, `${doc}:${block.line}: the tour starts a hub on 7070 before this example`);
            const r = await runExample(exampleFile(doc, block, '', tour.hubUrl), { MUSTER_HUB: tour.hubUrl });
            assertPrinted(`${doc}:${block.line}`, block, r);
            continue;
          }
          for (const step of tourSteps(block.code)) {
            const problem = await tour.step(step);
            assert.equal(problem, null, `${doc}:${block.line} $ ${step.command}: ${problem}`);
          }
        }
      } finally {
        await tour.close();
      }
    });
  }
  test('docs - README has a tour', () => assert.ok(blocksOf.get('README.md')!.some((b) => toured('README.md', b) && b.lang === 'console')));
});

describe('docs - the examples type-check', () => {
  test('docs - tsc accepts every ts example as a user would compile it', async () => {
    const r = await typechecked;
    assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`.replaceAll(relative(ROOT, WORK), '<examples>'));
  });
});
