/**
 * Group commit as an operator sees it on /metrics (muster_store_*), and the SDK's part in it:
 * the requests a program makes in one turn reach the hub in one write, so the hub reads them
 * together and commits them once. At `--sync full` the disk paces the commits: what comes while
 * a sync runs is committed, and synced, when it ends. The hubs run as processes of their own: in
 * the test's process a hub could only read after the client's whole turn, whatever the client did.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { connect } from '../src/client/index.js';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { storeFigures } from './support/metrics.js';

type StoreFigures = Awaited<ReturnType<typeof storeFigures>>;

/** 64 workers, each awaiting its registration before the next (the durable bench's SDK side, bounded): the store's figures over them. */
async function registerInTurn(url: string, prefix: string): Promise<{ before: StoreFigures; after: StoreFigures }> {
  const client = await connect({ url, reconnect: false });
  try {
    const before = await storeFigures(url);
    const names = await Promise.all(Array.from({ length: 64 }, async (_, w) => {
      const mine: string[] = [];
      for (let i = 0; i < 10; i++) mine.push((await client.register({ type: 'batch', name: `${prefix}-${w}-${i}`, liveness: 'ttl' })).name);
      return mine;
    }));
    assert.equal(new Set(names.flat()).size, 640);
    return { before, after: await storeFigures(url) };
  } finally {
    await client.close();
  }
}

describe('group commit', () => {
  const dirs: string[] = [];
  const hubs: HubProcess[] = [];
  after(async () => {
    for (const h of hubs) await h.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  async function hubAt(sync: 'full' | 'normal') {
    const dir = tempDir();
    dirs.push(dir);
    const hub = await spawnHub(['--data', dir, '--sync', sync]);
    hubs.push(hub);
    return hub;
  }

  test('group commit - 64 programs registering in turn: the SDK sends what they ask in one turn together, the hub writes it together', async () => {
    // At `normal` a commit waits for the rest of what the hub read at once (commit-hold.ts), so
    // its size shows how the requests came: sent one by one as each worker resumed, they reached
    // the hub in many reads, 13 to 17 changes per commit.
    const hub = await hubAt('normal');
    const { before, after } = await registerInTurn(hub.url, 'batch');
    assert.ok(Number.isFinite(after.commits) && Number.isFinite(after.syncs) && Number.isFinite(after.checkpoints), '/metrics shows muster_store_*');
    assert.equal(after.changes - before.changes, 640);
    const perCommit = 640 / (after.commits - before.commits);
    assert.ok(perCommit >= 32, `changes per commit: ${perCommit.toFixed(1)}`);
  });

  test('group commit - at --sync full the disk paces the commits: a window\'s first requests are synced while the hub handles the rest, and nothing is committed while a sync runs', async () => {
    const hub = await hubAt('full');
    const { before, after } = await registerInTurn(hub.url, 'synced');
    assert.equal(after.changes - before.changes, 640);
    const commits = after.commits - before.commits;
    const syncs = after.syncs - before.syncs;
    assert.ok(syncs > 0, 'the changes were synced');
    // A commit is made only when no sync runs (or at 64 changes waiting, which 64 workers never
    // reach), and each is synced: as many commits as syncs (81 to 132 of each seen). Committed at
    // every slice the hub handles, there were a third more (150 for 113, 129 for 90).
    assert.ok(commits <= syncs + 1, `${commits} commits for ${syncs} syncs`);
    // The disk works while the hub handles the rest of a window: held for the rest (before), the
    // 640 took 10 commits and 10 syncs, and the hub idled through each sync of 64.
    assert.ok(syncs >= 20, `${syncs} syncs`);
    assert.ok(640 / syncs >= 2, `changes per sync: ${(640 / syncs).toFixed(1)}`);
  });
});
