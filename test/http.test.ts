import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';

let h: TestHub;
before(async () => { h = await startHub({ maxMembers: 50 }); });
after(async () => { await h.stop(); });

async function api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(h.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('http - registration', () => {
  test('register answers 201 with id, name and token; get and list show the member', async () => {
    const r = await api('POST', '/v1/members', { name: 'cam-a', type: 'camera', address: '10.0.0.5:80', meta: { site: 'north' } });
    assert.equal(r.status, 201);
    assert.match(r.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.body.name, 'cam-a');
    assert.ok(r.body.token.length >= 40);
    const g = await api('GET', '/v1/members/cam-a');
    assert.equal(g.status, 200);
    assert.equal(g.body.type, 'camera');
    assert.equal(g.body.address, '10.0.0.5:80');
    assert.deepEqual(g.body.meta, { site: 'north' });
    assert.equal(g.body.status, 'alive');
    assert.deepEqual(g.body.liveness, { kind: 'ttl', ttlMs: 20000 });
    assert.equal(g.body.token, undefined, 'the token is never shown again');
    const byId = await api('GET', `/v1/members/${r.body.id}`);
    assert.equal(byId.body.name, 'cam-a');
  });

  test('a taken name gets the first free -N suffix; exclusive answers NAME_TAKEN', async () => {
    const a = await api('POST', '/v1/members', { name: 'dup', type: 't' });
    const b = await api('POST', '/v1/members', { name: 'dup', type: 't' });
    const c = await api('POST', '/v1/members', { name: 'dup', type: 't' });
    assert.deepEqual([a.body.name, b.body.name, c.body.name], ['dup', 'dup-1', 'dup-2']);
    await api('DELETE', `/v1/members/${b.body.id}`, undefined, b.body.token);
    const d = await api('POST', '/v1/members', { name: 'dup', type: 't' });
    assert.equal(d.body.name, 'dup-1', 'a freed suffix is reused');
    const e = await api('POST', '/v1/members', { name: 'dup', type: 't', exclusive: true });
    assert.equal(e.status, 409);
    assert.equal(e.body.error.code, 'NAME_TAKEN');
  });

  test('a name without one comes from the type', async () => {
    const r = await api('POST', '/v1/members', { type: 'thermo' });
    assert.equal(r.body.name, 'thermo');
  });

  test('re-registering with the token keeps id and name', async () => {
    const a = await api('POST', '/v1/members', { name: 'keeper', type: 'svc', address: 'a:1' });
    const b = await api('POST', '/v1/members', { name: 'other-name', type: 'svc', address: 'b:2', token: a.body.token });
    assert.equal(b.body.id, a.body.id);
    assert.equal(b.body.name, 'keeper');
    const g = await api('GET', '/v1/members/keeper');
    assert.equal(g.body.address, 'b:2');
  });

  test('heartbeat, update and unregister need the member token or the admin token', async () => {
    const a = await api('POST', '/v1/members', { name: 'guarded', type: 'svc', address: 'x:1' });
    const other = await api('POST', '/v1/members', { name: 'intruder', type: 'svc' });
    for (const [method, path, body] of [
      ['PUT', `/v1/members/${a.body.id}/heartbeat`, undefined],
      ['PATCH', `/v1/members/${a.body.id}`, { address: 'evil:1' }],
      ['DELETE', `/v1/members/${a.body.id}`, undefined],
    ] as const) {
      const none = await api(method, path, body);
      assert.equal(none.status, 401, `${method} without a token`);
      assert.equal(none.body.error.code, 'UNAUTHORIZED');
      const wrong = await api(method, path, body, other.body.token);
      assert.equal(wrong.status, 401, `${method} with another member's token`);
    }
    assert.equal((await api('GET', '/v1/members/guarded')).body.address, 'x:1', 'nothing changed');

    assert.equal((await api('PUT', `/v1/members/${a.body.id}/heartbeat`, undefined, a.body.token)).body.status, 'alive');
    const up = await api('PATCH', `/v1/members/${a.body.id}`, { address: 'y:2', meta: { v: '2' } }, a.body.token);
    assert.equal(up.status, 200);
    assert.equal(up.body.address, 'y:2');
    const admin = await api('PATCH', `/v1/members/guarded`, { meta: { by: 'admin' } }, ADMIN_TOKEN);
    assert.deepEqual(admin.body.meta, { by: 'admin' });
    assert.equal((await api('DELETE', `/v1/members/${a.body.id}`, undefined, a.body.token)).status, 200);
    assert.equal((await api('GET', '/v1/members/guarded')).status, 404);
  });

  test('list filters by type, status, prefix and meta, and pages by name', async () => {
    for (let i = 0; i < 7; i++) await api('POST', '/v1/members', { name: `node-${i}`, type: 'lister', meta: { rack: i % 2 ? 'odd' : 'even' } });
    const all = await api('GET', '/v1/members?type=lister');
    assert.equal(all.body.members.length, 7);
    const odd = await api('GET', '/v1/members?type=lister&meta.rack=odd');
    assert.deepEqual(odd.body.members.map((m: any) => m.name), ['node-1', 'node-3', 'node-5']);
    const pre = await api('GET', '/v1/members?prefix=node-&status=alive&limit=3');
    assert.deepEqual(pre.body.members.map((m: any) => m.name), ['node-0', 'node-1', 'node-2']);
    assert.equal(pre.body.next, 'node-2');
    const page2 = await api('GET', `/v1/members?prefix=node-&limit=3&after=${pre.body.next}`);
    assert.deepEqual(page2.body.members.map((m: any) => m.name), ['node-3', 'node-4', 'node-5']);
    const gone = await api('GET', '/v1/members?type=lister&status=gone');
    assert.equal(gone.body.members.length, 0);
  });

  test('a full registry answers REGISTRY_FULL and keeps serving', async () => {
    const before = (await api('GET', '/v1/info')).body.members.total;
    let full: any;
    for (let i = before; i < 60 && !full; i++) {
      const r = await api('POST', '/v1/members', { type: 'filler' });
      if (r.status !== 201) full = r;
    }
    assert.ok(full, 'the registry filled up');
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, 'REGISTRY_FULL');
    assert.equal((await api('GET', '/v1/info')).body.members.total, 50);
    assert.equal((await api('GET', '/healthz')).status, 200);
  });
});

describe('http - hub facts', () => {
  test('info gives version, ids, uptime, host, platform, node, counts and faces', async () => {
    const r = await api('GET', '/v1/info');
    assert.equal(r.status, 200);
    for (const k of ['version', 'hubId', 'hubName', 'startedAt', 'serverTime', 'uptimeMs', 'host', 'platform', 'node', 'members', 'faces']) assert.ok(k in r.body, k);
    assert.equal(r.body.hubId, 'test-hub');
    assert.equal(r.body.node, process.version);
    assert.ok(r.body.faces.some((f: any) => f.name === 'http+ws'));
  });

  test('metrics are Prometheus text with member counts', async () => {
    const res = await fetch(h.url + '/metrics');
    const text = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(text, /^muster_members\{status="alive"\} \d+$/m);
    assert.match(text, /^muster_registrations_total [1-9]\d*$/m);
    assert.match(text, /^muster_heartbeats_total [1-9]\d*$/m);
    assert.match(text, /^muster_removals_total\{reason="unregistered"\} [1-9]\d*$/m);
    // The process's own metrics: prefixed once (prom-client names them process_* and nodejs_*).
    assert.match(text, /^muster_process_resident_memory_bytes \d+/m);
    assert.match(text, /^muster_nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(text, /muster_process_process_|muster_process_nodejs_/);
  });

  test('openapi describes every route', async () => {
    const r = await api('GET', '/v1/openapi.json');
    assert.equal(r.body.openapi, '3.1.0');
    for (const p of ['/v1/members', '/v1/members/{member}', '/v1/members/{member}/heartbeat', '/v1/events', '/v1/info', '/healthz']) assert.ok(r.body.paths[p], p);
    assert.ok(r.body.paths['/v1/members'].post.requestBody.content['application/json'].schema.properties.liveness);
  });
});
