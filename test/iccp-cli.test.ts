/**
 * The ICCP face from the command line, against `muster hub --iccp` processes: `muster iccp
 * endpoint`, `muster launch` (the component started with its endpoint, its exit in the
 * lifecycle), `muster configure` / `muster stop` / `muster ls` on Saturnin components, and a hub
 * restart that components survive (they reconnect; their records are kept).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { PYTHON } from './iccp/protos.js';
import { componentArgs, eventually, PyComponent } from './iccp/peers.js';
import { freePort } from './support/net.js';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
const dir = tempDir('muster-iccp-cli-');
const hubs: HubProcess[] = [];
const procs: PyComponent[] = [];
after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  for (const h of hubs) await h.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number; stdout: string; stderr: string }

/** `muster ARGS` against `hub` as admin (30 s at most); a signal counts as exit 1. */
async function muster(hub: HubProcess, args: string[]): Promise<Run> {
  const r = await runMuster(args, { MUSTER_HUB: hub.url, MUSTER_TOKEN: ADMIN_TOKEN }, { timeoutMs: 30_000 });
  return { ...r, code: r.code ?? 1 };
}

/** `muster launch` as a child process, to await while the test drives the component. */
function launch(hub: HubProcess, args: string[]): Promise<Run> {
  const env = { ...process.env, MUSTER_HUB: hub.url, MUSTER_TOKEN: ADMIN_TOKEN };
  const child = spawn(process.execPath, [BIN, 'launch', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.once('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); }));
}

async function json<T>(hub: HubProcess, args: string[]): Promise<T> {
  const r = await muster(hub, [...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

interface Lifecycle { state: string; lastError: string | null; history: { to: string; note?: string }[] }
const lifecycle = (hub: HubProcess, name: string) => json<Lifecycle>(hub, ['lifecycle', name]);
const memberOf = async (hub: HubProcess, name: string) => (await fetch(`${hub.url}/v1/members/${name}`)).json() as Promise<{ id: string; status: string; lifecycle?: { state: string } }>;
const waitState = (hub: HubProcess, name: string, state: string) => eventually(async () => (await memberOf(hub, name)).lifecycle?.state === state, `${name} ${state}`, 15_000);

describe('iccp - the command line', () => {
  test('muster iccp endpoint prints a bound endpoint; muster launch starts the component with it and reports its exit', async () => {
    const hub = await spawnHub(['--iccp', '--data', join(dir, 'launch')]);
    hubs.push(hub);
    const ep = await muster(hub, ['iccp', 'endpoint', 'by-hand']);
    assert.equal(ep.code, 0, ep.stderr);
    assert.match(ep.stdout, /^tcp:\/\/127\.0\.0\.1:\d+\n$/);

    // The endpoint through $MUSTER_ICCP_ENDPOINT: READY, then an unprompted FINISHED, exit 0.
    const first = await launch(hub, ['launched-1', '--', PYTHON, ...componentArgs(null, { mode: 'unprompted', after: 300 })]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /launched-1 exited with code 0; state finished/);
    const lc1 = await lifecycle(hub, 'launched-1');
    assert.equal(lc1.state, 'finished');
    assert.deepEqual(lc1.history.map((t) => t.note ?? t.to).slice(-2), ['FINISHED OK, unprompted', 'its process exited: exit code 0']);

    // The endpoint as {endpoint} in the arguments; a component that cannot start exits 1.
    const failed = await launch(hub, ['launched-2', '--', PYTHON, ...componentArgs('{endpoint}', { mode: 'start-error' })]);
    assert.equal(failed.code, 1);
    const lc2 = await lifecycle(hub, 'launched-2');
    assert.equal(lc2.state, 'failed');
    assert.match(lc2.lastError!, /RuntimeError: cannot open the database$/);
    assert.ok(lc2.history.some((t) => t.note === 'its process exited: exit code 1'), JSON.stringify(lc2.history));

    // A command that does not exist: the waiting member fails with the launcher's report.
    const missing = await launch(hub, ['launched-3', '--', join(dir, 'no-such-program')]);
    assert.equal(missing.code, 127);
    assert.equal((await lifecycle(hub, 'launched-3')).lastError, 'its process exited before READY: exit code 127');
  });

  test('muster configure, muster stop and muster ls drive and show a launched component like a native one', async () => {
    const hub = hubs[0]!;
    const running = launch(hub, ['launched-4', '--', PYTHON, ...componentArgs(null, { details: ['bye'] })]);
    await waitState(hub, 'launched-4', 'ready');
    const ls = await muster(hub, ['ls', '--type', 'saturnin', '--prefix', 'launched-4']);
    assert.match(ls.stdout, /launched-4\s+saturnin\s+alive\s+ready\s+tcp:\/\/127\.0\.0\.1:\d+/);
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ port: 5432, nested: { size: 2 } }));
    const cfg = await muster(hub, ['configure', 'launched-4', '--config', config]);
    assert.equal(cfg.code, 0, cfg.stderr);
    assert.match(cfg.stdout, /launched-4\s+OK\s+configured/);
    const stop = await muster(hub, ['stop', 'launched-4']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /launched-4\s+OK\s+finished\s+bye/);
    const done = await running;
    assert.equal(done.code, 0, done.stderr);
    const eps = await json<{ endpoints: { name: string; lastMessage: string | null }[] }>(hub, ['iccp', 'endpoints']);
    assert.equal(eps.endpoints.find((e) => e.name === 'launched-4')?.lastMessage, 'FINISHED OK (bye)');
  });
});

describe('iccp - hub restart', () => {
  test('components reconnect to a restarted hub; their records are kept and they are still driven', async () => {
    const data = join(dir, 'restart');
    const port = await freePort();
    // On-demand endpoints as ipc sockets here: a restarted hub's own ephemeral port cannot take theirs.
    const args = ['--iccp', `ipc://${dir}/`, '--iccp-endpoint', `fixed-1=tcp://127.0.0.1:${port}`, '--data', data];
    let hub = await spawnHub(args);
    hubs.push(hub);
    const fixed = new PyComponent(`tcp://127.0.0.1:${port}`);
    procs.push(fixed);
    const onDemand = new PyComponent((await json<{ endpoint: string }>(hub, ['iccp', 'endpoint', 'ondemand-1'])).endpoint);
    procs.push(onDemand);
    await waitState(hub, 'fixed-1', 'ready');
    await waitState(hub, 'ondemand-1', 'ready');
    assert.equal((await muster(hub, ['configure', 'fixed-1', '--config', writeConfig({ a: 1 })])).code, 0);
    const before = await memberOf(hub, 'fixed-1');

    await hub.kill('SIGTERM');
    hub = await spawnHub(args);
    hubs.push(hub);
    const after1 = await memberOf(hub, 'fixed-1');
    assert.equal(after1.id, before.id);
    assert.equal(after1.lifecycle?.state, 'configured');
    await eventually(async () => (await memberOf(hub, 'fixed-1')).status === 'alive', 'fixed-1 reconnected', 15_000);
    await eventually(async () => (await memberOf(hub, 'ondemand-1')).status === 'alive', 'ondemand-1 reconnected', 15_000)
      .catch(async (err: unknown) => { throw new Error(`${(err as Error).message}: ${JSON.stringify(await json(hub, ['iccp', 'endpoints']))}`); });
    const eps = await json<{ endpoints: { name: string; origin: string }[] }>(hub, ['iccp', 'endpoints']);
    assert.deepEqual(eps.endpoints.filter((e) => e.name.endsWith('-1')).map((e) => [e.name, e.origin]), [['fixed-1', 'config'], ['ondemand-1', 'restored']]);

    const again = await muster(hub, ['configure', 'ondemand-1', '--config', writeConfig({ port: 1 })]);
    assert.match(again.stdout, /ondemand-1\s+OK\s+configured/, again.stderr);
    const stop = await muster(hub, ['stop', 'fixed-1']);
    assert.match(stop.stdout, /fixed-1\s+OK\s+finished/, stop.stderr);
    assert.equal(await fixed.exited, 0);
  });
});

let configs = 0;
function writeConfig(config: Record<string, unknown>): string {
  const file = join(dir, `config-${configs++}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}
