import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeDeliveries, deliveryRecordBytes, FRAME_MAGIC, type DeliveryHead, type DeliveryRecord } from '../src/faces/native/bus-binary.js';
import { writeDeliveryHead } from '../src/faces/native/delivery-head.js';

describe('bus - delivery record heads', () => {
  test('each head is written whole, whichever of kind, flag, sender, scope and size repeat from the last (the kept head is reused only when all do)', () => {
    const heads: (DeliveryHead & { size: number })[] = [];
    let seq = 1;
    const base = { kind: 1, isBytes: true, from: 'pub-1', where: '/a/b/', size: 8 };
    const changes: Partial<typeof base>[] = [
      {}, {}, { size: 9 }, { size: 9 }, { from: 'pub-2' }, { where: '/a/c/' }, { kind: 3, where: 'sub-1' }, { isBytes: false }, {},
      { from: '' }, { from: 'p'.repeat(255), where: `/${'w'.repeat(300)}/` }, { from: 'p'.repeat(255), where: `/${'w'.repeat(300)}/` }, {},
    ];
    for (const c of changes) {
      const h = { ...base, ...c };
      heads.push({ ...h, seq: seq++, created: 1.7e15 + seq, sent: 1.7e15 + 2 * seq, received: 1.7e15 + 3 * seq });
    }
    const lens = heads.map((h) => deliveryRecordBytes(h, h.size));
    const frame = new Uint8Array(1 + lens.reduce((a, b) => a + b, 0));
    frame[0] = FRAME_MAGIC;
    const view = new DataView(frame.buffer);
    let at = 1;
    heads.forEach((h, i) => {
      const p = writeDeliveryHead(h, lens[i]!, frame, view, at);
      frame.fill(i, p, p + h.size);
      at += lens[i]!;
    });
    const got: DeliveryRecord[] = [];
    decodeDeliveries(frame, (r) => got.push(r));
    assert.equal(got.length, heads.length);
    got.forEach((r, i) => {
      const { size, ...want } = heads[i]!;
      const { payload, ...head } = r;
      assert.deepEqual(head, want, `record ${i}`);
      assert.deepEqual([...payload], new Array<number>(size).fill(i), `record ${i} payload`);
    });
  });
});
