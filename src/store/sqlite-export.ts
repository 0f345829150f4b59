/**
 * A snapshot's read of the SQLite store: its own read-only connection, one read transaction
 * (WAL: a consistent view while the hub's connection goes on committing), rows read in pages by
 * key, the event loop given back between pages so a large registry never blocks the hub for long.
 */
import Database from 'better-sqlite3';
import { memberOfRow, MEMBER_COLUMNS, storedRevision, type RawRow } from './sqlite-rows.js';
import type { StoreExport, StoredEvent, StoredMember } from './store.js';

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function openSqliteExport(path: string, onClose: () => void): StoreExport {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
      onClose();
    }
  };
  try {
    db.exec('BEGIN');
    // The first read fixes the transaction's view: everything below reads that one state.
    const setting = db.prepare('SELECT value FROM settings WHERE key = ?').pluck();
    const revision = storedRevision(db);
    const epoch = (setting.get('epoch') as string | undefined) ?? '';
    const memberCount = db.prepare('SELECT count(*) FROM members').pluck().get() as number;
    const eventCount = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    const memberPage = db.prepare(`SELECT ${MEMBER_COLUMNS} FROM members WHERE slot > ? ORDER BY slot LIMIT ?`).raw(true);
    const eventPage = db.prepare('SELECT revision, json FROM events WHERE revision > ? ORDER BY revision LIMIT ?');
    return {
      position: { revision, epoch },
      memberCount,
      eventCount,
      async *members(pageSize: number): AsyncIterable<StoredMember[]> {
        const livenesses = new Map<string, StoredMember['liveness']>();
        let after = 0;
        while (!closed) {
          const rows = memberPage.all(after, pageSize) as RawRow[];
          if (rows.length === 0) return;
          after = rows[rows.length - 1]![0];
          yield rows.map((r) => memberOfRow(r, livenesses));
          await yieldTurn();
        }
      },
      async *events(pageSize: number): AsyncIterable<StoredEvent[]> {
        let after = -1;
        while (!closed) {
          const rows = eventPage.all(after, pageSize) as StoredEvent[];
          if (rows.length === 0) return;
          after = rows[rows.length - 1]!.revision;
          yield rows;
          await yieldTurn();
        }
      },
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
