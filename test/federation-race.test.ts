/**
 * Federation races, with real hub processes on loopback and a TCP proxy between the site and
 * its registrar (the root) that holds or delays the root's bytes: hubs that join or leave below
 * the site while the site's own hub.register is in flight, and random start orders of root,
 * site and cell. Every case ends the same way: the root knows the cell (or that it left), a
 * request from the root reaches a member on the cell, and a killed cell is reported at the root.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { bus, connect, type MemberView, type MusterClient, type RegistryEvent } from '../src/client/index.js';
import { ADMIN_TOKEN, spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { freePort } from './support/net.js';

const FED = 'federation-token-race';
/** Long enough that the root's pings outlast a held or delayed reply (holds here stay under 3 s). */
const MONITOR_MS = 4000;
const GRACE_MS = 1500;
/** A cell waiting for its site to come up retries this often (its backoff cap). */
const CELL_MONITOR_MS = 500;
const CONVERGE_MS = 15_000;
/** Random start orders tried per run; MUSTER_RACE_SEED replays a run. */
const ROUNDS = 4;

/** One test's tree: its processes, proxies and clients, all stopped after the test. */
class Tree {
  readonly dir = tempDir('muster-race-');
  readonly hubs: Record<string, HubProcess> = {};
  readonly proxies: TcpProxy[] = [];
  readonly clients: MusterClient[] = [];

  async spawn(id: string, args: string[]): Promise<HubProcess> {
    const monitor = id.startsWith('cell') ? CELL_MONITOR_MS : MONITOR_MS;
    const h = await spawnHub(['--hub-id', id, '--data', join(this.dir, id), '--monitor-ms', String(monitor), '--grace-ms', String(GRACE_MS), '--federation-token', FED, ...args]);
    this.hubs[id] = h;
    return h;
  }

  child(id: string, registrarUrl: string, args: string[] = []): Promise<HubProcess> {
    return this.spawn(id, ['--registrar', registrarUrl, '--registrar-token', FED, ...args]);
  }

  async proxy(targetPort: number): Promise<TcpProxy> {
    const p = await TcpProxy.start(targetPort);
    this.proxies.push(p);
    return p;
  }

  async http<T>(hub: string, path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(this.hubs[hub]!.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return { status: res.status, body: (await res.json()) as T };
  }

  member(hub: string, name: string): Promise<{ status: number; body: MemberView }> {
    return this.http<MemberView>(hub, `/v1/members/${encodeURIComponent(name)}`);
  }

  async client(hub: string, name: string): Promise<MusterClient> {
    const c = await connect({ url: this.hubs[hub]!.url, reconnect: false });
    this.clients.push(c);
    await c.register({ name, type: 'svc', liveness: 'session' });
    return c;
  }

  /** Watches the root's hub records; resolves with the `removed` event of hub `name` (or undefined at `ms`). */
  async removal(name: string, ms: number): Promise<() => Promise<RegistryEvent | undefined>> {
    const watcher = await connect({ url: this.hubs.root!.url, token: ADMIN_TOKEN, reconnect: false });
    this.clients.push(watcher);
    const w = watcher.watch({ type: 'hub' });
    await w.ready;
    const removed = (async () => {
      for await (const e of w) if (e.type === 'removed' && e.member.name === name) return e;
      return undefined;
    })();
    return async () => {
      const late = new AbortController();
      const e = await Promise.race([removed, delay(ms, undefined, { signal: late.signal }).catch(() => undefined)]);
      late.abort();
      await w.close();
      return e;
    };
  }

  async stop(): Promise<void> {
    for (const c of this.clients) await c.close().catch(() => {});
    for (const h of Object.values(this.hubs)) await h.kill('SIGKILL');
    for (const p of this.proxies) await p.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 50 ms until it holds; false after `ms` (a bounded wait, not an assertion). */
async function within(ms: number, fn: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return true;
    await sleep(50);
  }
  return false;
}

async function eventually(what: string, ms: number, fn: () => Promise<boolean>): Promise<void> {
  assert.ok(await within(ms, fn), `${what}: not within ${ms} ms`);
}

/** A small seeded generator, so a failing round can be run again (MUSTER_RACE_SEED). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What every case must end with: the root knows the cell, reaches a member on it, and hears of its death. */
async function assertConverged(tree: Tree, cell = 'cell'): Promise<void> {
  await eventually(`the root knows ${cell}`, CONVERGE_MS, async () => {
    const m = await tree.member('root', cell);
    return m.status === 200 && m.body.roles?.[0] === 'descendant' && m.body.meta.parent === 'site';
  });
  const x = await tree.client(cell, 'x');
  bus(x).onRequest('echo', (p) => p);
  const asker = await tree.client('root', 'asker');
  assert.deepEqual(await bus(asker).request(`${cell}/x`, 'echo', { n: 1 }, { timeoutMs: 5000 }), { n: 1 });

  const removed = await tree.removal(cell, GRACE_MS + 3000);
  await tree.hubs[cell]!.kill('SIGKILL');
  const e = await removed();
  assert.ok(e, `${cell} killed: removed at the root within the grace period`);
  assert.equal(e.type === 'removed' && e.reason, 'hub-lost');
}

describe('federation race', () => {
  let tree = new Tree();
  afterEach(async () => {
    await tree.stop();
    tree = new Tree();
  });

  test('race - a hub that joins while its registrar registers upstream is known at the root', { timeout: 60_000 }, async () => {
    const rootPort = await freePort();
    const sitePort = await freePort();
    await tree.spawn('root', ['--port', String(rootPort)]);
    const up = await tree.proxy(rootPort);
    const down = await tree.proxy(sitePort);
    // The cell's hub.register is held on its way to the site, the site's answer from the root on its way back.
    const cellCalls = down.nextCall('requests');
    const siteRegisters = up.nextCall('replies');
    await tree.child('cell', down.url);
    await tree.child('site', up.url, ['--port', String(sitePort)]);
    await Promise.all([siteRegisters, cellCalls]);
    down.release();
    // The site may take the cell while its own registration is in flight (it did, before the fix).
    await within(1000, async () => (await tree.member('site', 'cell')).status === 200);
    up.release();
    await assertConverged(tree);
  });

  test('race - children that leave and join while their parent registers again are known at the root', { timeout: 60_000 }, async () => {
    const rootPort = await freePort();
    await tree.spawn('root', ['--port', String(rootPort)]);
    const up = await tree.proxy(rootPort);
    const site = await tree.child('site', up.url);
    await tree.child('cell', site.url);
    await eventually('the root knows cell', CONVERGE_MS, async () => (await tree.member('root', 'cell')).status === 200);
    // cell2 is ready to join: its hub.register waits in a proxy.
    const down = await tree.proxy(Number(new URL(site.url).port));
    const cell2Calls = down.nextCall('requests');
    await tree.child('cell2', down.url);
    await cell2Calls;
    // The site's link drops; its registration again is in flight (the root's answer held) while cell leaves and cell2 joins.
    const siteRegisters = up.nextCall('replies');
    up.cut();
    await siteRegisters;
    await tree.hubs.cell!.kill('SIGTERM');
    await eventually('cell left the site', 3000, async () => (await tree.member('site', 'cell')).status === 404);
    down.release();
    await within(1000, async () => (await tree.member('site', 'cell2')).status === 200);
    up.release();
    await eventually('the root knows cell left', CONVERGE_MS, async () => (await tree.member('root', 'cell')).status === 404);
    await assertConverged(tree, 'cell2');
  });

  test('race - random start orders with delayed replies from the root converge', { timeout: ROUNDS * 40_000 }, async () => {
    const seed = Number(process.env.MUSTER_RACE_SEED ?? Date.now() % 1_000_000);
    const rand = random(seed);
    for (let round = 0; round < ROUNDS; round++) {
      const rootPort = await freePort();
      const sitePort = await freePort();
      const up = await tree.proxy(rootPort);
      up.replyDelayMs = 300 + Math.floor(rand() * 900);
      const start: Record<string, () => Promise<HubProcess>> = {
        root: () => tree.spawn('root', ['--port', String(rootPort)]),
        site: () => tree.child('site', up.url, ['--port', String(sitePort)]),
        cell: () => tree.child('cell', `http://127.0.0.1:${sitePort}`),
      };
      const order = Object.keys(start);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const context = `seed ${seed}, round ${round}: ${order.join(' → ')}, replies delayed ${up.replyDelayMs} ms`;
      const started: Promise<HubProcess>[] = [];
      for (const id of order) {
        const h = start[id]!();
        h.catch(() => {}); // seen by Promise.all below; not unhandled while the next one starts
        started.push(h);
        await sleep(Math.floor(rand() * 400));
      }
      await Promise.all(started);
      await assertConverged(tree).catch((err: unknown) => {
        throw new Error(`${context}: ${(err as Error).message}`);
      });
      await tree.stop();
      tree = new Tree();
    }
  });
});
