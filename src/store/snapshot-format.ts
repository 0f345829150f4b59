/**
 * The snapshot format, the same whatever store made it: gzip'd JSON lines.
 *
 *   {"format":"muster-snapshot","version":1,"store":"sqlite","hubId":..,"revision":..,"epoch":..,"created":..,"members":N,"events":M}
 *   {"m":{...}}        N lines, one stored member each (ids, names, token hashes as the store keeps them)
 *   {"e":{"revision":..,"json":".."}}   M lines, the kept events in revision order
 *   {"end":true,"members":N,"events":M,"sha256":".."}   the hash of every line above, newlines included
 *
 * A file without its trailer was cut short; a hash that does not match was changed. gzip's own
 * CRC catches most damage first.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { StoreExport, StoredEvent, StoredMember } from './store.js';

export const SNAPSHOT_FORMAT = 'muster-snapshot';
export const SNAPSHOT_VERSION = 1;
/** A line longer than this (uncompressed) makes the file invalid: restore never buffers more. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Members or events per page, written and restored. */
export const PAGE_SIZE = 1000;

const Text = (max: number) => Type.String({ maxLength: max });

export const SnapshotHeader = Type.Object({
  format: Type.Literal(SNAPSHOT_FORMAT),
  version: Type.Integer({ minimum: 1 }),
  store: Text(64),
  hubId: Text(256),
  revision: Type.Integer({ minimum: 0 }),
  epoch: Text(128),
  created: Type.Integer({ minimum: 0 }),
  members: Type.Integer({ minimum: 0 }),
  events: Type.Integer({ minimum: 0 }),
});
export type SnapshotHeader = Static<typeof SnapshotHeader>;

/** A stored member's shape (the registry checked the values when it took them; this checks the shape). */
export const SnapshotMember = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.String({ minLength: 1, maxLength: 256 }),
  type: Text(256),
  address: Text(4096),
  meta: Type.Record(Type.String(), Type.String()),
  liveness: Type.Object({ kind: Type.Union([Type.Literal('ttl'), Type.Literal('session'), Type.Literal('probe')]) }),
  tokenHash: Type.String({ minLength: 1, maxLength: 256 }),
  registeredAt: Type.Number(),
  extra: Type.Record(Type.String(), Type.Unknown()),
}, { additionalProperties: false });

export const SnapshotEvent = Type.Object({
  revision: Type.Integer({ minimum: 1 }),
  json: Type.String(),
}, { additionalProperties: false });

export const SnapshotTrailer = Type.Object({
  end: Type.Literal(true),
  members: Type.Integer({ minimum: 0 }),
  events: Type.Integer({ minimum: 0 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});

export interface SnapshotOrigin {
  store: string;
  hubId: string;
}

/** A stored member as the snapshot keeps it: live state (status, the hub it is attached to) left out. */
function durable(m: StoredMember): StoredMember {
  return { id: m.id, name: m.name, type: m.type, address: m.address, meta: m.meta, liveness: m.liveness, tokenHash: m.tokenHash, registeredAt: m.registeredAt, extra: m.extra };
}

/**
 * The snapshot's text, a page of lines at a time, from an export (closed at the end, or when the
 * reader stops early). The counts are the export's; a page that disagrees is an error, not a file.
 */
export async function* snapshotText(exp: StoreExport, origin: SnapshotOrigin, created = Date.now()): AsyncGenerator<string> {
  const hash = createHash('sha256');
  const emit = (text: string) => { hash.update(text); return text; };
  try {
    const header: SnapshotHeader = {
      format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, store: origin.store, hubId: origin.hubId,
      revision: exp.position.revision, epoch: exp.position.epoch, created, members: exp.memberCount, events: exp.eventCount,
    };
    yield emit(JSON.stringify(header) + '\n');
    let members = 0;
    for await (const page of exp.members(PAGE_SIZE)) {
      members += page.length;
      yield emit(page.map((m) => `{"m":${JSON.stringify(durable(m))}}\n`).join(''));
    }
    let events = 0;
    for await (const page of exp.events(PAGE_SIZE)) {
      events += page.length;
      yield emit(page.map((e: StoredEvent) => `{"e":${JSON.stringify({ revision: e.revision, json: e.json })}}\n`).join(''));
    }
    if (members !== exp.memberCount || events !== exp.eventCount) {
      throw new Error(`snapshot read ${members} members and ${events} events; the store counted ${exp.memberCount} and ${exp.eventCount}`);
    }
    yield JSON.stringify({ end: true, members, events, sha256: hash.digest('hex') }) + '\n';
  } finally {
    exp.close();
  }
}
