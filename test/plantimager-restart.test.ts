/** plantimager devices survive a hub killed with SIGKILL: the restarted hub still knows them. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { PyClient } from './python/plantimager-client.js';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { freePort } from './support/net.js';

const dataDir = tempDir();
const started: HubProcess[] = [];
const clients: PyClient[] = [];
after(async () => {
  for (const c of clients) await c.close();
  for (const p of started) await p.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Listed { id: string; name: string; liveness: { ttlMs: number } }

async function members(url: string): Promise<Listed[]> {
  return (await membersWithText(url)).members;
}

async function membersWithText(url: string): Promise<{ members: Listed[]; text: string }> {
  const res = await fetch(`${url}/v1/members?meta.face=plantimager&limit=1000`);
  const text = await res.text();
  return { members: (JSON.parse(text) as { members: Listed[] }).members, text };
}

test('plantimager restart - devices registered before a SIGKILL are still members and answer CHECK_ALIVE success', async () => {
  const port = await freePort();
  // The CLI path, allow-list flag included (loopback is allowed).
  const args = ['--data', dataDir, '--plantimager', `127.0.0.1:${port}`, '--plantimager-allow', '127.0.0.0/8'];
  const first = await spawnHub(args);
  started.push(first);
  const py = new PyClient(`tcp://127.0.0.1:${port}`);
  clients.push(py);
  const devices = [];
  for (let i = 0; i < 5; i++) devices.push(await py.register('camera', `tcp://10.1.0.${i}:5000`, 'cam'));
  assert.deepEqual(devices.map((d) => d.name), ['cam', 'cam-1', 'cam-2', 'cam-3', 'cam-4']);
  for (const d of devices) assert.equal(await py.alive(d.uuid, 60), 'ok');
  const leaver = devices.pop()!;
  assert.equal(await py.unregister(leaver.uuid), true);
  const before = await members(first.url);
  assert.equal(before.length, 4);

  await first.kill('SIGKILL');
  const second = await spawnHub(args);
  started.push(second);

  const { members: after, text } = await membersWithText(second.url);
  assert.deepEqual(after.map((m) => [m.name, m.id]).sort(), before.map((m) => [m.name, m.id]).sort(), 'same names, same public ids');
  for (const m of after) assert.equal(m.liveness.ttlMs, 60_000, 'the alive_timeout a device asked for survives the restart');
  for (const d of devices) assert.ok(!text.includes(d.uuid), `${d.name}'s uuid stays secret after the restart`);
  // The uuid (stored only as a hash) still identifies each device.
  for (const d of devices) assert.equal(await py.alive(d.uuid), 'ok', `${d.name} is known after the restart`);
  assert.equal(await py.alive(leaver.uuid), 'unknown', 'the unregistered one stays gone');
  // Naming and eviction still work on restored devices.
  const again = await py.register('camera', 'tcp://10.1.0.0:5000', 'cam');
  assert.equal(again.name, 'cam', 'same address: the restored cam is evicted and its name reused');
  assert.equal(await py.alive(devices[0]!.uuid), 'unknown');
  assert.equal(await second.kill('SIGTERM'), 0, 'a graceful stop closes the face with the hub');
});
