/**
 * The event log's ring of kept events as bytes (core/events/event-ring.ts): it gives back the last
 * `capacity` events exactly, in order, while its slots grow, once it wraps, across its chunks of
 * bytes, for events of any characters, and for an event larger than a chunk.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventRing } from '../src/core/events/event-ring.js';

const pieces = ['plain', 'Gewächshaus', '温室', '🌱', '"quoted" \\ slash', '\u00e9\u0301'];

/** An event's JSON of about `size` characters, different for every revision. */
function eventJson(revision: number, size: number): string {
  let text = '';
  for (let k = 0; text.length < size; k++) text += pieces[(revision + k) % pieces.length];
  return JSON.stringify({ revision, type: 'added', member: { name: `m-${revision}`, meta: { text } } });
}

function kept(ring: EventRing): { revision: number; json: string }[] {
  return Array.from({ length: ring.count }, (_, i) => ({ revision: ring.revisionAt(i), json: ring.jsonAt(i) }));
}

describe('event ring', () => {
  test('keeps the last events exactly, in order, as it grows, wraps and moves across chunks', () => {
    const capacity = 3_000; // slots grow 1,024 -> 2,048 -> 3,000
    const ring = new EventRing(capacity);
    const pushed: { revision: number; json: string }[] = [];
    for (let r = 1; r <= 7_500; r++) {
      // Mostly small events, some of several KB: chunks of 256 KB fill every few hundred.
      const json = eventJson(r, r % 97 === 0 ? 8_000 : 100 + (r % 300));
      ring.push(r, json);
      pushed.push({ revision: r, json });
      if (r === 1_500 || r === 3_000) assert.deepEqual(kept(ring), pushed.slice(-capacity), `before wrapping, at ${r}`);
    }
    assert.equal(ring.count, capacity);
    assert.deepEqual(kept(ring), pushed.slice(-capacity));
  });

  test('an event larger than a chunk is kept whole beside the small ones', () => {
    const ring = new EventRing(4);
    const big = eventJson(2, 300_000); // about 1 MB of UTF-8: more than a 256 KB chunk
    ring.push(1, eventJson(1, 50));
    ring.push(2, big);
    ring.push(3, eventJson(3, 50));
    assert.equal(ring.jsonAt(1), big);
    assert.deepEqual(kept(ring).map((e) => e.revision), [1, 2, 3]);
    assert.equal(ring.jsonAt(2), eventJson(3, 50));
  });

  test('cleared, it keeps nothing and starts again', () => {
    const ring = new EventRing(2);
    for (let r = 1; r <= 5; r++) ring.push(r, eventJson(r, 10));
    ring.clear();
    assert.equal(ring.count, 0);
    ring.push(9, eventJson(9, 10));
    assert.deepEqual(kept(ring), [{ revision: 9, json: eventJson(9, 10) }]);
  });
});
