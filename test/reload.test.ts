/**
 * Reload - a real `muster hub --config FILE` process whose file changes: SIGHUP and `muster admin
 * reload` apply what a running hub can take (log level, rate limits, faces, tokens, registrar),
 * refuse the rest naming the key, and a refused reload leaves the hub serving as before.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { HubInfo } from '../src/client/index.js';
import { redactConfig } from '../src/config-diff.js';
import { DEFAULT_CONFIG } from '../src/config.js';
import { runMuster } from './support/cli.js';
import { startHub, tempDir } from './support/hub.js';
import { freePort } from './support/net.js';
import { sseReplay } from './support/wait.js';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
const TOKEN = 'reload-admin-token-0123456789';

interface FileHub {
  url: string;
  child: ChildProcess;
  /** The config file. */
  file: string;
  stdout(): string;
  /** Writes the config file (the hub reads it at start and on each reload). */
  write(config: Record<string, unknown>): void;
  stop(): Promise<void>;
}

const running: FileHub[] = [];
after(async () => { for (const h of running) await h.stop(); });

/**
 * `muster hub --config FILE` with nothing else set, the admin token in the file (flags and
 * environment would win over the file for good, the reload keeps them as they were at start).
 */
async function startFileHub(config: Record<string, unknown>): Promise<FileHub> {
  const dir = tempDir('muster-reload-');
  const file = join(dir, 'hub.json');
  const write = (c: Record<string, unknown>) => writeFileSync(file, JSON.stringify({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), sync: 'normal', adminToken: TOKEN, ...c }));
  write(config);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MUSTER_')) delete env[k];
  const child = spawn(process.execPath, [BIN, 'hub', '--config', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await eventually(() => /listening on \S+/.test(out) || child.exitCode !== null, () => err, 30_000);
  const url = /listening on (\S+)/.exec(out)?.[1];
  assert.ok(url, `the hub did not start: ${err}`);
  const hub: FileHub = {
    url, child, file, stdout: () => out, write,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.push(hub);
  return hub;
}

async function eventually(done: () => boolean | Promise<boolean>, what: () => string, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) if (await done()) return;
  assert.fail(`not seen in ${ms / 1000} s: ${what()}`);
}

async function info(hub: FileHub): Promise<HubInfo> {
  return (await (await fetch(`${hub.url}/v1/info`)).json()) as HubInfo;
}

function reload(hub: FileHub, token = TOKEN, json = false) {
  return runMuster(['admin', 'reload', ...(json ? ['--json'] : [])], { MUSTER_HUB: hub.url, MUSTER_TOKEN: token });
}

function publish(hub: FileHub): Promise<Response> {
  return fetch(`${hub.url}/v1/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ scope: '/reload/', data: 1 }),
  });
}

/** The hub's JSON log lines (stdout after the banner) that match. */
function logLines(hub: FileHub, match: (l: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  return hub.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter(match);
}

describe('reload - SIGHUP', () => {
  test('reload - SIGHUP: a new log level, a bus rate limit and the CO2 face turned on take effect; info shows them and when', async () => {
    const hub = await startFileHub({ logLevel: 'warn' });
    const before = await info(hub);
    assert.equal(before.config.logLevel, 'warn');
    assert.deepEqual(before.faces.map((f) => f.name), ['http+ws']);
    for (let i = 0; i < 3; i++) assert.equal((await publish(hub)).status, 200);

    const co2 = await freePort();
    hub.write({ logLevel: 'info', co2: `127.0.0.1:${co2}`, busRateLimits: { '*': { messagesPerSec: 1, bytesPerSec: 0, burstSec: 1 } } });
    process.kill(hub.child.pid!, 'SIGHUP');
    await eventually(async () => (await info(hub)).configLoadedAt > before.configLoadedAt, () => hub.stdout());

    const now = await info(hub);
    assert.equal(now.config.logLevel, 'info');
    assert.deepEqual(now.faces.map((f) => f.name), ['http+ws', 'co2']);
    // The CO2 port answers XML-RPC.
    const answer = await fetch(`http://127.0.0.1:${co2}/`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<?xml version="1.0"?><methodCall><methodName>ping</methodName><params/></methodCall>' });
    assert.match(await answer.text(), /<methodResponse>/);
    // One message a second now: the second at once is throttled.
    assert.equal((await publish(hub)).status, 200);
    const refused = await publish(hub);
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'THROTTLED');
    // The reload is logged with who asked and what changed; info lines show now (they did not at warn).
    const [line] = logLines(hub, (l) => String(l.msg).startsWith('config reloaded'));
    assert.deepEqual([line?.by, line?.changed, line?.restarted], ['SIGHUP', ['logLevel', 'co2', 'busRateLimits'], ['co2']]);
    const r = await reload(hub);
    assert.equal(r.stdout, 'config reloaded: nothing changed\n');
    await eventually(() => logLines(hub, (l) => l.msg === 'config reloaded: nothing changed').length === 1, () => hub.stdout());
    assert.equal((await info(hub)).configLoadedAt, now.configLoadedAt, 'a reload that changed nothing keeps the load time');

    // Turned off again: the port is closed.
    hub.write({ logLevel: 'info' });
    const off = await reload(hub, TOKEN, true);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout).changed, ['co2', 'busRateLimits']);
    await assert.rejects(fetch(`http://127.0.0.1:${co2}/`, { method: 'POST', body: '' }));
    assert.equal((await publish(hub)).status, 200);

    // Each applied reload is an admin event with who asked; the one that changed nothing is not.
    const reloads = (await adminEvents(hub)).filter((e) => e.action === 'reload');
    assert.deepEqual(reloads.map((e) => [e.detail.by, e.from?.face, e.detail.changed]), [
      ['SIGHUP', 'signal', ['logLevel', 'co2', 'busRateLimits']],
      ['admin', 'http', ['co2', 'busRateLimits']],
    ]);
  });
});

interface AdminEventLine { action: string; from?: { face: string }; detail: { by?: string; changed?: string[] } }

/** The hub's admin events so far: the replay of an SSE stream that asks for them. */
async function adminEvents(hub: FileHub): Promise<AdminEventLine[]> {
  const text = await sseReplay(`${hub.url}/v1/events?since=0&types=admin`);
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as AdminEventLine);
}

describe('reload - refused', () => {
  test('reload - an invalid file: CONFIG_INVALID naming the key; the hub keeps serving with its config', async () => {
    const hub = await startFileHub({ maxMembers: 10, logLevel: 'warn' });
    const loaded = (await info(hub)).configLoadedAt;
    hub.write({ maxMembers: 'ten', logLevel: 'info' });
    const r = await reload(hub);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^muster: CONFIG_INVALID: config\.maxMembers: .*the hub keeps the config it runs with\n$/);

    writeFileSync(hub.file, '{"maxMembers": 10,');
    const broken = await reload(hub);
    assert.match(broken.stderr, /^muster: CONFIG_INVALID: Config file .*hub\.json is not valid JSON/);

    const now = await info(hub);
    assert.deepEqual([now.config.maxMembers, now.config.logLevel, now.configLoadedAt], [10, 'warn', loaded]);
    const reg = await runMuster(['register', '--type', 'camera', '--name', 'still-here', '--json'], { MUSTER_HUB: hub.url });
    assert.equal(reg.code, 0, reg.stderr);
    // Refusals are logged (at warn, which this hub shows) with their code.
    assert.equal(logLines(hub, (l) => l.code === 'CONFIG_INVALID').length, 2);
  });

  test('reload - a key that needs a restart: CONFIG_NOT_RELOADABLE naming it, and nothing else is applied', async () => {
    const hub = await startFileHub({ logLevel: 'warn' });
    const before = await info(hub);
    const port = await freePort();
    hub.write({ logLevel: 'info', port, hubId: 'renamed', eventRetention: 50 });
    const r = await reload(hub);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'muster: CONFIG_NOT_RELOADABLE: port, hubId, eventRetention take effect only at a restart; nothing was applied (restart the hub, or put the running value back to reload the rest)\n');
    const now = await info(hub);
    assert.deepEqual([now.config.logLevel, now.hubId, now.configLoadedAt], ['warn', before.hubId, before.configLoadedAt]);
    // Only the admin token may reload.
    const anyone = await runMuster(['admin', 'reload'], { MUSTER_HUB: hub.url });
    assert.match(anyone.stderr, /^muster: UNAUTHORIZED: /);
  });

  test('reload - a face that cannot start (its port taken): CONFIG_INVALID, the other changes not applied, the running faces kept', async () => {
    const rsb = await freePort();
    const hub = await startFileHub({ logLevel: 'warn', rsb: `127.0.0.1:${rsb}` });
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      hub.write({ logLevel: 'info', rsb: `127.0.0.1:${rsb}`, rsbScopes: ['/a/'], co2: `127.0.0.1:${port}` });
      const r = await reload(hub);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^muster: CONFIG_INVALID: The co2 face cannot start with the new config \(.*EADDRINUSE.*\); nothing was applied\n$/);
    } finally {
      taken.close();
    }
    const now = await info(hub);
    assert.deepEqual([now.config.logLevel, now.config.rsbScopes, now.faces.map((f) => f.name)], ['warn', ['/'], ['http+ws', 'rsb']]);
    // The RSB face was put back on its port.
    await eventually(() => new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)).listen(rsb, '127.0.0.1', () => s.close(() => resolve(false)));
    }), () => 'the RSB port is not listening again');
  });
});

describe('reload - admin token', () => {
  test('reload - admin token rotation: the new token works at once, the old one during its grace, then FORBIDDEN', async () => {
    const hub = await startFileHub({ logLevel: 'warn' });
    const next = 'rotated-admin-token-9876543210';
    hub.write({ logLevel: 'warn', adminToken: next, adminTokenGraceMs: 1_500 });
    // Over HTTP, not the CLI, so that the grace is not spent starting processes.
    const r = await fetch(`${hub.url}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    const rotated = Date.now();
    assert.deepEqual(((await r.json()) as { changed: string[] }).changed, ['adminToken', 'adminTokenGraceMs']);
    const level = async (token: string) => (await fetch(`${hub.url}/v1/admin/log-level`, {
      method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"level":"warn"}',
    })).status;
    assert.equal(await level(next), 200);
    assert.equal(await level(TOKEN), 200, 'the old token still works during its grace');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, rotated + 1_600 - Date.now())));
    assert.equal(await level(TOKEN), 403);
    assert.equal(await level(next), 200);
  });
});

describe('reload - info', () => {
  test('reload - /v1/info shows the config in effect with no secret in it', async () => {
    const secrets = { adminToken: TOKEN, registrationKey: 'reg-key-secret-1', federationToken: 'fed-token-secret-2', registrarToken: 'parent-token-secret-3' };
    const parent = await freePort();
    const hub = await startFileHub({ ...secrets, registrar: `http://u:url-password-4@127.0.0.1:${parent}` });
    const text = await (await fetch(`${hub.url}/v1/info`)).text();
    for (const s of [...Object.values(secrets), 'url-password-4']) assert.ok(!text.includes(s), `info shows ${s}`);
    const config = (JSON.parse(text) as HubInfo).config;
    assert.deepEqual([config.adminToken, config.registrationKey, config.federationToken, config.registrarToken, config.registrar],
      ['[redacted]', '[redacted]', '[redacted]', '[redacted]', `http://u:[redacted]@127.0.0.1:${parent}`]);
    assert.equal(config.maxMembers, DEFAULT_CONFIG.maxMembers);
  });

  test('reload - a cluster URL keeps its password out of the info', () => {
    const shown = redactConfig({ ...DEFAULT_CONFIG, cluster: 'redis://app:s3cr/t@x@redis.local:6379/0' });
    assert.equal(shown.cluster, 'redis://app:[redacted]@redis.local:6379/0');
    assert.equal(redactConfig({ ...DEFAULT_CONFIG, cluster: 'redis://redis.local:6379' }).cluster, 'redis://redis.local:6379');
  });
});

describe('reload - registrar', () => {
  test('reload - a parent\'s federation allow-list and token: a child refused before is taken after; the old token refused after', async () => {
    const OLD = 'fed-token-old-0123456789';
    const NEW = 'fed-token-new-0123456789';
    const site = await startFileHub({ hubId: 'site', logLevel: 'warn', federationToken: OLD, federationAllow: ['cell-9'] });
    const cell = await startHub({ hubId: 'cell-1', registrar: site.url, registrarToken: OLD, federationMonitorMs: 300 });
    try {
      await eventually(async () => /allow-list/.test((await cell.hub.info()).federation.lastError), () => 'cell-1 not refused');
      site.write({ hubId: 'site', logLevel: 'warn', federationToken: OLD, federationAllow: ['cell-1', 'cell-9'] });
      const r = await reload(site);
      assert.equal(r.stdout, 'config reloaded: federationAllow\n');
      await eventually(async () => (await cell.hub.info()).federation.connected, () => 'cell-1 not registered after the reload');
      // A new token: a hub presenting the old one is refused from now on; the child already here stays.
      site.write({ hubId: 'site', logLevel: 'warn', federationToken: NEW, federationAllow: ['cell-1', 'cell-9'] });
      assert.equal((await reload(site)).stdout, 'config reloaded: federationToken\n');
      const late = await startHub({ hubId: 'cell-9', registrar: site.url, registrarToken: OLD, federationMonitorMs: 300 });
      try {
        await eventually(async () => /federation token/i.test((await late.hub.info()).federation.lastError), () => 'cell-9 not refused');
        assert.equal((await cell.hub.info()).federation.connected, true);
      } finally {
        await late.stop();
      }
    } finally {
      await cell.stop();
    }
  });

  test('reload - a root hub given a registrar registers there; the registrar taken away, it leaves and is a root again', async () => {
    const parent = await startHub({ hubId: 'site', federationToken: 'fed-token-0123456789' });
    try {
      const child = await startFileHub({ hubId: 'cell-1', logLevel: 'warn' });
      const atParent = () => parent.hub.registry.find('cell-1');
      child.write({ hubId: 'cell-1', logLevel: 'warn', registrar: parent.url, registrarToken: 'fed-token-0123456789', federationMonitorMs: 5_000 });
      // federationMonitorMs is fixed: the whole reload is refused, and the hub stays a root.
      const refused = await reload(child);
      assert.match(refused.stderr, /CONFIG_NOT_RELOADABLE: federationMonitorMs takes effect only at a restart/);
      assert.equal(atParent(), undefined);

      child.write({ hubId: 'cell-1', logLevel: 'warn', registrar: parent.url, registrarToken: 'fed-token-0123456789' });
      const r = await reload(child);
      assert.equal(r.stdout, 'config reloaded: registrar, registrarToken (restarted: registrar)\n');
      await eventually(async () => atParent()?.type === 'hub' && (await info(child)).federation.connected, () => 'cell-1 not registered at site');
      assert.equal((await info(child)).federation.registrar, 'site');

      child.write({ hubId: 'cell-1', logLevel: 'warn' });
      assert.equal((await reload(child)).code, 0);
      await eventually(() => atParent() === undefined, () => 'cell-1 still at site');
      const root = await info(child);
      assert.deepEqual([root.federation.registrar, root.federation.registrarUrl, root.federation.connected], [null, null, false]);
    } finally {
      await parent.stop();
    }
  });
});
