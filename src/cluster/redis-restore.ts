/**
 * Restores a snapshot (of any store) into a cluster's Redis, offline: the whole file is checked
 * first; then no hub of the prefix may hold a lease (they would keep writing the old state), and
 * the prefix must be empty unless `force` (then its keys are deleted first). Members are written
 * as the apply script writes them, with their deadlines counted from now (ttl members get a full
 * ttl, session and probed members are suspect for their grace, as after a lost hub); the events
 * become the change stream; the revision goes on from the snapshot's, in a new epoch, so that a
 * watch resumed from the old history answers COMPACTED. The epoch is written last.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { MusterError } from '../errors.js';
import { readSnapshot, type SnapshotSummary } from '../store/snapshot-reader.js';
import type { StoredEvent, StoredMember } from '../store/store.js';
import { changeArgs, encodeField } from './change-wire.js';

export interface ClusterRestoreOptions {
  url: string;
  prefix: string;
  force?: boolean;
}

type Send = <T>(args: string[]) => Promise<T>;

const PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
const DURABLE = ['name', 'type', 'address', 'meta', 'liveness', 'tokenHash', 'registeredAt', 'extra'] as const;

export async function restoreIntoCluster(file: string, o: ClusterRestoreOptions): Promise<SnapshotSummary> {
  if (!PREFIX.test(o.prefix)) throw new MusterError('INVALID_PARAMS', `--cluster-prefix must be 1-64 characters of [A-Za-z0-9._-]: ${o.prefix}`);
  const summary = await readSnapshot(file);
  const P = `{${o.prefix}}`;
  const client = createClient({ url: o.url, RESP: 2, socket: { connectTimeout: 5_000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new MusterError('STORE_UNAVAILABLE', `Cannot reach the cluster's Redis: ${(err as Error).message}`);
  }
  const send: Send = (args) => client.sendCommand(args);
  try {
    // Every running hub is named: the first page that matches may hold only some of their leases.
    const hubs = (await keys(send, `${P}:lease:*`, true)).map((k) => k.slice(`${P}:lease:`.length)).sort();
    if (hubs.length) {
      throw new MusterError('INVALID_PARAMS', `Hubs of cluster prefix ${o.prefix} are running (${hubs.join(', ')}): stop them first (a killed hub's lease runs out within its lease time)`, { hubs });
    }
    const held = await keys(send, `${P}:*`);
    if (held.length && !o.force) {
      throw new MusterError('INVALID_PARAMS', `Cluster prefix ${o.prefix} already holds a registry (${held.length}+ keys); restore into an empty prefix, or add --force to replace it`, { prefix: o.prefix });
    }
    for (let page = held; page.length; page = await keys(send, `${P}:*`)) await send(['UNLINK', ...page]);
    const now = Date.now();
    const epoch = randomUUID();
    let revision = summary.header.revision;
    await readSnapshot(file, {
      members: (page) => writeMembers(send, P, page, now),
      events: async (page) => {
        await writeEvents(send, P, page, now, epoch);
        revision = Math.max(revision, page[page.length - 1]!.revision);
      },
    });
    await send(['SET', `${P}:rev`, String(revision)]);
    await send(['SET', `${P}:restoredFrom`, `${summary.header.hubId} ${summary.header.epoch} ${summary.header.revision}`]);
    await send(['SET', `${P}:epoch`, epoch]);
    return summary;
  } finally {
    await client.quit().catch(() => client.destroy());
  }
}

/** Keys matching `pattern`: those of the first SCAN page that has any, or (`all`) every one. */
async function keys(send: Send, pattern: string, all = false): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await send<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']);
    out.push(...found);
    if (out.length && !all) return out;
    cursor = next;
  } while (cursor !== '0');
  return [...new Set(out)];
}

async function writeMembers(send: Send, P: string, page: readonly StoredMember[], now: number): Promise<void> {
  const writes: Promise<unknown>[] = [];
  const names: string[] = [];
  const deadlines: string[] = [];
  const reasons: string[] = [];
  for (const m of page) {
    const lv = m.liveness as { kind: string; ttlMs?: number; graceMs?: number };
    const ttl = lv.kind === 'ttl';
    const fields = DURABLE.flatMap((f) => [f, encodeField(m, f)]);
    writes.push(send(['HSET', `${P}:m:${m.id}`, ...fields, 'status', ttl ? 'alive' : 'suspect']));
    names.push(m.name, m.id);
    deadlines.push(String(now + (ttl ? lv.ttlMs ?? 20_000 : lv.graceMs ?? 10_000)), m.id);
    if (!ttl) reasons.push(m.id, m.extra.hubLink ? 'hub-lost' : lv.kind === 'session' ? 'session-lost' : 'expired');
  }
  writes.push(send(['SADD', `${P}:ids`, ...page.map((m) => m.id)]), send(['HSET', `${P}:names`, ...names]), send(['ZADD', `${P}:deadlines`, ...deadlines]));
  if (reasons.length) writes.push(send(['HSET', `${P}:reason`, ...reasons]));
  await Promise.all(writes);
}

/** Each event an entry of its own, as a hub's change without puts: ID and first revision the event's. */
async function writeEvents(send: Send, P: string, page: readonly StoredEvent[], now: number, epoch: string): Promise<void> {
  await Promise.all(page.map((e) => {
    const body = changeArgs({ puts: [], deletes: [], events: [draftOf(e)] }, '').args[1]!;
    return send(['XADD', `${P}:events`, `${e.revision}-0`, 'k', 'c', 't', '', 'b', body, 'r', String(e.revision), 'at', String(now), 'e', epoch]);
  }));
}

/** The event without its revision, as the store takes a change's events (`withRevision` puts it back). */
function draftOf(e: StoredEvent): string {
  const head = `{"revision":${e.revision},`;
  if (e.json.startsWith(head)) return `{${e.json.slice(head.length)}`;
  const { revision: _r, ...rest } = JSON.parse(e.json) as Record<string, unknown>;
  return JSON.stringify(rest);
}
