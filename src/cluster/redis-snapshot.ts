/**
 * The shared store as it stands, as a hub loads it (at open, and joining a new history): the
 * change stream's last entries, where its reader goes on from, then every member record.
 */
import type { StoredEvent, StoredMember } from '../store/store.js';
import { appliedOf, entryOf, memberOf, pairsToRecord } from './entries.js';

/**
 * Member records read at a time: 200,000 reads sent at once outlived the command timeout, and a
 * hub could not join a cluster that large.
 */
const OPEN_PAGE = 1_000;

export interface SharedState {
  /** The stream's last entry ('0-0' for none): the reader goes on after it. */
  lastId: string;
  members: StoredMember[];
  /** The last `retention` events of history `epoch`, oldest first. */
  events: StoredEvent[];
}

export async function readShared(send: <T>(args: string[]) => Promise<T>, prefix: string, epoch: string, retention: number): Promise<SharedState> {
  // The stream's end first: changes after it come through the reader; what the snapshot misses, it brings.
  const tail = await send<[string, string[]][]>(['XREVRANGE', `${prefix}:events`, '+', '-', 'COUNT', String(retention)]);
  const ids = await send<string[]>(['SMEMBERS', `${prefix}:ids`]);
  const members: StoredMember[] = [];
  // A member removed meanwhile reads empty and is skipped.
  for (let from = 0; from < ids.length; from += OPEN_PAGE) {
    const page = ids.slice(from, from + OPEN_PAGE);
    const hashes = await Promise.all(page.map((id) => send<string[]>(['HGETALL', `${prefix}:m:${id}`])));
    page.forEach((id, i) => { if (hashes[i]!.length) members.push(memberOf(id, pairsToRecord(hashes[i]!))); });
  }
  const events: StoredEvent[] = [];
  for (const [, fields] of [...tail].reverse()) {
    const raw = entryOf(fields);
    if (raw.e === undefined || raw.e === epoch) events.push(...appliedOf(raw).applied.events);
  }
  return { lastId: tail[0]?.[0] ?? '0-0', members, events: events.slice(-retention) };
}
