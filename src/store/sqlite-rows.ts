/** What the SQLite store reads: the members table's columns, a row as its record, the revision a file is at. */
import type Database from 'better-sqlite3';
import type { StoredMember } from './store.js';

/** The slot first: the store keeps it beside the member to write and delete its row. */
export const MEMBER_COLUMNS = 'slot, id, name, type, address, meta, liveness, token_hash, registered_at, extra';
export type RawRow = [number, string, string, string, string, string, string, string, number, string];

/** A members row as the record; livenesses parsed once per distinct text. */
export function memberOfRow(r: RawRow, livenesses: Map<string, StoredMember['liveness']>): StoredMember {
  let liveness = livenesses.get(r[6]);
  if (!liveness) livenesses.set(r[6], (liveness = JSON.parse(r[6]) as StoredMember['liveness']));
  return {
    id: r[1], name: r[2], type: r[3], address: r[4], meta: parseObject(r[5]) as Record<string, string>, liveness,
    tokenHash: r[7], registeredAt: r[8], extra: parseObject(r[9]),
  };
}

function parseObject(json: string): Record<string, unknown> {
  return json === '{}' ? {} : (JSON.parse(json) as Record<string, unknown>);
}

/**
 * The last revision handed out: the settings row is written at trims (and restores) only, the
 * last event is newer whenever events came after it; the trim never removes the last event.
 */
export function storedRevision(db: Database.Database): number {
  const setting = db.prepare("SELECT value FROM settings WHERE key = 'revision'").pluck().get() as string | undefined;
  const last = db.prepare('SELECT max(revision) FROM events').pluck().get() as number | null;
  return Math.max(setting ? Number(setting) : 0, last ?? 0);
}
