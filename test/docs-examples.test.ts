/**
 * Docs - the examples of README.md and docs/sdk.md, run against real hubs.
 *
 * How a doc marks its examples (test/docs/markdown.ts reads them):
 *
 * - A ```ts block is a whole program. It runs as written (`node --import tsx`, with a time bound,
 *   so it must end by itself: close clients, break out of watches), with `'muster/client'`
 *   pointing at src/client/index.ts and `http://127.0.0.1:7070` at a test hub
 *   (`127.0.0.1:7071` at a port where nothing listens). MUSTER_TOKEN holds the hub's admin token.
 *   Every ts block of docs/sdk.md gets a hub of its own; README's run on the tour's hub, in order.
 *   Every one is type-checked too, as a user's `tsc` would see it.
 * - The ```text block right after a ts block (only blank lines between) is what it prints; one is
 *   required. Lines compare with whitespace runs as one space; `…` alone is any text; `WORD…` is
 *   one value of `[A-Za-z0-9_-]` that changes from run to run (the same wherever it recurs).
 * - `<!-- not run: why -->` on the line before a block leaves it out (keep them rare: a fragment,
 *   a page for a browser). Only ts and console blocks run; sh blocks show commands not to run here.
 * - A ```console block is a tour: `$ ` lines are commands (`npx muster` runs bin/muster.js,
 *   `localhost:7070` is the tour's hub, MUSTER_HUB points there too), the lines under one are its
 *   output, compared as above, where an age (`2m`) matches any age. A `WORD…` shown in an output
 *   may be used by a later command, which gets the real value. `$ npx muster hub ARGS &` starts
 *   the tour's hub with those ARGS (on a free port, `--data` in a temporary folder). Commands
 *   that stream (`muster watch`, `muster sub`, `curl -N`) are stopped once they printed as many
 *   lines as the doc shows. Others must end with status 0.
 * - Every `muster ...` command line in the docs (blocks and inline code) must name a real command
 *   and only flags it has.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkInvocation, musterInvocations, musterProgram, shellWords } from './docs/cli-commands.js';
import { codeBlocks, compareOutput, fillPlaceholders, inlineCode, tourSteps, type CodeBlock } from './docs/markdown.js';
import { ADMIN_TOKEN, spawnHub, startHub, tempDir, type HubProcess } from './support/hub.js';

const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/muster.js');
const DOCS = ['README.md', 'docs/sdk.md'] as const;
/** An example or a command on a machine busy with other test runs. */
const RUN_BOUND_MS = 30_000;

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

interface Ran { status: number | null; stdout: string; stderr: string; timedOut: boolean; stopped: boolean }

/** Runs a program in its own process group; `untilLines` stops it once it printed that many lines. */
function run(command: string, args: string[], env: Record<string, string>, untilLines?: number): Promise<Ran> {
  // The developer's own hub and token stay out of it.
  const { MUSTER_HUB: _hub, MUSTER_TOKEN: _token, ...inherited } = process.env;
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stopped = false;
    const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
    const timer = setTimeout(() => { timedOut = true; kill(); }, RUN_BOUND_MS);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (untilLines !== undefined && !stopped && stdout.split('\n').length > untilLines) { stopped = true; kill(); }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr, timedOut, stopped }); });
  });
}

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

/** A loopback port where nothing listens (the doc's 127.0.0.1:7071). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
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
  }));
  return run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {});
}
const typechecked = typecheck();

after(() => rmSync(WORK, { recursive: true, force: true }));

describe('docs - conventions', () => {
  test('docs - every ts example shows its output, and not-run blocks are rare', () => {
    for (const doc of DOCS) {
      const blocks = blocksOf.get(doc)!;
      for (const b of blocks.filter(runnable)) assert.ok(b.output !== undefined, `${doc}:${b.line}: a ts example needs a \`\`\`text block right after it with what it prints`);
      const ts = blocks.filter((b) => b.lang === 'ts');
      const skipped = ts.filter((b) => b.notRun !== undefined);
      assert.ok(skipped.length <= Math.max(1, ts.length / 5), `${doc}: ${skipped.length} of ${ts.length} ts blocks are not run`);
    }
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
        else if (b.lang === 'sh' || b.lang === 'bash') lines.push(...b.code.split('\n'));
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
    for (const doc of [...DOCS, 'docs/protocol.md', 'docs/operations.md', 'docs/architecture.md']) {
      if (!existsSync(join(ROOT, doc))) continue;
      for (const m of read(doc).matchAll(/\]\(([^)\s#]+)(#[^)\s]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        assert.ok(existsSync(join(ROOT, dirname(doc), target)), `${doc}: link to ${target}`);
      }
    }
  });
});

describe('docs - docs/sdk.md examples, each on a hub of its own', () => {
  const doc = 'docs/sdk.md';
  let dead: string;
  before(async () => { dead = `http://127.0.0.1:${await deadPort()}`; });

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

describe('docs - README.md tour, in order, on the hub it starts', () => {
  const doc = 'README.md';
  let hub: HubProcess | undefined;
  let dataDir: string | undefined;

  after(async () => {
    await hub?.kill();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('docs - README: the console tour and the TypeScript example', async () => {
    const vars = new Map<string, string>();
    const blocks = blocksOf.get(doc)!.filter((b) => (b.lang === 'console' || b.lang === 'ts') && b.notRun === undefined);
    assert.ok(blocks.some((b) => b.lang === 'console'), 'README has a console tour');
    for (const block of blocks) {
      if (block.lang === 'ts') {
        assert.ok(hub, `${doc}:${block.line}: the tour starts a hub before this example`);
        const r = await runExample(exampleFile(doc, block, '', hub.url), { MUSTER_HUB: hub.url });
        assertPrinted(`${doc}:${block.line}`, block, r);
        continue;
      }
      for (const step of tourSteps(block.code)) {
        const where = `${doc}:${block.line} $ ${step.command}`;
        const hubArgs = /^(?:npx )?muster hub\b(.*?)&\s*(#.*)?$/.exec(step.command);
        if (hubArgs) {
          assert.equal(hub, undefined, `${where}: one hub per tour`);
          const args = shellWords(hubArgs[1]!);
          const d = args.indexOf('--data');
          dataDir = tempDir('muster-readme-');
          if (d >= 0) args.splice(d, 2, '--data', dataDir);
          hub = await spawnHub(args);
          continue;
        }
        assert.ok(hub, `${where}: the tour starts a hub first (\`$ npx muster hub ... &\`)`);
        const port = new URL(hub.url).port;
        const command = fillPlaceholders(step.command, vars)
          .replace(/(^|[\s;&|(])(?:npx\s+)?muster(?=\s)/g, `$1${process.execPath} ${BIN}`)
          .replace(/\b(localhost|127\.0\.0\.1):7070\b/g, `127.0.0.1:${port}`);
        const streams = /\bmuster\s+(watch|sub)\b|\bcurl\b.*\s-[a-zA-Z]*N\b/.test(step.command);
        if (streams) assert.ok(step.output.length > 0, `${where}: a command that streams shows what it prints first`);
        const r = await run('bash', ['-c', `exec 2>&1\n${command}`], { MUSTER_HUB: hub.url }, streams ? step.output.length : undefined);
        assert.ok(!r.timedOut, `${where}: did not end within ${RUN_BOUND_MS} ms\n${r.stdout}`);
        if (!streams) assert.equal(r.status, 0, `${where}: exited with ${r.status}\n${r.stdout}`);
        else assert.ok(r.stopped, `${where}: ended before printing the ${step.output.length} lines shown\n${r.stdout}`);
        const printed = r.stdout.split('\n');
        const diff = compareOutput(step.output, streams ? printed.slice(0, step.output.length) : printed, { vars, ages: true });
        assert.equal(diff, null, `${where}: ${diff}\n--- printed:\n${r.stdout}`);
      }
    }
    assert.ok(hub, 'the tour ran against its hub');
  });
});

describe('docs - the examples type-check', () => {
  test('docs - tsc accepts every ts example as a user would compile it', async () => {
    const r = await typechecked;
    assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`.replaceAll(relative(ROOT, WORK), '<examples>'));
  });
});
