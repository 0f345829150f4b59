/**
 * Docs - docs/api/ (the SDK reference TypeDoc makes from src/client/, `npm run docs:api`) is
 * generated again into a temporary folder and must equal the committed one: a doc comment or an
 * export changed without `npm run docs:api` fails here. The wire types must read as their fields
 * and values.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from './support/hub.js';

const ROOT = new URL('..', import.meta.url).pathname;
const TYPEDOC = join(ROOT, 'tools/api-docs/node_modules/typedoc/bin/typedoc');
const out = tempDir('muster-api-');
after(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): Map<string, string> {
  const all = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return new Map(all.map((e) => { const p = join(e.parentPath, e.name); return [relative(dir, p), readFileSync(p, 'utf8')]; }));
}

test('docs - docs/api/ is what npm run docs:api makes from the sources now', { timeout: 120_000 }, () => {
  execFileSync(process.execPath, [TYPEDOC, '--options', join(ROOT, 'tools/api-docs/typedoc.json'), '--out', out, '--logLevel', 'Error'], { cwd: ROOT, stdio: 'pipe' });
  const made = files(out);
  const committed = files(join(ROOT, 'docs/api'));
  assert.deepEqual([...committed.keys()].sort(), [...made.keys()].sort(), 'the same pages (run npm run docs:api)');
  for (const [name, text] of made) assert.equal(committed.get(name), text, `docs/api/${name} is stale: run npm run docs:api`);
  // The wire types read as their fields and values, not as the TypeBox schemas they come from
  // (tools/api-docs/expand-static.mjs), and each has one page.
  for (const [name, text] of made) assert.doesNotMatch(text, /`T(Object|Union|Literal|Recursive|String|Integer)`|`Static`/, `docs/api/${name} shows a schema type`);
  assert.ok(![...made.keys()].some((n) => /-1\.md$/.test(n)), 'one page per name');
  // (in the order the type checker met the literals first, which moves as the sources do)
  assert.match(made.get('type-aliases/MemberStatus.md') ?? '', /^> \*\*MemberStatus\*\* = (`"(alive|suspect|gone)"`( \\\| )?){3}$/m, 'a union of literals reads as its values');
});
