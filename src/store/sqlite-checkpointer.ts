/**
 * The checkpointing thread of the SQLite stores (a worker_thread, one per process): it owns a
 * connection to each store's file that copies the WAL into the database file, which syncs both,
 * so that the hub's event loop never waits for it. The hub's thread makes the commits
 * (sqlite.ts) and asks for a checkpoint now and then.
 */
import Database from 'better-sqlite3';
import { parentPort } from 'node:worker_threads';

export interface CheckpointerOptions {
  path: string;
  /** The level of the checkpoint's syncs. */
  synchronous: 'full' | 'normal';
}

/** To the checkpointer, for store `store`: open its connection, checkpoint, or close it. */
export type ToCheckpointer =
  | { kind: 'open'; store: number; seq: number; options: CheckpointerOptions }
  /** Copies the WAL into the database file without waiting for anyone. */
  | { kind: 'checkpoint'; store: number; seq: number }
  | { kind: 'close'; store: number; seq: number };
/** From the checkpointer: the message `seq` of `store` done, or refused. */
export type FromCheckpointer = { store: number; seq: number; error?: { message: string; code?: string } };

const port = parentPort;
if (port) {
  const open = new Map<number, Database.Database>();
  port.on('message', (msg: ToCheckpointer) => {
    let reply: FromCheckpointer;
    try {
      if (msg.kind === 'open') {
        const db = new Database(msg.options.path);
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${msg.options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        db.pragma('busy_timeout = 5000');
        open.set(msg.store, db);
      } else if (msg.kind === 'checkpoint') {
        open.get(msg.store)?.pragma('wal_checkpoint(PASSIVE)');
      } else {
        open.get(msg.store)?.close();
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
