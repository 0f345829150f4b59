/**
 * Deploy - the service files under deploy/ do what docs/operations.md ("Running as a service")
 * says. Nothing is built here (no image): the unit goes through `systemd-analyze verify`, and the
 * unit's command line, the image's command, environment and health check run against real hubs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_CONFIG } from '../src/config.js';
import { DEFAULT_PORT as PLANTIMAGER_PORT } from '../src/faces/plantimager/codec.js';
import { DEFAULT_RSB_PORT } from '../src/faces/rsb/face.js';
import { spawnHub, tempDir } from './support/hub.js';

const ROOT = new URL('..', import.meta.url).pathname;
const UNIT_PATH = join(ROOT, 'deploy/muster.service');
const CONTAINERFILE = join(ROOT, 'deploy/Containerfile');
/** docs/operations.md, "Stopping": 2 s for peers to close, then two store calls in cluster mode. */
const HUB_STOP_BOUND_MS = 2_000 + 2 * DEFAULT_CONFIG.storeTimeoutMs;

/** The unit's [Service] settings; a key set more than once keeps every value. */
function unitService(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) { section = header[1]!; continue; }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** The Containerfile's instructions of its last (runtime) stage, continuation lines joined. */
function runtimeStage(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\n/g, ' ');
  const all = joined.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => { const m = /^(\S+)\s+(.*)$/.exec(l)!; return { op: m[1]!.toUpperCase(), args: m[2]! }; });
  const from = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(from);
}

function only(stage: Array<{ op: string; args: string }>, op: string): string {
  const found = stage.filter((i) => i.op === op);
  assert.equal(found.length, 1, `the runtime stage has one ${op}`);
  return found[0]!.args;
}

/** `ENV A=1 B=2` (the form the Containerfile uses) as a record. */
function envOf(stage: Array<{ op: string; args: string }>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((s) => s.op === 'ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      assert.ok(eq > 0, `ENV ${i.args}: KEY=VALUE pairs`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const unitText = readFileSync(UNIT_PATH, 'utf8');
const unit = unitService(unitText);
const stage = runtimeStage(readFileSync(CONTAINERFILE, 'utf8'));
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('deploy', () => {
  const verifySkip = onPath('systemd-analyze') ? false
    : process.env.CI ? 'systemd-analyze missing: it is not in CI\'s package list (.ci/run)' : 'systemd-analyze missing (Debian package systemd)';
  test('deploy - systemd-analyze verify finds nothing to say about the unit', { skip: verifySkip }, () => {
    // verify insists that ExecStart's program exists: the copy points at this checkout's bin/muster.js.
    const dir = tempDir('muster-unit-');
    dirs.push(dir);
    const [program] = unit.get('ExecStart')![0]!.split(/\s+/);
    writeFileSync(join(dir, 'muster.service'), unitText.replace(program!, join(ROOT, 'bin/muster.js')));
    // Unknown keys and bad values are warnings on stderr with status 0; any line naming the unit fails.
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'muster.service')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.includes('muster.service')), []);
  });

  test('deploy - the unit runs `muster hub` with its flags, on the state directory, and a stop ends in time with status 0', async () => {
    assert.deepEqual(unit.get('Type'), ['simple']);
    assert.deepEqual(unit.get('Restart'), ['on-failure']);
    assert.deepEqual(unit.get('StateDirectory'), ['muster']);
    const [program, command, ...args] = unit.get('ExecStart')![0]!.split(/\s+/);
    assert.match(program!, /^\/.*\/bin\/muster\.js$/, 'ExecStart runs bin/muster.js by its absolute path');
    assert.equal(command, 'hub');
    const data = args.indexOf('--data');
    assert.equal(args[data + 1], '/var/lib/muster', 'the data folder is the StateDirectory');
    const timeoutStopMs = Number(unit.get('TimeoutStopSec')![0]) * 1000;
    assert.ok(timeoutStopMs > HUB_STOP_BOUND_MS, `TimeoutStopSec ${timeoutStopMs} ms is above the hub's bounded stop (${HUB_STOP_BOUND_MS} ms)`);

    // The same command line for real, on a temporary folder (and a free port: spawnHub's flags).
    const dir = tempDir('muster-unit-data-');
    dirs.push(dir);
    args[data + 1] = dir;
    const hub = await spawnHub(args);
    try {
      const health = await fetch(`${hub.url}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(existsSync(join(dir, 'muster.db')), 'the hub keeps its store in --data');
    } finally {
      // SIGTERM is what systemd sends (KillSignal); 0 means Restart=on-failure leaves it stopped.
      assert.equal(await hub.kill('SIGTERM'), 0);
    }
    assert.deepEqual(unit.get('KillSignal') ?? ['SIGTERM'], ['SIGTERM']);
  });

  test('deploy - the image exposes the faces\' default ports from src/config.ts and the faces', () => {
    const exposed = only(stage, 'EXPOSE').split(/\s+/).map(Number).sort((a, b) => a - b);
    assert.deepEqual(exposed, [PLANTIMAGER_PORT, DEFAULT_CONFIG.port, DEFAULT_RSB_PORT].sort((a, b) => a - b));
    assert.equal(only(stage, 'STOPSIGNAL'), 'SIGTERM');
    assert.match(only(stage, 'USER'), /^(?!root$|0$)\S+$/, 'the hub does not run as root');
    const env = envOf(stage);
    assert.match(only(stage, 'VOLUME'), new RegExp(`^\\[?"?${env.MUSTER_DATA_DIR}"?\\]?$`), 'the volume is the data folder');
  });

  test('deploy - the image\'s command starts a hub, and its HEALTHCHECK passes against it and fails without one', async () => {
    const entrypoint = JSON.parse(only(stage, 'ENTRYPOINT')) as string[];
    const cmd = JSON.parse(only(stage, 'CMD')) as string[];
    assert.deepEqual(entrypoint, ['node', 'bin/muster.js']);
    const [command, ...args] = cmd;
    assert.equal(command, 'hub');
    const healthcheck = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(only(stage, 'HEALTHCHECK'));
    assert.ok(healthcheck, 'HEALTHCHECK [OPTIONS] CMD ["exec", "form"]');
    const [program, ...checkArgs] = JSON.parse(healthcheck[1]!) as string[];
    assert.equal(program, 'node', 'the slim image has node, not curl');

    const dir = tempDir('muster-image-data-');
    dirs.push(dir);
    // The image's environment, but a free loopback port (spawnHub's flags win over MUSTER_HOST) and a temporary folder.
    const hub = await spawnHub(args, { ...envOf(stage), MUSTER_DATA_DIR: dir });
    const port = new URL(hub.url).port;
    const check = (): number | null =>
      spawnSync(process.execPath, checkArgs, { env: { ...process.env, MUSTER_PORT: port }, timeout: 10_000 }).status;
    try {
      assert.ok(existsSync(join(dir, 'muster.db')), 'the hub keeps its store in MUSTER_DATA_DIR, the volume');
      assert.equal(check(), 0, 'healthy while the hub serves');
    } finally {
      assert.equal(await hub.kill('SIGTERM'), 0);
    }
    assert.equal(check(), 1, 'unhealthy once nothing answers');
  });
});
