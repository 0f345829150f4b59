/**
 * Admin - `muster evict` and `muster admin log-level` against a real hub process: over the CLI
 * (HTTP) and JSON-RPC (WebSocket), admin only, audited in the event stream and the hub's log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { HubInfo, RegistryEvent } from '../src/client/index.js';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;

let hub: HubProcess;
let admin: Record<string, string>;
const dataDir = tempDir('muster-admin-');

/** Resolves once `done()` holds, checking every 20 ms; fails naming `what` after 10 s. */
async function eventually(done: () => boolean, what: () => string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) if (done()) return;
  assert.fail(`not seen in 10 s: ${what()}`);
}

/** The hub's JSON log lines (stdout after the banner) that match. */
function logLines(match: (l: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  return hub.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter(match);
}

async function register(name: string): Promise<{ id: string; token: string }> {
  const r = await runMuster(['register', '--type', 'camera', '--name', name, '--exclusive', '--json'], { MUSTER_HUB: hub.url });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: string; token: string };
}

async function revision(): Promise<number> {
  return ((await (await fetch(`${hub.url}/v1/info`)).json()) as HubInfo).revision;
}

/** The first line `muster watch ARGS` prints; the watch is stopped then. */
async function firstWatchLine(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'watch', '--hub', hub.url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  try {
    await eventually(() => out.includes('\n'), () => out);
    return out.split('\n')[0]!;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
}

before(async () => {
  // info, so that the audit lines show; an RSB face, whose logger is a child of the hub's.
  hub = await spawnHub(['--data', dataDir, '--log-level', 'info', '--rsb', '127.0.0.1:0']);
  admin = { MUSTER_HUB: hub.url, MUSTER_TOKEN: ADMIN_TOKEN };
});
after(async () => {
  await hub.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('admin - evict', () => {
  test('admin - evict: the member is gone, a watcher sees removed/evicted by admin with the reason, and the hub logs it', async () => {
    const cam = await register('cam-evict');
    const before = await revision();
    const watcher = await RpcPeer.connect(hub.wsUrl);
    try {
      await watcher.ok('watch', { filter: { name: 'cam-evict' } });
      const r = await runMuster(['evict', 'cam-evict', '--reason', 'firmware recall'], admin);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'evicted cam-evict\n');
      const seen = await watcher.waitFor((n) => n.method === 'event' && n.params.event.type === 'removed');
      const event = seen.params.event as RegistryEvent;
      assert.deepEqual(event.type === 'removed' && [event.member.id, event.reason, event.by, event.note], [cam.id, 'evicted', 'admin', 'firmware recall']);
    } finally {
      await watcher.close();
    }
    const gone = await runMuster(['get', 'cam-evict'], admin);
    assert.match(gone.stderr, /^muster: NO_SUCH_MEMBER: /);
    // Its token went with it.
    const hb = await runMuster(['heartbeat', cam.id], { MUSTER_HUB: hub.url, MUSTER_TOKEN: cam.token });
    assert.match(hb.stderr, /^muster: NO_SUCH_MEMBER: /);
    // `muster watch` replays it with who and why; the event log keeps them.
    const line = await firstWatchLine(['--since', String(before), '--name', 'cam-evict']);
    assert.match(line, /removed\s+cam-evict\s+camera\s+evicted by admin: firmware recall$/);
    await eventually(() => logLines((l) => l.msg === 'member cam-evict evicted').length === 1, () => hub.stdout());
    assert.deepEqual(logLines((l) => l.msg === 'member cam-evict evicted').map((l) => [l.by, l.id, l.reason]), [['admin', cam.id, 'firmware recall']]);
  });

  test('admin - evict over WebSocket: no token UNAUTHORIZED, a member token FORBIDDEN, an unknown member NO_SUCH_MEMBER, the admin token evicts', async () => {
    const cam = await register('cam-ws');
    const peer = await RpcPeer.connect(hub.wsUrl);
    try {
      assert.equal((await peer.call('admin.evict', { name: 'cam-ws' })).error?.data?.code, 'UNAUTHORIZED');
      await peer.ok('auth', { token: cam.token });
      assert.equal((await peer.call('admin.evict', { name: 'cam-ws' })).error?.data?.code, 'FORBIDDEN');
      await peer.ok('auth', { token: ADMIN_TOKEN });
      assert.equal((await peer.call('admin.evict', { name: 'nobody-here' })).error?.data?.code, 'NO_SUCH_MEMBER');
      assert.deepEqual(await peer.ok('admin.evict', { name: 'cam-ws' }), { ok: true });
    } finally {
      await peer.close();
    }
    assert.equal((await fetch(`${hub.url}/v1/members/cam-ws`)).status, 404);
  });

  test('admin - evict over HTTP (the CLI): a member token FORBIDDEN and the member stays; an unknown member NO_SUCH_MEMBER', async () => {
    const cam = await register('cam-http');
    const other = await register('cam-other');
    const refused = await runMuster(['evict', 'cam-http'], { MUSTER_HUB: hub.url, MUSTER_TOKEN: other.token });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^muster: FORBIDDEN: Only the admin token may call admin\.evict\n$/);
    const noToken = await fetch(`${hub.url}/v1/members/cam-http/evict`, { method: 'POST' });
    assert.equal(noToken.status, 401);
    assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    assert.equal((await runMuster(['get', 'cam-http', '--json'], admin)).code, 0, 'still registered');
    const unknown = await runMuster(['evict', 'nobody-here'], admin);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^muster: NO_SUCH_MEMBER: /);
    // Its own token is not enough either: eviction is the admin's.
    assert.match((await runMuster(['evict', 'cam-http'], { MUSTER_HUB: hub.url, MUSTER_TOKEN: cam.token })).stderr, /FORBIDDEN/);
  });
});

describe('admin - log level', () => {
  /** Opens and closes a TCP connection to the RSB face: its face logs that at debug. */
  async function touchRsb(): Promise<void> {
    const info = (await (await fetch(`${hub.url}/v1/info`)).json()) as HubInfo;
    const rsb = info.faces.find((f) => f.name === 'rsb')!;
    const { hostname, port } = new URL(`tcp://${rsb.address.replace(/^tcp:\/\//, '')}`);
    await new Promise<void>((resolve, reject) => {
      const s = tcpConnect(Number(port), hostname, () => s.end());
      // Read (and drop) the handshake, so that the hub's end of the stream arrives and closes it.
      s.resume();
      s.once('close', () => resolve());
      s.once('error', reject);
    });
  }
  const rsbEnds = () => logLines((l) => l.msg === 'RSB connection ended').length;

  test('admin - log-level: a member token FORBIDDEN, a level pino lacks refused', async () => {
    const cam = await register('cam-log');
    const r = await runMuster(['admin', 'log-level', 'debug'], { MUSTER_HUB: hub.url, MUSTER_TOKEN: cam.token });
    assert.match(r.stderr, /^muster: FORBIDDEN: Only the admin token may call admin\.logLevel\n$/);
    const bad = await fetch(`${hub.url}/v1/admin/log-level`, {
      method: 'PUT', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ level: 'loud' }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INVALID_PARAMS');
    assert.notEqual((await runMuster(['admin', 'log-level', 'loud'], admin)).code, 0);
  });

  test('admin - log-level: takes effect at once, in the faces too, and each change is logged with who asked', async () => {
    await touchRsb();
    assert.equal(rsbEnds(), 0, 'at info, the RSB face logs no connection end');
    const up = await runMuster(['admin', 'log-level', 'debug'], admin);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, 'log level info -> debug\n');
    await touchRsb();
    await eventually(() => rsbEnds() === 1, () => hub.stdout());

    // Quieter over WebSocket: the change is still logged (before it applies), then info is not.
    const peer = await RpcPeer.connect(hub.wsUrl);
    try {
      await peer.ok('auth', { token: ADMIN_TOKEN });
      assert.deepEqual(await peer.ok('admin.logLevel', { level: 'error' }), { level: 'error', previous: 'debug' });
    } finally {
      await peer.close();
    }
    await register('cam-quiet');
    assert.equal((await runMuster(['evict', 'cam-quiet'], admin)).code, 0);
    await touchRsb();
    const changes = logLines((l) => typeof l.msg === 'string' && l.msg.startsWith('log level '));
    assert.deepEqual(changes.map((l) => [l.level, l.by, l.from, l.to]), [[30, 'admin', 'info', 'debug'], [30, 'admin', 'debug', 'error']]);
    // The hub's own audit line and the face's debug line are both below error now. A later line
    // from the same process proves the earlier ones were written: the level goes back up, logged.
    assert.equal((await runMuster(['admin', 'log-level', 'info'], admin)).code, 0);
    await eventually(() => logLines((l) => l.msg === 'log level error -> info').length === 1, () => hub.stdout());
    assert.equal(logLines((l) => l.msg === 'member cam-quiet evicted').length, 0);
    assert.equal(rsbEnds(), 1);
  });
});
