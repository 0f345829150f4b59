/**
 * What the SQLite store writes, on whichever connection writes it: the schema, and one batch of
 * changes as rows in one transaction. The writer thread commits the hub's batches through it; an
 * offline restore writes its pages through the same statements.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent, StoredMember } from './store.js';

/** A members row in column order (MEMBER_COLUMNS): meta, liveness and extra as JSON. */
export type MemberRow = [id: string, name: string, type: string, address: string, meta: string, liveness: string, tokenHash: string, registeredAt: number, extra: string];

/** One change as rows: its deletes first (a name freed and taken again must not trip UNIQUE(name)), then its rows. */
export interface RowChange {
  deletes: string[];
  rows: MemberRow[];
}

/** Changes in commit order with their events; what crosses to the writer thread (structured clone). */
export interface RowBatch {
  changes: RowChange[];
  events: StoredEvent[];
}

export function createSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS members (
      id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, address TEXT NOT NULL,
      meta TEXT NOT NULL, liveness TEXT NOT NULL, token_hash TEXT NOT NULL,
      registered_at INTEGER NOT NULL, extra TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE IF NOT EXISTS events (revision INTEGER PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
}

export function rowOf(m: StoredMember): MemberRow {
  return [m.id, m.name, m.type, m.address, json(m.meta), json(m.liveness), m.tokenHash, m.registeredAt, json(m.extra)];
}

/** JSON of a member field; most meta and extra objects are empty. */
function json(o: object): string {
  for (const _ in o) return JSON.stringify(o);
  return '{}';
}

export interface Writes {
  /** Writes `batch` in one transaction and keeps the last `retention` events. */
  batch(batch: RowBatch): void;
  /** Rows and events as they are (a restore), in one transaction. */
  rows(rows: readonly MemberRow[], events: readonly StoredEvent[]): void;
  setting(key: string, value: string): void;
}

export function preparedWrites(db: Database.Database, retention: number): Writes {
  const putMember = db.prepare(`INSERT INTO members (id, name, type, address, meta, liveness, token_hash, registered_at, extra)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(id) DO UPDATE SET name = excluded.name, type = excluded.type, address = excluded.address,
      meta = excluded.meta, liveness = excluded.liveness, token_hash = excluded.token_hash, extra = excluded.extra`);
  const deleteMember = db.prepare('DELETE FROM members WHERE id = ?');
  const putEvent = db.prepare('INSERT OR REPLACE INTO events (revision, json) VALUES (?, ?)');
  const trimEvents = db.prepare('DELETE FROM events WHERE revision <= ?');
  const putSetting = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  // Positional parameters: binding by name costs a property walk per row.
  const batch = db.transaction((b: RowBatch) => {
    for (const c of b.changes) {
      for (const id of c.deletes) deleteMember.run(id);
      for (const r of c.rows) putMember.run(...r);
    }
    let revision = -1;
    for (const e of b.events) {
      putEvent.run(e.revision, e.json);
      if (e.revision > revision) revision = e.revision;
    }
    if (revision >= 0) {
      putSetting.run('revision', String(revision));
      trimEvents.run(revision - retention);
    }
  });
  const rows = db.transaction((members: readonly MemberRow[], events: readonly StoredEvent[]) => {
    for (const r of members) putMember.run(...r);
    for (const e of events) putEvent.run(e.revision, e.json);
  });
  return {
    batch: (b) => batch(b),
    rows: (members, events) => rows(members, events),
    setting: (key, value) => void putSetting.run(key, value),
  };
}
