/**
 * Group commit as an operator sees it on /metrics (muster_store_*), and the SDK's part in it:
 * the requests a program makes in one turn reach the hub in one write, so the hub reads them
 * together and commits and syncs them once. The hub runs as a process of its own: in the test's
 * process it could only read after the client's whole turn, whatever the client did.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect, type MusterClient } from '../src/client/index.js';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { storeFigures } from './support/metrics.js';

describe('group commit', () => {
  let hub: HubProcess;
  let client: MusterClient;
  const dir = tempDir();
  before(async () => {
    hub = await spawnHub(['--data', dir, '--sync', 'full']);
    client = await connect({ url: hub.url, reconnect: false });
  });
  after(async () => {
    await client.close();
    await hub.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('group commit - 64 programs registering in turn: the SDK sends what they ask in one turn together, the hub writes and syncs it together', async () => {
    const before = await storeFigures(hub.url);
    // 64 workers, each awaiting its registration before the next (the durable bench's SDK side, bounded).
    const names = await Promise.all(Array.from({ length: 64 }, async (_, w) => {
      const mine: string[] = [];
      for (let i = 0; i < 10; i++) mine.push((await client.register({ type: 'batch', name: `batch-${w}-${i}`, liveness: 'ttl' })).name);
      return mine;
    }));
    assert.equal(new Set(names.flat()).size, 640);
    const after = await storeFigures(hub.url);
    assert.ok(Number.isFinite(after.commits) && Number.isFinite(after.syncs) && Number.isFinite(after.checkpoints), '/metrics shows muster_store_*');
    assert.equal(after.changes - before.changes, 640);
    // At --sync full every acknowledged change was synced: no syncs would make the ratios below Infinity.
    assert.ok(after.syncs > before.syncs && after.commits > before.commits, 'commits and syncs were counted');
    const perCommit = 640 / (after.commits - before.commits);
    const perSync = 640 / (after.syncs - before.syncs);
    // Sent one by one as each worker resumed, they reached the hub in many reads: 13 to 17 changes per commit seen.
    assert.ok(perCommit >= 32, `changes per commit: ${perCommit.toFixed(1)}`);
    assert.ok(perSync >= 32, `changes per sync: ${perSync.toFixed(1)}`);
  });
});
