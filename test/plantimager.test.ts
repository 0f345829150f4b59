/**
 * The plantimager face against a Python client that talks the way plantimager devices do
 * (test/python/plantimager_client.py: REQ socket, send_json / recv_json), checked through what
 * Python printed and what the hub's HTTP API and watches show.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PYTHON, PyClient, SWARM } from './python/plantimager-client.js';
import { startHub, tempDir, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
let py: PyClient;
let watcher: RpcPeer;
let faceUrl: string;

function faceAddress(hub: TestHub): string {
  const face = hub.hub.info().faces.find((f) => f.name === 'plantimager');
  assert.ok(face, 'the face is listed in info');
  return face.address;
}

before(async () => {
  h = await startHub({ plantimager: '127.0.0.1:0' });
  faceUrl = faceAddress(h);
  py = new PyClient(faceUrl);
  watcher = await RpcPeer.connect(h.wsUrl);
  await watcher.ok('watch', { filter: { meta: { face: 'plantimager' } } });
});
after(async () => {
  await py?.close();
  await watcher?.close();
  await h?.stop();
});

async function api(path: string, init?: RequestInit): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(h.url + path, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

/** A device's public member id (its uuid is a secret and is not the id). */
async function idOf(name: string): Promise<string> {
  const g = await api(`/v1/members/${name}`);
  assert.equal(g.status, 200, `${name} is a member`);
  return g.body.id;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, Math.max(0, ms)));

/** The event notifications for one member id, in order. */
function eventsFor(id: string): { type: string; reason?: string; revision: number }[] {
  return watcher.notifications
    .filter((n) => n.method === 'event' && n.params.event.member.id === id)
    .map((n) => ({ type: n.params.event.type, reason: n.params.event.reason, revision: n.params.event.revision }));
}

const isEvent = (type: string, id: string, reason?: string) => (n: { method: string; params: any }) =>
  n.method === 'event' && n.params.event.type === type && n.params.event.member.id === id && (reason === undefined || n.params.event.reason === reason);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('plantimager - registration', () => {
  test('REGISTER answers REGISTER_ACK; the device is an ordinary member in the API and in watches', async () => {
    const r = await py.register('scanner', 'tcp://10.0.0.1:5000', 'scanner-a');
    assert.equal(r.name, 'scanner-a');
    assert.match(r.uuid, UUID);
    const g = await api('/v1/members/scanner-a');
    assert.equal(g.status, 200);
    assert.match(g.body.id, UUID);
    assert.notEqual(g.body.id, r.uuid, 'the member id is not the plantimager uuid (a secret)');
    assert.equal(g.body.type, 'scanner');
    assert.equal(g.body.address, 'tcp://10.0.0.1:5000');
    assert.deepEqual(g.body.meta, { face: 'plantimager' });
    assert.deepEqual(g.body.liveness, { kind: 'ttl', ttlMs: 20000 }, 'registration gives 20 s');
    assert.equal(g.body.status, 'alive');
    const listed = await api('/v1/members?meta.face=plantimager&type=scanner');
    assert.deepEqual(listed.body.members.map((m: { name: string }) => m.name), ['scanner-a']);
    await watcher.waitFor(isEvent('added', g.body.id));
    // And `muster ls` shows it like any other member.
    const bin = new URL('../bin/muster.js', import.meta.url).pathname;
    const ls = await new Promise<string>((resolve, reject) => execFile(process.execPath, [bin, 'ls', '--hub', h.url, '--meta', 'face=plantimager', '--type', 'scanner'], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
    assert.match(ls, /^scanner-a\s+scanner\s+alive\s+-\s+tcp:\/\/10\.0\.0\.1:5000\s/m);
  });

  test('a taken name gets -1, -2; an empty name is {device_type}-0, then {device_type}-1', async () => {
    const names = [];
    for (let i = 0; i < 3; i++) names.push((await py.register('camera', `tcp://10.0.1.${i}:5000`, 'clash')).name);
    assert.deepEqual(names, ['clash', 'clash-1', 'clash-2']);
    const empty = [];
    for (let i = 0; i < 3; i++) empty.push((await py.register('lamp', `tcp://10.0.2.${i}:5000`, '')).name);
    assert.deepEqual(empty, ['lamp-0', 'lamp-1', 'lamp-2']);
  });

  test('registering again from the same address evicts the old device first (so the name is kept)', async () => {
    const first = await py.register('arm', 'tcp://10.0.3.1:5000', 'mover');
    const firstId = await idOf('mover');
    const second = await py.register('arm', 'tcp://10.0.3.1:5000', 'mover');
    assert.equal(second.name, 'mover', 'not mover-1: the old registration at that address is gone');
    assert.notEqual(second.uuid, first.uuid);
    const secondId = await idOf('mover');
    assert.notEqual(secondId, firstId);
    await watcher.waitFor(isEvent('added', secondId));
    const removed = eventsFor(firstId).find((e) => e.type === 'removed');
    assert.equal(removed?.reason, 'evicted');
    assert.ok(removed.revision < eventsFor(secondId)[0]!.revision, 'removal comes before the addition');
    assert.equal(await py.alive(first.uuid), 'unknown');
    assert.equal(await py.alive(second.uuid), 'ok');
  });

  test('overwrite takes the name from the device holding it; without it the newcomer gets -1', async () => {
    const owner = await py.register('cnc', 'tcp://10.0.4.1:5000', 'owner');
    const ownerId = await idOf('owner');
    const polite = await py.register('cnc', 'tcp://10.0.4.2:5000', 'owner');
    assert.equal(polite.name, 'owner-1');
    const taker = await py.register('cnc', 'tcp://10.0.4.3:5000', 'owner', true);
    assert.equal(taker.name, 'owner');
    await watcher.waitFor(isEvent('removed', ownerId, 'evicted'));
    assert.equal(await py.alive(owner.uuid), 'unknown');
    assert.equal(await py.alive(polite.uuid), 'ok', 'only the name holder is evicted');
    assert.equal(await py.alive(taker.uuid), 'ok');
    assert.equal((await api('/v1/members/owner')).body.address, 'tcp://10.0.4.3:5000');
  });

  test('names are shared with native members, and the legacy face cannot evict or touch them', async () => {
    const native = await api('/v1/members', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shared', type: 'service', address: 'tcp://10.0.5.1:5000' }),
    });
    assert.equal(native.status, 201);
    const dev = await py.register('camera', 'tcp://10.0.5.1:5000', 'shared', true);
    assert.equal(dev.name, 'shared-1', 'neither overwrite nor the same address evicts a native member');
    const nativeAgain = await api('/v1/members', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'scanner-a', type: 'service' }),
    });
    assert.equal(nativeAgain.body.name, 'scanner-a-1', 'a native member cannot take a device\'s name either');
    assert.equal(await py.alive(native.body.id), 'unknown', 'CHECK_ALIVE sees only plantimager devices');
    assert.equal(await py.alive(native.body.token), 'unknown', 'a native member\'s token is no plantimager uuid');
    for (const uuid of [native.body.id, native.body.token]) {
      const unreg = await py.raw({ json: { event: 'UNREGISTER', payload: { uuid } } });
      assert.deepEqual(JSON.parse(unreg![0]!), { event: 'ACK', payload: { req_event: 'UNREGISTER', success: false } });
    }
    assert.equal((await api('/v1/members/shared')).body.id, native.body.id);
  });

  test('names muster cannot hold are made valid; the device learns them from REGISTER_ACK', async () => {
    const r = await py.register('IP camera', 'tcp://10.0.6.1:5000', 'front door');
    assert.equal(r.name, 'front-door');
    assert.equal((await api('/v1/members/front-door')).body.type, 'IP-camera');
  });
});

describe('plantimager - liveness', () => {
  test('alive checks extend life by alive_timeout; without them the device expires with reason expired', async () => {
    const r = await py.register('sensor', 'tcp://10.0.7.1:5000', 'blinker');
    const id = await idOf('blinker');
    // A check at t buys life to the end of the whole second int(t) + 1: between 1 and 2 s. Both
    // checks go just after a whole second S, so the first's window closes at S + 2 and the
    // second's at S + 3, and the look at S + 2.3 sees the second's doing.
    const second = Math.floor(Date.now() / 1000) + 1;
    await sleep(second * 1000 + 20 - Date.now());
    assert.equal(await py.alive(r.uuid, 1.5), 'ok');
    assert.deepEqual((await api('/v1/members/blinker')).body.liveness, { kind: 'ttl', ttlMs: 1500 });
    await sleep((second + 1) * 1000 + 20 - Date.now());
    const sent = Date.now();
    assert.equal(await py.alive(r.uuid, 1.5), 'ok');
    const answered = Date.now();
    await sleep((second + 2) * 1000 + 300 - Date.now());
    assert.equal((await api('/v1/members/blinker')).status, 200, 'past the first check\'s window, alive thanks to the second');
    const removed = await watcher.waitFor(isEvent('removed', id, 'expired'), 3000);
    // As in the original: a check at t with alive_timeout 1.5 keeps the device to the end of the whole second int(t) + 1.
    const at: number = removed.params.event.at;
    assert.ok(at >= (Math.floor(sent / 1000) + 2) * 1000, 'not before the end of the whole second after int(t) + timeout');
    assert.ok(at < (Math.floor(answered / 1000) + 2) * 1000 + 1000, 'gone within that window (plus slack for a busy machine)');
    assert.equal((await api('/v1/members/blinker')).status, 404);
    assert.equal(await py.alive(r.uuid), 'unknown');
  });

  test('a device checking every alive_timeout + 50 ms keeps its uuid (the original\'s whole-second window)', async () => {
    // The original stores int(t) + timeout and prunes below int(now): a check buys until the end
    // of the whole second int(t) + timeout, between timeout and timeout + 1 s. Real devices check
    // a little later than alive_timeout. A check timeout + 50 ms after one made in the last 50 ms
    // of a second misses that window in the original too, so the rhythm starts just after a whole
    // second; checks are timed from that start, so a late one does not delay the next.
    const timeoutS = 1;
    const periodMs = timeoutS * 1000 + 50;
    const rounds = 6;
    const r = await py.register('sensor', 'tcp://10.0.7.2:5000', 'rhythm');
    const id = await idOf('rhythm');
    const start = (Math.floor(Date.now() / 1000) + 1) * 1000 + 20;
    const states: string[] = [];
    for (let k = 0; k <= rounds; k++) {
      await sleep(start + k * periodMs - Date.now());
      states.push(await py.alive(r.uuid, timeoutS));
    }
    assert.deepEqual(states, Array(rounds + 1).fill('ok'), 'every check found the device: no re-registration under a new uuid');
    assert.equal(await idOf('rhythm'), id);
    assert.deepEqual(eventsFor(id).filter((e) => e.type === 'removed'), []);
  });

  test('an unknown uuid answers ACK with success false', async () => {
    assert.equal(await py.alive('00000000-0000-4000-8000-000000000000'), 'unknown');
    const reply = await py.raw({ json: { event: 'CHECK_ALIVE', payload: { uuid: 'no-such-uuid', alive_timeout: 5 } } });
    assert.deepEqual(reply, ['{"event":"ACK","payload":{"req_event":"CHECK_ALIVE","success":false}}']);
  });

  test('UNREGISTER removes the device (ACK success true), a second time answers success false', async () => {
    const r = await py.register('sensor', 'tcp://10.0.8.1:5000', 'leaver');
    const id = await idOf('leaver');
    const first = await py.raw({ json: { event: 'UNREGISTER', payload: { uuid: r.uuid } } });
    assert.deepEqual(first, ['{"event":"ACK","payload":{"req_event":"UNREGISTER","success":true}}']);
    await watcher.waitFor(isEvent('removed', id, 'unregistered'));
    assert.equal((await api('/v1/members/leaver')).status, 404);
    const second = await py.raw({ json: { event: 'UNREGISTER', payload: { uuid: r.uuid } } });
    assert.deepEqual(second, ['{"event":"ACK","payload":{"req_event":"UNREGISTER","success":false}}']);
    const again = await py.register('sensor', 'tcp://10.0.8.1:5000', 'leaver');
    assert.equal(await py.unregister(again.uuid), true, 'unregister_device reads the ACK as success');
  });
});

describe('plantimager - uuid secrecy', () => {
  /** Every spelling of a uuid one might find in a response: as sent, and as 32 hex digits. */
  function assertAbsent(text: string, uuid: string, where: string): void {
    const t = text.toLowerCase();
    const u = uuid.toLowerCase();
    assert.ok(!t.includes(u) && !t.includes(u.replaceAll('-', '')), `the uuid appears in ${where}`);
  }

  /** Reads an SSE response until `until` appears in it (bounded by time), then drops it. */
  async function readSse(res: Response, until: string, timeoutMs: number): Promise<string> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = Date.now() + timeoutMs;
    try {
      while (!text.includes(until) && Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => null)]);
        if (!chunk || chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    return text;
  }

  function rpcText(peer: RpcPeer, method: string, params: unknown): Promise<string> {
    return peer.raw(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  }

  test('no public view shows the uuid (HTTP, WebSocket, SSE, watches, the data folder); the uuid still works', async () => {
    const since = (await api('/v1/members?limit=1')).body.revision;
    const sse = await fetch(`${h.url}/v1/events?since=${since}&meta.face=plantimager`);
    assert.equal(sse.status, 200);
    const wsWatch = await RpcPeer.connect(h.wsUrl);
    const asker = await RpcPeer.connect(h.wsUrl);
    let watchText = '';
    wsWatch.ws.on('message', (d: Buffer) => { watchText += d.toString(); });
    try {
      await wsWatch.ok('watch', { since });
      const r = await py.register('camera', 'tcp://10.0.10.1:5000', 'secret-keeper');
      assert.match(r.uuid, UUID);
      assert.equal(await py.alive(r.uuid, 30), 'ok', 'the uuid works for alive checks');
      const one = await api('/v1/members/secret-keeper');
      const id = one.body.id;
      assert.notEqual(id, r.uuid);
      assertAbsent(one.text, r.uuid, 'GET /v1/members/NAME');
      assertAbsent((await api('/v1/members?limit=1000')).text, r.uuid, 'GET /v1/members');
      assertAbsent((await api('/v1/members?meta.face=plantimager')).text, r.uuid, 'GET /v1/members?meta.face=plantimager');
      assert.equal((await api(`/v1/members/${r.uuid}`)).status, 404, 'the uuid names no member');
      const list = await rpcText(asker, 'list', { limit: 1000 });
      assert.match(list, /secret-keeper/);
      assertAbsent(list, r.uuid, 'WebSocket list');
      const get = await rpcText(asker, 'get', { name: 'secret-keeper' });
      assert.match(get, new RegExp(id));
      assertAbsent(get, r.uuid, 'WebSocket get');
      // The public id is no credential: it does not work where the uuid does.
      assert.equal(await py.alive(id), 'unknown');
      const byId = await py.raw({ json: { event: 'UNREGISTER', payload: { uuid: id } } });
      assert.deepEqual(byId, ['{"event":"ACK","payload":{"req_event":"UNREGISTER","success":false}}']);
      assert.equal((await api('/v1/members/secret-keeper')).status, 200);
      // The uuid unregisters it.
      const unreg = await py.raw({ json: { event: 'UNREGISTER', payload: { uuid: r.uuid } } });
      assert.deepEqual(unreg, ['{"event":"ACK","payload":{"req_event":"UNREGISTER","success":true}}']);
      await wsWatch.waitFor((n) => n.method === 'event' && n.params.event.type === 'removed' && n.params.event.member.id === id);
      const events = await readSse(sse, '"type":"removed"', 5000);
      assert.match(events, /event: added/);
      assert.match(events, /event: updated/, 'the alive check changed its ttl: an updated event');
      assert.match(events, /event: removed/);
      assertAbsent(events, r.uuid, 'the SSE stream');
      assert.match(watchText, /"removed"/);
      assertAbsent(watchText, r.uuid, 'WebSocket watch notifications');
      // Nor in the store: it keeps only the hash, as for native tokens.
      for (const f of readdirSync(h.dataDir, { recursive: true, withFileTypes: true })) {
        if (f.isFile()) assertAbsent(readFileSync(join(f.parentPath, f.name)).toString('latin1'), r.uuid, `data file ${f.name}`);
      }
    } finally {
      await sse.body?.cancel().catch(() => {});
      await wsWatch.close();
      await asker.close();
    }
  });
});

describe('plantimager - bad input', () => {
  test('an unsupported event answers UNSUPPORTED with req_event', async () => {
    assert.deepEqual(await py.raw({ json: { event: 'REBOOT', payload: {} } }), ['{"event":"UNSUPPORTED","payload":{"req_event":"REBOOT"}}']);
  });

  test('malformed messages each get an ERROR reply, and the face keeps serving', async () => {
    const cases: [Parameters<PyClient['raw']>[0], string][] = [
      [{ text: ['not json'] }, 'PARSE_ERROR'],
      [{ hex: ['fffe7b7d'] }, 'PARSE_ERROR'],
      [{ text: ['[1,2]'] }, 'INVALID_REQUEST'],
      [{ text: ['"REGISTER"'] }, 'INVALID_REQUEST'],
      [{ json: { payload: {} } }, 'INVALID_REQUEST'],
      [{ json: { event: 'CHECK_ALIVE' } }, 'INVALID_REQUEST'],
      [{ json: { event: 'REGISTER', payload: { device_type: 'x', addr: 'y' } } }, 'INVALID_PARAMS'],
      [{ json: { event: 'CHECK_ALIVE', payload: { uuid: 42 } } }, 'INVALID_PARAMS'],
      [{ json: { event: 'CHECK_ALIVE', payload: { uuid: 'u', alive_timeout: 'soon' } } }, 'INVALID_PARAMS'],
      [{ json: { event: 'UNREGISTER', payload: [] } }, 'INVALID_PARAMS'],
      [{ text: ['{"event":"UNREGISTER","payload":{"uuid":"u"}}', 'second frame'] }, 'INVALID_REQUEST'],
      [{ text: [JSON.stringify({ event: 'REGISTER', payload: { device_type: 't', addr: 'a', name: 'x'.repeat(100_000) } })] }, 'PAYLOAD_TOO_LARGE'],
      // ASCII control characters would reach operators' terminals (muster ls, logs); no device needs them.
      [{ json: { event: 'REGISTER', payload: { device_type: 'cam', addr: 'tcp://10.0.9.9:1\u001b[2J', name: 'ctl' } } }, 'INVALID_PARAMS'],
      [{ json: { event: 'REGISTER', payload: { device_type: 'cam', addr: 'tcp://10.0.9.9:1', name: 'ctl\n' } } }, 'INVALID_PARAMS'],
      [{ json: { event: 'REGISTER', payload: { device_type: 'c\u007fam', addr: 'tcp://10.0.9.9:1', name: 'ctl' } } }, 'INVALID_PARAMS'],
      [{ json: { event: 'REGISTER', payload: { device_type: 'cam', addr: 'tcp://10.0.9.9:1\u0000', name: 'ctl' } } }, 'INVALID_PARAMS'],
    ];
    for (const [frames, code] of cases) {
      const reply = await py.raw({ ...frames, timeout_ms: 3000 });
      assert.ok(reply, `a reply to ${JSON.stringify(frames).slice(0, 80)}`);
      assert.equal(reply.length, 1);
      const msg = JSON.parse(reply[0]!);
      assert.equal(msg.event, 'ERROR');
      assert.equal(msg.payload.error, code, JSON.stringify(frames).slice(0, 80));
      assert.equal(typeof msg.payload.message, 'string');
    }
    // The real client functions read the ERROR reply as failure.
    const bad = await py.op<{ name: string; uuid: string }>({ op: 'register', device_type: 7 as unknown as string, addr: 'tcp://10.0.9.1:1', name: 'typo' });
    assert.deepEqual(bad, { name: '', uuid: '' });
    assert.equal((await api('/v1/members/typo')).status, 404);
    assert.equal((await api('/v1/members/ctl')).status, 404, 'no control-character registration got through');
    // Still serving.
    const ok = await py.register('sensor', 'tcp://10.0.9.2:5000', 'after-garbage');
    assert.equal(ok.name, 'after-garbage');
  });

  test('a frame past the 1 MiB hard cap is not read (its connection is dropped); others are still served', async () => {
    const reply = await py.raw({ text: ['x'.repeat(2 * 1024 * 1024)], timeout_ms: 1000 });
    assert.equal(reply, null);
    assert.equal((await py.register('sensor', 'tcp://10.0.9.3:5000', 'after-huge')).name, 'after-huge');
  });
});

describe('plantimager - load', () => {
  test('200 devices from 4 processes register and check in at once: unique names, all alive', async () => {
    const runs = [0, 1, 2, 3].map((p) => new Promise<{ devices: [string, string][]; alive: Record<string, number> }>((resolve, reject) => {
      const child = spawn(PYTHON, [SWARM, faceUrl, `swarm${p}`, '50', '3', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(JSON.parse(out));
        else reject(new Error(`swarm ${p} exited ${code}: ${err}`));
      });
    }));
    const results = await Promise.all(runs);
    const devices = results.flatMap((r) => r.devices);
    assert.equal(devices.length, 200);
    const names = new Set(devices.map(([n]) => n));
    assert.equal(names.size, 200, 'every device got its own name');
    const expected = new Set(['cam', ...Array.from({ length: 199 }, (_, i) => `cam-${i + 1}`)]);
    assert.deepEqual(names, expected, 'all proposed "cam": cam, cam-1 ... cam-199');
    for (const r of results) assert.deepEqual(r.alive, { ok: 150, unknown: 0, unreachable: 0 });
    const listed = await api('/v1/members?meta.face=plantimager&prefix=cam&limit=1000');
    const byName = new Map<string, { id: string; address: string; liveness: { ttlMs: number } }>(listed.body.members.map((m: { name: string }) => [m.name, m]));
    assert.equal(byName.size, 200);
    const text = listed.text.toLowerCase();
    for (const [name, uuid] of devices) {
      assert.equal(byName.get(name)?.liveness.ttlMs, 30_000);
      assert.ok(!text.includes(uuid.toLowerCase()), `${name}'s uuid is not listed`);
    }
  });
});

describe('plantimager - allow-list', () => {
  test('with plantimagerAllow 127.0.0.2/32, a client from 127.0.0.2 is served and one from 127.0.0.1 is refused', async () => {
    const gated = await startHub({ plantimager: '127.0.0.1:0', plantimagerAllow: ['127.0.0.2/32'] });
    const port = faceAddress(gated).split(':').pop();
    const denied = new PyClient(`tcp://127.0.0.1:${port}`);
    const allowed = new PyClient(`tcp://127.0.0.2:0;127.0.0.1:${port}`);
    try {
      const refused = await denied.raw({ json: { event: 'REGISTER', payload: { device_type: 't', addr: 'tcp://x:1', name: 'intruder' } }, timeout_ms: 1500 });
      assert.equal(refused, null, 'the refused client gets no reply: its handshake fails');
      const r = await allowed.register('camera', 'tcp://127.0.0.2:5000', 'insider');
      assert.equal(r.name, 'insider');
      const list = await fetch(gated.url + '/v1/members').then((res) => res.json()) as { members: { name: string }[] };
      assert.deepEqual(list.members.map((m) => m.name), ['insider']);
    } finally {
      await denied.close();
      await allowed.close();
      await gated.stop();
    }
  });

  test('the face is off unless asked, and a bad allow-list entry stops the hub from starting', async () => {
    const plain = await startHub();
    try {
      assert.deepEqual(plain.hub.info().faces.map((f) => f.name), ['http+ws']);
    } finally {
      await plain.stop();
    }
    const dataDir = tempDir();
    try {
      await assert.rejects(startHub({ dataDir, plantimager: '127.0.0.1:0', plantimagerAllow: ['10.0.0.0/40'] }), /plantimagerAllow/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
