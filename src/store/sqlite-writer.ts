/**
 * The writer thread of the SQLite stores (a worker_thread, one per process): it owns each
 * store's connection that commits, so that the hub's event loop never waits for SQLite or for
 * the disk's sync. For each store it takes one batch at a time, commits it in one transaction
 * and answers when it is durable (or why not).
 */
import Database from 'better-sqlite3';
import { parentPort } from 'node:worker_threads';
import { preparedWrites, type RowBatch, type Writes } from './sqlite-writes.js';

export interface WriterOptions {
  path: string;
  synchronous: 'full' | 'normal';
  retention: number;
}

/** To the writer, for store `store`: open its connection, commit a batch, or close it. */
export type ToWriter =
  | { kind: 'open'; store: number; seq: number; options: WriterOptions }
  | { kind: 'commit'; store: number; seq: number; batch: RowBatch }
  /** Copies the WAL into the database file without waiting for anyone (commits made on the hub's thread do not). */
  | { kind: 'checkpoint'; store: number; seq: number }
  | { kind: 'close'; store: number; seq: number };
/** From the writer: the message `seq` of `store` done (a batch durable at the connection's sync level), or refused. */
export type FromWriter = { store: number; seq: number; error?: { message: string; code?: string } };

const port = parentPort;
if (port) {
  const open = new Map<number, { db: Database.Database; writes: Writes }>();
  port.on('message', (msg: ToWriter) => {
    let reply: FromWriter;
    try {
      if (msg.kind === 'open') {
        const db = new Database(msg.options.path);
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${msg.options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        // The hub's main connection only reads at start and writes only in an offline restore.
        db.pragma('busy_timeout = 5000');
        open.set(msg.store, { db, writes: preparedWrites(db, msg.options.retention) });
      } else if (msg.kind === 'commit') {
        const s = open.get(msg.store);
        if (!s) throw new Error('the SQLite store is not open in the writer thread');
        s.writes.batch(msg.batch);
      } else if (msg.kind === 'checkpoint') {
        open.get(msg.store)?.db.pragma('wal_checkpoint(PASSIVE)');
      } else {
        open.get(msg.store)?.db.close();
        open.delete(msg.store);
      }
      reply = { store: msg.store, seq: msg.seq };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = { store: msg.store, seq: msg.seq, error: { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) } };
    }
    port.postMessage(reply);
  });
}
