import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { MusterError } from '../src/errors.js';
import { SnapshotSaver } from '../src/store/snapshot-saver.js';
import { MemoryStore } from '../src/store/memory.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './support/hub.js';

const member = (i: number) => ({
  id: `id-${i}`, name: `m-${i}`, type: 'sensor', address: '', meta: {}, liveness: { kind: 'ttl' as const }, tokenHash: randomBytes(32).toString('hex'), registeredAt: 1, extra: {},
});

/** Enough members (incompressible token hashes) that an unread snapshot fills its buffers and waits. */
const MANY = Array.from({ length: 5000 }, (_, i) => member(i + 10));

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe('snapshot - the hub side', () => {
  test('a store without export answers SNAPSHOT_UNSUPPORTED', async () => {
    const saver = new SnapshotSaver({ store: new MemoryStore(), hubId: 'h' });
    await assert.rejects(saver.start(), (e: unknown) => e instanceof MusterError && e.code === 'SNAPSHOT_UNSUPPORTED');
  });

  test('at most 2 at once (THROTTLED), each its own consistent read; changes after the read began are not in it', async () => {
    const dir = tempDir();
    const store = new SqliteStore({ dataDir: join(dir, 'data') });
    try {
      await store.open();
      await store.apply({ puts: [member(1), member(2), ...MANY].map((m) => ({ member: m })), deletes: [], events: ['{"type":"added"}'] });
      const saver = new SnapshotSaver({ store, hubId: 'h' });
      const a = await saver.start();
      const b = await saver.start();
      await assert.rejects(saver.start(), (e: unknown) => e instanceof MusterError && e.code === 'THROTTLED');
      // Acknowledged after both reads began: in neither.
      await store.apply({ puts: [{ member: member(3) }], deletes: [], events: ['{"type":"added"}'] });
      for (const s of [a, b]) {
        const lines = gunzipSync(await bytesOf(s)).toString('utf8').trim().split('\n');
        assert.equal(lines.filter((l) => l.startsWith('{"m":')).length, 2 + MANY.length);
        assert.match(lines[0]!, /"revision":1,/);
      }
      assert.equal(saver.open, 0);
      const c = await saver.start();
      assert.match(gunzipSync(await bytesOf(c)).toString('utf8'), new RegExp(`"members":${3 + MANY.length},`));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a snapshot not read in time is cut off and frees its place', async () => {
    const dir = tempDir();
    const store = new SqliteStore({ dataDir: join(dir, 'data') });
    try {
      await store.open();
      await store.apply({ puts: MANY.map((m) => ({ member: m })), deletes: [], events: ['{"type":"added"}'] });
      const saver = new SnapshotSaver({ store, hubId: 'h', maxOpen: 1, maxMs: 50 });
      const stalled = await saver.start();
      await new Promise((r) => setTimeout(r, 120));
      await assert.rejects(bytesOf(stalled), /not read within 50 ms/);
      assert.equal(saver.open, 0);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
