/**
 * ConnectionCount (src/faces/plantimager/connection-count.ts): the plantimager face's cap counts a
 * connection from its socket's monitor, which may reach JavaScript after ZAP asks about that very
 * connection. ZAP's k-th question waits for the k-th accept, and no longer than it was told.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionCount } from '../src/faces/plantimager/connection-count.js';

describe('plantimager connection count', () => {
  test('a question about a connection not yet counted waits for its accept', async () => {
    const c = new ConnectionCount();
    c.accepted();
    await c.asked(1_000); // the first: already counted
    let answered = false;
    const second = c.asked(5_000).then(() => { answered = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(answered, false, 'waits while its accept is not counted');
    c.accepted();
    await second;
    assert.equal(c.open, 2);
    c.gone();
    assert.equal(c.open, 1);
  });

  test('a question whose accept never comes is answered after the wait it was given', async () => {
    const c = new ConnectionCount();
    const t0 = performance.now();
    await c.asked(50);
    assert.ok(performance.now() - t0 >= 45);
    assert.equal(c.open, 0);
    c.gone();
    assert.equal(c.open, 0, 'never below zero');
  });
});
