/**
 * The whole project type-checks under its strict settings: sources, tests and benches (tsx runs
 * them without a check). docs-examples.test.ts checks the docs' examples on their own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('typecheck - tsc accepts the project (src, test, bench) with its tsconfig', { timeout: 300_000 }, async () => {
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    // A slow VM under the suite's load took tsc 23 s alone, more beside the other tests.
    execFile(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.json`, '--noEmit'], { timeout: 240_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out: `${stdout}${stderr}` });
    });
  });
  assert.equal(r.code, 0, `tsc:\n${r.out}`);
});
