/**
 * A watch resumes only from where the log can serve it: a `since` older than the log keeps, ahead
 * of it, or from another history (epoch) answers COMPACTED with the current revision, never
 * silently stale or missing data. The epoch survives a restart of the same data folder.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, MusterClientError } from '../src/client/index.js';
import { startHub, tempDir, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

let h: TestHub;
let peer: RpcPeer;
before(async () => {
  h = await startHub({ eventRetention: 5 });
  peer = await RpcPeer.connect(h.wsUrl);
});
after(async () => {
  await peer.close();
  await h.stop();
});

const codeOf = async (params: unknown) => (await peer.call('watch', params)).error?.data;

describe('watch - resuming', () => {
  test('the watch result names the epoch; resuming with it works, from another epoch answers COMPACTED', async () => {
    const first = await peer.ok('watch', {});
    assert.equal(typeof first.epoch, 'string');
    await h.hub.registry.register({ type: 't', name: 'r1' });
    const again = await peer.ok('watch', { since: first.revision, epoch: first.epoch });
    assert.equal(again.epoch, first.epoch);
    const other = await codeOf({ since: first.revision, epoch: 'not-this-one' });
    assert.equal(other?.code, 'COMPACTED');
    assert.equal((other?.details as { revision: number }).revision, again.revision);
  });

  test('a replay gives back every kept event exactly as it went out live, whatever its characters and size', async () => {
    // The log keeps events as UTF-8 bytes in chunks of 256 KB: events of 10,000 characters, most
    // taking 3 or 4 bytes, fill a chunk in a few, so the ring (5 here) wraps and moves to new chunks.
    const live = await RpcPeer.connect(h.wsUrl);
    const { revision: start } = await live.ok('watch', {});
    const labels = ['Gewächshaus', '温室の棚', 'plant 🌱 imager', 'a "quoted" \\ back\\slash'];
    const meta = (i: number) => Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`k${k}`, `${labels[(i + k) % labels.length]} `.repeat(40).slice(0, 256)]));
    for (let i = 0; i < 12; i++) await peer.ok('register', { type: 't', name: `big-${i}`, meta: meta(i) });
    const sent = await live.waitFor((n) => n.params.event?.member?.name === 'big-11');
    const liveEvents = live.notifications.filter((n) => n.method === 'event' && n.params.event.revision > start).map((n) => n.params.event);
    assert.equal(liveEvents.length, 12);
    const last = sent.params.event.revision;
    const replayer = await RpcPeer.connect(h.wsUrl);
    await replayer.ok('watch', { since: last - 5 });
    await replayer.waitFor((n) => n.params.event?.revision === last);
    const replayed = replayer.notifications.filter((n) => n.method === 'event').map((n) => n.params.event);
    assert.deepEqual(replayed, liveEvents.slice(-5), 'the last five, byte for byte as sent live');
    assert.equal(replayed[4].member.meta.k0, meta(11).k0);
    // A filter by type alone is told from the JSON's head: the same events, and only its types.
    const gone = await peer.ok('register', { type: 't', name: 'big-12' });
    await peer.ok('unregister', { id: gone.id, token: gone.token });
    await peer.ok('register', { type: 't', name: 'big-13' });
    const typed = await RpcPeer.connect(h.wsUrl);
    await typed.ok('watch', { since: last, filter: { types: ['added'] } });
    await typed.waitFor((n) => n.params.event?.member?.name === 'big-13');
    const typedEvents = typed.notifications.filter((n) => n.method === 'event').map((n) => n.params.event);
    assert.deepEqual(typedEvents.map((e) => `${e.type}:${e.member.name}`), ['added:big-12', 'added:big-13'], 'the removal of big-12 is left out');
    await typed.close();
    await live.close();
    await replayer.close();
  });

  test('a since ahead of the log answers COMPACTED (it is not clamped)', async () => {
    const { revision } = await peer.ok('watch', {});
    const r = await peer.call('watch', { since: revision + 10 });
    assert.equal(r.error?.data?.code, 'COMPACTED');
    assert.match(r.error!.message, /ahead of the log/);
  });

  test('a since older than retention answers COMPACTED with where to re-list', async () => {
    for (let i = 0; i < 8; i++) await h.hub.registry.register({ type: 't', name: `old-${i}` });
    const r = await codeOf({ since: 0 });
    assert.equal(r?.code, 'COMPACTED');
  });

  test('the epoch is the data folder\'s: the same after a restart, another for another folder', async () => {
    const dir = tempDir();
    const one = await startHub({ dataDir: dir });
    const e1 = one.hub.registry.log.epoch;
    await one.stop({ keepData: true });
    const two = await startHub({ dataDir: dir });
    assert.equal(two.hub.registry.log.epoch, e1);
    await two.stop();
    const three = await startHub();
    assert.notEqual(three.hub.registry.log.epoch, e1);
    await three.stop();
  });

  test('SDK: a revision saved with its epoch resumes in a later run on the same history, and fails COMPACTED on a wiped one', async () => {
    const dir = tempDir();
    const one = await startHub({ dataDir: dir });
    const c1 = await connect({ url: one.url });
    for (const n of ['a', 'b', 'c']) await c1.register({ type: 'job', name: n, liveness: { kind: 'ttl', ttlMs: 60_000 } });
    const w = c1.watch({}, { since: 0 });
    let seen = 0;
    for await (const _e of w) if (++seen === 3) break;
    const saved = { revision: w.revision!, epoch: w.epoch! };
    assert.equal(typeof saved.epoch, 'string');
    await c1.register({ type: 'job', name: 'd', liveness: { kind: 'ttl', ttlMs: 60_000 } });
    await c1.close();
    await one.stop({ keepData: true });

    const again = await startHub({ dataDir: dir });
    const c2 = await connect({ url: again.url });
    const resumed = c2.watch({}, { since: saved.revision, epoch: saved.epoch });
    for await (const e of resumed) { assert.equal(e.member.name, 'd', 'the next event of the same history'); break; }
    await c2.close();
    await again.stop();

    const wiped = await startHub(); // another history, already past the saved revision
    const c3 = await connect({ url: wiped.url });
    for (const n of ['p', 'q', 'r', 's', 't']) await c3.register({ type: 'job', name: n, liveness: { kind: 'ttl', ttlMs: 60_000 } });
    const stale = c3.watch({}, { since: saved.revision, epoch: saved.epoch });
    await assert.rejects(async () => { for await (const _e of stale) break; }, (err: unknown) => err instanceof MusterClientError && err.code === 'COMPACTED');
    await c3.close();
    await wiped.stop();
  });
});
