/**
 * How durable a plantimager device's registration is, as the disk sees it (a real hub traced
 * with strace, a real Python plantimager client). At the default (`--sync full`,
 * `--plantimager-sync normal`) a REGISTER is answered once the device's row is written to the WAL,
 * without a sync each: a kill of the hub keeps it (test/plantimager-restart.test.ts), a power loss
 * may take the last ones, and their devices register again on "unknown", as with the original
 * registry, which keeps nothing. Native members on the same hub still wait for their sync. With
 * `--plantimager-sync full` every REGISTER waits for a sync too.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PyClient } from './python/plantimager-client.js';
import { spawnHub, tempDir } from './support/hub.js';
import { freePort } from './support/net.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { RpcPeer } from './support/rpc.js';
import { traceCalls, walSyncs, type Call } from './support/strace.js';

const DEVICES = 12;
const NATIVE = 6;
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

interface Traced { devices: string[]; natives: string[]; calls: Call[] }

/** Registers DEVICES devices, then NATIVE native members, one at a time, on a hub traced with strace. */
async function traced(flags: string[]): Promise<Traced> {
  const dir = tempDir('muster-pi-sync-');
  dirs.push(dir);
  const port = await freePort();
  const hub = await spawnHub(['--data', dir, '--plantimager', `127.0.0.1:${port}`, ...flags]);
  const py = new PyClient(`tcp://127.0.0.1:${port}`);
  try {
    // Python's zmq loaded and connected before the trace starts.
    await py.register('camera', 'tcp://10.9.0.250:1', 'warm');
    const trace = await traceCalls(hub.pid, dir, ['fsync', 'fdatasync', 'write', 'writev', 'pwrite64', 'sendto', 'sendmsg'], hub.url);
    const devices: string[] = [];
    for (let i = 0; i < DEVICES; i++) devices.push((await py.register('camera', `tcp://10.9.0.${i}:5000`, `pid-${String(i).padStart(2, '0')}`)).name);
    const peer = await RpcPeer.connect(hub.wsUrl);
    const natives = Array.from({ length: NATIVE }, (_, i) => `nat-${String(i).padStart(2, '0')}`);
    for (const name of natives) await peer.ok('register', { name, type: 'sensor', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    peer.ws.close();
    return { devices, natives, calls: await trace.stop() };
  } finally {
    await py.close();
    await hub.kill();
  }
}

/** The answer that carries `name` (a REGISTER_ACK to a device, a JSON-RPC result to a native client). */
function answerOf(calls: readonly Call[], name: string): Call {
  // strace shows a quote in the bytes as \".
  const a = calls.find((c) => c.syscall !== 'pwrite64' && c.target.startsWith('TCP:') && c.args.includes(`\\"${name}\\"`));
  assert.ok(a, `no answer carrying ${name} in the trace`);
  return a;
}

/** The first write of `name`'s row to the WAL. */
function walWriteOf(calls: readonly Call[], name: string): Call {
  const w = calls.find((c) => c.syscall === 'pwrite64' && c.target.endsWith('muster.db-wal') && c.args.includes(name));
  assert.ok(w, `${name} was never written to the WAL`);
  return w;
}

/** How many of `names`' answers came with no WAL sync since the answer before (or since its write, for the first). */
function answeredWithoutSync(calls: readonly Call[], names: readonly string[]): number {
  const syncs = walSyncs(calls);
  let previous = walWriteOf(calls, names[0]!).atUs;
  let without = 0;
  for (const name of names) {
    const at = answerOf(calls, name).atUs;
    if (!syncs.some((s) => s.endUs > previous && s.endUs <= at)) without++;
    previous = at;
  }
  return without;
}

describe('plantimager devices: durability on the disk', () => {
  before(() => requirePrerequisites('strace', 'python3 zmq'));

  test('default: a device is answered once its row is in the WAL, without a sync each; native members still wait for theirs', { timeout: 90_000 }, async () => {
    const { devices, natives, calls } = await traced([]);
    for (const name of devices) assert.ok(walWriteOf(calls, name).endUs <= answerOf(calls, name).atUs, `${name} answered before its row reached the WAL`);
    const unsynced = answeredWithoutSync(calls, devices);
    assert.ok(unsynced >= DEVICES * 0.75, `only ${unsynced} of ${DEVICES} devices answered without a WAL sync of their own`);
    assert.equal(answeredWithoutSync(calls, natives), 0, 'a native registration answered with no WAL sync since the answer before it');
  });

  test('--plantimager-sync full: every device is answered after a sync of the WAL since the answer before it', { timeout: 90_000 }, async () => {
    const { devices, calls } = await traced(['--plantimager-sync', 'full']);
    assert.equal(answeredWithoutSync(calls, devices), 0, 'a device answered with no WAL sync since the answer before it');
  });
});
