/**
 * bin/muster.js runs dist/ when it is at least as new as src/, else the sources through tsx: a
 * checkout never runs a stale build, and a built one starts fast. Checked in a copy of the
 * layout whose two entry points only say which one ran.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from './support/hub.js';

const root = tempDir('muster-launcher-');
const bin = join(root, 'bin', 'muster.js');
const dist = join(root, 'dist', 'cli', 'main.js');
const src = join(root, 'src', 'cli', 'main.ts');

const which = (env: NodeJS.ProcessEnv = {}) => execFileSync(process.execPath, [bin], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

before(() => {
  for (const dir of ['bin', 'dist/cli', 'src/cli']) mkdirSync(join(root, dir), { recursive: true });
  copyFileSync(new URL('../bin/muster.js', import.meta.url), bin);
  writeFileSync(dist, "process.stdout.write('dist');\n");
  writeFileSync(src, "const from: string = 'src';\nprocess.stdout.write(from);\n");
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  symlinkSync(new URL('../node_modules', import.meta.url).pathname, join(root, 'node_modules'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('cli launcher', () => {
  test('cli launcher - a build newer than every source runs dist/', () => {
    at(src, 1_000_000);
    at(dist, 2_000_000);
    assert.equal(which(), 'dist');
  });

  test('cli launcher - a source changed after the build runs the sources', () => {
    at(dist, 2_000_000);
    at(src, 3_000_000);
    assert.equal(which(), 'src');
  });

  test('cli launcher - MUSTER_FROM_SOURCE=1 runs the sources even with a fresh build', () => {
    at(src, 1_000_000);
    at(dist, 2_000_000);
    assert.equal(which({ MUSTER_FROM_SOURCE: '1' }), 'src');
  });

  test('cli launcher - no build at all runs the sources', () => {
    rmSync(join(root, 'dist'), { recursive: true });
    assert.equal(which(), 'src');
  });
});
