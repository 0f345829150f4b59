import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bus, connect, MusterClientError, type BusMessage, type MusterClient, type WebSocketLike } from '../src/client/index.js';
import { startHub, type TestHub } from './support/hub.js';
import { until } from './support/wait.js';

let h: TestHub;
const clients: MusterClient[] = [];
before(async () => { h = await startHub({ busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } } }); });
after(async () => {
  for (const c of clients) await c.close();
  await h.stop();
});

async function member(name: string): Promise<MusterClient> {
  const c = await connect({ url: h.url, reconnect: false });
  clients.push(c);
  await c.register({ name, type: 'svc' });
  return c;
}

async function take(it: AsyncIterator<BusMessage>, n: number, timeoutMs = 5000): Promise<BusMessage[]> {
  const out: BusMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`got ${out.length} of ${n}`);
    const r = await Promise.race([it.next(), new Promise<null>((res) => setTimeout(() => res(null), left))]);
    if (r === null || r.done) throw new Error(`got ${out.length} of ${n}`);
    out.push(r.value);
  }
  return out;
}

describe('bus - SDK', () => {
  test('subscribe as an async iterable; JSON stays JSON, bytes arrive as Uint8Array; times in µs', async () => {
    const a = await member('sdk-a');
    const b = await member('sdk-b');
    const sub = bus(a).subscribe('/sdk');
    await sub.ready;
    assert.equal(sub.scope, '/sdk/');
    bus(b).publish('/sdk/t/', { t: 21.5 });
    bus(b).publish('/sdk/', new Uint8Array([1, 2, 3, 255]));
    bus(b).publish('/other/', 'not for a');
    const [m1, m2] = await take(sub[Symbol.asyncIterator](), 2);
    assert.deepEqual([m1!.kind, m1!.from, m1!.scope, m1!.seq, m1!.data], ['publish', 'sdk-b', '/sdk/t/', 1, { t: 21.5 }]);
    assert.ok(m2!.data instanceof Uint8Array);
    assert.deepEqual([...(m2!.data as Uint8Array)], [1, 2, 3, 255]);
    assert.ok(m1!.created <= m1!.sent && m1!.sent <= m1!.received && m1!.received <= m1!.delivered);
    assert.ok(Math.abs(m1!.delivered - Date.now() * 1000) < 5_000_000);
    await sub.close();
  });

  test('a bad scope rejects ready with INVALID_SCOPE; publish throws it at once; a bad name INVALID_PARAMS', async () => {
    const a = await member('sdk-bad');
    const sub = bus(a).subscribe('no/slash');
    await assert.rejects(sub.ready, (e: unknown) => e instanceof MusterClientError && e.code === 'INVALID_SCOPE');
    assert.throws(() => bus(a).publish('/a b/', 1), (e: unknown) => e instanceof MusterClientError && e.code === 'INVALID_SCOPE');
    assert.throws(() => bus(a).send('no such name!', 1), (e: unknown) => e instanceof MusterClientError && e.code === 'INVALID_PARAMS');
    await bus(a).flush();
  });

  test('broadcast, send and onMessage; handler subscriptions', async () => {
    const a = await member('sdk-bc-a');
    const b = await member('sdk-bc-b');
    const seen: BusMessage[] = [];
    bus(b).onMessage((m) => seen.push(m));
    const viaHandler: BusMessage[] = [];
    const sub = bus(b).subscribe('/h/', (m) => viaHandler.push(m));
    await sub.ready;
    bus(a).broadcast('to all');
    bus(a).send('sdk-bc-b', { direct: true });
    bus(a).publish('/h/', 7);
    const deadline = Date.now() + 5000;
    while ((seen.length < 3 || viaHandler.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen.filter((m) => m.from === 'sdk-bc-a').map((m) => [m.kind, m.data]), [['broadcast', 'to all'], ['send', { direct: true }], ['publish', 7]]);
    assert.equal(seen[1]!.to, 'sdk-bc-b');
    assert.deepEqual(viaHandler.map((m) => m.data), [7]);
  });

  test('request/onRequest: answers, errors, NO_SUCH_MEMBER, TIMEOUT', async () => {
    const asker = await member('sdk-asker');
    const calc = await member('sdk-calc');
    bus(calc).onRequest('add', (p, ctx) => {
      const { a, b } = p as { a: number; b: number };
      return { sum: a + b, from: ctx.from };
    });
    bus(calc).onRequest('fail', () => { throw Object.assign(new Error('cannot'), { code: 'INVALID_STATE' }); });
    bus(calc).onRequest('slow', () => new Promise((r) => setTimeout(() => r('late'), 1000)));
    assert.deepEqual(await bus(asker).request('sdk-calc', 'add', { a: 2, b: 40 }), { sum: 42, from: 'sdk-asker' });
    await assert.rejects(bus(asker).request('sdk-calc', 'fail'), (e: unknown) => {
      assert.ok(e instanceof MusterClientError);
      assert.equal(e.code, 'MEMBER_ERROR');
      assert.equal(e.message, 'cannot');
      assert.equal((e.details?.error as { data: { code: string } }).data.code, 'INVALID_STATE');
      return true;
    });
    await assert.rejects(bus(asker).request('sdk-calc', 'nothing'), (e: unknown) => e instanceof MusterClientError && e.code === 'MEMBER_ERROR');
    await assert.rejects(bus(asker).request('nobody', 'add'), (e: unknown) => e instanceof MusterClientError && e.code === 'NO_SUCH_MEMBER');
    await assert.rejects(bus(asker).request('sdk-calc', 'slow', null, { timeoutMs: 100 }), (e: unknown) => e instanceof MusterClientError && e.code === 'TIMEOUT');
  });

  test('request: bad arguments reject the promise (never throw); a method is at most 255 bytes of UTF-8', async () => {
    const asker = await member('sdk-v-asker');
    const echo = await member('sdk-v-echo');
    bus(echo).onRequest('é'.repeat(127), (p) => p);
    const invalid = (e: unknown) => e instanceof MusterClientError && e.code === 'INVALID_PARAMS';
    let asked: Promise<unknown> | undefined;
    assert.doesNotThrow(() => { asked = bus(asker).request('not a name!', 'echo'); });
    await assert.rejects(asked!, invalid);
    await assert.rejects(bus(asker).request('sdk-v-echo', 'echo', null, { from: 'bad name' }), invalid);
    // 128 two-byte characters are 256 bytes; 127 are 254 and go through.
    await assert.rejects(bus(asker).request('sdk-v-echo', 'é'.repeat(128)), (e: unknown) => invalid(e) && /255 bytes/.test((e as Error).message));
    assert.equal(await bus(asker).request('sdk-v-echo', 'é'.repeat(127), 'x'), 'x');
  });

  test('request: one asked while the client reconnects goes out once it is back (the hub answers it)', { timeout: 30_000 }, async () => {
    const limits = { busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } } };
    let hub = await startHub(limits);
    const port = Number(new URL(hub.url).port);
    // The responder retries sooner than the asker, so it is usually back first.
    const asker = await connect({ url: hub.url, reconnect: { initialDelayMs: 600, maxDelayMs: 600 } });
    const echo = await connect({ url: hub.url, reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
    try {
      await asker.register({ name: 'rq-asker', type: 'svc' });
      await echo.register({ name: 'rq-echo', type: 'svc' });
      bus(echo).onRequest('echo', (p) => p);
      assert.equal(await bus(asker).request('rq-echo', 'echo', 1), 1);
      await hub.stop({ keepData: true });
      await until('disconnected', () => (asker.connected ? undefined : true));
      const answer = bus(asker).request('rq-echo', 'echo', 2, { timeoutMs: 10_000 }).then((v) => ({ v }), (e: unknown) => ({ e }));
      hub = await startHub({ port, dataDir: hub.dataDir, ...limits });
      const got = await answer;
      // Answered by the responder, or, if the asker was back first, by the hub: either way it went out on the new connection.
      if ('e' in got) assert.ok(got.e instanceof MusterClientError && got.e.code === 'NOT_CONNECTED', String(got.e));
      else assert.equal(got.v, 2);
      await until('responder back', () => (echo.connected ? true : undefined));
      assert.equal(await bus(asker).request('rq-echo', 'echo', 3), 3);
    } finally {
      await asker.close();
      await echo.close();
      await hub.stop();
    }
  });
});

describe('bus - SDK deliveries in either format', () => {
  test('a connection switched back to JSON deliveries (bus.format {binary: false}) still gets every message, bytes included', async () => {
    const sub = await member('json-sub');
    const pub = await member('json-pub');
    const s = bus(sub).subscribe('/f/');
    await s.ready;
    const it = s[Symbol.asyncIterator]();
    await sub.call('bus.format', { binary: false });
    bus(pub).publish('/f/x', { n: 1 });
    bus(pub).publish('/f/y', new Uint8Array([0, 255]));
    const [m1, m2] = await take(it, 2);
    assert.deepEqual(m1!.data, { n: 1 });
    assert.deepEqual(m2!.data, new Uint8Array([0, 255]));
  });
});

describe('bus - SDK over TLS', () => {
  test('a burst over wss reaches two subscribers whole and in order (the hub writes its binary frames to the TLS socket itself)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { default: WebSocket } = await import('ws');
    const dir = mkdtempSync(join(tmpdir(), 'muster-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const tls = await startHub({ tlsCert: cert, tlsKey: key, busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } } });
    const ca = readFileSync(cert);
    const mine: MusterClient[] = [];
    try {
      assert.match(tls.url, /^https:/);
      const open = async (name: string) => {
        const c = await connect({ url: tls.url, reconnect: false, webSocket: (url) => new WebSocket(url, { ca }) as unknown as WebSocketLike });
        mine.push(c);
        await c.register({ name, type: 'svc' });
        return c;
      };
      const got: number[][] = [[], []];
      for (const i of [0, 1]) {
        const c = await open(`tls-sub-${i}`);
        await bus(c).subscribe('/tls/', (m) => { got[i]!.push(new DataView((m.data as Uint8Array).buffer, (m.data as Uint8Array).byteOffset).getUint32(0, true)); }).ready;
      }
      const pub = bus(await open('tls-pub'));
      const N = 3000;
      for (let i = 0; i < N; i++) {
        const p = new Uint8Array(i % 101 === 0 ? 9000 : 64);
        new DataView(p.buffer).setUint32(0, i, true);
        if (!pub.publish('/tls/', p)) await pub.flush();
      }
      await pub.flush();
      const deadline = Date.now() + 10_000;
      while ((got[0]!.length < N || got[1]!.length < N) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const g of got) assert.deepEqual(g, Array.from({ length: N }, (_, i) => i));
    } finally {
      for (const c of mine) await c.close();
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
