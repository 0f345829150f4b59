import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import WebSocket from 'ws';

let h: TestHub;
before(async () => { h = await startHub({ registrationKey: 'fleet-key-42' }); });
after(async () => { await h.stop(); });

const post = (body: unknown, token?: string) => fetch(h.url + '/v1/members', {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

describe('security - registration key', () => {
  test('without the key, or with a wrong one, registration is refused and nothing is added', async () => {
    for (const body of [{ type: 'dev' }, { type: 'dev', key: 'guess' }]) {
      const res = await post(body);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as any).error.code, 'UNAUTHORIZED');
    }
    const p = await RpcPeer.connect(h.wsUrl);
    assert.equal((await p.call('register', { type: 'dev' })).error?.data?.code, 'UNAUTHORIZED');
    await p.close();
    const list = (await (await fetch(h.url + '/v1/members')).json()) as { members: unknown[] };
    assert.equal(list.members.length, 0);
  });

  test('with the key, or as admin, registration works', async () => {
    assert.equal((await post({ type: 'dev', name: 'keyed', key: 'fleet-key-42' })).status, 201);
    assert.equal((await post({ type: 'dev', name: 'by-admin' }, ADMIN_TOKEN)).status, 201);
  });

  test('stored tokens are hashes: the database file never holds a token', async () => {
    const res = await post({ type: 'dev', name: 'secretive', key: 'fleet-key-42' });
    const { token } = (await res.json()) as { token: string };
    const { readFileSync, readdirSync } = await import('node:fs');
    const files = readdirSync(h.dataDir).map((f) => readFileSync(`${h.dataDir}/${f}`).toString('latin1'));
    assert.ok(files.length > 0);
    for (const f of files) assert.ok(!f.includes(token), 'the raw token is not on disk');
  });
});

describe('security - web pages of other origins', () => {
  /** Opens /v1/ws with the given Origin header: the HTTP status and error code when refused. */
  const open = (url: string, origin?: string) => new Promise<{ opened: boolean; status?: number; code?: string }>((resolve, reject) => {
    const socket = new WebSocket(url, origin === undefined ? {} : { origin });
    socket.on('open', () => { socket.close(); resolve({ opened: true }); });
    socket.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ opened: false, status: res.statusCode, code: (JSON.parse(body) as { error: { code: string } }).error.code }));
    });
    socket.on('error', reject);
  });

  test('a page from elsewhere (or a sandboxed one, origin "null") is refused 403 FORBIDDEN before any socket; programs, and the hub\'s own pages, get in', async () => {
    assert.deepEqual(await open(h.wsUrl, 'https://evil.example'), { opened: false, status: 403, code: 'FORBIDDEN' });
    assert.deepEqual(await open(h.wsUrl, 'null'), { opened: false, status: 403, code: 'FORBIDDEN' });
    assert.deepEqual(await open(h.wsUrl), { opened: true });
    assert.deepEqual(await open(h.wsUrl, h.url), { opened: true });
    const sdk = await RpcPeer.connect(h.wsUrl);
    assert.equal((await sdk.call('system.listMethods', {})).error, undefined, 'the hub keeps serving');
    await sdk.close();
  });

  test('allowOrigins lets the named origins in, and only them', async () => {
    const other = await startHub({ allowOrigins: ['https://app.example:8443'] });
    try {
      assert.deepEqual(await open(other.wsUrl, 'https://app.example:8443'), { opened: true });
      assert.deepEqual(await open(other.wsUrl, 'https://app.example'), { opened: false, status: 403, code: 'FORBIDDEN' });
    } finally {
      await other.stop();
    }
  });
});
