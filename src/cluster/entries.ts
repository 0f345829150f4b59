/**
 * How changes travel through Redis: a member as a hash of fields (each encoded by the hub that
 * writes it), and the change stream's entries read back as applied changes. Entries come in
 * three kinds: a hub's change ('c', with its events as that hub wrote them: change-wire.ts),
 * members expired ('x') and members of a lost hub turned suspect ('h'); the events of the last
 * two are written here, the same way on every hub, from the fields the entry carries.
 */
import { initFromStored, liveMember, viewOf } from '../core/registry/member.js';
import type { RegistryEvent } from '../schemas/event.js';
import type { LivenessSpec, MemberStatus, RemovalReason } from '../schemas/member.js';
import { withRevision, type Applied, type Change, type MemberField, type Put, type StoredEvent, type StoredMember } from '../store/store.js';
import { ALL_FIELDS, changeOfBody, encodeField } from './change-wire.js';

export { encodeField } from './change-wire.js';

/** A put as the apply script takes it: the fields to write, encoded; `whole` for a whole record. */
export interface WirePut {
  id: string;
  set: Partial<Record<MemberField, string>>;
  whole: boolean;
}

export function wirePut(put: Put): WirePut {
  const fields = put.fields ?? ALL_FIELDS;
  const set: Partial<Record<MemberField, string>> = {};
  for (const f of fields) set[f] = encodeField(put.member, f);
  return { id: put.member.id, set, whole: put.fields === undefined };
}

/** A stored member from a hash's fields (as HGETALL lists them, or as a put wrote them). */
export function memberOf(id: string, h: Partial<Record<string, string>>): StoredMember {
  const m: StoredMember = {
    id, name: h.name ?? '', type: h.type ?? '', address: h.address ?? '',
    meta: h.meta ? (JSON.parse(h.meta) as Record<string, string>) : {},
    liveness: h.liveness ? (JSON.parse(h.liveness) as LivenessSpec) : { kind: 'ttl' },
    tokenHash: h.tokenHash ?? '', registeredAt: Number(h.registeredAt ?? 0),
    extra: h.extra ? (JSON.parse(h.extra) as Record<string, unknown>) : {},
  };
  if (h.attachedTo) m.attachedTo = h.attachedTo;
  if (h.status) m.status = h.status as MemberStatus;
  return m;
}

export function pairsToRecord(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/**
 * One stream entry's fields: k (kind), b (body), r (first revision), at (ms), e (its epoch;
 * absent in older entries), t (a hub's change: its ticket; absent in entries of older versions,
 * whose body is one JSON object with the events and the ticket in it).
 */
export interface RawEntry {
  k: string;
  b: string;
  r: string;
  at: string;
  e?: string;
  t?: string;
}

/** A stream entry's flat field list (as XREAD and XRANGE give it) as its fields. */
export function entryOf(flat: readonly string[]): RawEntry {
  const e: Partial<Record<keyof RawEntry, string>> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) e[flat[i] as keyof RawEntry] = flat[i + 1]!;
  return e as RawEntry;
}

/** A hub's change as versions before change-wire.ts wrote it: one JSON object. */
interface LegacyChange {
  puts: WirePut[];
  deletes: string[];
  events: string[];
  origin?: string;
  ticket?: string;
}

/** An entry as an applied change; `ticket` names a hub's own change so it can be matched to its caller. */
export function appliedOf(e: RawEntry): { applied: Applied; ticket: string | undefined } {
  const first = Number(e.r);
  const at = Number(e.at);
  let change: Change;
  let ticket: string | undefined;
  if (e.k === 'c' && e.t !== undefined) {
    change = changeOfBody(e.b);
    ticket = e.t;
  } else if (e.k === 'c') {
    const w = JSON.parse(e.b) as LegacyChange;
    ticket = w.ticket;
    change = {
      puts: w.puts.map((p) => ({ member: memberOf(p.id, p.set), fields: p.whole ? undefined : (Object.keys(p.set) as MemberField[]) })),
      deletes: w.deletes, events: w.events, origin: w.origin,
    };
  } else if (e.k === 'x') {
    const gone = JSON.parse(e.b) as { id: string; reason: RemovalReason; fields: string[] }[];
    change = {
      puts: [], deletes: gone.map((g) => g.id), origin: 'store',
      events: gone.map((g) => JSON.stringify({ type: 'removed', member: render(memberOf(g.id, pairsToRecord(g.fields)), 'gone'), reason: g.reason, at })),
    };
  } else {
    const suspect = JSON.parse(e.b) as { id: string; fields: string[] }[];
    const members = suspect.map((s) => memberOf(s.id, pairsToRecord(s.fields)));
    change = {
      puts: members.map((member) => ({ member, fields: ['status', 'attachedTo'] as MemberField[] })), deletes: [], origin: 'store',
      events: members.map((m) => JSON.stringify({ type: 'updated', member: render(m, m.status ?? 'suspect'), at })),
    };
  }
  return { applied: { change, events: eventsOf(change.events, first) }, ticket };
}

/** A change's event drafts as applied, from its first revision on. */
export function eventsOf(drafts: readonly string[], first: number): StoredEvent[] {
  return drafts.map((draft, i) => ({ revision: first + i, json: withRevision(draft, first + i) }));
}

/** A member's view as every hub writes it for events the store made (no hub's own stats in it). */
function render(s: StoredMember, status: MemberStatus): RegistryEvent['member'] {
  const init = initFromStored(s);
  init.status = status;
  const m = liveMember(init, s.liveness as Parameters<typeof liveMember>[1], s.registeredAt);
  const v = viewOf(m, '');
  if (!v.hub) delete v.hub;
  return v;
}

type StreamEntries = [string, string[]][];
/** XREAD's reply: RESP3 gives a map of stream -> entries, RESP2 a list of [stream, entries]. */
export type StreamReply = Record<string, StreamEntries> | [string, StreamEntries][] | null;

export function entriesOf(reply: StreamReply): StreamEntries {
  if (!reply) return [];
  if (Array.isArray(reply)) return reply[0]?.[1] ?? [];
  return Object.values(reply)[0] ?? [];
}
