/**
 * Binary request/reply (request, handle, reply and error records of the bus binary format), over
 * a real hub and real sockets: round trips, every error code, binary and JSON (SDK) members
 * mixed both ways, and bad records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { bus, connect, MusterClientError, type MusterClient } from '../src/client/index.js';
import {
  decodeHubFrame, encodeAnswerRecord, encodeRequestRecord, frameOf, KIND_ERROR, KIND_HANDLE, KIND_REPLY, KIND_REQUEST,
  type AnswerRecord, type RequestRecord,
} from '../src/faces/native/bus-binary.js';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
before(async () => {
  h = await startHub({ busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 }, limited: { messagesPerSec: 3, bytesPerSec: 0, burstSec: 1 } } });
});
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
  await h.stop();
});

interface Answer { kind: number; from: string; where: string; isBytes: boolean; payload: Buffer }

/** A member on a raw WebSocket: JSON-RPC for setup, binary records for requests and their answers. */
class BinPeer {
  readonly ws: WebSocket;
  readonly handles: RequestRecord[] = [];
  readonly answers = new Map<number, Answer>();
  readonly notices: { method: string; params: any }[] = [];
  #next = 1;
  readonly #calls = new Map<number, (m: any) => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        decodeHubFrame(data, {
          handle: (r) => this.handles.push({ ...r, payload: Buffer.from(r.payload) }),
          answer: (r: AnswerRecord) => this.answers.set(r.id, { kind: r.kind, from: r.from, where: r.where, isBytes: r.isBytes, payload: Buffer.from(r.payload) }),
        });
        return;
      }
      const v = JSON.parse(data.toString());
      for (const m of Array.isArray(v) ? v : [v]) {
        if (m.method) this.notices.push(m);
        else this.#calls.get(m.id)?.(m);
      }
    });
  }

  static async open(name: string, options: { binary?: boolean; type?: string } = {}): Promise<BinPeer> {
    const ws = new WebSocket(h.wsUrl);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const p = new BinPeer(ws);
    closers.push(() => p.close());
    await p.ok('register', { name, type: options.type ?? 'svc', liveness: 'session' });
    if (options.binary ?? true) assert.deepEqual(await p.ok('bus.format', { binary: true }), { binary: true });
    return p;
  }

  call(method: string, params: unknown): Promise<any> {
    const id = this.#next++;
    return new Promise((resolve) => { this.#calls.set(id, resolve); this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params })); });
  }

  async ok(method: string, params: unknown): Promise<any> {
    const r = await this.call(method, params);
    if (r.error) throw new Error(`${method}: ${r.error.data?.code} ${r.error.message}`);
    return r.result;
  }

  /** Sends request records in one frame. */
  ask(...records: { id: number; to: string; method: string; payload?: Uint8Array; isBytes?: boolean; timeoutMs?: number; from?: string }[]): void {
    this.ws.send(frameOf(records.map((r) => encodeRequestRecord({
      kind: KIND_REQUEST, isBytes: r.isBytes ?? true, from: r.from ?? '', where: r.to, id: r.id, timeoutMs: r.timeoutMs ?? 0, method: r.method,
      payload: r.payload ?? new Uint8Array(0),
    }))));
  }

  /** Answers a handle record: a reply, or an error record with the given error object. */
  answer(id: number, result: { bytes?: Uint8Array; json?: unknown; error?: unknown }): void {
    const isError = result.error !== undefined;
    const payload = result.bytes ?? Buffer.from(JSON.stringify(isError ? result.error : result.json ?? null));
    this.ws.send(frameOf([encodeAnswerRecord({ kind: isError ? KIND_ERROR : KIND_REPLY, isBytes: result.bytes !== undefined, from: '', where: '', id, payload })]));
  }

  async answerOf(id: number, timeoutMs = 5000): Promise<Answer> {
    await until(() => this.answers.has(id), `answer ${id}`, timeoutMs);
    return this.answers.get(id)!;
  }

  /** The error object of an error record, after checking it is one. */
  async errorOf(id: number, timeoutMs = 5000): Promise<{ code: string; message: string; details?: any }> {
    const a = await this.answerOf(id, timeoutMs);
    assert.equal(a.kind, KIND_ERROR, `answer ${id} is an error record: ${a.payload.toString()}`);
    const e = JSON.parse(a.payload.toString());
    assert.equal(a.where, e.code);
    return e;
  }

  async handle(method: string): Promise<RequestRecord> {
    await until(() => this.handles.some((r) => r.method === method), `handle ${method}`);
    const i = this.handles.findIndex((r) => r.method === method);
    return this.handles.splice(i, 1)[0]!;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A binary member that echoes `echo` requests and answers `fail` with an error record. */
function echo(p: BinPeer): void {
  p.ws.on('message', () => {
    for (const r of p.handles.splice(0)) {
      if (r.method === 'echo') p.answer(r.id, r.isBytes ? { bytes: r.payload } : { json: JSON.parse(Buffer.from(r.payload).toString() || 'null') });
      else if (r.method === 'fail') p.answer(r.id, { error: { code: 42, message: 'nope', data: { why: 'because' } } });
      else p.handles.push(r);
    }
  });
}

/** A member that speaks plain JSON-RPC (no SDK): it answers each bus.handle as `answer` says. */
async function jsonMember(name: string, answer: (method: string, params: unknown) => { result?: unknown; error?: { code: number; message: string } }): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
  closers.push(() => p.close());
  await p.ok('register', { name, type: 'svc', liveness: 'session' });
  p.ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { id?: number; method?: string; params?: { method: string; params?: unknown } };
    if (m.method === 'bus.handle' && m.params) p.ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, ...answer(m.params.method, m.params.params) }));
  });
  return p;
}

async function sdkMember(name: string): Promise<MusterClient> {
  const c = await connect({ url: h.url, reconnect: false });
  closers.push(() => c.close());
  await c.register({ name, type: 'svc' });
  return c;
}

describe('bus - binary request/reply', () => {
  test('a binary request reaches a binary member as a handle record; its reply comes back with the request id', async () => {
    const svc = await BinPeer.open('bq-svc');
    const asker = await BinPeer.open('bq-asker');
    const raw = Buffer.from([0, 1, 2, 250, 255]);
    asker.ask({ id: 7, to: 'bq-svc', method: 'echo', payload: raw, timeoutMs: 2500 });
    const r = await svc.handle('echo');
    assert.deepEqual([r.kind, r.from, r.where, r.timeoutMs, r.isBytes, Buffer.from(r.payload)], [KIND_HANDLE, 'bq-asker', 'bq-svc', 2500, true, raw]);
    svc.answer(r.id, { bytes: Buffer.from([9, 9]) });
    const a = await asker.answerOf(7);
    assert.deepEqual([a.kind, a.from, a.isBytes, a.payload], [KIND_REPLY, 'bq-svc', true, Buffer.from([9, 9])]);

    // JSON payloads both ways, several requests in one frame, answered out of order; a UTF-8 method.
    asker.ask({ id: 8, to: 'bq-svc', method: 'größe', payload: Buffer.from('{"a":1}'), isBytes: false },
      { id: 9, to: 'bq-svc', method: 'second', payload: Buffer.from('[2]'), isBytes: false });
    const first = await svc.handle('größe');
    const second = await svc.handle('second');
    svc.answer(second.id, { json: { n: 2 } });
    svc.answer(first.id, { json: 'one' });
    assert.deepEqual(JSON.parse((await asker.answerOf(9)).payload.toString()), { n: 2 });
    const a8 = await asker.answerOf(8);
    assert.equal(a8.isBytes, false);
    assert.equal(JSON.parse(a8.payload.toString()), 'one');
    const stats = await asker.ok('bus.stats', {});
    assert.ok(stats.totals.requests >= 3);
  });

  test('a requester that did not choose binary gets its answers as binary frames of their own', async () => {
    const svc = await BinPeer.open('bq-svc2');
    echo(svc);
    const asker = await BinPeer.open('bq-text-asker', { binary: false });
    asker.ask({ id: 1, to: 'bq-svc2', method: 'echo', payload: Buffer.from('hi') });
    assert.deepEqual((await asker.answerOf(1)).payload, Buffer.from('hi'));
  });

  test('errors: NO_SUCH_MEMBER, NOT_CONNECTED, TIMEOUT, MEMBER_GONE, MEMBER_ERROR, THROTTLED', async () => {
    const asker = await BinPeer.open('bq-err-asker');
    const svc = await BinPeer.open('bq-err-svc');
    echo(svc);
    asker.ask({ id: 1, to: 'bq-nobody', method: 'x' });
    assert.equal((await asker.errorOf(1)).code, 'NO_SUCH_MEMBER');

    const gone = await BinPeer.open('bq-closed');
    await gone.close();
    await new Promise((r) => setTimeout(r, 50));
    asker.ask({ id: 2, to: 'bq-closed', method: 'x' });
    assert.equal((await asker.errorOf(2)).code, 'NOT_CONNECTED');

    const t0 = Date.now();
    asker.ask({ id: 3, to: 'bq-err-svc', method: 'silent', timeoutMs: 150 });
    const timeout = await asker.errorOf(3);
    assert.equal(timeout.code, 'TIMEOUT');
    assert.deepEqual(timeout.details, { timeoutMs: 150 });
    assert.ok(Date.now() - t0 >= 140);
    await svc.handle('silent');

    asker.ask({ id: 4, to: 'bq-err-svc', method: 'fail' });
    const failed = await asker.errorOf(4);
    assert.deepEqual(failed, { code: 'MEMBER_ERROR', message: 'nope', details: { member: 'bq-err-svc', error: { code: 42, message: 'nope', data: { why: 'because' } } } });

    const leaving = await BinPeer.open('bq-leaving');
    asker.ask({ id: 5, to: 'bq-leaving', method: 'never', timeoutMs: 5000 });
    await leaving.handle('never');
    await leaving.close();
    assert.equal((await asker.errorOf(5)).code, 'MEMBER_GONE');

    // A late answer (after the timeout) is ignored, and the member keeps serving.
    const late = await BinPeer.open('bq-late');
    asker.ask({ id: 6, to: 'bq-late', method: 'slow', timeoutMs: 50 });
    const slow = await late.handle('slow');
    assert.equal((await asker.errorOf(6)).code, 'TIMEOUT');
    late.answer(slow.id, { json: 'too late' });
    echo(late);
    asker.ask({ id: 7, to: 'bq-late', method: 'echo', payload: Buffer.from([1]) });
    assert.deepEqual((await asker.answerOf(7)).payload, Buffer.from([1]));

    const limited = await BinPeer.open('bq-limited', { type: 'limited' });
    limited.ask(...[10, 11, 12, 13, 14, 15].map((id) => ({ id, to: 'bq-err-svc', method: 'echo', payload: Buffer.from([id]) })));
    const outcomes = await Promise.all([10, 11, 12, 13, 14, 15].map((id) => limited.answerOf(id)));
    const throttled = outcomes.filter((a) => a.kind === KIND_ERROR).map((a) => JSON.parse(a.payload.toString()));
    assert.ok(throttled.length >= 1 && outcomes.some((a) => a.kind === KIND_REPLY), `some answered, some throttled: ${outcomes.map((a) => a.kind)}`);
    for (const e of throttled) {
      assert.equal(e.code, 'THROTTLED');
      assert.ok(e.details.retryAfterMs > 0);
    }
  });

  test('open requests are capped per connection: past 10,000 the requester gets THROTTLED, and the hub keeps serving', async () => {
    const sink = await BinPeer.open('bq-sink');
    const asker = await BinPeer.open('bq-many');
    const ids = Array.from({ length: 10_001 }, (_, i) => i + 1);
    for (let i = 0; i < ids.length; i += 2000) {
      asker.ask(...ids.slice(i, i + 2000).map((id) => ({ id, to: 'bq-sink', method: 'hold', timeoutMs: 30_000 })));
    }
    const over = await asker.errorOf(10_001);
    assert.equal(over.code, 'THROTTLED');
    await until(() => sink.handles.length === 10_000, '10,000 handles');
    assert.equal(asker.answers.size, 1);
    await sink.close(); // every open request ends MEMBER_GONE
    await until(() => asker.answers.size === 10_001, 'MEMBER_GONE for all');
    assert.equal((await asker.errorOf(1)).code, 'MEMBER_GONE');
    const svc = await BinPeer.open('bq-after-cap');
    echo(svc);
    asker.ask({ id: 20_000, to: 'bq-after-cap', method: 'echo', payload: Buffer.from('ok') });
    assert.deepEqual((await asker.answerOf(20_000)).payload, Buffer.from('ok'));
  });

  test('a binary requester asks a JSON-RPC member: JSON in and out, bytes as {bytes: base64}, errors as MEMBER_ERROR', async () => {
    await jsonMember('bq-json-calc', (method, params) => {
      if (method === 'add') return { result: { sum: (params as { a: number; b: number }).a + (params as { a: number; b: number }).b } };
      if (method === 'show') return { result: params ?? null };
      return { error: { code: -32000, message: 'cannot' } };
    });
    const asker = await BinPeer.open('bq-bin-to-json');
    asker.ask({ id: 1, to: 'bq-json-calc', method: 'add', payload: Buffer.from('{"a":2,"b":40}'), isBytes: false });
    const a1 = await asker.answerOf(1);
    assert.deepEqual([a1.kind, a1.from, a1.isBytes, JSON.parse(a1.payload.toString())], [KIND_REPLY, 'bq-json-calc', false, { sum: 42 }]);
    asker.ask({ id: 2, to: 'bq-json-calc', method: 'show', payload: Buffer.from([1, 2, 3]) });
    assert.deepEqual(JSON.parse((await asker.answerOf(2)).payload.toString()), { bytes: 'AQID' });
    asker.ask({ id: 3, to: 'bq-json-calc', method: 'fail' });
    const e = await asker.errorOf(3);
    assert.equal(e.code, 'MEMBER_ERROR');
    assert.equal(e.message, 'cannot');
    asker.ask({ id: 4, to: 'bq-json-calc', method: 'show', isBytes: false }); // an empty JSON payload is null
    assert.equal(JSON.parse((await asker.answerOf(4)).payload.toString()), null);
  });

  test('a JSON-RPC requester, and HTTP, ask a binary member: it gets handle records; bytes replies arrive as {bytes: base64}', async () => {
    const svc = await BinPeer.open('bq-bin-svc');
    echo(svc);
    const asker = await RpcPeer.connect(h.wsUrl);
    closers.push(() => asker.close());
    await asker.ok('register', { name: 'bq-json-asker', type: 'svc', liveness: 'session' });
    assert.deepEqual(await asker.ok('bus.request', { to: 'bq-bin-svc', method: 'echo', params: { x: [1, 'two'] } }), { x: [1, 'two'] });
    const failed = await asker.call('bus.request', { to: 'bq-bin-svc', method: 'fail' });
    assert.equal(failed.error?.data?.code, 'MEMBER_ERROR');
    assert.deepEqual((failed.error?.data?.details as { error?: unknown } | undefined)?.error, { code: 42, message: 'nope', data: { why: 'because' } });
    const silent = await asker.call('bus.request', { to: 'bq-bin-svc', method: 'silent', timeoutMs: 100 });
    assert.equal(silent.error?.data?.code, 'TIMEOUT');
    assert.equal(svc.handles.find((r) => r.method === 'silent')?.from, 'bq-json-asker');

    const bytesSvc = await BinPeer.open('bq-bytes-svc');
    bytesSvc.ws.on('message', () => { for (const r of bytesSvc.handles.splice(0)) bytesSvc.answer(r.id, { bytes: Buffer.from([255, 0]) }); });
    assert.deepEqual(await asker.ok('bus.request', { to: 'bq-bytes-svc', method: 'any' }), { bytes: '/wA=' });

    const res = await fetch(`${h.url}/v1/members/bq-bin-svc/request`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${(await import('./support/hub.js')).ADMIN_TOKEN}` },
      body: JSON.stringify({ method: 'echo', params: { via: 'http' } }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { result: { via: 'http' } });
  });

  test('the SDK (binary records) asks and answers binary members: JSON values and bytes as bytes, errors as MEMBER_ERROR', async () => {
    const calc = await sdkMember('bq-sdk-calc');
    bus(calc).onRequest('add', (p) => ({ sum: (p as { a: number; b: number }).a + (p as { a: number; b: number }).b }));
    bus(calc).onRequest('show', (p) => p);
    const asker = await BinPeer.open('bq-bin-to-sdk');
    asker.ask({ id: 1, to: 'bq-sdk-calc', method: 'add', payload: Buffer.from('{"a":2,"b":40}'), isBytes: false });
    assert.deepEqual(JSON.parse((await asker.answerOf(1)).payload.toString()), { sum: 42 });
    asker.ask({ id: 2, to: 'bq-sdk-calc', method: 'show', payload: Buffer.from([1, 2, 3]) });
    const a2 = await asker.answerOf(2);
    assert.deepEqual([a2.isBytes, [...a2.payload]], [true, [1, 2, 3]], 'bytes come back as bytes');

    const svc = await BinPeer.open('bq-bin-svc-2');
    echo(svc);
    const sdkAsker = await sdkMember('bq-sdk-asker');
    assert.deepEqual(await bus(sdkAsker).request('bq-bin-svc-2', 'echo', { x: [1, 'two'] }), { x: [1, 'two'] });
    await assert.rejects(bus(sdkAsker).request('bq-bin-svc-2', 'fail'), (e: unknown) => e instanceof MusterClientError && e.code === 'MEMBER_ERROR');
    const bytesSvc = await BinPeer.open('bq-bytes-svc-2');
    bytesSvc.ws.on('message', () => { for (const r of bytesSvc.handles.splice(0)) bytesSvc.answer(r.id, { bytes: Buffer.from([255, 0]) }); });
    assert.deepEqual(await bus(sdkAsker).request('bq-bytes-svc-2', 'any'), new Uint8Array([255, 0]));
  });

  test('bad records: a clear error (an error record, or bus.error for a malformed frame), and the hub keeps serving', async () => {
    const svc = await BinPeer.open('bq-bad-svc');
    echo(svc);
    const asker = await BinPeer.open('bq-bad-asker');
    asker.ask({ id: 1, to: 'bq-bad-svc', method: '' });
    assert.match((await asker.errorOf(1)).code, /^INVALID_PARAMS$/);
    asker.ask({ id: 2, to: 'bq-bad-svc', method: 'echo', payload: Buffer.from('{nope'), isBytes: false });
    const badJson = await asker.errorOf(2);
    assert.equal(badJson.code, 'INVALID_PARAMS');
    assert.match(badJson.message, /JSON/);
    asker.ask({ id: 3, to: 'bq-bad-svc', method: 'echo', timeoutMs: 300_001 });
    assert.equal((await asker.errorOf(3)).code, 'INVALID_PARAMS');
    asker.ask({ id: 4, to: 'bq-bad-svc', method: 'echo', from: 'bq-bad-svc' }); // not this connection's member
    assert.equal((await asker.errorOf(4)).code, 'UNAUTHORIZED');

    // A request record cut short: the frame is malformed, told by bus.error.
    const whole = encodeRequestRecord({ kind: KIND_REQUEST, isBytes: true, from: '', where: 'bq-bad-svc', id: 5, timeoutMs: 0, method: 'echo', payload: new Uint8Array(0) });
    const cut = Buffer.from(frameOf([whole]).subarray(0, 1 + 4 + 3 + 2 + 'bq-bad-svc'.length + 10));
    cut.writeUInt32LE(cut.length - 5, 1);
    asker.ws.send(cut);
    await until(() => asker.notices.some((n) => n.method === 'bus.error'), 'bus.error');
    const notice = asker.notices.find((n) => n.method === 'bus.error')!;
    assert.deepEqual([notice.params.code, /Malformed bus frame: truncated request record/.test(notice.params.message)], ['INVALID_REQUEST', true]);
    assert.equal(asker.answers.has(5), false);

    // Answers to ids that are not open at this connection (another's, or made up) are ignored.
    const other = await BinPeer.open('bq-bad-other');
    asker.ask({ id: 6, to: 'bq-bad-other', method: 'wait', timeoutMs: 2000 });
    const open = await other.handle('wait');
    svc.answer(open.id, { json: 'forged' });
    svc.answer(987_654_321, { json: 'nobody asked' });
    // A member's reply flagged JSON that is not JSON: the requester gets MEMBER_ERROR, the member bus.error.
    other.answer(open.id, { bytes: Buffer.from('{x') });
    const a6 = await asker.answerOf(6);
    assert.deepEqual(a6.payload, Buffer.from('{x'), 'the target answered (bytes)');
    asker.ask({ id: 7, to: 'bq-bad-other', method: 'wait2' });
    const w2 = await other.handle('wait2');
    other.ws.send(frameOf([encodeAnswerRecord({ kind: KIND_REPLY, isBytes: false, from: '', where: '', id: w2.id, payload: Buffer.from('{x') })]));
    const e7 = await asker.errorOf(7);
    assert.equal(e7.code, 'MEMBER_ERROR');
    await until(() => other.notices.some((n) => n.method === 'bus.error' && n.params.code === 'INVALID_PARAMS'), 'bus.error to the member');

    asker.ask({ id: 8, to: 'bq-bad-svc', method: 'echo', payload: Buffer.from('still here') });
    assert.deepEqual((await asker.answerOf(8)).payload, Buffer.from('still here'));
  });
});
