/**
 * Checkpoints that fail (the database file cannot grow: ENOSPC injected by strace into the
 * checkpoint's writes of muster.db only, the WAL's still going through) do not go unseen: the hub
 * logs it once, counts each failure in /metrics with the WAL's size, and goes on committing
 * durably; once the disk takes the writes again a checkpoint ends, and the log says so. Before
 * 2026-12-06 the failures were dropped without a word while the WAL grew. A real hub process.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually } from './support/eventually.js';
import { spawnHub, tempDir } from './support/hub.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { RpcPeer } from './support/rpc.js';
import { failWrites } from './support/strace.js';

/** More than two checkpoints' worth of commits (one every 256), one registration a commit. */
const REGISTRATIONS = 600;
const dirs: string[] = [];
before(() => requirePrerequisites('strace'));
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { failures: read('muster_store_checkpoint_failures_total'), checkpoints: read('muster_store_checkpoints_total'), wal: read('muster_store_wal_bytes') };
}

async function registerMany(peer: RpcPeer, prefix: string): Promise<void> {
  for (let i = 0; i < REGISTRATIONS; i++) await peer.ok('register', { name: `${prefix}-${i}`, type: 'sensor', liveness: { kind: 'ttl', ttlMs: 600_000 } });
}

test('checkpoints that fail are logged once and counted, commits go on durably; once the disk takes writes again a checkpoint ends and the log says so', { timeout: 120_000 }, async () => {
  const dir = tempDir('muster-checkpoint-fail-');
  dirs.push(dir);
  let hub = await spawnHub(['--data', dir, '--sync', 'full', '--log-level', 'info']);
  try {
    const peer = await RpcPeer.connect(hub.wsUrl);
    await registerMany(peer, 'warm');
    const start = await metrics(hub.url);
    assert.ok(start.checkpoints >= 1 && start.failures === 0, JSON.stringify(start));

    const full = await failWrites(hub.pid, 'ENOSPC', join(dir, 'muster.db'));
    try {
      await registerMany(peer, 'during');
    } finally {
      await full.detach();
    }
    const failing = await metrics(hub.url);
    assert.ok(failing.failures >= 2, `each failed checkpoint counted: ${JSON.stringify(failing)}`);
    assert.equal(failing.checkpoints, start.checkpoints, 'none ended');
    assert.ok(failing.wal > start.wal, `the WAL grew: ${start.wal} -> ${failing.wal} bytes`);
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200, 'commits are still durable: the hub is healthy');
    const logged = hub.stdout().split('\n').filter((l) => l.includes('a checkpoint of the store failed'));
    assert.equal(logged.length, 1, `logged once for ${failing.failures} failures: ${logged.join('\n')}`);
    assert.match(logged[0]!, /"level":50/);
    assert.match(logged[0]!, /SQLITE_FULL/);

    await registerMany(peer, 'after');
    const mended = await metrics(hub.url);
    assert.ok(mended.checkpoints > start.checkpoints, `a checkpoint ended: ${JSON.stringify(mended)}`);
    assert.equal(mended.failures, failing.failures);
    await eventually(() => hub.stdout().includes('checkpoints of the store end again'), 'the log says checkpoints end again');
    await peer.close();
  } finally {
    await hub.kill('SIGKILL');
  }
  // Everything acknowledged is in the file, through the failed checkpoints.
  hub = await spawnHub(['--data', dir, '--sync', 'full']);
  try {
    const info = await (await fetch(`${hub.url}/v1/info`)).json() as { members: { total: number } };
    assert.equal(info.members.total, 3 * REGISTRATIONS);
  } finally {
    await hub.kill();
  }
});
