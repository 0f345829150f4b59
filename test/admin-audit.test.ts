/**
 * Admin - the audit: every admin action is an `admin` event in the log with who did it and from
 * where, stored and replayed like the others (across a restart), shown by `muster watch --events
 * admin`; watches that do not ask for admin events (the SDK's, SSE's, the dashboard's members
 * feed) never see an event without a member.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type AdminEvent, type HubEvent } from '../src/client/index.js';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, startHub, tempDir, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';
import { sseReplay } from './support/wait.js';

const dataDir = tempDir('muster-audit-');
let h: TestHub;
const admin = () => ({ MUSTER_HUB: h.url, MUSTER_TOKEN: ADMIN_TOKEN });

before(async () => { h = await startHub({ dataDir }); });
after(async () => { await h.stop(); });

/** Every event after revision 0 a watch with `filter` replays, up to the hub's current revision. */
async function replay(filter: Record<string, unknown>): Promise<HubEvent[]> {
  const c = await connect({ url: h.url });
  try {
    const until = (await c.info()).revision;
    const w = c.watch(filter, { since: 0 });
    const seen: HubEvent[] = [];
    await w.ready;
    if (until === 0) return seen;
    const timer = setTimeout(() => void w.close(), 2_000);
    for await (const e of w) {
      seen.push(e);
      if (e.revision >= until) break;
    }
    clearTimeout(timer);
    return seen;
  } finally {
    await c.close();
  }
}

/** What an SSE stream sends in its first 300 ms (its replay). */

describe('admin - audit', () => {
  test('log-level, check-links and a snapshot are admin events with by, from (face and address) and detail; member watches never see them', async () => {
    assert.equal((await runMuster(['admin', 'log-level', 'debug'], admin())).code, 0);
    assert.equal((await runMuster(['admin', 'check-links'], admin())).code, 0);
    const snap = await fetch(`${h.url}/v1/admin/snapshot`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(snap.status, 200);
    await snap.arrayBuffer();
    const ws = await RpcPeer.connect(`${h.wsUrl}?token=${ADMIN_TOKEN}`);
    await ws.ok('admin.logLevel', { level: 'silent' });
    await ws.close();
    await (await fetch(`${h.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"cam","name":"cam-1"}' })).json();

    const audit = (await replay({ types: ['admin'] })) as AdminEvent[];
    assert.deepEqual(audit.map((e) => [e.type, e.action, e.by, e.from?.face]), [
      ['admin', 'log-level', 'admin', 'http'], ['admin', 'check-links', 'admin', 'http'], ['admin', 'snapshot', 'admin', 'http'], ['admin', 'log-level', 'admin', 'ws'],
    ]);
    assert.ok(audit.every((e) => e.from?.address === '127.0.0.1' && typeof e.at === 'number'), JSON.stringify(audit));
    assert.deepEqual(audit[0]!.detail, { from: 'silent', to: 'debug' });
    assert.deepEqual(audit[1]!.detail, { ok: 0, suspect: 0, lost: 0, notOk: [] });
    assert.deepEqual(audit[3]!.detail, { from: 'debug', to: 'silent' });

    // A watch without types, or one that selects members, gets member events only.
    assert.deepEqual((await replay({})).map((e) => e.type), ['added']);
    assert.deepEqual(await replay({ types: ['admin'], name: 'cam-1' }), []);
    assert.deepEqual((await replay({ types: ['added', 'admin'] })).map((e) => e.type), ['admin', 'admin', 'admin', 'admin', 'added']);
    const sse = await sseReplay(`${h.url}/v1/events?since=0`);
    assert.match(sse, /"type":"added"/);
    assert.doesNotMatch(sse, /"type":"admin"/, 'an SSE stream without types has no admin events');
    assert.equal((await sseReplay(`${h.url}/v1/events?since=0&types=admin`)).match(/"type":"admin"/g)?.length, 4, 'and one that asks has them all');
  });

  test('the audit survives a restart and shows in `muster watch --events admin --since 0`', async () => {
    await h.stop({ keepData: true });
    h = await startHub({ dataDir });
    const r = await runMuster(['watch', '--events', 'admin', '--since', '0', '--json'], admin(), { timeoutMs: 4_000 });
    const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AdminEvent);
    assert.deepEqual(lines.map((e) => e.action), ['log-level', 'check-links', 'snapshot', 'log-level']);
    const text = await runMuster(['watch', '--events', 'admin', '--since', '0'], admin(), { timeoutMs: 4_000 });
    assert.match(text.stdout, /admin\s+log-level\s+by admin \(http 127\.0\.0\.1\)\s+\{"from":"silent","to":"debug"\}/);
  });

  test('a member token is FORBIDDEN and leaves no admin event', async () => {
    const before = (await replay({ types: ['admin'] })).length;
    const reg = await (await fetch(`${h.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"t"}' })).json() as { token: string };
    const r = await fetch(`${h.url}/v1/admin/log-level`, { method: 'PUT', headers: { authorization: `Bearer ${reg.token}`, 'content-type': 'application/json' }, body: '{"level":"debug"}' });
    assert.equal(r.status, 403);
    assert.equal((await replay({ types: ['admin'] })).length, before);
  });
});
