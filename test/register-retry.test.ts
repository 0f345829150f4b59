/**
 * A registration is safe to retry: with `newToken` the client chooses the new member's token,
 * which fixes its id, so the same call again after a lost answer resumes the member the first
 * attempt made (same id, name and token) rather than making `name-1`. Shown over WebSocket and
 * HTTP; through the SDK, which proposes one on every register and retries by itself across a
 * dropped connection (a real hub behind a TCP proxy that loses the answer), a re-registration
 * whose answer was lost, and a cluster's frozen Redis (STORE_UNAVAILABLE); across a kill -9 of the
 * hub; and at two hubs of a cluster answering the same call at once (a real redis-server).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect } from '../src/client/index.js';
import { idOfNewToken } from '../src/core/tokens.js';
import { eventually } from './support/eventually.js';
import { ADMIN_TOKEN, spawnHub, startHub, tempDir, type TestHub } from './support/hub.js';
import { startRedis, type TestRedis } from './support/redis.js';
import { RpcPeer } from './support/rpc.js';
import { TcpProxy } from './support/tcp-proxy.js';

const token = (fill: string) => fill.repeat(43).slice(0, 43);
const namesOfType = async (h: TestHub, type: string) => {
  const r = await fetch(`${h.url}/v1/members?limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const body = (await r.json()) as { members: { id: string; name: string; type: string }[] };
  return body.members.filter((m) => m.type === type).map((m) => `${m.name} ${m.id}`);
};

describe('register retried with newToken, one hub', () => {
  let h: TestHub;
  before(async () => { h = await startHub({ sync: 'full' }); });
  after(async () => { await h.stop(); });

  test('the same call after its answer was lost answers the member the first attempt made', async () => {
    const newToken = token('a1');
    const params = { name: 'cam', type: 'retry-a', liveness: { kind: 'ttl', ttlMs: 60_000 }, newToken };
    const first = await RpcPeer.connect(h.wsUrl);
    void first.call('register', params);
    // The hub made it; the client never read the answer.
    await eventually(async () => (await namesOfType(h, 'retry-a')).length === 1, 'the first attempt made the member');
    first.ws.terminate();
    const again = await RpcPeer.connect(h.wsUrl);
    const r = await again.ok<{ id: string; name: string; token: string; registeredAt: number }>('register', params);
    assert.deepEqual(r, { id: idOfNewToken(newToken), name: 'cam', token: newToken, registeredAt: r.registeredAt, ttlMs: 60_000 });
    assert.ok(Date.now() - r.registeredAt < 60_000, 'when the first attempt made it');
    assert.deepEqual(await namesOfType(h, 'retry-a'), [`cam ${r.id}`]);
    // The member's token is the client's: it heartbeats with it.
    assert.equal((await again.ok<{ status: string }>('heartbeat', { id: r.id, token: newToken })).status, 'alive');
    again.ws.close();
  });

  test('without newToken the same retry makes a second member (what newToken is for)', async () => {
    const peer = await RpcPeer.connect(h.wsUrl);
    const params = { name: 'dup', type: 'retry-b', liveness: { kind: 'ttl', ttlMs: 60_000 } };
    const a = await peer.ok<{ name: string }>('register', params);
    const b = await peer.ok<{ name: string }>('register', params);
    assert.deepEqual([a.name, b.name], ['dup', 'dup-1']);
    assert.equal((await namesOfType(h, 'retry-b')).length, 2);
    peer.ws.close();
  });

  test('over HTTP too: POST /v1/members again with the same newToken answers the same member', async () => {
    const body = JSON.stringify({ name: 'web', type: 'retry-f', liveness: { kind: 'ttl', ttlMs: 60_000 }, newToken: token('f1') });
    const post = () => fetch(`${h.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const [one, two] = [await post(), await post()];
    assert.deepEqual([one.status, two.status], [201, 201]);
    const [a, b] = [await one.json(), await two.json()];
    assert.deepEqual(b, a);
    assert.deepEqual(await namesOfType(h, 'retry-f'), [`web ${(a as { id: string }).id}`]);
  });

  test('the SDK with a newToken of its caller: another call, from another client, answers the same member; gone, it is made with the same id', async () => {
    const newToken = token('h1');
    const options = { name: 'kept', type: 'retry-h', liveness: { kind: 'ttl' as const, ttlMs: 60_000 }, newToken };
    const first = await connect({ url: h.url });
    const a = await first.register(options);
    await first.close(); // a program that stopped; its ttl member stays for now
    const second = await connect({ url: h.url });
    try {
      const b = await second.register(options);
      assert.deepEqual(b, a);
      assert.deepEqual(a, { id: idOfNewToken(newToken), name: 'kept', token: newToken, registeredAt: a.registeredAt, ttlMs: 60_000 });
      await h.hub.registry.unregister(a.id, { token: ADMIN_TOKEN });
      await new Promise((r) => setTimeout(r, 2));
      const c = await second.register(options);
      assert.deepEqual(c, { ...a, registeredAt: c.registeredAt }, 'made anew with the same id, name and token');
      assert.ok(c.registeredAt > a.registeredAt, 'a member made anew: registeredAt says so');
      assert.deepEqual(await namesOfType(h, 'retry-h'), [`kept ${a.id}`]);
    } finally {
      await second.close();
    }
  });

  test('the SDK with a newToken of its caller: a ttl member the hub lost comes back by the next heartbeat with the same id (member-replaced)', async () => {
    const client = await connect({ url: h.url });
    const replaced: { oldId: string; id: string }[] = [];
    client.on('status', (st) => { if (st.type === 'member-replaced') replaced.push({ oldId: st.oldId, id: st.id }); });
    try {
      const m = await client.register({ name: 'beat-back', type: 'retry-i', liveness: { kind: 'ttl', ttlMs: 300 }, newToken: token('i1') });
      await h.hub.registry.unregister(m.id, { token: ADMIN_TOKEN });
      await eventually(() => replaced.length > 0, 'member-replaced');
      assert.deepEqual(replaced, [{ oldId: m.id, id: m.id }]);
      assert.deepEqual(await namesOfType(h, 'retry-i'), [`beat-back ${m.id}`]);
      assert.equal(client.tokenOf(m.id), m.token);
    } finally {
      await client.close();
    }
  });

  test('a newToken that is short or not base64url is refused (INVALID_PARAMS), nothing made', async () => {
    const peer = await RpcPeer.connect(h.wsUrl);
    for (const newToken of ['short', `${token('x')}!`, 'y'.repeat(257)]) {
      const r = await peer.call('register', { type: 'retry-c', newToken });
      assert.equal(r.error?.data?.code, 'INVALID_PARAMS', newToken);
    }
    assert.deepEqual(await namesOfType(h, 'retry-c'), []);
    peer.ws.close();
  });

  test('the SDK retries a registration whose answer was lost with its connection: one member, its first name', async () => {
    const proxy = await TcpProxy.start(Number(new URL(h.url).port));
    const client = await connect({ url: proxy.url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    try {
      // The answer to the client's first call (the register) is held, then the link is cut.
      const held = proxy.nextCall('replies');
      const registered = client.register({ name: 'sdk-cam', type: 'retry-d', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await held;
      await eventually(async () => (await namesOfType(h, 'retry-d')).length === 1, 'the hub made the member');
      proxy.cut();
      const r = await registered;
      assert.equal(r.name, 'sdk-cam');
      assert.deepEqual(await namesOfType(h, 'retry-d'), [`sdk-cam ${r.id}`]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});

describe('re-registration after a reconnect, its answer lost', () => {
  let h: TestHub;
  before(async () => { h = await startHub({ sync: 'full' }); });
  after(async () => { await h.stop(); });

  // The hub's answer says when it made the member: the client tells a resume from a member made
  // anew with the same id (before registeredAt was in the answer, this went unreported).
  test('with a newToken of its caller, a member the hub lost is made anew with the same id and the client reports member-replaced', async () => {
    const proxy = await TcpProxy.start(Number(new URL(h.url).port));
    const client = await connect({ url: proxy.url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const seen: string[] = [];
    client.on('status', (st) => { if (st.type === 'member-replaced') seen.push(`${st.oldId} -> ${st.id}`); else if (st.type === 'reconnected') seen.push('reconnected'); });
    try {
      const m = await client.register({ name: 'own-cam', type: 'retry-j', liveness: { kind: 'ttl', ttlMs: 60_000 }, newToken: token('j1') });
      const kept = await client.register({ name: 'kept-cam', type: 'retry-j', liveness: { kind: 'ttl', ttlMs: 60_000 }, newToken: token('j2') });
      await h.hub.registry.unregister(m.id, { token: ADMIN_TOKEN }); // the hub lost it; the client does not know
      proxy.cut();
      await eventually(() => seen.includes('reconnected'), 'reconnected');
      assert.deepEqual(seen, [`${m.id} -> ${m.id}`, 'reconnected'], 'the member made anew is reported; the one resumed is not');
      assert.deepEqual((await namesOfType(h, 'retry-j')).sort(), [`kept-cam ${kept.id}`, `own-cam ${m.id}`]);
      assert.equal(await client.heartbeat(m.id), 'alive');
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  test('a member the hub lost is made anew once, though the answer to the first re-registration never came', async () => {
    const proxy = await TcpProxy.start(Number(new URL(h.url).port));
    const client = await connect({ url: proxy.url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const replaced: string[] = [];
    client.on('status', (st) => { if (st.type === 'member-replaced') replaced.push(st.id); });
    try {
      const m = await client.register({ name: 'again-cam', type: 'retry-g', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await h.hub.registry.unregister(m.id, { token: ADMIN_TOKEN }); // the hub lost it
      // The next connection's first call is the re-registration: its answer is held, then that link cut too.
      const held = proxy.nextCall('replies');
      proxy.cut();
      await held;
      await eventually(async () => (await namesOfType(h, 'retry-g')).length === 1, 'the hub made the member anew');
      proxy.cut();
      const id = await eventually(() => replaced[0], 'member-replaced');
      assert.notEqual(id, m.id);
      assert.deepEqual(await namesOfType(h, 'retry-g'), [`again-cam ${id}`]);
      assert.equal(replaced.length, 1);
      assert.ok(client.tokenOf(id));
      assert.equal((await client.heartbeat(id)), 'alive');
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});

describe('register retried with newToken across a kill -9', () => {
  test('whether or not the hub made the member before it was killed, the retry after its restart leaves exactly one', async (t) => {
    const dir = tempDir();
    const listed = async (url: string) => {
      const r = await fetch(`${url}/v1/members?limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return ((await r.json()) as { members: { name: string; type: string }[] }).members.filter((m) => m.type === 'retry-k').map((m) => m.name).sort();
    };
    const made: boolean[] = [];
    for (let round = 0; round < 6; round++) {
      const hub = await spawnHub(['--data', dir, '--sync', 'full']);
      let again: Awaited<ReturnType<typeof spawnHub>> | undefined;
      try {
        const newToken = token(`k${round}`);
        const params = { name: `crash-${round}`, type: 'retry-k', liveness: { kind: 'ttl', ttlMs: 600_000 }, newToken };
        const peer = await RpcPeer.connect(hub.wsUrl);
        void peer.call('register', params);
        // Killed at a different point each round: before the commit, during the sync, after the answer.
        await new Promise((r) => setTimeout(r, round));
        await hub.kill('SIGKILL');
        again = await spawnHub(['--data', dir, '--sync', 'full']);
        made.push((await listed(again.url)).includes(`crash-${round}`));
        const retry = await RpcPeer.connect(again.wsUrl);
        const r = await retry.ok<{ id: string; name: string; token: string; registeredAt: number }>('register', params);
        assert.deepEqual(r, { id: idOfNewToken(newToken), name: `crash-${round}`, token: newToken, registeredAt: r.registeredAt, ttlMs: 600_000 });
        assert.deepEqual(await listed(again.url), Array.from({ length: round + 1 }, (_, i) => `crash-${i}`).sort());
        retry.ws.close();
      } finally {
        await hub.kill('SIGKILL');
        await again?.kill('SIGTERM');
      }
    }
    t.diagnostic(`made before the kill, by round: ${made.join(' ')}`);
  });
});

describe('register retried with newToken, a cluster of two hubs', () => {
  let redis: TestRedis;
  let a: TestHub;
  let b: TestHub;
  before(async () => {
    redis = await startRedis();
    a = await startHub({ cluster: redis.url, hubId: 'ra', storeTimeoutMs: 300 });
    b = await startHub({ cluster: redis.url, hubId: 'rb' });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  test('the same call at two hubs at once makes one member, and both answer it', async () => {
    for (let round = 0; round < 5; round++) {
      const newToken = token(`c${round}`);
      const params = { name: `twin-${round}`, type: 'retry-e', liveness: { kind: 'ttl', ttlMs: 60_000 }, newToken };
      const peers = await Promise.all([RpcPeer.connect(a.wsUrl), RpcPeer.connect(b.wsUrl)]);
      const answers = await Promise.all(peers.map((p) => p.ok<{ id: string; name: string; token: string; registeredAt: number }>('register', params)));
      for (const p of peers) p.ws.close();
      assert.deepEqual(answers[0], { id: idOfNewToken(newToken), name: `twin-${round}`, token: newToken, registeredAt: answers[0]!.registeredAt, ttlMs: 60_000 });
      assert.deepEqual(answers[1], answers[0], 'the same answer, registeredAt included');
    }
    for (const h of [a, b]) {
      await eventually(async () => (await namesOfType(h, 'retry-e')).length === 5, `${h.hub.registry.hubId} holds the five`);
      assert.deepEqual((await namesOfType(h, 'retry-e')).map((s) => s.split(' ')[0]).sort(), [0, 1, 2, 3, 4].map((i) => `twin-${i}`));
    }
    // The store made each member once: one `added` each in the shared history (the retry resumed it: `updated`).
    const watcher = await RpcPeer.connect(b.wsUrl);
    await watcher.ok('watch', { filter: { type: 'retry-e' }, since: 0 });
    await eventually(() => watcher.notifications.filter((n) => n.method === 'event').length >= 10, 'the history replayed');
    const types = watcher.notifications.filter((n) => n.method === 'event').map((n) => `${n.params.event.type} ${n.params.event.member.name}`);
    assert.deepEqual(types.filter((t) => t.startsWith('added')).sort(), [0, 1, 2, 3, 4].map((i) => `added twin-${i}`));
    assert.deepEqual(types.filter((t) => t.startsWith('updated')).sort(), [0, 1, 2, 3, 4].map((i) => `updated twin-${i}`));
    watcher.ws.close();
  });

  test('the SDK retries a registration the frozen shared store left unanswered (STORE_UNAVAILABLE): one member, its first name', async () => {
    const client = await connect({ url: a.url });
    try {
      const frozen = redis.pause(1_200); // longer than the hub's storeTimeoutMs (300): the first attempts answer STORE_UNAVAILABLE
      const r = await client.register({ name: 'frozen-cam', type: 'retry-j', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await frozen;
      assert.equal(r.name, 'frozen-cam');
      for (const h of [a, b]) {
        await eventually(async () => (await namesOfType(h, 'retry-j')).length > 0, `${h.hub.registry.hubId} has it`);
        assert.deepEqual(await namesOfType(h, 'retry-j'), [`frozen-cam ${r.id}`]);
      }
      assert.equal(await client.heartbeat(r.id), 'alive');
    } finally {
      await client.close();
    }
  });
});
