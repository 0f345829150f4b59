/** `muster pub`, `sub`, `broadcast`, `request` as real child processes against a real hub. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
let h: TestHub;
const peers: RpcPeer[] = [];
before(async () => { h = await startHub(); });
after(async () => {
  for (const p of peers) await p.close();
  await h.stop();
});

const env = () => ({ ...process.env, MUSTER_HUB: h.url, MUSTER_TOKEN: '' });

/** `muster ARGS` against this hub, no token unless `extraEnv` gives one; a signal counts as exit 1. */
const muster = async (args: string[], extraEnv: Record<string, string> = {}) => {
  const r = await runMuster(args, { MUSTER_HUB: h.url, MUSTER_TOKEN: '', ...extraEnv });
  return { ...r, code: r.code ?? 1 };
};

/** Starts `muster sub` and resolves once the hub has its subscription. */
async function startSub(args: string[]): Promise<{ done: Promise<{ code: number | null; stdout: string }> }> {
  const before = h.hub.bus.trie.size;
  const child = spawn(process.execPath, [BIN, 'sub', ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<{ code: number | null; stdout: string }>((resolve) => child.once('exit', (code) => { clearTimeout(killer); resolve({ code, stdout }); }));
  const deadline = Date.now() + 15_000;
  while (h.hub.bus.trie.size <= before) {
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('muster sub did not subscribe'); }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { done };
}

describe('bus - CLI', () => {
  test('muster sub --count --json prints one line per message that muster pub sends', async () => {
    const sub = await startSub(['/cli/', '--count', '2', '--json']);
    const p1 = await muster(['pub', '/cli/a', '{"t":1}']);
    assert.equal(p1.code, 0, p1.stderr);
    assert.match(p1.stdout, /seq 1, delivered to 1/);
    assert.equal((await muster(['pub', '/cli/', 'plain words'])).code, 0);
    const { code, stdout } = await sub.done;
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((m) => [m.scope, m.data]), [['/cli/a/', { t: 1 }], ['/cli/', 'plain words']]);
    assert.match(lines[0].from, /^cli-pub/);
  });

  test('muster sub prints SCOPE FROM DATA; with --all broadcasts too', async () => {
    const sub = await startSub(['/x/', '--count', '2', '--all']);
    assert.equal((await muster(['pub', '/x/y', '[1,2]'])).code, 0);
    assert.equal((await muster(['broadcast', '"hi all"'])).code, 0);
    const { stdout } = await sub.done;
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^\/x\/y\/ cli-pub\S* \[1,2\]$/);
    assert.match(lines[1]!, /^\* cli-broadcast\S* "hi all"$/);
  });

  test('muster request prints the member answer; errors exit 1 with their code', async () => {
    const svc = await RpcPeer.connect(h.wsUrl);
    peers.push(svc);
    await svc.ok('register', { name: 'cli-svc', type: 'svc', liveness: 'session' });
    svc.ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString());
      if (m.method === 'bus.handle') svc.ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { got: m.params.params, method: m.params.method } }));
    });
    const r = await muster(['request', 'cli-svc', 'double', '{"n":4}']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { got: { n: 4 }, method: 'double' });
    const missing = await muster(['request', 'nobody', 'x']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NO_SUCH_MEMBER/);
    const bad = await muster(['pub', 'no-slash', '1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_SCOPE/);
    const asAdmin = await muster(['pub', '/cli/', '1', '--as', 'cli-svc'], { MUSTER_TOKEN: ADMIN_TOKEN });
    assert.equal(asAdmin.code, 0, asAdmin.stderr);
  });
});
