/** What `npm ci` leaves a person: entry points that import, and an install Node 20 accepts quietly. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

interface Manifest { engines: { node: string }; exports: Record<string, string>; scripts: Record<string, string> }
interface Lock { packages: Record<string, { engines?: { node?: string } | string[] }> }
/** semver comes with npm's own tree (fastify, node-abi use it); only these two calls are needed. */
interface Semver { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } | null }

const root = new URL('../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as Manifest;
const semver = createRequire(import.meta.url)('semver') as Semver;

describe('packaging', () => {
  test('packaging - npm ci builds what the entry points name (prepare runs the TypeScript build)', () => {
    assert.match(manifest.scripts.prepare!, /npm run build\b/);
    assert.match(manifest.scripts.build!, /tsc -p tsconfig\.build\.json/);
    for (const [entry, target] of Object.entries(manifest.exports)) {
      const source = target.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
      assert.ok(existsSync(new URL(source, root)), `${entry} -> ${target} has no source ${source}`);
    }
  });

  test('packaging - import { connect } from "muster/client" works in the checkout', { skip: !existsSync(new URL('dist/client/index.js', root)) && 'not built (npm run build)' }, () => {
    // A separate process, as a user's script would: the package resolves itself through "exports".
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import { connect } from 'muster/client'; import { Hub } from 'muster'; console.log(typeof connect, typeof Hub)"],
    { cwd: fileURLToPath(root), encoding: 'utf8' });
    assert.equal(out.trim(), 'function function');
  });

  test('packaging - every locked package accepts the Node this package documents (no EBADENGINE)', () => {
    const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as Lock;
    const lowest = semver.minVersion(manifest.engines.node)!.version;
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (!range) continue;
      for (const node of [lowest, process.version]) if (!semver.satisfies(node, range)) refused.push(`${path} wants node ${range}, not ${node}`);
    }
    assert.deepEqual(refused, []);
  });
});
