/**
 * Bad input on the ICCP face, each from a raw ZeroMQ PAIR peer on its own endpoint: every one
 * fails only that session, with its reason recorded on the endpoint and in the waiting member's
 * lifecycle; the endpoint is bound again for a new session, and a healthy component on another
 * endpoint keeps working throughout.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fromJson, toBinary } from '@bufbuild/protobuf';
import { StructSchema } from '@bufbuild/protobuf/wkt';
import { connect, controller, type Controller, type MusterClient } from '../src/client/index.js';
import { encodeReady, encodeRequest, encodeStop } from '../src/faces/iccp/codec.js';
import { toConfigProto } from '../src/faces/iccp/config-map.js';
import { ADMIN_TOKEN, startHub, tempDir, type TestHub } from './support/hub.js';
import { eventually, PyComponent, RawPeer } from './iccp/peers.js';

const MAX_FRAME = 4096;
const ipcDir = tempDir('muster-iccp-ipc-');
let h: TestHub;
let admin: MusterClient;
let ctl: Controller;
let healthy: PyComponent;
const raws: RawPeer[] = [];

before(async () => {
  h = await startHub({
    iccp: 'tcp://127.0.0.1:*', iccpMaxFrameBytes: MAX_FRAME, graceMs: 30_000,
    iccpEndpoints: { 'declared-1': `ipc://${join(ipcDir, 'declared-1')}`, 'declared-2': `ipc://${join(ipcDir, 'declared-2')}` },
  });
  admin = await connect({ url: h.url, token: ADMIN_TOKEN, reconnect: false });
  ctl = controller(admin);
  healthy = new PyComponent((await h.hub.iccp!.endpoint('healthy')).endpoint);
  await eventually(() => h.hub.registry.find('healthy')?.lifecycle?.state === 'ready', 'healthy ready');
});
after(async () => {
  await healthy.kill('SIGKILL');
  for (const r of raws) r.close();
  await admin.close();
  await h.stop();
  rmSync(ipcDir, { recursive: true, force: true });
});

const T = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const UID = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
const READY = () => encodeReady({ uid: UID(), pid: 42, host: 'raw' }, {});
const PEER = () => READY()[1]!;
const struct = (json: Record<string, unknown>) => Buffer.from(toBinary(StructSchema, fromJson(StructSchema, json as never)));
/** Struct{a: Value{struct_value: Struct{a: ...}}}, `depth` levels, written by hand (the encoder itself stops at 100). */
const nested = (depth: number): Buffer => {
  const len = (n: number) => { const out: number[] = []; while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; } out.push(n); return Buffer.from(out); };
  const field = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
  let s = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) s = field(0x0a, Buffer.concat([Buffer.from([0x0a, 0x01, 0x61]), field(0x12, field(0x2a, s))]));
  return s;
};

interface Case {
  readonly name: string;
  /** READY first, then the bad message (the member is ready when it arrives). */
  readonly afterReady?: boolean;
  readonly frames: () => Buffer[];
  readonly reason: RegExp;
}

const CASES: Case[] = [
  { name: 'a single empty frame', frames: () => [Buffer.alloc(0)], reason: /frame 0 must be a 2-byte message type, got 0 bytes/ },
  { name: 'a 1-byte type', frames: () => [Buffer.from([1])], reason: /2-byte message type, got 1 bytes/ },
  { name: 'a 3-byte type', frames: () => [Buffer.from([0, 0, 1])], reason: /2-byte message type, got 3 bytes/ },
  { name: 'unknown type 0', frames: () => [T(0)], reason: /unknown message type 0/ },
  { name: 'unknown type 7', frames: () => [T(7)], reason: /unknown message type 7/ },
  { name: 'unknown type 65535', afterReady: true, frames: () => [T(0xffff)], reason: /unknown message type 65535/ },
  { name: 'READY with 2 frames', frames: () => [T(1), PEER()], reason: /READY takes 3 frames, got 2/ },
  { name: 'READY with 4 frames', frames: () => [...READY(), Buffer.from('x')], reason: /READY takes 3 frames, got 4/ },
  { name: 'READY with garbage protobuf', frames: () => [T(1), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(0)], reason: /READY: garbage protobuf/ },
  { name: 'READY with a truncated PeerIdentification', frames: () => [T(1), PEER().subarray(0, 10), Buffer.alloc(0)], reason: /READY: garbage protobuf/ },
  { name: 'READY with a 15-byte uid', frames: () => [T(1), Buffer.concat([Buffer.from([0x0a, 15]), Buffer.alloc(15, 1)]), Buffer.alloc(0)], reason: /uid must be 16 bytes/ },
  { name: 'READY with a garbage endpoints Struct', frames: () => [T(1), PEER(), Buffer.from([0x0a, 0x7f, 0x01])], reason: /READY: garbage protobuf/ },
  { name: 'READY whose endpoints are not lists', frames: () => [T(1), PEER(), struct({ data: 'tcp://x:1' })], reason: /must map to a list of addresses/ },
  { name: 'READY with 40 endpoint channels', frames: () => [T(1), PEER(), struct(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${i}`, []])))], reason: /more than 32 endpoint channels/ },
  { name: 'READY with Struct nesting past the recursion limit', frames: () => [T(1), PEER(), nested(120)], reason: /READY: garbage protobuf \(maximum recursion depth/ },
  { name: 'OK with a frame too many', afterReady: true, frames: () => [T(3), Buffer.from('x')], reason: /OK takes 1 frame, got 2/ },
  { name: 'ERROR without its text', afterReady: true, frames: () => [T(4)], reason: /ERROR takes 2 frames, got 1/ },
  { name: 'ERROR text that is not UTF-8', afterReady: true, frames: () => [T(4), Buffer.from([0xc3, 0x28, 0xff])], reason: /the error text is not UTF-8/ },
  { name: 'FINISHED without an outcome', afterReady: true, frames: () => [T(6)], reason: /FINISHED takes 2 to 66 frames, got 1/ },
  { name: 'FINISHED with outcome MAYBE', afterReady: true, frames: () => [T(6), Buffer.from('MAYBE')], reason: /FINISHED outcome must be OK, ERROR or UNKNOWN/ },
  { name: 'FINISHED with 70 details', afterReady: true, frames: () => [T(6), Buffer.from('OK'), ...Array.from({ length: 70 }, () => Buffer.from('d'))], reason: /FINISHED takes 2 to 66 frames, got 72/ },
  { name: 'an oversized ERROR frame', afterReady: true, frames: () => [T(4), Buffer.alloc(MAX_FRAME + 1, 0x41)], reason: new RegExp(`frame 1 of ERROR is ${MAX_FRAME + 1} bytes; the limit is ${MAX_FRAME}`) },
  { name: 'a CONF REQUEST sent the wrong way before READY', frames: () => encodeRequest(toConfigProto({ a: 1 })), reason: /(CONFIGURE|REQUEST\/CONF) goes from the hub to a component, never back/ },
  { name: 'a CONF REQUEST with a garbage config, the wrong way', afterReady: true, frames: () => [T(2), Buffer.from('CONF'), Buffer.from([0xff, 0xff])], reason: /REQUEST: garbage protobuf/ },
  { name: 'STOP sent the wrong way before READY', frames: () => encodeStop(), reason: /STOP goes from the hub to a component, never back/ },
  { name: 'OK before READY', frames: () => [T(3)], reason: /OK before READY/ },
  { name: 'FINISHED before READY', frames: () => [T(6), Buffer.from('OK')], reason: /FINISHED before READY/ },
];

async function rawOn(name: string): Promise<RawPeer> {
  const p = new RawPeer((await h.hub.iccp!.endpoint(name)).endpoint);
  raws.push(p);
  return p;
}

const endpointError = (name: string) => h.hub.iccp!.endpoints().find((e) => e.name === name)?.lastError ?? undefined;

describe('iccp bad input - each fails only its own session, with a reason', () => {
  test(`${CASES.length} kinds of bad input`, async () => {
    assert.ok(CASES.length >= 20);
    for (const [i, c] of CASES.entries()) {
      const name = `bad-${i}`;
      const p = await rawOn(name);
      if (c.afterReady) {
        await p.send(READY());
        await eventually(() => h.hub.registry.find(name)?.lifecycle?.state === 'ready', `${c.name}: ready first`);
      }
      await p.send(c.frames());
      const reason = await eventually(() => endpointError(name), `${c.name}: a recorded reason`);
      assert.match(reason, c.reason, c.name);
      const m = h.hub.registry.find(name)!;
      await eventually(() => m.lifecycle?.state === 'failed', `${c.name}: the member failed (is ${m.lifecycle?.state})`);
      assert.match(m.lifecycle!.lastError!, /^protocol error: /, c.name);
      p.close();
    }
    // The hub kept serving: the healthy component answers, the others are untouched.
    assert.deepEqual(await ctl.configure('healthy', { n: 1 }), { name: 'healthy', ok: true, state: 'configured' });
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /muster_iccp_session_failures_total\{reason="bad-message"\} (\d+)/);
    const failures = Number(/muster_iccp_session_failures_total\{reason="bad-message"\} (\d+)/.exec(metrics)![1]);
    assert.ok(failures >= 18, String(failures));
  });

  test('the endpoint is bound again: after a bad session, a new session on it starts a new run', async () => {
    const p = await rawOn('rearm-1');
    await p.send([T(9)]);
    await eventually(() => endpointError('rearm-1'), 'first session failed');
    p.close();
    const q = await rawOn('rearm-1');
    await q.send(READY());
    await eventually(() => h.hub.registry.find('rearm-1')?.lifecycle?.state === 'ready', 'a new run after the failed one');
    assert.deepEqual(h.hub.registry.find('rearm-1')!.history.slice(-2).map((t) => t.to), ['starting', 'ready']);
  });

  test('a flood of READY: the first registers, the second fails the session, the rest are dropped with it', async () => {
    const p = await rawOn('flood-1');
    const ready = READY();
    for (let i = 0; i < 200; i++) await p.send(ready).catch(() => {});
    const m = await eventually(() => h.hub.registry.find('flood-1'), 'flood-1');
    await eventually(() => m.lifecycle?.state === 'failed', 'flood failed');
    assert.equal(m.lifecycle!.lastError, 'protocol error: a second READY');
    assert.ok(m.history.length < 10, `history stays short: ${m.history.length}`);
    assert.deepEqual(await ctl.configure('healthy', { n: 2 }), { name: 'healthy', ok: true, state: 'configured' });
  });

  test('declared endpoints (ipc): bad input before any member exists is recorded on the endpoint; a good READY registers next', async () => {
    const p = new RawPeer(`ipc://${join(ipcDir, 'declared-1')}`);
    raws.push(p);
    await p.send([T(3)]);
    assert.match(await eventually(() => endpointError('declared-1'), 'declared-1 reason'), /OK before READY/);
    assert.equal(h.hub.registry.find('declared-1'), undefined);
    p.close();
    const q = new RawPeer(`ipc://${join(ipcDir, 'declared-1')}`);
    raws.push(q);
    await q.send(READY());
    await eventually(() => h.hub.registry.find('declared-1')?.lifecycle?.state === 'ready', 'declared-1 ready');
    // A declared name is reserved: nobody else may register it.
    await assert.rejects(h.hub.registry.register({ name: 'declared-2', type: 'worker', exclusive: true }), (e: Error & { code?: string }) => e.code === 'NAME_TAKEN');
  });
});
