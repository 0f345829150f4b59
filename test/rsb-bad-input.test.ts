/**
 * Bad input on the RSB port gets a clear end and the hub keeps serving: each case below closes
 * only the offending connection, logged with a reason and counted (muster_rsb_closed_total by
 * reason, muster_errors_total{face="rsb"} by code), while two RSB clients opened before keep
 * talking through it. Then thousands of connections opened and dropped, and the connection cap.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { DEFAULT_CONFIG } from '../src/config.js';
import { encodeFrame, type NotificationInit } from '../src/faces/rsb/notification.js';
import { Hub } from '../src/hub.js';
import { ADMIN_TOKEN, tempDir } from './support/hub.js';
import { RsbClient } from './rsb/peer.js';

const MAX_FRAME = 64 * 1024;
const IDLE_MS = 300;
let hub: Hub;
let port = 0;
const logLines: Record<string, unknown>[] = [];
let a: RsbClient;
let b: RsbClient;

async function startRsbHub(extra: Partial<typeof DEFAULT_CONFIG> = {}): Promise<{ hub: Hub; port: number }> {
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) logLines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
  const started = await Hub.start({
    config: { ...DEFAULT_CONFIG, host: '127.0.0.1', port: 0, dataDir: tempDir(), hubId: 'rsb-bad', adminToken: ADMIN_TOKEN, logLevel: 'warn', sync: 'normal', rsb: '0', rsbMaxFrameBytes: MAX_FRAME, rsbIdleTimeoutMs: IDLE_MS, ...extra },
    logger: pino({ level: 'warn' }, sink),
  });
  return { hub: started, port: Number(started.info().faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1)) };
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const framed = (body: Buffer) => Buffer.concat([u32(body.length), body]);
const good: NotificationInit = {
  eventId: { senderId: Buffer.alloc(16, 7), sequenceNumber: 1 }, scope: '/bad/', wireSchema: 'bytes', data: Buffer.from([1]),
  metaData: { createTime: 1, sendTime: 2 },
};
/** protobuf bytes by hand: key, then a varint or a length-delimited value. */
const field = (n: number, value: number | Buffer) => typeof value === 'number'
  ? Buffer.from([...varint(n * 8), ...varint(value)])
  : Buffer.concat([Buffer.from([...varint(n * 8 + 2), ...varint(value.length)]), value]);
function varint(v: number): number[] { const out: number[] = []; while (v >= 128) { out.push((v % 128) | 128); v = Math.floor(v / 128); } out.push(v); return out; }
const eventId = (parts: Buffer[] = [field(1, Buffer.alloc(16, 1)), field(2, 5)]) => field(108, Buffer.concat(parts));
const meta = (parts: Buffer[]) => field(15, Buffer.concat(parts));
const scope = (s: string | Buffer) => field(6, typeof s === 'string' ? Buffer.from(s) : s);
const body = (...parts: Buffer[]) => framed(Buffer.concat(parts));

/** Every case: the bytes sent, the reason it must be closed for. */
const CASES: [label: string, bytes: Buffer, reason: string, code: string | null][] = [
  ['length prefix of 4 GiB', u32(0xffffffff), 'tooLarge', 'PAYLOAD_TOO_LARGE'],
  ['length prefix one past the limit', u32(MAX_FRAME + 1), 'tooLarge', 'PAYLOAD_TOO_LARGE'],
  ['a varint longer than 10 bytes', framed(Buffer.alloc(12, 0xff)), 'garbage', 'INVALID_REQUEST'],
  ['a truncated varint', framed(Buffer.from([0x08, 0x80])), 'garbage', 'INVALID_REQUEST'],
  ['a group (wire type 3)', framed(Buffer.from([0x0b, 0x0c])), 'garbage', 'INVALID_REQUEST'],
  ['a field running past the message', framed(Buffer.from([0x32, 0x40, 0x2f])), 'garbage', 'INVALID_REQUEST'],
  ['field number 0', framed(Buffer.from([0x02, 0x00])), 'garbage', 'INVALID_REQUEST'],
  ['event_id as a varint', body(field(108, 3), scope('/bad/')), 'garbage', 'INVALID_REQUEST'],
  ['plain text', framed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 'garbage', 'INVALID_REQUEST'],
  ['no event_id', body(scope('/bad/')), 'missingRequired', 'INVALID_REQUEST'],
  ['event_id without sequence_number', body(eventId([field(1, Buffer.alloc(16))]), scope('/bad/')), 'missingRequired', 'INVALID_REQUEST'],
  ['event_id without sender_id', body(eventId([field(2, 1)]), scope('/bad/')), 'missingRequired', 'INVALID_REQUEST'],
  ['meta_data without create_time', body(eventId(), scope('/bad/'), meta([field(3, 1)])), 'missingRequired', 'INVALID_REQUEST'],
  ['meta_data without send_time', body(eventId(), scope('/bad/'), meta([field(2, 1)])), 'missingRequired', 'INVALID_REQUEST'],
  ['a user info without value', body(eventId(), scope('/bad/'), meta([field(2, 1), field(3, 1), field(7, field(1, Buffer.from('k')))])), 'missingRequired', 'INVALID_REQUEST'],
  ['a user time without timestamp', body(eventId(), scope('/bad/'), meta([field(2, 1), field(3, 1), field(6, field(1, Buffer.from('k')))])), 'missingRequired', 'INVALID_REQUEST'],
  ['a cause without sequence_number', body(eventId(), scope('/bad/'), field(13, field(1, Buffer.alloc(16)))), 'missingRequired', 'INVALID_REQUEST'],
  ['no scope', body(eventId()), 'missingRequired', 'INVALID_REQUEST'],
  ['a scope without a leading slash', body(eventId(), scope('bad/')), 'badScope', 'INVALID_SCOPE'],
  ['a scope with a space', body(eventId(), scope('/a b/')), 'badScope', 'INVALID_SCOPE'],
  ['a scope with an empty component', body(eventId(), scope('/a//b/')), 'badScope', 'INVALID_SCOPE'],
  ['a scope of non-ASCII bytes', body(eventId(), scope(Buffer.from([0x2f, 0xc3, 0xa4, 0x2f]))), 'badScope', 'INVALID_SCOPE'],
  ['an empty scope', body(eventId(), scope('')), 'badScope', 'INVALID_SCOPE'],
  ['a good frame, then garbage', Buffer.concat([encodeFrame(good), framed(Buffer.from([0xff]))]), 'garbage', 'INVALID_REQUEST'],
];

/** Opens a raw connection, sends `bytes` after the handshake, resolves with how the hub ended it (or 'open'). */
async function sendAndWatch(bytes: Buffer, waitMs = 2000): Promise<'end' | 'reset' | 'open'> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  const ended = new Promise<'end' | 'reset'>((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', () => resolve('reset'));
    socket.once('close', () => resolve('end'));
  });
  socket.on('data', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(bytes);
  const how = await Promise.race([ended, new Promise<'open'>((r) => setTimeout(() => r('open'), waitMs))]);
  socket.destroy();
  return how;
}

/** Waits (bounded) for a metric to reach a value; the hub counts a close when its side of the socket is gone. */
async function metricReaches(text: string, want: number): Promise<number> {
  const deadline = Date.now() + 3000;
  let v = await metric(text);
  while (v !== want && Date.now() < deadline) { await new Promise((r) => setTimeout(r, 20)); v = await metric(text); }
  return v;
}

async function metric(text: string): Promise<number> {
  const body = await (await fetch(`${hub.url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(text + ' '));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

before(async () => {
  ({ hub, port } = await startRsbHub());
  a = await RsbClient.connect(port);
  b = await RsbClient.connect(port);
  await b.listen('/alive/');
});
after(async () => {
  await a.stop();
  await b.stop();
  await hub.stop();
});

describe('rsb bad input - each closes only its connection, with a reason, counted', () => {
  for (const [label, bytes, reason, code] of CASES) {
    test(label, async () => {
      const before = await metric(`muster_rsb_closed_total{reason="${reason}"}`);
      const errorsBefore = code ? await metric(`muster_errors_total{face="rsb",code="${code}"}`) : 0;
      const logsBefore = logLines.length;
      assert.notEqual(await sendAndWatch(bytes), 'open', 'the hub ended the connection');
      assert.equal(await metricReaches(`muster_rsb_closed_total{reason="${reason}"}`, before + 1), before + 1);
      if (code) {
        assert.equal(await metric(`muster_errors_total{face="rsb",code="${code}"}`), errorsBefore + 1);
        assert.ok(logLines.slice(logsBefore).some((l) => l.code === code && typeof l.reason === 'string' && l.remote), 'logged with its reason');
      }
      // The clients connected before keep talking through the hub.
      await a.send('/alive/', 'utf-8-string', { text: label });
      assert.equal((await b.events(1))[0]?.text, label);
    });
  }

  test('a zero-length frame ends the connection cleanly, as the Lisp client reads it', async () => {
    const before = await metric('muster_rsb_closed_total{reason="zeroLength"}');
    assert.equal(await sendAndWatch(u32(0)), 'end');
    assert.equal(await metricReaches('muster_rsb_closed_total{reason="zeroLength"}', before + 1), before + 1);
  });

  test('a client that mirrors the handshake (sends 4 zero bytes) has sent a zero-length frame: ended', async () => {
    assert.equal(await sendAndWatch(Buffer.alloc(4)), 'end');
  });

  test('a client that sends before reading the handshake is served: its frame is delivered', async () => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    // Written in the same tick as connect: before the handshake could have been read.
    socket.write(encodeFrame({ ...good, scope: '/alive/', wireSchema: 'utf-8-string', data: Buffer.from('early') }));
    assert.equal((await b.events(1))[0]?.text, 'early');
    socket.destroy();
  });

  test('half a frame, then silence: closed after the idle timeout', async () => {
    const before = await metric('muster_rsb_closed_total{reason="idle"}');
    const t0 = Date.now();
    assert.notEqual(await sendAndWatch(Buffer.concat([u32(100), Buffer.alloc(10)]), 5000), 'open');
    assert.ok(Date.now() - t0 >= IDLE_MS - 50);
    assert.equal(await metricReaches('muster_rsb_closed_total{reason="idle"}', before + 1), before + 1);
  });

  test('a quiet listener is not an idle connection: it stays', async () => {
    assert.equal(await sendAndWatch(Buffer.alloc(0), IDLE_MS * 3), 'open');
  });
});

describe('rsb bad input - connection churn and the cap', () => {
  test('thousands of connections opened and dropped (clean and reset) leave no members and the hub serving', async () => {
    const rsbMembers = () => hub.registry.list({ type: 'rsb', limit: 1000 }).members.length;
    // Only the two clients of this file are left once earlier cases' members are gone.
    const baseline = 2;
    assert.equal(await metricReaches('muster_rsb_connections', 2), 2);
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port });
        s.on('error', () => resolve());
        s.once('data', () => { if (i % 2) s.resetAndDestroy(); else s.end(); });
        s.once('close', () => resolve());
      })));
    }
    await new Promise((r) => setTimeout(r, 200));
    const deadline = Date.now() + 5000;
    while (rsbMembers() !== baseline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(rsbMembers(), baseline);
    assert.equal(await metric('muster_rsb_connections'), 2);
    await a.send('/alive/', 'utf-8-string', { text: 'after churn' });
    assert.equal((await b.events(1))[0]?.text, 'after churn');
  });

  test('past maxConnections a new connection is refused, counted, and the others stay', async () => {
    const small = await startRsbHub({ maxConnections: 2 });
    const savedPort = port;
    port = small.port;
    try {
      const [x, y] = [await RsbClient.connect(port), await RsbClient.connect(port)];
      assert.notEqual(await sendAndWatch(Buffer.alloc(0), 1000), 'open');
      await y.listen('/cap/');
      await x.send('/cap/', 'utf-8-string', { text: 'still here' });
      assert.equal((await y.events(1))[0]?.text, 'still here');
      await x.stop();
      await y.stop();
    } finally {
      port = savedPort;
      await small.hub.stop();
    }
  });
});
