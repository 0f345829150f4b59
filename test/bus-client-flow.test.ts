/**
 * The SDK's fire-and-forget bus: refusals reach flush() and onError; a turn's first publish leaves
 * at once and the rest of the turn's as one frame; bytes arrive exactly as sent; a hub that stops
 * reading makes the publisher's flush wait while its send buffer stays within its bound.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { bus, connect, MusterClientError, type BusMessage, type MusterClient, type WebSocketLike } from '../src/client/index.js';
import { spawnHub, startHub, tempDir, type TestHub } from './support/hub.js';

const UNLIMITED = { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } };
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function hub(overrides: Parameters<typeof startHub>[0] = {}): Promise<TestHub> {
  const h = await startHub({ busRateLimits: UNLIMITED, ...overrides });
  cleanups.push(() => h.stop());
  return h;
}

/** A `ws` socket whose binary sends are counted and whose unsent bytes are sampled. */
function countingSocket(url: string, seen: { frames: number; maxBuffered: number }): WebSocketLike {
  const ws = new WebSocket(url);
  const send = ws.send.bind(ws);
  ws.send = ((data: string | Uint8Array) => {
    if (typeof data !== 'string') seen.frames++;
    send(data);
    seen.maxBuffered = Math.max(seen.maxBuffered, ws.bufferedAmount);
  }) as typeof ws.send;
  return ws as unknown as WebSocketLike;
}

async function member(url: string, name: string, options: { maxPendingBytes?: number; webSocket?: (u: string) => WebSocketLike; requestTimeoutMs?: number } = {}): Promise<MusterClient> {
  const c = await connect({ url, reconnect: false, ...options });
  cleanups.push(() => c.close());
  await c.register({ name, type: 'svc' });
  return c;
}

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const codeOf = (e: unknown) => (e instanceof MusterClientError ? e.code : String(e));

describe('bus - SDK fire-and-forget', () => {
  test('refusals reach the next flush and onError: no member (UNAUTHORIZED), no such member, over the rate (THROTTLED); the flush after is clean', async () => {
    const h = await hub({ busRateLimits: { '*': { messagesPerSec: 5, bytesPerSec: 0, burstSec: 1 } } });
    const anonymous = await connect({ url: h.url, reconnect: false });
    cleanups.push(() => anonymous.close());
    assert.equal(bus(anonymous).publish('/x/', 1), true, 'publish returns at once');
    await assert.rejects(bus(anonymous).flush(), (e: unknown) => codeOf(e) === 'UNAUTHORIZED');

    const a = await member(h.url, 'ff-a');
    const seen: MusterClientError[] = [];
    bus(a).onError((e) => seen.push(e));
    bus(a).send('ff-nobody', 1);
    await assert.rejects(bus(a).flush(), (e: unknown) => codeOf(e) === 'NO_SUCH_MEMBER');
    assert.deepEqual(seen.map((e) => e.code), ['NO_SUCH_MEMBER']);
    await bus(a).flush();

    const sub = await member(h.url, 'ff-sub');
    const got: BusMessage[] = [];
    await bus(sub).subscribe('/ff/', (m) => got.push(m)).ready;
    for (let i = 0; i < 50; i++) bus(a).publish('/ff/', i);
    const throttled = await bus(a).flush().then(() => null, (e: unknown) => e);
    assert.ok(throttled instanceof MusterClientError && throttled.code === 'THROTTLED', `flush: ${String(throttled)}`);
    assert.ok((throttled.details?.retryAfterMs as number) > 0);
    assert.equal(seen.at(-1)?.code, 'THROTTLED');
    await until('the burst delivered', () => got.length >= 5);
    assert.ok(got.length < 50, `${got.length} delivered: the rest were refused`);
    await bus(a).flush();
  });

  test('a turn\'s first publish leaves at once; the rest of the turn\'s leave as one WebSocket frame', async () => {
    const h = await hub();
    const seen = { frames: 0, maxBuffered: 0 };
    const a = await member(h.url, 'batch-a', { webSocket: (u) => countingSocket(u, seen) });
    const sub = await member(h.url, 'batch-sub');
    const got: BusMessage[] = [];
    await bus(sub).subscribe('/batch/', (m) => got.push(m)).ready;
    bus(a).publish('/batch/', 'warm-up');
    await bus(a).flush();
    const before = seen.frames;
    bus(a).publish('/batch/', { i: 0 });
    // Nothing was waiting: the first goes before the turn ends (a request does not wait for the turn either).
    assert.equal(seen.frames - before, 1, 'the first publish is written at once');
    for (let i = 1; i < 200; i++) bus(a).publish('/batch/', { i });
    assert.equal(seen.frames - before, 1, 'the rest wait for the turn\'s end');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.frames - before, 2, '200 publishes, two frames');
    await until('200 delivered', () => got.length === 201);
    assert.deepEqual(got.slice(1).map((m) => (m.data as { i: number }).i), Array.from({ length: 200 }, (_, i) => i), 'in order');
  });

  test('requests of one turn leave in frames of four (the first at once), so a window of them is not one group every stage waits for; all are answered in order', async () => {
    const h = await hub();
    const seen = { frames: 0, maxBuffered: 0 };
    const a = await member(h.url, 'groups-a', { webSocket: (u) => countingSocket(u, seen) });
    const b = await member(h.url, 'groups-b');
    bus(b).onRequest('echo', (p) => p);
    assert.equal(await bus(a).request('groups-b', 'echo', 'warm-up'), 'warm-up');
    await bus(a).flush();
    const before = seen.frames;
    const answers: Promise<unknown>[] = [bus(a).request('groups-b', 'echo', 0)];
    assert.equal(seen.frames - before, 1, 'the first request is written at once');
    for (let i = 1; i <= 10; i++) answers.push(bus(a).request('groups-b', 'echo', i));
    // 10 more in this turn: two frames of four went as they filled, two wait for the turn's end.
    assert.equal(seen.frames - before, 3, 'frames of four requests leave as they fill');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.frames - before, 4, '11 requests, four frames');
    assert.deepEqual(await Promise.all(answers), Array.from({ length: 11 }, (_, i) => i));
  });

  test('bytes round-trip exactly: every byte value, empty, a view into a larger buffer, 300 KB; through publish and request/reply', async () => {
    const h = await hub();
    const a = await member(h.url, 'bytes-a');
    const b = await member(h.url, 'bytes-b');
    const got: BusMessage[] = [];
    await bus(b).subscribe('/bytes/', (m) => got.push(m)).ready;
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    const big = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff);
    const backing = Uint8Array.from([9, 9, 1, 2, 3, 9, 9]);
    const sent = [every, new Uint8Array(0), backing.subarray(2, 5), big];
    for (const p of sent) bus(a).publish('/bytes/', p);
    await bus(a).flush();
    await until('4 messages', () => got.length === 4);
    for (let i = 0; i < sent.length; i++) {
      assert.equal((got[i]!.data as object).constructor, Uint8Array, 'a plain Uint8Array');
      assert.deepEqual(got[i]!.data, sent[i]);
    }
    bus(b).onRequest('echo', (p) => p);
    assert.deepEqual(await bus(a).request('bytes-b', 'echo', every), every);
    assert.deepEqual(await bus(a).request('bytes-b', 'echo', { text: 'é ✓' }), { text: 'é ✓' });
  });
});

describe('bus - SDK backpressure', () => {
  test('a hub that stops reading: the awaited flush waits, the send buffer stays within maxPendingBytes, publishing past it throws SEND_BUFFER_FULL; all arrive once it reads again', async () => {
    const dir = tempDir();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ busRateLimits: UNLIMITED, busQueueMessages: 1_000_000, busQueueBytes: 512 * 1024 * 1024 }));
    const p = await spawnHub(['--data', dir, '--config', config]);
    cleanups.push(() => { process.kill(p.pid, 'SIGCONT'); return p.kill('SIGKILL'); });
    const maxPendingBytes = 256 * 1024;
    const seen = { frames: 0, maxBuffered: 0 };
    const pub = await member(p.url, 'bp-pub', { maxPendingBytes, webSocket: (u) => countingSocket(u, seen), requestTimeoutMs: 60_000 });
    const sub = await member(p.url, 'bp-sub');
    let received = 0;
    await bus(sub).subscribe('/bp/', () => { received++; }).ready;

    process.kill(p.pid, 'SIGSTOP');
    const payload = new Uint8Array(1024);
    let published = 0;
    let waiting: Promise<void> | null = null;
    // The producer: publish until told to wait, then await flush (which cannot finish while the hub sleeps).
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (!bus(pub).publish('/bp/', payload)) { waiting = bus(pub).flush(); break; }
      published++;
      if (published % 256 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.ok(waiting, `publish said wait after ${published} messages`);
    const settled = await Promise.race([waiting.then(() => 'flushed'), new Promise((r) => setTimeout(() => r('waiting'), 500))]);
    assert.equal(settled, 'waiting', 'flush waits while the hub does not read');
    assert.ok(seen.maxBuffered <= maxPendingBytes + 64 * 1024 + 2048, `socket held ${seen.maxBuffered} bytes, bound ${maxPendingBytes}`);
    // A producer that ignores the signal is stopped at the bound, not given memory.
    let refused: unknown = null;
    let more = 0;
    for (; more < 100_000 && refused === null; more++) {
      try { bus(pub).publish('/bp/', payload); } catch (e) { refused = e; }
    }
    assert.equal(codeOf(refused), 'SEND_BUFFER_FULL');
    assert.ok(more < 1000, `refused after ${more} more`);

    process.kill(p.pid, 'SIGCONT');
    await waiting;
    await bus(pub).flush();
    const total = published + 1 + (more - 1);
    await until(`${total} received`, () => received === total, 20_000);
  });
});
