/** Lifecycle control (ICCP over muster) with bare JSON-RPC peers: the wire protocol, byte for byte. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

// Long enough for a busy CI machine between a registration and its READY; the timeout tests wait it out.
const TIMEOUT = 1_500;
let h: TestHub;
const peers: RpcPeer[] = [];
before(async () => { h = await startHub({ lifecycleTimeoutMs: TIMEOUT, graceMs: 200 }); });
after(async () => {
  for (const p of peers) await p.close();
  await h.stop();
});

async function peer(): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
  peers.push(p);
  return p;
}

/** A component on its own connection, registered (state starting). */
async function component(name: string, extra: Record<string, unknown> = {}): Promise<{ p: RpcPeer; token: string }> {
  const p = await peer();
  const reg = await p.ok('register', { name, type: 'worker', roles: ['component'], liveness: 'session', exclusive: true, ...extra });
  return { p, token: reg.token };
}

async function readyComponent(name: string, extra: Record<string, unknown> = {}): Promise<RpcPeer> {
  const { p } = await component(name, extra);
  assert.deepEqual(await p.ok('lifecycle.ready', { endpoints: { data: [`tcp://127.0.0.1:9${name.length}00`] } }), { state: 'ready' });
  return p;
}

async function http(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(h.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** The next command the hub sends this component, as a notification. */
async function nextCommand(p: RpcPeer, method: string): Promise<any> {
  const n = await p.waitFor((x) => x.method === method, 3000);
  p.notifications.splice(p.notifications.indexOf(n), 1);
  return n.params;
}

const stateOf = async (name: string): Promise<string> => (await http('GET', `/v1/members/${name}`)).json.lifecycle?.state;

async function waitState(name: string, want: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await stateOf(name)) === want) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${name} did not reach ${want} (is ${await stateOf(name)})`);
}

describe('control - lifecycle over JSON-RPC', () => {
  test('register -> READY -> CONFIGURE/OK -> CONFIGURE/ERROR -> STOP/FINISHED, visible in list, watch and history', async () => {
    const watcher = await peer();
    await watcher.ok('watch', { filter: { name: 'full-1', types: ['lifecycle'] } });
    const { p } = await component('full-1', { meta: { site: 'a' } });
    assert.equal(await stateOf('full-1'), 'starting');
    const starting = await http('GET', '/v1/members?state=starting&prefix=full-');
    assert.deepEqual(starting.json.members.map((m: any) => [m.name, m.roles]), [['full-1', ['component']]]);

    assert.deepEqual(await p.ok('lifecycle.ready', { endpoints: { data: ['tcp://127.0.0.1:9100'] } }), { state: 'ready' });
    const view = (await http('GET', '/v1/members/full-1')).json;
    assert.deepEqual(view.lifecycle.endpoints, { data: ['tcp://127.0.0.1:9100'] });

    const admin = await peer();
    await admin.ok('auth', { token: ADMIN_TOKEN });
    const configuring = admin.call('control.configure', { name: 'full-1', config: { rate: 5 } });
    const cmd = await nextCommand(p, 'lifecycle.configure');
    assert.deepEqual({ ...cmd, call: typeof cmd.call }, { name: 'full-1', call: 'string', config: { rate: 5 } });
    assert.equal(await stateOf('full-1'), 'configuring');
    assert.deepEqual(await p.ok('lifecycle.ok', { call: cmd.call }), { state: 'configured' });
    assert.deepEqual((await configuring).result, { name: 'full-1', ok: true, state: 'configured' });

    // Reconfigure; the component refuses: its text comes back and it stays configured.
    const again = http('POST', '/v1/members/full-1/configure', { config: { rate: -1 } });
    const cmd2 = await nextCommand(p, 'lifecycle.configure');
    assert.notEqual(cmd2.call, cmd.call);
    await p.ok('lifecycle.error', { call: cmd2.call, text: 'rate must be positive' });
    assert.deepEqual(await again, { status: 200, json: { name: 'full-1', ok: false, error: 'rate must be positive', state: 'configured' } });

    const stopping = http('POST', '/v1/members/full-1/stop', {});
    const stop = await nextCommand(p, 'lifecycle.stop');
    assert.deepEqual(Object.keys(stop).sort(), ['call', 'name']);
    await p.ok('lifecycle.finished', { call: stop.call, outcome: 'UNKNOWN', details: ['flushed 3 files'] });
    assert.deepEqual((await stopping).json, { name: 'full-1', outcome: 'OK', details: ['flushed 3 files'], state: 'finished' });

    const lc = (await http('GET', '/v1/members/full-1/lifecycle')).json;
    assert.equal(lc.state, 'finished');
    assert.equal(lc.lastError, 'rate must be positive');
    assert.equal(lc.connected, true);
    assert.equal(lc.pending, null);
    assert.deepEqual(lc.history.map((t: any) => `${t.from}>${t.to}`), [
      'null>starting', 'starting>ready', 'ready>configuring', 'configuring>configured', 'configured>configuring', 'configuring>configured',
      'configured>stopping', 'stopping>finished',
    ]);
    assert.ok(lc.history.every((t: any, i: number) => typeof t.at === 'number' && (i === 0 || t.at >= lc.history[i - 1].at)));
    assert.match(lc.history[5].note, /CONFIGURE failed: rate must be positive/);

    // One lifecycle event per transition after registration, in order.
    const deadline = Date.now() + 2000;
    while (watcher.notifications.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(watcher.notifications.map((n) => `${n.params.event.from}>${n.params.event.to}`), lc.history.slice(1).map((t: any) => `${t.from}>${t.to}`));
    assert.equal(watcher.notifications.at(-1)!.params.event.member.lifecycle.state, 'finished');

    // Finished is the end of the run: no more commands.
    const late = await http('POST', '/v1/members/full-1/configure', { config: {} });
    assert.equal(late.status, 409);
    assert.equal(late.json.error.code, 'INVALID_STATE');
  });

  test('a component that cannot start sends ERROR and is failed with its reason', async () => {
    const { p } = await component('nostart-1');
    assert.deepEqual(await p.ok('lifecycle.error', { text: 'port 9000 in use' }), { state: 'failed' });
    const lc = (await http('GET', '/v1/members/nostart-1/lifecycle')).json;
    assert.deepEqual([lc.state, lc.lastError], ['failed', 'port 9000 in use']);
    const r = await http('POST', '/v1/members/nostart-1/stop', {});
    assert.equal(r.json.error.code, 'INVALID_STATE');
  });

  test('STOP answered with ERROR, and FINISHED with outcome ERROR', async () => {
    const a = await readyComponent('stoperr-1');
    const s1 = http('POST', '/v1/members/stoperr-1/stop', {});
    await a.ok('lifecycle.error', { call: (await nextCommand(a, 'lifecycle.stop')).call, text: 'cannot flush' });
    assert.deepEqual((await s1).json, { name: 'stoperr-1', outcome: 'ERROR', details: ['cannot flush'], state: 'failed' });

    const b = await readyComponent('stoperr-2');
    const s2 = http('POST', '/v1/members/stoperr-2/stop', {});
    await b.ok('lifecycle.finished', { call: (await nextCommand(b, 'lifecycle.stop')).call, outcome: 'ERROR', details: ['lost 2 rows', 'disk full'] });
    assert.deepEqual((await s2).json, { name: 'stoperr-2', outcome: 'ERROR', details: ['lost 2 rows', 'disk full'], state: 'finished' });
    assert.equal((await http('GET', '/v1/members/stoperr-2/lifecycle')).json.lastError, 'lost 2 rows; disk full');
  });
});

describe('control - roles', () => {
  test('controller role needs the admin token to grant; controllers may control, other members may not', async () => {
    const self = await http('POST', '/v1/members', { name: 'ctl-self', type: 'ctl', roles: ['controller'] }, null);
    assert.deepEqual([self.status, self.json.error.code], [403, 'FORBIDDEN']);
    const ctl = await http('POST', '/v1/members', { name: 'ctl-1', type: 'ctl', roles: ['controller'] });
    assert.equal(ctl.status, 201);
    assert.deepEqual((await http('GET', '/v1/members/ctl-1')).json.roles, ['controller']);
    // Re-registering with its own token keeps the role without the admin token.
    const again = await http('POST', '/v1/members', { type: 'ctl', roles: ['controller'], token: ctl.json.token }, null);
    assert.equal(again.status, 201);
    const plain = await http('POST', '/v1/members', { name: 'plain-1', type: 'svc' }, null);

    const p = await readyComponent('roles-1');
    const none = await http('POST', '/v1/members/roles-1/configure', { config: {} }, null);
    assert.deepEqual([none.status, none.json.error.code], [401, 'UNAUTHORIZED']);
    const denied = await http('POST', '/v1/members/roles-1/configure', { config: {} }, plain.json.token);
    assert.deepEqual([denied.status, denied.json.error.code], [403, 'FORBIDDEN']);
    // The component itself is no controller either.
    const selfCtl = await p.call('control.stop', { name: 'roles-1' });
    assert.equal(selfCtl.error?.data?.code, 'FORBIDDEN');

    const viaToken = http('POST', '/v1/members/roles-1/configure', { config: { x: 1 } }, ctl.json.token);
    await p.ok('lifecycle.ok', { call: (await nextCommand(p, 'lifecycle.configure')).call });
    assert.equal((await viaToken).json.ok, true);

    // A controller registered on a WebSocket connection controls from that connection.
    const c = await peer();
    await c.ok('auth', { token: ADMIN_TOKEN });
    const reg = await c.ok('register', { name: 'ctl-ws', type: 'ctl', roles: ['controller'], liveness: 'session' });
    const c2 = await peer();
    await c2.ok('register', { type: 'ctl', token: reg.token, liveness: 'session' });
    const viaSession = c2.call('control.configure', { name: 'roles-1', config: { x: 2 } });
    await p.ok('lifecycle.ok', { call: (await nextCommand(p, 'lifecycle.configure')).call });
    assert.equal(((await viaSession).result as any)?.ok, true);
    // Anyone may read the lifecycle.
    assert.equal((await http('GET', '/v1/members/roles-1/lifecycle', undefined, null)).json.state, 'configured');
  });

  test('lifecycle messages from a connection without a component are refused', async () => {
    const p = await peer();
    await p.ok('register', { name: 'notcomp-1', type: 'svc', liveness: 'session' });
    const r = await p.call('lifecycle.ready', { endpoints: {} });
    assert.equal(r.error?.data?.code, 'FORBIDDEN');
    assert.equal((await http('GET', '/v1/members/notcomp-1')).json.lifecycle, undefined);
    const wrong = await p.call('lifecycle.configure', { config: {} });
    assert.equal(wrong.error?.data?.code, 'PROTOCOL_ERROR');
    const bad = await p.call('lifecycle.finished', { outcome: 'MAYBE' });
    assert.equal(bad.error?.data?.code, 'INVALID_PARAMS');
    const notComp = await http('POST', '/v1/members/notcomp-1/configure', { config: {} });
    assert.equal(notComp.json.error.code, 'INVALID_STATE');
    const missing = await http('POST', '/v1/members/nobody-here/stop', {});
    assert.deepEqual([missing.status, missing.json.error.code], [404, 'NO_SUCH_MEMBER']);
    const badBody = await http('POST', '/v1/members/notcomp-1/configure', { config: 5 });
    assert.equal(badBody.json.error.code, 'INVALID_PARAMS');
  });
});

describe('control - protocol errors', () => {
  const failedWith = async (name: string, re: RegExp) => {
    const lc = (await http('GET', `/v1/members/${name}/lifecycle`)).json;
    assert.equal(lc.state, 'failed');
    assert.match(lc.lastError, re);
  };

  test('a second READY', async () => {
    const p = await readyComponent('pe-ready2');
    const r = await p.call('lifecycle.ready', { endpoints: {} });
    assert.equal(r.error?.data?.code, 'PROTOCOL_ERROR');
    await failedWith('pe-ready2', /protocol error: a second READY/);
    // The run is over: further messages are refused without changing anything.
    assert.equal((await p.call('lifecycle.ok', {})).error?.data?.code, 'PROTOCOL_ERROR');
  });

  test('OK before READY, FINISHED before READY', async () => {
    const a = (await component('pe-okfirst')).p;
    assert.equal((await a.call('lifecycle.ok', {})).error?.data?.code, 'PROTOCOL_ERROR');
    await failedWith('pe-okfirst', /OK before READY/);
    const b = (await component('pe-finfirst')).p;
    assert.equal((await b.call('lifecycle.finished', { outcome: 'OK' })).error?.data?.code, 'PROTOCOL_ERROR');
    await failedWith('pe-finfirst', /FINISHED before READY/);
  });

  test('an answer nobody asked for', async () => {
    const p = await readyComponent('pe-unasked');
    assert.equal((await p.call('lifecycle.ok', {})).error?.data?.code, 'PROTOCOL_ERROR');
    await failedWith('pe-unasked', /answers nothing/);
  });

  test('a controller message sent by a component fails it, and the waiting controller hears why', async () => {
    const p = await readyComponent('pe-wrongway');
    const waiting = http('POST', '/v1/members/pe-wrongway/configure', { config: {} });
    await nextCommand(p, 'lifecycle.configure');
    const r = await p.call('lifecycle.stop', {});
    assert.equal(r.error?.data?.code, 'PROTOCOL_ERROR');
    const res = await waiting;
    assert.deepEqual([res.status, res.json.error.code], [409, 'PROTOCOL_ERROR']);
    assert.match(res.json.error.message, /pe-wrongway: STOP goes from the hub to a component/);
    await failedWith('pe-wrongway', /STOP goes from the hub/);
  });

  test('answers that do not fit the open call: wrong call id, FINISHED to CONFIGURE, OK to STOP', async () => {
    const a = await readyComponent('pe-callid');
    const wa = http('POST', '/v1/members/pe-callid/configure', { config: {} });
    await nextCommand(a, 'lifecycle.configure');
    assert.equal((await a.call('lifecycle.ok', { call: 'c999999' })).error?.data?.code, 'PROTOCOL_ERROR');
    assert.equal((await wa).json.error.code, 'PROTOCOL_ERROR');
    await failedWith('pe-callid', /open call is c\d+/);

    const b = await readyComponent('pe-fin2conf');
    const wb = http('POST', '/v1/members/pe-fin2conf/configure', { config: {} });
    await nextCommand(b, 'lifecycle.configure');
    await b.call('lifecycle.finished', { outcome: 'OK' });
    assert.equal((await wb).json.error.code, 'PROTOCOL_ERROR');
    await failedWith('pe-fin2conf', /FINISHED does not answer CONFIGURE/);

    const c = await readyComponent('pe-ok2stop');
    const wc = http('POST', '/v1/members/pe-ok2stop/stop', {});
    await nextCommand(c, 'lifecycle.stop');
    await c.call('lifecycle.ok', {});
    assert.equal((await wc).json.error.code, 'PROTOCOL_ERROR');
    await failedWith('pe-ok2stop', /OK does not answer STOP/);
  });

  test('a command while another is open is refused; the first still completes', async () => {
    const p = await readyComponent('pe-busy');
    const first = http('POST', '/v1/members/pe-busy/configure', { config: { n: 1 } });
    const cmd = await nextCommand(p, 'lifecycle.configure');
    const second = await http('POST', '/v1/members/pe-busy/stop', {});
    assert.deepEqual([second.status, second.json.error.code, second.json.error.details.state], [409, 'INVALID_STATE', 'configuring']);
    await p.ok('lifecycle.ok', { call: cmd.call });
    assert.equal((await first).json.ok, true);
  });
});

describe('control - timeouts and lost components', () => {
  test('no READY within the timeout: unresponsive; a late READY is still taken', async () => {
    const { p } = await component('to-ready');
    await waitState('to-ready', 'unresponsive', TIMEOUT + 2000);
    assert.equal((await http('GET', '/v1/members/to-ready/lifecycle')).json.lastError, `no READY within ${TIMEOUT} ms`);
    assert.deepEqual(await p.ok('lifecycle.ready', {}), { state: 'ready' });
  });

  test('no answer to CONFIGURE: TIMEOUT for the controller, unresponsive; a late OK recovers it', async () => {
    const p = await readyComponent('to-conf');
    const t0 = Date.now();
    const r = http('POST', '/v1/members/to-conf/configure', { config: {}, timeoutMs: 150 });
    const cmd = await nextCommand(p, 'lifecycle.configure');
    const res = await r;
    assert.deepEqual([res.status, res.json.error.code], [504, 'TIMEOUT']);
    assert.ok(Date.now() - t0 >= 140 && Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.equal(await stateOf('to-conf'), 'unresponsive');
    // Configure is refused while unresponsive; the late answer brings it back.
    assert.equal((await http('POST', '/v1/members/to-conf/configure', { config: {} })).json.error.code, 'INVALID_STATE');
    assert.deepEqual(await p.ok('lifecycle.ok', { call: cmd.call }), { state: 'configured' });
    const lc = (await http('GET', '/v1/members/to-conf/lifecycle')).json;
    assert.match(lc.history.at(-1).note, /late answer to CONFIGURE/);
  });

  test('no answer to STOP (default timeout); STOP may be sent again to an unresponsive component', async () => {
    const p = await readyComponent('to-stop');
    const r = http('POST', '/v1/members/to-stop/stop', {});
    await nextCommand(p, 'lifecycle.stop');
    assert.equal((await r).json.error.code, 'TIMEOUT');
    assert.equal(await stateOf('to-stop'), 'unresponsive');
    const r2 = http('POST', '/v1/members/to-stop/stop', {});
    const stop2 = await nextCommand(p, 'lifecycle.stop');
    await p.ok('lifecycle.finished', { call: stop2.call, outcome: 'OK' });
    assert.equal((await r2).json.state, 'finished');
  });

  test('the connection drops while CONFIGURE is open: MEMBER_GONE, and the component is failed', async () => {
    const p = await readyComponent('gone-1');
    const r = http('POST', '/v1/members/gone-1/configure', { config: {} });
    await nextCommand(p, 'lifecycle.configure');
    p.ws.terminate();
    const res = await r;
    assert.deepEqual([res.status, res.json.error.code], [410, 'MEMBER_GONE']);
    const lc = (await http('GET', '/v1/members/gone-1/lifecycle')).json;
    assert.deepEqual([lc.state, lc.lastError, lc.connected], ['failed', 'connection lost during CONFIGURE', false]);
  });

  test('a disconnected component answers NOT_CONNECTED; registering again starts a new run', async () => {
    const { p, token } = await component('rerun-1');
    await p.ok('lifecycle.ready', {});
    await p.close();
    const r = await http('POST', '/v1/members/rerun-1/configure', { config: {} });
    assert.equal(r.json.error.code, 'NOT_CONNECTED');
    const q = await peer();
    await q.ok('register', { type: 'worker', roles: ['component'], liveness: 'session', token });
    assert.equal(await stateOf('rerun-1'), 'starting');
    await q.ok('lifecycle.ready', {});
    const c = http('POST', '/v1/members/rerun-1/configure', { config: {} });
    await q.ok('lifecycle.ok', { call: (await nextCommand(q, 'lifecycle.configure')).call });
    assert.equal((await c).json.state, 'configured');
    const lc = (await http('GET', '/v1/members/rerun-1/lifecycle')).json;
    assert.ok(lc.history.some((t: any) => t.to === 'starting' && /new run/.test(t.note)));
  });
});

describe('control - groups', () => {
  test('configure and stop every component matching a selector, with one outcome per member', async () => {
    const ok = await readyComponent('grp-a', { type: 'grouped', meta: { rack: 'r1' } });
    const refuses = await readyComponent('grp-b', { type: 'grouped', meta: { rack: 'r1' } });
    const silent = await readyComponent('grp-c', { type: 'grouped', meta: { rack: 'r1' } });
    await readyComponent('grp-other', { type: 'grouped', meta: { rack: 'r2' } });
    await component('grp-d', { type: 'grouped', meta: { rack: 'r1' } }); // never READY
    ok.notifications.length = 0;
    const r = http('POST', '/v1/control/configure', { selector: { type: 'grouped', meta: { rack: 'r1' } }, config: { v: 2 }, timeoutMs: 200 });
    await ok.ok('lifecycle.ok', { call: (await nextCommand(ok, 'lifecycle.configure')).call });
    await refuses.ok('lifecycle.error', { call: (await nextCommand(refuses, 'lifecycle.configure')).call, text: 'v2 unsupported' });
    await nextCommand(silent, 'lifecycle.configure');
    const res = await r;
    assert.equal(res.status, 200);
    const notReady = res.json.members.pop();
    assert.deepEqual([notReady.name, notReady.ok, notReady.code], ['grp-d', false, 'INVALID_STATE']);
    assert.match(notReady.error, /grp-d is (starting|unresponsive); CONFIGURE needs ready or configured/);
    assert.deepEqual(res.json.members.map((m: any) => [m.name, m.ok, m.error?.replace(/within \d+ ms/, 'within N ms'), m.code, m.state]), [
      ['grp-a', true, undefined, undefined, 'configured'],
      ['grp-b', false, 'v2 unsupported', undefined, 'ready'],
      ['grp-c', false, 'grp-c: no answer to CONFIGURE within N ms', 'TIMEOUT', 'unresponsive'],
    ]);

    const admin = await peer();
    await admin.ok('auth', { token: ADMIN_TOKEN });
    const s = admin.call('control.stopGroup', { selector: { type: 'grouped', prefix: 'grp-' } });
    for (const p of [ok, refuses, silent]) await p.ok('lifecycle.finished', { call: (await nextCommand(p, 'lifecycle.stop')).call, outcome: 'OK' });
    const stopped = (await s).result as any;
    assert.deepEqual(stopped.members.map((m: any) => [m.name, m.outcome ?? m.code]), [
      ['grp-a', 'OK'], ['grp-b', 'OK'], ['grp-c', 'OK'], ['grp-d', 'INVALID_STATE'], ['grp-other', 'TIMEOUT'],
    ]);
    const empty = await http('POST', '/v1/control/stop', { selector: {} });
    assert.equal(empty.json.error.code, 'INVALID_PARAMS');
    const denied = await http('POST', '/v1/control/stop', { selector: { type: 'grouped' } }, null);
    assert.equal(denied.json.error.code, 'UNAUTHORIZED');
  });
});

describe('control - persistence', () => {
  test('state, endpoints and history survive a hub restart; READY waits resume', async () => {
    const hub = await startHub({ lifecycleTimeoutMs: TIMEOUT, graceMs: 5000 });
    const p = await RpcPeer.connect(hub.wsUrl);
    await p.ok('register', { name: 'keep-1', type: 'worker', roles: ['component'], liveness: 'session' });
    await p.ok('lifecycle.ready', { endpoints: { ctl: ['ipc:///tmp/keep'] } });
    await p.ok('register', { name: 'keep-2', type: 'worker', roles: ['component'], liveness: 'session' });
    await p.close();
    await hub.stop({ keepData: true });
    const again = await startHub({ lifecycleTimeoutMs: TIMEOUT, graceMs: 5000, dataDir: hub.dataDir });
    try {
      const res = await fetch(`${again.url}/v1/members/keep-1/lifecycle`);
      const lc = await res.json() as any;
      assert.deepEqual([lc.state, lc.endpoints, lc.history.map((t: any) => t.to)], ['ready', { ctl: ['ipc:///tmp/keep'] }, ['starting', 'ready']]);
      const deadline = Date.now() + 3000;
      let state = '';
      while (Date.now() < deadline && state !== 'unresponsive') {
        state = ((await (await fetch(`${again.url}/v1/members/keep-2`)).json()) as any).lifecycle.state;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(state, 'unresponsive');
    } finally {
      await again.stop();
    }
  });
});
