/**
 * The Saturnin ICCP face with real ZeroMQ PAIR components (test/iccp/component.py: Python, pyzmq
 * and protobuf from Debian), several at once, driven by the SDK controller over WebSocket and
 * watched through the SDK: READY, configure, stop, unprompted FINISHED, crashes, SIGKILL,
 * protocol errors, timeouts, and a group configure across ICCP and native components.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { component, connect, controller, type Controller, type MusterClient } from '../src/client/index.js';
import { encodeFinished, encodeReady, encodeRequest, encodeStop } from '../src/faces/iccp/codec.js';
import { toConfigProto } from '../src/faces/iccp/config-map.js';
import type { RegistryEvent } from '../src/schemas/event.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { eventually, PyComponent, RawPeer, type ComponentOptions } from './iccp/peers.js';

const READY_TIMEOUT = 1500;
const FINISHED_TIMEOUT = 1500;
let h: TestHub;
let admin: MusterClient;
let ctl: Controller;
const events: RegistryEvent[] = [];
const procs: PyComponent[] = [];
const raws: RawPeer[] = [];

before(async () => {
  h = await startHub({ iccp: 'tcp://127.0.0.1:*', iccpReadyTimeoutMs: READY_TIMEOUT, iccpFinishedTimeoutMs: FINISHED_TIMEOUT, graceMs: 30_000 });
  admin = await connect({ url: h.url, token: ADMIN_TOKEN, reconnect: false });
  ctl = controller(admin);
  const w = admin.watch({ type: 'saturnin' });
  void (async () => { for await (const e of w) events.push(e); })().catch(() => {});
});
after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  for (const r of raws) r.close();
  await admin.close();
  await h.stop();
});

/** A Python component on a fresh endpoint named `name`. */
async function start(name: string, options: ComponentOptions = {}): Promise<PyComponent> {
  const ep = await h.hub.iccp!.endpoint(name);
  const c = new PyComponent(ep.endpoint, options);
  procs.push(c);
  return c;
}

const member = (name: string) => h.hub.registry.find(name);
const stateOf = (name: string) => member(name)?.lifecycle?.state;
const waitState = (name: string, state: string, ms = 8000) => eventually(() => stateOf(name) === state, `${name} ${state} (is ${stateOf(name)})`, ms);
const lifecycleEvents = (name: string) => events.filter((e): e is Extract<RegistryEvent, { type: 'lifecycle' }> => e.type === 'lifecycle' && e.member.name === name);

describe('iccp - components are members', () => {
  test('three components at once: READY shows in a watch, with type saturnin, uid/pid/host in meta and their endpoints', async () => {
    const names = ['watch-a', 'watch-b', 'watch-c'];
    const comps = await Promise.all(names.map((n, i) => start(n, { endpoints: { data: [`tcp://127.0.0.1:${7100 + i}`] } })));
    for (const n of names) await eventually(() => lifecycleEvents(n).find((e) => e.to === 'ready'), `${n} ready in the watch`);
    for (const [i, n] of names.entries()) {
      const v = h.hub.registry.get(n);
      const seen = await comps[i]!.waitFor('connected');
      assert.equal(v.type, 'saturnin');
      assert.deepEqual({ uid: v.meta.uid, pid: v.meta.pid, face: v.meta.face }, { uid: seen.uid, pid: String(seen.pid), face: 'iccp' });
      assert.ok(v.meta.host);
      assert.deepEqual(v.lifecycle?.endpoints, { data: [`tcp://127.0.0.1:${7100 + i}`] });
      assert.equal(v.status, 'alive');
    }
    const listed = h.hub.registry.list({ type: 'saturnin', state: 'ready', prefix: 'watch-' });
    assert.deepEqual(listed.members.map((m) => m.name), names);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /muster_iccp_components\{state="ready"\} [3-9]/);
    assert.match(metrics, /muster_iccp_endpoints\{state="connected"\} [3-9]/);
  });

  test('configure through the SDK controller: OK with integers kept integers; ERROR with its traceback', async () => {
    const c = await start('cfg-1');
    await waitState('cfg-1', 'ready');
    const ok = await ctl.configure('cfg-1', { port: 5432, ratio: 0.5, label: 'x', on: true, db: { pool: 4 } });
    assert.deepEqual(ok, { name: 'cfg-1', ok: true, state: 'configured' });
    const seen = await c.waitFor('config');
    assert.deepEqual(seen, {
      event: 'config', code: 'CONF', frames: 3,
      config: { port: ['as_sint64', 5432], ratio: ['as_double', 0.5], label: ['as_string', 'x'], on: ['as_bool', true], db: { pool: ['as_sint64', 4] } },
    });
    const bad = await ctl.configure('cfg-1', { fail: 'no such table' });
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /^Traceback \(most recent call last\):[\s\S]*\nValueError: no such table$/);
    assert.equal(bad.state, 'configured');
    const doubled = await ctl.configure('cfg-1', { port: { $double: 5432 } });
    assert.match(doubled.error!, /TypeError: Option "port" value must be int/);
    await assert.rejects(ctl.configure('cfg-1', { list: [1, 2] }), (e: Error & { code?: string }) => e.code === 'INVALID_PARAMS' && /config\.list/.test(e.message));
    assert.equal(stateOf('cfg-1'), 'configured');
  });

  test('stop: FINISHED OK with details, FINISHED ERROR with details, and ERROR instead of FINISHED', async () => {
    await start('stop-ok', { details: ['flushed 3 files'] });
    await start('stop-err', { stopError: true });
    await start('stop-raise', { stopRaises: true });
    for (const n of ['stop-ok', 'stop-err', 'stop-raise']) await waitState(n, 'ready');
    assert.deepEqual(await ctl.stop('stop-ok'), { name: 'stop-ok', outcome: 'OK', details: ['flushed 3 files'], state: 'finished' });
    const err = await ctl.stop('stop-err');
    assert.equal(err.outcome, 'ERROR');
    assert.equal(err.state, 'finished');
    assert.equal(err.details[0], 'flush failed');
    assert.match(err.details[1]!, /OSError: disk full$/);
    assert.match(member('stop-err')!.lifecycle!.lastError!, /flush failed; Traceback/);
    const raised = await ctl.stop('stop-raise');
    assert.deepEqual({ outcome: raised.outcome, state: raised.state }, { outcome: 'ERROR', state: 'failed' });
    assert.match(raised.details[0]!, /RuntimeError: cleanup failed$/);
  });

  test('an unprompted FINISHED finishes the run; an unprompted ERROR (a crash) fails it', async () => {
    await start('self-finish', { mode: 'unprompted', after: 300, outcome: 'ERROR', details: ['input exhausted'] });
    await start('self-crash', { mode: 'crash', after: 300 });
    await waitState('self-finish', 'finished');
    assert.equal(member('self-finish')!.lifecycle!.lastError, 'input exhausted');
    assert.equal(member('self-finish')!.history.at(-1)!.note, 'FINISHED ERROR, unprompted');
    await waitState('self-crash', 'failed');
    assert.match(member('self-crash')!.lifecycle!.lastError!, /ZeroDivisionError: division by zero$/);
  });

  test('stock Saturnin configure: ERROR, then finished with outcome ERROR; nothing hangs', async () => {
    await start('stock-1', { mode: 'stock' });
    await waitState('stock-1', 'ready');
    const r = await ctl.configure('stock-1', { port: 1 });
    assert.equal(r.ok, false);
    assert.match(r.error!, /TypeError: 'NoneType' object is not subscriptable$/);
    await waitState('stock-1', 'finished');
    assert.match(member('stock-1')!.lifecycle!.lastError!, /TypeError: 'NoneType' object is not subscriptable$/);
    await eventually(() => lifecycleEvents('stock-1').some((e) => e.to === 'finished'), 'finished in the watch');
    assert.deepEqual(lifecycleEvents('stock-1').map((e) => e.to).slice(-3), ['configuring', 'ready', 'finished']);
  });

  test('a component killed with SIGKILL is noticed: failed, the reason in the event; its endpoint takes a new run', async () => {
    const c = await start('killed-1');
    await waitState('killed-1', 'ready');
    await c.kill('SIGKILL');
    await waitState('killed-1', 'failed');
    const e = await eventually(() => lifecycleEvents('killed-1').find((x) => x.to === 'failed'), 'the failed event in the watch');
    assert.match(e.member.lifecycle!.lastError!, /connection lost in state ready: the component vanished without FINISHED/);
    assert.equal(member('killed-1')!.status, 'suspect');
    // The same endpoint, a new process: a new run of the same member.
    const ep = (await h.hub.iccp!.endpoint('killed-1')).endpoint;
    procs.push(new PyComponent(ep));
    await waitState('killed-1', 'ready');
    assert.equal(member('killed-1')!.status, 'alive');
    assert.deepEqual(member('killed-1')!.history.slice(-2).map((t) => t.to), ['starting', 'ready']);
    assert.equal((await ctl.configure('killed-1', { a: 1 })).ok, true);
  });
});

describe('iccp - the real system\'s semantics', () => {
  const uid = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16)));

  async function rawReady(name: string): Promise<RawPeer> {
    const ep = await h.hub.iccp!.endpoint(name);
    const p = new RawPeer(ep.endpoint);
    raws.push(p);
    await p.send(encodeReady({ uid: uid(), pid: 1, host: 'raw' }, {}));
    await waitState(name, 'ready');
    return p;
  }

  test('a second READY is a protocol error: failed, reason recorded, the session dropped', async () => {
    const p = await rawReady('twice-1');
    await p.send(encodeReady({ uid: uid(), pid: 1, host: 'raw' }, {}));
    await waitState('twice-1', 'failed');
    assert.equal(member('twice-1')!.lifecycle!.lastError, 'protocol error: a second READY');
    await eventually(() => h.hub.iccp!.endpoints().find((e) => e.name === 'twice-1')?.lastError?.includes('a second READY'), 'endpoint lastError');
  });

  test('REQUEST/CONF and STOP sent by a component go the wrong way: protocol errors', async () => {
    const a = await rawReady('wrong-1');
    await a.send(encodeRequest(toConfigProto({ x: 1 })));
    await waitState('wrong-1', 'failed');
    assert.equal(member('wrong-1')!.lifecycle!.lastError, 'protocol error: CONFIGURE goes from the hub to a component, never back');
    const b = await rawReady('wrong-2');
    await b.send(encodeStop());
    await waitState('wrong-2', 'failed');
    assert.equal(member('wrong-2')!.lifecycle!.lastError, 'protocol error: STOP goes from the hub to a component, never back');
  });

  test('the hub sends [REQUEST, CONF, ConfigProto] and STOP on the wire; a FINISHED answers STOP', async () => {
    const p = await rawReady('wire-1');
    const configuring = ctl.configure('wire-1', { port: 7 });
    const req = await p.receive(3000);
    assert.deepEqual(req?.map((f) => f.toString('hex')), encodeRequest(toConfigProto({ port: 7 })).map((f) => f.toString('hex')));
    await p.send([Buffer.from([0, 3])]);
    assert.equal((await configuring).ok, true);
    const stopping = ctl.stop('wire-1');
    assert.deepEqual((await p.receive(3000))?.map((f) => f.toString('hex')), ['0005']);
    await p.send(encodeFinished('UNKNOWN'));
    assert.deepEqual(await stopping, { name: 'wire-1', outcome: 'OK', details: [], state: 'finished' });
  });

  test('no READY within iccpReadyTimeoutMs: the waiting member is unresponsive, the silent session dropped', async () => {
    await start('silent-1', { mode: 'silent' });
    await waitState('silent-1', 'unresponsive', READY_TIMEOUT + 5000);
    assert.equal(member('silent-1')!.lifecycle!.lastError, `no READY within ${READY_TIMEOUT} ms`);
    await eventually(() => h.hub.iccp!.endpoints().find((e) => e.name === 'silent-1')?.lastError === `no READY within ${READY_TIMEOUT} ms`, 'endpoint lastError');
  });

  test('no FINISHED within iccpFinishedTimeoutMs after STOP: TIMEOUT and unresponsive', async () => {
    await start('hang-1', { mode: 'hang' });
    await waitState('hang-1', 'ready');
    const t0 = Date.now();
    await assert.rejects(ctl.stop('hang-1'), (e: Error & { code?: string }) => e.code === 'TIMEOUT');
    assert.ok(Date.now() - t0 >= FINISHED_TIMEOUT - 50);
    assert.equal(stateOf('hang-1'), 'unresponsive');
    assert.equal(member('hang-1')!.lifecycle!.lastError, `no answer to STOP within ${FINISHED_TIMEOUT} ms`);
  });

  test('ERROR instead of READY: the component could not start (failed, its reason kept)', async () => {
    await start('nostart-1', { mode: 'start-error' });
    await waitState('nostart-1', 'failed');
    assert.match(member('nostart-1')!.lifecycle!.lastError!, /RuntimeError: cannot open the database$/);
    assert.equal(member('nostart-1')!.history.at(-1)!.note, 'could not start');
  });
});

describe('iccp - alongside native components', () => {
  test('one group configure covers ICCP and native SDK components; a group stop too', async () => {
    await start('grp-iccp-1', {});
    await start('grp-iccp-2', { mode: 'stock' });
    for (const n of ['grp-iccp-1', 'grp-iccp-2']) await waitState(n, 'ready');
    const client = await connect({ url: h.url, reconnect: false });
    const seen: unknown[] = [];
    const native = await component(client, { name: 'grp-native-1', type: 'worker', exclusive: true, onConfigure: (c) => { seen.push(c); }, onStop: () => ({ details: ['bye'] }) });
    await native.ready({});
    try {
      const r = await ctl.configureGroup({ prefix: 'grp-' }, { port: 8080 });
      assert.deepEqual(r.members.map((m) => [m.name, m.ok, m.state]), [
        ['grp-iccp-1', true, 'configured'], ['grp-iccp-2', false, 'ready'], ['grp-native-1', true, 'configured'],
      ]);
      assert.deepEqual(seen, [{ port: 8080 }]);
      await waitState('grp-iccp-2', 'finished');
      const s = await ctl.stopGroup({ prefix: 'grp-', state: 'configured' });
      assert.deepEqual(s.members.map((m) => [m.name, m.outcome, m.state]), [['grp-iccp-1', 'OK', 'finished'], ['grp-native-1', 'OK', 'finished']]);
    } finally {
      await client.close();
    }
  });

  test('iccp.endpoint over HTTP needs a controller token; names held by other members are refused', async () => {
    const noToken = await fetch(`${h.url}/v1/iccp/endpoints/http-1`, { method: 'POST' });
    assert.equal(noToken.status, 401);
    const ok = await fetch(`${h.url}/v1/iccp/endpoints/http-1`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const view = await ok.json() as { endpoint: string; origin: string };
    assert.equal(ok.status, 200);
    assert.match(view.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(view.origin, 'on-demand');
    const again = await (await fetch(`${h.url}/v1/iccp/endpoints/http-1`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as { endpoint: string };
    assert.equal(again.endpoint, view.endpoint);
    assert.equal(stateOf('http-1'), 'starting');
    await h.hub.registry.register({ name: 'native-held', type: 'worker' });
    const taken = await fetch(`${h.url}/v1/iccp/endpoints/native-held`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(taken.status, 409);
    const list = await (await fetch(`${h.url}/v1/iccp/endpoints`)).json() as { endpoints: { name: string }[] };
    assert.ok(list.endpoints.some((e) => e.name === 'http-1'));
    const info = await (await fetch(`${h.url}/v1/info`)).json() as { faces: { name: string; address: string }[] };
    assert.deepEqual(info.faces.find((f) => f.name === 'iccp'), { name: 'iccp', address: 'tcp://127.0.0.1:*' });
  });
});

describe('iccp - accepted without a change', () => {
  test('an unprompted OK after READY, and an OK or FINISHED after FINISHED, are accepted: nothing changes, nothing fails', async () => {
    const ep = await h.hub.iccp!.endpoint('stray-ok');
    const p = new RawPeer(ep.endpoint);
    raws.push(p);
    await p.send(encodeReady({ uid: Buffer.alloc(16, 7), pid: 9, host: 'raw' }, {}));
    await waitState('stray-ok', 'ready');
    const history = member('stray-ok')!.history.length;
    await p.send([Buffer.from([0, 3])]);
    await p.send(encodeFinished('OK'));
    await waitState('stray-ok', 'finished');
    await p.send([Buffer.from([0, 3])]);
    await p.send(encodeFinished('ERROR', ['again']));
    await eventually(() => h.hub.iccp!.endpoints().find((e) => e.name === 'stray-ok')?.lastMessage === 'FINISHED ERROR (again)', 'the last message read');
    assert.equal(stateOf('stray-ok'), 'finished');
    assert.equal(member('stray-ok')!.history.length, history + 1);
    assert.equal(h.hub.iccp!.endpoints().find((e) => e.name === 'stray-ok')?.lastError, null);
  });
});
