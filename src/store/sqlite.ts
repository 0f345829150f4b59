/**
 * The embedded store: one SQLite file in WAL mode. A change is decided when it is applied (its
 * conditions checked against the store's own book, its revisions handed out), then written with
 * every other change of the same event-loop turn in one transaction (group commit: one sync per
 * batch) by the writer thread (sqlite-writer.ts), so that the hub's event loop goes on while the
 * disk syncs; changes applied meanwhile form the next batch. Once committed, a batch is fed, in
 * revision order, and acknowledged.
 *
 * A small batch (at most INLINE_MAX_CHANGES changes) is committed on this thread instead, at
 * SQLite's NORMAL level (no sync): a few tens of µs of SQLite cost less than the hand-off to the
 * writer thread and back (two thread wake-ups, a structured clone each way). At `full` the WAL is
 * then synced with fdatasync() on libuv's thread pool before the batch is acknowledged: the same
 * frames on the disk as SQLite's FULL would make sure of, without the event loop waiting for the
 * disk. Larger batches still go to the writer thread, where their statements run beside the event
 * loop. This connection never checkpoints on its own (a checkpoint syncs): every CHECKPOINT_EVERY
 * commits made here, the writer thread does, as the next step of the commit sequence.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { MusterError } from '../errors.js';
import { ConditionBook } from './conditions.js';
import { openSqliteExport } from './sqlite-export.js';
import { memberOfRow, MEMBER_COLUMNS, storedRevision, type RawRow } from './sqlite-rows.js';
import { WriterThread } from './sqlite-writer-thread.js';
import { createSchema, preparedWrites, rowOf, type MemberRow, type RowBatch, type Writes } from './sqlite-writes.js';
import { withRevision, type Applied, type Change, type Store, type StoreExport, type StoreSnapshot, type StoredEvent, type StoredMember } from './store.js';

export interface SqliteStoreOptions {
  /** Folder that holds muster.db. */
  dataDir: string;
  /** Events kept in the log (default 10,000). */
  eventRetention?: number;
  /**
   * 'full' (default): a commit is synced to the disk before it is acknowledged; survives power
   * loss. 'normal': synced at checkpoints only; survives a crash or kill of the hub process, not
   * of the machine (the last commits before a power loss may be gone; the file stays consistent).
   */
  synchronous?: 'full' | 'normal';
}

/** Batches of up to this many changes commit on the hub's thread (one registration at a time: every batch). */
const INLINE_MAX_CHANGES = 4;
/** Commits made on the hub's thread between checkpoints asked of the writer thread (~2.4 WAL pages each: under SQLite's 1,000-page default). */
const CHECKPOINT_EVERY = 256;

interface Pending {
  applied: Applied;
  resolve: (applied: Applied) => void;
  reject: (err: unknown) => void;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** This thread's connection: loads the store at open, writes an offline restore; never commits the hub's changes. */
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #synchronous: 'full' | 'normal';
  /** Snapshots being read (their own read connections), closed with the store. */
  readonly #exports = new Set<StoreExport>();
  readonly #retention: number;
  readonly #writes: Writes;
  #writer: WriterThread | null = null;
  #pending: Pending[] = [];
  #flushScheduled = false;
  /** The batch the writer thread is committing (at most one: the next gathers meanwhile). */
  #committing: Promise<void> | null = null;
  readonly #listeners: ((a: Applied) => void)[] = [];
  #book = new ConditionBook();
  /** Each member's row (sqlite-writes.ts: new members get increasing slots, so they go on the last page). */
  readonly #slots = new Map<string, number>();
  #lastSlot = 0;
  #revision = 0;
  #epoch = '';
  /** Commits made on this thread since the writer thread last checkpointed. */
  #sinceCheckpoint = 0;
  /** At `full`: the WAL file, synced after each commit made on this thread (opened at the first). */
  #wal: number | null = null;
  /** A failed sync: the kernel may have dropped pages it could not write, so nothing more is committed. */
  #failed: MusterError | null = null;

  constructor(options: SqliteStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.#retention = options.eventRetention ?? 10_000;
    this.#synchronous = options.synchronous === 'normal' ? 'normal' : 'full';
    this.#path = join(options.dataDir, 'muster.db');
    this.#db = new Database(this.#path);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL at both levels: at `full` the WAL is synced after each commit (#syncWal).
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    // Checkpoints (which sync) are the writer thread's.
    this.#db.pragma('wal_autocheckpoint = 0');
    createSchema(this.#db);
    this.#writes = preparedWrites(this.#db, this.#retention);
  }

  async open(): Promise<StoreSnapshot> {
    // Raw rows (arrays), one parse per distinct liveness and none for empty objects: a restart
    // with 100,000 members is mostly this loop.
    const rows = this.#db.prepare(`SELECT ${MEMBER_COLUMNS} FROM members`).raw(true).all() as RawRow[];
    const members: StoredMember[] = new Array(rows.length);
    const livenesses = new Map<string, StoredMember['liveness']>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      members[i] = memberOfRow(row, livenesses);
      this.#slots.set(row[1], row[0]);
      if (row[0] > this.#lastSlot) this.#lastSlot = row[0];
    }
    this.#revision = storedRevision(this.#db);
    // The file keeps up to TRIM_EVERY more than the retention between trims.
    const events = this.#db.prepare('SELECT revision, json FROM events WHERE revision > ? ORDER BY revision').all(this.#revision - this.#retention) as StoredEvent[];
    // The epoch names this file's history: a watch resumed from another file's revisions is told so.
    const epoch = this.#db.prepare("SELECT value FROM settings WHERE key = 'epoch'").get() as { value: string } | undefined;
    this.#epoch = epoch?.value ?? randomUUID();
    if (!epoch) this.#db.prepare("INSERT INTO settings (key, value) VALUES ('epoch', ?)").run(this.#epoch);
    this.#book = new ConditionBook(members);
    this.#writer = new WriterThread({ path: this.#path, synchronous: this.#synchronous, retention: this.#retention });
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
    if (this.#committing || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#committing = this.#commit(batch).finally(() => {
      this.#committing = null;
      this.#flush();
    });
  }

  async #commit(batch: Pending[]): Promise<void> {
    const writer = this.#writer;
    const here = batch.length <= INLINE_MAX_CHANGES;
    try {
      if (!writer) throw new Error('the SQLite store is not open');
      if (this.#failed) throw this.#failed;
      if (!here) await writer.commit(this.#rowsOf(batch));
      else {
        this.#writes.batch(this.#rowsOf(batch));
        if (this.#synchronous === 'full') await this.#syncWal();
      }
    } catch (err) {
      // The disk refused the batch (full, gone): its callers hear it; the book stays ahead of the file.
      // An I/O error (a write of the WAL, or SQLite's own sync in the writer thread) stops the store as a failed WAL sync does.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_IOERR')) this.#stop(code);
      for (const p of batch) p.reject(this.#failed ?? err);
      return;
    }
    for (const p of batch) {
      for (const l of this.#listeners) l(p.applied);
      p.resolve(p.applied);
    }
    // In the commit sequence, after the acks: no commit appends meanwhile, so the whole WAL is copied and the next commit starts it again.
    if (here && ++this.#sinceCheckpoint >= CHECKPOINT_EVERY) {
      this.#sinceCheckpoint = 0;
      await writer!.checkpoint().catch(() => {});
    }
  }

  /** fdatasync() of the WAL on libuv's thread pool: its frames, and its size when it grew. */
  #syncWal(): Promise<void> {
    const wal = (this.#wal ??= openSync(`${this.#path}-wal`, 'r+'));
    return new Promise((resolve, reject) => fdatasync(wal, (err) => {
      if (!err) return resolve();
      reject(this.#stop(err.code ?? err.message));
    }));
  }

  /** Takes no more writes: the kernel may have dropped pages it could not write, so a later sync proves nothing about them. */
  #stop(why: string): MusterError {
    this.#failed ??= new MusterError('STORE_UNAVAILABLE', `The SQLite store stopped committing after a failed write or sync of its file (${why}): restart the hub`);
    return this.#failed;
  }

  failure(): string | null {
    return this.#failed?.message ?? null;
  }

  /**
   * The durable state at one revision, read on a connection of its own inside one read
   * transaction: WAL mode shows it the database as it was when the transaction began while this
   * connection goes on committing. Only what is committed is in it: what is acknowledged, and at
   * most the small batch whose WAL sync is under way at `full` (committed a sync before its ack).
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
    this.#writes.rows(members.map((m) => rowOf(this.#slotOf(m.id), m)), events);
  }

  /** The revision a restored store goes on from; its epoch stays its own (see docs/operations.md, Snapshots). */
  restoreEnd(revision: number, restoredFrom: string): void {
    this.#db.transaction(() => {
      this.#writes.setting('revision', String(revision));
      this.#writes.setting('restoredFrom', restoredFrom);
    })();
    // Offline (nothing else waits): the restore's commits, made here at NORMAL, on the disk now.
    if (this.#synchronous === 'full') fdatasyncSync((this.#wal ??= openSync(`${this.#path}-wal`, 'r+')));
  }

  /** Commits what is queued, then ends the writer thread and closes the connections. */
  async close(): Promise<void> {
    for (const exp of [...this.#exports]) exp.close();
    while (this.#committing || this.#pending.length > 0) {
      this.#flush();
      await this.#committing;
    }
    await this.#writer?.close();
    this.#writer = null;
    if (this.#wal !== null) closeSync(this.#wal);
    this.#wal = null;
    if (this.#db.open) this.#db.close();
  }

  /** The member's slot; a new member gets the next one. */
  #slotOf(id: string): number {
    let slot = this.#slots.get(id);
    if (slot === undefined) this.#slots.set(id, (slot = ++this.#lastSlot));
    return slot;
  }

  /** A batch as the writer thread takes it: rows, not records (structured clone of strings is a copy). */
  #rowsOf(batch: readonly Pending[]): RowBatch {
    const out: RowBatch = { changes: new Array(batch.length), events: [] };
    for (let i = 0; i < batch.length; i++) {
      const { change, events } = batch[i]!.applied;
      const deletes: number[] = [];
      for (const id of change.deletes) {
        const slot = this.#slots.get(id);
        if (slot === undefined) continue;
        this.#slots.delete(id);
        deletes.push(slot);
      }
      // The whole row: this hub is the only writer, so its record is the whole truth (status is not kept).
      const rows: MemberRow[] = [];
      for (const { member, fields } of change.puts) if (!fields || !fields.every(isLiveState)) rows.push(rowOf(this.#slotOf(member.id), member));
      out.changes[i] = { deletes, rows };
      for (const e of events) out.events.push(e);
    }
    return out;
  }
}

/** Status and attachment are live state: a single hub works them out again at start. */
const isLiveState = (f: string) => f === 'status' || f === 'attachedTo';
