/**
 * The store several hubs share, in Redis. A change is decided by the apply script (conditions,
 * names, revisions, deadlines: atomic in Redis), appended to the change stream, and reaches every
 * hub through its reader, which tails the stream in order; a hub's own change resolves when its
 * reader has fed it, so the writer hears back after its watchers saw the change. Heartbeats are
 * one pipelined ZADD. A Redis that does not answer within the command timeout makes writes fail
 * with STORE_UNAVAILABLE (and the hub unhealthy), never hang.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Logger } from 'pino';
import { MusterError, isErrorCode } from '../errors.js';
import type { Applied, Change, SharedDeadlines, Store, StoreSnapshot, StoredEvent, StoredMember } from '../store/store.js';
import { appliedOf, memberOf, pairsToRecord, wirePut, type RawEntry } from './entries.js';
import { APPLY } from './scripts.js';
import { answered, Scripts } from './redis-scripts.js';

export type RedisClient = ReturnType<typeof createClient>;

export interface RedisStoreOptions {
  url: string;
  /** Key prefix; two clusters may share one Redis with different prefixes. */
  prefix: string;
  hubId: string;
  eventRetention: number;
  /** A command not answered within this fails STORE_UNAVAILABLE. */
  commandTimeoutMs: number;
  log: Logger;
}

const READ_BLOCK_MS = 1_000;
const READ_COUNT = 1_000;

type StreamEntries = [string, string[]][];
/** XREAD's reply: RESP3 gives a map of stream -> entries, RESP2 a list of [stream, entries]. */
type StreamReply = Record<string, StreamEntries> | [string, StreamEntries][] | null;

function entriesOf(reply: StreamReply): StreamEntries {
  if (!reply) return [];
  if (Array.isArray(reply)) return reply[0]?.[1] ?? [];
  return Object.values(reply)[0] ?? [];
}

interface Waiting {
  change: Change;
  resolve(applied: Applied): void;
  reject(err: unknown): void;
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly deadlines: SharedDeadlines;
  readonly prefix: string;
  readonly #o: RedisStoreOptions;
  readonly #cmd: RedisClient;
  readonly #reader: RedisClient;
  readonly #scripts: Scripts;
  readonly #listeners: ((a: Applied) => void)[] = [];
  /** This hub's changes sent and not yet fed back, by ticket. */
  readonly #waiting = new Map<string, Waiting>();
  readonly #instance = randomUUID();
  #nextTicket = 1;
  #lastId = '0-0';
  #closed = false;
  #reading: Promise<void> | null = null;
  /** Round trips to Redis (for /metrics) and the last time the reader heard from Redis. */
  readonly stats = { commands: 0, failures: 0, fed: 0, lastRead: Date.now(), feedLagMs: 0 };

  constructor(options: RedisStoreOptions) {
    this.#o = options;
    this.prefix = `{${options.prefix}}`;
    // RESP2: replies as plain arrays (HGETALL, XREAD), the shapes the scripts and readers expect.
    const common = { url: options.url, RESP: 2 as const, socket: { connectTimeout: options.commandTimeoutMs, reconnectStrategy: (n: number) => Math.min(50 * 2 ** n, 1_000) } };
    // Commands fail at once while Redis is away, rather than queueing without bound.
    this.#cmd = createClient({ ...common, disableOfflineQueue: true });
    this.#reader = this.#cmd.duplicate();
    for (const c of [this.#cmd, this.#reader]) c.on('error', (err: unknown) => options.log.debug({ err }, 'redis connection error'));
    this.#scripts = new Scripts(this.#cmd, options.commandTimeoutMs);
    this.deadlines = {
      touch: (id, at) => {
        // XX: a member removed meanwhile is not brought back by a late heartbeat.
        // Fire and forget, no timer: a lost heartbeat is what the ttl is there for.
        this.stats.commands++;
        this.#cmd.sendCommand(['ZADD', `${this.prefix}:deadlines`, 'XX', String(at), id]).catch(() => { this.stats.failures++; });
      },
    };
  }

  /** The client for commands, shared with the cluster's other services (leases, the bus). */
  get client(): RedisClient {
    return this.#cmd;
  }

  get healthy(): boolean {
    return this.#cmd.isReady && Date.now() - this.stats.lastRead < READ_BLOCK_MS * 3;
  }

  async open(): Promise<StoreSnapshot> {
    await Promise.all([this.#cmd.connect(), this.#reader.connect()]);
    const P = this.prefix;
    await this.#send(['SET', `${P}:epoch`, randomUUID(), 'NX']);
    const epoch = await this.#send<string>(['GET', `${P}:epoch`]);
    // The stream's end first: changes after it come through the reader; what the snapshot misses, it brings.
    const tail = await this.#send<[string, string[]][]>(['XREVRANGE', `${P}:events`, '+', '-', 'COUNT', String(this.#o.eventRetention)]);
    this.#lastId = tail[0]?.[0] ?? '0-0';
    const ids = await this.#send<string[]>(['SMEMBERS', `${P}:ids`]);
    const hashes = await Promise.all(ids.map((id) => this.#send<string[]>(['HGETALL', `${P}:m:${id}`])));
    const members: StoredMember[] = [];
    ids.forEach((id, i) => { if (hashes[i]!.length) members.push(memberOf(id, pairsToRecord(hashes[i]!))); });
    const events: StoredEvent[] = [];
    for (const [, fields] of [...tail].reverse()) events.push(...appliedOf(pairsToRecord(fields) as unknown as RawEntry).applied.events);
    const revision = Number(this.#lastId.split('-')[0]);
    this.#reading = this.#read();
    return { members, events: events.slice(-this.#o.eventRetention), position: { revision, epoch: epoch ?? '' } };
  }

  async apply(change: Change): Promise<Applied> {
    if (change.events.length === 0) throw new MusterError('INTERNAL', 'A change without events takes no revision');
    const ticket = `${this.#o.hubId}:${this.#instance}:${this.#nextTicket++}`;
    const wire = { puts: change.puts.map(wirePut), deletes: change.deletes, events: change.events, conditions: change.conditions ?? {}, origin: change.origin, ticket };
    const fed = new Promise<Applied>((resolve, reject) => this.#waiting.set(ticket, { change, resolve, reject }));
    fed.catch(() => {});
    let answer: [string, string | number];
    try {
      this.stats.commands++;
      answer = await this.#scripts.run<[string, string | number]>(APPLY, [this.prefix, JSON.stringify(wire), String(Date.now()), String(this.#o.eventRetention)]);
    } catch (err) {
      this.stats.failures++;
      this.#waiting.delete(ticket);
      throw err;
    }
    if (answer[0] !== 'OK') {
      this.#waiting.delete(ticket);
      const code = isErrorCode(answer[0]) ? answer[0] : 'INTERNAL';
      throw new MusterError(code, code === 'NAME_TAKEN' ? `The name ${answer[1]} is taken` : `Refused: ${code} ${answer[1]}`, { detail: answer[1] });
    }
    return fed;
  }

  feed(listener: (applied: Applied) => void): void {
    this.#listeners.push(listener);
  }

  /** Tails the change stream from where the snapshot ended, for as long as the store is open. */
  async #read(): Promise<void> {
    const key = `${this.prefix}:events`;
    while (!this.#closed) {
      let reply: StreamReply;
      try {
        reply = await this.#reader.sendCommand<StreamReply>(['XREAD', 'COUNT', String(READ_COUNT), 'BLOCK', String(READ_BLOCK_MS), 'STREAMS', key, this.#lastId]);
      } catch (err) {
        if (this.#closed) return;
        this.#o.log.warn({ err: (err as Error).message }, 'reading the change stream failed; retrying');
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      this.stats.lastRead = Date.now();
      for (const [id, fields] of entriesOf(reply)) this.#entry(id, fields);
    }
  }

  #entry(id: string, fields: string[]): void {
    this.#lastId = id;
    const raw = pairsToRecord(fields) as unknown as RawEntry;
    const { applied, ticket } = appliedOf(raw);
    this.stats.fed++;
    this.stats.feedLagMs = Math.max(0, Date.now() - Number(raw.at));
    // This hub's own change: hand back the very object the registry sent, so it knows it.
    const mine = ticket === undefined ? undefined : this.#waiting.get(ticket);
    const out = mine ? { change: mine.change, events: applied.events } : applied;
    for (const l of this.#listeners) l(out);
    if (mine) {
      this.#waiting.delete(ticket!);
      mine.resolve(out);
    }
  }

  /** A command with the store's timeout; any failure to get an answer is STORE_UNAVAILABLE. */
  #send<T>(args: string[]): Promise<T> {
    this.stats.commands++;
    return answered(this.#cmd.sendCommand<T>(args), this.#o.commandTimeoutMs).catch((err: unknown) => {
      this.stats.failures++;
      throw err instanceof MusterError ? err : new MusterError('STORE_UNAVAILABLE', `Redis did not answer: ${(err as Error).message}`);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.values()) w.reject(new MusterError('SHUTTING_DOWN'));
    this.#waiting.clear();
    await Promise.allSettled([this.#cmd.quit(), this.#reader.disconnect()]);
    await this.#reading?.catch(() => {});
  }
}
