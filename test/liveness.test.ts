import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
let watcher: RpcPeer;
before(async () => {
  h = await startHub();
  watcher = await RpcPeer.connect(h.wsUrl);
  await watcher.ok('watch', { filter: { types: ['removed'] } });
});
after(async () => { await watcher.close(); await h.stop(); });

const removal = (name: string, timeoutMs = 5000) => watcher.waitFor((n) => n.params.event.member.name === name, timeoutMs).then((n) => n.params.event);

async function register(params: unknown): Promise<{ id: string; name: string; token: string }> {
  const res = await fetch(h.url + '/v1/members', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
  assert.equal(res.status, 201);
  return res.json() as Promise<{ id: string; name: string; token: string }>;
}

const listen = (server: Server | ReturnType<typeof createTcpServer>) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

describe('liveness - ttl', () => {
  test('a member without heartbeats is removed as expired soon after its ttl', async () => {
    const t0 = Date.now();
    await register({ name: 'ttl-quiet', type: 't', liveness: { kind: 'ttl', ttlMs: 300 } });
    const e = await removal('ttl-quiet');
    const waited = Date.now() - t0;
    assert.equal(e.reason, 'expired');
    assert.ok(waited >= 290 && waited < 1500, `removed after ${waited} ms`);
  });

  test('heartbeats keep a member alive past its ttl', async () => {
    const m = await register({ name: 'ttl-beating', type: 't', liveness: { kind: 'ttl', ttlMs: 300 } });
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${h.url}/v1/members/${m.id}/heartbeat`, { method: 'PUT', headers: { authorization: `Bearer ${m.token}` } });
      assert.equal(res.status, 200);
    }
    assert.equal((await watcher.ok('get', { name: 'ttl-beating' })).status, 'alive');
    const e = await removal('ttl-beating');
    assert.equal(e.reason, 'expired');
  });
});

describe('liveness - probe', () => {
  test('an HTTP probe keeps round-trip stats; failures in a row remove the member', async () => {
    let up = true;
    const server = createHttpServer((_req, res) => { res.statusCode = up ? 204 : 503; res.end(); });
    const port = await listen(server);
    await register({ name: 'probe-http', type: 'web', liveness: { kind: 'probe', target: `http://127.0.0.1:${port}/health`, intervalMs: 100, timeoutMs: 500, failures: 3 } });
    await new Promise((r) => setTimeout(r, 450));
    const m = await watcher.ok('get', { name: 'probe-http' });
    assert.equal(m.status, 'alive');
    assert.ok(m.stats.probe.count >= 2, `count ${m.stats.probe.count}`);
    assert.equal(m.stats.probe.fails, 0);
    for (const k of ['last', 'min', 'max', 'avg']) assert.equal(typeof m.stats.probe[k], 'number', k);
    assert.ok(m.stats.probe.min <= m.stats.probe.avg && m.stats.probe.avg <= m.stats.probe.max);
    up = false;
    const e = await removal('probe-http');
    assert.equal(e.reason, 'probe-failed');
    assert.ok(e.member.stats.probe.fails >= 3);
    server.close();
  });

  test('a single failed probe makes a member suspect, a good one alive again', async () => {
    let fail = false;
    const server = createHttpServer((_req, res) => { res.statusCode = fail ? 500 : 200; res.end(); });
    const port = await listen(server);
    await register({ name: 'probe-flaky', type: 'web', liveness: { kind: 'probe', target: `http://127.0.0.1:${port}/`, intervalMs: 100, failures: 5 } });
    await new Promise((r) => setTimeout(r, 250));
    fail = true;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal((await watcher.ok('get', { name: 'probe-flaky' })).status, 'suspect');
    fail = false;
    await new Promise((r) => setTimeout(r, 250));
    assert.equal((await watcher.ok('get', { name: 'probe-flaky' })).status, 'alive');
    server.close();
  });

  test('a TCP probe follows a listening socket', async () => {
    const server = createTcpServer((s) => s.end());
    const port = await listen(server);
    await register({ name: 'probe-tcp', type: 'db', liveness: { kind: 'probe', target: `tcp://127.0.0.1:${port}`, intervalMs: 100, failures: 2 } });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await watcher.ok('get', { name: 'probe-tcp' })).stats.probe.count >= 1);
    server.close();
    const e = await removal('probe-tcp');
    assert.equal(e.reason, 'probe-failed');
  });

  test('a WebSocket probe opens the socket', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    await register({ name: 'probe-ws', type: 'ws', liveness: { kind: 'probe', target: `ws://127.0.0.1:${port}/`, intervalMs: 100, failures: 2 } });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await watcher.ok('get', { name: 'probe-ws' })).stats.probe.count >= 1);
    for (const c of wss.clients) c.terminate();
    wss.close();
    const e = await removal('probe-ws');
    assert.equal(e.reason, 'probe-failed');
  });

  test('a probe against nothing at all fails by timeout, not by hanging', async () => {
    await register({ name: 'probe-void', type: 'x', liveness: { kind: 'probe', target: 'http://127.0.0.1:1/', intervalMs: 100, timeoutMs: 200, failures: 2 } });
    const e = await removal('probe-void');
    assert.equal(e.reason, 'probe-failed');
  });
});

describe('liveness - session', () => {
  test('a connection holding 1,200 session members closes: each turns suspect (a batch a turn); one registered again with its token on another connection is alive', async () => {
    const gateway = await RpcPeer.connect(h.wsUrl);
    const tokens: string[] = [];
    for (let b = 0; b < 12; b++) {
      const batch = Array.from({ length: 100 }, (_, j) => ({ jsonrpc: '2.0', id: j, method: 'register', params: { name: `gw-${b * 100 + j}`, type: 'svc', liveness: { kind: 'session', graceMs: 60_000 } } }));
      const replies = JSON.parse(await gateway.raw(JSON.stringify(batch))) as { result: { token: string } }[];
      for (const r of replies) tokens.push(r.result.token);
    }
    // The hub runs in this process: count its suspect members at every turn of the loop.
    const suspectNow = () => { let n = 0; for (const m of h.hub.registry.members()) if (m.name.startsWith('gw-') && m.status === 'suspect') n++; return n; };
    await gateway.close();
    const seen: number[] = [];
    for (let turn = 0; turn < 20_000 && suspectNow() < 1_200; turn++) {
      await new Promise((r) => setImmediate(r));
      seen.push(suspectNow());
    }
    assert.equal(suspectNow(), 1_200);
    const steps = seen.map((n, i) => n - (seen[i - 1] ?? 0)).filter((d) => d > 0);
    assert.ok(Math.max(...steps) <= 500 && steps.length >= 3, `turned suspect in steps of ${steps.join(', ')}`);
    // Registered again with its token on a new connection: alive and bound there, whatever the lapse did.
    const back = await RpcPeer.connect(h.wsUrl);
    await back.ok('register', { name: 'gw-1199', type: 'svc', token: tokens[1199], liveness: { kind: 'session', graceMs: 60_000 } });
    assert.equal((await back.ok('get', { name: 'gw-1199' })).status, 'alive');
    await back.close();
  });
});
