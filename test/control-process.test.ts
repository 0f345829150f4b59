/**
 * Lifecycle control with real component processes (test/fixtures/component.ts, built on the SDK)
 * driven by the SDK controller: the full lifecycle, failures, timeouts, protocol errors, SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { component, connect, controller, MusterClientError, type Controller, type MusterClient } from '../src/client/index.js';
import type { WsConnection } from '../src/faces/native/ws-connection.js';
import { ADMIN_TOKEN, startHub, type TestHub } from './support/hub.js';

const TIMEOUT = 300;
const FIXTURE = new URL('./fixtures/component.ts', import.meta.url).pathname;
let h: TestHub;
let client: MusterClient;
let ctl: Controller;
const children: ChildProcess[] = [];

before(async () => {
  h = await startHub({ lifecycleTimeoutMs: TIMEOUT, graceMs: 200 });
  client = await connect({ url: h.url, token: ADMIN_TOKEN, reconnect: false });
  ctl = controller(client);
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await client.close();
  await h.stop();
});

interface Proc {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  waitLine(re: RegExp, ms?: number): Promise<string>;
}

function spawnComponent(behaviour: string, name: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, h.url, behaviour, name], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, lines, exited,
    async waitLine(re, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`${name} (${behaviour}) printed no ${re} in time; lines: ${JSON.stringify(lines)}; stderr: ${stderr}`);
    },
  };
}

async function waitState(name: string, want: string, ms = 5000): Promise<Awaited<ReturnType<Controller['lifecycle']>>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const lc = await ctl.lifecycle(name);
    if (lc.state === want) return lc;
    if (Date.now() > deadline) assert.fail(`${name} is ${lc.state}, not ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MusterClientError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('control process - components as real processes', () => {
  test('full lifecycle: READY with endpoints, configure, reconfigure, a configure that fails, stop with clean-up', async () => {
    const p = spawnComponent('normal', 'proc-full');
    await p.waitLine(/^ready$/);
    const lc = await ctl.lifecycle('proc-full');
    assert.equal(lc.state, 'ready');
    assert.match(lc.endpoints.data![0]!, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual((await client.list({ state: 'ready', prefix: 'proc-full' })).members.map((m) => m.name), ['proc-full']);

    assert.deepEqual(await ctl.configure('proc-full', { rate: 1 }), { name: 'proc-full', ok: true, state: 'configured' });
    await p.waitLine(/^configured \{"rate":1\}$/);
    assert.deepEqual(await ctl.configure('proc-full', { rate: 2 }), { name: 'proc-full', ok: true, state: 'configured' });
    await p.waitLine(/^configured \{"rate":2\}$/);
    assert.deepEqual(await ctl.configure('proc-full', { fail: 'rate too high' }), { name: 'proc-full', ok: false, error: 'rate too high', state: 'configured' });

    assert.deepEqual(await ctl.stop('proc-full'), { name: 'proc-full', outcome: 'OK', details: ['closed 1 socket'], state: 'finished' });
    assert.equal(await p.exited, 0);
    assert.ok(p.lines.indexOf('stopping') < p.lines.indexOf('stopped'));
    const end = await ctl.lifecycle('proc-full');
    assert.deepEqual(end.history.map((t) => t.to), ['starting', 'ready', 'configuring', 'configured', 'configuring', 'configured', 'configuring', 'configured', 'stopping', 'finished']);
    assert.equal(end.lastError, 'rate too high');
  });

  test('a component that cannot start is failed with its reason', async () => {
    const p = spawnComponent('fail-start', 'proc-nostart');
    await p.waitLine(/^failed$/);
    const lc = await ctl.lifecycle('proc-nostart');
    assert.deepEqual([lc.state, lc.lastError], ['failed', 'cannot bind port 9000']);
    await rejects(ctl.configure('proc-nostart', {}), 'INVALID_STATE');
  });

  test('timeouts: no READY, a slow CONFIGURE (whose late OK is still taken), a STOP that never finishes', async () => {
    const silent = spawnComponent('no-ready', 'proc-silent');
    const slow = spawnComponent('normal', 'proc-slow');
    const hang = spawnComponent('hang-stop', 'proc-hang');
    await silent.waitLine(/^registered/);
    const lc = await waitState('proc-silent', 'unresponsive');
    assert.equal(lc.lastError, `no READY within ${TIMEOUT} ms`);

    await slow.waitLine(/^ready$/);
    const t0 = Date.now();
    await rejects(ctl.configure('proc-slow', { delayMs: 600 }, { timeoutMs: 150 }), 'TIMEOUT', /no answer to CONFIGURE within 150 ms/);
    assert.ok(Date.now() - t0 < 550, `the controller waited ${Date.now() - t0} ms`);
    assert.equal((await ctl.lifecycle('proc-slow')).state, 'unresponsive');
    await slow.waitLine(/^configured/);
    await waitState('proc-slow', 'configured');

    await hang.waitLine(/^ready$/);
    await rejects(ctl.stop('proc-hang', { timeoutMs: 150 }), 'TIMEOUT', /no answer to STOP/);
    await hang.waitLine(/^stopping$/);
    assert.equal((await ctl.lifecycle('proc-hang')).state, 'unresponsive');
  });

  test('protocol errors: second READY, OK before READY, an answer nobody asked for, a controller message from a component', async () => {
    const cases = [
      ['double-ready', 'proc-pe-ready2', 'lifecycle.ready', /a second READY/],
      ['ok-before-ready', 'proc-pe-okfirst', 'lifecycle.ok', /OK before READY/],
      ['unasked', 'proc-pe-unasked', 'lifecycle.ok', /OK answers nothing/],
      ['wrong-way', 'proc-pe-wrongway', 'lifecycle.configure', /CONFIGURE goes from the hub to a component/],
    ] as const;
    const procs = cases.map(([behaviour, name]) => spawnComponent(behaviour, name));
    for (const [i, [, name, method, reason]] of cases.entries()) {
      await procs[i]!.waitLine(new RegExp(`^${method.replace('.', '\\.')} refused PROTOCOL_ERROR$`));
      const lc = await ctl.lifecycle(name);
      assert.equal(lc.state, 'failed', name);
      assert.match(lc.lastError!, reason);
      assert.match(lc.history.at(-1)!.note!, /^protocol error: /);
    }
  });

  test('a component killed with SIGKILL while CONFIGURE is open: the controller gets MEMBER_GONE at once', async () => {
    const p = spawnComponent('normal', 'proc-kill');
    await p.waitLine(/^ready$/);
    const configuring = ctl.configure('proc-kill', { delayMs: 10_000 }, { timeoutMs: 10_000 });
    await p.waitLine(/^configuring/);
    const t0 = Date.now();
    p.child.kill('SIGKILL');
    await rejects(configuring, 'MEMBER_GONE', /proc-kill: connection lost during CONFIGURE/);
    assert.ok(Date.now() - t0 < 2000, `MEMBER_GONE took ${Date.now() - t0} ms`);
    const lc = await ctl.lifecycle('proc-kill');
    assert.deepEqual([lc.state, lc.connected], ['failed', false]);
    // Its session member goes once the grace period ends; then the name is unknown.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && (await client.list({ prefix: 'proc-kill' })).members.length > 0) await new Promise((r) => setTimeout(r, 20));
    await rejects(ctl.lifecycle('proc-kill'), 'NO_SUCH_MEMBER');
  });
});

describe('control sdk - components in this process', () => {
  test('a dropped connection: the SDK registers again, announces READY again, and takes commands', async () => {
    const c = await connect({ url: h.url, reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    try {
      const seen: unknown[] = [];
      const comp = await component(c, { name: 'sdk-rejoin', type: 'fixture', onConfigure: (config) => { seen.push(config); } });
      await comp.ready({ data: ['inproc://rejoin'] });
      assert.deepEqual(await ctl.configure('sdk-rejoin', { a: 1 }), { name: 'sdk-rejoin', ok: true, state: 'configured' });
      (h.hub.registry.find('sdk-rejoin')!.connection as WsConnection).close('test drop', 1011);
      const deadline = Date.now() + 5000;
      let lc = await ctl.lifecycle('sdk-rejoin');
      while (Date.now() < deadline && !(lc.state === 'ready' && lc.history.some((t) => t.note === 'registered again: a new run'))) {
        await new Promise((r) => setTimeout(r, 20));
        lc = await ctl.lifecycle('sdk-rejoin');
      }
      assert.equal(lc.state, 'ready');
      assert.deepEqual(lc.endpoints, { data: ['inproc://rejoin'] });
      assert.deepEqual(lc.history.slice(-2).map((t) => t.to), ['starting', 'ready']);
      assert.deepEqual(await ctl.configure('sdk-rejoin', { a: 2 }), { name: 'sdk-rejoin', ok: true, state: 'configured' });
      assert.deepEqual(seen, [{ a: 1 }, { a: 2 }]);
    } finally {
      await c.close();
    }
  });

  test('the hub lost the member while the SDK was away: registered anew, one READY, a working component', async () => {
    const c = await connect({ url: h.url, reconnect: { initialDelayMs: 600, maxDelayMs: 600 } });
    try {
      const comp = await component(c, { name: 'sdk-anew', type: 'fixture', onConfigure: () => {} });
      await comp.ready({ data: ['inproc://anew'] });
      const oldId = comp.id;
      (h.hub.registry.find('sdk-anew')!.connection as WsConnection).close('test drop', 1011);
      // graceMs is 200: the member is gone before the client comes back (300-600 ms).
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (comp.id === oldId || comp.state !== 'ready')) await new Promise((r) => setTimeout(r, 20));
      assert.notEqual(comp.id, oldId);
      const lc = await ctl.lifecycle('sdk-anew');
      assert.deepEqual([lc.state, lc.history.map((t) => t.to)], ['ready', ['starting', 'ready']]);
      assert.equal((await ctl.configure('sdk-anew', {})).ok, true);
    } finally {
      await c.close();
    }
  });

  test('a clean-up that throws finishes with outcome ERROR and the error as details', async () => {
    const c = await connect({ url: h.url, reconnect: false });
    try {
      const comp = await component(c, { name: 'sdk-badstop', type: 'fixture', onStop: () => { throw new Error('could not flush the queue'); } });
      await comp.ready();
      assert.equal(comp.state, 'ready');
      assert.deepEqual(await ctl.stop('sdk-badstop'), { name: 'sdk-badstop', outcome: 'ERROR', details: ['could not flush the queue'], state: 'finished' });
      assert.deepEqual(await comp.finished, { outcome: 'ERROR', details: ['could not flush the queue'] });
      assert.equal((await ctl.lifecycle('sdk-badstop')).lastError, 'could not flush the queue');
    } finally {
      await c.close();
    }
  });
});
