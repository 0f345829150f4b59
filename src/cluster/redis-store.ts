/**
 * The store several hubs share, in Redis. A change is decided by the apply script (conditions,
 * names, revisions, deadlines: atomic in Redis), appended to the change stream, and reaches every
 * hub through its reader, which tails the stream in order; a hub's own change resolves when its
 * reader has fed it, so the writer hears back after its watchers saw the change. Heartbeats are
 * one pipelined ZADD (touches.ts). A Redis that does not answer within the command timeout makes writes fail
 * with STORE_UNAVAILABLE (and the hub unhealthy), never hang.
 *
 * A Redis wiped (FLUSHALL, or restarted without its data) has lost the history: its epoch key is
 * gone or another hub already named a new one. The reader notices (the key checked every second,
 * and every entry names its epoch, so an entry of another history is never fed as this one), the
 * apply script refuses this hub's changes meanwhile (EPOCH, answered STORE_UNAVAILABLE), and the
 * store joins the new history: it loads it as at open, fails the changes lost with the old one,
 * and hands the new snapshot to its `restarted` listeners (the registry puts its own members again).
 *
 * Revisions follow each other in the stream; a jump means entries were trimmed before this hub read
 * them, unless the last one it read is still there (a new history's raised revisions): see #checkJump.
 * The store is then loaded whole again (#loadAgain, paced by reload-pacing.ts), for `resynced` listeners.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Logger } from 'pino';
import { MusterError, isErrorCode } from '../errors.js';
import type { ReadBacklog } from '../store/commit-hold.js';
import type { Applied, Change, Store, StoreExport, StoreSnapshot } from '../store/store.js';
import { appliedOf, entriesOf, entryOf, eventsOf, type StreamReply } from './entries.js';
import { connectClients, type RedisClient } from './redis-connect.js';
import { readShared } from './redis-snapshot.js';
import { changeArgs } from './change-wire.js';
import { CHECK_EPOCH, RAISE } from './scripts.js';
import { ApplyBatches, type Answer } from './apply-batches.js';
import { exportCluster } from './redis-export.js';
import { redisFailure, Scripts } from './redis-scripts.js';
import { ReplyWatch } from './reply-watch.js';
import { ReloadPacing } from './reload-pacing.js';
import { PendingTouches } from './touches.js';
import { lostInGap, WaitingChanges } from './waiting-changes.js';

export type { RedisClient };

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
/** How often the reader checks that the store still holds this hub's history (the epoch key). */
const EPOCH_CHECK_MS = 1_000;
/**
 * A new history's revisions start at least this far above the old one's as this hub knew it:
 * hubs that were fed a little further (the lag between hubs) still find no revision of the old
 * history in the new, so even a `since` passed without its epoch answers COMPACTED.
 */
const EPOCH_GAP = 1_000;

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly deadlines: PendingTouches;
  readonly prefix: string;
  readonly #o: RedisStoreOptions;
  readonly #cmd: RedisClient;
  readonly #reader: RedisClient;
  /** Every command's deadline (one timer for all), shared with the cluster's other services. */
  readonly watch: ReplyWatch;
  readonly scripts: Scripts;
  readonly #listeners: ((a: Applied) => void)[] = [];
  readonly #restartListeners: ((snapshot: StoreSnapshot) => void)[] = [];
  readonly #resyncListeners: ((snapshot: StoreSnapshot) => void)[] = [];
  /** This hub's changes sent and not yet fed back, by ticket. */
  readonly #waiting = new WaitingChanges();
  /** Changes of this turn go to Redis together (group commit). */
  readonly #batches: ApplyBatches;
  readonly #instance = randomUUID();
  #nextTicket = 1;
  #lastId = '0-0';
  /** The revision the feed has reached: an entry must begin right after it. */
  #fedTo = 0;
  /** The first revision of an entry that did not begin right after #fedTo (checked before the next read). */
  #jump: number | null = null;
  /** Set once entries were trimmed before this hub read them: what /healthz says until the store is loaded whole again. */
  #behind: string | null = null;
  /** Entries were trimmed before this hub read them: when the store is loaded whole again. */
  readonly #reloads = new ReloadPacing();
  /** The history this hub follows; '' until open. */
  #epoch = '';
  #epochCheckedAt = 0;
  /** Set when something hinted that the store holds another history (a refused change, an entry of another epoch). */
  #epochDoubted = false;
  /** The last entry read that named another epoch (not fed). */
  #foreign: string | null = null;
  #closed = false;
  #reading: Promise<void> | null = null;
  /** Round trips to Redis (for /metrics), the last time the reader heard from Redis, new histories joined. */
  readonly stats = { commands: 0, failures: 0, fed: 0, lastRead: Date.now(), feedLagMs: 0, epochs: 0, gaps: 0 };

  constructor(options: RedisStoreOptions) {
    this.#o = options;
    this.prefix = `{${options.prefix}}`;
    // RESP2: replies as plain arrays (HGETALL, XREAD), the shapes the scripts and readers expect.
    const common = { url: options.url, RESP: 2 as const, socket: { connectTimeout: options.commandTimeoutMs, reconnectStrategy: (n: number) => Math.min(50 * 2 ** n, 1_000) } };
    // Commands fail at once while Redis is away, rather than queueing without bound. No command
    // timeout of node-redis's (a timer per command): the reply watch bounds every wait instead.
    this.#cmd = createClient({ ...common, disableOfflineQueue: true, commandOptions: { timeout: 0 } });
    this.#reader = this.#cmd.duplicate();
    for (const c of [this.#cmd, this.#reader]) c.on('error', (err: unknown) => options.log.debug({ err }, 'redis connection error'));
    this.watch = new ReplyWatch(options.commandTimeoutMs);
    this.scripts = new Scripts(this.#cmd, this.watch, this.stats);
    this.#batches = new ApplyBatches({
      scripts: this.scripts, prefix: this.prefix, eventRetention: options.eventRetention, epoch: () => this.#epoch,
      // Written in the history this hub follows now: lost with it if the store is wiped before they are fed.
      sending: (tickets, epoch) => this.#waiting.wroteIn(tickets, epoch),
    });
    this.deadlines = new PendingTouches(`${this.prefix}:deadlines`, (args) => this.#send(args));
  }

  /** The client for commands, shared with the cluster's other services (leases, the bus). */
  get client(): RedisClient {
    return this.#cmd;
  }

  get healthy(): boolean {
    return this.#cmd.isReady && Date.now() - this.stats.lastRead < READ_BLOCK_MS * 3;
  }

  async open(): Promise<StoreSnapshot> {
    await connectClients([this.#cmd, this.#reader], this.#o.url, this.#o.commandTimeoutMs);
    const snapshot = await this.#snapshot();
    this.#reading = this.#read();
    return snapshot;
  }

  holdCommitsFor(backlog: ReadBacklog): void {
    this.#batches.holdFor(backlog);
  }

  /** Shared store: called when the store was wiped and this hub joined its new history. */
  restarted(listener: (snapshot: StoreSnapshot) => void): void {
    this.#restartListeners.push(listener);
  }

  /** Shared store: called when this hub fell behind the change stream and loaded the store whole again. */
  resynced(listener: (snapshot: StoreSnapshot) => void): void {
    this.#resyncListeners.push(listener);
  }

  /**
   * What the store holds now, in the history it names (one is named if there is none); the reader
   * goes on from its end. Joining a new history, `after` is the old one's revision as this hub knew it.
   */
  async #snapshot(after = 0): Promise<StoreSnapshot> {
    const P = this.prefix;
    await this.#send(['SET', `${P}:epoch`, randomUUID(), 'NX']);
    const epoch = (await this.#send<string | null>(['GET', `${P}:epoch`])) ?? '';
    const raised = after > 0 ? Number(await this.scripts.run<string>(RAISE, [P, String(after + EPOCH_GAP)])) : 0;
    const { lastId, members, events } = await readShared((args) => this.#send(args), P, epoch, this.#o.eventRetention);
    this.#epoch = epoch;
    this.#epochCheckedAt = Date.now();
    this.#epochDoubted = false;
    this.#foreign = null;
    this.#lastId = lastId;
    const revision = Math.max(Number(lastId.split('-')[0]), raised);
    this.#fedTo = revision;
    return { members, events, position: { revision, epoch } };
  }

  async apply(change: Change): Promise<Applied> {
    if (change.events.length === 0) throw new MusterError('INTERNAL', 'A change without events takes no revision');
    const ticket = `${this.#o.hubId}:${this.#instance}:${this.#nextTicket++}`;
    const wire = changeArgs(change, ticket);
    // The script sets the deadline of a member it writes whole: a heartbeat of this turn need not.
    for (const id of wire.wholeIds) this.deadlines.forget(id);
    const fed = this.#waiting.add(ticket, change, this.#epoch);
    let answer: Answer;
    try {
      answer = await this.#batches.apply(wire);
    } catch (err) {
      this.#waiting.delete(ticket);
      throw err;
    }
    if (answer[0] !== 'OK') {
      this.#waiting.delete(ticket);
      if (answer[0] === 'EPOCH') {
        this.#epochDoubted = true;
        throw new MusterError('STORE_UNAVAILABLE', 'The shared store lost its history (Redis was wiped); this hub is joining the new one: try again', { retryAfterMs: EPOCH_CHECK_MS });
      }
      const code = isErrorCode(answer[0]) ? answer[0] : 'INTERNAL';
      const details = answer[2] === undefined ? { detail: answer[1] } : { detail: answer[1], registeredAt: Number(answer[2]) };
      throw new MusterError(code, code === 'NAME_TAKEN' ? `The name ${answer[1]} is taken` : `Refused: ${code} ${answer[1]}`, details);
    }
    const waiting = this.#waiting.get(ticket);
    if (waiting) {
      waiting.first = Number(answer[1]);
      // The feed went past it without it: it was trimmed from the stream before this hub read it.
      if (waiting.first <= this.#fedTo) {
        this.#waiting.delete(ticket);
        throw lostInGap();
      }
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
        if (this.#epochDoubted || Date.now() - this.#epochCheckedAt >= EPOCH_CHECK_MS) await this.#checkEpoch();
        if (this.#jump !== null) await this.#checkJump(key, this.#jump);
        if (this.#reloads.due(Date.now())) await this.#loadAgain();
        reply = await this.#reader.sendCommand<StreamReply>(['XREAD', 'COUNT', String(READ_COUNT), 'BLOCK', String(READ_BLOCK_MS), 'STREAMS', key, this.#lastId]);
      } catch (err) {
        if (this.#closed) return;
        this.#o.log.warn({ err: (err as Error).message }, 'reading the change stream failed; retrying');
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      this.stats.lastRead = Date.now();
      for (const [id, fields] of entriesOf(reply)) if (!this.#entry(id, fields)) break;
    }
  }

  /** Joins the store's new history if it no longer holds this hub's. */
  async #checkEpoch(): Promise<void> {
    // A Redis back with less than this hub has read (restarted from an older snapshot, or an
    // fsync window lost) keeps its epoch key but lost history: the script names a new epoch then.
    const known = Number(this.#lastId.split('-')[0]);
    const now = await this.scripts.run<string | null>(CHECK_EPOCH, [this.prefix, this.#epoch, String(known), randomUUID()]);
    this.#epochCheckedAt = Date.now();
    if (now === this.#epoch) {
      // Still this history: an entry that named another one (written while the key was gone) is passed over.
      if (this.#foreign !== null) this.#lastId = this.#foreign;
      this.#foreign = null;
      this.#epochDoubted = false;
      return;
    }
    const old = this.#epoch;
    const snapshot = await this.#snapshot(Number(this.#lastId.split('-')[0]));
    this.stats.epochs++;
    this.#o.log.warn({ old, epoch: snapshot.position.epoch, members: snapshot.members.length }, 'the shared store lost its history (Redis wiped?); joined its new one');
    // Changes written into the old history and not fed back went with it.
    this.#waiting.fail((w) => w.epoch !== snapshot.position.epoch, () => new MusterError('STORE_UNAVAILABLE', 'The shared store lost its history (Redis was wiped) before this change reached every hub: try again', { retryAfterMs: EPOCH_CHECK_MS }));
    this.#reloads.cancel();
    this.#behind = null;
    for (const l of this.#restartListeners) l(snapshot);
  }

  /**
   * The revisions jumped. If the last entry read is still in the stream, nothing after it was
   * trimmed (a new history raised the revisions). Else entries were trimmed before this hub read
   * them: its copy may miss those changes, which /healthz says until the store is loaded whole
   * again (#loadAgain, before a read once ReloadPacing says so); its own changes among them,
   * never to be fed, are answered now.
   */
  async #checkJump(key: string, first: number): Promise<void> {
    const kept = this.#lastId === '0-0' ? [undefined] : await this.#send<unknown[]>(['XRANGE', key, this.#lastId, this.#lastId]);
    this.#jump = null;
    if (kept.length === 0) {
      this.stats.gaps++;
      this.#behind ??= `This hub fell behind the shared store's change stream (entries before revision ${first} were trimmed before it read them) and may not show those changes until it has loaded the store whole again`;
      const inMs = this.#reloads.fellBehind(Date.now());
      this.#o.log.error({ revision: first, lastRead: this.#lastId, reloadInMs: inMs }, 'fell behind the change stream: entries were trimmed before this hub read them; loading the store whole again');
      this.#waiting.failLostUpTo(first - 1);
    }
    this.#fedTo = first - 1;
  }

  /**
   * After a gap: the store's members and last events as they are now (the same history; a new one
   * is joined by #checkEpoch instead), the feed going on from there. This hub's changes applied
   * before that point are in the snapshot and will not be fed: they are answered as lost in the gap.
   */
  async #loadAgain(): Promise<void> {
    await this.#checkEpoch();
    if (!this.#reloads.wanted) return; // a new history was joined, whole
    const snapshot = await this.#snapshot();
    this.#reloads.loaded(Date.now());
    this.#waiting.failLostUpTo(this.#fedTo);
    // Their callers settle first (a registration refused leaves the index), so the snapshot's record of them is what stays.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#closed) return;
    this.#o.log.warn({ revision: snapshot.position.revision, members: snapshot.members.length }, 'loaded the shared store whole again after falling behind its change stream');
    for (const l of this.#resyncListeners) l(snapshot);
    this.#behind = null;
  }

  failure(): string | null {
    return this.#behind;
  }

  /** Feeds one entry; false (nothing fed) for an entry of another history (the epoch is checked first) or past a jump in revisions. */
  #entry(id: string, fields: string[]): boolean {
    const raw = entryOf(fields);
    if (raw.e !== undefined && raw.e !== this.#epoch) {
      this.#epochDoubted = true;
      this.#foreign = id;
      return false;
    }
    const first = Number(raw.r);
    if (first > this.#fedTo + 1) {
      this.#jump = first;
      return false;
    }
    this.#lastId = id;
    this.#fedTo = Math.max(this.#fedTo, parseInt(id, 10));
    this.stats.fed++;
    this.stats.feedLagMs = Math.max(0, Date.now() - Number(raw.at));
    // This hub's own change (known by its ticket, its body unread): hand back the very object the registry sent.
    const mine = raw.t === undefined ? undefined : this.#waiting.get(raw.t);
    let out: Applied;
    if (mine) out = { change: mine.change, events: eventsOf(mine.change.events, Number(raw.r)) };
    else {
      try {
        out = appliedOf(raw).applied;
      } catch (err) {
        // Written by something else than a hub of this version: passed over (and said), not the end of the reader.
        this.#o.log.error({ err: (err as Error).message, entry: id }, 'a change stream entry could not be read; passed over');
        return true;
      }
    }
    for (const l of this.#listeners) l(out);
    if (mine) {
      this.#waiting.delete(raw.t!);
      mine.resolve(out);
    }
    return true;
  }

  /** The registry and kept events at one revision, while every hub goes on writing (redis-export.ts says how). */
  export(): Promise<StoreExport> {
    return exportCluster({ prefix: this.prefix, eventRetention: this.#o.eventRetention, send: (args) => this.#send(args), scripts: this.scripts });
  }

  /** A command with the store's timeout; any failure to get an answer is STORE_UNAVAILABLE. */
  send<T>(args: string[]): Promise<T> {
    return this.#send<T>(args);
  }

  #send<T>(args: string[]): Promise<T> {
    this.stats.commands++;
    return this.watch.answered(this.#cmd.sendCommand<T>(args)).catch((err: unknown) => {
      this.stats.failures++;
      throw redisFailure(err);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.deadlines.close();
    this.#batches.close(new MusterError('SHUTTING_DOWN'));
    this.#waiting.failAll(new MusterError('SHUTTING_DOWN'));
    this.watch.close();
    // The reader is cut at once (it only reads); commands still out get the timeout to finish,
    // not more: a Redis that is gone or frozen must not hold up the hub's exit.
    if (this.#reader.isOpen) this.#reader.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#cmd.close().catch(() => {}),
      new Promise((r) => { timer = setTimeout(r, this.#o.commandTimeoutMs); }),
    ]);
    clearTimeout(timer);
    if (this.#cmd.isOpen) this.#cmd.destroy();
    await this.#reading?.catch(() => {});
  }
}
