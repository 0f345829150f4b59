/**
 * Faults found by trying the hub as users and attackers would: deep JSON that used to kill the
 * hub, an SSE watcher that held up shutdown, slow clients holding connections, and errors that
 * left the documented envelope. Crashes are tested on a real hub process, so an exit shows.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ERROR_CODES } from '../src/errors.js';
import { decodeHubFrame, encodePublishRecord, encodeRequestRecord, frameOf, type AnswerRecord } from '../src/faces/native/bus-binary.js';
import { MAX_JSON_DEPTH } from '../src/schemas/json-depth.js';
import { ADMIN_TOKEN, spawnHub, startHub, tempDir, type HubProcess, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const deep = (levels: number, leaf: unknown = 1): string => '['.repeat(levels) + JSON.stringify(leaf) + ']'.repeat(levels);
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function post(url: string, body: string, headers: Record<string, string> = admin): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method: 'POST', headers, body });
  return { status: r.status, body: await r.json() };
}

/** Raw bytes to the HTTP port; resolves with everything the hub wrote before it closed. */
function rawHttp(port: number, text: string, waitMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no close within ${waitMs} ms; got ${out.slice(0, 200)}`)); }, waitMs);
    s.on('data', (d) => { out += d.toString(); });
    s.on('close', () => { clearTimeout(timer); resolve(out); });
    s.on('error', () => { /* close follows */ });
    s.write(text);
  });
}

/** The id of a request the hub sent a peer (RpcPeer keeps them with the notifications). */
const idOf = (m: object): unknown => (m as { id?: unknown }).id;
const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('hardening - deep JSON never reaches the core', () => {
  let hub: HubProcess;
  let member: RpcPeer;

  before(async () => {
    hub = await spawnHub(['--data', tempDir()]);
    member = await RpcPeer.connect(hub.wsUrl);
    await member.ok('register', { name: 'deep', type: 'svc', liveness: 'session', roles: ['component'] });
  });
  after(async () => {
    await member.close();
    await hub.kill();
  });

  test('a member answering bus.request with 4,500 levels fails that request, and the hub keeps serving', async () => {
    const asked = post(`${hub.url}/v1/members/deep/request`, JSON.stringify({ method: 'm', params: {} }));
    const handle = await member.waitFor((n) => n.method === 'bus.handle');
    member.ws.send(`{"jsonrpc":"2.0","id":${JSON.stringify(idOf(handle))},"result":${deep(4_500)}}`);
    const r = await asked;
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, 'MEMBER_ERROR');
    assert.match(r.body.error.message, /nested deeper than 64/);
    assert.equal(hub.child.exitCode, null, 'the hub process is still running');
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
    // The same member still answers normally afterwards.
    const again = post(`${hub.url}/v1/members/deep/request`, JSON.stringify({ method: 'm' }));
    const h2 = await member.waitFor((n) => n.method === 'bus.handle' && idOf(n) !== idOf(handle));
    member.ws.send(JSON.stringify({ jsonrpc: '2.0', id: idOf(h2), result: { fine: true } }));
    assert.deepEqual((await again).body, { result: { fine: true } });
  });

  test('deep values over HTTP answer 400 INVALID_PARAMS on every route that takes a body', async () => {
    const d = deep(MAX_JSON_DEPTH + 10);
    const cases: [string, string][] = [
      ['/v1/publish', `{"scope":"/a/","data":${d}}`],
      ['/v1/broadcast', `{"data":${d}}`],
      ['/v1/members/deep/send', `{"data":${d}}`],
      ['/v1/members/deep/request', `{"method":"m","params":${d}}`],
      ['/v1/members/deep/configure', `{"config":{"a":${d}}}`],
      ['/v1/members', `{"type":"x","meta":${d}}`],
    ];
    for (const [path, body] of cases) {
      const r = await post(hub.url + path, body);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, 'INVALID_PARAMS', path);
    }
    // 4,500 levels, the size that used to crash, is refused the same way.
    assert.equal((await post(`${hub.url}/v1/publish`, `{"scope":"/a/","data":${deep(4_500)}}`)).body.error.code, 'INVALID_PARAMS');
    assert.equal(hub.child.exitCode, null);
  });

  test('deep values over WebSocket answer INVALID_PARAMS under the request id; binary records too', async () => {
    const peer = await RpcPeer.connect(`${hub.wsUrl}?token=${ADMIN_TOKEN}`);
    try {
      const d = deep(4_500);
      const frames = [
        `{"jsonrpc":"2.0","id":7,"method":"bus.publish","params":{"scope":"/a/","data":${d}}}`,
        `{"jsonrpc":"2.0","id":"s","method":"bus.send","params":{"to":"deep","data":${d}}}`,
        `{"jsonrpc":"2.0","id":9,"method":"bus.request","params":{"to":"deep","method":"m","params":${d}}}`,
        `{"jsonrpc":"2.0","id":10,"method":"control.configure","params":{"name":"deep","config":{"a":${d}}}}`,
      ];
      for (const f of frames) {
        const reply = JSON.parse(await peer.raw(f));
        assert.equal(reply.error.data.code, 'INVALID_PARAMS', f.slice(0, 60));
        assert.equal(reply.id, JSON.parse(f.slice(0, f.indexOf(',"method"')) + '}').id);
      }
      const record = encodePublishRecord({ kind: 1, isBytes: false, from: '', where: '/a/', created: 0, sent: 0, payload: Buffer.from(deep(200)) });
      const err = JSON.parse(await peer.raw(Buffer.from(frameOf([record]))));
      assert.equal(err.method, 'bus.error');
      assert.equal(err.params.code, 'INVALID_PARAMS');
      // Times JSON cannot carry (Infinity, NaN) or before the epoch are refused, never relayed.
      for (const created of [Infinity, -Infinity, NaN, -1]) {
        const bad = encodePublishRecord({ kind: 1, isBytes: false, from: '', where: '/a/', created, sent: 0, payload: Buffer.from('1') });
        const e = JSON.parse(await peer.raw(Buffer.from(frameOf([bad]))));
        assert.equal(e.params.code, 'INVALID_PARAMS', String(created));
      }
      // A request naming a target too long for a record header is answered with a record that decodes.
      const req = encodeRequestRecord({ kind: 4, isBytes: false, from: '', where: 'x'.repeat(300), id: 5, timeoutMs: 0, method: 'm', payload: Buffer.from('1') });
      const raw = new WebSocket(`${hub.wsUrl}?token=${ADMIN_TOKEN}`);
      await new Promise((r) => raw.once('open', r));
      const answer = await new Promise<Buffer>((resolve) => { raw.once('message', (d: Buffer) => resolve(d)); raw.send(frameOf([req])); });
      raw.close();
      const answers: AnswerRecord[] = [];
      decodeHubFrame(answer, { answer: (a) => answers.push(a) });
      assert.equal(answers[0]?.id, 5);
      assert.equal(answers[0]?.where, 'INVALID_PARAMS');
      assert.equal((await peer.call('info', {})).result !== undefined, true, 'the connection still works');
    } finally {
      await peer.close();
    }
  });
});

describe('hardening - graceful stop is bounded', () => {
  test('SIGTERM with an SSE watcher and a WebSocket open: both are closed with a reason and the hub exits', { timeout: 20_000 }, async () => {
    const hub = await spawnHub(['--data', tempDir()]);
    const sse: string[] = [];
    const sseEnded = new Promise<void>((resolve) => {
      const req = httpRequest(`${hub.url}/v1/events`, (res) => {
        res.on('data', (d: Buffer) => sse.push(d.toString()));
        res.on('end', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('error', () => resolve());
      req.end();
    });
    const ws = new WebSocket(hub.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const wsClosed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    while (!sse.join('').includes('muster events')) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const code = await hub.kill('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5_000, `stopped in ${Date.now() - t0} ms`);
    await sseEnded;
    assert.match(sse.join(''), /event: close\ndata: \{"reason":"hub shutting down"\}/);
    assert.deepEqual(await wsClosed, [1001, 'hub shutting down']);
  });

  test('a WebSocket peer that never answers the close frame does not hold the hub', { timeout: 20_000 }, async () => {
    const hub = await spawnHub(['--data', tempDir()]);
    // A raw upgrade that then ignores everything the hub sends.
    const s = connect(new URL(hub.url).port as unknown as number, '127.0.0.1');
    s.write(`GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await new Promise((r) => s.once('data', r));
    s.pause();
    const t0 = Date.now();
    assert.equal(await hub.kill('SIGTERM'), 0);
    assert.ok(Date.now() - t0 < 6_000, `stopped in ${Date.now() - t0} ms`);
    s.destroy();
  });
});

describe('hardening - slow clients and connection caps', () => {
  let h: TestHub;
  let port: number;
  before(async () => {
    h = await startHub({ headersTimeoutMs: 300, requestTimeoutMs: 600, idleTimeoutMs: 300, maxConnections: 20 });
    port = Number(new URL(h.url).port);
  });
  after(async () => { await h.stop(); });

  test('half-sent headers are answered 408 REQUEST_TIMEOUT in the envelope and closed', async () => {
    const t0 = Date.now();
    const out = await rawHttp(port, 'GET /v1/info HTTP/1.1\r\nHost: x\r\n');
    assert.match(out, /^HTTP\/1\.1 408/);
    assert.equal(bodyOf(out).error.code, 'REQUEST_TIMEOUT');
    assert.ok(Date.now() - t0 < 3_000);
  });

  test('a body that never finishes is cut off', async () => {
    const out = await rawHttp(port, 'POST /v1/members HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"type":');
    assert.match(out, /^HTTP\/1\.1 408/);
  });

  test('an idle keep-alive connection is closed', async () => {
    const out = await rawHttp(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200/);
  });

  test('connections past maxConnections are refused; the hub serves again once they go', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 50));
    const refused = await rawHttp(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 2_000);
    assert.equal(refused, '', 'the 21st connection is closed without an answer');
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
  });
});

describe('hardening - every error in the envelope', () => {
  let h: TestHub;
  let port: number;
  before(async () => {
    h = await startHub();
    port = Number(new URL(h.url).port);
  });
  after(async () => { await h.stop(); });

  const catalogued = (body: any) => {
    assert.equal(typeof body.error.message, 'string');
    assert.ok(ERROR_CODES.includes(body.error.code), `catalogued: ${body.error.code}`);
    return body.error.code as string;
  };

  test('bad percent-encoding, over-long ids and URLs, malformed request lines', async () => {
    let r = await fetch(`${h.url}/v1/members/%E0%A4%A`);
    assert.equal(r.status, 400);
    assert.equal(catalogued(await r.json()), 'INVALID_REQUEST');
    r = await fetch(`${h.url}/v1/members/${'a'.repeat(3_000)}`);
    assert.equal(r.status, 400);
    assert.equal(catalogued(await r.json()), 'INVALID_PARAMS');
    const long = await rawHttp(port, `GET /v1/members?prefix=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(long, /^HTTP\/1\.1 431/);
    assert.equal(catalogued(bodyOf(long)), 'HEADERS_TOO_LARGE');
    for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET /\x00 HTTP/1.1\r\n\r\n']) {
      const out = await rawHttp(port, bad);
      assert.match(out, /^HTTP\/1\.1 400/, JSON.stringify(bad));
      assert.equal(catalogued(bodyOf(out)), 'INVALID_REQUEST');
    }
  });

  test('JSON null bodies answer an error; an empty JSON body is no body where the route takes none', async () => {
    const r = await post(`${h.url}/v1/members`, 'null');
    assert.equal(r.status, 400);
    catalogued(r.body);
    const reg = await post(`${h.url}/v1/members`, JSON.stringify({ type: 't', name: 'e' }), { 'content-type': 'application/json' });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${reg.body.token}` };
    const beat = await fetch(`${h.url}/v1/members/e/heartbeat`, { method: 'PUT', headers });
    assert.equal(beat.status, 200);
    const del = await fetch(`${h.url}/v1/members/e`, { method: 'DELETE', headers });
    assert.equal(del.status, 200);
  });

  test('names . and .. are refused', async () => {
    for (const name of ['.', '..']) {
      const r = await post(`${h.url}/v1/members`, JSON.stringify({ type: 't', name }), { 'content-type': 'application/json' });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, 'INVALID_NAME');
    }
    assert.equal((await post(`${h.url}/v1/members`, JSON.stringify({ type: 't', name: '.hidden' }), { 'content-type': 'application/json' })).status, 201);
  });
});

describe('hardening - the plantimager face caps its connections', () => {
  test('clients past maxConnections are refused at the handshake; the others are served', { timeout: 30_000 }, async () => {
    const zmq = await import('zeromq');
    const h = await startHub({ plantimager: '127.0.0.1:0', maxConnections: 2 });
    const face = h.hub.info().faces.find((f) => f.name === 'plantimager')!.address;
    const sockets: InstanceType<typeof zmq.Request>[] = [];
    const check = async (s: InstanceType<typeof zmq.Request>): Promise<string | null> => {
      await s.send(JSON.stringify({ event: 'CHECK_ALIVE', payload: { uuid: 'nobody' } }));
      const reply = await Promise.race([s.receive(), new Promise<null>((r) => setTimeout(() => r(null), 1_500))]);
      return reply ? (JSON.parse(reply[0]!.toString()) as { event: string }).event : null;
    };
    try {
      for (let i = 0; i < 3; i++) {
        const s = new zmq.Request({ linger: 0, receiveTimeout: 3_000 });
        s.connect(face);
        sockets.push(s);
        if (i < 2) assert.equal(await check(s), 'ACK', `client ${i} is served`);
      }
      assert.equal(await check(sockets[2]!), null, 'the third client gets no answer: its handshake was refused');
      // The refused client would retry on its own and could take the freed place first.
      sockets[2]!.close();
      sockets[0]!.close();
      await new Promise((r) => setTimeout(r, 300));
      const late = new zmq.Request({ linger: 0 });
      late.connect(face);
      sockets.push(late);
      assert.equal(await check(late), 'ACK', 'a place freed is taken again');
    } finally {
      for (const s of sockets) if (!s.closed) s.close();
      await h.stop();
    }
  });
});
