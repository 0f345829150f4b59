import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

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
