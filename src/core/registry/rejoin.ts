/**
 * Cluster mode: the registry takes the shared store's state anew. Two cases: the store lost its
 * history (rejoin) and this hub fell behind the store's change stream (resync, below).
 *
 * Rejoin: the store lost its history (Redis wiped, or restarted without its data) and the store
 * has joined the new one. What this hub does:
 *
 * 1. The event log starts again at the new history's position: every watch is dropped, told
 *    COMPACTED, and a `since` of the old history answers COMPACTED (another epoch). Nothing of
 *    the old history is ever served as part of the new one.
 * 2. Its copies of other hubs' members become what the store holds now; the others are forgotten
 *    here without an event (their hub puts them again, which reaches here as `added`, or they
 *    went with the old history).
 * 3. The members this hub holds (attached to it: their clients are here) are put again, each an
 *    `added` event of the new history, so the registry is whole once every hub has done so. A
 *    name another hub gave away meanwhile wins: this hub's member that held it is evicted.
 *
 * Members held by no hub (ttl members of a hub that was lost) are not put again: their next
 * heartbeat answers NO_SUCH_MEMBER and the SDK registers them anew.
 */
import type { Store, StoreSnapshot } from '../../store/store.js';
import type { EventLog } from '../events/event-log.js';
import type { Member } from './member.js';
import type { MemberIndex } from './member-index.js';
import type { Mirror } from './mirror.js';

export interface RejoinHooks {
  readonly hubId: string;
  readonly index: MemberIndex;
  readonly log: EventLog;
  readonly mirror: Mirror;
  /** Out of this hub's copy: no event, no listener (it is another hub's to put again). */
  forget(member: Member): void;
  /** Out of the registry, its listeners told (reason evicted). */
  evict(member: Member): void;
  /** Puts a member of this hub into the new history (an `added` event); rejects NAME_TAKEN if its name went meanwhile. */
  put(member: Member): Promise<unknown>;
}

/** A wiped shared store joined anew (rejoin), a gap in its feed (resync): both, as the store calls for them. */
export function followStore(store: Store, h: RejoinHooks): void {
  store.restarted?.((snapshot) => rejoin(snapshot, h));
  store.resynced?.((snapshot) => resync(snapshot, h));
}

/**
 * Resync: entries of the change stream were trimmed before this hub read them, and the store was
 * loaded whole again (the same history). What the store holds is the truth, the unread changes
 * included:
 *
 * 1. The event log starts again at the snapshot's position: watches are dropped, told COMPACTED
 *    (the events they missed are gone), and re-list.
 * 2. Members the store no longer holds are removed here, their listeners told, as the unread
 *    removal would have (its reason is gone with it: `unregistered`); but not one this hub is
 *    writing now (a registration on its way: the feed brings it, or its refusal takes it out).
 * 3. The others are this hub's copy of the store's, as the feed would have made them (fields this
 *    hub is writing keep its own values, and a member it is removing does not come back, as ever).
 */
export function resync(snapshot: StoreSnapshot, h: Pick<RejoinHooks, 'index' | 'log' | 'mirror'>): void {
  h.log.restart(snapshot.position, snapshot.events);
  const stored = new Set(snapshot.members.map((s) => s.id));
  const gone: string[] = [];
  for (const m of h.index.values()) if (!stored.has(m.id) && !h.mirror.writing(m.id)) gone.push(m.id);
  h.mirror.apply({ puts: snapshot.members.map((member) => ({ member })), deletes: gone, events: [] }, []);
}

/** Retries of a put while the store does not answer: after this, then twice as long, up to the cap. */
const PUT_RETRY_MS = 250;
const PUT_RETRY_MAX_MS = 5_000;

export function rejoin(snapshot: StoreSnapshot, h: RejoinHooks): void {
  h.log.restart(snapshot.position, snapshot.events);
  const stored = new Map(snapshot.members.map((s) => [s.id, s]));
  for (const m of [...h.index.values()]) {
    if (m.attachedTo !== h.hubId && !stored.has(m.id)) h.forget(m);
  }
  for (const s of snapshot.members) {
    const holder = h.index.find(s.name);
    if (holder && holder.id !== s.id && holder.name === s.name) h.evict(holder);
  }
  h.mirror.apply({ puts: snapshot.members.map((member) => ({ member })), deletes: [], events: [] }, []);
  const mine = [...h.index.values()].filter((m) => m.attachedTo === h.hubId && !stored.has(m.id));
  // After this turn: changes refused with the old history settle first (a registration that
  // failed leaves the index), so only members still held are put again.
  setImmediate(() => {
    for (const m of mine) void putAgain(m, h, snapshot.position.epoch, PUT_RETRY_MS);
  });
}

/** Puts one member again, retrying while the store does not answer, for as long as this history lasts and the member is here. */
async function putAgain(m: Member, h: RejoinHooks, epoch: string, retryMs: number): Promise<void> {
  if (h.log.epoch !== epoch || !h.index.holds(m) || m.attachedTo !== h.hubId) return;
  try {
    await h.put(m);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'NAME_TAKEN') {
      if (h.index.holds(m)) h.evict(m);
      return;
    }
    setTimeout(() => void putAgain(m, h, epoch, Math.min(retryMs * 2, PUT_RETRY_MAX_MS)), retryMs).unref();
  }
}
