/** The members table's columns as the store reads them, and a row as its record. */
import type { StoredMember } from './store.js';

export const MEMBER_COLUMNS = 'id, name, type, address, meta, liveness, token_hash, registered_at, extra';
export type RawRow = [string, string, string, string, string, string, string, number, string];

/** A members row as the record; livenesses parsed once per distinct text. */
export function memberOfRow(r: RawRow, livenesses: Map<string, StoredMember['liveness']>): StoredMember {
  let liveness = livenesses.get(r[5]);
  if (!liveness) livenesses.set(r[5], (liveness = JSON.parse(r[5]) as StoredMember['liveness']));
  return {
    id: r[0], name: r[1], type: r[2], address: r[3], meta: parseObject(r[4]) as Record<string, string>, liveness,
    tokenHash: r[6], registeredAt: r[7], extra: parseObject(r[8]),
  };
}

function parseObject(json: string): Record<string, unknown> {
  return json === '{}' ? {} : (JSON.parse(json) as Record<string, unknown>);
}
