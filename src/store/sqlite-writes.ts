/**
 * What the SQLite store writes, on whichever connection writes it: the schema, and one batch of
 * changes as rows in one transaction. The store commits the hub's changes through it; an offline
 * restore writes its pages through the same statements.
 *
 * A commit is synced page by page (the WAL holds whole pages), so the layout keeps the pages one
 * commit dirties few: members are keyed by a slot the store hands out in increasing order (a new
 * member goes on the last page, where a random uuid key would dirty one page of its own per member),
 * with no other index (the store's own book answers for ids and names); events are keyed by
 * revision (appended); old events are trimmed, and the revision noted in settings, once every
 * TRIM_EVERY revisions rather than at every commit.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent, StoredMember } from './store.js';

/** A members row in column order (MEMBER_COLUMNS after the slot): meta, liveness and extra as JSON. */
export type MemberRow = [slot: number, id: string, name: string, type: string, address: string, meta: string, liveness: string, tokenHash: string, registeredAt: number, extra: string];

/** One change as rows: the slots it deletes, then its rows. */
export interface RowChange {
  deletes: number[];
  rows: MemberRow[];
}

/** Changes in commit order with their events: what one transaction writes. */
export interface RowBatch {
  changes: RowChange[];
  events: StoredEvent[];
}

/** Events past the retention are trimmed (and the revision noted in settings) once per this many revisions. */
export const TRIM_EVERY = 1024;

const MEMBERS_TABLE = `(
  slot INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, address TEXT NOT NULL,
  meta TEXT NOT NULL, liveness TEXT NOT NULL, token_hash TEXT NOT NULL,
  registered_at INTEGER NOT NULL, extra TEXT NOT NULL DEFAULT '{}'
)`;

/** Creates the tables; a file written before slots (members keyed by id, unique names) is moved to them once. */
export function createSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS members ${MEMBERS_TABLE};
    CREATE TABLE IF NOT EXISTS events (revision INTEGER PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const columns = db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('members') as string[];
  if (columns.includes('slot')) return;
  db.transaction(() => {
    db.exec(`CREATE TABLE members_slots ${MEMBERS_TABLE};
      INSERT INTO members_slots (id, name, type, address, meta, liveness, token_hash, registered_at, extra)
        SELECT id, name, type, address, meta, liveness, token_hash, registered_at, extra FROM members ORDER BY rowid;
      DROP TABLE members;
      ALTER TABLE members_slots RENAME TO members;`);
  })();
}

/** A chunk of applied changes' rows and events, in commit order. */
export function batchOf(chunk: readonly { rows: RowChange; applied: { events: readonly StoredEvent[] } }[]): RowBatch {
  const out: RowBatch = { changes: new Array(chunk.length), events: [] };
  for (let i = 0; i < chunk.length; i++) {
    out.changes[i] = chunk[i]!.rows;
    for (const e of chunk[i]!.applied.events) out.events.push(e);
  }
  return out;
}

export function rowOf(slot: number, m: StoredMember): MemberRow {
  return [slot, m.id, m.name, m.type, m.address, json(m.meta), json(m.liveness), m.tokenHash, m.registeredAt, json(m.extra)];
}

/** JSON of a member field; most meta and extra objects are empty. */
function json(o: object): string {
  for (const _ in o) return JSON.stringify(o);
  return '{}';
}

export interface Writes {
  /** Writes `batch` in one transaction; keeps at least the last `retention` events. */
  batch(batch: RowBatch): void;
  /** Rows and events as they are (a restore), in one transaction. */
  rows(rows: readonly MemberRow[], events: readonly StoredEvent[]): void;
  setting(key: string, value: string): void;
}

export function preparedWrites(db: Database.Database, retention: number): Writes {
  const putMember = db.prepare(`INSERT INTO members (slot, id, name, type, address, meta, liveness, token_hash, registered_at, extra)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(slot) DO UPDATE SET id = excluded.id, name = excluded.name, type = excluded.type, address = excluded.address,
      meta = excluded.meta, liveness = excluded.liveness, token_hash = excluded.token_hash, extra = excluded.extra`);
  const deleteMember = db.prepare('DELETE FROM members WHERE slot = ?');
  const putEvent = db.prepare('INSERT OR REPLACE INTO events (revision, json) VALUES (?, ?)');
  const trimEvents = db.prepare('DELETE FROM events WHERE revision <= ?');
  const putSetting = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  /** The revision at the last trim on this connection: the first batch trims. */
  let trimmedAt = -Infinity;
  // Positional parameters: binding by name costs a property walk per row.
  const batch = db.transaction((b: RowBatch) => {
    for (const c of b.changes) {
      for (const slot of c.deletes) deleteMember.run(slot);
      for (const r of c.rows) putMember.run(...r);
    }
    let revision = -1;
    for (const e of b.events) {
      putEvent.run(e.revision, e.json);
      if (e.revision > revision) revision = e.revision;
    }
    // The revision a file goes on from is the greater of this setting and its last event (storedRevision).
    if (revision >= 0 && revision - trimmedAt >= TRIM_EVERY) {
      putSetting.run('revision', String(revision));
      trimEvents.run(revision - retention);
      trimmedAt = revision;
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
