/**
 * The writer thread of the SQLite store (a worker_thread): it owns the connection that commits,
 * so that the hub's event loop never waits for SQLite or for the disk's sync. It takes one batch
 * at a time, commits it in one transaction and answers when it is durable (or why not).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { preparedWrites, type RowBatch } from './sqlite-writes.js';

export interface WriterOptions {
  path: string;
  synchronous: 'full' | 'normal';
  retention: number;
}

/** To the writer: a batch to commit, or the end (close the connection, then exit). */
export type ToWriter = { kind: 'commit'; seq: number; batch: RowBatch } | { kind: 'close' };
/** From the writer: a batch committed (durable at the connection's sync level), or refused. */
export type FromWriter = { seq: number; error?: { message: string; code?: string } };

const port = parentPort;
if (port) {
  const o = workerData as WriterOptions;
  const db = new Database(o.path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${o.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  // The hub's main connection only reads at start and writes only in an offline restore.
  db.pragma('busy_timeout = 5000');
  const writes = preparedWrites(db, o.retention);
  port.on('message', (msg: ToWriter) => {
    if (msg.kind === 'close') {
      db.close();
      port.close();
      return;
    }
    let reply: FromWriter;
    try {
      writes.batch(msg.batch);
      reply = { seq: msg.seq };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      reply = { seq: msg.seq, error: { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) } };
    }
    port.postMessage(reply);
  });
}
