/**
 * The embedded store: one SQLite file in WAL mode. A change is decided when it is applied (its
 * conditions checked against the store's own book, its revisions handed out), then written with
 * every other change of the same event-loop turn in one transaction (group commit: one fsync per
 * batch), then fed, in revision order, and acknowledged.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConditionBook } from './conditions.js';
import { openSqliteExport } from './sqlite-export.js';
import { memberOfRow, MEMBER_COLUMNS, type RawRow } from './sqlite-rows.js';
import { withRevision, type Applied, type Change, type Store, type StoreExport, type StoreSnapshot, type StoredEvent, type StoredMember } from './store.js';

export interface SqliteStoreOptions {
  /** Folder that holds muster.db. */
  dataDir: string;
  /** Events kept in the log (default 10,000). */
  eventRetention?: number;
  /** 'full' survives power loss; 'normal' survives a crash of the hub process (default 'full'). */
  synchronous?: 'full' | 'normal';
}

interface Pending {
  applied: Applied;
  resolve: (applied: Applied) => void;
  reject: (err: unknown) => void;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  readonly #path: string;
  /** Snapshots being read (their own read connections), closed with the store. */
  readonly #exports = new Set<StoreExport>();
  readonly #retention: number;
  #pending: Pending[] = [];
  #flushScheduled = false;
  readonly #putMember: Database.Statement;
  readonly #deleteMember: Database.Statement;
  readonly #putEvent: Database.Statement;
  readonly #trimEvents: Database.Statement;
  readonly #setRevision: Database.Statement;
  readonly #writeBatch: (batch: Pending[]) => void;
  readonly #listeners: ((a: Applied) => void)[] = [];
  #book = new ConditionBook();
  #revision = 0;
  #epoch = '';

  constructor(options: SqliteStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.#retention = options.eventRetention ?? 10_000;
    this.#path = join(options.dataDir, 'muster.db');
    this.#db = new Database(this.#path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS members (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, address TEXT NOT NULL,
        meta TEXT NOT NULL, liveness TEXT NOT NULL, token_hash TEXT NOT NULL,
        registered_at INTEGER NOT NULL, extra TEXT NOT NULL DEFAULT '{}'
      );
      CREATE TABLE IF NOT EXISTS events (revision INTEGER PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.#putMember = this.#db.prepare(`INSERT INTO members (id, name, type, address, meta, liveness, token_hash, registered_at, extra)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, type = excluded.type, address = excluded.address,
        meta = excluded.meta, liveness = excluded.liveness, token_hash = excluded.token_hash, extra = excluded.extra`);
    this.#deleteMember = this.#db.prepare('DELETE FROM members WHERE id = ?');
    this.#putEvent = this.#db.prepare('INSERT OR REPLACE INTO events (revision, json) VALUES (?, ?)');
    this.#trimEvents = this.#db.prepare('DELETE FROM events WHERE revision <= ?');
    this.#setRevision = this.#db.prepare("INSERT INTO settings (key, value) VALUES ('revision', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.#writeBatch = this.#db.transaction((batch: Pending[]) => {
      let revision = -1;
      for (const { applied } of batch) {
        const change = applied.change;
        // Deletes first: a name freed and taken again in one batch must not trip UNIQUE(name).
        for (const id of change.deletes) this.#deleteMember.run(id);
        // Positional parameters: binding by name costs a property walk per row.
        // The whole row: this hub is the only writer, so its record is the whole truth (status is not kept).
        for (const { member: m, fields } of change.puts) {
          if (fields && fields.every(isLiveState)) continue;
          this.#putMember.run(m.id, m.name, m.type, m.address, json(m.meta), json(m.liveness), m.tokenHash, m.registeredAt, json(m.extra));
        }
        for (const e of applied.events) {
          this.#putEvent.run(e.revision, e.json);
          if (e.revision > revision) revision = e.revision;
        }
      }
      if (revision >= 0) {
        this.#setRevision.run(String(revision));
        this.#trimEvents.run(revision - this.#retention);
      }
    });
  }

  async open(): Promise<StoreSnapshot> {
    // Raw rows (arrays), one parse per distinct liveness and none for empty objects: a restart
    // with 100,000 members is mostly this loop.
    const rows = this.#db.prepare(`SELECT ${MEMBER_COLUMNS} FROM members`).raw(true).all() as RawRow[];
    const members: StoredMember[] = new Array(rows.length);
    const livenesses = new Map<string, StoredMember['liveness']>();
    for (let i = 0; i < rows.length; i++) members[i] = memberOfRow(rows[i]!, livenesses);
    const events = this.#db.prepare('SELECT revision, json FROM events ORDER BY revision').all() as StoredEvent[];
    const rev = this.#db.prepare("SELECT value FROM settings WHERE key = 'revision'").get() as { value: string } | undefined;
    this.#revision = rev ? Number(rev.value) : 0;
    // The epoch names this file's history: a watch resumed from another file's revisions is told so.
    const epoch = this.#db.prepare("SELECT value FROM settings WHERE key = 'epoch'").get() as { value: string } | undefined;
    this.#epoch = epoch?.value ?? randomUUID();
    if (!epoch) this.#db.prepare("INSERT INTO settings (key, value) VALUES ('epoch', ?)").run(this.#epoch);
    this.#book = new ConditionBook(members);
    return { members, events, position: { revision: this.#revision, epoch: this.#epoch } };
  }

  /** Decides now (conditions, revisions), so the next change in this turn sees this one; durable and fed after the batch commits. */
  apply(change: Change): Promise<Applied> {
    try {
      this.#book.check(change);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#book.record(change);
    const events = change.events.map((draft) => {
      const revision = ++this.#revision;
      return { revision, json: withRevision(draft, revision) };
    });
    return new Promise((resolve, reject) => {
      this.#pending.push({ applied: { change, events }, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  feed(listener: (applied: Applied) => void): void {
    this.#listeners.push(listener);
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      this.#writeBatch(batch);
    } catch (err) {
      // The disk refused the batch (full, gone): its callers hear it; the book stays ahead of the file.
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) {
      for (const l of this.#listeners) l(p.applied);
      p.resolve(p.applied);
    }
  }

  /**
   * The durable state at one revision, read on a connection of its own inside one read
   * transaction: WAL mode shows it the database as it was when the transaction began while this
   * connection goes on committing. Only what is committed (acknowledged) is in it.
   */
  async export(): Promise<StoreExport> {
    const exp = openSqliteExport(this.#path, () => this.#exports.delete(exp));
    this.#exports.add(exp);
    return exp;
  }

  /**
   * Writes a page of a snapshot being restored into this (fresh) store, through the same
   * statements as every change; `restoreEnd` then sets the revision it goes on from.
   */
  restorePage(members: readonly StoredMember[], events: readonly StoredEvent[]): void {
    this.#db.transaction(() => {
      for (const m of members) this.#putMember.run(m.id, m.name, m.type, m.address, json(m.meta), json(m.liveness), m.tokenHash, m.registeredAt, json(m.extra));
      for (const e of events) this.#putEvent.run(e.revision, e.json);
    })();
  }

  /** The revision a restored store goes on from; its epoch stays its own (see docs/operations.md, Snapshots). */
  restoreEnd(revision: number, restoredFrom: string): void {
    this.#db.transaction(() => {
      this.#setRevision.run(String(revision));
      this.#db.prepare("INSERT INTO settings (key, value) VALUES ('restoredFrom', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(restoredFrom);
    })();
  }

  async close(): Promise<void> {
    for (const exp of [...this.#exports]) exp.close();
    this.#flush();
    if (this.#db.open) this.#db.close();
  }
}

/** Status and attachment are live state: a single hub works them out again at start. */
const isLiveState = (f: string) => f === 'status' || f === 'attachedTo';

/** JSON of a member field; most meta and extra objects are empty. */
function json(o: object): string {
  for (const _ in o) return JSON.stringify(o);
  return '{}';
}
