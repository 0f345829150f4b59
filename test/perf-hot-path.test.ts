/**
 * Behaviour the registry benchmark's optimizations must keep: one token hash serving both the
 * member and the admin check, pooled token randomness, synchronous replies without a promise per
 * message (single and batched, mixed with durable methods), and the raw-row store load.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { encodeResult, resultJson } from '../src/faces/native/jsonrpc.js';

let h: TestHub;
before(async () => { h = await startHub(); });
after(async () => { await h.stop(); });

describe('perf - hot paths keep their behaviour', () => {
  test('heartbeat takes the member token or the admin token, and refuses another member\'s token or a near-miss', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const a = await p.ok('register', { name: 'hp-a', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    const b = await p.ok('register', { name: 'hp-b', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await p.close();
    // A fresh connection is not the members' session: only tokens count.
    const q = await RpcPeer.connect(h.wsUrl);
    assert.deepEqual(await q.ok('heartbeat', { id: 'hp-a', token: a.token }), { status: 'alive' });
    assert.deepEqual(await q.ok('heartbeat', { id: 'hp-a', token: ADMIN_TOKEN }), { status: 'alive' });
    for (const token of [b.token, ADMIN_TOKEN + 'x', ADMIN_TOKEN.slice(0, -1), a.token.slice(0, -1), 'x']) {
      const r = await q.call('heartbeat', { id: 'hp-a', token });
      assert.equal(r.error?.data?.code, 'UNAUTHORIZED', `token ${token.slice(0, 6)}... was accepted`);
    }
    assert.equal((await q.call('heartbeat', { id: 'hp-b' })).error?.data?.code, 'UNAUTHORIZED');
    assert.deepEqual(await q.ok('auth', { token: ADMIN_TOKEN }), { admin: true });
    assert.deepEqual(await q.ok('heartbeat', { id: 'hp-b' }), { status: 'alive' });
    await q.close();
  });

  test('600 registrations (past one pool of token randomness) get distinct tokens that each open only their own member', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const regs: { id: string; name: string; token: string }[] = [];
    for (let b = 0; b < 6; b++) {
      const batch = Array.from({ length: 100 }, (_, j) => ({ jsonrpc: '2.0', id: j, method: 'register', params: { name: `pool-${b * 100 + j}`, type: 'svc' } }));
      const replies = JSON.parse(await p.raw(JSON.stringify(batch))) as { result: { id: string; name: string; token: string } }[];
      for (const r of replies) regs.push(r.result);
    }
    await p.close();
    assert.equal(regs.length, 600);
    assert.equal(new Set(regs.map((r) => r.token)).size, 600);
    for (const r of regs) assert.match(r.token, /^[A-Za-z0-9_-]{43}$/);
    const q = await RpcPeer.connect(h.wsUrl);
    for (let i = 0; i < 600; i += 97) {
      assert.deepEqual(await q.ok('heartbeat', { id: regs[i]!.name, token: regs[i]!.token }), { status: 'alive' });
      const other = regs[(i + 1) % 600]!;
      assert.equal((await q.call('heartbeat', { id: other.name, token: regs[i]!.token })).error?.data?.code, 'UNAUTHORIZED');
    }
    await q.close();
  });

  test('a batch mixing durable, synchronous and failing requests and a notification answers each request once, by id, in one frame', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const reg = await p.ok('register', { name: 'mix-a', type: 'svc' });
    const batch = [
      { jsonrpc: '2.0', id: 'r1', method: 'register', params: { name: 'mix-b', type: 'svc' } },
      { jsonrpc: '2.0', id: 'h1', method: 'heartbeat', params: { id: 'mix-a', token: reg.token } },
      { jsonrpc: '2.0', method: 'heartbeat', params: { id: 'mix-a', token: reg.token } },
      { jsonrpc: '2.0', id: 'g1', method: 'get', params: { name: 'mix-a' } },
      { jsonrpc: '2.0', id: 'e1', method: 'get', params: { name: 'no-such' } },
      { jsonrpc: '2.0', id: 'e2', method: 'register', params: { name: 'mix-a', type: 'svc', exclusive: true } },
      { jsonrpc: '2.0', id: 'e3', method: 'no.such.method', params: {} },
    ];
    const replies = JSON.parse(await p.raw(JSON.stringify(batch))) as { id: string; result?: any; error?: any }[];
    assert.ok(Array.isArray(replies));
    assert.deepEqual(replies.map((r) => r.id).sort(), ['e1', 'e2', 'e3', 'g1', 'h1', 'r1']);
    const by = new Map(replies.map((r) => [r.id, r]));
    assert.equal(by.get('r1')!.result.name, 'mix-b');
    assert.deepEqual(by.get('h1')!.result, { status: 'alive' });
    assert.equal(by.get('g1')!.result.name, 'mix-a');
    assert.equal(by.get('e1')!.error.data.code, 'NO_SUCH_MEMBER');
    assert.equal(by.get('e2')!.error.data.code, 'NAME_TAKEN');
    assert.equal(by.get('e3')!.error.data.code, 'METHOD_NOT_FOUND');
    // The durable one was committed before its reply: it is there for everyone.
    const q = await RpcPeer.connect(h.wsUrl);
    assert.equal((await q.ok('get', { name: 'mix-b' })).name, 'mix-b');
    // A batch of notifications only gets no reply at all; the next request is answered normally.
    p.ws.send(JSON.stringify([{ jsonrpc: '2.0', method: 'heartbeat', params: { id: 'mix-a', token: reg.token } }]));
    assert.deepEqual(await p.ok('heartbeat', { id: 'mix-a', token: reg.token }), { status: 'alive' });
    await q.close();
    await p.close();
  });

  test('single requests pipelined without waiting are each answered once; an error in one does not stop the next', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const reg = await p.ok('register', { name: 'pipe-a', type: 'svc' });
    const calls = [];
    for (let i = 0; i < 300; i++) {
      if (i % 50 === 7) calls.push(p.call('get', { name: 'no-such' }));
      else if (i % 50 === 9) calls.push(p.call('register', { name: `pipe-r${i}`, type: 'svc' }));
      else calls.push(p.call('heartbeat', { id: 'pipe-a', token: reg.token }));
    }
    const replies = await Promise.all(calls);
    assert.equal(replies.filter((r) => r.error?.data?.code === 'NO_SUCH_MEMBER').length, 6);
    assert.equal(replies.filter((r) => (r.result as { name?: string } | undefined)?.name?.startsWith('pipe-r')).length, 6);
    assert.equal(replies.filter((r) => (r.result as { status?: string } | undefined)?.status === 'alive').length, 288);
    await p.close();
  });

  test('after a restart, members come back with their meta, liveness and extras exactly', async () => {
    const dir = (await import('./support/hub.js')).tempDir();
    let hub = await startHub({ dataDir: dir });
    try {
      const p = await RpcPeer.connect(hub.wsUrl);
      await p.ok('register', { name: 'rs-empty', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await p.ok('register', { name: 'rs-meta', type: 'svc', meta: { zone: 'z1', 'k.2': '' }, address: 'tcp://h:1', liveness: { kind: 'ttl', ttlMs: 61_000 } });
      await p.ok('register', { name: 'rs-same', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await p.ok('register', { name: 'rs-probe', type: 'svc', liveness: { kind: 'probe', target: 'tcp://127.0.0.1:9', intervalMs: 60_000, failures: 5 } });
      const before = await Promise.all(['rs-empty', 'rs-meta', 'rs-same', 'rs-probe'].map((n) => p.ok('get', { name: n })));
      await p.close();
      await hub.stop({ keepData: true });
      hub = await startHub({ dataDir: dir });
      const q = await RpcPeer.connect(hub.wsUrl);
      for (const b of before) {
        const a = await q.ok('get', { name: b.name });
        assert.deepEqual([a.id, a.type, a.address, a.meta, a.liveness, a.registeredAt], [b.id, b.type, b.address, b.meta, b.liveness, b.registeredAt], b.name);
      }
      // An update after the load changes that member only.
      const u = await q.call('update', { id: 'rs-empty', token: ADMIN_TOKEN, meta: { x: '1' } });
      assert.deepEqual((u.result as { meta: unknown }).meta, { x: '1' });
      assert.deepEqual((await q.ok('get', { name: 'rs-same' })).meta, {});
      await q.close();
    } finally {
      await hub.stop();
    }
  });
  test('heartbeat answers, shared between calls, still say each member\'s own status, alone and in a batch', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const s = await p.ok('register', { name: 'hp-session', type: 'svc', liveness: { kind: 'session', graceMs: 60_000 } });
    const t = await p.ok('register', { name: 'hp-ttl', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await p.close();
    const q = await RpcPeer.connect(h.wsUrl);
    for (let i = 0; i < 50 && (await q.ok('get', { name: 'hp-session' })).status !== 'suspect'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await q.ok('heartbeat', { id: s.id, token: s.token }), { status: 'suspect' });
    assert.deepEqual(await q.ok('heartbeat', { id: t.id, token: t.token }), { status: 'alive' });
    const batch = [s, t, s].map((m, j) => ({ jsonrpc: '2.0', id: j, method: 'heartbeat', params: { id: m.id, token: m.token } }));
    assert.equal(await q.raw(JSON.stringify(batch)),
      '[{"jsonrpc":"2.0","id":0,"result":{"status":"suspect"}},{"jsonrpc":"2.0","id":1,"result":{"status":"alive"}},{"jsonrpc":"2.0","id":2,"result":{"status":"suspect"}}]');
    await q.close();
  });
  test('a result is encoded as JSON.stringify would; only frozen ones are remembered, so a changed result is never stale', () => {
    const shared = Object.freeze({ status: 'alive' });
    assert.equal(resultJson(shared), '{"status":"alive"}');
    assert.equal(resultJson(shared), '{"status":"alive"}');
    const mutable: { status: string } = { status: 'alive' };
    assert.equal(resultJson(mutable), '{"status":"alive"}');
    mutable.status = 'gone';
    assert.equal(resultJson(mutable), '{"status":"gone"}');
    for (const v of [undefined, null, 0, 'x', [1, { a: '"' }]]) assert.equal(resultJson(v), JSON.stringify(v ?? null));
    for (const id of [0, -0, 7, 2 ** 53, 1.5e300, 'a"b\\c', null]) assert.deepEqual(JSON.parse(encodeResult(id, '1')), { jsonrpc: '2.0', id: JSON.parse(JSON.stringify(id)), result: 1 });
  });
});
