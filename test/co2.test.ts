/**
 * The CO2 relay face against real satellites: Python's SimpleXMLRPCServer serving notify() and
 * ping(), calling the relay through xmlrpc.client (test/co2/satellite.py). Checked through what
 * the satellites receive and what the hub's API, watches, bus and CLI show.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { int, PySatellite, struct, type CallOut, type Typed } from './co2/satellite.js';

let h: TestHub;
let relayUrl: string;
let watcher: RpcPeer;
let native: RpcPeer;
const sats: PySatellite[] = [];
let a: PySatellite, b: PySatellite, c: PySatellite, d: PySatellite;
let ia: string, ib: string, ic: string, id: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: () => Promise<T | undefined | false> | T | undefined | false, label: string, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not seen within ${ms} ms: ${label}`);
    await sleep(50);
  }
}
const fault = (out: CallOut) => ('fault' in out ? out.fault : null);
const hostId = (id: string) => struct({ host_id: id });

before(async () => {
  h = await startHub({ co2: '127.0.0.1:0', co2PingIntervalMs: 300, co2PingFailures: 2, co2TimeoutMs: 1000, co2MaxSats: 4 });
  const face = h.hub.info().faces.find((f) => f.name === 'co2');
  assert.ok(face, 'the face is listed in /v1/info');
  assert.match(face.address, /^http:\/\/127\.0\.0\.1:\d+\/RPC2$/);
  // Satellites are given the URL without a path, as users write it: xmlrpc.client then posts to /RPC2.
  relayUrl = face.address.replace(/\/RPC2$/, '');
  watcher = await RpcPeer.connect(h.wsUrl);
  await watcher.ok('watch', { filter: { type: 'co2-satellite' } });
  native = await RpcPeer.connect(h.wsUrl);
  await native.ok('register', { name: 'native-listener', type: 'svc', liveness: 'session' });
  await native.ok('bus.subscribe', { scope: '/co2/relay/' });
  for (let i = 0; i < 4; i++) sats.push(await PySatellite.start(relayUrl));
  [a, b, c, d] = sats as [PySatellite, PySatellite, PySatellite, PySatellite];
});
after(async () => {
  for (const s of sats) await s.close();
  await watcher?.close();
  await native?.close();
  await h?.stop();
});

async function api(path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(h.url + path);
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : undefined, text };
}

describe('co2 - registration', () => {
  test('satellites register and are members: listed, counted, in watches, muster ls and /metrics', async () => {
    ia = await a.register('alpha');
    ib = await b.register('beta');
    ic = await c.register('gamma', { notify_pass: 'sesame' });
    await c.mode('ok', 'sesame');
    id = await d.register('delta');
    for (const m of ['relay.get_satellites', 'co2.get_satellites', 'web.get_satellites']) {
      assert.deepEqual(((await a.ok(m)) as string[]).sort(), [ia, ib, ic, id].sort(), m);
      assert.deepEqual(((await a.ok(m, struct({}))) as string[]).length, 4, `${m} with an empty param_dict`);
    }
    for (const m of ['relay.get_num_satellites', 'co2.get_num_satellites', 'web.get_num_satellites']) assert.deepEqual(await b.ok(m), int(4), m);
    assert.deepEqual(await b.ok('relay.get_max_satellites'), int(4));

    const g = await api('/v1/members/alpha');
    assert.equal(g.status, 200);
    assert.equal(g.body.id, ia, 'the host id is the member id');
    assert.equal(g.body.type, 'co2-satellite');
    assert.equal(g.body.address, `127.0.0.1:${a.port}`);
    assert.deepEqual(g.body.meta, { face: 'co2', nick: 'alpha', plugins: 'relay,chat' });
    assert.deepEqual(g.body.liveness, { kind: 'probe', target: `xmlrpc://127.0.0.1:${a.port}/RPC2`, intervalMs: 300, timeoutMs: 1000, failures: 2 });
    const all = await api('/v1/members?type=co2-satellite');
    assert.deepEqual(all.body.members.map((m: { name: string }) => m.name), ['alpha', 'beta', 'delta', 'gamma']);
    assert.ok(!all.text.includes('sesame'), 'notify_pass is never shown');
    for (const x of [ia, ib, ic, id]) await watcher.waitFor((n) => n.method === 'event' && n.params.event.type === 'added' && n.params.event.member.id === x);
    const bin = new URL('../bin/muster.js', import.meta.url).pathname;
    const ls = await new Promise<string>((resolve, reject) => execFile(process.execPath, [bin, 'ls', '--hub', h.url, '--type', 'co2-satellite'], { timeout: 20_000 }, (err, out) => (err ? reject(err) : resolve(out))));
    assert.match(ls, new RegExp(`^alpha\\s+co2-satellite\\s+alive\\s.*127\\.0\\.0\\.1:${a.port}`, 'm'));
    const metrics = (await api('/metrics')).text;
    assert.match(metrics, /muster_members\{status="alive"\} [4-9]/);
    assert.match(metrics, /muster_requests_total\{face="co2"\} \d+/);
  });

  test('get_satellite_props answers the seed fields from the member; ctime as DateTime and as seconds', async () => {
    for (const m of ['relay.get_satellite_props', 'co2.get_satellite_props', 'web.get_satellite_props', 'co2.get_satellite']) {
      const p = (await b.ok(m, hostId(ia))) as { struct: Record<string, Typed> };
      assert.deepEqual(p.struct.addr, ['127.0.0.1', int(a.port)], m);
      assert.equal(p.struct.host_id, ia);
      assert.equal(p.struct.nick, 'alpha');
      assert.ok('dateTime' in (p.struct.ctime as object));
      for (const k of ['ping_current', 'ping_min', 'ping_max', 'ping_avg']) assert.ok('double' in (p.struct[k] as object), `${k} is a double`);
      for (const k of ['ping_count', 'ping_fails', 'send_count', 'recv_count']) assert.ok('int' in (p.struct[k] as object), `${k} is an int`);
      for (const k of ['send_time', 'recv_time']) assert.ok('dateTime' in (p.struct[k] as object), `${k} is a DateTime`);
    }
    const ctime = (await a.ok('relay.get_satellite_ctime', hostId(ia))) as { double: number };
    const registeredAt = (await api('/v1/members/alpha')).body.registeredAt as number;
    assert.equal(ctime.double, registeredAt / 1000);
    for (const m of ['co2.get_satellite_ctime', 'web.get_satellite_ctime']) assert.deepEqual(await a.ok(m, hostId(ia)), ctime);
  });
});

describe('co2 - relay', () => {
  const data: Typed = struct({
    n: int(42), big: int(-2147483648), ok: { bool: true }, text: 'héllo <&> ✓', x: { double: 1 }, y: { double: 0.25 },
    when: { dateTime: '20030501T12:00:00' }, blob: { base64: 'AAEC/w==' }, list: [int(1), 'two', []], empty: struct({}), none: { nil: null },
  });

  test('relay answers OK; every other satellite gets notify({host_id, data}) with every type exact; never the sender', async () => {
    assert.deepEqual(await a.call('relay.relay', struct({ host_id: ia, data })), { result: 'OK' });
    const [nb] = await until(async () => { const n = await b.notifies(); return n.length ? n : false; }, 'beta notified');
    assert.deepEqual(nb, struct({ host_id: ia, data }));
    const [nc] = await until(async () => { const n = await c.notifies(); return n.length ? n : false; }, 'gamma notified');
    assert.deepEqual(nc, struct({ notify_pass: 'sesame', host_id: ia, data }), 'gamma gets the notify_pass it registered');
    await until(async () => (await d.notifies()).length === 1, 'delta notified');
    await sleep(200);
    assert.deepEqual(await a.notifies(), [], 'the sender does not get its own relay');
    const props = (await a.ok('relay.get_satellite_props', hostId(ia))) as { struct: Record<string, Typed> };
    assert.deepEqual(props.struct.send_count, int(1));
    const pb = (await a.ok('relay.get_satellite_props', hostId(ib))) as { struct: Record<string, Typed> };
    assert.deepEqual(pb.struct.recv_count, int(1));
  });

  test('the native bus sees relays on /co2/relay/, and a native publication there reaches every satellite', async () => {
    const seen = await native.waitFor((n) => n.method === 'bus.message' && n.params.from === 'alpha');
    assert.equal(seen.params.scope, '/co2/relay/');
    assert.deepEqual(seen.params.data, {
      n: 42, big: -2147483648, ok: true, text: 'héllo <&> ✓', x: { $double: 1 }, y: 0.25, when: { $dateTime: '20030501T12:00:00' },
      blob: { $base64: 'AAEC/w==' }, list: [1, 'two', []], empty: {}, none: null,
    });
    const nativeId = (await api('/v1/members/native-listener')).body.id as string;
    await native.ok('bus.publish', { scope: '/co2/relay/', data: { temp: 21.5, count: 3, at: { $dateTime: '20240101T00:00:00' } } });
    for (const s of [a, b, c, d]) {
      const [n] = await until(async () => { const x = await s.notifies(); return x.length ? x : false; }, 'native publication notified');
      const fields = (n as { struct: Record<string, Typed> }).struct;
      assert.equal(fields.host_id, nativeId, 'host_id is the native sender\'s member id');
      assert.deepEqual(fields.data, struct({ temp: { double: 21.5 }, count: int(3), at: { dateTime: '20240101T00:00:00' } }));
    }
  });

  test('a native member can call a satellite\'s own XML-RPC methods with bus.request', async () => {
    const answer = await native.ok('bus.request', { to: 'beta', method: 'echo', params: { hello: [1, 2.5], at: { $dateTime: '20240101T00:00:00' } } });
    assert.deepEqual(answer, { hello: [1, 2.5], at: { $dateTime: '20240101T00:00:00' } });
    const missing = await native.call('bus.request', { to: 'beta', method: 'no_such_method', params: null });
    assert.equal(missing.error?.data?.code, 'MEMBER_ERROR', 'the satellite\'s fault is the member\'s error');
  });

  test('a failing and a hanging satellite are counted and do not slow the others', async () => {
    await b.mode('fail');
    await d.mode('hang');
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) assert.deepEqual(await a.call('relay.relay', struct({ host_id: ia, data: int(i) })), { result: 'OK' });
    const got: Typed[] = [];
    await until(async () => { got.push(...await c.notifies()); return got.length >= 20; }, 'gamma got all 20');
    assert.ok(Date.now() - t0 < 5000, `gamma got 20 notifies in ${Date.now() - t0} ms while delta hangs (1 s timeout each)`);
    assert.deepEqual(got.map((n) => (n as { struct: { data: Typed } }).struct.data), Array.from({ length: 20 }, (_, i) => int(i)), 'in order');
    // Beta answers each notify with a fault, one connection each, beside gamma: its count may trail gamma's deliveries a little.
    const betaFails = async () => (((await a.ok('relay.get_satellite_props', hostId(ib))) as { struct: Record<string, Typed> }).struct.notify_fails as { int: number }).int;
    await until(async () => (await betaFails()) >= 20, 'beta\'s failed notifies are counted');
    assert.ok((await api('/v1/members/beta')).body.stats.traffic.dropped >= 20, 'and shown in the member\'s stats');
    await b.mode('ok');
  });
});

describe('co2 - pinger', () => {
  test('the hub pings satellites and keeps round-trip stats in the member', async () => {
    await until(async () => (await a.pings()) >= 2, 'alpha pinged twice');
    const p = ((await b.ok('relay.get_satellite_props', hostId(ia))) as { struct: Record<string, any> }).struct;
    assert.ok(p.ping_count.int >= 2);
    assert.ok(p.ping_current.double > 0);
    assert.ok(p.ping_min.double <= p.ping_avg.double && p.ping_avg.double <= p.ping_max.double);
    assert.equal(p.ping_fails.int, 0);
    const probe = (await api('/v1/members/alpha')).body.stats.probe;
    assert.equal(probe.min, p.ping_min.double, 'the same stats as the member\'s probe stats');
  });

  test('a satellite that stops answering is removed after N failed pings (probe-failed)', async () => {
    const ev = await watcher.waitFor((n) => n.method === 'event' && n.params.event.type === 'removed' && n.params.event.member.id === id, 15_000);
    assert.equal(ev.params.event.reason, 'probe-failed');
    assert.ok(!((await a.ok('relay.get_satellites')) as string[]).includes(id));
    await d.close();
  });
});

describe('co2 - limits and ownership', () => {
  test('max_sats refuses with a fault; registering again from the same port replaces the satellite', async () => {
    const e = await PySatellite.start(relayUrl);
    const f = await PySatellite.start(relayUrl);
    sats.push(e, f);
    const ie = await e.register('epsilon');
    const full = fault(await f.call('relay.register', struct({ port: int(f.port), nick: 'phi' })));
    assert.equal(full?.code, 1);
    assert.match(full!.string, /^REGISTRY_FULL: /);
    const again = await e.register('epsilon');
    assert.notEqual(again, ie);
    assert.deepEqual(await e.ok('relay.get_num_satellites'), int(4), 'replaced, not added');
    const ev = await watcher.waitFor((n) => n.method === 'event' && n.params.event.type === 'removed' && n.params.event.member.id === ie);
    assert.equal(ev.params.event.reason, 'evicted');
    assert.deepEqual(await e.ok('relay.deregister', hostId(again)), 'OK');
  });

  test('deregister: only from the satellite\'s own address or with the admin token; unknown host ids are a clear fault', async () => {
    const other = fault(await b.callFrom('127.0.0.2', 'relay.deregister', hostId(ia)));
    assert.equal(other?.code, 1);
    assert.match(other!.string, /^FORBIDDEN: Only the satellite itself \(at 127\.0\.0\.1\)/);
    const unknown = fault(await b.call('relay.deregister', hostId('no-such-host')));
    assert.deepEqual(unknown, { code: 1, string: 'NO_SUCH_MEMBER: No satellite with host_id "no-such-host" is registered' });
    assert.equal(fault(await b.call('relay.relay', struct({ host_id: 'nope', data: 'x' })))?.string.startsWith('NO_SUCH_MEMBER'), true);
    assert.deepEqual(await b.callFrom('127.0.0.2', 'relay.deregister', struct({ host_id: ib, admin_token: ADMIN_TOKEN })), { result: 'OK' });
    assert.deepEqual(await c.call('relay.deregister', hostId(ic)), { result: 'OK' }, 'a satellite removes itself');
    const ev = await watcher.waitFor((n) => n.method === 'event' && n.params.event.type === 'removed' && n.params.event.member.id === ic);
    assert.equal(ev.params.event.reason, 'unregistered');
    assert.deepEqual(((await a.ok('relay.get_satellites')) as string[]), [ia]);
  });
});
