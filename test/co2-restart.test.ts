/** CO2 satellites survive a hub killed with SIGKILL: same host ids, no new registration, relays and notify_pass work. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { int, PySatellite, struct, type Typed } from './co2/satellite.js';
import { freePort } from './support/net.js';

const dataDir = tempDir();
const started: HubProcess[] = [];
const sats: PySatellite[] = [];
after(async () => {
  for (const s of sats) await s.close();
  for (const p of started) await p.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function until<T>(what: () => Promise<T | false>, label: string, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not seen within ${ms} ms: ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('co2 restart - satellites registered before a SIGKILL keep their host ids and are relayed to without registering again', async () => {
  const port = await freePort();
  // The CLI path: flag and environment.
  const args = ['--data', dataDir, '--co2', `127.0.0.1:${port}`, '--co2-max-sats', '10'];
  const env = { MUSTER_CO2_PING_INTERVAL_MS: '300' };
  const first = await spawnHub(args, env);
  started.push(first);
  const relay = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 3; i++) sats.push(await PySatellite.start(relay));
  const [a, b, c] = sats as [PySatellite, PySatellite, PySatellite];
  const ia = await a.register('alpha');
  const ib = await b.register('beta');
  const ic = await c.register('gamma', { notify_pass: 'sesame' });
  await c.mode('ok', 'sesame');
  const before = ((await a.ok('relay.get_satellites')) as string[]).sort();
  assert.deepEqual(before, [ia, ib, ic].sort());

  await first.kill('SIGKILL');
  const second = await spawnHub(args, env);
  started.push(second);

  assert.deepEqual(((await a.ok('relay.get_satellites')) as string[]).sort(), before, 'same host ids');
  assert.deepEqual(await a.ok('relay.get_max_satellites'), int(10));
  const props = ((await b.ok('relay.get_satellite_props', struct({ host_id: ic }))) as { struct: Record<string, Typed> }).struct;
  assert.equal(props.nick, 'gamma');
  assert.deepEqual(props.addr, ['127.0.0.1', int(c.port)]);
  const listed = await (await fetch(`${second.url}/v1/members?type=co2-satellite`)).text();
  assert.ok(!listed.includes('sesame'), 'notify_pass stays secret after the restart');

  // Nobody registered again: the restored links relay, with gamma's notify_pass.
  assert.deepEqual(await a.call('relay.relay', struct({ host_id: ia, data: 'after the crash' })), { result: 'OK' });
  for (const s of [b, c]) {
    const [n] = await until(async () => { const x = await s.notifies(); return x.length ? x : false; }, 'notified after restart');
    assert.equal((n as { struct: { data: Typed } }).struct.data, 'after the crash');
  }
  assert.deepEqual(await a.notifies(), [], 'not back to the sender');
  // The pinger picked them up again.
  const pinged = await a.pings();
  await until(async () => (await a.pings()) >= pinged + 2, 'pinged after restart');
  assert.equal(await second.kill('SIGTERM'), 0, 'a graceful stop closes the face with the hub');
});
