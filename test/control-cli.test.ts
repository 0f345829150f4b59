/** `muster configure`, `muster stop`, `muster lifecycle` against a hub with bare JSON-RPC components. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, startHub, tempDir, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
const peers: RpcPeer[] = [];
const dir = tempDir('muster-ctl-cli-');

before(async () => { h = await startHub({ lifecycleTimeoutMs: 300 }); });
after(async () => {
  for (const p of peers) await p.close();
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `muster ARGS` against this hub with `token` (null: none); a signal counts as exit 1. */
const muster = async (args: string[], token: string | null = ADMIN_TOKEN) => {
  const r = await runMuster(args, { MUSTER_HUB: h.url, MUSTER_TOKEN: token ?? '' });
  return { ...r, code: r.code ?? 1 };
};

/** A READY component that answers by itself: CONFIGURE {fail} -> ERROR, {silent} -> nothing, else OK; STOP -> FINISHED. */
async function autoComponent(name: string, type = 'clitest'): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
  peers.push(p);
  await p.ok('register', { name, type, roles: ['component'], liveness: 'session' });
  await p.ok('lifecycle.ready', { endpoints: { ctl: [`tcp://127.0.0.1:1${name.length}`] } });
  let n = 0;
  p.ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString());
    const send = (method: string, params: unknown) => p.ws.send(JSON.stringify({ jsonrpc: '2.0', id: `auto-${n++}`, method, params }));
    if (m.method === 'lifecycle.configure') {
      if (m.params.config.silent) return;
      if (m.params.config.fail) send('lifecycle.error', { call: m.params.call, text: m.params.config.fail });
      else send('lifecycle.ok', { call: m.params.call });
    } else if (m.method === 'lifecycle.stop') send('lifecycle.finished', { call: m.params.call, outcome: 'OK', details: ['bye'] });
  });
  return p;
}

function configFile(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

describe('control cli - configure, stop, lifecycle', () => {
  test('configure one component: OK exits 0, the component\'s ERROR exits 1 with its text', async () => {
    await autoComponent('cli-one');
    const ok = await muster(['configure', 'cli-one', '--config', configFile('ok.json', { rate: 3 })]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^NAME\s+RESULT\s+STATE\s+ERROR\ncli-one\s+OK\s+configured\n$/);
    const bad = await muster(['configure', 'cli-one', '--config', configFile('bad.json', { fail: 'rate out of range' }), '--json']);
    assert.equal(bad.code, 1);
    assert.deepEqual(JSON.parse(bad.stdout), { name: 'cli-one', ok: false, error: 'rate out of range', state: 'configured' });
  });

  test('configure and stop a group by type, one row per member', async () => {
    await autoComponent('cli-g1', 'cligroup');
    await autoComponent('cli-g2', 'cligroup');
    const r = await muster(['configure', '--type', 'cligroup', '--config', configFile('g.json', { v: 1 })]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cli-g1\s+OK\s+configured\ncli-g2\s+OK\s+configured\n$/);
    const slow = await muster(['configure', '--type', 'cligroup', '--prefix', 'cli-g2', '--timeout', '100', '--config', configFile('s.json', { silent: true })]);
    assert.equal(slow.code, 1);
    assert.match(slow.stdout, /cli-g2\s+TIMEOUT\s+unresponsive\s+cli-g2: no answer to CONFIGURE within 100 ms/);
    const s = await muster(['stop', '--type', 'cligroup']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.match(s.stdout, /cli-g1\s+OK\s+finished\s+bye\ncli-g2\s+OK\s+finished\s+bye\n$/);
  });

  test('lifecycle shows state, endpoints and history', async () => {
    await autoComponent('cli-lc');
    await fetch(`${h.url}/v1/members/cli-lc/stop`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
    const r = await muster(['lifecycle', 'cli-lc'], null);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^state\s+finished/m);
    assert.match(r.stdout, /^endpoints\s+ctl=tcp:\/\/127\.0\.0\.1:16$/m);
    assert.match(r.stdout, /starting\s+ready\s*\n.*ready\s+stopping\s+STOP c\d+\n.*stopping\s+finished\s+FINISHED OK\n$/);
  });

  test('refusals: no target, both target kinds, no token, unreadable config', async () => {
    await autoComponent('cli-auth');
    const [none, both, anon, missing, notObject] = await Promise.all([
      muster(['stop']),
      muster(['stop', 'x', '--type', 'y']),
      muster(['stop', 'cli-auth'], null),
      muster(['configure', 'cli-auth', '--config', join(dir, 'nope.json')]),
      muster(['configure', 'cli-auth', '--config', configFile('arr.json', [1])]),
    ]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /INVALID_PARAMS: Give a component NAME/);
    assert.match(both.stderr, /not both/);
    assert.equal(anon.code, 1);
    assert.match(anon.stderr, /UNAUTHORIZED/);
    assert.match(missing.stderr, /INVALID_PARAMS: Cannot read --config/);
    assert.match(notObject.stderr, /must hold a JSON object/);
  });

  test('ls shows the lifecycle state and filters by it', async () => {
    await autoComponent('ls-ready', 'lstest');
    await autoComponent('ls-conf', 'lstest');
    const conf = await fetch(`${h.url}/v1/members/ls-conf/configure`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ config: {} }) });
    assert.equal(conf.status, 200);
    const all = await muster(['ls', '--type', 'lstest']);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /STATE/);
    assert.match(lines.find((l) => l.startsWith('ls-conf'))!, /\sconfigured\s/);
    assert.match(lines.find((l) => l.startsWith('ls-ready'))!, /\sready\s/);
    const only = await muster(['ls', '--type', 'lstest', '--state', 'configured', '--json']);
    assert.deepEqual((JSON.parse(only.stdout) as { name: string }[]).map((m) => m.name), ['ls-conf']);
  });
});
