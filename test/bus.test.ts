import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
before(async () => {
  h = await startHub({ busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 }, limited: { messagesPerSec: 5, bytesPerSec: 0, burstSec: 1 } } });
});
after(async () => { await h.stop(); });

const peers: RpcPeer[] = [];
after(async () => { await Promise.all(peers.map((p) => p.close())); });

/** A connection with a session member registered on it. */
async function member(name: string, type = 'svc'): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
  peers.push(p);
  await p.ok('register', { name, type, liveness: 'session' });
  return p;
}

const messages = (p: RpcPeer) => p.notifications.filter((n) => n.method === 'bus.message').map((n) => n.params);

async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Answers bus.handle requests with the handler's result (or its thrown {code,message}). */
function serve(p: RpcPeer, handler: (method: string, params: any, from: string) => unknown): void {
  p.ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString());
    if (m.method !== 'bus.handle' || m.id === undefined) return;
    try {
      const result = handler(m.params.method, m.params.params, m.params.from);
      if (result !== undefined) p.ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
    } catch (e) {
      p.ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: e }));
    }
  });
}

describe('bus - publish and subscribe', () => {
  test('a subscriber to /a/ receives /a/ and below, never /ab/, with sender, scope, seq and µs times', async () => {
    const sub = await member('sub-a');
    const ab = await member('sub-ab');
    const pub = await member('pub-a');
    assert.deepEqual(await sub.ok('bus.subscribe', { scope: '/a' }), { subscription: 1, scope: '/a/' });
    await ab.ok('bus.subscribe', { scope: '/ab/' });
    const before = Date.now() * 1000;
    const r1 = await pub.ok('bus.publish', { scope: '/a/', data: { n: 1 } });
    await pub.ok('bus.publish', { scope: '/a/b/c', data: 'two' });
    await pub.ok('bus.publish', { scope: '/ab/', data: 3 });
    await until(() => messages(sub).length === 2 && messages(ab).length === 1, 'deliveries');
    assert.deepEqual(r1, { seq: 1, delivered: 1 });
    const [m1, m2] = messages(sub);
    assert.equal(m1.kind, 'publish');
    assert.equal(m1.from, 'pub-a');
    assert.equal(m1.scope, '/a/');
    assert.deepEqual(m1.data, { n: 1 });
    assert.equal(m2.scope, '/a/b/c/');
    assert.equal(m2.data, 'two');
    assert.deepEqual([m1.seq, m2.seq], [1, 2]);
    assert.ok(m1.received >= before && m1.received < before + 5_000_000, 'received is µs since the epoch');
    assert.ok(m1.created <= m1.sent && m1.sent <= m1.received);
    assert.deepEqual(messages(ab).map((m) => m.data), [3]);
  });

  test('no echo to the publisher unless its subscription asks; unsubscribe stops delivery', async () => {
    const p = await member('echo-p');
    const quiet = await p.ok('bus.subscribe', { scope: '/e/' });
    await p.ok('bus.publish', { scope: '/e/', data: 1 });
    await p.ok('bus.subscribe', { scope: '/e/loud/', echo: true });
    await p.ok('bus.publish', { scope: '/e/loud/', data: 2 });
    await until(() => messages(p).length >= 1, 'echo');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(messages(p).map((m) => m.data), [2]);
    assert.deepEqual(await p.ok('bus.unsubscribe', { subscription: quiet.subscription }), { ok: true });
    assert.deepEqual(await p.ok('bus.unsubscribe', { subscription: quiet.subscription }), { ok: false });
  });

  test('bytes go as base64 and come back as bytes, not as text', async () => {
    const sub = await member('bytes-sub');
    const pub = await member('bytes-pub');
    await sub.ok('bus.subscribe', { scope: '/bin/' });
    const raw = Buffer.from([0, 1, 2, 250, 255]);
    await pub.ok('bus.publish', { scope: '/bin/', bytes: raw.toString('base64') });
    await until(() => messages(sub).length === 1, 'bytes message');
    const m = messages(sub)[0];
    assert.equal(m.data, undefined);
    assert.deepEqual(Buffer.from(m.bytes, 'base64'), raw);
    const bad = await pub.call('bus.publish', { scope: '/bin/', bytes: 'not base64!' });
    assert.equal(bad.error?.data?.code, 'INVALID_PARAMS');
  });

  test('bad scopes are INVALID_SCOPE on WebSocket and HTTP, and the hub keeps serving', async () => {
    const p = await member('bad-scope');
    for (const scope of ['a/b/', '/a//b/', '/a b/', '/ä/']) {
      assert.equal((await p.call('bus.subscribe', { scope })).error?.data?.code, 'INVALID_SCOPE', scope);
      assert.equal((await p.call('bus.publish', { scope, data: 1 })).error?.data?.code, 'INVALID_SCOPE', scope);
    }
    const res = await fetch(`${h.url}/v1/publish`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ scope: 'nope', data: 1 }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.code, 'INVALID_SCOPE');
    assert.equal((await p.ok('bus.subscribe', { scope: '/fine/' })).scope, '/fine/');
  });

  test('a connection without a member may not use the bus', async () => {
    const anon = await RpcPeer.connect(h.wsUrl);
    peers.push(anon);
    assert.equal((await anon.call('bus.publish', { scope: '/a/', data: 1 })).error?.data?.code, 'UNAUTHORIZED');
    assert.equal((await anon.call('bus.subscribe', { scope: '/a/' })).error?.data?.code, 'UNAUTHORIZED');
  });

  test('one message fanned out to many receivers is encoded once: the same Buffer is queued to each', async () => {
    const subs = await Promise.all([1, 2, 3].map((i) => member(`once-${i}`)));
    for (const s of subs) await s.ok('bus.subscribe', { scope: '/once/' });
    const pub = await member('once-pub');
    const frames: Buffer[] = [];
    const conns = [...h.hub.ws.connections].filter((c) => h.hub.registry.connectionMembers(c).values().next().value?.name.startsWith('once-'));
    const restore = conns.map((c) => {
      const orig = c.enqueue.bind(c);
      c.enqueue = (f: Buffer) => { frames.push(f); orig(f); };
      return () => { c.enqueue = orig; };
    });
    try {
      await pub.ok('bus.publish', { scope: '/once/', data: { x: 1 } });
    } finally { for (const r of restore) r(); }
    assert.equal(frames.length, 3);
    assert.ok(frames[0] === frames[1] && frames[1] === frames[2], 'one Buffer for all receivers');
    await until(() => subs.every((s) => messages(s).length === 1), 'all three');
  });
});

describe('bus - broadcast, send and request', () => {
  test('broadcast reaches every connected member except the sender', async () => {
    const [a, b, c] = await Promise.all(['bc-a', 'bc-b', 'bc-c'].map((n) => member(n)));
    const r = await a.ok('bus.broadcast', { data: 'hello all' });
    await until(() => [b, c].every((p) => messages(p).some((m) => m.kind === 'broadcast' && m.data === 'hello all')), 'broadcast');
    await new Promise((res) => setTimeout(res, 30));
    assert.ok(!messages(a).some((m) => m.kind === 'broadcast'));
    assert.ok(r.delivered >= 2);
  });

  test('send reaches one member by name; unknown names are NO_SUCH_MEMBER', async () => {
    const a = await member('send-a');
    const b = await member('send-b');
    assert.deepEqual(await a.ok('bus.send', { to: 'send-b', data: [1, 2] }), { seq: 1, delivered: 1 });
    await until(() => messages(b).length === 1, 'send');
    assert.deepEqual(messages(b)[0], { ...messages(b)[0], kind: 'send', from: 'send-a', to: 'send-b', data: [1, 2] });
    assert.equal((await a.call('bus.send', { to: 'nobody-here', data: 1 })).error?.data?.code, 'NO_SUCH_MEMBER');
  });

  test('request returns the member reply or its error; NO_SUCH_MEMBER, TIMEOUT, MEMBER_GONE', async () => {
    const asker = await member('asker');
    const answerer = await member('answerer');
    serve(answerer, (method, params, from) => {
      if (method === 'add') return { sum: params.a + params.b, from };
      if (method === 'fail') throw { code: 42, message: 'nope', data: { why: 'because' } };
      return undefined; // never answers
    });
    assert.deepEqual(await asker.ok('bus.request', { to: 'answerer', method: 'add', params: { a: 2, b: 3 } }), { sum: 5, from: 'asker' });
    const failed = await asker.call('bus.request', { to: 'answerer', method: 'fail' });
    assert.equal(failed.error?.data?.code, 'MEMBER_ERROR');
    assert.equal(failed.error?.message, 'nope');
    assert.deepEqual((failed.error?.data?.details as any).error, { code: 42, message: 'nope', data: { why: 'because' } });
    assert.equal((await asker.call('bus.request', { to: 'ghost', method: 'x' })).error?.data?.code, 'NO_SUCH_MEMBER');
    const t0 = Date.now();
    assert.equal((await asker.call('bus.request', { to: 'answerer', method: 'silent', timeoutMs: 150 })).error?.data?.code, 'TIMEOUT');
    assert.ok(Date.now() - t0 >= 140);
    const open = asker.call('bus.request', { to: 'answerer', method: 'silent', timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await answerer.close();
    assert.equal((await open).error?.data?.code, 'MEMBER_GONE');
  });

  test('HTTP: publish, broadcast and request for scripts', async () => {
    const sub = await member('http-sub');
    await sub.ok('bus.subscribe', { scope: '/h/' });
    const svc = await member('http-svc');
    serve(svc, (method, params) => (method === 'echo' ? { echoed: params } : undefined));
    const post = async (url: string, body: unknown, token = ADMIN_TOKEN) => {
      const res = await fetch(`${h.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const pub = await post('/v1/publish', { scope: '/h/x', data: { via: 'http' } });
    assert.equal(pub.status, 200);
    assert.equal(pub.body.delivered, 1);
    await until(() => messages(sub).length === 1, 'http publish');
    assert.deepEqual(messages(sub)[0].data, { via: 'http' });
    assert.equal(messages(sub)[0].from, 'hub');
    const asOther = await post('/v1/publish', { scope: '/h/', from: 'http-svc', data: 2 });
    assert.equal(asOther.status, 200);
    await until(() => messages(sub).length === 2, 'publish as a member');
    assert.equal(messages(sub)[1].from, 'http-svc');
    const bc = await post('/v1/broadcast', { data: 'all' });
    assert.equal(bc.status, 200);
    await until(() => messages(sub).some((m) => m.kind === 'broadcast'), 'http broadcast');
    const sent = await post('/v1/members/http-sub/send', { bytes: Buffer.from('hi').toString('base64') });
    assert.deepEqual([sent.status, sent.body.delivered], [200, 1]);
    await until(() => messages(sub).some((m) => m.kind === 'send' && Buffer.from(m.bytes, 'base64').toString() === 'hi'), 'http send');
    const stats = (await (await fetch(`${h.url}/v1/bus/stats`)).json()) as { scopes: Record<string, number> };
    assert.equal(stats.scopes['/h/x/'], 1);
    const rq = await post('/v1/members/http-svc/request', { method: 'echo', params: [1, 2] });
    assert.deepEqual(rq, { status: 200, body: { result: { echoed: [1, 2] } } });
    const missing = await post('/v1/members/nobody/request', { method: 'echo' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'NO_SUCH_MEMBER');
    const anon = await post('/v1/publish', { scope: '/h/', data: 1 }, 'wrong-token');
    assert.equal(anon.status, 401);
  });
});

describe('bus - flow control and stats', () => {
  test('a sender over its rate limit gets THROTTLED with a retry-after, and a bus.throttled notice', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    peers.push(p);
    await p.ok('register', { name: 'limited-1', type: 'limited', liveness: 'session' });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => p.call('bus.publish', { scope: '/lim/', data: i })));
    const refused = replies.filter((r) => r.error);
    assert.equal(replies.length - refused.length, 5, 'the burst of 5 passes');
    assert.equal(refused[0]!.error?.data?.code, 'THROTTLED');
    const retry = (refused[0]!.error?.data?.details as { retryAfterMs: number }).retryAfterMs;
    assert.ok(retry > 0 && retry <= 200, String(retry));
    const notice = await p.waitFor((n) => n.method === 'bus.throttled');
    assert.equal(notice.params.from, 'limited-1');
    await new Promise((r) => setTimeout(r, retry + 20));
    assert.equal((await p.call('bus.publish', { scope: '/lim/', data: 'later' })).error, undefined);
  });

  test('traffic counts in the member record, per scope counts in bus.stats, totals in /metrics', async () => {
    const s = await member('stats-sub');
    const p = await member('stats-pub');
    await s.ok('bus.subscribe', { scope: '/stats/' });
    for (let i = 0; i < 3; i++) await p.ok('bus.publish', { scope: '/stats/x/', data: 'abc' });
    await until(() => messages(s).length === 3, 'three');
    const pubView = await p.ok('get', { name: 'stats-pub' });
    assert.equal(pubView.stats.traffic.sent, 3);
    assert.equal(pubView.stats.traffic.sentBytes, 15);
    assert.ok(pubView.stats.traffic.lastSent > 0);
    const subView = await p.ok('get', { name: 'stats-sub' });
    assert.equal(subView.stats.traffic.received, 3);
    assert.ok(subView.stats.traffic.lastReceived > 0);
    const stats = await p.ok('bus.stats', {});
    assert.equal(stats.scopes['/stats/x/'], 3);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /^muster_bus_published_total \d+/m);
    assert.match(metrics, /^muster_bus_delivered_total \d+/m);
  });
});

describe('bus - binary frame format', () => {
  test('binary publishes reach JSON and binary subscribers alike; bytes stay bytes, JSON stays JSON', async () => {
    const { decodeDeliveries, encodePublishRecord, frameOf, KIND_CODE } = await import('../src/faces/native/bus-binary.js');
    const jsonSub = await member('bin-json-sub');
    const binSub = await member('bin-bin-sub');
    await jsonSub.ok('bus.subscribe', { scope: '/bf/' });
    assert.deepEqual(await binSub.ok('bus.format', { binary: true }), { binary: true });
    await binSub.ok('bus.subscribe', { scope: '/bf/' });
    const got: { kind: number; from: string; where: string; seq: number; isBytes: boolean; payload: Buffer }[] = [];
    binSub.ws.removeAllListeners('message'); // RpcPeer reads text only; this peer is binary from here on
    binSub.ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) decodeDeliveries(d, (r) => got.push({ ...r, payload: Buffer.from(r.payload) }));
    });
    const pub = await member('bin-pub');
    const raw = Buffer.from([9, 8, 7, 0, 255]);
    const rec = (where: string, payload: Uint8Array, isBytes: boolean) =>
      encodePublishRecord({ kind: KIND_CODE.publish, isBytes, from: '', where, created: 0, sent: 0, payload });
    pub.ws.send(frameOf([rec('/bf/x', raw, true), rec('/bf/', Buffer.from('{"a":[1,2]}'), false), rec('/elsewhere/', raw, true)]));
    await until(() => got.length === 2 && messages(jsonSub).length === 2, 'binary deliveries');
    assert.deepEqual(got.map((g) => [g.kind, g.from, g.where, g.seq, g.isBytes]), [[1, 'bin-pub', '/bf/x/', 1, true], [1, 'bin-pub', '/bf/', 2, false]]);
    assert.deepEqual(got[0]!.payload, raw);
    assert.equal(got[1]!.payload.toString(), '{"a":[1,2]}');
    const [j1, j2] = messages(jsonSub);
    assert.deepEqual(Buffer.from(j1.bytes, 'base64'), raw);
    assert.deepEqual(j2.data, { a: [1, 2] });
  });

  test('a burst to binary receivers on overlapping scopes arrives whole and in order at each (shared runs, copied short runs, big records)', async () => {
    const { decodeDeliveries, encodePublishRecord, frameOf, KIND_CODE } = await import('../src/faces/native/bus-binary.js');
    const subs = await Promise.all(['all-1', 'all-2', 'only-a'].map((n) => member(`burst-${n}`)));
    const got = subs.map(() => [] as Buffer[]);
    for (const [i, s] of subs.entries()) {
      await s.ok('bus.format', { binary: true });
      await s.ok('bus.subscribe', { scope: i < 2 ? '/burst/' : '/burst/a/' });
      s.ws.removeAllListeners('message');
      s.ws.on('message', (d: Buffer, isBinary: boolean) => { if (isBinary) decodeDeliveries(d, (r) => got[i]!.push(Buffer.from(r.payload))); });
    }
    const pub = await member('burst-pub');
    // Runs of one scope and alternating ones (so the only-a receiver's records are not side by side),
    // small payloads and some past the slab's own-buffer size, over several slabs and inline flushes.
    const sent: { scope: string; payload: Buffer }[] = [];
    for (let i = 0; i < 3000; i++) {
      const scope = (i % 600 < 300 ? i % 2 === 0 : i % 7 === 0) ? '/burst/a/' : '/burst/b/';
      const size = i % 97 === 0 ? 12_000 + i : 40 + (i % 50);
      const payload = Buffer.alloc(size, i & 0xff);
      payload.writeUInt32LE(i, 0);
      sent.push({ scope, payload });
    }
    for (let i = 0; i < sent.length; i += 250) {
      pub.ws.send(frameOf(sent.slice(i, i + 250).map((m) => encodePublishRecord({ kind: KIND_CODE.publish, isBytes: true, from: '', where: m.scope, created: 0, sent: 0, payload: m.payload }))));
    }
    const onlyA = sent.filter((m) => m.scope === '/burst/a/');
    await until(() => got[0]!.length === sent.length && got[1]!.length === sent.length && got[2]!.length === onlyA.length, 'the burst at every receiver', 15_000);
    for (const i of [0, 1]) assert.ok(got[i]!.every((p, k) => p.equals(sent[k]!.payload)), `receiver ${i} got every message, in order`);
    assert.ok(got[2]!.every((p, k) => p.equals(onlyA[k]!.payload)), 'the /burst/a/ receiver got its messages, in order');
  });

  test('a bad record is reported with bus.error and the connection keeps working', async () => {
    const { encodePublishRecord, frameOf, KIND_CODE } = await import('../src/faces/native/bus-binary.js');
    const pub = await member('bin-bad');
    const rec = (where: string, payload: Uint8Array, isBytes: boolean) =>
      encodePublishRecord({ kind: KIND_CODE.publish, isBytes, from: '', where, created: 0, sent: 0, payload });
    pub.ws.send(frameOf([rec('no-slash', Buffer.from('1'), false)]));
    const e1 = await pub.waitFor((n) => n.method === 'bus.error');
    assert.equal(e1.params.code, 'INVALID_SCOPE');
    pub.ws.send(frameOf([rec('/ok/', Buffer.from('{not json'), false)]));
    await pub.waitFor((n) => n.method === 'bus.error' && n.params.code === 'INVALID_PARAMS');
    pub.ws.send(Buffer.from([0xb5, 1, 2]));
    await pub.waitFor((n) => n.method === 'bus.error' && /Malformed/.test(n.params.message));
    assert.equal((await pub.call('bus.publish', { scope: '/ok/', data: 1 })).error, undefined);
  });
});
