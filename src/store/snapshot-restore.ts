/**
 * Rebuilds a SQLite data folder from a snapshot, offline: the whole file is checked first, then
 * written into a fresh store beside the folder through the SQLite store's own statements, then
 * moved in. A folder that holds a store is refused unless `force`.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MusterError } from '../errors.js';
import { readSnapshot, type SnapshotSummary } from './snapshot-reader.js';
import { SqliteStore } from './sqlite.js';

const DB_FILES = ['muster.db', 'muster.db-wal', 'muster.db-shm'];

export interface RestoreOptions {
  force?: boolean;
}

export async function restoreSnapshot(file: string, dataDir: string, options: RestoreOptions = {}): Promise<SnapshotSummary> {
  const dir = resolve(dataDir);
  if (existsSync(join(dir, 'muster.db')) && !options.force) {
    throw new MusterError('INVALID_PARAMS', `${dir} already holds a muster store; restore into an empty folder, or add --force to replace it`, { dataDir: dir });
  }
  const summary = await readSnapshot(file);
  // Written beside the folder (same file system), so that moving it in is a rename.
  const work = join(dirname(dir), `.${dir.split('/').pop() ?? 'data'}.restoring-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    const store = new SqliteStore({ dataDir: work, synchronous: 'full' });
    try {
      await store.open();
      await readSnapshot(file, {
        members: (page) => store.restorePage(page, []),
        events: (page) => store.restorePage([], page),
      });
      store.restoreEnd(summary.header.revision, `${summary.header.hubId} ${summary.header.epoch} ${summary.header.revision}`);
    } finally {
      await store.close();
    }
    mkdirSync(dir, { recursive: true });
    for (const f of DB_FILES) rmSync(join(dir, f), { force: true });
    for (const f of DB_FILES) if (existsSync(join(work, f))) renameSync(join(work, f), join(dir, f));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return summary;
}
