/**
 * The SQLite store's file layout (src/store/sqlite-writes.ts): a file written before members had
 * slots opens with everything in it, and the revision a file goes on from survives the trims that
 * note it only once per TRIM_EVERY revisions. Commits made one at a time (at `normal`), and commits
 * that never pause (at `full`), still get the WAL checkpointed (by the checkpoint thread), so it
 * does not grow without end.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteStore } from '../src/store/sqlite.js';
import { TRIM_EVERY } from '../src/store/sqlite-writes.js';
import type { Change, StoredMember } from '../src/store/store.js';
import { tempDir } from './support/hub.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const freshDir = () => { const d = tempDir('muster-layout-'); dirs.push(d); return d; };

const member = (id: string, name: string): StoredMember => ({
  id, name, type: 'sensor', address: `10.0.0.${id.length}`, meta: { room: name }, liveness: { kind: 'ttl', ttlMs: 60_000 },
  tokenHash: `hash-${id}`, registeredAt: 1_700_000_000_000, extra: {},
});
const added = (m: StoredMember): Change => ({ puts: [{ member: m }], deletes: [], events: [`{"type":"added","name":"${m.name}"}`], conditions: { namesFree: [m.name] } });

describe('sqlite layout', () => {
  test('a file written before slots (members keyed by id, unique names) opens with its members, events and revision', async () => {
    const dir = freshDir();
    const old = new Database(join(dir, 'muster.db'));
    old.pragma('journal_mode = WAL');
    old.exec(`
      CREATE TABLE members (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, address TEXT NOT NULL,
        meta TEXT NOT NULL, liveness TEXT NOT NULL, token_hash TEXT NOT NULL, registered_at INTEGER NOT NULL, extra TEXT NOT NULL DEFAULT '{}');
      CREATE TABLE events (revision INTEGER PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO members VALUES ('id-b', 'beta', 'sensor', 'tcp://b', '{"room":"2"}', '{"kind":"session"}', 'hb', 2, '{"roles":["x"]}');
      INSERT INTO members VALUES ('id-a', 'alpha', 'sensor', 'tcp://a', '{}', '{"kind":"ttl","ttlMs":5000}', 'ha', 1, '{}');
      INSERT INTO events VALUES (6, '{"revision":6,"type":"added"}'), (7, '{"revision":7,"type":"added"}');
      INSERT INTO settings VALUES ('revision', '7'), ('epoch', 'old-epoch');
    `);
    old.close();

    const store = new SqliteStore({ dataDir: dir });
    const snap = await store.open();
    assert.deepEqual(snap.position, { revision: 7, epoch: 'old-epoch' });
    assert.deepEqual(snap.events.map((e) => e.revision), [6, 7]);
    const byName = new Map(snap.members.map((m) => [m.name, m]));
    assert.deepEqual(byName.get('beta'), {
      id: 'id-b', name: 'beta', type: 'sensor', address: 'tcp://b', meta: { room: '2' }, liveness: { kind: 'session' },
      tokenHash: 'hb', registeredAt: 2, extra: { roles: ['x'] },
    });
    assert.equal(byName.get('alpha')?.id, 'id-a');
    // The moved rows are written and deleted like new ones: beta goes, gamma comes, alpha is updated.
    const gamma = member('id-c', 'gamma');
    await store.apply({ puts: [{ member: gamma }], deletes: ['id-b'], events: ['{"type":"x"}'] });
    await store.apply({ puts: [{ member: { ...byName.get('alpha')!, address: 'moved' } }], deletes: [], events: ['{"type":"y"}'] });
    await store.close();

    const again = new SqliteStore({ dataDir: dir });
    const reopened = await again.open();
    await again.close();
    assert.deepEqual(reopened.members.map((m) => `${m.name} ${m.address}`).sort(), ['alpha moved', `gamma ${gamma.address}`]);
    assert.equal(reopened.position.revision, 9);
    assert.equal(reopened.position.epoch, 'old-epoch');
  });

  test('the revision goes on after a restart between trims, and the file keeps at most retention + TRIM_EVERY events', async () => {
    const dir = freshDir();
    const retention = 5;
    const count = 1400;
    assert.ok(count > TRIM_EVERY + retention, "a trim happens, then more events");
    let store = new SqliteStore({ dataDir: dir, eventRetention: retention, synchronous: 'normal' });
    await store.open();
    for (let i = 0; i < count; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => store.apply(added(member(`id-${i + k}`, `m-${i + k}`)))));
    }
    // Some removed, so that a delete by slot is in the file too.
    await store.apply({ puts: [], deletes: ['id-0', 'id-1'], events: ['{"type":"removed"}'] });
    await store.close();

    const db = new Database(join(dir, 'muster.db'), { readonly: true });
    const kept = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    db.close();
    assert.ok(kept >= retention && kept <= retention + TRIM_EVERY, `${kept} events in the file`);

    store = new SqliteStore({ dataDir: dir, eventRetention: retention, synchronous: 'normal' });
    const snap = await store.open();
    assert.equal(snap.position.revision, count + 1, 'the last revision, not the one noted at the last trim');
    assert.deepEqual(snap.events.map((e) => e.revision), [count - 3, count - 2, count - 1, count, count + 1]);
    assert.equal(snap.members.length, count - 2);
    const next = await store.apply(added(member('id-next', 'next')));
    assert.equal(next.events[0]!.revision, count + 2);
    const exp = await store.export!();
    assert.equal(exp.position.revision, count + 2);
    assert.equal(exp.memberCount, count - 1);
    let paged = 0;
    for await (const page of exp.members(100)) paged += page.length;
    assert.equal(paged, count - 1, 'a snapshot pages through every member by slot');
    exp.close();
    await store.close();
  });

  test('at normal, one change at a time commits on the hub\'s thread and the WAL is still checkpointed', async () => {
    const dir = freshDir();
    const count = 3000;
    const store = new SqliteStore({ dataDir: dir, eventRetention: 10, synchronous: 'normal' });
    await store.open();
    let largest = 0;
    for (let i = 0; i < count; i++) {
      await store.apply(added(member(`id-${i}`, `m-${i}`)));
      if (i % 100 === 99) largest = Math.max(largest, statSync(join(dir, 'muster.db-wal')).size);
    }
    // Unchecked, 3,000 commits of ~3 pages each would make a WAL of ~37 MB.
    assert.ok(largest < 8 * 1024 * 1024, `the WAL grew to ${largest} bytes`);
    const wal = new Database(join(dir, 'muster.db'), { readonly: true });
    assert.equal(wal.prepare('SELECT count(*) FROM members').pluck().get(), count, 'every commit is in the file while the hub runs');
    wal.close();
    await store.close();
    const again = new SqliteStore({ dataDir: dir, eventRetention: 10, synchronous: 'normal' });
    assert.equal((await again.open()).members.length, count);
    await again.close();
  });

  test('at full, changes that never pause are checkpointed all the same: the WAL stays bounded and every change is kept', async () => {
    // Commits go on while a checkpoint copies the WAL; only its last step holds them, or a WAL
    // written all the time would never start again from its beginning.
    const dir = freshDir();
    const store = new SqliteStore({ dataDir: dir, eventRetention: 10 });
    await store.open();
    const wal = join(dir, 'muster.db-wal');
    let next = 0;
    let largest = 0;
    // Two in flight all along, each answered before its worker's next: a commit of one or two changes at a time.
    const worker = async () => {
      while (store.figures().checkpoints < 4 && next < 20_000) {
        const k = next++;
        await store.apply(added(member(`id-${k}`, `m-${k}`)));
        if (k % 50 === 0) largest = Math.max(largest, statSync(wal).size);
      }
    };
    await Promise.all([worker(), worker()]);
    const figures = store.figures();
    assert.ok(figures.checkpoints >= 4, `${figures.checkpoints} checkpoints in ${figures.commits} commits of ${next} changes`);
    assert.ok(largest < 6 * 1024 * 1024, `the WAL grew to ${largest} bytes`);
    await store.close();
    const again = new SqliteStore({ dataDir: dir, eventRetention: 10 });
    assert.equal((await again.open()).members.length, next);
    await again.close();
  });
});
