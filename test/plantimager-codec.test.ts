/** The plantimager codec, naming rules, endpoint and allow-list parsing: bytes in, values out, no sockets. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AllowList } from '../src/faces/plantimager/allow-list.js';
import {
  decodeRequest, encodeAck, encodeError, encodeRegisterAck, encodeUnsupported, MAX_FRAME_BYTES,
} from '../src/faces/plantimager/codec.js';
import { aliveUntil } from '../src/faces/plantimager/alive-window.js';
import { parseEndpoint } from '../src/faces/plantimager/endpoint.js';
import { chooseName, memberType } from '../src/faces/plantimager/naming.js';

const b = (s: string) => Buffer.from(s, 'utf8');

function errorOf(frames: Uint8Array[], max?: number): { req_event: unknown; error: unknown; message: unknown } {
  const d = decodeRequest(frames, max);
  assert.equal(d.ok, false, 'expected an error reply');
  if (d.ok) throw new Error('unreachable');
  const reply = JSON.parse(d.reply.toString('utf8'));
  assert.deepEqual(Object.keys(reply), ['event', 'payload'], 'clients index event and payload: both must be there');
  assert.equal(reply.event, 'ERROR');
  assert.equal(reply.payload.error, d.code);
  assert.equal(typeof reply.payload.message, 'string');
  return reply.payload;
}

describe('plantimager codec - requests', () => {
  test('REGISTER as register_device sends it', () => {
    const d = decodeRequest([b('{"event": "REGISTER", "payload": {"device_type": "camera", "addr": "tcp://10.0.0.7:5000", "name": "cam", "overwrite": false}}')]);
    assert.deepEqual(d, { ok: true, request: { event: 'REGISTER', deviceType: 'camera', addr: 'tcp://10.0.0.7:5000', name: 'cam', overwrite: false } });
  });

  test('REGISTER: overwrite is optional (false), true is kept, null reads as false, extra keys are ignored', () => {
    const base = { device_type: 't', addr: 'a', name: 'n' };
    const req = (payload: object) => {
      const d = decodeRequest([b(JSON.stringify({ event: 'REGISTER', payload }))]);
      assert.ok(d.ok);
      return d.request;
    };
    assert.equal((req(base) as { overwrite: boolean }).overwrite, false);
    assert.equal((req({ ...base, overwrite: true }) as { overwrite: boolean }).overwrite, true);
    assert.equal((req({ ...base, overwrite: null }) as { overwrite: boolean }).overwrite, false);
    assert.equal((req({ ...base, extra: [1, 2] }) as { name: string }).name, 'n');
  });

  test('CHECK_ALIVE: alive_timeout defaults to 20 s, fractions are kept', () => {
    assert.deepEqual(decodeRequest([b('{"event":"CHECK_ALIVE","payload":{"uuid":"u1"}}')]),
      { ok: true, request: { event: 'CHECK_ALIVE', uuid: 'u1', aliveTimeoutS: 20 } });
    assert.deepEqual(decodeRequest([b('{"event":"CHECK_ALIVE","payload":{"uuid":"u1","alive_timeout":0.5}}')]),
      { ok: true, request: { event: 'CHECK_ALIVE', uuid: 'u1', aliveTimeoutS: 0.5 } });
  });

  test('UNREGISTER and any other event string', () => {
    assert.deepEqual(decodeRequest([b('{"event":"UNREGISTER","payload":{"uuid":"u2"}}')]), { ok: true, request: { event: 'UNREGISTER', uuid: 'u2' } });
    assert.deepEqual(decodeRequest([b('{"event":"REBOOT","payload":{}}')]), { ok: true, request: { event: 'UNSUPPORTED', reqEvent: 'REBOOT' } });
    // REGISTER_ACK sent as a request is just another unsupported event.
    assert.deepEqual(decodeRequest([b('{"event":"REGISTER_ACK","payload":null}')]), { ok: true, request: { event: 'UNSUPPORTED', reqEvent: 'REGISTER_ACK' } });
  });
});

describe('plantimager codec - bad input gets an ERROR reply', () => {
  test('not UTF-8, not JSON, empty frame', () => {
    assert.equal(errorOf([Buffer.from([0xff, 0xfe, 0x7b])]).error, 'PARSE_ERROR');
    assert.equal(errorOf([b('{"event":')]).error, 'PARSE_ERROR');
    assert.equal(errorOf([b('')]).error, 'PARSE_ERROR');
    assert.equal(errorOf([b('NaN')]).error, 'PARSE_ERROR');
  });

  test('JSON that is not an object', () => {
    for (const text of ['[]', '"REGISTER"', '42', 'null', 'true', '[{"event":"REGISTER"}]']) {
      const p = errorOf([b(text)]);
      assert.equal(p.error, 'INVALID_REQUEST', text);
      assert.equal(p.req_event, null);
    }
  });

  test('missing or non-string event, missing payload', () => {
    assert.equal(errorOf([b('{"payload":{}}')]).error, 'INVALID_REQUEST');
    assert.equal(errorOf([b('{"event":7,"payload":{}}')]).error, 'INVALID_REQUEST');
    const p = errorOf([b('{"event":"CHECK_ALIVE"}')]);
    assert.equal(p.error, 'INVALID_REQUEST');
    assert.equal(p.req_event, 'CHECK_ALIVE');
  });

  test('missing or mistyped keys name the field', () => {
    const cases: [string, object, string][] = [
      ['REGISTER', { addr: 'a', name: 'n' }, 'device_type'],
      ['REGISTER', { device_type: 't', name: 'n' }, 'addr'],
      ['REGISTER', { device_type: 't', addr: 'a' }, 'name'],
      ['REGISTER', { device_type: 5, addr: 'a', name: 'n' }, 'device_type'],
      ['REGISTER', { device_type: 't', addr: 'a', name: 'n', overwrite: 'yes' }, 'overwrite'],
      ['REGISTER', { device_type: 't', addr: 'a'.repeat(513), name: 'n' }, 'addr'],
      ['UNREGISTER', {}, 'uuid'],
      ['UNREGISTER', { uuid: 12 }, 'uuid'],
      ['CHECK_ALIVE', { uuid: null }, 'uuid'],
      ['CHECK_ALIVE', { uuid: 'u', alive_timeout: '20' }, 'alive_timeout'],
      ['CHECK_ALIVE', { uuid: 'u', alive_timeout: -1 }, 'alive_timeout'],
    ];
    for (const [event, payload, field] of cases) {
      const p = errorOf([b(JSON.stringify({ event, payload }))]);
      assert.equal(p.error, 'INVALID_PARAMS', `${event} ${JSON.stringify(payload)}`);
      assert.equal(p.req_event, event);
      assert.match(String(p.message), new RegExp(`payload\\.${field}`));
    }
    // A payload that is not an object at all.
    assert.equal(errorOf([b('{"event":"REGISTER","payload":"x"}')]).error, 'INVALID_PARAMS');
  });

  test('REGISTER: ASCII control characters in device_type, addr or name are refused, naming the field', () => {
    const base = { device_type: 'camera', addr: 'tcp://10.0.0.7:5000', name: 'cam' };
    for (const field of ['device_type', 'addr', 'name'] as const) {
      for (const c of ['\u0000', '\u0007', '\n', '\r', '\u001b', '\u001f', '\u007f']) {
        const p = errorOf([b(JSON.stringify({ event: 'REGISTER', payload: { ...base, [field]: `x${c}y` } }))]);
        assert.equal(p.error, 'INVALID_PARAMS', `${field} with ${JSON.stringify(c)}`);
        assert.equal(p.req_event, 'REGISTER');
        assert.match(String(p.message), new RegExp(`payload\\.${field}: .*control character`));
      }
    }
    // Spaces, printable ASCII and non-ASCII letters are fine.
    const ok = decodeRequest([b(JSON.stringify({ event: 'REGISTER', payload: { device_type: 'IP camera', addr: 'tcp://[fe80::1]:5000', name: 'Kamera Süd ~1' } }))]);
    assert.equal(ok.ok, true);
  });

  test('multipart messages and oversized frames', () => {
    assert.equal(errorOf([b('{"event":"UNREGISTER","payload":{"uuid":"u"}}'), b('second')]).error, 'INVALID_REQUEST');
    assert.equal(errorOf([]).error, 'INVALID_REQUEST');
    const big = b(JSON.stringify({ event: 'REGISTER', payload: { device_type: 't', addr: 'a', name: 'x'.repeat(MAX_FRAME_BYTES) } }));
    assert.equal(errorOf([big]).error, 'PAYLOAD_TOO_LARGE');
    assert.equal(errorOf([b('{"event":"X","payload":{}}')], 10).error, 'PAYLOAD_TOO_LARGE');
  });

  test('an overlong unknown event is refused and not echoed whole', () => {
    const p = errorOf([b(JSON.stringify({ event: 'E'.repeat(1000), payload: {} }))]);
    assert.equal(p.error, 'INVALID_REQUEST');
    assert.equal(String(p.req_event).length, 64);
  });
});

describe('plantimager codec - replies', () => {
  test('replies are the protocol\'s exact bytes', () => {
    assert.equal(encodeRegisterAck('cam-1', '6f1c').toString(), '{"event":"REGISTER_ACK","payload":{"name":"cam-1","uuid":"6f1c"}}');
    assert.equal(encodeAck('UNREGISTER', true).toString(), '{"event":"ACK","payload":{"req_event":"UNREGISTER","success":true}}');
    assert.equal(encodeAck('CHECK_ALIVE', false).toString(), '{"event":"ACK","payload":{"req_event":"CHECK_ALIVE","success":false}}');
    assert.equal(encodeUnsupported('FOO').toString(), '{"event":"UNSUPPORTED","payload":{"req_event":"FOO"}}');
    assert.equal(encodeError('REGISTER', 'REGISTRY_FULL', 'full').toString(),
      '{"event":"ERROR","payload":{"req_event":"REGISTER","error":"REGISTRY_FULL","message":"full"}}');
  });
});

describe('plantimager alive window', () => {
  // The original stores int(now) + timeout and prunes entries below int(now): the device stays
  // while int(now) <= int(t) + timeout, that is until the end of the whole second int(t) + timeout.
  test('a check at t buys until the end of the whole second int(t) + timeout', () => {
    assert.equal(aliveUntil(1_000_000_000, 2), 1_000_003_000, 'checked at a whole second: 3 s');
    assert.equal(aliveUntil(1_000_000_999, 2), 1_000_003_000, 'at the end of a second: 2.001 s');
    assert.equal(aliveUntil(1_000_000_500, 20), 1_000_021_000, 'registration: ALIVE_TIMEOUT of 20 s, 20.5 s here');
    for (const t of [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_950, 1_700_000_000_999]) {
      const end = aliveUntil(t, 2);
      assert.ok(end - t > 2000 && end - t <= 3000, `between timeout and timeout + 1 s (t=${t})`);
      // Python: alive while int(now) <= int(t) + timeout.
      assert.ok(Math.floor((end - 1) / 1000) <= Math.floor(t / 1000) + 2);
      assert.ok(Math.floor(end / 1000) > Math.floor(t / 1000) + 2);
    }
  });

  test('fractions and zero as the original computes them', () => {
    // int(now) is whole, so int(now) <= int(t) + 1.5 is int(now) <= int(t) + 1.
    assert.equal(aliveUntil(10_400, 1.5), 12_000);
    assert.equal(aliveUntil(10_400, 0), 11_000, 'timeout 0: until the end of this second');
    assert.equal(aliveUntil(10_400, 0.5), 11_000);
  });
});

describe('plantimager naming', () => {
  const takenOf = (...names: string[]) => (n: string) => names.includes(n);

  test('proposed name, then -1, -2; empty name is {device_type}-0, then {device_type}-1', () => {
    assert.equal(chooseName('cam', 'camera', takenOf()), 'cam');
    assert.equal(chooseName('cam', 'camera', takenOf('cam')), 'cam-1');
    assert.equal(chooseName('cam', 'camera', takenOf('cam', 'cam-1')), 'cam-2');
    assert.equal(chooseName('', 'camera', takenOf()), 'camera-0');
    assert.equal(chooseName('', 'camera', takenOf('camera-0')), 'camera-1', 'not -1: the original\'s bug is not kept');
    assert.equal(chooseName('', 'camera', takenOf('camera-0', 'camera-1')), 'camera-2');
  });

  test('characters muster names cannot hold become -, length stays within 64', () => {
    assert.equal(chooseName('my cam/2', 'camera', takenOf()), 'my-cam-2');
    assert.equal(chooseName('', 'IP camera', takenOf()), 'IP-camera-0');
    assert.equal(chooseName('', '', takenOf()), 'device-0');
    const long = 'n'.repeat(80);
    assert.equal(chooseName(long, 't', takenOf()), 'n'.repeat(64));
    assert.equal(chooseName(long, 't', takenOf('n'.repeat(64))), 'n'.repeat(62) + '-1');
    assert.equal(memberType('camera'), 'camera');
    assert.equal(memberType('IP camera'), 'IP-camera');
    assert.equal(memberType(''), 'device');
  });
});

describe('plantimager endpoint and allow-list', () => {
  test('[HOST:]PORT', () => {
    assert.deepEqual(parseEndpoint('5555', '127.0.0.1'), { url: 'tcp://127.0.0.1:5555', ipv6: false });
    assert.deepEqual(parseEndpoint('0.0.0.0:6000', '127.0.0.1'), { url: 'tcp://0.0.0.0:6000', ipv6: false });
    assert.deepEqual(parseEndpoint('*:6000', '127.0.0.1'), { url: 'tcp://*:6000', ipv6: false });
    assert.deepEqual(parseEndpoint('[::1]:6000', '127.0.0.1'), { url: 'tcp://[::1]:6000', ipv6: true });
    assert.deepEqual(parseEndpoint('', '127.0.0.1'), { url: 'tcp://127.0.0.1:5555', ipv6: false });
    assert.throws(() => parseEndpoint('host:port', '127.0.0.1'), /not \[HOST:\]PORT/);
    assert.throws(() => parseEndpoint('70000', '127.0.0.1'), /not \[HOST:\]PORT/);
  });

  test('CIDR networks, bare addresses, IPv4-mapped IPv6 peers; bad entries are refused by name', () => {
    const a = new AllowList(['10.1.0.0/16', '127.0.0.2', 'fd00::/8']);
    assert.equal(a.allows('10.1.200.3'), true);
    assert.equal(a.allows('10.2.0.1'), false);
    assert.equal(a.allows('127.0.0.2'), true);
    assert.equal(a.allows('127.0.0.1'), false);
    assert.equal(a.allows('::ffff:10.1.0.9'), true);
    assert.equal(a.allows('fd12::1'), true);
    assert.equal(a.allows('::1'), false);
    assert.equal(a.allows('not an ip'), false);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '1.2.3.4/x', '']) {
      assert.throws(() => new AllowList([bad]), /plantimagerAllow/, bad);
    }
  });
});
