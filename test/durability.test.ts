import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const dataDir = tempDir('muster-durable-');
let running: HubProcess | undefined;
after(async () => {
  await running?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('durability - kill -9', () => {
  test('2,000 acknowledged registrations, updates and unregistrations survive SIGKILL', async () => {
    running = await spawnHub(['--data', dataDir]);
    const p = await RpcPeer.connect(running.wsUrl);
    const acked: { id: string; name: string; token: string }[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        p.ok('register', { name: `dev-${batch * 200 + i}`, type: 'sensor', address: `10.0.${batch}.${i}`, meta: { batch: String(batch) } })));
      acked.push(...replies);
    }
    assert.equal(acked.length, 2000);
    // Changes of other kinds, each acknowledged before the kill.
    await Promise.all(acked.slice(0, 50).map((m) => p.ok('update', { id: m.id, token: m.token, address: 'moved' })));
    await Promise.all(acked.slice(50, 80).map((m) => p.ok('unregister', { id: m.id, token: m.token })));
    const killed = await running.kill('SIGKILL');
    assert.equal(killed, null, 'killed by a signal, not exited');
    await p.close().catch(() => {});

    running = await spawnHub(['--data', dataDir]);
    const all: any[] = [];
    for (let after: string | null = ''; after !== null;) {
      const res = await fetch(`${running.url}/v1/members?type=sensor&limit=1000${after ? `&after=${after}` : ''}`);
      const page = (await res.json()) as { members: any[]; next: string | null };
      all.push(...page.members);
      after = page.next;
    }
    assert.equal(all.length, 1970);
    const byId = new Map(all.map((m) => [m.id, m]));
    for (const [i, m] of acked.entries()) {
      const got = byId.get(m.id);
      if (i >= 50 && i < 80) { assert.equal(got, undefined, `${m.name} stays unregistered`); continue; }
      assert.ok(got, `${m.name} is back`);
      assert.equal(got.name, m.name);
      assert.equal(got.address, i < 50 ? 'moved' : `10.0.${Math.floor(i / 200)}.${i % 200}`);
    }
    // Tokens survive too: a member can heartbeat with the token it was given before the crash.
    const q = await RpcPeer.connect(running.wsUrl);
    for (const m of [acked[0]!, acked[999]!, acked[1999]!]) assert.deepEqual(await q.ok('heartbeat', { id: m.id, token: m.token }), { status: 'alive' });
    const wrong = await q.call('heartbeat', { id: acked[500]!.id, token: acked[501]!.token });
    assert.equal(wrong.error?.data?.code, 'UNAUTHORIZED');
    // Re-registering with the old token keeps id and name.
    const again = await q.ok('register', { type: 'sensor', token: acked[1234]!.token });
    assert.deepEqual([again.id, again.name], [acked[1234]!.id, acked[1234]!.name]);
    await q.close();
  });

  // At both levels a batch of at most 4 changes commits on the hub's thread (at `full`, its WAL then synced on the thread pool).
  for (const sync of ['normal', 'full'] as const) test(`--sync ${sync}: changes acknowledged one at a time and in bursts (group commits, pipelined syncs) survive SIGKILL`, async () => {
    const dir = tempDir(`muster-durable-${sync}-`);
    let hub = await spawnHub(['--data', dir, '--sync', sync]);
    const p = await RpcPeer.connect(hub.wsUrl);
    const acked: { id: string; name: string; token: string }[] = [];
    // One at a time past two checkpoints (every 256 commits made on the hub's thread), then a burst, then one at a time again.
    for (let i = 0; i < 600; i++) acked.push(await p.ok('register', { name: `one-${i}`, type: 'sensor', address: `a-${i}` }));
    acked.push(...await Promise.all(Array.from({ length: 300 }, (_, i) => p.ok('register', { name: `burst-${i}`, type: 'sensor', address: `b-${i}` }))));
    for (let i = 0; i < 100; i++) acked.push(await p.ok('register', { name: `last-${i}`, type: 'sensor', address: `c-${i}` }));
    for (const m of acked.slice(0, 20)) await p.ok('update', { id: m.id, token: m.token, address: 'moved' });
    for (const m of acked.slice(20, 30)) await p.ok('unregister', { id: m.id, token: m.token });
    assert.equal(await hub.kill('SIGKILL'), null, 'killed by a signal, not exited');
    await p.close().catch(() => {});

    hub = await spawnHub(['--data', dir, '--sync', sync]);
    const all = new Map<string, { name: string; address: string }>();
    for (let after: string | null = ''; after !== null;) {
      const res = await fetch(`${hub.url}/v1/members?type=sensor&limit=1000${after ? `&after=${after}` : ''}`);
      const page = (await res.json()) as { members: { id: string; name: string; address: string }[]; next: string | null };
      for (const m of page.members) all.set(m.id, m);
      after = page.next;
    }
    assert.equal(all.size, 990);
    for (const [i, m] of acked.entries()) {
      const got = all.get(m.id);
      if (i >= 20 && i < 30) { assert.equal(got, undefined, `${m.name} stays unregistered`); continue; }
      assert.equal(got?.name, m.name, `${m.name} is back`);
      if (i < 20) assert.equal(got.address, 'moved');
    }
    await hub.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('after a restart, ttl members get one full ttl to show up, then expire', async () => {
    const dir = tempDir('muster-ttl-restart-');
    let hub = await spawnHub(['--data', dir]);
    const p = await RpcPeer.connect(hub.wsUrl);
    await p.ok('register', { name: 'quiet', type: 't', liveness: { kind: 'ttl', ttlMs: 1500 } });
    const loyal = await p.ok('register', { name: 'loyal', type: 't', liveness: { kind: 'ttl', ttlMs: 1500 } });
    await hub.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000)); // longer than the ttl would allow without a restart grace
    hub = await spawnHub(['--data', dir]);
    const q = await RpcPeer.connect(hub.wsUrl);
    assert.equal((await q.ok('get', { name: 'quiet' })).status, 'alive', 'a fresh ttl after the restart');
    const stop = Date.now() + 2500;
    while (Date.now() < stop) {
      await q.ok('heartbeat', { id: loyal.id, token: loyal.token });
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal((await q.call('get', { name: 'quiet' })).error?.data?.code, 'NO_SUCH_MEMBER', 'expired after one ttl');
    assert.equal((await q.ok('get', { name: 'loyal' })).status, 'alive');
    await q.close();
    await p.close().catch(() => {});
    await hub.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('SIGTERM stops the hub gracefully and closes sessions with a reason', async () => {
    const dir = tempDir('muster-term-');
    const hub = await spawnHub(['--data', dir]);
    const p = await RpcPeer.connect(hub.wsUrl);
    await p.ok('register', { name: 'sess', type: 't', liveness: 'session' });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => p.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const code = await hub.kill('SIGTERM');
    assert.equal(code, 0);
    const c = await closed;
    assert.equal(c.code, 1001);
    assert.match(c.reason, /shutting down/);
    const again = await spawnHub(['--data', dir]);
    const q = await RpcPeer.connect(again.wsUrl);
    assert.equal((await q.ok('get', { name: 'sess' })).status, 'suspect', 'session members wait for their grace period after a restart');
    await q.close();
    await again.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
});
