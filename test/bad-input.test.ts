import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ERRORS } from '../src/errors.js';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
let keeper: { id: string; name: string; token: string };
let snapshot: string;
const MAX = 64 * 1024;

async function members(): Promise<string> {
  const r = (await (await fetch(`${h.url}/v1/members?limit=1000`)).json()) as { members: any[] };
  return JSON.stringify(r.members.map((m) => [m.id, m.name, m.type, m.address, m.meta, m.liveness]));
}

before(async () => {
  h = await startHub({ maxMessageBytes: MAX, maxMembers: 4 });
  const r = await fetch(h.url + '/v1/members', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'keeper', type: 'svc', address: 'k:1', meta: { a: 'b' } }) });
  keeper = (await r.json()) as typeof keeper;
  snapshot = await members();
});
after(async () => { await h.stop(); });

const long = (n: number) => 'x'.repeat(n);
const tooMuchMeta = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v']));

/** [description, method, path, body (string = raw), headers, expected status, expected code] */
type HttpCase = [string, string, string, unknown, Record<string, string>, number, string];
const json = { 'content-type': 'application/json' };
const httpCases = (): HttpCase[] => [
  ['malformed JSON', 'POST', '/v1/members', '{"type":', json, 400, 'PARSE_ERROR'],
  ['JSON array body', 'POST', '/v1/members', '[1,2]', json, 400, 'INVALID_REQUEST'],
  ['JSON string body', 'POST', '/v1/members', '"hi"', json, 400, 'INVALID_REQUEST'],
  ['empty JSON body (no body: type is missing)', 'POST', '/v1/members', '', json, 400, 'INVALID_PARAMS'],
  ['not JSON content type', 'POST', '/v1/members', 'type=x', { 'content-type': 'application/x-www-form-urlencoded' }, 400, 'INVALID_REQUEST'],
  ['missing type', 'POST', '/v1/members', { name: 'a' }, json, 400, 'INVALID_PARAMS'],
  ['type is a number', 'POST', '/v1/members', { type: 5 }, json, 400, 'INVALID_PARAMS'],
  ['type is empty', 'POST', '/v1/members', { type: '' }, json, 400, 'INVALID_PARAMS'],
  ['type too long', 'POST', '/v1/members', { type: long(65) }, json, 400, 'INVALID_PARAMS'],
  ['name with a space', 'POST', '/v1/members', { type: 't', name: 'a b' }, json, 400, 'INVALID_NAME'],
  ['name with a slash', 'POST', '/v1/members', { type: 't', name: 'a/b' }, json, 400, 'INVALID_NAME'],
  ['name empty', 'POST', '/v1/members', { type: 't', name: '' }, json, 400, 'INVALID_NAME'],
  ['name too long', 'POST', '/v1/members', { type: 't', name: long(65) }, json, 400, 'INVALID_NAME'],
  ['name unicode', 'POST', '/v1/members', { type: 't', name: 'caméra' }, json, 400, 'INVALID_NAME'],
  ['name is an object', 'POST', '/v1/members', { type: 't', name: { a: 1 } }, json, 400, 'INVALID_PARAMS'],
  ['too much meta', 'POST', '/v1/members', { type: 't', meta: tooMuchMeta }, json, 400, 'INVALID_PARAMS'],
  ['meta value not a string', 'POST', '/v1/members', { type: 't', meta: { a: 1 } }, json, 400, 'INVALID_PARAMS'],
  ['meta value too long', 'POST', '/v1/members', { type: 't', meta: { a: long(300) } }, json, 400, 'INVALID_PARAMS'],
  ['meta key with a space', 'POST', '/v1/members', { type: 't', meta: { 'a b': 'c' } }, json, 400, 'INVALID_PARAMS'],
  ['meta is an array', 'POST', '/v1/members', { type: 't', meta: ['a'] }, json, 400, 'INVALID_PARAMS'],
  ['address too long', 'POST', '/v1/members', { type: 't', address: long(600) }, json, 400, 'INVALID_PARAMS'],
  ['unknown field', 'POST', '/v1/members', { type: 't', colour: 'red' }, json, 400, 'INVALID_PARAMS'],
  ['unknown liveness kind', 'POST', '/v1/members', { type: 't', liveness: { kind: 'magic' } }, json, 400, 'INVALID_PARAMS'],
  ['liveness shorthand unknown', 'POST', '/v1/members', { type: 't', liveness: 'forever' }, json, 400, 'INVALID_PARAMS'],
  ['ttl negative', 'POST', '/v1/members', { type: 't', liveness: { kind: 'ttl', ttlMs: -5 } }, json, 400, 'INVALID_PARAMS'],
  ['ttl not an integer', 'POST', '/v1/members', { type: 't', liveness: { kind: 'ttl', ttlMs: 1.5 } }, json, 400, 'INVALID_PARAMS'],
  ['probe without target', 'POST', '/v1/members', { type: 't', liveness: { kind: 'probe' } }, json, 400, 'INVALID_PARAMS'],
  ['probe with a file URL', 'POST', '/v1/members', { type: 't', liveness: { kind: 'probe', target: 'file:///etc/passwd' } }, json, 400, 'INVALID_PARAMS'],
  ['session liveness over HTTP', 'POST', '/v1/members', { type: 't', liveness: 'session' }, json, 400, 'INVALID_PARAMS'],
  ['exclusive not a boolean', 'POST', '/v1/members', { type: 't', exclusive: 'yes' }, json, 400, 'INVALID_PARAMS'],
  ['exclusive on a taken name', 'POST', '/v1/members', { type: 't', name: 'keeper', exclusive: true }, json, 409, 'NAME_TAKEN'],
  ['oversized body', 'POST', '/v1/members', JSON.stringify({ type: 't', address: long(MAX) }), json, 413, 'PAYLOAD_TOO_LARGE'],
  ['heartbeat without a token', 'PUT', '/v1/members/KEEPER/heartbeat', undefined, {}, 401, 'UNAUTHORIZED'],
  ['heartbeat with a wrong token', 'PUT', '/v1/members/KEEPER/heartbeat', undefined, { authorization: 'Bearer wrong' }, 401, 'UNAUTHORIZED'],
  ['heartbeat with a malformed auth header', 'PUT', '/v1/members/KEEPER/heartbeat', undefined, { authorization: 'Basic abc' }, 401, 'UNAUTHORIZED'],
  ['heartbeat unknown member', 'PUT', '/v1/members/nobody/heartbeat', undefined, { authorization: 'Bearer x' }, 404, 'NO_SUCH_MEMBER'],
  ['update with a wrong token', 'PATCH', '/v1/members/KEEPER', { address: 'evil' }, { ...json, authorization: 'Bearer wrong' }, 401, 'UNAUTHORIZED'],
  ['update with bad meta', 'PATCH', '/v1/members/KEEPER', { meta: { a: 5 } }, { ...json, authorization: 'Bearer TOKEN' }, 400, 'INVALID_PARAMS'],
  ['update renaming', 'PATCH', '/v1/members/KEEPER', { name: 'new' }, { ...json, authorization: 'Bearer TOKEN' }, 400, 'INVALID_PARAMS'],
  ['delete with a wrong token', 'DELETE', '/v1/members/KEEPER', undefined, { authorization: 'Bearer wrong' }, 401, 'UNAUTHORIZED'],
  ['get unknown member', 'GET', '/v1/members/nobody', undefined, {}, 404, 'NO_SUCH_MEMBER'],
  ['list with a bad status', 'GET', '/v1/members?status=dead', undefined, {}, 400, 'INVALID_PARAMS'],
  ['list with limit 0', 'GET', '/v1/members?limit=0', undefined, {}, 400, 'INVALID_PARAMS'],
  ['list with a huge limit', 'GET', '/v1/members?limit=999999', undefined, {}, 400, 'INVALID_PARAMS'],
  ['list with a text limit', 'GET', '/v1/members?limit=ten', undefined, {}, 400, 'INVALID_PARAMS'],
  ['list with a repeated param', 'GET', '/v1/members?type=a&type=b', undefined, {}, 400, 'INVALID_PARAMS'],
  ['list with an unknown param', 'GET', '/v1/members?colour=red', undefined, {}, 400, 'INVALID_PARAMS'],
  ['unknown route', 'GET', '/v1/nothing', undefined, {}, 404, 'NOT_FOUND'],
  ['wrong method', 'PUT', '/v1/info', undefined, {}, 404, 'NOT_FOUND'],
  ['events with a bad since', 'GET', '/v1/events?since=-1', undefined, {}, 400, 'INVALID_PARAMS'],
];

describe('bad input - HTTP', () => {
  test('every kind of bad request gets its status and stable code, and changes nothing', async () => {
    const cases = httpCases();
    assert.ok(cases.length >= 50, `${cases.length} cases`);
    for (const [what, method, rawPath, body, headers, status, code] of cases) {
      const path = rawPath.replace('KEEPER', keeper.id);
      const hdrs = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('TOKEN', keeper.token)]));
      const res = await fetch(h.url + path, { method, headers: hdrs, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      let parsed: any;
      assert.doesNotThrow(() => { parsed = JSON.parse(text); }, `${what}: answer is JSON (${text.slice(0, 80)})`);
      assert.equal(res.status, status, `${what}: status (${text.slice(0, 200)})`);
      assert.equal(parsed.error?.code, code, `${what}: code`);
      assert.equal(typeof parsed.error.message, 'string', `${what}: message`);
      assert.ok(parsed.error.message.length > 5 && parsed.error.message.length < 400, `${what}: readable message`);
      assert.equal(ERRORS[code as keyof typeof ERRORS].status, status, `${what}: status matches the catalogue`);
    }
    assert.equal(await members(), snapshot, 'no member was lost or changed');
  });

  test('a connection that sends garbage bytes is closed without harming the hub', async () => {
    const port = Number(new URL(h.url).port);
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write(Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10])));
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      setTimeout(() => { s.destroy(); resolve(); }, 2000);
    });
    assert.equal((await fetch(h.url + '/healthz')).status, 200);
  });
});

type WsCase = [string, string | Buffer, string];
const wsCases = (): WsCase[] => {
  const rpc = (method: string, params?: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  return [
    ['not JSON', '{"jsonrpc":', 'PARSE_ERROR'],
    ['plain text', 'hello', 'PARSE_ERROR'],
    ['a number', '42', 'INVALID_REQUEST'],
    ['null', 'null', 'INVALID_REQUEST'],
    ['empty batch', '[]', 'INVALID_REQUEST'],
    ['wrong jsonrpc version', JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'info' }), 'INVALID_REQUEST'],
    ['no jsonrpc field', JSON.stringify({ id: 1, method: 'info' }), 'INVALID_REQUEST'],
    ['method not a string', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 5 }), 'INVALID_REQUEST'],
    ['method empty', JSON.stringify({ jsonrpc: '2.0', id: 1, method: '' }), 'INVALID_REQUEST'],
    ['id is an object', JSON.stringify({ jsonrpc: '2.0', id: { a: 1 }, method: 'info' }), 'INVALID_REQUEST'],
    ['params a string', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'info', params: 'x' }), 'INVALID_PARAMS'],
    ['unknown method', rpc('members.destroyAll'), 'METHOD_NOT_FOUND'],
    ['register without type', rpc('register', {}), 'INVALID_PARAMS'],
    ['register with a bad name', rpc('register', { type: 't', name: '../etc' }), 'INVALID_NAME'],
    ['register with too much meta', rpc('register', { type: 't', meta: tooMuchMeta }), 'INVALID_PARAMS'],
    ['register with positional params', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'register', params: ['t'] }), 'INVALID_PARAMS'],
    ['register exclusive taken', rpc('register', { type: 't', name: 'keeper', exclusive: true }), 'NAME_TAKEN'],
    ['register with a wrong registration field', rpc('register', { type: 't', liveness: { kind: 'ttl', ttlMs: 'soon' } }), 'INVALID_PARAMS'],
    ['heartbeat without a token', rpc('heartbeat', { id: 'KEEPER' }), 'UNAUTHORIZED'],
    ['heartbeat with a wrong token', rpc('heartbeat', { id: 'KEEPER', token: 'nope' }), 'UNAUTHORIZED'],
    ['update with a wrong token', rpc('update', { id: 'KEEPER', token: 'nope', address: 'evil' }), 'UNAUTHORIZED'],
    ['unregister with a wrong token', rpc('unregister', { id: 'KEEPER', token: 'nope' }), 'UNAUTHORIZED'],
    ['unregister without id', rpc('unregister', {}), 'INVALID_PARAMS'],
    ['get with a number', rpc('get', { name: 5 }), 'INVALID_PARAMS'],
    ['list with a bad limit', rpc('list', { limit: -1 }), 'INVALID_PARAMS'],
    ['watch with a bad filter', rpc('watch', { filter: { types: ['exploded'] } }), 'INVALID_PARAMS'],
    ['watch with a negative since', rpc('watch', { since: -3 }), 'INVALID_PARAMS'],
    ['unwatch with text', rpc('unwatch', { watch: 'all' }), 'INVALID_PARAMS'],
    ['auth without token', rpc('auth', {}), 'INVALID_PARAMS'],
    ['oversized message', rpc('register', { type: 't', address: long(MAX + 10) }), 'PAYLOAD_TOO_LARGE'],
    ['binary frame that is not a bus frame', Buffer.from([1, 2, 3]), 'INVALID_REQUEST'],
    ['bus frame cut short', Buffer.from([0xb5, 1]), 'INVALID_REQUEST'],
  ];
};

describe('bad input - WebSocket', () => {
  test('every kind of bad message gets a JSON-RPC error with a stable code; the connection and hub keep serving', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    const cases = wsCases();
    assert.ok(cases.length >= 30, `${cases.length} cases`);
    for (const [what, frame, code] of cases) {
      const sent = typeof frame === 'string' ? frame.replace('KEEPER', keeper.id) : frame;
      const reply = JSON.parse(await p.raw(sent));
      assert.equal(reply.jsonrpc, '2.0', what);
      if (Buffer.isBuffer(sent)) {
        // Binary frames belong to the bus's frame format; a malformed one is answered by a bus.error notification.
        assert.equal(reply.method, 'bus.error', what);
        assert.equal(reply.params.code, code, `${what}: ${JSON.stringify(reply).slice(0, 200)}`);
        continue;
      }
      assert.equal(reply.error?.data?.code, code, `${what}: ${JSON.stringify(reply).slice(0, 200)}`);
      assert.equal(reply.error.code, ERRORS[code as keyof typeof ERRORS].rpc, `${what}: numeric code`);
      assert.ok(typeof reply.error.message === 'string' && reply.error.message.length > 5, `${what}: message`);
    }
    assert.equal((await p.ok('info')).name, 'muster', 'the same connection still works');
    await p.close();
    assert.equal(await members(), snapshot, 'no member was lost or changed');
  });

  test('a frame over the hard limit closes that connection with 1009, others are unaffected', async () => {
    const other = await RpcPeer.connect(h.wsUrl);
    const ws = new WebSocket(h.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const code = await new Promise<number>((resolve) => {
      ws.once('close', (c) => resolve(c));
      ws.send(Buffer.alloc(MAX * 4 + 100, 0x20));
    });
    assert.equal(code, 1009);
    assert.equal((await other.ok('get', { name: 'keeper' })).id, keeper.id);
    await other.close();
  });

  test('the registry keeps serving: a full registry says REGISTRY_FULL over WebSocket too', async () => {
    const p = await RpcPeer.connect(h.wsUrl);
    for (let i = 0; i < 3; i++) await p.ok('register', { type: 'filler' });
    const full = await p.call('register', { type: 'filler' });
    assert.equal(full.error?.data?.code, 'REGISTRY_FULL');
    await p.close();
  });
});
