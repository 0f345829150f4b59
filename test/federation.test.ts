/**
 * Federation with real hub processes on loopback: root ← site ← cell, and root ← site2.
 * Members are SDK clients of the leaf hubs. Covers registration and records, the tree, hub/name
 * addressing (get, list, send, request, configure, stop), tree-wide bus scopes, duplicate ids and
 * wrong tokens, the root down and back, the root restarted with an empty store, a cell killed
 * with SIGKILL, and a graceful stop.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { bus, component, connect, MusterClientError, type BusMessage, type MemberView, type MusterClient } from '../src/client/index.js';
import type { TreeNode } from '../src/schemas/federation.js';
import { ADMIN_TOKEN, spawnHub, startHub, tempDir, type HubProcess } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { freePort } from './support/net.js';

const FED = 'federation-token-1';
const MONITOR_MS = 500;
const GRACE_MS = 1500;
const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
const dir = tempDir('muster-fed-');
const hubs: Record<string, HubProcess> = {};
const clients: MusterClient[] = [];
let rootPort = 0;

const common = ['--monitor-ms', String(MONITOR_MS), '--grace-ms', String(GRACE_MS), '--federation-token', FED];

function startRoot(): Promise<HubProcess> {
  return spawnHub(['--port', String(rootPort), '--hub-id', 'root', '--data', join(dir, 'root'), ...common]);
}

function startChild(id: string, parent: string): Promise<HubProcess> {
  return spawnHub(['--hub-id', id, '--data', join(dir, id), '--registrar', hubs[parent]!.url, '--registrar-token', FED, ...common]);
}

async function http<T = any>(hub: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(hubs[hub]!.url + path, {
    method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (${String(last)})` : ''}`);
}

const hubIds = (n: TreeNode): string[] => [n.hubId, ...n.children.flatMap(hubIds)];
const memberOf = async (hub: string, name: string) => (await http<MemberView>(hub, 'GET', `/v1/members/${encodeURIComponent(name)}`));

async function member(hub: string, name: string): Promise<MusterClient> {
  const c = await connect({ url: hubs[hub]!.url });
  clients.push(c);
  await c.register({ name, type: 'svc', liveness: 'session' });
  return c;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as MusterClientError).code;
  }
  return 'no error';
}

/** Watches the root's hub records; resolves with the `removed` event of hub `name`. */
async function watchRemoval(name: string) {
  const watcher = await connect({ url: hubs.root!.url, token: ADMIN_TOKEN, reconnect: false });
  clients.push(watcher);
  const w = watcher.watch({ type: 'hub' });
  const removed = (async () => {
    for await (const e of w) if (e.type === 'removed' && e.member.name === name) return e;
    return undefined;
  })();
  await new Promise((r) => setTimeout(r, 100));
  return { removed, w };
}

before(async () => {
  rootPort = await freePort();
  hubs.root = await startRoot();
  hubs.site = await startChild('site', 'root');
  hubs.site2 = await startChild('site2', 'root');
  hubs.cell = await startChild('cell', 'site');
  await eventually('the tree forms', async () => {
    const t = (await http<TreeNode>('root', 'GET', '/v1/tree')).body;
    return hubIds(t).sort().join(',') === 'cell,root,site,site2';
  });
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const h of Object.values(hubs)) await h.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('federation', () => {
  test('each side keeps a record of the other; the root knows every hub below it', async () => {
    const site = (await memberOf('root', 'site')).body;
    assert.equal(site.type, 'hub');
    assert.deepEqual(site.roles, ['registree']);
    assert.equal(site.address, hubs.site!.url);
    const cell = (await memberOf('root', 'cell')).body;
    assert.deepEqual(cell.roles, ['descendant']);
    assert.equal(cell.meta.parent, 'site');
    assert.equal(cell.meta.via, 'site');
    const registrar = (await memberOf('cell', 'site')).body;
    assert.deepEqual(registrar.roles, ['registrar']);
    assert.equal(registrar.address, hubs.site!.url);
    const info = (await http('cell', 'GET', '/v1/info')).body;
    assert.equal(info.federation.registrar, 'site');
    assert.equal(info.federation.connected, true);
    const metrics = await (await fetch(`${hubs.site!.url}/metrics`)).text();
    assert.match(metrics, /muster_federation_registrar_connected 1/);
    assert.match(metrics, /muster_federation_child_hubs 1/);
  });

  test('GET /v1/tree and muster tree show the subtree with status and member counts', async () => {
    const t = (await http<TreeNode>('root', 'GET', '/v1/tree')).body;
    assert.equal(t.hubId, 'root');
    assert.deepEqual(t.children.map((c) => c.hubId), ['site', 'site2']);
    const site = t.children[0]!;
    assert.equal(site.status, 'up');
    assert.deepEqual(site.children.map((c) => c.hubId), ['cell']);
    assert.equal(site.children[0]!.members!.alive, 1, 'cell holds one record: its registrar');
    assert.deepEqual(site.poa, [hubs.site!.url]);
    const out = await promisify(execFile)(process.execPath, [BIN, 'tree', '--hub', hubs.site!.url]);
    assert.match(out.stdout, /^site {2}up {2}\d+ members/);
    assert.match(out.stdout, /└─ cell {2}up/);
  });

  test('a member on one leaf hub asks a member on another (cell → site → root → site2)', async () => {
    const answerer = await member('site2', 'answerer');
    bus(answerer).onRequest('add', (p, ctx) => ({ sum: (p as { a: number; b: number }).a + (p as { a: number; b: number }).b, from: ctx.from }));
    const asker = await member('cell', 'asker');
    const r = await bus(asker).request<{ sum: number; from: string }>('site2/answerer', 'add', { a: 2, b: 3 }, { timeoutMs: 3000 });
    assert.deepEqual(r, { sum: 5, from: 'cell/asker' });

    const got = new Promise<BusMessage>((resolve) => bus(answerer).onMessage(resolve));
    bus(asker).send('site2/answerer', { hello: 1 });
    await bus(asker).flush(); // resolves: no refusal reported
    const m = await got;
    assert.equal(m.from, 'cell/asker');
    assert.deepEqual(m.data, { hello: 1 });

    assert.equal(await codeOf(bus(asker).request('nowhere/answerer', 'add', {})), 'NO_SUCH_HUB');
    assert.equal(await codeOf(bus(asker).request('site2/nobody', 'add', {})), 'NO_SUCH_MEMBER');
    bus(answerer).onRequest('fail', () => { throw new Error('not today'); });
    assert.equal(await codeOf(bus(asker).request('site2/answerer', 'fail', {})), 'MEMBER_ERROR');
    assert.equal(await codeOf(bus(asker).request('site2/answerer', 'slow', {}, { timeoutMs: 200 })), 'MEMBER_ERROR', 'no handler: the member answers an error');

    const cli = await promisify(execFile)(process.execPath, [BIN, 'request', 'site2/answerer', 'add', '{"a":20,"b":22}', '--hub', hubs.cell!.url, '--token', ADMIN_TOKEN]);
    assert.equal(JSON.parse(cli.stdout).sum, 42);
  });

  test('get and list across the tree: one hub, or a whole subtree', async () => {
    await member('cell', 'lister');
    const got = await memberOf('site2', 'cell/lister');
    assert.equal(got.status, 200);
    assert.equal(got.body.hub, 'cell');
    assert.equal((await http("site2", "GET", "/v1/members/nohub%2Fx")).body.error.code, 'NO_SUCH_HUB');
    const one = (await http('root', 'GET', '/v1/members?hub=cell')).body;
    assert.ok(one.members.every((m: MemberView) => m.hub === 'cell'));
    assert.ok(one.members.some((m: MemberView) => m.name === 'lister'));
    const all = (await http('root', 'GET', '/v1/members?subtree=true&type=svc')).body;
    const names = all.members.map((m: MemberView) => `${m.hub}/${m.name}`);
    assert.ok(names.includes('cell/lister') && names.includes('site2/answerer'), names.join(' '));
    const sdk = await connect({ url: hubs.site2!.url, reconnect: false });
    clients.push(sdk);
    assert.equal((await sdk.get('cell/lister')).hub, 'cell', 'the SDK takes hub/name too');
    assert.ok((await sdk.list({ hub: 'cell', type: 'svc' })).members.some((m) => m.name === 'lister'));
    const fromSite = (await http('site', 'GET', '/v1/members?subtree=true&type=svc')).body;
    assert.ok(!fromSite.members.some((m: MemberView) => m.hub === 'site2'), 'a subtree holds only hubs below');
  });

  test('configure and stop a component on the cell from the root', async () => {
    const c = await connect({ url: hubs.cell!.url, reconnect: false });
    clients.push(c);
    const seen: unknown[] = [];
    const comp = await component(c, { name: 'camera', type: 'camera', onConfigure: (cfg) => { seen.push(cfg); }, onStop: () => ({ details: ['parked'] }) });
    await comp.ready({ data: ['tcp://10.0.0.5:9000'] });
    const r = await http('root', 'POST', '/v1/members/cell%2Fcamera/configure', { config: { exposure: 20 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { name: 'camera', ok: true, state: 'configured' });
    assert.deepEqual(seen, [{ exposure: 20 }]);
    const s = await http('root', 'POST', '/v1/members/cell%2Fcamera/stop', {});
    assert.equal(s.body.outcome, 'OK');
    assert.deepEqual(s.body.details, ['parked']);
    assert.equal((await http('root', 'POST', '/v1/members/cell%2Fnobody/configure', { config: {} })).body.error.code, 'NO_SUCH_MEMBER');
    // Authority is checked where the call starts.
    const anon = await fetch(`${hubs.root!.url}/v1/members/cell%2Fcamera/configure`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"config":{}}' });
    assert.equal(anon.status, 401);
  });

  test('tree-wide scopes reach subscribers on other hubs, only where someone listens, once', async () => {
    const sub = await member('cell', 'listener');
    const received: BusMessage[] = [];
    const s1 = bus(sub).subscribe('/tree/weather/', (m) => received.push(m));
    await s1.ready;
    const local: BusMessage[] = [];
    await bus(sub).subscribe('/local/', (m) => local.push(m)).ready;
    const pub = await member('site2', 'station');
    // Interest travels up and over; publish until the first one arrives.
    await eventually('interest reaches site2', async () => {
      await bus(pub).publish('/tree/weather/rain/', { mm: 1 });
      return received.length > 0;
    });
    await bus(pub).publish('/tree/weather/rain/', { mm: 2 });
    await bus(pub).publish('/local/', { no: true });
    await bus(pub).publish('/tree/nobody-listens/', { x: 1 });
    const second = () => received.filter((m) => (m.data as { mm?: number }).mm === 2);
    await eventually('the second publication', async () => second().length > 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second().length, 1, 'each publication arrives once (no loops)');
    const m = second()[0]!;
    assert.equal(m.from, 'site2/station');
    assert.equal(m.scope, '/tree/weather/rain/');
    assert.deepEqual(m.data, { mm: 2 });
    assert.equal(local.length, 0, 'scopes that are not tree-wide stay on their hub');
    const rootScopes = (await http('root', 'GET', '/v1/bus/stats')).body.scopes;
    assert.ok(rootScopes['/tree/weather/rain/'] >= 2, 'passed through the root');
    assert.equal(rootScopes['/tree/nobody-listens/'], undefined, 'nobody subscribed: it never left site2');
    s1.close();
  });

  test('a duplicate hub id and a wrong federation token are refused; the allow-list holds', async () => {
    const peer = await RpcPeer.connect(hubs.root!.wsUrl);
    const base = { instance: 'test-1', poa: [], descendants: [] };
    const dup = await peer.call('hub.register', { ...base, hubId: 'site', token: FED });
    assert.equal(dup.error?.data?.code, 'HUB_ID_TAKEN');
    const dupBelow = await peer.call('hub.register', { ...base, hubId: 'other', token: FED, descendants: [{ hubId: 'cell', parent: 'other' }] });
    assert.equal(dupBelow.error?.data?.code, 'HUB_ID_TAKEN');
    const wrong = await peer.call('hub.register', { ...base, hubId: 'intruder', token: 'not-the-token' });
    assert.equal(wrong.error?.data?.code, 'UNAUTHORIZED');
    const forward = await peer.call('hub.forward', { to: 'cell', op: 'get', params: { name: 'x' }, hops: 0 });
    assert.equal(forward.error?.data?.code, 'FORBIDDEN', 'an unregistered connection may not forward');
    peer.ws.close();

    // A whole hub process with a taken id keeps serving and says why it is not registered.
    hubs.dup = await spawnHub(['--hub-id', 'cell', '--data', join(dir, 'dup'), '--registrar', hubs.site2!.url, '--registrar-token', FED, ...common]);
    const info = await eventually('the refusal is reported', async () => {
      const i = (await http('dup', 'GET', '/v1/info')).body;
      return i.federation.lastError ? i : undefined;
    });
    assert.match(info.federation.lastError, /already used/);
    assert.equal(info.federation.connected, false);
    await hubs.dup.kill('SIGKILL');
    delete hubs.dup;

    const allow = await startHub({ federationToken: FED, federationAllow: ['a'] });
    try {
      const p = await RpcPeer.connect(allow.url.replace('http', 'ws') + '/v1/ws');
      const r = await p.call('hub.register', { ...base, hubId: 'b', token: FED });
      assert.equal(r.error?.data?.code, 'FORBIDDEN');
      p.ws.close();
    } finally {
      await allow.stop();
    }
  });

  test('the root down for a while: the site keeps serving, then the tree reconverges', async () => {
    const asker = await member('cell', 'asker2');
    const helper = await member('site', 'helper');
    bus(helper).onRequest('ping', () => 'pong');
    await hubs.root!.kill('SIGKILL');
    // Below the site everything still works; across the root it cannot.
    assert.equal(await bus(asker).request('site/helper', 'ping', null, { timeoutMs: 2000 }), 'pong');
    assert.equal(await codeOf(bus(asker).request('site2/answerer', 'add', { a: 1, b: 1 }, { timeoutMs: 2000 })), 'HUB_UNREACHABLE');
    await member('site', 'newcomer');
    assert.equal((await memberOf('site', 'newcomer')).status, 200);
    await new Promise((r) => setTimeout(r, MONITOR_MS * 2));
    hubs.root = await startRoot();
    await eventually('the tree reconverges', async () => hubIds((await http<TreeNode>('root', 'GET', '/v1/tree')).body).sort().join(',') === 'cell,root,site,site2');
    const r = await eventually('requests cross the root again', () => bus(asker).request<{ sum: number }>('site2/answerer', 'add', { a: 1, b: 1 }, { timeoutMs: 2000 }));
    assert.equal(r.sum, 2);
  });

  test('the root restarted with an empty store: the site registers again within one monitor interval', async () => {
    await hubs.root!.kill('SIGKILL');
    rmSync(join(dir, 'root'), { recursive: true, force: true });
    hubs.root = await startRoot();
    const started = Date.now();
    await eventually('site registered again', async () => (await memberOf('root', 'site')).status === 200, MONITOR_MS * 4);
    const took = Date.now() - started;
    // One interval (the backoff cap) plus room for connecting and one durable commit on a busy CI machine.
    assert.ok(took <= MONITOR_MS + 1000, `took ${took} ms`);
    await eventually('cell known again', async () => (await memberOf('root', 'cell')).body.meta?.parent === 'site');
  });

  test('a cell killed with SIGKILL: the site and the root drop its subtree (hub-lost) within the grace period', async () => {
    const { removed, w } = await watchRemoval('cell');
    const killedAt = Date.now();
    await hubs.cell!.kill('SIGKILL');
    delete hubs.cell;
    const e = await Promise.race([removed, new Promise<undefined>((r) => setTimeout(() => r(undefined), GRACE_MS + 3000))]);
    assert.ok(e, 'removed event at the root');
    assert.equal(e.type === 'removed' && e.reason, 'hub-lost');
    assert.ok(Date.now() - killedAt <= GRACE_MS + 1500, `took ${Date.now() - killedAt} ms`);
    await eventually('gone from the site too', async () => (await memberOf('site', 'cell')).status === 404, 2000);
    const t = (await http<TreeNode>('root', 'GET', '/v1/tree')).body;
    assert.deepEqual(hubIds(t).sort(), ['root', 'site', 'site2']);
    w.close();
  });

  test('a graceful stop deregisters: the parent removes the hub at once', async () => {
    const { removed, w } = await watchRemoval('site2');
    const stoppedAt = Date.now();
    assert.equal(await hubs.site2!.kill('SIGTERM'), 0);
    delete hubs.site2;
    const e = await removed;
    assert.equal(e?.type === 'removed' && e.reason, 'unregistered');
    assert.ok(Date.now() - stoppedAt < GRACE_MS, 'before any grace period ran out');
    w.close();
  });
});
