/**
 * The RSB face with real RSB-protocol clients (test/rsb/rsb_peer.py: Python, Debian's protobuf,
 * the face's .proto files through protoc), several processes at once, and native members over
 * WebSocket: the handshake, delivery by scope with no echo and the exact bytes, the members they
 * are, native <-> RSB both ways with every wire schema, and a clean leave.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodeFrame } from '../src/faces/rsb/notification.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { RsbClient, type RsbEvent } from './rsb/peer.js';

let h: TestHub;
let port = 0;
const open: { stop(): Promise<void> }[] = [];

const client = async () => { const c = await RsbClient.connect(port); open.push(c); return c; };
const native = async (name: string) => {
  const p = await RpcPeer.connect(h.wsUrl);
  await p.ok('register', { name, type: 'svc', liveness: 'session' });
  open.push({ stop: () => p.close() });
  return p;
};
const until = async (what: () => boolean | Promise<boolean>, label: string, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`not seen: ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const busMessages = (p: RpcPeer) => p.notifications.filter((n) => n.method === 'bus.message').map((n) => n.params);

/** A raw TCP peer: what the hub writes, byte for byte. */
async function rawPeer(): Promise<{ socket: Socket; received: () => Buffer; close(): void }> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  await until(() => Buffer.concat(chunks).length >= 4, 'handshake');
  return { socket, received: () => Buffer.concat(chunks), close: () => socket.destroy() };
}

before(async () => {
  h = await startHub({ rsb: '127.0.0.1:0' });
  const face = h.hub.info().faces.find((f) => f.name === 'rsb');
  port = Number(face!.address.split(':').at(-1));
});
after(async () => {
  for (const c of open.splice(0).reverse()) await c.stop().catch(() => {});
  await h.stop();
});

describe('rsb - wire', () => {
  test('on accept the hub sends 4 zero bytes in one write, and nothing else', async () => {
    const socket = connect({ host: '127.0.0.1', port });
    const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    assert.deepEqual([...first], [0, 0, 0, 0]);
    socket.destroy();
    const c = await client();
    assert.equal((await c.op<{ handshake: string }>({ op: 'hello' })).handshake, '00000000');
  });

  test('a notification reaches every other client, never its sender; listeners filter by scope', async () => {
    const [a, b, c] = [await client(), await client(), await client()];
    await a.listen('/');
    await b.listen('/x/');
    await c.listen('/xy/');
    await a.send('/x/y/', 'utf-8-string', { text: 'hello' });
    const got = await b.events(1);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.scope, '/x/y/');
    assert.equal(got[0]!.text, 'hello');
    assert.deepEqual(await a.events(1, 300), [], 'no echo to the sender');
    assert.deepEqual(await c.events(1, 300), [], '/xy/ is not a super-scope of /x/y/');
  });

  test('the receiver gets the exact bytes the sender wrote (unknown fields and all)', async () => {
    const sender = await rawPeer();
    const receiver = await rawPeer();
    const frame = encodeFrame({
      eventId: { senderId: Buffer.alloc(16, 0xab), sequenceNumber: 7 }, scope: '/exact/', wireSchema: '.my.Message', data: Buffer.from([1, 2, 3]),
      causes: [{ senderId: Buffer.alloc(16, 1), sequenceNumber: 3 }],
      metaData: { createTime: 1_700_000_000_000_000, sendTime: 1_700_000_000_000_001, userInfos: [['k', 'v']], userTimes: [['t', 5]] },
    });
    // An unknown field (number 200, varint 1) appended: a newer client's extension the hub must not strip.
    const body = Buffer.concat([frame.subarray(4), Buffer.from([0xc0, 0x0c, 0x01])]);
    const withUnknown = Buffer.concat([Buffer.from([body.length, 0, 0, 0]), body]);
    sender.socket.write(withUnknown);
    await until(() => receiver.received().length >= 4 + withUnknown.length, 'the frame at the receiver');
    assert.deepEqual(receiver.received().subarray(4), withUnknown);
    sender.close();
    receiver.close();
  });
});

describe('rsb - participants are members', () => {
  test('each connection is a member: type rsb, address the peer, stats, removed as unregistered on a clean leave', async () => {
    const admin = await native('rsb-watcher');
    const before = (await admin.ok('list', { type: 'rsb' })).members.length;
    const c = await client();
    await c.listen('/');
    await until(async () => (await admin.ok('list', { type: 'rsb' })).members.length === before + 1, 'the member listed');
    const listed = (await admin.ok('list', { type: 'rsb' })).members as { name: string; address: string; status: string; meta: Record<string, string> }[];
    const m = listed.at(-1)!;
    assert.match(m.name, /^rsb-\d+$/);
    assert.match(m.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(m.status, 'alive');
    await c.send('/stats/', 'utf-8-string', { text: 'x' });
    await until(async () => (await admin.ok('get', { name: m.name })).stats.traffic.sent === 1, 'sent counted');
    const { watch } = await admin.ok('watch', { filter: { name: m.name } });
    await c.leave();
    const ev = await admin.waitFor((n) => n.method === 'event' && n.params.watch === watch && n.params.event.type === 'removed');
    assert.equal(ev.params.event.reason, 'unregistered');
  });
});

describe('rsb - how a participant leaves', () => {
  test('a reset removes the member as session-lost; a zero-length frame as unregistered', async () => {
    const admin = await native('rsb-leave-watcher');
    const { watch } = await admin.ok('watch', { filter: { type: 'rsb' } });
    const removedReason = async (port: number) => {
      const ev = await admin.waitFor((n) => n.method === 'event' && n.params.watch === watch && n.params.event.type === 'removed' && n.params.event.member.address === `127.0.0.1:${port}`);
      return ev.params.event.reason as string;
    };
    const crashing = await client();
    const crashPort = (await crashing.op<{ port: number }>({ op: 'hello' })).port;
    await crashing.op({ op: 'reset' });
    assert.equal(await removedReason(crashPort), 'session-lost');
    const lisp = await client();
    const lispPort = (await lisp.op<{ port: number }>({ op: 'hello' })).port;
    await lisp.raw('00000000');
    assert.equal(await lisp.closed(), 'eof', 'the hub ends the connection');
    assert.equal(await removedReason(lispPort), 'unregistered');
  });
});

describe('rsb - one bus with native members', () => {
  test('a native subscriber to /a/ receives RSB events on /a/b/, payload mapped, schema kept', async () => {
    const n = await native('rsb-native-sub');
    await n.ok('bus.subscribe', { scope: '/nat/' });
    const c = await client();
    await c.send('/nat/b/', 'utf-8-string', { text: 'grüß' });
    await c.send('/nat/b/', '.rst.Pose', { hex: '0a0b' });
    await until(() => busMessages(n).length >= 2, 'two messages');
    const [text, proto] = busMessages(n);
    assert.equal(text.scope, '/nat/b/');
    assert.equal(text.data, 'grüß');
    assert.match(text.from, /^rsb-\d+$/);
    assert.equal(proto.bytes, Buffer.from([0x0a, 0x0b]).toString('base64'));
  });

  test('a native publication reaches RSB listeners as a Notification with the hub\'s id, rising seqs, times and a wire schema', async () => {
    const n = await native('rsb-native-pub');
    const c = await client();
    await c.listen('/');
    const sent: [unknown, string, string][] = [
      ['text', 'utf-8-string', Buffer.from('text').toString('hex')],
      [42, 'int64', Buffer.from([42, 0, 0, 0, 0, 0, 0, 0]).toString('hex')],
      [true, 'bool', '01'],
      [null, 'void', ''],
      [{ a: [1] }, 'utf-8-string', Buffer.from('{"a":[1]}').toString('hex')],
    ];
    for (const [data] of sent) await n.ok('bus.publish', { scope: '/pub/a/', data });
    await n.ok('bus.publish', { scope: '/pub/', bytes: Buffer.from([9, 8]).toString('base64') });
    await n.ok('bus.publish', { scope: '/pub/', data: 1.5 });
    const got: RsbEvent[] = await c.events(7);
    assert.equal(got.length, 7);
    for (const [i, [, schema, hex]] of sent.entries()) {
      assert.equal(got[i]!.schema, schema);
      assert.equal(got[i]!.hex, hex);
      assert.equal(got[i]!.scope, '/pub/a/');
    }
    assert.deepEqual([got[5]!.schema, got[5]!.hex], ['bytes', '0908']);
    assert.equal(got[6]!.schema, 'double');
    assert.equal(new Set(got.map((e) => e.sender)).size, 1, 'one hub sender id');
    assert.equal(got[0]!.sender.length, 32, '16-byte sender id');
    for (let i = 1; i < got.length; i++) assert.ok(got[i]!.seq > got[i - 1]!.seq, 'rising sequence numbers');
    for (const e of got) {
      assert.ok(e.has_meta && e.create > 1.6e15 && e.send >= e.create);
      assert.equal(e.user_infos['muster:from'], 'rsb-native-pub');
    }
  });
});

describe('rsb - broadcast and send from native members', () => {
  test('a broadcast reaches every RSB client on /muster/broadcast/; a send to rsb-N that client on /muster/send/; a send to rsb every client', async () => {
    const [c1, c2] = [await client(), await client()];
    await c1.listen('/muster/');
    await c2.listen('/muster/');
    const n = await native('rsb-caster');
    const dropped = h.hub.bus.totals.dropped;
    await n.ok('bus.broadcast', { data: 'all' });
    for (const c of [c1, c2]) {
      const [e] = await c.events(1);
      assert.deepEqual([e?.scope, e?.text, e?.user_infos['muster:from']], ['/muster/broadcast/', 'all', 'rsb-caster']);
    }
    assert.equal(h.hub.bus.totals.dropped, dropped, 'no drop counted for the member rsb');
    const localPort = (await c1.op<{ port: number }>({ op: 'hello' })).port;
    const members = (await n.ok('list', { type: 'rsb' })).members as { name: string; address: string }[];
    const named = members.find((m) => m.address === `127.0.0.1:${localPort}`)!;
    await n.ok('bus.send', { to: 'rsb', data: 'everyone' });
    for (const c of [c1, c2]) {
      const [e] = await c.events(1);
      assert.deepEqual([e?.scope, e?.text, e?.user_infos['muster:to']], ['/muster/send/', 'everyone', 'rsb']);
    }
    await n.ok('bus.send', { to: named.name, data: 'just you' });
    const got = [...await c1.events(1, 500), ...await c2.events(1, 500)];
    assert.deepEqual(got.map((e) => [e.scope, e.text, e.user_infos['muster:to']]), [['/muster/send/', 'just you', named.name]]);
  });
});

describe('rsb - wire schemas and meta data across the bridge', () => {
  test('every standard wire schema reaches native members as JSON, bytes otherwise', async () => {
    const n = await native('rsb-schemas');
    await n.ok('bus.subscribe', { scope: '/schemas/' });
    const c = await client();
    const cases: [string, Parameters<RsbClient['send']>[2], unknown][] = [
      ['void', {}, null],
      ['bool', { pack: '?', value: true }, true],
      ['int32', { pack: '<i', value: -5 }, -5],
      ['uint32', { pack: '<I', value: 4000000000 }, 4000000000],
      ['int64', { pack: '<q', value: -1234567890123 }, -1234567890123],
      ['uint64', { pack: '<Q', value: 77 }, 77],
      ['float', { pack: '<f', value: 0.5 }, 0.5],
      ['double', { pack: '<d', value: 2.25 }, 2.25],
      ['utf-8-string', { text: 'ünï' }, 'ünï'],
      ['ascii-string', { text: 'plain' }, 'plain'],
      ['scope', { text: '/a/b/' }, '/a/b/'],
      ['bytes', { hex: '00ff' }, { bytes: 'AP8=' }],
      ['.rst.geometry.Pose', { hex: '0801' }, { bytes: 'CAE=' }],
      ['some-schema-of-its-own', { hex: '01' }, { bytes: 'AQ==' }],
      ['int64', { hex: '0102' }, { bytes: 'AQI=' }],
    ];
    for (const [schema, data] of cases) await c.send('/schemas/', schema, data);
    await until(() => busMessages(n).length >= cases.length, 'every case');
    const got = busMessages(n).map((m) => (m.bytes !== undefined ? { bytes: m.bytes } : m.data));
    assert.deepEqual(got, cases.map(([, , want]) => want));
  });

  test('causes, user infos and user times reach RSB receivers as sent', async () => {
    const [a, b] = [await client(), await client()];
    await b.listen('/meta/');
    const cause = { sender: '11'.repeat(16), seq: 99 };
    await a.send('/meta/', 'utf-8-string', { text: 'm' }, { causes: [cause], user_infos: { who: 'a', 'rsb:x': 'y' }, user_times: { grabbed: 1234 } });
    const [e] = await b.events(1);
    assert.deepEqual(e!.causes, [cause]);
    assert.deepEqual(e!.user_infos, { who: 'a', 'rsb:x': 'y' });
    assert.deepEqual(e!.user_times, { grabbed: 1234 });
  });

  test('a native receiver gets the RSB create and send times', async () => {
    const n = await native('rsb-times');
    await n.ok('bus.subscribe', { scope: '/times/' });
    const c = await client();
    await c.send('/times/', 'bytes', { hex: '01' });
    await until(() => busMessages(n).length >= 1, 'the message');
    const m = busMessages(n)[0]!;
    assert.ok(Math.abs(m.created - Date.now() * 1000) < 60e6 && m.sent >= m.created);
  });
});

describe('rsb - RPC', () => {
  test('REQUEST and REPLY pass through between RSB clients', async () => {
    const [server, caller] = [await client(), await client()];
    await server.serve('/calc/upper/', 'upper');
    const reply = await caller.call('/calc/upper/', 'utf-8-string', { text: 'shout' });
    assert.equal(reply?.text, 'SHOUT');
    assert.equal(reply?.method, 'REPLY');
  });

  test('a native member calls an RSB server\'s method through the member rsb, and gets its REPLY', async () => {
    const server = await client();
    await server.serve('/svc/echo/', 'echo');
    await server.serve('/svc/fail/', 'error');
    await server.serve('/svc/mute/', 'silent');
    const n = await native('rsb-caller');
    assert.equal(await n.ok('bus.request', { to: 'rsb', method: '/svc/echo', params: 'ping' }), 'ping');
    assert.deepEqual(await n.ok('bus.request', { to: 'rsb', method: '/svc/echo/', params: 21 }), 21);
    const failed = await n.call('bus.request', { to: 'rsb', method: '/svc/fail/', params: 'x' });
    assert.equal(failed.error?.data?.code, 'MEMBER_ERROR');
    assert.equal(failed.error?.message, 'no such thing');
    const silent = await n.call('bus.request', { to: 'rsb', method: '/svc/mute/', params: 'x', timeoutMs: 300 });
    assert.equal(silent.error?.data?.code, 'TIMEOUT');
    const bad = await n.call('bus.request', { to: 'rsb', method: 'not a scope', params: 'x' });
    assert.equal(bad.error?.data?.code, 'INVALID_PARAMS');
  });

  test('a native member can ask one RSB participant by its member name', async () => {
    const server = await client();
    await server.serve('/one/echo/', 'echo');
    await server.op({ op: 'hello' });
    const n = await native('rsb-direct');
    const members = (await n.ok('list', { type: 'rsb' })).members as { name: string; address: string }[];
    const asked = await Promise.all(members.map((m) => n.call('bus.request', { to: m.name, method: '/one/echo', params: 'me', timeoutMs: 1000 })));
    assert.equal(asked.filter((r) => r.result === 'me').length, 1, 'exactly the serving participant answers');
  });
});

describe('rsb - bounded queues', () => {
  test('a reader that never reads loses messages on its own queue, counted; the others get everything', async () => {
    const slow = connect({ host: '127.0.0.1', port });
    slow.on('error', () => {});
    slow.pause();
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    const fast = await rawPeer();
    const n = await native('rsb-flood');
    const dropped = h.hub.bus.totals.dropped;
    const big = Buffer.alloc(64 * 1024, 1).toString('base64');
    const count = 400;
    // In rounds of 50 (3.2 MiB), each sent once the fast reader has what came before: its own
    // queue (8 MiB) never fills, while the slow reader's does and loses the rest.
    for (let sent = 0; sent < count; sent += 50) {
      await until(() => fast.received().length >= sent * 64 * 1024, `the fast reader has the first ${sent}`, 20_000);
      for (let i = 0; i < 50; i++) n.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'bus.publish', params: { scope: '/flood/', bytes: big } }));
    }
    await until(() => h.hub.bus.totals.dropped > dropped, 'drops counted', 10_000);
    await until(() => fast.received().length >= count * 64 * 1024, 'every message at the fast reader', 20_000);
    slow.destroy();
    fast.close();
  });
});

describe('rsb - seen from the command line and /metrics', () => {
  const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
  const muster = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--hub', h.url], { env: { ...process.env, MUSTER_TOKEN: ADMIN_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });

  test('muster ls lists RSB participants and muster request calls an RSB method', async () => {
    const c = await client();
    await c.serve('/cli/echo/', 'upper');
    const ls = await muster(['ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /rsb-\d+\s+rsb\b/);
    assert.match(ls.stdout, /\brsb\s+rsb-gateway\b/);
    const asked = await muster(['request', 'rsb', '/cli/echo', '"loud"']);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal(JSON.parse(asked.stdout), 'LOUD');
  });

  test('/metrics counts RSB connections and their ends; the face is listed in /v1/info', async () => {
    const c = await client();
    await c.op({ op: 'hello' });
    assert.match(await (await fetch(`${h.url}/metrics`)).text(), /^muster_rsb_connections [1-9]\d*$/m);
    await (await client()).leave();
    const cleanEnds = async () => Number(/^muster_rsb_closed_total\{reason="clean"\} (\d+)$/m.exec(await (await fetch(`${h.url}/metrics`)).text())?.[1] ?? 0);
    await until(async () => (await cleanEnds()) >= 1, 'a clean end counted');
    const info = await (await fetch(`${h.url}/v1/info`)).json() as { faces: { name: string; address: string }[] };
    assert.ok(info.faces.some((f) => f.name === 'rsb' && f.address === `127.0.0.1:${port}`));
  });
});

describe('rsb - rate limits and the disconnect policy, per connection', () => {
  const portOf = (t: TestHub) => Number(t.hub.info().faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1));

  test('an RSB sender over its rate limit loses its own events, counted; another sender is not limited', async () => {
    const strict = await startHub({
      rsb: '127.0.0.1:0', busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 }, rsb: { messagesPerSec: 20, bytesPerSec: 0, burstSec: 1 } },
    });
    const p = portOf(strict);
    const [noisy, quiet, listener] = [await RsbClient.connect(p), await RsbClient.connect(p), await RsbClient.connect(p)];
    try {
      await listener.listen('/rate/');
      await noisy.op({ op: 'burst', scope: '/rate/noisy/', count: 200 });
      await quiet.send('/rate/quiet/', 'utf-8-string', { text: 'still heard' });
      const got = await listener.events(300, 1500);
      const fromNoisy = got.filter((e) => e.scope === '/rate/noisy/').length;
      assert.ok(fromNoisy >= 15 && fromNoisy < 100, `${fromNoisy} of 200 within the limit`);
      assert.ok(got.some((e) => e.text === 'still heard'), 'the other sender is not limited');
      assert.ok(strict.hub.bus.totals.throttled > 0);
      const metrics = await (await fetch(`${strict.url}/metrics`)).text();
      assert.match(metrics, /^muster_rsb_throttled_total [1-9]\d*$/m);
    } finally {
      for (const c of [noisy, quiet, listener]) await c.stop();
      await strict.stop();
    }
  });

  test('under busSlowPolicy disconnect a reader that never reads is closed; a reader that keeps up gets everything', async () => {
    const strict = await startHub({ rsb: '127.0.0.1:0', busSlowPolicy: 'disconnect', busQueueBytes: 4 * 1024 * 1024, busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } } });
    const p = portOf(strict);
    try {
      const slow = connect({ host: '127.0.0.1', port: p });
      slow.on('error', () => {});
      slow.pause();
      await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
      const fast = connect({ host: '127.0.0.1', port: p });
      let fastBytes = 0;
      fast.on('data', (d: Buffer) => { fastBytes += d.length; });
      await new Promise<void>((resolve) => fast.once('connect', () => resolve()));
      const n = await RpcPeer.connect(strict.wsUrl);
      await n.ok('register', { name: 'flooder', type: 'svc', liveness: 'session' });
      await until(() => strict.hub.registry.list({ type: 'rsb' }).members.length === 2, 'both readers are members');
      // More than the kernel's socket buffers hold for a reader that never reads (several MiB on loopback).
      const size = 64 * 1024;
      const count = 600;
      const big = Buffer.alloc(size, 2).toString('base64');
      for (let i = 0; i < count; i++) {
        n.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'bus.publish', params: { scope: '/slow/', bytes: big } }));
        if (i % 5 === 4) await new Promise((r) => setTimeout(r, 5));
      }
      await until(() => strict.hub.bus.totals.slowDisconnects === 1, `the slow reader dropped ${JSON.stringify(strict.hub.bus.totals)} fast ${fastBytes}`, 10_000);
      await until(() => fastBytes >= 4 + count * size, 'everything at the fast reader', 20_000);
      const closed = (await (await fetch(`${strict.url}/metrics`)).text()).match(/^muster_rsb_closed_total\{reason="slow"\} (\d+)$/m)?.[1];
      assert.equal(closed, '1');
      slow.destroy();
      fast.destroy();
      await n.close();
    } finally {
      await strict.stop();
    }
  });
});
