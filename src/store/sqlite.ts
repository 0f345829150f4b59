/**
 * The embedded store: one SQLite file in WAL mode. A change is decided when it is applied (its
 * conditions checked against the store's own book, its revisions handed out), then written with
 * every other change of the same event-loop turn in one transaction, on this thread at SQLite's
 * NORMAL level (no sync): a few µs a change, cheaper than handing rows to another thread and back.
 * A larger backlog is written a chunk (CHUNK_CHANGES) per turn, so the event loop serves other
 * work between chunks.
 *
 * At `full` the WAL is then synced with fdatasync() on libuv's thread pool before the changes are
 * acknowledged (group commit), paced by the disk: with no sync under way a change is committed and
 * synced at once; what comes while one runs is committed when it ends. A burst's first slice is on
 * the disk while the hub handles the rest (held for all of it, the hub idled through each sync). At
 * `normal` a change is acknowledged once written (in the page cache: it survives a kill of the
 * process), and so is a change marked `written` at `full` when nothing before it waits for a sync. Acknowledgements, and the feed, keep revision order. A full disk holds what is
 * decided until it has space (disk-full.ts); any other failed write or sync stops the store.
 *
 * This connection never checkpoints on its own (a checkpoint syncs): every CHECKPOINT_EVERY
 * commits the checkpoint thread (sqlite-checkpointer.ts) does, in two steps (sqlite-checkpoints.ts).
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { MusterError } from '../errors.js';
import { CommitHold, type ReadBacklog } from './commit-hold.js';
import { DiskFull, type DiskFullEvents } from './disk-full.js';
import { ConditionBook, type BookEntry } from './conditions.js';
import { openSqliteExport } from './sqlite-export.js';
import { memberOfRow, MEMBER_COLUMNS, storedRevision, type RawRow } from './sqlite-rows.js';
import { Checkpoints, type CheckpointEvents } from './sqlite-checkpoints.js';
import { batchOf, createSchema, preparedWrites, rowOf, type MemberRow, type RowChange, type Writes } from './sqlite-writes.js';
import { withRevision, type Applied, type Change, type Store, type StoreExport, type StoreFigures, type StoreSnapshot, type StoredEvent, type StoredMember } from './store.js';

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
  /** Told once, why, when the store stops committing (the hub logs it). */
  stopped?: (reason: string) => void;
  /** Told when checkpoints begin to fail, and when one ends again (the hub logs it). */
  checkpoints?: CheckpointEvents;
  /** Told when the disk is full (writes wait for space) and when it takes writes again (the hub logs it). */
  full?: DiskFullEvents;
}

/** Changes written in one transaction at most: a backlog is written a chunk per event-loop turn (~0.5 ms each at most). */
const CHUNK_CHANGES = 64;

interface Pending {
  applied: Applied;
  /** The change as rows, made when it was applied (the slots of its members then). */
  rows: RowChange;
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
  /** Checkpoints the file on a connection of its own (null until open). */
  #checkpoints: Checkpoints | null = null;
  readonly #checkpointEvents: CheckpointEvents | undefined;
  /** Applied, not yet written: from #written on (a backlog is taken a chunk at a time without copying the rest). */
  #pending: Pending[] = [];
  #written = 0;
  #flushScheduled = false;
  /** A commit held for the rest of a burst the face is still handling. */
  readonly #hold = new CommitHold();
  /** At `full`: written, waiting for the next sync of the WAL. */
  #unsynced: Pending[] = [];
  /** The sync under way (at most one: what is written meanwhile waits for the next). */
  #syncing: Promise<void> | null = null;
  readonly #listeners: ((a: Applied) => void)[] = [];
  /** Also each member's row (sqlite-writes.ts: new members get increasing slots, so they go on the last page). */
  #book = new ConditionBook();
  #lastSlot = 0;
  #revision = 0;
  #epoch = '';
  /** At `full`: the WAL file, synced before changes written to it are acknowledged (opened at the first). */
  #wal: number | null = null;
  /** A failed write or sync: the book is ahead of the file, or the kernel may have dropped pages it could not write; nothing more is committed. */
  #failed: MusterError | null = null;
  readonly #figures = { changes: 0, commits: 0, syncs: 0 };
  readonly #stopped: ((reason: string) => void) | undefined;
  /** A full disk: what is applied waits for space (disk-full.ts). */
  readonly #full: DiskFull;

  constructor(options: SqliteStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.#retention = options.eventRetention ?? 10_000;
    this.#synchronous = options.synchronous === 'normal' ? 'normal' : 'full';
    this.#stopped = options.stopped;
    this.#checkpointEvents = options.checkpoints;
    this.#full = new DiskFull(() => this.#flush(false, true), options.full);
    this.#path = join(options.dataDir, 'muster.db');
    this.#db = new Database(this.#path);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL at both levels: at `full` the WAL is synced before an acknowledgement (#sync).
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    // Checkpoints (which sync) are the checkpoint thread's.
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
      if (row[0] > this.#lastSlot) this.#lastSlot = row[0];
    }
    this.#revision = storedRevision(this.#db);
    // The file keeps up to TRIM_EVERY more than the retention between trims.
    const events = this.#db.prepare('SELECT revision, json FROM events WHERE revision > ? ORDER BY revision').all(this.#revision - this.#retention) as StoredEvent[];
    // The epoch names this file's history: a watch resumed from another file's revisions is told so.
    const epoch = this.#db.prepare("SELECT value FROM settings WHERE key = 'epoch'").get() as { value: string } | undefined;
    this.#epoch = epoch?.value ?? randomUUID();
    if (!epoch) this.#db.prepare("INSERT INTO settings (key, value) VALUES ('epoch', ?)").run(this.#epoch);
    this.#book = new ConditionBook(members, (_m, i) => rows[i]![0]);
    this.#checkpoints = new Checkpoints({ path: this.#path, synchronous: this.#synchronous }, () => this.#schedule(), this.#checkpointEvents);
    return { members, events, position: { revision: this.#revision, epoch: this.#epoch } };
  }

  /** Decides now (conditions, revisions), so the next change in this turn sees this one; durable and fed after the batch commits. */
  apply(change: Change): Promise<Applied> {
    // A full disk: refused before the book decides it (what it decided waits for space).
    const full = this.#full.refusal;
    if (full) return Promise.reject(full);
    // The deleted members' rows, before the book forgets them.
    const deletes: number[] = [];
    for (const id of change.deletes) {
      const slot = this.#book.entry(id)?.slot;
      if (slot) deletes.push(slot);
    }
    let first: BookEntry | undefined;
    try {
      first = this.#book.admit(change);
    } catch (err) {
      return Promise.reject(err);
    }
    const rows = { deletes, rows: this.#rowsOf(change, first) };
    const events = change.events.map((draft) => {
      const revision = ++this.#revision;
      return { revision, json: withRevision(draft, revision) };
    });
    return new Promise((resolve, reject) => {
      this.#pending.push({ applied: { change, events }, rows, resolve, reject });
      this.#schedule();
    });
  }

  feed(listener: (applied: Applied) => void): void {
    this.#listeners.push(listener);
  }

  holdCommitsFor(backlog: ReadBacklog): void {
    this.#hold.attach(backlog);
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /**
   * Writes the oldest chunk of what is applied, in one transaction; the rest waits for the next
   * turn. At `full`, nothing is committed while a sync runs (but a whole chunk): its end commits
   * what came meanwhile. At `normal`, a commit waits for the rest of a burst (commit-hold.ts).
   * `now`: no waiting (closing). While the disk is full, only DiskFull's retry (`retry`) writes.
   */
  #flush(now = false, retry = false): void {
    this.#flushScheduled = false;
    const left = this.#pending.length - this.#written;
    if (left === 0) return;
    if (this.#checkpoints?.holding || (this.#full.refusal && !retry)) {
      if (retry) this.#full.refused(); // the next try, after the checkpoint
      return;
    }
    if (this.#synchronous === 'full' && !now && !retry) {
      // The disk paces the commits: what comes while a sync runs is committed when it ends (a
      // change enough once written, as a plantimager device's at its `normal`, is not held).
      if (this.#syncing && left < CHUNK_CHANGES && !this.#pending[this.#written]!.applied.change.written) return;
    } else if (!now && !retry && left < CHUNK_CHANGES && this.#hold.wait()) {
      // At `normal`, the rest of a burst is still being handled: one commit for all of it.
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
      return;
    }
    this.#hold.release();
    const chunk = this.#written === 0 && left <= CHUNK_CHANGES ? this.#pending : this.#pending.slice(this.#written, this.#written + CHUNK_CHANGES);
    let failed: unknown = this.#failed ?? (this.#checkpoints ? null : new Error('the SQLite store is not open'));
    if (!failed) try { this.#writes.batch(batchOf(chunk)); } catch (err) { failed = err; }
    // Refused for a full disk: rolled back, nothing of it in the file; it waits, first in line.
    if ((failed as { code?: unknown } | null)?.code === 'SQLITE_FULL') {
      this.#full.refused();
      return;
    }
    this.#taken(chunk.length, left);
    if (failed) {
      // The disk refused the chunk (gone): the book, which admitted it, is now ahead of the file,
      // and later changes were decided on it, so the store stops as after a failed sync.
      const code = (failed as { code?: unknown }).code;
      for (const p of chunk) p.reject(this.#stop(typeof code === 'string' ? code : String(failed)));
      return;
    }
    this.#full.wrote();
    this.#figures.commits++;
    this.#figures.changes += chunk.length;
    if (this.#synchronous === 'normal') this.#acknowledge(chunk);
    else this.#acknowledgeOrSync(chunk);
    this.#checkpoints!.committed();
  }

  /** The oldest `n` of the `left` applied changes are written (or refused): the rest waits for the next turn. */
  #taken(n: number, left: number): void {
    if (left > n) {
      this.#written += n;
      // A backlog that never drains must not keep what was taken: dropped once it is most of the array.
      if (this.#written >= 4096 && this.#written * 2 >= this.#pending.length) {
        this.#pending = this.#pending.slice(this.#written);
        this.#written = 0;
      }
      this.#schedule();
    } else {
      this.#pending = [];
      this.#written = 0;
    }
  }

  /**
   * At `full`: the leading changes that are enough once written are acknowledged now, when nothing
   * before them waits for a sync (revision order); the rest wait for the next sync.
   */
  #acknowledgeOrSync(chunk: Pending[]): void {
    let now = 0;
    if (!this.#syncing && this.#unsynced.length === 0) while (now < chunk.length && chunk[now]!.applied.change.written) now++;
    if (now > 0) this.#acknowledge(now === chunk.length ? chunk : chunk.slice(0, now));
    for (let i = now; i < chunk.length; i++) this.#unsynced.push(chunk[i]!);
    this.#sync();
  }

  /**
   * fdatasync() of the WAL on libuv's thread pool (its frames, and its size when it grew), then
   * the acknowledgement of all that was written before it began; unless one is under way, whose
   * end starts the next.
   */
  #sync(): void {
    if (this.#syncing || this.#unsynced.length === 0) return;
    const group = this.#unsynced;
    this.#unsynced = [];
    if (this.#failed) {
      for (const p of group) p.reject(this.#failed);
      return;
    }
    const wal = (this.#wal ??= openSync(`${this.#path}-wal`, 'r+'));
    this.#figures.syncs++;
    this.#syncing = new Promise((resolve) => fdatasync(wal, (err) => {
      this.#syncing = null;
      resolve();
      if (err) {
        const failed = this.#stop(err.code ?? err.message);
        for (const p of group) p.reject(failed);
      } else this.#acknowledge(group);
      if (this.#pending.length > this.#written) this.#flush();
      this.#sync();
    }));
  }

  /**
   * Durable (at this store's level): fed, then answered, in revision order. A listener that throws
   * (a bug) must not leave the rest unanswered or stop the syncs: its error goes to the process's
   * unhandled-rejection backstop (last-resort.ts logs and counts it) and the change is answered.
   */
  #acknowledge(done: readonly Pending[]): void {
    for (const p of done) {
      try {
        for (const l of this.#listeners) l(p.applied);
      } catch (err) {
        void Promise.reject(err);
      }
      p.resolve(p.applied);
    }
  }

  /** Takes no more writes (see #failed); the hub restarts from what the file holds. */
  #stop(why: string): MusterError {
    if (this.#failed) return this.#failed;
    this.#failed = new MusterError('STORE_UNAVAILABLE', `The SQLite store stopped committing after a failed write or sync of its file (${why}): restart the hub`);
    this.#stopped?.(this.#failed.message);
    return this.#failed;
  }

  /** Why the store takes no writes now: stopped (until a restart), or its disk full (until it has space). */
  failure(): string | null {
    return this.#failed?.message ?? this.#full.refusal?.message ?? null;
  }

  figures(): StoreFigures {
    const c = this.#checkpoints;
    return { ...this.#figures, checkpoints: c?.figures.checkpoints ?? 0, checkpointFailures: c?.figures.failures ?? 0, walBytes: c?.walBytes() ?? 0 };
  }

  /**
   * The durable state at one revision, read on a connection of its own inside one read
   * transaction: WAL mode shows it the database as it was when the transaction began while this
   * connection goes on committing. Only what is committed is in it: what is acknowledged, and at
   * most the changes whose WAL sync is under way at `full` (committed a sync before their ack).
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

  /** Commits (and syncs) what is queued, then ends the checkpoint thread and closes the connections. */
  async close(): Promise<void> {
    for (const exp of [...this.#exports]) exp.close();
    for (;;) {
      const checkpoint = this.#checkpoints?.running;
      if (checkpoint) await checkpoint;
      else if (this.#pending.length > this.#written) {
        // A full disk: a last try, then what waits is refused (none of it is in the file).
        this.#flush(true, this.#full.refusal !== null);
        const full = this.#full.refusal;
        if (full) for (const p of this.#pending.splice(this.#written)) p.reject(full);
      } else if (this.#syncing) await this.#syncing;
      else if (this.#unsynced.length > 0) this.#sync();
      else break;
    }
    this.#full.close();
    await this.#checkpoints?.close();
    this.#checkpoints = null;
    if (this.#wal !== null) closeSync(this.#wal);
    this.#wal = null;
    if (this.#db.open) this.#db.close();
  }

  /** The member's slot; a new member gets the next one. */
  #slotOf(id: string, entry = this.#book.entry(id)): number {
    if (!entry) return ++this.#lastSlot; // a restore's pages: the book is not told, the store is opened again after
    if (entry.slot === 0) entry.slot = ++this.#lastSlot;
    return entry.slot;
  }

  /**
   * The change's members as rows. The whole row: this hub is the only writer, so its record is
   * the whole truth (status is not kept, so a change of it alone writes no row).
   */
  #rowsOf(change: Change, first: BookEntry | undefined): MemberRow[] {
    const rows: MemberRow[] = [];
    const puts = change.puts;
    for (let i = 0; i < puts.length; i++) {
      const { member, fields } = puts[i]!;
      if (!fields || !fields.every(isLiveState)) rows.push(rowOf(this.#slotOf(member.id, i === 0 ? first : undefined), member));
    }
    return rows;
  }
}

/** Status and attachment are live state: a single hub works them out again at start. */
const isLiveState = (f: string) => f === 'status' || f === 'attachedTo';
