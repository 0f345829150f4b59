/**
 * The members by status that /v1/info, /metrics and the dashboard's history show are kept as
 * members come, go and change (member-index.ts), not counted by a walk of every member each
 * second (at a million members that walk stopped the hub for 20-40 ms every second). They must
 * agree with the members themselves, as a list finds them, through every way a status changes:
 * registering, a session dropped (suspect) and back, a ttl lapsing, a removal, and a restart that
 * gives sessions their grace again.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ADMIN_TOKEN, startHub, tempDir, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { until } from './support/wait.js';

interface Counts { total: number; alive: number; suspect: number; gone: number }

async function shown(h: TestHub): Promise<Counts> {
  return ((await (await fetch(`${h.url}/v1/info`)).json()) as { members: Counts }).members;
}

/** The same counts from the members themselves: a list's total for each status. */
async function listed(h: TestHub): Promise<Counts> {
  const total = async (q: string) => ((await (await fetch(`${h.url}/v1/members?limit=1${q}`)).json()) as { total: number }).total;
  return { total: await total(''), alive: await total('&status=alive'), suspect: await total('&status=suspect'), gone: await total('&status=gone') };
}

async function agree(h: TestHub, want: Partial<Counts>): Promise<void> {
  const counts = await shown(h);
  assert.deepEqual(counts, await listed(h), 'the counts shown are the members as listed');
  for (const [k, v] of Object.entries(want)) assert.equal(counts[k as keyof Counts], v, `${k}: ${JSON.stringify(counts)}`);
}

describe('members by status', () => {
  const dataDir = tempDir('muster-counts-');
  let h: TestHub | undefined;
  after(async () => { await h?.stop(); });

  test('stay true through registrations, dropped sessions, lapses, removals and a restart', async () => {
    h = await startHub({ dataDir });
    const first = await RpcPeer.connect(h.wsUrl);
    for (let i = 0; i < 3; i++) await first.ok('register', { type: 'c', name: `short-${i}`, liveness: { kind: 'ttl', ttlMs: 300 } });
    const sessions: { id: string; token: string }[] = [];
    for (let i = 0; i < 3; i++) sessions.push(await first.ok('register', { type: 'c', name: `sess-${i}`, liveness: { kind: 'session', graceMs: 60_000 } }));
    const kept = await first.ok<{ id: string; token: string }>('register', { type: 'c', name: 'kept', liveness: { kind: 'ttl', ttlMs: 600_000 } });
    await agree(h, { total: 7, alive: 7, suspect: 0 });

    // Three ttls lapse (no heartbeat), and are removed.
    await until('the short ttls lapsed', async () => (await shown(h!)).total === 4, 10_000);
    await agree(h, { total: 4, alive: 4 });

    // The connection drops: its three sessions are suspect for their grace.
    await first.close();
    await until('the sessions suspect', async () => (await shown(h!)).suspect === 3, 10_000);
    await agree(h, { total: 4, alive: 1, suspect: 3 });

    // One comes back with its token: alive again. Another is removed.
    const second = await RpcPeer.connect(h.wsUrl);
    await second.ok('register', { type: 'c', name: 'sess-0', token: sessions[0]!.token, liveness: { kind: 'session', graceMs: 60_000 } });
    await agree(h, { total: 4, alive: 2, suspect: 2 });
    await second.ok('unregister', { id: sessions[1]!.id, token: ADMIN_TOKEN });
    await agree(h, { total: 3, alive: 2, suspect: 1 });
    await second.ok('heartbeat', { id: kept.id, token: kept.token });
    await second.close();

    // A restart: every session starts suspect again (its client has its grace to come back).
    await h.stop({ keepData: true });
    h = await startHub({ dataDir });
    await agree(h, { total: 3, alive: 1, suspect: 2 });
  });
});
