import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
before(async () => { h = await startHub({ graceMs: 300 }); });
after(async () => { await h.stop(); });

describe('ws - JSON-RPC registry', () => {
  test('register, heartbeat, update, get, list, unregister over one connection', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const reg = await p.ok('register', { name: 'ws-a', type: 'svc', liveness: { kind: 'ttl', ttlMs: 5000 } });
    assert.equal(reg.name, 'ws-a');
    assert.deepEqual(await p.ok('heartbeat', { id: reg.id, token: reg.token }), { status: 'alive' });
    const up = await p.ok('update', { id: 'ws-a', token: reg.token, meta: { zone: 'z1' } });
    assert.deepEqual(up.meta, { zone: 'z1' });
    assert.equal((await p.ok('get', { name: 'ws-a' })).id, reg.id);
    const list = await p.ok('list', { meta: { zone: 'z1' } });
    assert.deepEqual(list.members.map((m: any) => m.name), ['ws-a']);
    assert.deepEqual(await p.ok('unregister', { id: reg.id, token: reg.token }), { ok: true });
    const gone = await p.call('get', { name: 'ws-a' });
    assert.equal(gone.error?.data?.code, 'NO_SUCH_MEMBER');
    await p.close();
  });

  test('a member registered on a connection may act without repeating its token', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const reg = await p.ok('register', { name: 'ws-own', type: 'svc' });
    assert.deepEqual(await p.ok('heartbeat', { id: reg.id }), { status: 'alive' });
    const other = await RpcPeer.connect(h.wsUrl);
    const denied = await other.call('unregister', { id: reg.id });
    assert.equal(denied.error?.data?.code, 'UNAUTHORIZED');
    assert.equal(denied.error?.code, -32020);
    await other.close();
    await p.close();
  });

  test('a token that once matched does not make a near miss match (heartbeats compare the last good token)', async () => {
    const owner = await RpcPeer.connect(h.wsUrl);
    const a = await owner.ok('register', { name: 'ws-tok-a', type: 'svc', liveness: { kind: 'ttl', ttlMs: 5000 } });
    const b = await owner.ok('register', { name: 'ws-tok-b', type: 'svc', liveness: { kind: 'ttl', ttlMs: 5000 } });
    const stranger = await RpcPeer.connect(h.wsUrl);
    for (let i = 0; i < 2; i++) assert.deepEqual(await stranger.ok('heartbeat', { id: a.id, token: a.token }), { status: 'alive' });
    const last = a.token.at(-1) === 'A' ? 'B' : 'A';
    for (const wrong of [a.token.slice(0, -1) + last, b.token, a.token + 'x', a.token.slice(1)]) {
      const denied = await stranger.call('heartbeat', { id: a.id, token: wrong });
      assert.equal(denied.error?.data?.code, 'UNAUTHORIZED', wrong);
    }
    assert.deepEqual(await stranger.ok('heartbeat', { id: a.id, token: a.token }), { status: 'alive' });
    assert.deepEqual(await stranger.ok('heartbeat', { id: b.id, token: b.token }), { status: 'alive' });
    await stranger.close();
    await owner.close();
  });

  test('auth with the admin token lets a connection act on any member', async () => {
    const owner = await RpcPeer.connect(h.wsUrl);
    const reg = await owner.ok('register', { name: 'ws-victim', type: 'svc' });
    const admin = await RpcPeer.connect(h.wsUrl);
    assert.deepEqual(await admin.ok('auth', { token: ADMIN_TOKEN }), { admin: true });
    assert.deepEqual(await admin.ok('unregister', { id: reg.id }), { ok: true });
    await owner.close();
    await admin.close();
  });

  test('session members go suspect when the connection drops, and resume with their token', async () => {
    const watcher = await RpcPeer.connect(h.wsUrl);
    await watcher.ok('watch', { filter: { name: 'sess-a' } });
    const p = await RpcPeer.connect(h.wsUrl);
    const reg = await p.ok('register', { name: 'sess-a', type: 'svc', liveness: 'session' });
    await p.close();
    await watcher.waitFor((n) => n.params.event.type === 'updated' && n.params.event.member.status === 'suspect');
    assert.equal((await watcher.ok('get', { name: 'sess-a' })).status, 'suspect');
    const q = await RpcPeer.connect(h.wsUrl);
    const again = await q.ok('register', { type: 'svc', liveness: 'session', token: reg.token });
    assert.deepEqual([again.id, again.name], [reg.id, 'sess-a']);
    assert.equal((await q.ok('get', { name: 'sess-a' })).status, 'alive');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await q.ok('get', { name: 'sess-a' })).status, 'alive', 'resumed: the grace timer no longer applies');
    await q.close();
    const removed = await watcher.waitFor((n) => n.params.event.type === 'removed', 3000);
    assert.equal(removed.params.event.reason, 'session-lost');
    await watcher.close();
  });

  test('session liveness over HTTP is refused with a clear error', async () => {
    const res = await fetch(h.url + '/v1/members', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'x', liveness: 'session' }) });
    const body = await res.json() as any;
    assert.equal(res.status, 400);
    assert.equal(body.error.code, 'INVALID_PARAMS');
    assert.match(body.error.message, /WebSocket/);
  });

  test('batches are answered as one array', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const text = await p.raw(JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'info' },
      { jsonrpc: '2.0', method: 'info' },
      { jsonrpc: '2.0', id: 2, method: 'nope' },
    ]));
    const replies = JSON.parse(text);
    assert.equal(replies.length, 2, 'the notification gets no reply');
    assert.equal(replies[0].result.name, 'muster');
    assert.equal(replies[1].error.data.code, 'METHOD_NOT_FOUND');
    await p.close();
  });
});

describe('ws - self-description', () => {
  test('rpc.discover is an OpenRPC document listing every method with its params', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const doc = await p.ok('rpc.discover');
    assert.equal(doc.openrpc, '1.2.6');
    const reg = doc.methods.find((m: any) => m.name === 'register');
    assert.ok(reg.params.some((x: any) => x.name === 'type' && x.required));
    const names = await p.ok('system.listMethods');
    for (const n of ['register', 'heartbeat', 'update', 'unregister', 'get', 'list', 'watch', 'unwatch', 'info', 'system.getProperties', 'system.methodHelp', 'system.methodSignature', 'rpc.discover']) assert.ok(names.includes(n), n);
    assert.match(await p.ok('system.methodHelp', ['register']), /Register a member/);
    const sig = await p.ok('system.methodSignature', { name: 'heartbeat' });
    assert.deepEqual(sig.params.required, ['id']);
    const props = await p.ok('system.getProperties');
    assert.equal(props.hubId, 'test-hub');
    await p.close();
  });
});

describe('ws - watch', () => {
  test('replays after since, then streams live, filtered', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const start = (await p.ok('info')).revision;
    const a = await p.ok('register', { name: 'w-1', type: 'watched' });
    await p.ok('register', { name: 'x-1', type: 'unwatched' });
    const w = await RpcPeer.connect(h.wsUrl);
    const { watch, revision } = await w.ok('watch', { since: start, filter: { type: 'watched' } });
    assert.ok(revision >= start + 2);
    await w.waitFor((n) => n.params.event.member.name === 'w-1' && n.params.event.type === 'added');
    await p.ok('update', { id: a.id, token: a.token, address: 'here' });
    await p.ok('register', { name: 'w-2', type: 'watched' });
    await w.waitFor((n) => n.params.event.member.name === 'w-2');
    const events = w.notifications.filter((n) => n.method === 'event').map((n) => n.params);
    assert.ok(events.every((e) => e.watch === watch && e.event.member.type === 'watched'));
    assert.deepEqual(events.map((e) => `${e.event.type}:${e.event.member.name}`), ['added:w-1', 'updated:w-1', 'added:w-2']);
    const revs = events.map((e) => e.event.revision);
    assert.deepEqual(revs, [...revs].sort((x, y) => x - y), 'in revision order');
    assert.deepEqual(await w.ok('unwatch', { watch }), { ok: true });
    await p.close();
    await w.close();
  });

  test('a since older than the log answers COMPACTED with the current revision', async () => {
    const small = await startHub({ eventRetention: 5 });
    const p = await RpcPeer.connect(small.wsUrl);
    for (let i = 0; i < 12; i++) await p.ok('register', { name: `c-${i}`, type: 't' });
    const r = await p.call('watch', { since: 1 });
    assert.equal(r.error?.data?.code, 'COMPACTED');
    assert.equal((r.error?.data?.details as any).revision, 12);
    const ok = await p.ok('watch', { since: 7 });
    assert.equal(ok.revision, 12);
    await p.close();
    await small.stop();
  });
});
