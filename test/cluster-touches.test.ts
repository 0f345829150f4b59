/**
 * Cluster mode - heartbeats' deadlines on their way to Redis (src/cluster/touches.ts), against a
 * real redis-server that refuses writes for a while (maxmemory, noeviction): what it refused is
 * kept and written once it takes writes again, a newer heartbeat of a member winning over a kept
 * one and a member whose change wrote it whole (forgotten) not written back; what a long outage
 * kept goes in ZADDs of at most 10,000 deadlines, so no one write holds Redis up for long.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { PendingTouches } from '../src/cluster/touches.js';
import { eventually } from './support/eventually.js';
import { startRedis, type TestRedis } from './support/redis.js';

const MEMBERS = 25_000;
const KEY = '{t}:deadlines';
let redis: TestRedis;
let client: ReturnType<typeof createClient>;

before(async () => {
  redis = await startRedis([]);
  client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
});
after(async () => {
  await client.quit().catch(() => {});
  await redis.stop();
});

test('deadlines Redis refused are kept and written once it takes writes again, in ZADDs of at most 10,000', { timeout: 60_000 }, async () => {
  const ids = Array.from({ length: MEMBERS }, (_, i) => `m-${i}`);
  for (let i = 0; i < MEMBERS; i += 5_000) await client.sendCommand(['ZADD', KEY, ...ids.slice(i, i + 5_000).flatMap((id) => ['1', id])]);
  const writes: { pairs: number; ok: boolean }[] = [];
  const touches = new PendingTouches(KEY, async (args) => {
    const pairs = (args.length - 3) / 2;
    try {
      const r = await client.sendCommand(args);
      writes.push({ pairs, ok: true });
      return r;
    } catch (err) {
      writes.push({ pairs, ok: false });
      throw err;
    }
  });
  try {
    const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    await client.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: String(used - 100_000) });
    for (const [i, id] of ids.entries()) touches.touch(id, 1_000 + i);
    await eventually(() => writes.some((w) => !w.ok) && touches.pending === MEMBERS, 'the refused write kept');
    // While refused: a newer heartbeat wins over the kept one; a member written whole is forgotten.
    touches.touch('m-0', 999_999);
    touches.forget('m-1');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(writes.filter((w) => !w.ok).length >= 2, 'tried again while refused');
    assert.equal(writes.filter((w) => w.ok).length, 0);

    await client.configSet({ maxmemory: '0' });
    await eventually(() => touches.pending === 0 && writes.at(-1)!.ok, 'everything kept written');
    const scores = (await client.sendCommand<unknown[]>(['ZRANGE', KEY, '0', '-1', 'WITHSCORES'])).flat().map(String);
    const score = new Map<string, number>();
    for (let i = 0; i < scores.length; i += 2) score.set(scores[i]!, Number(scores[i + 1]));
    assert.equal(score.get('m-0'), 999_999, 'the newer heartbeat');
    assert.equal(score.get('m-1'), 1, 'the forgotten member is not written back');
    for (let i = 2; i < MEMBERS; i++) if (score.get(ids[i]!) !== 1_000 + i) assert.fail(`${ids[i]} is at ${score.get(ids[i]!)}, not ${1_000 + i}`);
    const written = writes.filter((w) => w.ok);
    assert.ok(written.length >= 3 && written.every((w) => w.pairs <= 10_000), `ZADDs of at most 10,000: ${written.map((w) => w.pairs).join(', ')}`);
    assert.equal(written.reduce((n, w) => n + w.pairs, 0), MEMBERS - 1);
  } finally {
    touches.close();
    await client.configSet({ maxmemory: '0' }).catch(() => {});
  }
});
