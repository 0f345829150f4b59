/**
 * A hub's change on its way through Redis, encoded once by the hub that makes it:
 *
 * - for the apply script, positional arguments (no JSON for the script to decode): its ticket,
 *   the body of its stream entry, its event count, its deletes, its puts (each field already
 *   encoded as the member hash keeps it) and its conditions;
 * - for the other hubs, the body, which the script writes to the change stream untouched: a
 *   first line of JSON with the puts and deletes (the JSON fields of a member inline, not as
 *   strings in a string) and then each event's JSON on a line of its own, as the hub wrote it.
 *   A reader parses one line of JSON and takes the events as they are, never escaped twice.
 *
 * A hub's own change comes back named by its ticket (an entry field of its own), so the hub
 * that made it knows it without reading the body.
 */
import type { Change, MemberField, Put, StoredMember } from '../store/store.js';
import type { LivenessSpec, MemberStatus } from '../schemas/member.js';

/** Every field of a record, in the order a whole put writes them. */
export const ALL_FIELDS: readonly MemberField[] = ['name', 'type', 'address', 'meta', 'liveness', 'tokenHash', 'registeredAt', 'extra', 'attachedTo', 'status'];
/** Fields whose encoded value is JSON (or a number): inline in the body as they are. */
const RAW = new Set<MemberField>(['meta', 'liveness', 'extra', 'registeredAt']);

/** A field as the member hash keeps it (and as the apply script writes it). */
export function encodeField(m: StoredMember, f: MemberField): string {
  switch (f) {
    case 'meta': return JSON.stringify(m.meta);
    case 'liveness': return JSON.stringify(m.liveness);
    case 'extra': return JSON.stringify(m.extra);
    case 'registeredAt': return String(m.registeredAt);
    case 'attachedTo': return m.attachedTo ?? '';
    case 'status': return m.status ?? 'alive';
    default: return m[f];
  }
}

/** The apply script's arguments for one change, and the ids it writes whole (their deadline is the script's to set). */
export interface ChangeArgs {
  args: string[];
  wholeIds: string[];
  /** About how many bytes the arguments take (a batch of changes is bounded by it). */
  bytes: number;
}

/**
 * Per change: ticket, body, event count, deletes (count, ids), puts (count, then each: id, 1 for
 * whole or 0, field count, field, value, ...), present (count, ids), namesFree (count, names),
 * maxMembers (-1: none), absent (count, ids), heldBy (count, then each: id, hub or '' for none).
 * scripts.ts APPLY reads them in that order.
 */
export function changeArgs(change: Change, ticket: string): ChangeArgs {
  const putArgs: string[] = [String(change.puts.length)];
  const wholeIds: string[] = [];
  let body = `{"o":${JSON.stringify(change.origin ?? '')},"d":${JSON.stringify(change.deletes)},"p":[`;
  let bytes = 0;
  change.puts.forEach((put, i) => {
    const fields = put.fields ?? ALL_FIELDS;
    const whole = put.fields === undefined;
    if (whole) wholeIds.push(put.member.id);
    putArgs.push(put.member.id, whole ? '1' : '0', String(fields.length));
    body += `${i ? ',' : ''}{"i":${JSON.stringify(put.member.id)},"w":${whole ? 1 : 0},"s":{`;
    fields.forEach((f, j) => {
      const v = encodeField(put.member, f);
      putArgs.push(f, v);
      bytes += v.length;
      body += `${j ? ',' : ''}"${f}":${RAW.has(f) ? v : JSON.stringify(v)}`;
    });
    body += '}}';
  });
  body += ']}';
  // An event's JSON as JSON.stringify writes it has no raw line break; whitespace between tokens could.
  for (const e of change.events) body += '\n' + (e.includes('\n') ? e.replace(/\n/g, ' ') : e);
  const c = change.conditions;
  const present = c?.present ?? [];
  const free = c?.namesFree ?? [];
  const absent = c?.absent ?? [];
  const heldBy = c?.heldBy ?? [];
  const args = [ticket, body, String(change.events.length), String(change.deletes.length), ...change.deletes, ...putArgs, String(present.length), ...present, String(free.length), ...free, String(c?.maxMembers ?? -1), String(absent.length), ...absent, String(heldBy.length)];
  for (const h of heldBy) args.push(h.id, h.hub ?? '');
  return { args, wholeIds, bytes: bytes + body.length + 64 };
}

/** A put as the body's first line holds it. */
interface BodyPut {
  i: string;
  w: 0 | 1;
  s: Partial<{ name: string; type: string; address: string; meta: Record<string, string>; liveness: LivenessSpec; tokenHash: string; registeredAt: number; extra: Record<string, unknown>; attachedTo: string; status: MemberStatus }>;
}

/** A change entry's body back as the change (its events still without revisions). */
export function changeOfBody(body: string): Change {
  const nl = body.indexOf('\n');
  const head = JSON.parse(nl < 0 ? body : body.slice(0, nl)) as { o: string; d: string[]; p: BodyPut[] };
  const puts: Put[] = head.p.map((p) => ({ member: storedOf(p.i, p.s), fields: p.w ? undefined : (Object.keys(p.s) as MemberField[]) }));
  return { puts, deletes: head.d, events: nl < 0 ? [] : body.slice(nl + 1).split('\n'), origin: head.o || undefined };
}

function storedOf(id: string, s: BodyPut['s']): StoredMember {
  const m: StoredMember = {
    id, name: s.name ?? '', type: s.type ?? '', address: s.address ?? '', meta: s.meta ?? {},
    liveness: s.liveness ?? { kind: 'ttl' }, tokenHash: s.tokenHash ?? '', registeredAt: s.registeredAt ?? 0, extra: s.extra ?? {},
  };
  if (s.attachedTo) m.attachedTo = s.attachedTo;
  if (s.status) m.status = s.status;
  return m;
}
