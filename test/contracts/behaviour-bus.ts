/**
 * Bus behaviour, the same on one hub and across a cluster: publish/subscribe on RSB scopes (a
 * subscriber to /a/ gets /a/ and below, never /ab/; no echo unless asked), broadcast to every
 * connected member but the sender, send and request/reply by name (answers, the member's error,
 * no handler, no such member, timeout, the member gone), a sender's rate limit, and a slow
 * receiver that loses only its own messages. In a cluster, senders and receivers sit on
 * different hubs; each assertion of "once" or "never" is made after a later marker arrived.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bus, type BusMessage, type MusterClient } from '../../src/client/index.js';
import { codeOf, errorOf, isProbe, type Behaviour } from './behaviour-topology.js';

/** Every bus message a client's connection gets (probes left out). */
function inbox(c: MusterClient): BusMessage[] {
  const got: BusMessage[] = [];
  bus(c).onMessage((m) => { if (!isProbe(m)) got.push(m); });
  return got;
}

export function busBehaviour(b: Behaviour): void {
  describe(`bus behaviour - ${b.name}`, () => {
    test('publish reaches subscribers of the scope and below on every hub, never a sibling scope, never the publisher unless it asks', async () => {
      const pub = await b.member(0, 'ps-pub');
      const subA = await b.member(1, 'ps-sub-a');
      const subAB = await b.member(2, 'ps-sub-ab');
      const subRoot = await b.member(3, 'ps-sub-root');
      const [gotA, gotAB, gotRoot, gotPub] = [inbox(subA), inbox(subAB), inbox(subRoot), inbox(pub)];
      const all: BusMessage[] = [];
      bus(subA).onMessage((m) => all.push(m));
      bus(subAB).onMessage((m) => all.push(m));
      bus(subRoot).onMessage((m) => all.push(m));
      await bus(subA).subscribe('/ps/a', () => {}).ready;
      await bus(subAB).subscribe('/ps/ab/', () => {}).ready;
      await bus(subRoot).subscribe('/ps/', () => {}).ready;
      await bus(pub).subscribe('/ps/', () => {}).ready;
      for (const s of ['/ps/a/', '/ps/ab/']) await b.inForce(pub, s, () => all.filter((m) => m.scope?.startsWith(s)));
      const r = await pub.call('bus.publish', { scope: '/ps/a/', data: { n: 1 } }); // acknowledged
      assert.equal(r.seq > 0, true);
      await bus(pub).publish('/ps/a/b/c', 'two');
      await bus(pub).publish('/ps/ab/', 3);
      await bus(pub).publish('/ps/end/', 'marker');
      await b.until('the marker at the root subscriber', () => gotRoot.some((m) => m.data === 'marker'));
      await b.until('a and ab', () => gotA.length >= 2 && gotAB.length >= 1);
      assert.deepEqual(gotA.map((m) => [m.kind, m.from, m.scope, m.data]), [['publish', 'ps-pub', '/ps/a/', { n: 1 }], ['publish', 'ps-pub', '/ps/a/b/c/', 'two']]);
      assert.deepEqual(gotAB.map((m) => m.data), [3]);
      assert.deepEqual(gotRoot.map((m) => m.data), [{ n: 1 }, 'two', 3, 'marker']);
      assert.ok(gotA[0]!.seq < gotA[1]!.seq);
      assert.ok(gotA[0]!.created <= gotA[0]!.sent && gotA[0]!.sent <= gotA[0]!.received, 'times in µs, in order');
      assert.equal(gotPub.length, 0, 'no echo to the publisher');
      // Echo when the publisher's subscription asks for it.
      await bus(pub).subscribe('/ps/echo/', () => {}, { echo: true }).ready;
      await bus(pub).publish('/ps/echo/', 'mine');
      await b.until('echo', () => gotPub.some((m) => m.data === 'mine'));
      // Unsubscribed: nothing more.
      const sub = bus(subAB).subscribe('/ps/gone/', () => {});
      await sub.ready;
      await b.inForce(pub, '/ps/gone/', () => all.filter((m) => m.scope === '/ps/gone/'));
      await sub.close();
      await bus(pub).publish('/ps/gone/', 'after');
      await bus(pub).publish('/ps/end/', 'marker-2');
      await b.until('marker-2', () => gotRoot.some((m) => m.data === 'marker-2'));
      assert.ok(!gotAB.some((m) => m.data === 'after'), 'nothing after unsubscribe');
    });

    test('broadcast reaches every connected member on every hub, the sender excepted', async () => {
      const members = await Promise.all(['bc-0', 'bc-1', 'bc-2', 'bc-3'].map((n, i) => b.member(i, n)));
      const got = members.map(inbox);
      const r = await members[0]!.call('bus.broadcast', { data: { hello: 'all' } });
      assert.ok(r.seq > 0);
      await b.until('every other member', () => got.slice(1).every((g) => g.some((m) => m.kind === 'broadcast' && m.from === 'bc-0')));
      // A later message to the sender shows the broadcast did not come back to it.
      await bus(members[1]!).send('bc-0', 'marker');
      await b.until('marker', () => got[0]!.some((m) => m.data === 'marker'));
      assert.ok(!got[0]!.some((m) => m.kind === 'broadcast' && m.from === 'bc-0'));
      for (const g of got.slice(1)) assert.equal(g.filter((m) => m.kind === 'broadcast' && m.from === 'bc-0').length, 1, 'once each');
      assert.deepEqual(got[1]![0]!.data, { hello: 'all' });
    });

    test('send reaches one member by name on any hub; an unknown name is NO_SUCH_MEMBER', async () => {
      const a = await b.member(0, 'send-a');
      const bb = await b.member(1, 'send-b');
      const got = inbox(bb);
      await b.until('send-b known at hub 0', async () => (await b.http(0, 'GET', '/v1/members/send-b')).status === 200);
      const r = await a.call('bus.send', { to: 'send-b', data: [1, 2] });
      assert.equal(r.delivered, 1);
      await b.until('the message', () => got.length === 1);
      assert.deepEqual([got[0]!.kind, got[0]!.from, got[0]!.to, got[0]!.data], ['send', 'send-a', 'send-b', [1, 2]]);
      bus(a).send('nobody-here', 1); // fire-and-forget: the refusal comes with the next flush
      assert.equal(await codeOf(bus(a).flush()), 'NO_SUCH_MEMBER');
      const bytes = await b.admin(2, 'POST', '/v1/members/send-b/send', { bytes: Buffer.from('hi').toString('base64') });
      assert.deepEqual([bytes.status, bytes.body.delivered], [200, 1]);
      await b.until('bytes over HTTP from a third hub', () => got.some((m) => m.data instanceof Uint8Array && Buffer.from(m.data).toString() === 'hi'));
    });

    test('request: the answer, the member\'s error, no handler, no such member, no connection, a timeout, the member gone', async () => {
      const asker = await b.member(0, 'rq-asker');
      const answerer = await b.member(1, 'rq-answerer');
      await b.until('rq-answerer known at hub 0', async () => (await b.http(0, 'GET', '/v1/members/rq-answerer')).status === 200);
      const ab = bus(answerer);
      ab.onRequest('add', (p, ctx) => ({ sum: (p as { a: number; b: number }).a + (p as { a: number; b: number }).b, from: ctx.from }));
      ab.onRequest('fail', () => { throw Object.assign(new Error('not today'), { code: 42 }); });
      ab.onRequest('never', () => new Promise(() => {}));
      const ask = bus(asker);
      assert.deepEqual(await ask.request('rq-answerer', 'add', { a: 2, b: 3 }), { sum: 5, from: 'rq-asker' });
      const failed = await errorOf(ask.request('rq-answerer', 'fail'));
      assert.equal(failed.code, 'MEMBER_ERROR');
      assert.equal(failed.message, 'not today');
      assert.equal(await codeOf(ask.request('rq-answerer', 'nothing-handles-this')), 'MEMBER_ERROR', 'no handler: the member answers an error');
      assert.equal(await codeOf(ask.request('rq-ghost', 'add', {})), 'NO_SUCH_MEMBER');
      // A member registered over HTTP has no connection to answer on.
      await b.http(1, 'POST', '/v1/members', { name: 'rq-offline', type: 'svc', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await b.until('rq-offline known at hub 0', async () => (await b.http(0, 'GET', '/v1/members/rq-offline')).status === 200);
      assert.equal(await codeOf(ask.request('rq-offline', 'add', {})), 'NOT_CONNECTED');
      const t0 = Date.now();
      assert.equal(await codeOf(ask.request('rq-answerer', 'never', null, { timeoutMs: 300 })), 'TIMEOUT');
      const took = Date.now() - t0;
      assert.ok(took >= 280 && took < 5_000, `TIMEOUT after ${took} ms`);
      const http = await b.admin(2, 'POST', '/v1/members/rq-answerer/request', { method: 'add', params: { a: 20, b: 22 } });
      assert.deepEqual([http.status, http.body.result.sum], [200, 42]);
      // Its outcome is taken at once: MEMBER_GONE can arrive while close() is still awaited.
      const open = codeOf(ask.request('rq-answerer', 'never', null, { timeoutMs: 8_000 }));
      await new Promise((r) => setTimeout(r, 100));
      await answerer.close();
      assert.equal(await open, 'MEMBER_GONE');
    });

    test('a sender over its rate limit is answered THROTTLED with a retry-after and told with bus.throttled', async () => {
      const c = await b.client(1);
      await c.register({ name: 'lim', type: 'limited', liveness: 'session' });
      const notices: unknown[] = [];
      c.onNotification('bus.throttled', (p) => notices.push(p));
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => c.call('bus.publish', { scope: '/lim/', data: i }).then(() => 'ok', (e: { code: string; details?: { retryAfterMs?: number } }) => e)));
      assert.equal(results.filter((r) => r === 'ok').length, 5, 'the burst of 5 passes');
      const refused = results.find((r) => r !== 'ok') as { code: string; details?: { retryAfterMs?: number } };
      assert.equal(refused.code, 'THROTTLED');
      assert.ok(refused.details!.retryAfterMs! > 0 && refused.details!.retryAfterMs! <= 200);
      await b.until('bus.throttled', () => notices.length > 0);
      assert.equal((notices[0] as { from: string }).from, 'lim');
      await new Promise((r) => setTimeout(r, refused.details!.retryAfterMs! + 20));
      assert.equal(await codeOf(c.call('bus.publish', { scope: '/lim/', data: 'later' })), 'no error');
    });

    test('a receiver that stops reading loses its own messages (counted); the others get every one', async () => {
      const fast = await b.peer(2);
      await fast.ok('register', { name: 'slow-fast', type: 'svc', liveness: 'session' });
      await fast.ok('bus.subscribe', { scope: '/flood/' });
      const fastGot = () => fast.notifications.filter((n) => n.method === 'bus.message').map((n) => n.params as BusMessage);
      await b.inForce(await b.member(0, 'slow-prober'), '/flood/', fastGot);
      // On the fast one's hub, so in force at once; it has seen no probe, and stops reading its socket.
      const slow = await b.peer(2);
      await slow.ok('register', { name: 'slow-slow', type: 'svc', liveness: 'session' });
      await slow.ok('bus.subscribe', { scope: '/flood/' });
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const pub = await b.peer(0);
      await pub.ok('register', { name: 'slow-flooder', type: 'svc', liveness: 'session' });
      const N = 6_000;
      const pad = 'x'.repeat(1000);
      const flooded = () => fastGot().filter((m) => !isProbe(m)).length;
      for (let i = 0; i < N; i++) {
        pub.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'bus.publish', params: { scope: '/flood/', data: { i, pad } } }));
        // Paced by the fast receiver (at most 1,000 ahead of it), so that on a loaded machine it is still the fast one.
        if (i % 100 === 99) await b.until('the fast receiver keeps up', () => flooded() >= i - 1_000);
      }
      await b.until('the fast subscriber got all of them', () => flooded() === N, 30_000);
      const v = await b.until('the slow one counted', async () => {
        const view = (await b.http(2, 'GET', '/v1/members/slow-slow')).body;
        return view.stats.traffic.received + view.stats.traffic.dropped === N && view;
      });
      assert.ok(v.stats.traffic.dropped > 0, 'the slow receiver lost messages');
      assert.equal((await b.http(2, 'GET', '/v1/members/slow-fast')).body.stats.traffic.dropped, 0);
    });
  });
}
