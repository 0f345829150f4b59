/**
 * The bus across the hubs of a cluster, over Redis pub/sub: each hub listens on a channel of its
 * own and tells the others which scopes its subscribers want. A publication crosses Redis once per
 * hub that wants it (encoded once, the same bytes to each), and what goes to one hub in one turn
 * of the event loop goes as one PUBLISH; sends, requests and lifecycle commands to a member
 * another hub holds go to that hub's channel, and answers come back on the asker's.
 * Redis pub/sub delivers at most once: a message published while a hub's subscription is down is
 * lost; requests time out instead. What this hub knows it lost is counted by reason (`dropped`):
 * past the bound of PUBLISHes waiting for Redis, a PUBLISH Redis refused or no hub listened to,
 * and what arrived for a member no longer here.
 */
import type { BusMessage, BusPayload } from '../core/bus/message.js';
import type { Relay } from '../core/bus/relay.js';
import { parseScope, type Scope } from '../core/bus/scope.js';
import { SubscriptionTrie } from '../core/bus/subscriptions.js';
import type { Control } from '../core/control/control.js';
import type { BusAdapter, BusRequest, ControlAdapter, LifecycleCommand, SendResult, Siblings } from '../core/ports.js';
import { ForwardParams } from '../schemas/federation.js';
import { validate } from '../schemas/validate.js';
import { asMemberError, isErrorCode, MusterError, PeerError, toMusterError } from '../errors.js';
import { codecs, messageOf, NO_DROPS, payloadOf, PING, wirePayload, type Envelope, type WirePayload } from './bus-envelopes.js';
export type { BusDropReason } from './bus-envelopes.js';
import type { RedisClient } from './redis-store.js';
import { IdTable } from '../core/id-table.js';
import { BusOutbox } from './bus-outbox.js';

export interface ClusterBusOptions {
  hubId: string;
  prefix: string;
  /** For its subscriber connection (a duplicate of it). */
  client: RedisClient;
  /** A command, answered within the store's timeout or failed (STORE_UNAVAILABLE). */
  send<T>(args: string[]): Promise<T>;
  relay: Relay;
  control: Control;
  /** The hubs of the cluster now (kept by the leases). */
  hubs: () => ReadonlyMap<string, unknown>;
  /** A hub joined or left the list (told on the list's channel): read the list again. */
  hubsChanged: () => void;
  /** The federation: hubs registered with one hub of the cluster are reached from them all. */
  tree: TreeSide;
}

/** The federation as the cluster bus serves it. */
export interface TreeSide {
  /** Runs a federation call another hub of the cluster passed here (for a hub registered with this one, or below it). */
  forward(call: ForwardParams): Promise<unknown>;
  /** The hub of the cluster holding the link to hub `hubId`, if one does. */
  heldBy(hubId: string): string | null;
  /** A tree-wide publication from another hub of the cluster, for this hub's children. */
  fromCluster(message: BusMessage, scope: Scope): void;
}

export class ClusterBus implements BusAdapter, ControlAdapter, Siblings {
  readonly name = 'cluster';
  readonly #o: ClusterBusOptions;
  readonly #sub: RedisClient;
  /** What every other hub asked for, as subscriptions of that hub (routing is the usual trie walk). */
  readonly #wanted = new SubscriptionTrie<{ hub: string }>({ maxPerReceiver: 100_000 });
  readonly #hubKeys = new Map<string, { hub: string }>();
  /** What each other hub asked for, as it said it (for the federation: what its children are asked for). */
  readonly #hubScopes = new Map<string, readonly string[]>();
  readonly #wantedListeners: (() => void)[] = [];
  /** Tree-wide scopes this hub's children want, told with its own subscribers'. */
  #below: readonly string[] = [];
  readonly #route: { hub: string }[] = [];
  /** This hub's subscriptions per scope, told to the others when the set changes. */
  readonly #local = new Map<string, number>();
  /** Questions to other hubs awaiting their replies; not a Map (id-table.ts). */
  readonly #pending = new IdTable<{ readonly id: number; resolve(v: Envelope & { t: 'rep' }): void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  #tellScheduled = false;
  /** Cross-hub traffic, for /metrics (pings to itself included in sent and received). */
  readonly stats = { sent: 0, received: 0, timeouts: 0, lastHeard: Date.now(), resubscribed: 0, dropped: { ...NO_DROPS } };
  #watchdog: NodeJS.Timeout | undefined;
  /** Envelopes to other hubs, one PUBLISH per hub and turn, bounded (bus-outbox.ts). */
  readonly #outbox: BusOutbox;

  constructor(options: ClusterBusOptions) {
    this.#o = options;
    this.#outbox = new BusOutbox(options.send, options.prefix, this.stats);
    this.#sub = options.client.duplicate();
    this.#sub.on('error', () => { /* reconnects by itself */ });
  }

  /** This hub's own channel. */
  get #me(): string { return `${this.#o.prefix}:bus:${this.#o.hubId}`; }

  async start(): Promise<void> {
    await this.#sub.connect();
    // node-redis subscribes again after a reconnect.
    await this.#subscribe();
    const all = await this.#o.send<string[]>(['HGETALL', `${this.#o.prefix}:interest`]);
    for (let i = 0; i + 1 < all.length; i += 2) if (all[i] !== this.#o.hubId) this.#declare(all[i]!, JSON.parse(all[i + 1]!) as string[]);
    this.#tell();
    this.#watchdog = setInterval(() => this.#check(), PING_EVERY_MS);
    this.#watchdog.unref();
  }

  /** The subscription is alive while this hub hears its own pings (a subscription can die without a word). */
  get healthy(): boolean {
    return Date.now() - this.stats.lastHeard < SILENT_AFTER_MS;
  }

  #check(): void {
    if (!this.healthy && this.#sub.isOpen) {
      // Silent for too long: drop the connection; node-redis reconnects and subscribes again.
      this.stats.resubscribed++;
      this.stats.lastHeard = Date.now();
      void this.#sub.disconnect().then(() => this.#sub.connect()).then(() => this.#subscribe()).catch(() => {});
    }
    this.#outbox.publish(this.#o.hubId, PING);
  }

  async #subscribe(): Promise<void> {
    await this.#sub.subscribe(this.#me, (text) => this.#received(text));
    await this.#sub.subscribe(`${this.#o.prefix}:interest`, (hub) => void this.#readInterest(hub));
    await this.#sub.subscribe(`${this.#o.prefix}:hubs`, () => this.#o.hubsChanged());
    // What changed while not subscribed (at start, or while the subscription was down).
    this.#o.hubsChanged();
  }

  async stop(): Promise<void> {
    clearInterval(this.#watchdog);
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    await this.#o.send(['HDEL', `${this.#o.prefix}:interest`, this.#o.hubId]).catch(() => {});
    // Nothing to flush on a subscriber; a graceful QUIT would wait for a Redis that may be gone.
    this.#sub.destroy();
  }

  /** A hub is in the cluster's list again (or for the first time): what it wants is read again. */
  hubJoined(hub: string): void {
    void this.#readInterest(hub);
  }

  /** The store was wiped (the interest of every hub with it): tell the others again what this hub wants. */
  retell(): void {
    this.#tell();
  }

  /** A hub left the cluster: its interest goes with it. */
  forget(hub: string): void {
    const key = this.#hubKeys.get(hub);
    if (key) this.#wanted.removeReceiver(key);
    this.#hubKeys.delete(hub);
    if (this.#hubScopes.delete(hub)) for (const l of this.#wantedListeners) l();
  }

  // ---- BusAdapter ----------------------------------------------------------------------

  reaches(hubId: string): boolean {
    return this.#o.hubs().has(hubId);
  }

  /** A hub of the cluster, or one registered with another hub of it, is nearest through the cluster. */
  leadsTo(hubId: string): boolean {
    if (this.#o.hubs().has(hubId)) return true;
    const holder = this.#o.tree.heldBy(hubId);
    return holder !== null && this.has(holder);
  }

  wants(scope: Scope): boolean {
    if (this.#wanted.size === 0) return false;
    const n = this.#wanted.route(scope, null, this.#route).length;
    this.#route.length = 0;
    return n > 0;
  }

  published(message: BusMessage): void {
    const hubs = this.#wanted.route(parseScope(message.scope!), null, this.#route);
    const text = message.encoded(codecs.pub);
    for (const h of hubs) this.#outbox.publish(h.hub, text);
    hubs.length = 0;
  }

  broadcast(message: BusMessage): void {
    const text = message.encoded(codecs.bc);
    for (const hub of this.#o.hubs().keys()) if (hub !== this.#o.hubId) this.#outbox.publish(hub, text);
  }

  interest(scope: Scope, delta: 1 | -1): void {
    const n = (this.#local.get(scope.text) ?? 0) + delta;
    const changed = n <= 0 ? this.#local.delete(scope.text) : (this.#local.set(scope.text, n), n === 1 && delta === 1);
    if (changed) this.#scheduleTell();
  }

  #scheduleTell(): void {
    if (this.#tellScheduled) return;
    this.#tellScheduled = true;
    setImmediate(() => this.#tell());
  }

  /** Sent at most once: `delivered` counts the hub it was handed to, not the member. */
  async send(hubId: string, _name: string, message: BusMessage): Promise<SendResult> {
    this.#outbox.publish(hubId, message.encoded(codecs.send));
    return { seq: message.seq, delivered: 1 };
  }

  async request(hubId: string, name: string, req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    const reply = await this.#ask(hubId, (id) => ({ t: 'req', id, from: req.from, to: name, method: req.method, p: wirePayload(req.payload), timeoutMs, replyTo: this.#o.hubId }), timeoutMs);
    return payloadOf(reply.p);
  }

  // ---- ControlAdapter ------------------------------------------------------------------

  async command(hubId: string, name: string, kind: LifecycleCommand['type'], config: Record<string, unknown>, timeoutMs: number | undefined): Promise<unknown> {
    const wait = (timeoutMs ?? this.#o.control.timeoutMs) + ANSWER_MARGIN_MS;
    return (await this.#ask(hubId, (id) => ({ t: 'ctl', id, name, kind, config, timeoutMs, replyTo: this.#o.hubId }), wait)).value;
  }

  // ---- Siblings (the federation's way to hubs registered with another hub of the cluster) ---

  has(hubId: string): boolean {
    return hubId !== this.#o.hubId && this.#o.hubs().has(hubId);
  }

  async forward(hubId: string, call: ForwardParams, timeoutMs: number): Promise<unknown> {
    return (await this.#ask(hubId, (id) => ({ t: 'fwd', id, call, timeoutMs, replyTo: this.#o.hubId }), timeoutMs)).value;
  }

  wanted(): string[] {
    return [...new Set([...this.#hubScopes.values()].flat())];
  }

  onWanted(changed: () => void): void {
    this.#wantedListeners.push(changed);
  }

  wantBelow(scopes: readonly string[]): void {
    this.#below = [...scopes];
    this.#scheduleTell();
  }

  passOn(message: BusMessage): void {
    this.published(message);
  }

  // ---- internals -----------------------------------------------------------------------

  async #ask(hubId: string, build: (id: number) => Envelope, timeoutMs: number): Promise<Envelope & { t: 'rep' }> {
    const id = this.#nextId++;
    const reply = await new Promise<Envelope & { t: 'rep' }>((resolve, reject) => {
      const p = {
        id, resolve,
        timer: setTimeout(() => {
          this.#pending.delete(p);
          this.stats.timeouts++;
          reject(new MusterError('TIMEOUT', `No answer from hub ${hubId} within ${timeoutMs} ms`, { hub: hubId, timeoutMs }));
        }, timeoutMs + ANSWER_MARGIN_MS),
      };
      this.#pending.add(p);
      this.#outbox.publish(hubId, JSON.stringify(build(id)));
    });
    if (reply.ok) return reply;
    const e = reply.error!;
    // A member's own error answer travels as its error object, read on this side as it is on the far one.
    if (e.code === 'MEMBER_ERROR' && e.peer) throw PeerError.from(e.peer);
    throw new MusterError(isErrorCode(e.code) ? e.code : 'INTERNAL', e.message, e.details);
  }

  /** One envelope, or the array of those another hub gathered in one turn. */
  #received(text: string): void {
    this.stats.lastHeard = Date.now();
    let got: Envelope | Envelope[];
    try {
      got = JSON.parse(text) as Envelope | Envelope[];
    } catch {
      this.stats.dropped.unreadable++;
      return;
    }
    if (Array.isArray(got)) for (const e of got) this.#handle(e);
    else this.#handle(got);
  }

  #handle(e: Envelope): void {
    this.stats.received++;
    const relay = this.#o.relay;
    try {
      switch (e.t) {
        case 'pub': {
          const m = messageOf(e.m);
          if (relay.arrivedFarther(m.from, this)) break;
          const scope = parseScope(e.m.s!);
          relay.publishRemote(m, scope, this);
          this.#o.tree.fromCluster(m, scope);
          break;
        }
        case 'send': relay.sendRemote(messageOf(e.m)); break;
        case 'bc': relay.broadcastRemote(messageOf(e.m)); break;
        case 'req':
          this.#answer(e.replyTo, e.id, relay.requestRemote(e.from, e.to, e.method, payloadOf(e.p), e.timeoutMs).then((p) => ({ p: wirePayload(p) })));
          break;
        case 'ctl':
          this.#answer(e.replyTo, e.id, this.#o.control.command(e.name, e.kind, e.config, e.timeoutMs).then((value) => ({ value })));
          break;
        case 'fwd':
          this.#answer(e.replyTo, e.id, Promise.resolve().then(() => this.#o.tree.forward(validate(ForwardParams, e.call, 'hub.forward'))).then((value) => ({ value })));
          break;
        case 'ping': break;
        case 'rep': {
          const p = this.#pending.get(e.id);
          if (!p) return;
          this.#pending.delete(p);
          clearTimeout(p.timer);
          p.resolve(e);
          break;
        }
      }
    } catch {
      // A message for a member that left meanwhile (or has no connection): dropped, as on one hub.
      this.stats.dropped['no-member']++;
    }
  }

  #answer(replyTo: string, id: number, work: Promise<{ p?: WirePayload; value?: unknown }>): void {
    work.then(
      (ok) => this.#outbox.publish(replyTo, JSON.stringify({ t: 'rep', id, ok: true, ...ok })),
      (err: unknown) => {
        const peer = err instanceof MusterError && err.code === 'MEMBER_ERROR' ? (err.details as { error?: unknown } | undefined)?.error : undefined;
        const m = toMusterError(asMemberError(err, ''));
        this.#outbox.publish(replyTo, JSON.stringify({ t: 'rep', id, ok: false, error: { code: m.code, message: m.message, details: m.details, peer } }));
      },
    ).catch(() => {});
  }

  #tell(): void {
    this.#tellScheduled = false;
    const scopes = [...new Set([...this.#local.keys(), ...this.#below])];
    void this.#o.send(['HSET', `${this.#o.prefix}:interest`, this.#o.hubId, JSON.stringify(scopes)])
      .then(() => this.#o.send(['PUBLISH', `${this.#o.prefix}:interest`, this.#o.hubId])).catch(() => {});
  }

  async #readInterest(hub: string): Promise<void> {
    if (hub === this.#o.hubId) return;
    const raw = await this.#o.send<string | null>(['HGET', `${this.#o.prefix}:interest`, hub]).catch(() => null);
    this.#declare(hub, raw ? (JSON.parse(raw) as string[]) : []);
  }

  #declare(hub: string, scopes: string[]): void {
    let key = this.#hubKeys.get(hub);
    if (!key) this.#hubKeys.set(hub, (key = { hub }));
    this.#wanted.removeReceiver(key);
    const taken: string[] = [];
    for (const s of scopes) {
      try { this.#wanted.subscribe(key, parseScope(s)); taken.push(s); } catch { /* a bad scope from a bad peer: ignored */ }
    }
    const before = this.#hubScopes.get(hub);
    this.#hubScopes.set(hub, taken);
    if (before?.join(' ') !== taken.join(' ')) for (const l of this.#wantedListeners) l();
  }
}

/** Each hub pings itself this often; a subscription that heard nothing for SILENT_AFTER_MS is dead. */
const PING_EVERY_MS = 1_000;
const SILENT_AFTER_MS = 3_500;
/** Requests wait this much longer than their own timeout, so the far hub's TIMEOUT arrives first. */
const ANSWER_MARGIN_MS = 1_000;
