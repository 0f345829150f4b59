/**
 * The durability levels as the disk sees them: a real hub traced with strace (its system calls,
 * every thread). With `--sync full` each registration's answer leaves the hub only after a sync of
 * the WAL that ended after the answer before it, and, when 20 are sent at once, after a sync that
 * began once its row was written to the WAL: nothing acknowledged waits in the page cache. With
 * `--sync normal` registrations are answered without a sync each (the WAL is synced at checkpoints).
 * A sync or a write of the WAL that fails (injected by strace: EIO, as a dying disk would answer)
 * stops the store: writes are refused with STORE_UNAVAILABLE, /healthz, /metrics and the log say
 * why, the rest of the hub keeps serving, and a restart finds everything acknowledged before, and
 * nothing of what was refused. A full disk (ENOSPC) does not: the changes taken wait and are
 * written once the disk has space, new ones are refused meanwhile, and the store goes on by itself.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { eventually } from './support/eventually.js';
import { spawnHub, tempDir } from './support/hub.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { RpcPeer } from './support/rpc.js';
import { attach, failWrites, traceCalls, walSyncs, type Call } from './support/strace.js';

const REGISTRATIONS = 20;
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

interface Traced {
  /** The members registered, in the order sent. */
  names: string[];
  syncs: Call[];
  /** The WebSocket frames written to the test's connection that answer a registration. */
  answers: Call[];
  /** Writes of WAL frames (their bytes in `args`). */
  walWrites: Call[];
}

/**
 * Registers REGISTRATIONS members on a hub at `sync` under strace, one at a time or all at once;
 * the hub's WAL syncs and writes and its answers to the test's socket, in time order.
 */
async function traced(sync: 'full' | 'normal', together = false): Promise<Traced> {
  const dir = tempDir('muster-sync-');
  dirs.push(dir);
  const hub = await spawnHub(['--data', dir, '--sync', sync]);
  try {
    const trace = await traceCalls(hub.pid, dir, ['fsync', 'fdatasync', 'write', 'writev', 'pwrite64'], hub.url);
    const peer = await RpcPeer.connect(hub.wsUrl);
    const port = (peer.ws as unknown as { _socket: { localPort: number } })._socket.localPort;
    // Fixed width: no name is a prefix of another.
    const names = Array.from({ length: REGISTRATIONS }, (_, i) => `s${sync[0]}${together ? 'b' : 'o'}-${String(i).padStart(2, '0')}`);
    const register = (name: string) => peer.ok('register', { name, type: 'sensor', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    if (together) await Promise.all(names.map(register));
    else for (const name of names) await register(name);
    peer.ws.close();
    const calls = await trace.stop();
    // Only the registrations' answers: on a slow run the hub's answer to the close can land in the trace too.
    const answers = calls.filter((c) => (c.syscall === 'write' || c.syscall === 'writev') && c.target.endsWith(`->127.0.0.1:${port}]`) && names.some((n) => c.args.includes(n)));
    const syncs = walSyncs(calls);
    const walWrites = calls.filter((c) => c.syscall === 'pwrite64' && c.target.endsWith('muster.db-wal'));
    return { names, syncs, answers, walWrites };
  } finally {
    await hub.kill();
  }
}

describe('durability levels on the disk', () => {
  before(() => requirePrerequisites('strace'));
  test('--sync full: every registration is answered after a sync of the WAL that ended after the previous answer', { timeout: 60_000 }, async () => {
    const { syncs, answers } = await traced('full');
    assert.equal(answers.length, REGISTRATIONS, 'one answer written per registration');
    let previous = 0;
    for (const [i, a] of answers.entries()) {
      assert.ok(syncs.some((s) => s.endUs > previous && s.endUs <= a.atUs), `registration ${i} was answered with no WAL sync since the answer before it`);
      previous = a.atUs;
    }
  });

  test('--sync full: 20 registrations sent at once: each is answered after a sync of the WAL that began after it was written there', { timeout: 60_000 }, async () => {
    const { names, syncs, answers, walWrites } = await traced('full', true);
    for (const name of names) {
      const written = walWrites.find((w) => w.args.includes(name));
      const answered = answers.find((a) => a.args.includes(name));
      assert.ok(written && answered, `${name}: written to the WAL and answered`);
      assert.ok(syncs.some((s) => s.atUs >= written.endUs && s.endUs <= answered.atUs), `${name} was answered with no WAL sync between its write and its answer`);
    }
    assert.ok(syncs.length < names.length, `${syncs.length} syncs for ${names.length} registrations sent at once: group commit`);
  });

  test('--sync normal: registrations are answered without a sync each', { timeout: 60_000 }, async () => {
    const { syncs, answers } = await traced('normal');
    assert.equal(answers.length, REGISTRATIONS);
    const during = syncs.filter((s) => s.endUs > answers[0]!.atUs && s.endUs <= answers.at(-1)!.atUs);
    assert.ok(during.length < REGISTRATIONS / 4, `${during.length} WAL syncs during ${REGISTRATIONS} registrations`);
  });

  // Changes are written to the WAL on the hub's thread (pwrite64), then synced with fdatasync on the thread pool; a burst may take several syncs.
  for (const [what, syscall, errno, burst, reason] of [
    ['a failed sync, one registration', 'fdatasync', 'EIO', 1, 'EIO'],
    ['a failed sync, a burst of 20', 'fdatasync', 'EIO', 20, 'EIO'],
    ['a failed write of the WAL, a burst of 20', 'pwrite64', 'EIO', 20, 'SQLITE_IOERR_WRITE'],
  ] as const) test(`--sync full: ${what} stops the store; writes answer STORE_UNAVAILABLE, /healthz, /metrics and the log say why, a restart finds what was acknowledged`, { timeout: 60_000 }, async () => {
    const dir = tempDir('muster-sync-fail-');
    dirs.push(dir);
    let hub = await spawnHub(['--data', dir, '--sync', 'full']);
    try {
      const peer = await RpcPeer.connect(hub.wsUrl);
      const before = await peer.ok('register', { name: 'before', type: 'sensor', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      const failing = await attach(hub.pid, ['-e', `trace=${syscall}`, '-e', `inject=${syscall}:error=${errno}`, '-o', '/dev/null']);
      const during = await Promise.all(Array.from({ length: burst }, (_, i) => peer.call('register', { name: `during-${i}`, type: 'sensor' })));
      await failing.detach();
      for (const d of during) assert.equal(d.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(d));
      // The disk answers again, but what the kernel could not write may be gone: the store stays stopped.
      const after = await peer.call('register', { name: 'after', type: 'sensor' });
      assert.equal(after.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(after));
      const health = await fetch(`${hub.url}/healthz`);
      assert.equal(health.status, 503);
      const why = ((await health.json()) as { reason: string }).reason;
      assert.match(why, new RegExp(`failed write or sync of its file \\(${reason}\\): restart the hub`));
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^muster_store_stopped 1$/m);
      // The log reaches the pipe on its own time (pino writes asynchronously).
      const logged = await eventually(() => { const l = hub.stdout().split('\n').filter((x) => x.includes('the store takes no more writes')); return l.length > 0 && l; }, 'the log line');
      assert.equal(logged.length, 1, 'logged once');
      assert.equal(JSON.parse(logged[0]!).reason, why);
      // The rest of the hub keeps serving.
      assert.deepEqual(await peer.ok('heartbeat', { id: before.id, token: before.token }), { status: 'alive' });
      assert.equal((await peer.ok('get', { name: 'before' })).name, 'before');
      peer.ws.close();
      await hub.kill('SIGKILL');
      hub = await spawnHub(['--data', dir, '--sync', 'full']);
      const again = await RpcPeer.connect(hub.wsUrl);
      assert.equal((await again.ok('get', { name: 'before' })).id, before.id, 'acknowledged before the failure: kept');
      assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
      assert.equal((await again.ok('register', { name: 'later', type: 'sensor' })).name, 'later');
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^muster_store_stopped 0$/m);
      // A refused write of the WAL left nothing behind: the names it was to take are free.
      if (syscall === 'pwrite64') assert.equal((await again.ok('register', { name: 'during-0', type: 'sensor', exclusive: true })).name, 'during-0');
      again.ws.close();
    } finally {
      await hub.kill();
    }
  });

  // A full disk: SQLite's write of the WAL gets ENOSPC and the commit fails with SQLITE_FULL (rolled
  // back). Until 2026-12-07 that stopped the store until a restart, and the changes taken were refused.
  test('--sync full: a full disk: the registrations taken wait and are answered once it has space, new ones are refused meanwhile, /healthz, /metrics and the log say so, and kill -9 loses nothing', { timeout: 60_000 }, async () => {
    const dir = tempDir('muster-sync-full-disk-');
    dirs.push(dir);
    let hub = await spawnHub(['--data', dir, '--sync', 'full']);
    try {
      const peer = await RpcPeer.connect(hub.wsUrl);
      const before = await peer.ok('register', { name: 'before', type: 'sensor', liveness: { kind: 'ttl', ttlMs: 60_000 } });
      const failing = await failWrites(hub.pid, 'ENOSPC');
      const during = Promise.all(Array.from({ length: REGISTRATIONS }, (_, i) => peer.call('register', { name: `during-${i}`, type: 'sensor' })));
      const why = await eventually(async () => { const h = await fetch(`${hub.url}/healthz`); return h.status === 503 && ((await h.json()) as { reason: string }).reason; }, '/healthz 503');
      assert.match(why, /disk of the SQLite store is full \(SQLITE_FULL\): changes already taken wait until it has space/);
      const refused = await peer.call('register', { name: 'refused', type: 'sensor' });
      assert.equal(refused.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(refused));
      assert.equal((refused.error?.data?.details as { retryAfterMs?: number } | undefined)?.retryAfterMs, 1000, JSON.stringify(refused));
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^muster_store_stopped 1$/m);
      // The rest of the hub keeps serving.
      assert.deepEqual(await peer.ok('heartbeat', { id: before.id, token: before.token }), { status: 'alive' });
      await failing.detach(); // space again
      const answers = (await during).map((a) => ({ ...a, result: a.result as { name: string } | undefined }));
      // Those taken before the write failed waited and got their member; the rest of the burst came after: refused.
      for (const [i, a] of answers.entries()) assert.ok(a.result?.name === `during-${i}` || a.error?.data?.code === 'STORE_UNAVAILABLE', JSON.stringify(a));
      const made = answers.filter((a) => a.result).map((a) => a.result!.name);
      assert.ok(made.length > 0, 'the registrations taken before the disk was found full are answered');
      assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^muster_store_stopped 0$/m);
      assert.equal((await peer.ok('register', { name: 'after', type: 'sensor' })).name, 'after');
      // At error (the hub runs at --log-level warn here; that it writes again is logged at info).
      const logged = await eventually(() => { const l = hub.stdout().split('\n').filter((x) => x.includes('the disk of the store is full')); return l.length > 0 && l; }, 'the log line');
      assert.equal(logged.length, 1, 'the full disk logged once');
      peer.ws.close();
      await hub.kill('SIGKILL');
      hub = await spawnHub(['--data', dir, '--sync', 'full']);
      const again = await RpcPeer.connect(hub.wsUrl);
      const names = ((await again.ok('list', {})).members as { name: string }[]).map((m) => m.name).sort();
      assert.deepEqual(names, ['after', 'before', ...made].sort(), 'every answered registration kept, the refused ones not');
      again.ws.close();
    } finally {
      await hub.kill();
    }
  });

  // The retry resumes the member its first attempt made while that attempt's commit waits for space:
  // it is refused (a new change), the first is answered once the disk has space, and the file holds it once.
  test('--sync full: a registration and its retry (one newToken) while the disk is full: the retry is refused, the first answered once it has space; after a restart the same call answers that member', { timeout: 60_000 }, async () => {
    const dir = tempDir('muster-sync-full-retry-');
    dirs.push(dir);
    let hub = await spawnHub(['--data', dir, '--sync', 'full']);
    const params = { name: 'cam', type: 'camera', newToken: 'retry-token-0123456789-0123456789-abcdef' };
    try {
      const peer = await RpcPeer.connect(hub.wsUrl);
      const failing = await failWrites(hub.pid, 'ENOSPC');
      const first = peer.call('register', params);
      await eventually(async () => (await fetch(`${hub.url}/healthz`)).status === 503, '/healthz 503');
      const retry = await peer.call('register', params);
      assert.equal(retry.error?.data?.code, 'STORE_UNAVAILABLE', JSON.stringify(retry));
      await failing.detach();
      const made = (await first).result as { id: string; name: string };
      assert.equal(made.name, 'cam');
      peer.ws.close();
      await hub.kill('SIGKILL');
      hub = await spawnHub(['--data', dir, '--sync', 'full']);
      const again = await RpcPeer.connect(hub.wsUrl);
      assert.equal((await again.ok('list', {})).total, 1, 'the member once in the file');
      assert.equal((await again.ok('register', params)).id, made.id, 'the same call again answers the same member');
      assert.equal((await again.ok('list', {})).total, 1);
      again.ws.close();
    } finally {
      await hub.kill();
    }
  });
});
