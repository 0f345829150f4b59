/**
 * A snapshot of the cluster's store while every hub goes on writing (RedisStore.export).
 * Redis has no read transaction across many keys, so the export builds one state at one revision
 * in a spool of its own (keys under the prefix, expiring by themselves) and reads that:
 *
 * 1. Mark T0: the change stream's last entry (one script: one instant).
 * 2. Copy every member into the spool, a page of ids at a time (SSCAN, then one short script per
 *    page that copies what each hash holds at that instant). Each copy is the member at some
 *    revision between T0 and T1; members added meanwhile may be missed, removed ones may be copied.
 * 3. Mark T1, and read the stream up to T1 in pages: every entry after T0 is applied to the spool
 *    in order (roll forward), and the entries of this history become the kept events.
 *
 * Why the spool then holds the registry exactly as it was at T1: every write to a member is in
 * the stream (the apply, expire and reap scripts append their change in the same atomic step),
 * and writes are whole puts, puts of some fields (only onto a member that is there) and removals.
 * Replaying all of (T0, T1] onto a copy taken at revision t replays (T0, t] first; from the last
 * whole put or removal on, that replay rebuilds exactly the copy, so the result is the copy rolled
 * forward by (t, T1], which is the member at T1. A member not copied was absent at some instant
 * of the scan (SSCAN returns every element present throughout), and the same holds from absent.
 * This needs every entry of (T0, T1]: the stream is trimmed from its head, so an entry missing
 * (revisions not contiguous) fails the export with THROTTLED (changes outran the stream's
 * retention meanwhile: try again); a new history meanwhile (Redis wiped) fails it with
 * STORE_UNAVAILABLE. Nothing is ever half-written: members and events are those of T1.
 *
 * The hub holds one page at a time; Redis holds a copy of the registry while the export lasts.
 */
import { randomUUID } from 'node:crypto';
import { MusterError } from '../errors.js';
import type { StoreExport, StoredEvent, StoredMember } from '../store/store.js';
import { appliedOf, entryOf, memberOf, pairsToRecord, wirePut, type WirePut } from './entries.js';
import type { Scripts } from './redis-scripts.js';
import { SNAPSHOT_COPY, SNAPSHOT_MARK, SNAPSHOT_ROLL } from './snapshot-scripts.js';

export interface ClusterExportOptions {
  prefix: string;
  eventRetention: number;
  send<T>(args: string[]): Promise<T>;
  scripts: Scripts;
}

/** Ids copied, entries read, events pushed, members read back per Redis call. */
const PAGE = 1_000;
/** The spool's keys go by themselves after this, if the hub that made them does not delete them. */
const SPOOL_TTL_MS = 60 * 60_000;

const revisionOf = (streamId: string) => Number(streamId.split('-')[0]);

export async function exportCluster(o: ClusterExportOptions): Promise<StoreExport> {
  const spool = `${o.prefix}:snap:${randomUUID()}`;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    void dropSpool(o, spool).catch(() => {});
  };
  try {
    const [mark0, epoch] = await o.scripts.run<[string, string]>(SNAPSHOT_MARK, [o.prefix]);
    await copyMembers(o, spool);
    const [mark1, epoch1] = await o.scripts.run<[string, string]>(SNAPSHOT_MARK, [o.prefix]);
    if (epoch1 !== epoch) throw historyChanged();
    const t1 = revisionOf(mark1);
    await rollForward(o, spool, epoch, revisionOf(mark0), t1);
    const [memberCount, eventCount] = await Promise.all([o.send<number>(['ZCARD', `${spool}:ids`]), o.send<number>(['LLEN', `${spool}:events`])]);
    return {
      position: { revision: t1, epoch },
      memberCount,
      eventCount,
      async *members(pageSize: number): AsyncIterable<StoredMember[]> {
        let after = '-';
        while (!closed) {
          const ids = await o.send<string[]>(['ZRANGEBYLEX', `${spool}:ids`, after, '+', 'LIMIT', '0', String(pageSize)]);
          if (ids.length === 0) return;
          after = `(${ids[ids.length - 1]!}`;
          const hashes = await Promise.all(ids.map((id) => o.send<string[]>(['HGETALL', `${spool}:m:${id}`])));
          yield ids.map((id, i) => memberOf(id, pairsToRecord(hashes[i]!)));
        }
      },
      async *events(pageSize: number): AsyncIterable<StoredEvent[]> {
        for (let from = 0; !closed; from += pageSize) {
          const page = await o.send<string[]>(['LRANGE', `${spool}:events`, String(from), String(from + pageSize - 1)]);
          if (page.length === 0) return;
          yield page.map((e) => JSON.parse(e) as StoredEvent);
        }
      },
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}

/** Step 2: every member id, a page at a time, copied as it is at that instant. */
async function copyMembers(o: ClusterExportOptions, spool: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, ids] = await o.send<[string, string[]]>(['SSCAN', `${o.prefix}:ids`, cursor, 'COUNT', String(PAGE)]);
    cursor = next;
    if (ids.length) await o.scripts.run<number>(SNAPSHOT_COPY, [o.prefix, spool, String(SPOOL_TTL_MS), ...ids]);
  } while (cursor !== '0');
}

/**
 * Step 3: the stream up to T1, a page at a time. Entries after T0 are rolled into the spool; the
 * entries of this history, as one contiguous run ending at T1, are the kept events.
 */
async function rollForward(o: ClusterExportOptions, spool: string, epoch: string, t0: number, t1: number): Promise<void> {
  const events = `${spool}:events`;
  let start = '-';
  let lastEvent: number | null = null;
  /** The last revision rolled forward; null until the entry at T0 has been seen (or T0 is 0). */
  let rolled: number | null = t0 === 0 ? 0 : null;
  while (t1 > 0) {
    const entries = await o.send<[string, string[]][]>(['XRANGE', `${o.prefix}:events`, start, `${t1}-0`, 'COUNT', String(PAGE)]);
    if (entries.length === 0) break;
    const ops: string[] = [];
    const kept: string[] = [];
    for (const [id, fields] of entries) {
      const last = revisionOf(id);
      const raw = entryOf(fields);
      const first = Number(raw.r);
      if (last === t0) rolled = t0;
      const ours = raw.e === undefined || raw.e === epoch;
      if (last > t0) {
        if (!ours) throw historyChanged();
        if (rolled === null || (rolled > 0 && first !== rolled + 1)) throw outran();
        rolled = last;
      }
      if (!ours) continue;
      const { applied } = appliedOf(raw);
      if (last > t0) ops.push(...rollOps(applied.change.deletes, applied.change.puts.map(wirePut)));
      // A hole before T0 (the head trimmed while read): the kept events start after it.
      if (lastEvent !== null && first !== lastEvent + 1) {
        kept.length = 0;
        await o.send(['DEL', events]);
      }
      lastEvent = last;
      for (const e of applied.events) kept.push(JSON.stringify(e));
    }
    if (ops.length) await o.scripts.run<string>(SNAPSHOT_ROLL, [spool, String(SPOOL_TTL_MS), ...ops]);
    if (kept.length) await o.send(['RPUSH', events, ...kept]);
    start = `${revisionOf(entries[entries.length - 1]![0])}-1`;
  }
  if (t1 > t0 && rolled !== t1) throw outran();
  await o.send(['LTRIM', events, String(-o.eventRetention), '-1']);
  await o.send(['PEXPIRE', events, String(SPOOL_TTL_MS)]);
}

function rollOps(deletes: readonly string[], puts: readonly WirePut[]): string[] {
  const ops: string[] = [];
  for (const id of deletes) ops.push('D', id, '0');
  for (const p of puts) {
    const fields = Object.entries(p.set);
    ops.push(p.whole ? 'W' : 'P', p.id, String(fields.length));
    for (const [f, v] of fields) ops.push(f, v ?? '');
  }
  return ops;
}

async function dropSpool(o: ClusterExportOptions, spool: string): Promise<void> {
  for (;;) {
    const ids = await o.send<string[]>(['ZRANGE', `${spool}:ids`, '0', String(PAGE - 1)]);
    if (ids.length === 0) break;
    await o.send(['UNLINK', ...ids.map((id) => `${spool}:m:${id}`)]);
    await o.send(['ZREM', `${spool}:ids`, ...ids]);
  }
  await o.send(['UNLINK', `${spool}:ids`, `${spool}:events`]);
}

const historyChanged = () => new MusterError('STORE_UNAVAILABLE', "The cluster's store started a new history (Redis wiped) during the snapshot: try again", { retryAfterMs: 1_000 });
const outran = () => new MusterError('THROTTLED', "Changes outran the change stream's retention while the snapshot was read: try again (or raise event retention)", { retryAfterMs: 1_000 });
