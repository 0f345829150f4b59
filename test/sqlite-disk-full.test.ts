/**
 * A hub on its own SQLite file whose disk is full (ENOSPC injected by strace into its writes):
 * what the hub changes in memory on its own meanwhile (a ttl member expiring) is written once the
 * disk has space, and its watchers told then. Until 2026-12-07 a full disk stopped the store, and
 * such a removal was never written: the member stayed in the file and came back at a restart,
 * its watchers never told it had gone. And a try of the full disk's write made while frames wait
 * at the hub (a commit is then held for the rest of a burst) is not left without a next one.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { spawnHub, tempDir } from './support/hub.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { RpcPeer } from './support/rpc.js';
import { failWrites } from './support/strace.js';
import { sleep, until } from './support/wait.js';

const dirs: string[] = [];
before(() => requirePrerequisites('strace'));
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('a ttl member that expires while the disk is full is removed in the file once it has space, and its watchers told then', { timeout: 60_000 }, async () => {
  const dir = tempDir('muster-disk-full-');
  dirs.push(dir);
  let hub = await spawnHub(['--data', dir, '--sync', 'full']);
  try {
    const peer = await RpcPeer.connect(hub.wsUrl);
    await peer.ok('watch', { filter: { prefix: 'short-' } });
    await peer.ok('register', { name: 'short-lived', type: 'sensor', liveness: { kind: 'ttl', ttlMs: 2_500 } });
    await peer.ok('register', { name: 'short-kept', type: 'sensor', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    const removals = () => peer.notifications.filter((n) => n.method === 'event' && n.params.event.type === 'removed').map((n) => `${n.params.event.member.name} ${n.params.event.reason}`);
    let waiting: ReturnType<typeof peer.call> | undefined;
    const failing = await failWrites(hub.pid, 'ENOSPC');
    try {
      // A registration finds the disk full (it waits for space); from then on new changes are refused.
      waiting = peer.call('register', { name: 'short-waiting', type: 'sensor', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      await until('the disk found full', async () => (await fetch(`${hub.url}/healthz`)).status === 503, 10_000);
      await sleep(3_000); // past the ttl: expired in memory, its removal refused
      assert.deepEqual(((await peer.ok('list', { prefix: 'short-' })).members as { name: string }[]).map((m) => m.name), ['short-kept', 'short-waiting']);
      assert.deepEqual(removals(), [], 'watchers hear of it only once it is written');
    } finally {
      await failing.detach();
    }
    await until('the removal written and told', () => removals().length > 0, 10_000);
    assert.deepEqual(removals(), ['short-lived expired']);
    assert.equal(((await waiting)?.result as { name: string } | undefined)?.name, 'short-waiting');
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
    peer.ws.close();
    await hub.kill('SIGKILL');
    hub = await spawnHub(['--data', dir, '--sync', 'full']);
    const again = await RpcPeer.connect(hub.wsUrl);
    assert.deepEqual(((await again.ok('list', { prefix: 'short-' })).members as { name: string }[]).map((m) => m.name), ['short-kept', 'short-waiting'], 'the expired member is not in the file');
    again.ws.close();
  } finally {
    await hub.kill();
  }
});

test('a full disk\'s write is tried again while a client keeps the hub busy with frames', { timeout: 60_000 }, async () => {
  const dir = tempDir('muster-disk-full-busy-');
  dirs.push(dir);
  const hub = await spawnHub(['--data', dir, '--sync', 'full']);
  try {
    const peer = await RpcPeer.connect(hub.wsUrl);
    const busy = await RpcPeer.connect(hub.wsUrl);
    const failing = await failWrites(hub.pid, 'ENOSPC');
    const waiting = peer.call('register', { name: 'busy-waiting', type: 'sensor' });
    await until('the disk found full', async () => (await fetch(`${hub.url}/healthz`)).status === 503, 10_000);
    // Bursts of reads, each more than a turn's slice of work: frames wait at the hub all along.
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        const burst = Array.from({ length: 3_000 }, () => busy.call('list', { limit: 1 }));
        await Promise.all(burst);
      }
    })();
    try {
      await sleep(3_000); // a few tries while the disk is full, each with frames waiting
      await failing.detach();
      const answer = await Promise.race([waiting, sleep(8_000).then(() => null)]);
      assert.equal((answer?.result as { name: string } | undefined)?.name, 'busy-waiting', 'written once the disk has space, while the hub is busy');
    } finally {
      flooding = false;
      await flood;
    }
  } finally {
    await hub.kill();
  }
});
