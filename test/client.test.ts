import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect as tcpConnect, createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { socketUrl } from '../src/client/transport.js';
import { PeerError } from '../src/errors.js';
import type { WsConnection } from '../src/faces/native/ws-connection.js';
import {
  connect, ConnectionClosedError, MusterClientError, TimeoutError, type ClientStatus, type MusterClient, type RegistryEvent, type Watch,
} from '../src/client/index.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Reads events until `done` says so (or fails after timeoutMs). */
async function readUntil(w: Watch, done: (seen: RegistryEvent[]) => boolean, timeoutMs = 5000): Promise<RegistryEvent[]> {
  const seen: RegistryEvent[] = [];
  const it = w[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`watch: only ${seen.length} events in ${timeoutMs} ms: ${seen.map((e) => `${e.revision}:${e.type}:${e.member.name}`).join(' ')}`);
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([it.next(), new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), left); })]);
    clearTimeout(timer);
    if (next === 'timeout') continue;
    if (next.done) break;
    seen.push(next.value);
  }
  return seen;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try { await p; } catch (err) { return err; }
  throw new Error('expected a rejection');
}

describe('client - registration and liveness', () => {
  let h: TestHub;
  let c: MusterClient;
  let probeTarget: Server;
  before(async () => {
    h = await startHub();
    c = await connect({ url: h.url });
    probeTarget = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => probeTarget.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await c.close();
    await h.stop();
    await new Promise((r) => probeTarget.close(r));
  });

  test('client - register with session (default), ttl and probe liveness', async () => {
    const s = await c.register({ type: 'svc', name: 'sess-a' });
    assert.equal(s.name, 'sess-a');
    assert.ok(s.token.length >= 40);
    assert.equal(c.tokenOf(s.id), s.token);
    const sv = await c.get('sess-a');
    assert.equal(sv.id, s.id);
    assert.equal(sv.liveness.kind, 'session');
    assert.equal(sv.status, 'alive');

    const t = await c.register({ type: 'svc', name: 'ttl-a', liveness: 'ttl' });
    const tv = await c.get(t.id);
    assert.deepEqual(tv.liveness, { kind: 'ttl', ttlMs: 20_000 });

    const port = (probeTarget.address() as { port: number }).port;
    const p = await c.register({ type: 'web', name: 'probe-a', address: `http://127.0.0.1:${port}/`, liveness: { kind: 'probe', target: `http://127.0.0.1:${port}/`, intervalMs: 100 } });
    const pv = await until('a probe round trip', async () => {
      const v = await c.get(p.name);
      return (v.stats.probe?.count ?? 0) >= 2 ? v : undefined;
    });
    assert.equal(pv.status, 'alive');
    assert.equal(pv.liveness.kind, 'probe');
    assert.ok(pv.stats.probe!.avg! >= 0);

    const listed = await c.list({ type: 'svc' });
    assert.deepEqual(listed.members.map((m) => m.name), ['sess-a', 'ttl-a']);
  });

  test('client - update and unregister use the member token', async () => {
    const other = await connect({ url: h.url });
    try {
      const m = await c.register({ type: 'upd', name: 'upd-a', liveness: { kind: 'ttl', ttlMs: 5000 } });
      const v = await c.update(m.id, { address: 'tcp://10.0.0.1:1', meta: { room: 'b2' } });
      assert.equal(v.address, 'tcp://10.0.0.1:1');
      assert.deepEqual(v.meta, { room: 'b2' });
      assert.equal(await c.heartbeat(m.id), 'alive');
      // Another connection without the token may not touch it.
      const err = await errorOf(other.unregister(m.id));
      assert.ok(err instanceof MusterClientError);
      assert.equal(err.code, 'UNAUTHORIZED');
      await c.unregister(m.id);
      const gone = await errorOf(c.get('upd-a'));
      assert.ok(gone instanceof MusterClientError && gone.code === 'NO_SUCH_MEMBER');
      assert.equal(c.tokenOf(m.id), undefined);
    } finally {
      await other.close();
    }
  });

  test('client - automatic heartbeats keep a ttl member alive past its ttl; it expires once the client closes', async () => {
    const own = await connect({ url: h.url });
    const m = await own.register({ type: 'beat', name: 'beat-a', liveness: { kind: 'ttl', ttlMs: 600 } });
    await sleep(2000); // more than three ttls
    const v = await c.get('beat-a');
    assert.equal(v.id, m.id);
    assert.equal(v.status, 'alive');
    assert.ok(Date.now() - v.lastSeen < 600, 'heartbeats arrived within the ttl');
    const closedAt = Date.now();
    await own.close();
    await until('expiry', async () => {
      const err = await c.get('beat-a').then(() => undefined, (e: unknown) => e);
      return err instanceof MusterClientError && err.code === 'NO_SUCH_MEMBER' ? true : undefined;
    }, 3000);
    assert.ok(Date.now() - closedAt >= 300, 'not removed before its ttl ran out');
  });

  test('client - 300 ttl members of one client, of two ttls, all kept alive by one heartbeat timer', async () => {
    const own = await connect({ url: h.url });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => own.register({ type: 'beat', name: `many-${i}`, liveness: { kind: 'ttl', ttlMs: i % 2 ? 600 : 900 } })));
      assert.ok(timers() - before <= 2, `${timers() - before} more timers for 300 members`);
      await sleep(2_000); // more than three of the shorter ttl
      const listed = await c.list({ prefix: 'many-', limit: 500 });
      assert.equal(listed.total, 300);
      assert.deepEqual(listed.members.filter((m) => m.status !== 'alive' || Date.now() - m.lastSeen > (m.liveness as { ttlMs: number }).ttlMs).map((m) => m.name), [], 'each heartbeat arrived within its ttl');
    } finally {
      await own.close();
    }
  });

  test('client - a ttl member the hub lost is registered again by the next heartbeat (member-replaced)', async () => {
    const own = await connect({ url: h.url });
    const statuses: ClientStatus[] = [];
    own.on('status', (st) => statuses.push(st));
    try {
      const m = await own.register({ type: 'lost', name: 'lost-a', liveness: { kind: 'ttl', ttlMs: 300 } });
      await h.hub.registry.unregister(m.id, { token: ADMIN_TOKEN });
      const replaced = await until('member-replaced', () => statuses.find((st) => st.type === 'member-replaced'), 3000);
      assert.deepEqual(replaced, { type: 'member-replaced', oldId: m.id, id: replaced.type === 'member-replaced' ? replaced.id : '', name: 'lost-a' });
      assert.notEqual(replaced.type === 'member-replaced' && replaced.id, m.id);
      const v = await c.get('lost-a');
      assert.equal(v.status, 'alive');
      assert.equal(own.tokenOf(m.id), undefined);
      assert.ok(own.tokenOf(v.id), 'the client holds the new token');
    } finally {
      await own.close();
    }
  });

  test('client - a session member goes suspect when its connection drops, then gone after the grace period', async () => {
    const own = await connect({ url: h.url, reconnect: false });
    const m = await own.register({ type: 'sess', name: 'sess-drop', liveness: { kind: 'session', graceMs: 500 } });
    const w = c.watch({ name: 'sess-drop' });
    await w.ready;
    const droppedAt = Date.now();
    await own.close();
    const events = await readUntil(w, (s) => s.some((e) => e.type === 'removed'), 4000);
    await w.close();
    const suspect = events.find((e) => e.type === 'updated' && e.member.status === 'suspect');
    const removed = events.find((e) => e.type === 'removed');
    assert.ok(suspect, 'suspect first');
    assert.ok(removed && removed.type === 'removed');
    assert.equal(removed.reason, 'session-lost');
    assert.equal(removed.member.id, m.id);
    assert.ok(removed.at - droppedAt >= 450, `gone after the grace period (${removed.at - droppedAt} ms)`);
  });

  test('client - typed errors: NAME_TAKEN, INVALID_NAME, UNAUTHORIZED, connection closed', async () => {
    await c.register({ type: 'x', name: 'only-one' });
    const taken = await errorOf(c.register({ type: 'x', name: 'only-one', exclusive: true }));
    assert.ok(taken instanceof MusterClientError);
    assert.equal(taken.code, 'NAME_TAKEN');
    assert.equal(taken.rpcCode, -32011);
    assert.deepEqual(taken.details, { name: 'only-one' });
    const renamed = await c.register({ type: 'x', name: 'only-one' });
    assert.equal(renamed.name, 'only-one-1');

    const bad = await errorOf(c.register({ type: 'x', name: 'no spaces!' }));
    assert.ok(bad instanceof MusterClientError && bad.code === 'INVALID_NAME', String(bad));

    const wrong = await connect({ url: h.url, token: 'not-the-admin-token' });
    const unauth = await errorOf(wrong.unregister(renamed.id));
    assert.ok(unauth instanceof MusterClientError && unauth.code === 'UNAUTHORIZED');
    await wrong.close();
    const afterClose = await errorOf(wrong.info());
    assert.ok(afterClose instanceof ConnectionClosedError);
    assert.equal(afterClose.code, 'CONNECTION_CLOSED');

    const admin = await connect({ url: h.wsUrl, token: ADMIN_TOKEN });
    await admin.unregister(renamed.id); // the admin token may act on any member
    await admin.close();

    const nobody = await errorOf(connect({ url: 'http://127.0.0.1:9', reconnect: false, requestTimeoutMs: 2000 }));
    assert.ok(nobody instanceof ConnectionClosedError, String(nobody));
  });

  test('client - answers hub-to-client requests; unknown methods get METHOD_NOT_FOUND, throws become error replies', async () => {
    const own = await connect({ url: h.url });
    try {
      const m = await own.register({ type: 'comp', name: 'comp-a' });
      own.handle('test.echo', async (p) => ({ echoed: p }));
      own.handle('test.refuse', () => { throw new MusterClientError('INVALID_STATE', 'not now', { state: 'idle' }); });
      const session = h.hub.registry.find(m.id)!.connection as WsConnection;
      assert.deepEqual(await session.call('test.echo', { x: 1 }, 2000), { echoed: { x: 1 } });
      const missing = await errorOf(session.call('test.nothing', {}, 2000));
      assert.ok(missing instanceof PeerError);
      assert.equal(missing.rpcError.code, -32601);
      assert.deepEqual(missing.rpcError.data, { code: 'METHOD_NOT_FOUND' });
      const refused = await errorOf(session.call('test.refuse', {}, 2000));
      assert.ok(refused instanceof PeerError);
      assert.equal(refused.rpcError.code, -32041);
      assert.equal(refused.rpcError.message, 'not now');
      assert.deepEqual(refused.rpcError.data, { code: 'INVALID_STATE', details: { state: 'idle' } });
    } finally {
      await own.close();
    }
  });

  test('client - a slow reader pauses the hub watch and still gets every event once, in order', async () => {
    const w = c.watch({ type: 'flow' }, { maxQueue: 10 });
    const start = await w.ready;
    for (let i = 0; i < 60; i++) await h.hub.registry.register({ type: 'flow', name: `flow-${i}` });
    await sleep(100);
    const events = await readUntil(w, (s) => s.length >= 60, 5000);
    await w.close();
    assert.equal(events.length, 60);
    assert.deepEqual(events.map((e) => e.member.name), Array.from({ length: 60 }, (_, i) => `flow-${i}`));
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.revision > events[i - 1]!.revision);
    assert.ok(events[0]!.revision > start);
  });
  test('client - a watch.dropped notification re-opens the watch from the last revision, with nothing missed', async () => {
    const w = c.watch({ type: 'drop' });
    await w.ready;
    await h.hub.registry.register({ type: 'drop', name: 'drop-0' });
    const first = await readUntil(w, (s) => s.length >= 1);
    // What the hub does with a watcher that fell behind: stop it, say where to resume.
    const conn = [...h.hub.ws.connections].find((x) => h.hub.watches.idsOf(x).length > 0)!;
    const [hubWatch] = h.hub.watches.idsOf(conn);
    h.hub.watches.close(conn, hubWatch!);
    for (let i = 1; i <= 3; i++) await h.hub.registry.register({ type: 'drop', name: `drop-${i}` });
    conn.notify('watch.dropped', JSON.stringify({ watch: hubWatch, code: 'SLOW_CONSUMER', resumeAfter: first[0]!.revision }));
    const rest = await readUntil(w, (s) => s.length >= 3);
    await w.close();
    assert.deepEqual(rest.map((e) => e.member.name), ['drop-1', 'drop-2', 'drop-3']);
  });
});

describe('client - watch from a revision', () => {
  test('client - since replays, and a revision older than the log keeps is a COMPACTED error', async () => {
    const h = await startHub({ eventRetention: 5 });
    const c = await connect({ url: h.url });
    try {
      for (let i = 0; i < 12; i++) await h.hub.registry.register({ type: 'c', name: `c-${i}` });
      const w = c.watch({}, { since: 9 });
      const replayed = await readUntil(w, (s) => s.length >= 3);
      assert.deepEqual(replayed.map((e) => e.revision), [10, 11, 12]);
      assert.equal(await w.ready, 12);
      await w.close();

      const old = c.watch({}, { since: 1 });
      const err = await errorOf(readUntil(old, () => false));
      assert.ok(err instanceof MusterClientError);
      assert.equal(err.code, 'COMPACTED');
      assert.equal(err.details?.revision, 12);
    } finally {
      await c.close();
      await h.stop();
    }
  });
});

describe('client - reconnect', () => {
  test('client - after a hub restart the client reconnects, keeps id and name, and the watch sees every event exactly once', async () => {
    let h = await startHub();
    const port = Number(new URL(h.url).port);
    const dataDir = h.dataDir;
    const c = await connect({ url: h.url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const statuses: ClientStatus[] = [];
    c.on('status', (s) => statuses.push(s));
    try {
      const sess = await c.register({ type: 'dev', name: 'keeper', liveness: { kind: 'session', graceMs: 5000 } });
      const ttl = await c.register({ type: 'dev', name: 'beater', liveness: { kind: 'ttl', ttlMs: 900 } });
      const w = c.watch({}, { since: 0 });
      await w.ready;
      for (let i = 0; i < 5; i++) await h.hub.registry.register({ type: 'before', name: `before-${i}` });

      await h.stop({ keepData: true });
      h = await startHub({ port, dataDir });
      // Made while the client is still away: it must get these through replay.
      for (let i = 0; i < 5; i++) await h.hub.registry.register({ type: 'during', name: `during-${i}` });
      // And a steady stream while the client resumes: events land before, between and after its replay.
      let streaming = true;
      const hub2 = h.hub;
      const producer = (async () => {
        for (let i = 0; streaming && i < 2000; i++) {
          await hub2.registry.register({ type: 'stream', name: `stream-${i}` });
          await sleep(2);
        }
      })();
      await until('reconnected', () => (statuses.some((s) => s.type === 'reconnected') ? true : undefined), 5000);
      await sleep(200);
      streaming = false;
      await producer;
      for (let i = 0; i < 5; i++) await h.hub.registry.register({ type: 'after', name: `after-${i}` });

      const s2 = await c.get('keeper');
      assert.equal(s2.id, sess.id);
      assert.equal(s2.status, 'alive');
      assert.equal(h.hub.registry.find('keeper')?.connection !== null, true, 'bound to the new session');
      const t2 = await c.get('beater');
      assert.equal(t2.id, ttl.id);
      await sleep(1500); // heartbeats go on after the reconnect
      assert.equal((await c.get('beater')).status, 'alive');
      assert.equal(c.tokenOf(sess.id), sess.token);

      const last = h.hub.registry.log.revision;
      const events = await readUntil(w, (s) => s.length > 0 && s[s.length - 1]!.revision >= last);
      await w.close();
      const revisions = events.map((e) => e.revision);
      assert.deepEqual(revisions, Array.from({ length: last }, (_, i) => i + 1), 'every revision once, in order');
      assert.ok(events.filter((e) => e.member.type === 'stream').length >= 20, 'the stream ran across the resume');
      for (const group of ['before', 'during', 'after']) {
        assert.equal(events.filter((e) => e.type === 'added' && e.member.type === group).length, 5, group);
      }
      const kinds = statuses.map((s) => s.type);
      assert.ok(kinds.indexOf('disconnected') < kinds.indexOf('reconnecting'));
      assert.ok(kinds.indexOf('reconnecting') < kinds.indexOf('reconnected'));
    } finally {
      await c.close();
      await h.stop();
    }
  });

  test('client - calls made while reconnecting wait for the resume; reconnect: false closes the client', async () => {
    let h = await startHub();
    const port = Number(new URL(h.url).port);
    const c = await connect({ url: h.url, reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
    const once = await connect({ url: h.url, reconnect: false });
    const onceStatus: ClientStatus[] = [];
    once.on('status', (s) => onceStatus.push(s));
    const w = once.watch();
    await w.ready;
    const seen: string[] = [];
    const statusDone = (async () => {
      for await (const st of c.status()) {
        seen.push(st.type);
        if (st.type === 'reconnected') break;
      }
    })();
    try {
      await h.stop({ keepData: true });
      await until('disconnected', () => (c.connected ? undefined : true));
      const pending = c.info();
      h = await startHub({ port, dataDir: h.dataDir });
      const info = await pending;
      assert.equal(info.name, 'muster');
      await statusDone;
      assert.deepEqual([seen[0], seen[1], seen[seen.length - 1]], ['disconnected', 'reconnecting', 'reconnected']);
      assert.ok(onceStatus.some((s) => s.type === 'closed'));
      const err = await errorOf(readUntil(w, () => false));
      assert.ok(err instanceof ConnectionClosedError, String(err));
      assert.equal(once.connected, false);
    } finally {
      await c.close();
      await once.close();
      await h.stop();
    }
  });
});

/** A TCP relay to the hub that can go silent (a half-open link: nothing closes, nothing arrives). */
async function silentableProxy(target: string): Promise<{ url: string; silence(): void; stop(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  const sockets = new Set<Socket>();
  const server = createTcpServer((down) => {
    const up = tcpConnect(Number(port), hostname);
    sockets.add(down).add(up);
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const end = () => { pairs.delete(pair); down.destroy(); up.destroy(); };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    silence() {
      for (const [down, up] of pairs) { down.unpipe(up); up.unpipe(down); down.pause(); up.pause(); }
      pairs.clear();
    },
    async stop() {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('client - dead links', () => {
  test('client - keepalive notices a link that went silent, reconnects, and the session member stays the same', async () => {
    const h = await startHub();
    const proxy = await silentableProxy(h.url);
    const c = await connect({ url: proxy.url, keepAliveMs: 300, requestTimeoutMs: 500, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const statuses: ClientStatus[] = [];
    c.on('status', (st) => statuses.push(st));
    try {
      const m = await c.register({ type: 'dev', name: 'blip', liveness: { kind: 'session', graceMs: 10_000 } });
      proxy.silence();
      const started = Date.now();
      const slow = await errorOf(c.call('info', {}, { timeoutMs: 100 }));
      assert.ok(slow instanceof TimeoutError, String(slow));
      assert.equal(slow.code, 'TIMEOUT');
      await until('reconnected', () => (statuses.some((st) => st.type === 'reconnected') ? true : undefined), 5000);
      const took = Date.now() - started;
      assert.ok(took >= 300, `not before keepAliveMs (${took} ms)`);
      const drop = statuses.find((st) => st.type === 'disconnected');
      assert.match(drop && drop.type === 'disconnected' ? drop.reason : '', /stopped answering/);
      const v = await c.get('blip');
      assert.equal(v.id, m.id);
      assert.equal(v.status, 'alive');
      const member = h.hub.registry.find(m.id)!;
      assert.ok(member.connection && [...h.hub.ws.connections].some((x) => x === member.connection), 'bound to the new connection');
    } finally {
      await c.close();
      await proxy.stop();
      await h.stop();
    }
  });
});

describe('client - hub URLs', () => {
  test('client - http URLs map to the WebSocket endpoint; ws URLs are kept; the token rides in the query', () => {
    assert.equal(socketUrl('http://127.0.0.1:7070'), 'ws://127.0.0.1:7070/v1/ws');
    assert.equal(socketUrl('https://hub.example:8443/'), 'wss://hub.example:8443/v1/ws');
    assert.equal(socketUrl('ws://10.0.0.1:7070/v1/ws', 'a b&c'), 'ws://10.0.0.1:7070/v1/ws?token=a+b%26c');
    assert.equal(socketUrl('wss://h/custom/path'), 'wss://h/custom/path');
    assert.throws(() => socketUrl('ftp://h'), /http\(s\):\/\/ or ws\(s\):\/\//);
  });
});

describe('client - connecting to a server that never answers the upgrade', () => {
  test('connect rejects with ConnectionClosedError after the timeout, and nothing is thrown later', async () => {
    const silent = createTcpServer((s) => { s.on('error', () => {}); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const stray: unknown[] = [];
    const onStray = (err: unknown) => stray.push(err);
    process.on('uncaughtException', onStray);
    try {
      await assert.rejects(connect({ url: `http://127.0.0.1:${port}`, reconnect: false, requestTimeoutMs: 200 }), ConnectionClosedError);
      await sleep(200);
      assert.deepEqual(stray, []);
    } finally {
      process.off('uncaughtException', onStray);
      silent.close();
    }
  });
});
