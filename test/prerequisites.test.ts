/**
 * Prerequisites - what the suite needs beyond `npm ci` is said in one place (README.md, "Tests"),
 * installed by .ci/run, and a test missing one fails naming the package (test/support/prerequisites.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { INSTALL_LINE, missing, requirePrerequisites } from './support/prerequisites.js';

const ROOT = new URL('..', import.meta.url).pathname;

describe('prerequisites', () => {
  test('prerequisites - README names them in one line, .ci/run installs each', () => {
    assert.ok(readFileSync(`${ROOT}README.md`, 'utf8').includes(INSTALL_LINE), `README.md shows \`${INSTALL_LINE}\``);
    const ci = readFileSync(`${ROOT}.ci/run`, 'utf8');
    for (const pkg of INSTALL_LINE.split(' ').slice(3)) assert.match(ci, new RegExp(`need_apt\\+=\\(${pkg}\\)`), `.ci/run installs ${pkg}`);
    assert.match(ci, /^export CI=1$/m, '.ci/run runs the suite with CI=1');
  });

  test('prerequisites - the quick start is npm ci && npm start, and npm start runs a hub on the embedded store', () => {
    assert.match(readFileSync(`${ROOT}README.md`, 'utf8'), /^npm ci && npm start\b/m);
    const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.start ?? '', /muster\.js hub --data /);
  });

  test('prerequisites - this machine has every one', () => {
    assert.deepEqual(missing('chromium', 'redis-server', 'protoc', 'python3 zmq', 'python3 protobuf'), [], `install them: ${INSTALL_LINE}`);
  });

  test('prerequisites - a missing one fails, naming the package to install', () => {
    // Nothing is on an empty PATH: redis-server and protoc are "missing" in this child.
    const code = `import { requirePrerequisites } from './test/support/prerequisites.ts'; requirePrerequisites('redis-server', 'protoc');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, env: { ...process.env, PATH: '' }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /redis-server, protoc missing: apt-get install -y redis-server protobuf-compiler/);
    assert.doesNotThrow(() => requirePrerequisites());
  });
});
