/**
 * The SDK's batches as they cross the wire: a turn's registrations (and unregistrations, updates,
 * heartbeats) leave as JSON-RPC batches that fit any hub's message limit, each call answered on
 * its own, and frames keep the order of the calls that made them. A proxy between the SDK and a
 * real hub (support/tcp-proxy.ts) keeps the frames the SDK sends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type MusterClient } from '../src/client/index.js';
import { BATCH_BYTES } from '../src/client/rpc-connection.js';
import { startHub, type TestHub } from './support/hub.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** The text frames in a client's byte stream (RFC 6455: masked, each here in one fragment). */
function textFrames(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + 2 <= bytes.length;) {
    const opcode = bytes[at]! & 0x0f;
    const masked = (bytes[at + 1]! & 0x80) !== 0;
    let length = bytes[at + 1]! & 0x7f;
    let p = at + 2;
    if (length === 126) { length = bytes.readUInt16BE(p); p += 2; } else if (length === 127) { length = Number(bytes.readBigUInt64BE(p)); p += 8; }
    const key = masked ? bytes.subarray(p, p + 4) : null;
    if (masked) p += 4;
    const payload = Buffer.from(bytes.subarray(p, p + length));
    if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    if (opcode === 1) out.push(payload.toString('utf8'));
    at = p + length;
  }
  return out;
}

/** The requests a frame holds, with its kind: one request, or a batch of them. */
function requestsOf(frame: string): { batch: boolean; methods: string[] } {
  const value = JSON.parse(frame) as { method?: string } | { method?: string }[];
  const list = Array.isArray(value) ? value : [value];
  return { batch: Array.isArray(value), methods: list.map((m) => m.method ?? '(reply)') };
}

/** A ttl of its own: 'ttl' alone makes the SDK read the member back for the hub's default (a `get` each). */
const TTL = { kind: 'ttl', ttlMs: 60_000 } as const;

describe('SDK batches', () => {
  let h: TestHub;
  before(async () => {
    // The least limit a hub takes: a batch must fit it, as the SDK is not told the hub's.
    h = await startHub({ maxMessageBytes: 1024 });
  });
  after(async () => {
    await h.stop();
  });

  async function recorded(work: (client: MusterClient) => Promise<void>): Promise<string[]> {
    const relay = await TcpProxy.start(Number(new URL(h.url).port));
    const client = await connect({ url: relay.url, reconnect: false });
    try {
      await work(client);
    } finally {
      await client.close();
      await relay.close();
    }
    return textFrames(relay.sent());
  }

  test('SDK batches - a turn\'s registrations leave as batches within 1 KiB, and each is answered', async () => {
    let names: string[] = [];
    const frames = await recorded(async (client) => {
      const made = await Promise.all(Array.from({ length: 40 }, (_, i) => client.register({ type: 'batch', name: `batched-${i}`, meta: { note: 'n'.repeat(40) }, liveness: TTL })));
      names = made.map((m) => m.name);
      // The next turn's heartbeats, batched too.
      await Promise.all(made.map((m) => client.heartbeat(m.id)));
    });
    assert.deepEqual(names, Array.from({ length: 40 }, (_, i) => `batched-${i}`));
    const registers = frames.map(requestsOf).filter((f) => f.methods.includes('register'));
    assert.equal(registers.flatMap((f) => f.methods).length, 40);
    assert.ok(registers.every((f) => f.methods.every((m) => m === 'register')), 'a batch holds that turn\'s registrations');
    // Each of about 210 bytes: four to a batch.
    assert.ok(registers.length <= 12, `40 registrations in ${registers.length} frames`);
    assert.ok(registers.filter((f) => f.batch).length >= 8);
    const heartbeats = frames.map(requestsOf).filter((f) => f.methods.includes('heartbeat'));
    assert.ok(heartbeats.length <= 10 && heartbeats.some((f) => f.batch), `40 heartbeats in ${heartbeats.length} frames`);
    for (const f of frames) assert.ok(Buffer.byteLength(f) <= BATCH_BYTES || !requestsOf(f).batch, `a batch of ${Buffer.byteLength(f)} bytes`);
  });

  test('SDK batches - a call in a batch fails alone, and a frame sent after a batch in the same turn arrives after it', async () => {
    const frames = await recorded(async (client) => {
      const [a, b, other, got] = await Promise.allSettled([
        client.register({ type: 'batch', name: 'solo', exclusive: true, liveness: TTL }),
        client.register({ type: 'batch', name: 'solo', exclusive: true, liveness: TTL }),
        client.register({ type: 'batch', name: 'other', liveness: TTL }),
        // Not batched: sent before the batch, it would find no member `other`.
        client.get('other'),
      ]);
      assert.equal(a.status, 'fulfilled');
      assert.equal(b.status, 'rejected');
      assert.equal((b as PromiseRejectedResult).reason.code, 'NAME_TAKEN');
      assert.equal(other.status, 'fulfilled');
      assert.equal(got.status, 'fulfilled', `get: ${String((got as PromiseRejectedResult).reason)}`);
      assert.equal((got as PromiseFulfilledResult<{ name: string }>).value.name, 'other');
    });
    const kinds = frames.map(requestsOf).filter((f) => f.methods.some((m) => m === 'register' || m === 'get'));
    assert.deepEqual(kinds.map((f) => f.methods), [['register', 'register', 'register'], ['get']]);
  });

  test('SDK batches - a ttl member of the hub\'s default ttl: the answer tells the ttl, and the SDK asks nothing more', async () => {
    const frames = await recorded(async (client) => {
      const made = await client.register({ type: 'batch', name: 'default-ttl', liveness: 'ttl' });
      assert.equal(made.ttlMs, 20_000, 'the hub\'s default ttl');
    });
    const methods = frames.flatMap((f) => requestsOf(f).methods).filter((m) => m !== 'bus.format');
    assert.deepEqual(methods, ['register'], 'no get to learn the ttl');
  });

  test('SDK batches - a request outside ASCII goes alone, a request that would take a batch past 1 KiB starts the next, and each is answered', async () => {
    const frames = await recorded(async (client) => {
      const made = await Promise.all([
        client.register({ type: 'batch', name: 'before-1', liveness: TTL }),
        client.register({ type: 'batch', name: 'capteur', meta: { serre: 'été' }, liveness: TTL }),
        client.register({ type: 'batch', name: 'large', meta: { a: 'l'.repeat(250), b: 'l'.repeat(250), c: 'l'.repeat(200) }, liveness: TTL }),
        client.register({ type: 'batch', name: 'after-1', liveness: TTL }),
        client.register({ type: 'batch', name: 'after-2', liveness: TTL }),
      ]);
      assert.deepEqual(made.map((m) => m.name), ['before-1', 'capteur', 'large', 'after-1', 'after-2']);
    });
    const registers = frames.filter((f) => f.includes('"register"')).map((f) => ({ batch: requestsOf(f).batch, names: (Array.isArray(JSON.parse(f)) ? JSON.parse(f) as { params: { name: string } }[] : [JSON.parse(f) as { params: { name: string } }]).map((r) => r.params.name) }));
    assert.deepEqual(registers, [
      { batch: false, names: ['before-1'] },
      { batch: false, names: ['capteur'] },
      { batch: false, names: ['large'] },
      { batch: true, names: ['after-1', 'after-2'] },
    ]);
  });
});
