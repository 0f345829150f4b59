import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect, type MemberView, type RegistryEvent } from '../src/client/index.js';
import { runMuster as muster } from './support/cli.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

let h: TestHub;
let hub: string[];
before(async () => {
  h = await startHub();
  hub = ['--hub', h.url];
});
after(async () => { await h.stop(); });

describe('cli - register, get, heartbeat, unregister', () => {
  test('cli - register prints id, name and token; --json gives them as JSON; the hub has the member', async () => {
    const r = await muster(['register', ...hub, '--type', 'camera', '--name', 'cam-1', '--address', '10.0.0.5:80', '--meta', 'site=north', '--meta', 'floor=2', '--ttl', '60000']);
    assert.equal(r.code, 0, r.stderr);
    const lines = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/\s+/)));
    assert.match(lines.id!, /^[0-9a-f-]{36}$/);
    assert.equal(lines.name, 'cam-1');
    assert.ok(lines.token!.length >= 40);
    const m = h.hub.registry.get('cam-1');
    assert.equal(m.id, lines.id);
    assert.deepEqual(m.meta, { site: 'north', floor: '2' });
    assert.deepEqual(m.liveness, { kind: 'ttl', ttlMs: 60000 });

    const j = await muster(['register', ...hub, '--type', 'camera', '--name', 'cam-1', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const reg = JSON.parse(j.stdout) as { id: string; name: string; token: string };
    assert.equal(reg.name, 'cam-1-1', 'a taken name gets a suffix');
    assert.equal(h.hub.registry.get(reg.id).name, 'cam-1-1');

    const taken = await muster(['register', ...hub, '--type', 'camera', '--name', 'cam-1', '--exclusive']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^muster: NAME_TAKEN: /);
    assert.equal(taken.stdout, '');
  });

  test('cli - register --new-token: the same command again answers the same member (a script may retry it)', async () => {
    const args = ['register', ...hub, '--type', 'camera', '--name', 'boot-cam', '--ttl', '60000', '--new-token', 'boot-cam-token-0123456789-abcdefghijklmn', '--json'];
    const [a, b] = [await muster(args), await muster(args)];
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout));
    assert.equal((JSON.parse(a.stdout) as { token: string }).token, 'boot-cam-token-0123456789-abcdefghijklmn');
    assert.equal(h.hub.registry.names.isTaken('boot-cam-1'), false);
    const gone = await muster(['unregister', ...hub, 'boot-cam', '--token', 'boot-cam-token-0123456789-abcdefghijklmn']);
    assert.equal(gone.code, 0, gone.stderr); // the tests after list this hub's members
    const short = await muster(['register', ...hub, '--type', 'camera', '--new-token', 'short']);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^muster: INVALID_PARAMS: /);
  });

  test('cli - get shows a member for people and as JSON; a missing member is a clear error with exit 1', async () => {
    const [g, j, missing] = await Promise.all([muster(['get', ...hub, 'cam-1']), muster(['get', ...hub, 'cam-1', '--json']), muster(['get', ...hub, 'no-such-cam'])]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /^name\s+cam-1$/m);
    assert.match(g.stdout, /^address\s+10\.0\.0\.5:80$/m);
    assert.match(g.stdout, /^liveness\s+ttl 60000 ms$/m);
    assert.match(g.stdout, /^meta\s+site=north floor=2$/m);
    assert.equal((JSON.parse(j.stdout) as MemberView).type, 'camera');
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, 'muster: NO_SUCH_MEMBER: No member named "no-such-cam"\n');
  });

  test('cli - heartbeat and unregister need the member token (--token or MUSTER_TOKEN)', async () => {
    const reg = JSON.parse((await muster(['register', ...hub, '--type', 'job', '--name', 'job-1', '--ttl', '30000', '--json'])).stdout) as { id: string; token: string };
    const noToken = await muster(['heartbeat', ...hub, reg.id]);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /^muster: UNAUTHORIZED: /);
    const hb = await muster(['heartbeat', ...hub, reg.id, '--token', reg.token]);
    assert.equal(hb.code, 0, hb.stderr);
    assert.equal(hb.stdout, 'alive\n');
    const un = await muster(['unregister', ...hub, reg.id], { MUSTER_TOKEN: reg.token });
    assert.equal(un.code, 0, un.stderr);
    assert.equal(h.hub.registry.find(reg.id), undefined);
  });
});

describe('cli - ls, info, hub address', () => {
  before(async () => {
    // A suspect member: a session member whose connection dropped (long grace).
    const c = await connect({ url: h.url, reconnect: false });
    await c.register({ type: 'sensor', name: 'sensor-lost', liveness: { kind: 'session', graceMs: 60_000 } });
    await c.close();
    await h.hub.registry.register({ type: 'sensor', name: 'sensor-ok', address: 'tcp://10.1.1.1:9', liveness: 'ttl' });
    for (let i = 0; i < 100 && h.hub.registry.get('sensor-lost').status !== 'suspect'; i++) await new Promise((r) => setTimeout(r, 20));
  });

  test('cli - ls prints an aligned table; --type and --status filter; --json is an array', async () => {
    const r = await muster(['ls', ...hub]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+TYPE\s+STATUS\s+STATE\s+ADDRESS\s+AGE$/);
    const col = (word: string) => lines[0]!.indexOf(word);
    const names = lines.slice(1).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, ['cam-1', 'cam-1-1', 'sensor-lost', 'sensor-ok']);
    for (const l of lines.slice(1)) {
      const cells = l.split(/\s+/);
      assert.equal(l.indexOf(cells[1]!, col('TYPE')), col('TYPE'), `TYPE column aligned in ${JSON.stringify(l)}`);
      assert.equal(l.indexOf(cells[2]!, col('STATUS')), col('STATUS'), `STATUS column aligned in ${JSON.stringify(l)}`);
    }
    assert.match(lines.find((l) => l.startsWith('sensor-ok'))!, /sensor\s+alive\s+-\s+tcp:\/\/10\.1\.1\.1:9\s+\d+s$/);

    const [sensors, suspect, bad, none] = await Promise.all([
      muster(['ls', ...hub, '--type', 'sensor', '--json']),
      muster(['ls', ...hub, '--status', 'suspect']),
      muster(['ls', ...hub, '--status', 'sleepy']),
      muster(['ls', ...hub, '--type', 'nothing-of-this-type']),
    ]);
    assert.deepEqual((JSON.parse(sensors.stdout) as MemberView[]).map((m) => m.name), ['sensor-lost', 'sensor-ok']);
    assert.deepEqual(suspect.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), ['sensor-lost']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^muster: INVALID_PARAMS: /);
    assert.equal(none.stdout, 'no members\n');
  });

  test('cli - info for people and as JSON', async () => {
    const [j, p] = await Promise.all([muster(['info', ...hub, '--json']), muster(['info', ...hub])]);
    assert.equal(j.code, 0, j.stderr);
    const info = JSON.parse(j.stdout) as { hubId: string; members: { total: number }; revision: number };
    assert.equal(info.hubId, 'test-hub');
    assert.equal(info.members.total, h.hub.registry.size);
    assert.match(p.stdout, /^hub\s+muster \(test-hub\)$/m);
    assert.match(p.stdout, new RegExp(`^revision\\s+${h.hub.registry.log.revision}$`, 'm'));
  });

  test('cli - the hub comes from --hub, else MUSTER_HUB; an unreachable hub is a clear error with exit 1', async () => {
    const port = await closedPort();
    const [viaEnv, flagWins, down, watchDown] = await Promise.all([
      muster(['info', '--json'], { MUSTER_HUB: h.url }),
      muster(['info', '--json', '--hub', h.url], { MUSTER_HUB: `http://127.0.0.1:${port}` }),
      muster(['ls'], { MUSTER_HUB: `http://127.0.0.1:${port}` }),
      muster(['watch', '--hub', `http://127.0.0.1:${port}`]),
    ]);
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal((JSON.parse(viaEnv.stdout) as { hubId: string }).hubId, 'test-hub');
    assert.equal(flagWins.code, 0, flagWins.stderr);
    assert.equal(down.code, 1);
    assert.equal(down.stdout, '');
    assert.match(down.stderr, new RegExp(`^muster: HUB_UNREACHABLE: Cannot reach the hub at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n$`));
    assert.equal(watchDown.code, 1);
    assert.match(watchDown.stderr, /^muster: HUB_UNREACHABLE: /);
  });
});

describe('cli - watch', () => {
  test('cli - watch --since N --json replays after N, then streams live, one JSON line per event', async () => {
    const first = await h.hub.registry.register({ type: 'w', name: 'w-0', liveness: 'ttl' });
    const since = h.hub.registry.log.revision;
    await h.hub.registry.register({ type: 'w', name: 'w-1', liveness: 'ttl' });
    await h.hub.registry.register({ type: 'other', name: 'o-1', liveness: 'ttl' });
    const child = spawn(process.execPath, [BIN, 'watch', ...hub, '--since', String(since), '--type', 'w', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines: string[] = [];
      let buf = '';
      const got = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`watch printed only: ${JSON.stringify(lines)}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          lines.push(...parts);
          if (lines.length === 1) void h.hub.registry.unregister(first.id, { token: ADMIN_TOKEN });
          if (lines.length >= 2) { clearTimeout(timer); resolve(); }
        });
      });
      await got;
      const events = lines.map((l) => JSON.parse(l) as RegistryEvent);
      assert.deepEqual(events.map((e) => [e.type, e.member.name]), [['added', 'w-1'], ['removed', 'w-0']]);
      assert.ok(events.every((e) => e.revision > since));
      assert.equal(events[1]!.type === 'removed' && events[1]!.reason, 'unregistered');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  });

  test('cli - watch --since an old revision says on stderr that it catches up, then that it is live', async () => {
    // 1,000 events or more are announced at once (fewer only when the replay takes over a second).
    for (let i = 0; i < 1_000; i++) await h.hub.registry.register({ type: 'c', name: `c-${i}`, liveness: 'ttl' });
    const target = h.hub.registry.log.revision;
    const child = spawn(process.execPath, [BIN, 'watch', ...hub, '--since', '0', '--type', 'c', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`watch said only: ${stderr}`)), 20_000);
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/caught up/.test(stderr)) { clearTimeout(timer); resolve(); }
        });
      });
      // At or past the last registration's revision: an earlier test's member may expire meanwhile on a slow run.
      const to = Number(/^muster: catching up from revision 0 to (\d+) /.exec(stderr)?.[1]);
      assert.ok(to >= target && to <= target + 5, `catching up to ${to}, the registrations ending at ${target}: ${stderr}`);
      assert.match(stderr, /muster: caught up at revision \d+; live from now on/);
      for (const line of stdout.trim().split('\n')) assert.equal((JSON.parse(line) as RegistryEvent).member.type, 'c', 'stdout has events only');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  });
});
