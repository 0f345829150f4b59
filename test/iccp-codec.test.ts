/**
 * The ICCP codec (src/faces/iccp/codec.ts, config-map.ts) byte by byte against frames built by
 * the protobuf definitions in Python (test/iccp/frames.py with protoc's modules and Debian's
 * python3-protobuf), and the generated TypeScript checked against the .proto files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  decode, encodeError, encodeFinished, encodeOk, encodeReady, encodeRequest, encodeStop, MAX_TEXT, trimText, type IccpMessage,
} from '../src/faces/iccp/codec.js';
import { fromConfigProto, toConfigProto } from '../src/faces/iccp/config-map.js';
import { ConfigProtoSchema } from '../src/faces/iccp/gen/config_pb.js';
import { referenceFrames } from './iccp/protos.js';

let ref: Record<string, Buffer[]>;
before(() => {
  ref = referenceFrames();
});

const hex = (frames: readonly Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('hex'));
const UID = Buffer.from('6f1e2d3c4b5a11ee8c900242ac120002', 'hex');

function decoded(frames: readonly Uint8Array[]): IccpMessage {
  const d = decode(frames);
  assert.ok(d.ok, d.ok ? '' : d.reason);
  return d.message;
}

/** The config frames.py puts in its REQUEST, as a controller would write it in JSON. */
const CONFIG_JSON = {
  port: 5432, ratio: 0.25, name: 'log', enabled: true, blob: { $bytes: 'AAH/' }, neg: -7, whole: { $double: 2 }, f: { $float: 1.5 },
  s32: { $sint32: -3 }, u32: { $uint32: 4000000000 }, u64: { $uint64: '18446744073709551615' }, big: { $sint64: '-9223372036854775808' },
  msg: { $any: { typeUrl: 'type.googleapis.com/x.Y', value: 'CAE=' } },
  db: { host: 'localhost', pool: { size: 8 } },
};

describe('iccp codec - controller side, byte by byte', () => {
  test('REQUEST/CONF is [00 02, CONF, ConfigProto], the same bytes protobuf builds', () => {
    assert.deepEqual(hex(encodeRequest(toConfigProto(CONFIG_JSON))), hex(ref.request!));
    assert.equal(ref.request![0]!.toString('hex'), '0002');
  });

  test('an integer option travels as sint64, never as a double', () => {
    assert.deepEqual(hex(encodeRequest(toConfigProto({ port: 5432 }))), hex(ref['request-int']!));
    const proto = fromBinary(ConfigProtoSchema, ref['request-int']![2]!);
    assert.equal(proto.options.port!.kind.case, 'asSint64');
  });

  test('an empty config is a zero-length ConfigProto frame', () => {
    assert.deepEqual(hex(encodeRequest(toConfigProto({}))), hex(ref['request-empty']!));
  });

  test('STOP is the one frame 00 05', () => {
    assert.deepEqual(hex(encodeStop()), hex(ref.stop!));
    assert.deepEqual(hex(encodeStop()), ['0005']);
  });
});

describe('iccp codec - component side, byte by byte', () => {
  test('READY: PeerIdentification and the endpoints Struct decode to the peer and its channels', () => {
    const m = decoded(ref.ready!);
    assert.deepEqual(m, {
      type: 'READY', peer: { uid: '6f1e2d3c-4b5a-11ee-8c90-0242ac120002', pid: 4242, host: 'node-7', supplements: 0 },
      endpoints: { data: ['tcp://127.0.0.1:6001', 'ipc:///tmp/x'], log: [] },
    });
    assert.deepEqual(hex(encodeReady({ uid: UID, pid: 4242, host: 'node-7' }, { data: ['tcp://127.0.0.1:6001', 'ipc:///tmp/x'], log: [] })), hex(ref.ready!));
  });

  test('READY: an empty channel written by Struct.update (a Value with no kind) is an empty list', () => {
    assert.deepEqual((decoded(ref['ready-kindless-empty']!) as { endpoints: unknown }).endpoints, { log: [] });
  });

  test('READY with no endpoints has a zero-length frame 2', () => {
    assert.equal(ref['ready-no-endpoints']![2]!.length, 0);
    assert.deepEqual((decoded(ref['ready-no-endpoints']!) as { endpoints: unknown }).endpoints, {});
    assert.deepEqual(hex(encodeReady({ uid: UID, pid: 4242, host: 'node-7' }, {})), hex(ref['ready-no-endpoints']!));
  });

  test('OK, ERROR with its UTF-8 text, FINISHED with outcome and details', () => {
    assert.deepEqual(decoded(ref.ok!), { type: 'OK' });
    assert.deepEqual(hex(encodeOk()), hex(ref.ok!));
    const text = 'Traceback (most recent call last):\n  File "x.py", line 1\nTypeError: bad ✓';
    assert.deepEqual(decoded(ref.error!), { type: 'ERROR', text });
    assert.deepEqual(hex(encodeError(text)), hex(ref.error!));
    assert.deepEqual(decoded(ref.finished!), { type: 'FINISHED', outcome: 'OK', details: [] });
    assert.deepEqual(decoded(ref['finished-details']!), { type: 'FINISHED', outcome: 'ERROR', details: ['first ✓', 'second'] });
    assert.deepEqual(hex(encodeFinished('ERROR', ['first ✓', 'second'])), hex(ref['finished-details']!));
  });

  test('REQUEST decodes in both forms: [type, CONF, config] and the original controller\'s [type, config]', () => {
    const three = decoded(ref.request!);
    const two = decoded(ref['request-two-frame']!);
    assert.equal(three.type, 'REQUEST');
    assert.equal(two.type, 'REQUEST');
    if (three.type !== 'REQUEST' || two.type !== 'REQUEST') return;
    assert.equal(three.withConf, true);
    assert.equal(two.withConf, false);
    assert.deepEqual(fromConfigProto(three.config), CONFIG_JSON);
    assert.deepEqual(fromConfigProto(two.config), CONFIG_JSON);
    assert.deepEqual(decoded(ref.stop!), { type: 'STOP' });
  });
});

describe('iccp codec - JSON config <-> ConfigProto', () => {
  test('JSON -> ConfigProto -> JSON is the identity, kinds included', () => {
    assert.deepEqual(fromConfigProto(toConfigProto(CONFIG_JSON)), CONFIG_JSON);
  });

  test('ConfigProto -> JSON -> ConfigProto keeps every kind', () => {
    const proto = fromBinary(ConfigProtoSchema, ref.request![2]!);
    const again = toConfigProto(fromConfigProto(proto));
    assert.deepEqual(Buffer.from(toBinary(ConfigProtoSchema, again)), ref.request![2]!);
  });

  test('mapping rules: null leaves an option out, whole numbers are sint64, fractions doubles, objects nested configs', () => {
    const p = toConfigProto({ gone: null, n: 3, x: 3.5, sub: { a: 'b' } });
    assert.deepEqual(Object.keys(p.options).sort(), ['n', 'x']);
    assert.equal(p.options.n!.kind.case, 'asSint64');
    assert.equal(p.options.x!.kind.case, 'asDouble');
    assert.equal(p.configs.sub!.options.a!.kind.value, 'b');
  });

  test('what has no ConfigProto kind is refused with INVALID_PARAMS naming the key', () => {
    const refused = (config: Record<string, unknown>, path: string) => assert.throws(() => toConfigProto(config), (e: Error & { code?: string }) => e.code === 'INVALID_PARAMS' && e.message.startsWith(`config${path}:`));
    refused({ list: [1, 2] }, '.list');
    refused({ a: { b: { $uint32: -1 } } }, '.a.b');
    refused({ x: { $nope: 1 } }, '.x');
    refused({ x: { $bytes: '***' } }, '.x');
    refused({ x: { $sint64: '99999999999999999999' } }, '.x');
    refused({ '': 1 }, '.');
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    assert.throws(() => toConfigProto(deep), /nested deeper than 16/);
  });

  test('a "__proto__" key is an option like any other', () => {
    const config = JSON.parse('{"__proto__": 5, "a": {"__proto__": "x"}}') as Record<string, unknown>;
    const back = fromConfigProto(fromBinary(ConfigProtoSchema, toBinary(ConfigProtoSchema, toConfigProto(config))));
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepEqual(Object.keys(back).sort(), ['__proto__', 'a']);
    assert.equal(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, 5);
  });
});

describe('iccp codec - bad input names its reason', () => {
  const cases: [string, Uint8Array[], RegExp][] = [
    ['no frames', [], /empty message/],
    ['a 1-byte type', [Buffer.from([1])], /2-byte message type/],
    ['type 0', [Buffer.from([0, 0])], /unknown message type 0/],
    ['type 7', [Buffer.from([0, 7])], /unknown message type 7/],
    ['type 256', [Buffer.from([1, 0])], /unknown message type 256/],
    ['READY with 2 frames', [Buffer.from([0, 1]), Buffer.alloc(0)], /READY takes 3 frames, got 2/],
    ['READY with garbage protobuf', [Buffer.from([0, 1]), Buffer.from([0xff, 0xff, 0xff]), Buffer.alloc(0)], /garbage protobuf/],
    ['READY with a truncated Struct', [], /garbage protobuf/],
    ['READY with a short uid', [], /uid must be 16 bytes/],
    ['OK with a frame too many', [Buffer.from([0, 3]), Buffer.from('x')], /OK takes 1 frame, got 2/],
    ['ERROR without text', [Buffer.from([0, 4])], /ERROR takes 2 frames, got 1/],
    ['ERROR with invalid UTF-8', [Buffer.from([0, 4]), Buffer.from([0xc3, 0x28])], /not UTF-8/],
    ['FINISHED without outcome', [Buffer.from([0, 6])], /FINISHED takes 2 to 66 frames/],
    ['FINISHED with outcome MAYBE', [Buffer.from([0, 6]), Buffer.from('MAYBE')], /outcome must be OK, ERROR or UNKNOWN/],
    ['REQUEST with code XXXX', [Buffer.from([0, 2]), Buffer.from('XXXX'), Buffer.alloc(0)], /REQUEST code must be CONF/],
    ['a frame over the limit', [Buffer.from([0, 4]), Buffer.alloc(64 * 1024 + 1, 0x41)], /65537 bytes; the limit is 65536/],
  ];
  for (const [name, frames, reason] of cases) {
    test(name, () => {
      const special: Record<string, Uint8Array[]> = {
        'READY with a short uid': ref['peer-wrong-uid']!,
        'READY with a truncated Struct': [ref.ready![0]!, ref.ready![1]!, ref.ready![2]!.subarray(0, 9)],
      };
      const d = decode(special[name] ?? frames);
      assert.equal(d.ok, false);
      if (!d.ok) assert.match(d.reason, reason);
    });
  }

  test('READY whose endpoints are not lists of strings', () => {
    const [t, peer] = ref.ready!;
    const struct = Buffer.from('0a0b0a016112061a0474657874', 'hex'); // {a: "text"}: a string, not a list
    const d = decode([t!, peer!, struct]);
    assert.ok(!d.ok && /must map to a list of addresses/.test(d.reason), JSON.stringify(d));
  });

  test('deeply nested protobuf stops at the decoder\'s recursion limit, as a reason', () => {
    let inner: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 200; i++) inner = Buffer.concat([Buffer.from([0x12]), varint(inner.length + 3), Buffer.from([0x0a, 0x01, 0x6b]), inner]).subarray(0); // configs{k: ...}
    const d = decode([Buffer.from([0, 2]), Buffer.from('CONF'), inner]);
    assert.equal(d.ok, false);
  });
});

describe('iccp codec - long texts', () => {
  test('a traceback past the limit keeps its head and its last line', () => {
    const tb = `Traceback (most recent call last):\n${'  File "x.py", line 1, in f\n'.repeat(500)}ValueError: the real reason`;
    const t = trimText(tb);
    assert.ok(t.length <= MAX_TEXT, String(t.length));
    assert.ok(t.startsWith('Traceback (most recent call last):'));
    assert.ok(t.endsWith('\nValueError: the real reason'));
    assert.match(t, /characters trimmed/);
    assert.equal(trimText('short'), 'short');
  });
});

describe('iccp codec - generated code', () => {
  test('gen/ is what proto/generate.sh writes from the .proto files', () => {
    const out = mkdtempSync(join(tmpdir(), 'muster-iccp-gen-'));
    execFileSync(new URL('../src/faces/iccp/proto/generate.sh', import.meta.url).pathname, [out], { timeout: 60_000 });
    const gen = new URL('../src/faces/iccp/gen/', import.meta.url).pathname;
    for (const f of readdirSync(out)) assert.equal(readFileSync(join(gen, f), 'utf8'), readFileSync(join(out, f), 'utf8'), `${f} is stale: run src/faces/iccp/proto/generate.sh`);
    assert.deepEqual(readdirSync(out).sort(), readdirSync(gen).sort());
  });
});

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
