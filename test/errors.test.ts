import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ERRORS, ERROR_CODES, MusterError } from '../src/errors.js';

describe('errors - catalogue', () => {
  test('every code is documented in docs/protocol.md with its statuses, and every documented code exists', () => {
    const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (-?\d+) \|/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]), rpc: Number(m[3]) }));
    assert.deepEqual(rows.map((r) => r.code).sort(), [...ERROR_CODES].sort());
    for (const r of rows) {
      const e = ERRORS[r.code as keyof typeof ERRORS];
      assert.equal(r.status, e.status, r.code);
      assert.equal(r.rpc, e.rpc, r.code);
    }
  });

  test('codes and JSON-RPC numbers are unique; errors carry their code', () => {
    const rpcs = ERROR_CODES.map((c) => ERRORS[c].rpc);
    assert.equal(new Set(rpcs).size, rpcs.length);
    for (const c of ERROR_CODES) {
      const e = new MusterError(c);
      assert.equal(e.code, c);
      assert.equal(e.status, ERRORS[c].status);
      assert.ok(e.message.length > 5);
    }
  });
});
