import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runMuster } from './support/cli.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';

interface Registered { id: string; name: string; token: string }

async function http(url: string, method: string, body?: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* gzip or empty */ }
  return { status: res.status, json };
}

async function register(hub: HubProcess, name: string): Promise<Registered> {
  const r = await http(`${hub.url}/v1/members`, 'POST', { name, type: 'sensor', address: `tcp://10.0.0.1/${name}`, meta: { k: 'v' }, liveness: { kind: 'ttl', ttlMs: 600_000 } });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json as Registered;
}

const admin = (hub: HubProcess) => ['--hub', hub.url, '--token', ADMIN_TOKEN];

/** The lines of a snapshot file, to damage on purpose. */
const linesOf = (file: string) => gunzipSync(readFileSync(file)).toString('utf8').split('\n');
const writeLines = (file: string, lines: string[]) => writeFileSync(file, gzipSync(lines.join('\n')));

describe('snapshot - save under load, restore, inspect', () => {
  const dir = tempDir('muster-snapshot-');
  let hub: HubProcess;
  let restored: HubProcess | undefined;
  const acked: Registered[] = [];

  before(async () => {
    hub = await spawnHub(['--data', join(dir, 'data'), '--sync', 'normal']);
  });
  after(async () => {
    await hub.kill();
    await restored?.kill();
  });

  test('saved while registrations are acknowledged: every member acknowledged before the save is restored, with its id, name and token', async (t) => {
    for (let i = 0; i < 150; i++) acked.push(await register(hub, `pre-${i}`));
    // Four writers keep registering (bounded: 400 each at most) while the save runs.
    let stop = false;
    const ackedBeforeSave = acked.length;
    const writers = [0, 1, 2, 3].map(async (w) => {
      for (let i = 0; i < 400 && !stop; i++) acked.push(await register(hub, `load-${w}-${i}`));
    });
    await new Promise((r) => setTimeout(r, 50));
    const sureBefore = acked.slice(0, Math.max(ackedBeforeSave, acked.length));
    const file = join(dir, 'under-load.snap');
    const save = await runMuster(['snapshot', 'save', file, ...admin(hub), '--json']);
    stop = true;
    await Promise.all(writers);
    assert.equal(save.code, 0, save.stderr);
    const saved = JSON.parse(save.stdout) as { members: number; events: number; revision: number; format: string };
    assert.equal(saved.format, 'muster-snapshot');
    assert.ok(saved.members >= sureBefore.length, `${saved.members} members saved, ${sureBefore.length} acknowledged before`);
    assert.ok(saved.members <= acked.length);
    assert.ok(acked.length > sureBefore.length, 'registrations went on during the save');
    t.diagnostic(`acknowledged before the save ${sureBefore.length}, saved ${saved.members} (revision ${saved.revision}), acknowledged in all ${acked.length}`);
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.part')), 'no temporary file left');

    const inspect = await runMuster(['snapshot', 'inspect', file]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, new RegExp(`members\\s+${saved.members}\\n`));
    assert.match(inspect.stdout, /format\s+muster-snapshot version 1/);
    assert.match(inspect.stdout, /from\s+hub \S+, sqlite store/);

    const data = join(dir, 'restored');
    const restore = await runMuster(['snapshot', 'restore', file, '--data', data]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, new RegExp(`restored ${saved.members} members`));
    restored = await spawnHub(['--data', data]);
    const list = await http(`${restored.url}/v1/members?limit=1`, 'GET');
    assert.equal((list.json as { total: number }).total, saved.members);
    for (const m of sureBefore) {
      const got = await http(`${restored.url}/v1/members/${m.id}`, 'GET');
      assert.equal(got.status, 200, `${m.name} missing after restore`);
      assert.equal((got.json as { name: string }).name, m.name);
      assert.equal((got.json as { id: string }).id, m.id);
    }
    // Tokens still work: a heartbeat with the token from the first hub.
    for (const m of [sureBefore[0]!, sureBefore[sureBefore.length - 1]!]) {
      const hb = await http(`${restored.url}/v1/members/${m.id}/heartbeat`, 'PUT', undefined, m.token);
      assert.equal(hb.status, 200, JSON.stringify(hb.json));
      const wrong = await http(`${restored.url}/v1/members/${m.id}/heartbeat`, 'PUT', undefined, 'not-its-token');
      assert.notEqual(wrong.status, 200);
    }
    // The restored hub goes on from the snapshot's revision.
    const fresh = await register(restored, 'after-restore');
    assert.ok(fresh.id);
  });

  test('restore refuses a folder that holds a store, unless --force', async () => {
    const file = join(dir, 'under-load.snap');
    const data = join(dir, 'taken');
    assert.equal((await runMuster(['snapshot', 'restore', file, '--data', data])).code, 0);
    const again = await runMuster(['snapshot', 'restore', file, '--data', data]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /INVALID_PARAMS: .*already holds a muster store.*--force/);
    const forced = await runMuster(['snapshot', 'restore', file, '--data', data, '--force', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((JSON.parse(forced.stdout) as { dataDir: string }).dataDir, data);
  });

  test('two saves at once are both whole and both valid', async () => {
    const a = join(dir, 'a.snap');
    const b = join(dir, 'b.snap');
    const [ra, rb] = await Promise.all([runMuster(['snapshot', 'save', a, ...admin(hub), '--json']), runMuster(['snapshot', 'save', b, ...admin(hub), '--json'])]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    for (const f of [a, b]) assert.equal((await runMuster(['snapshot', 'inspect', f])).code, 0);
  });

  test('only the admin may save: 401 without a token, 403 with a member token; no file is left', async () => {
    assert.equal((await http(`${hub.url}/v1/admin/snapshot`, 'GET')).status, 401);
    const member = acked[0]!;
    const r = await http(`${hub.url}/v1/admin/snapshot`, 'GET', undefined, member.token);
    assert.equal(r.status, 403);
    assert.equal((r.json as { error: { code: string } }).error.code, 'FORBIDDEN');
    const file = join(dir, 'forbidden.snap');
    const cli = await runMuster(['snapshot', 'save', file, '--hub', hub.url, '--token', member.token]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /FORBIDDEN/);
    assert.ok(!existsSync(file));
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.part')));
  });

  describe('bad files: SNAPSHOT_INVALID with the reason, nothing restored', () => {
    const bad = async (name: string, reason: RegExp) => {
      const file = join(dir, name);
      const inspect = await runMuster(['snapshot', 'inspect', file]);
      assert.equal(inspect.code, 1, inspect.stdout);
      assert.match(inspect.stderr, /^muster: SNAPSHOT_INVALID: /);
      assert.match(inspect.stderr, reason);
      const data = join(dir, `restore-${name}`);
      const restore = await runMuster(['snapshot', 'restore', file, '--data', data]);
      assert.equal(restore.code, 1);
      assert.match(restore.stderr, /SNAPSHOT_INVALID/);
      assert.ok(!existsSync(join(data, 'muster.db')), 'nothing restored');
    };
    const good = () => join(dir, 'under-load.snap');

    test('truncated', async () => {
      const bytes = readFileSync(good());
      writeFileSync(join(dir, 'cut.snap'), bytes.subarray(0, Math.floor(bytes.length / 2)));
      await bad('cut.snap', /cut short/);
      // Cut at a line boundary, gzip whole: the missing trailer says so.
      const lines = linesOf(good());
      writeLines(join(dir, 'no-trailer.snap'), lines.slice(0, 20));
      await bad('no-trailer.snap', /no trailer/);
    });

    test('a changed or broken line', async () => {
      const lines = linesOf(good());
      writeLines(join(dir, 'changed.snap'), lines.map((l, i) => (i === 5 ? l.replace('"name":"', '"name":"x') : l)));
      await bad('changed.snap', /checksum/);
      writeLines(join(dir, 'garbage.snap'), lines.map((l, i) => (i === 5 ? '{"m": nonsense' : l)));
      await bad('garbage.snap', /line 6: not JSON/);
      writeLines(join(dir, 'shape.snap'), lines.map((l, i) => (i === 5 ? '{"m":{"id":"x"}}' : l)));
      await bad('shape.snap', /line 6: not a valid member line/);
    });

    test('from a newer version', async () => {
      const lines = linesOf(good());
      writeLines(join(dir, 'v99.snap'), [lines[0]!.replace('"version":1', '"version":99'), ...lines.slice(1)]);
      await bad('v99.snap', /version 99; this muster reads version 1/);
    });

    test('not a snapshot', async () => {
      writeFileSync(join(dir, 'text.snap'), 'hello, I am not a snapshot\n');
      await bad('text.snap', /not gzip/);
      writeLines(join(dir, 'json.snap'), ['{"hello":"world"}', '']);
      await bad('json.snap', /not a muster snapshot header/);
      writeFileSync(join(dir, 'empty.snap'), gzipSync(''));
      await bad('empty.snap', /empty/);
    });
  });

  test('the running hub lost nothing and still takes registrations', async () => {
    const list = await http(`${hub.url}/v1/members?limit=1`, 'GET');
    assert.equal((list.json as { total: number }).total, acked.length);
    await register(hub, 'still-works');
  });
});
