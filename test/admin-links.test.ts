/**
 * Admin - `muster admin check-links` and `muster admin drain` against real hubs: a parent with
 * child hub processes (check-links finds a hung child and a killed one at once, not a monitor
 * interval later), and a hub process drained while an SDK client with two hub URLs moves to the
 * other hub and the process exits by itself.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { connect, type ClientStatus } from '../src/client/index.js';
import type { DrainResult, LinkCheck } from '../src/schemas/admin.js';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, spawnHub, startHub, tempDir, type HubProcess, type TestHub } from './support/hub.js';

const FED = 'federation-token-admin-links';
const ROOT = new URL('..', import.meta.url).pathname;
const dirs: string[] = [];
const processes: ChildProcess[] = [];

after(() => {
  for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir('muster-admin-links-');
  dirs.push(d);
  return d;
}

async function eventually(done: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) if (await done()) return;
  assert.fail(`not within ${ms} ms: ${what}`);
}

const statusOf = async (url: string, name: string) => {
  const r = await fetch(`${url}/v1/members/${name}`);
  return r.status === 404 ? 'absent' : ((await r.json()) as { status: string }).status;
};

async function checkLinks(url: string, ...args: string[]): Promise<LinkCheck[]> {
  const r = await runMuster(['admin', 'check-links', '--json', ...args], { MUSTER_HUB: url, MUSTER_TOKEN: ADMIN_TOKEN });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { links: LinkCheck[] }).links;
}

async function childHub(parent: TestHub, id: string): Promise<HubProcess> {
  const h = await spawnHub(['--hub-id', id, '--data', dir(), '--registrar', parent.url, '--registrar-token', FED, '--monitor-ms', '60000']);
  processes.push(h.child);
  return h;
}

describe('admin - check-links', () => {
  test('both ways at once: children and registrar ok with round trips; a hung child lost (and removed), a killed one suspect, without waiting for the monitor', async () => {
    // The monitor would run only every minute: whatever is found here, check-links found.
    const parent = await startHub({ hubId: 'parent', federationToken: FED, federationMonitorMs: 60_000, federationGraceMs: 60_000, dataDir: dir() });
    try {
      const [hung, killed] = await Promise.all([childHub(parent, 'hung'), childHub(parent, 'killed')]);
      await eventually(async () => (await statusOf(parent.url, 'hung')) === 'alive' && (await statusOf(parent.url, 'killed')) === 'alive', 'both children registered');

      const down = await checkLinks(parent.url);
      assert.deepEqual(down.map((l) => [l.hubId, l.role, l.status]).sort(), [['hung', 'child', 'ok'], ['killed', 'child', 'ok']]);
      assert.ok(down.every((l) => typeof l.rttMs === 'number' && l.rttMs >= 0 && l.rttMs < 1000), JSON.stringify(down));
      const up = await checkLinks(hung.url);
      assert.deepEqual(up.map((l) => [l.hubId, l.role, l.status, l.address]), [['parent', 'registrar', 'ok', parent.url]]);
      const text = await runMuster(['admin', 'check-links'], { MUSTER_HUB: parent.url, MUSTER_TOKEN: ADMIN_TOKEN });
      assert.match(text.stdout, /^HUB\s+ROLE\s+STATUS\s+RTT/m);
      assert.match(text.stdout, /^hung\s+child\s+ok\s+[\d.]+ ms/m);

      process.kill(hung.pid, 'SIGSTOP'); // alive to the kernel, silent to the parent: only a ping finds it
      await killed.kill('SIGKILL');
      await eventually(async () => (await statusOf(parent.url, 'killed')) === 'suspect', 'the killed child suspect once its link closed');
      const started = Date.now();
      const asked = await fetch(`${parent.url}/v1/admin/check-links`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{"timeoutMs":500}' });
      assert.ok(Date.now() - started < 3_000, 'at once, not a monitor interval later');
      const found = ((await asked.json()) as { links: LinkCheck[] }).links;
      const byId = new Map(found.map((l) => [l.hubId, l]));
      assert.equal(byId.get('hung')?.status, 'lost');
      assert.match(byId.get('hung')!.error!, /No answer to hub\.ping within 500 ms/);
      assert.equal(byId.get('killed')?.status, 'suspect');
      assert.match(byId.get('killed')!.error!, /link closed/);
      assert.equal(await statusOf(parent.url, 'hung'), 'absent', 'the lost child removed with its subtree, as the monitor does');
      assert.equal(await statusOf(parent.url, 'killed'), 'suspect', 'the killed one kept for its grace period');
      await hung.kill('SIGKILL');
    } finally {
      await parent.stop();
    }
  });

  test('a hub without federation links answers an empty list; a member token is FORBIDDEN', async () => {
    const h = await startHub({ dataDir: dir() });
    try {
      assert.deepEqual(await checkLinks(h.url), []);
      const reg = await (await fetch(`${h.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 't' }) })).json() as { token: string };
      const r = await fetch(`${h.url}/v1/admin/check-links`, { method: 'POST', headers: { authorization: `Bearer ${reg.token}`, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(r.status, 403);
    } finally {
      await h.stop();
    }
  });
});

/** The HTTP status a WebSocket upgrade at `url` is answered with (101 when it opens). */
function upgradeStatus(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('open', () => { ws.close(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); });
    ws.once('error', reject);
  });
}

/** A process holding a session member at `url`, stopped (SIGSTOP) once registered: it never answers the hub's close. */
async function stuckSession(url: string, name: string): Promise<ChildProcess> {
  const code = `const { connect } = await import(${JSON.stringify(`${ROOT}src/client/index.ts`)});
    const c = await connect({ url: ${JSON.stringify(url)}, reconnect: false });
    await c.register({ type: 'holder', name: ${JSON.stringify(name)}, liveness: { kind: 'session' } });
    console.log('registered');`;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  processes.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('registered')) resolve(); });
    p.once('exit', (c) => reject(new Error(`the session holder exited with ${c}`)));
  });
  process.kill(p.pid!, 'SIGSTOP');
  return p;
}

describe('admin - drain', () => {
  test('registrations answer DRAINING, /healthz 503, new sockets refused, members here keep working, an SDK client moves to its other hub, and the process exits 0 by itself', async () => {
    const other = await startHub({ hubId: 'other', dataDir: dir() });
    const drained = await spawnHub(['--hub-id', 'drained', '--data', dir()]);
    processes.push(drained.child);
    const client = await connect({ url: [drained.url, other.url], reconnect: { initialDelayMs: 2_000, maxDelayMs: 2_000 } });
    const statuses: ClientStatus[] = [];
    client.on('status', (s) => { statuses.push(s); });
    try {
      await client.register({ type: 'mover', name: 'mover', liveness: { kind: 'session' } });
      const ttl = await (await fetch(`${drained.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'ttl', name: 'stays', liveness: { kind: 'ttl', ttlMs: 60_000 } }) })).json() as { id: string; token: string };
      // A session member whose process does not hang up: the drain waits for it until its timeout.
      const stuck = await stuckSession(drained.url, 'stuck');

      const r = await runMuster(['admin', 'drain', '--timeout', '4', '--json'], { MUSTER_HUB: drained.url, MUSTER_TOKEN: ADMIN_TOKEN });
      assert.equal(r.code, 0, r.stderr);
      const answer = JSON.parse(r.stdout) as DrainResult;
      const askedAt = Date.now();
      assert.equal(answer.draining, true);
      assert.equal(answer.sessions, 2, 'the SDK member and the stuck one');

      const refused = await fetch(`${drained.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'late' }) });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'DRAINING');
      const health = await fetch(`${drained.url}/healthz`);
      assert.equal(health.status, 503);
      assert.match(((await health.json()) as { reason: string }).reason, /draining/);
      assert.equal(await upgradeStatus(drained.wsUrl), 503, 'no new WebSocket session');
      const beat = await fetch(`${drained.url}/v1/members/${ttl.id}/heartbeat`, { method: 'PUT', headers: { authorization: `Bearer ${ttl.token}` } });
      assert.equal(beat.status, 200, 'a member already here keeps working');

      // Asked to move (close 1012), the SDK goes to the next URL at once, not after its 2 s backoff.
      await eventually(async () => statuses.some((s) => s.type === 'reconnected') && (await statusOf(other.url, 'mover')) === 'alive', 'the SDK member on the other hub', 1_900);
      const dropped = statuses.find((s): s is Extract<ClientStatus, { type: 'disconnected' }> => s.type === 'disconnected');
      assert.match(dropped?.reason ?? '', /^1012 DRAINING/, 'told why');

      const code = await drained.exited;
      assert.equal(code, 0, 'the hub stopped by itself, gracefully');
      const took = Date.now() - askedAt;
      assert.ok(took > 3_000 && took < 9_000, `stopped at the drain's timeout (the stuck session never left): ${took} ms`);
      assert.ok(client.connected, 'the client stays with the other hub');
      stuck.kill('SIGKILL');
    } finally {
      await client.close();
      await other.stop();
    }
  });

  test('once no session member is left the hub stops without waiting for the timeout; the drain is in the audit', async () => {
    const drained = await spawnHub(['--hub-id', 'quick', '--data', dir()]);
    processes.push(drained.child);
    const client = await connect({ url: drained.url, reconnect: false });
    try {
      await client.register({ type: 'mover', liveness: { kind: 'session' } });
      const audit = client.watch({ types: ['admin'] });
      await audit.ready;
      const r = await runMuster(['admin', 'drain', '--timeout', '60'], { MUSTER_HUB: drained.url, MUSTER_TOKEN: ADMIN_TOKEN });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^draining: 1 session members asked to move/);
      const askedAt = Date.now();
      for await (const e of audit) {
        assert.equal(e.type, 'admin');
        if (e.type !== 'admin') continue;
        assert.equal(e.action, 'drain');
        assert.equal(e.by, 'admin');
        assert.deepEqual(e.from, { face: 'http', address: '127.0.0.1' });
        assert.deepEqual(e.detail, { timeoutMs: 60_000, already: false });
        break;
      }
      assert.equal(await drained.exited, 0);
      assert.ok(Date.now() - askedAt < 10_000, 'well before the 60 s timeout');
    } finally {
      await client.close();
    }
  });
});
