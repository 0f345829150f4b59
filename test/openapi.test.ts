/** The OpenAPI document the hub publishes, checked by a real OpenAPI 3.1 validator. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startHub, type TestHub } from './support/hub.js';

interface Doc { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> }

let h: TestHub;
let doc: Doc;
before(async () => {
  h = await startHub();
  doc = (await (await fetch(`${h.url}/v1/openapi.json`)).json()) as Doc;
});
after(() => h.stop());

describe('openapi', () => {
  test('openapi - the document passes an OpenAPI 3.1 schema validator', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1));
    assert.equal(validator.version, '3.1');
  });

  test('openapi - no two path templates differ only in parameter names (OpenAPI 3.1 forbids it)', () => {
    const seen = new Map<string, string>();
    for (const path of Object.keys(doc.paths)) {
      const shape = path.replace(/\{[^}]+\}/g, '{}');
      assert.equal(seen.get(shape), undefined, `${path} and ${seen.get(shape)} are the same template`);
      seen.set(shape, path);
    }
  });

  test('openapi - every templated name is declared as a path parameter of each operation', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        assert.deepEqual(declared.sort(), [...names].sort(), `${method.toUpperCase()} ${path}`);
      }
    }
  });
});
