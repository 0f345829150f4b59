/**
 * `--rsb-connect`: the hub joins an existing RSB bus server (a Python one behaving as
 * rsb-python's BusServer) as a client and bridges it: events of the server's clients reach native
 * members and the hub's own RSB clients, native publications reach the server's clients, nothing
 * that came from the server goes back to it, and the link comes back with backoff when the server
 * goes away.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnHub, startHub, tempDir, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { RsbClient, RsbServer } from './rsb/peer.js';

let server: RsbServer;
let h: TestHub;
let hubPort = 0;
let native: RpcPeer;
let x: RsbClient;
let y: RsbClient;

const until = async (what: () => boolean | Promise<boolean>, label: string, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`not seen: ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const busMessages = () => native.notifications.filter((n) => n.method === 'bus.message').map((n) => n.params);
const upstreamMember = () => h.hub.registry.list({ type: 'rsb-upstream' }).members[0];

before(async () => {
  server = await RsbServer.start();
  h = await startHub({ rsb: '127.0.0.1:0', rsbConnect: `127.0.0.1:${server.port}` });
  hubPort = Number(h.hub.info().faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1));
  native = await RpcPeer.connect(h.wsUrl);
  await native.ok('register', { name: 'up-native', type: 'svc', liveness: 'session' });
  await native.ok('bus.subscribe', { scope: '/up/' });
  x = await RsbClient.connect(server.port);
  y = await RsbClient.connect(server.port);
  await x.listen('/');
  await y.listen('/');
  await until(() => upstreamMember()?.status === 'alive', 'the upstream member');
});
after(async () => {
  await x.stop();
  await y.stop();
  await native.close();
  await h.stop();
  await server.kill();
});

describe('rsb upstream - the hub as a client of another bus server', () => {
  test('the link is a member (type rsb-upstream, address the server) that shows in the registry', () => {
    const m = upstreamMember()!;
    assert.match(m.name, /^rsb-upstream-\d+$/);
    assert.equal(m.address, `127.0.0.1:${server.port}`);
  });

  test('an event of the server\'s client reaches native members and the hub\'s RSB clients; never back up', async () => {
    const local = await RsbClient.connect(hubPort);
    await local.listen('/up/');
    await x.send('/up/a/', 'utf-8-string', { text: 'from upstream' });
    await until(() => busMessages().some((m) => m.data === 'from upstream'), 'at the native member');
    assert.equal((await local.events(1))[0]?.text, 'from upstream');
    // y is on the same server: it gets x's event once, from the server; the hub must not send it back.
    const atY = await y.events(5, 500);
    assert.equal(atY.filter((e) => e.text === 'from upstream').length, 1);
    assert.equal((await x.events(5, 300)).length, 0, 'the sender never sees its event again');
    await local.stop();
  });

  test('a native publication and a hub RSB client\'s event reach the server\'s clients once', async () => {
    await native.ok('bus.publish', { scope: '/up/n/', data: 'from native' });
    const local = await RsbClient.connect(hubPort);
    await local.send('/up/l/', 'utf-8-string', { text: 'from a hub client' });
    const got = await x.events(2);
    assert.deepEqual(got.map((e) => e.text).sort(), ['from a hub client', 'from native']);
    assert.deepEqual((await x.events(5, 300)).map((e) => e.text), [], 'no duplicates');
    await local.stop();
  });

  test('a native member calls a method served on the other bus', async () => {
    await y.serve('/far/echo/', 'echo');
    assert.equal(await native.ok('bus.request', { to: 'rsb', method: '/far/echo', params: 'hop' }), 'hop');
  });

  test('when the server goes away the member is suspect; when it is back the hub reconnects and traffic flows', async () => {
    const port = server.port;
    const before = upstreamMember()!.name;
    await server.kill();
    await until(() => upstreamMember()?.status === 'suspect', 'suspect while the server is away');
    server = await RsbServer.start(port);
    await until(() => upstreamMember()?.status === 'alive', 'alive again', 15_000);
    assert.equal(upstreamMember()!.name, before, 'the same member, resumed');
    await x.stop();
    x = await RsbClient.connect(port);
    await x.listen('/');
    await native.ok('bus.publish', { scope: '/up/again/', data: 'after the restart' });
    assert.equal((await x.events(1))[0]?.text, 'after the restart');
  });
});

describe('rsb upstream - from the command line', () => {
  test('after a crash (SIGKILL) the hub starts again on the same data: the member rsb is its own again, old links are gone', async () => {
    const data = tempDir();
    const first = await spawnHub(['--data', data, '--rsb', '127.0.0.1:0']);
    const info = await (await fetch(`${first.url}/v1/info`)).json() as { faces: { name: string; address: string }[] };
    const c = await RsbClient.connect(Number(info.faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1)));
    await c.op({ op: 'hello' });
    await first.kill('SIGKILL');
    await c.stop();
    const second = await spawnHub(['--data', data, '--rsb', '127.0.0.1:0']);
    try {
      const members = async () => (await (await fetch(`${second.url}/v1/members?meta.face=rsb`)).json() as { members: { name: string; type: string; status: string }[] }).members;
      await until(async () => (await members()).every((m) => m.type === 'rsb-gateway'), 'the old link gone');
      const [gateway] = await members();
      assert.deepEqual([gateway?.name, gateway?.status], ['rsb', 'alive']);
    } finally {
      await second.kill();
    }
  });

  test('muster hub --rsb --rsb-connect: serves RSB at once, and joins a bus server that starts later', async () => {
    const late = await RsbServer.start();
    const port = late.port;
    await late.kill();
    const proc = await spawnHub(['--data', tempDir(), '--rsb', '127.0.0.1:0', '--rsb-connect', `127.0.0.1:${port}`]);
    let server: RsbServer | null = null;
    try {
      const info = await (await fetch(`${proc.url}/v1/info`)).json() as { faces: { name: string; address: string }[] };
      const rsbPort = Number(info.faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1));
      const local = await RsbClient.connect(rsbPort);
      await local.listen('/late/');
      server = await RsbServer.start(port);
      const far = await RsbClient.connect(port);
      const upstream = async () => {
        const list = await (await fetch(`${proc.url}/v1/members?type=rsb-upstream`)).json() as { members: { status: string }[] };
        return list.members[0]?.status === 'alive';
      };
      await until(upstream, 'the hub joined the late server', 15_000);
      await far.send('/late/x/', 'utf-8-string', { text: 'hello late' });
      assert.equal((await local.events(1))[0]?.text, 'hello late');
      await far.stop();
      await local.stop();
    } finally {
      await proc.kill();
      await server?.kill();
    }
  });
});
