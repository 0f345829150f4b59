/**
 * The RSB face's pure layers, byte by byte: the protobuf reader and writer against Python's
 * protobuf (the same .proto files through protoc), the framing fed in every split, and the
 * payload mapping both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BusPayload } from '../src/core/bus/message.js';
import { FrameReader, type FrameSink } from '../src/faces/rsb/framing.js';
import { decodeNotification, encodeFrame, isRefusal, type Notification, type NotificationInit } from '../src/faces/rsb/notification.js';
import { WireError, WireReader } from '../src/faces/rsb/protobuf-wire.js';
import { payloadFromRsb, rsbFromPayload } from '../src/faces/rsb/wire-schema.js';
import { PyCodec, type RsbEvent } from './rsb/peer.js';

let py: PyCodec;
before(() => { py = new PyCodec(); });
after(async () => { await py.stop(); });

const full: NotificationInit = {
  eventId: { senderId: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), sequenceNumber: 300 },
  scope: '/robot/arm/', method: 'REQUEST', wireSchema: '.rst.Pose', data: Buffer.from([0, 1, 2, 255]),
  causes: [{ senderId: Buffer.alloc(16, 9), sequenceNumber: 1 }, { senderId: Buffer.alloc(16, 8), sequenceNumber: 4_000_000_000 }],
  metaData: { createTime: 1_764_000_000_123_456, sendTime: 1_764_000_000_123_999, userInfos: [['who', 'me'], ['rsb:error?', '1']], userTimes: [['grab', 17]] },
};

function decoded(frame: Buffer): Notification {
  const d = decodeNotification(frame, 4);
  if (isRefusal(d)) throw new Error(d.detail);
  return d;
}

describe('rsb codec - against Python protobuf', () => {
  test('a frame the hub builds is a Notification protobuf reads field for field, and its length prefix is right', async () => {
    const frame = encodeFrame(full);
    assert.equal(frame.readUInt32LE(0), frame.length - 4);
    const e = await py.op<RsbEvent>({ op: 'decode', hex: frame.subarray(4).toString('hex') });
    assert.equal(e.scope, '/robot/arm/');
    assert.equal(e.method, 'REQUEST');
    assert.equal(e.schema, '.rst.Pose');
    assert.equal(e.hex, '000102ff');
    assert.equal(e.sender, '00112233445566778899aabbccddeeff');
    assert.equal(e.seq, 300);
    assert.deepEqual(e.causes, [{ sender: '09'.repeat(16), seq: 1 }, { sender: '08'.repeat(16), seq: 4_000_000_000 }]);
    assert.deepEqual([e.create, e.send], [1_764_000_000_123_456, 1_764_000_000_123_999]);
    assert.deepEqual(e.user_infos, { who: 'me', 'rsb:error?': '1' });
    assert.deepEqual(e.user_times, { grab: 17 });
  });

  test('the hub writes the bytes protobuf writes (same field order), and reads protobuf\'s bytes back to the same fields', async () => {
    const { hex } = await py.op<{ hex: string }>({
      op: 'encode', sender: '00112233445566778899aabbccddeeff', seq: 300, scope: '/robot/arm/', schema: '.rst.Pose', data: '000102ff',
      method: 'REQUEST', causes: [{ sender: '09'.repeat(16), seq: 1 }, { sender: '08'.repeat(16), seq: 4_000_000_000 }],
      user_infos: { who: 'me', 'rsb:error?': '1' }, user_times: { grab: 17 }, create: 1_764_000_000_123_456, send: 1_764_000_000_123_999,
    });
    const ours = encodeFrame(full).subarray(4);
    assert.equal(ours.toString('hex'), hex);
    const n = decoded(Buffer.concat([Buffer.alloc(4), Buffer.from(hex, 'hex')]));
    assert.equal(n.scope, '/robot/arm/');
    assert.equal(Buffer.from(n.eventId.senderId).toString('hex'), '00112233445566778899aabbccddeeff');
    assert.equal(n.eventId.sequenceNumber, 300);
    assert.deepEqual(n.metaData?.userInfos, [['who', 'me'], ['rsb:error?', '1']]);
    assert.deepEqual(n.metaData?.userTimes, [['grab', 17]]);
    assert.equal(n.causes[1]!.sequenceNumber, 4_000_000_000);
  });

  test('every truncation of a valid Notification is refused or read, never thrown; protobuf agrees on which are complete', async () => {
    const body = encodeFrame(full).subarray(4);
    let refused = 0;
    for (let cut = 0; cut < body.length; cut++) {
      const d = decodeNotification(Buffer.concat([Buffer.alloc(4), body.subarray(0, cut)]), 4);
      if (isRefusal(d)) refused++;
    }
    assert.equal(refused, body.length, 'no strict prefix is a complete Notification');
    const py0 = await py.op<{ error?: string }>({ op: 'decode', hex: body.subarray(0, 10).toString('hex') });
    assert.ok(py0.error, 'protobuf refuses a prefix too');
  });
});

describe('rsb codec - the reader', () => {
  test('varints: one to ten bytes, values past 2^53 read without throwing, eleven bytes refused', () => {
    const read = (bytes: number[]) => new WireReader(Buffer.from(bytes)).varint();
    assert.equal(read([0x00]), 0);
    assert.equal(read([0xac, 0x02]), 300);
    assert.equal(read([0xff, 0xff, 0xff, 0xff, 0x0f]), 2 ** 32 - 1);
    assert.equal(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), 2 ** 53);
    assert.ok(read([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) > 2 ** 63);
    assert.throws(() => read([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), WireError);
    assert.throws(() => read([0x80]), WireError);
  });

  test('unknown fields of every wire type are skipped; required fields are named when missing', () => {
    const body = encodeFrame(full).subarray(4);
    const extra = Buffer.from([0xa0, 0x01, 0x05, /* 20: varint */ 0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, /* 21: i64 */ 0xb5, 0x01, 1, 2, 3, 4 /* 22: i32 */]);
    assert.equal(decoded(Buffer.concat([Buffer.alloc(4), extra, body])).scope, '/robot/arm/');
    const noId = decodeNotification(Buffer.from([0, 0, 0, 0, 0x32, 0x03, 0x2f, 0x61, 0x2f]), 4);
    assert.ok(isRefusal(noId) && noId.kind === 'missing-required' && /event_id/.test(noId.detail));
  });
});

describe('rsb codec - framing', () => {
  const collect = (reader: FrameReader, chunks: Buffer[]) => {
    const out: (string | Buffer)[] = [];
    const sink: FrameSink = { frame: (f) => out.push(Buffer.from(f)), end: () => out.push('end'), tooLarge: (n) => out.push(`too-large ${n}`) };
    for (const c of chunks) reader.push(c, sink);
    return out;
  };
  const frames = [encodeFrame(full), encodeFrame({ ...full, data: Buffer.alloc(300, 1) }), encodeFrame({ ...full, causes: [] })];
  const stream = Buffer.concat(frames);

  test('the same frames whatever the split: whole, byte by byte, and at every single cut', () => {
    assert.deepEqual(collect(new FrameReader(1 << 20), [stream]), frames);
    assert.deepEqual(collect(new FrameReader(1 << 20), [...stream].map((b) => Buffer.from([b]))), frames);
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(collect(new FrameReader(1 << 20), [stream.subarray(0, cut), stream.subarray(cut)]), frames, `cut at ${cut}`);
    }
  });

  test('a zero-length frame ends the stream; a prefix past the limit too; nothing is read after', () => {
    assert.deepEqual(collect(new FrameReader(1024), [Buffer.concat([frames[0]!, Buffer.alloc(4), frames[1]!])]), [frames[0], 'end']);
    const big = Buffer.alloc(4);
    big.writeUInt32LE(2048);
    assert.deepEqual(collect(new FrameReader(1024), [big, frames[0]!]), ['too-large 2048']);
  });

  test('a frame in one chunk is a view of it, not a copy', () => {
    let seen: Buffer | null = null;
    new FrameReader(1024).push(frames[0]!, { frame: (f) => { seen = f; }, end: () => {}, tooLarge: () => {} });
    assert.equal(seen!.buffer, frames[0]!.buffer);
  });
});

describe('rsb codec - payload mapping', () => {
  test('bus payloads to RSB: bytes, strings, integers, other numbers, booleans, null, objects', () => {
    const cases: [BusPayload, string, string][] = [
      [BusPayload.base64('AP8='), 'bytes', '00ff'],
      [BusPayload.of('hé'), 'utf-8-string', Buffer.from('hé').toString('hex')],
      [BusPayload.of(-2), 'int64', 'feffffffffffffff'],
      [BusPayload.of(0.5), 'double', '000000000000e03f'],
      [BusPayload.of(false), 'bool', '00'],
      [BusPayload.of(null), 'void', ''],
      [BusPayload.of([1, { a: 'b' }]), 'utf-8-string', Buffer.from('[1,{"a":"b"}]').toString('hex')],
      [BusPayload.raw(Buffer.from([1]), true, { face: 'rsb', schema: '.x.Y' }), '.x.Y', '01'],
    ];
    for (const [p, schema, hex] of cases) {
      const out = rsbFromPayload(p);
      assert.deepEqual([out.wireSchema, Buffer.from(out.data).toString('hex')], [schema, hex]);
    }
  });

  test('RSB to bus payloads keep the schema in meta; data that does not fit its schema stays bytes', () => {
    const p = payloadFromRsb('double', Buffer.from('000000000000e03f', 'hex'));
    assert.deepEqual([p.toJSONValue(), p.meta], [0.5, { face: 'rsb', schema: 'double' }]);
    assert.deepEqual(payloadFromRsb('double', Buffer.from([1])).toJSONValue(), { bytes: 'AQ==' });
    assert.deepEqual(payloadFromRsb('utf-8-string', Buffer.from([0xff])).toJSONValue(), { bytes: '/w==' });
    assert.deepEqual(payloadFromRsb('double', Buffer.from('000000000000f07f', 'hex')).toJSONValue(), { bytes: 'AAAAAAAA8H8=' }, 'Infinity is no JSON');
    assert.equal(payloadFromRsb('uint64', Buffer.from('ffffffffffffffff', 'hex')).jsonText, '18446744073709551615');
  });
});
