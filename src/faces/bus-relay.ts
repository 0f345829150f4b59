/**
 * The relay: the bus service the faces call. A message goes through named phases:
 * authorize (who sends, as which member) → admit (the sender's rate limit) → route (the scope
 * trie, or one member, or every member) → encode once → fan out (each receiver's bounded queue).
 * Decoding and validating are the faces' (bus-ws.ts, bus-http.ts).
 */
import type { HubConfig } from '../config.js';
import { SubscriptionTrie } from '../core/bus.js';
import { splitAddress } from '../core/names.js';
import { SenderLimit, type RateSpec } from '../core/rate-limit.js';
import type { Member, Registry, Session } from '../core/registry.js';
import type { Scope } from '../core/scope.js';
import { MusterError } from '../errors.js';
import { BusRequests } from './bus-requests.js';
import { encodeBinary, encodeMessage, type BusMessage, type BusPayload, type MessageKind } from './bus-codec.js';
import { PeerError } from './ws.js';

/** A session the bus can deliver to (the WebSocket connection implements it). */
export interface BusSession extends Session {
  enqueue(frame: Buffer): void;
  notify(method: string, paramsJson: string): void;
  readonly outboundBytes: number;
  readonly outboundMessages: number;
  /** False once closing: nothing more is queued to it. */
  readonly open: boolean;
  /** Takes binary records instead of JSON notifications. */
  readonly busBinary: boolean;
  close(code?: number, reason?: string): void;
  onClose(listener: () => void): void;
}

export function isBusSession(s: Session | null | undefined): s is BusSession {
  return !!s && typeof (s as Partial<BusSession>).enqueue === 'function';
}

/** Who sends: a member, or the hub itself (admin over HTTP without `from`). */
export interface Sender {
  readonly name: string;
  readonly member: Member | null;
  readonly session: BusSession | null;
}

export interface RelayOptions {
  rateLimits: HubConfig['busRateLimits'];
  queueMessages: number;
  queueBytes: number;
  slowPolicy: HubConfig['busSlowPolicy'];
}

/**
 * Where the relay hands what is not for this hub (federation.ts implements it): sends and
 * requests to `hub/name`, and publications on tree-wide scopes.
 */
export interface RemoteBus {
  send(sender: Sender, hubId: string, name: string, message: BusMessage): Promise<{ seq: number; delivered: number }>;
  request(sender: Sender, hubId: string, name: string, method: string, params: unknown, timeoutMs: number): Promise<unknown>;
  /** True when publications on `scope` travel to other hubs. */
  wants(scope: Scope): boolean;
  /** A publication of this hub's, to pass on to the hubs that want it. */
  published(message: BusMessage): void;
}

export interface BusTotals {
  published: number;
  delivered: number;
  deliveredBytes: number;
  dropped: number;
  throttled: number;
  slowDisconnects: number;
  requests: number;
  requestErrors: number;
}

const MAX_SCOPES_COUNTED = 10_000;
/** Wall-clock ms = ORIGIN + performance.now(): one clock read per message serves every timestamp. */
const ORIGIN = performance.timeOrigin;
const OTHER_SCOPES = '(other)';

export class Relay {
  readonly trie = new SubscriptionTrie<BusSession>({ maxPerReceiver: 1000 });
  readonly totals: BusTotals = { published: 0, delivered: 0, deliveredBytes: 0, dropped: 0, throttled: 0, slowDisconnects: 0, requests: 0, requestErrors: 0 };
  readonly scopeCounts = new Map<string, number>();
  /** Request/reply with members that take binary records. */
  readonly requests = new BusRequests(this);
  readonly #registry: Registry;
  readonly #sessions: () => Iterable<Session>;
  readonly #opts: RelayOptions;
  readonly #limits = new WeakMap<object, SenderLimit>();
  /** Senders currently refused: told once per episode with `bus.throttled`. */
  readonly #throttledSenders = new WeakSet<object>();
  readonly #hubSender = { seq: 0 };
  readonly #watched = new WeakSet<BusSession>();
  readonly #route: BusSession[] = [];
  readonly #subscriptionListeners: ((scope: Scope, delta: 1 | -1) => void)[] = [];
  /** Set by the federation service; without it `hub/name` answers NO_SUCH_HUB. */
  remote: RemoteBus | null = null;

  constructor(registry: Registry, sessions: () => Iterable<Session>, opts: RelayOptions) {
    this.#registry = registry;
    this.#sessions = sessions;
    this.#opts = opts;
  }

  /** The member a session speaks as: its only member, or the one named by `from`. */
  senderOf(session: BusSession, from: string | undefined, token: string | undefined): Sender {
    const mine = this.#registry.sessionMembers(session);
    if (from !== undefined) {
      const m = this.#registry.authorize(from, { token, session });
      return { name: m.name, member: m, session };
    }
    if (mine.size === 1) {
      const m = mine.values().next().value!;
      return { name: m.name, member: m, session };
    }
    if (mine.size > 1) throw new MusterError('INVALID_PARAMS', 'This connection has several members: name the sender with "from"');
    if (this.#registry.isAdmin(token)) return { name: 'hub', member: null, session };
    throw new MusterError('UNAUTHORIZED', 'Register a member on this connection (or present the admin token) before using the bus');
  }

  /** A sender over HTTP: `from` with its token, or the admin token (as `from`, or as the hub). */
  httpSender(from: string | undefined, token: string | undefined): Sender {
    if (from !== undefined) {
      const m = this.#registry.authorize(from, { token });
      return { name: m.name, member: m, session: null };
    }
    if (this.#registry.isAdmin(token)) return { name: 'hub', member: null, session: null };
    throw new MusterError('UNAUTHORIZED', 'Name the sending member with "from" and present its token (or the admin token)');
  }

  subscribe(session: BusSession, scope: Scope, echo: boolean): number {
    const sub = this.trie.subscribe(session, scope, echo);
    if (!this.#watched.has(session)) {
      this.#watched.add(session);
      session.onClose(() => {
        for (const s of this.trie.subscriptionsOf(session)) this.#subscriptionChanged(s.scope, -1);
        this.trie.removeReceiver(session);
      });
    }
    this.#subscriptionChanged(scope, 1);
    return sub.id;
  }

  unsubscribe(session: BusSession, id: number): boolean {
    const sub = this.trie.subscriptionsOf(session).find((s) => s.id === id);
    if (!sub || !this.trie.unsubscribe(session, id)) return false;
    this.#subscriptionChanged(sub.scope, -1);
    return true;
  }

  /** Tells `listener` of every subscription added (+1) or removed (-1): the federation's interest. */
  onSubscription(listener: (scope: Scope, delta: 1 | -1) => void): void {
    this.#subscriptionListeners.push(listener);
  }

  #subscriptionChanged(scope: Scope, delta: 1 | -1): void {
    for (const l of this.#subscriptionListeners) l(scope, delta);
  }

  publish(sender: Sender, scope: Scope, payload: BusPayload, times: { created?: number; sent?: number }): { seq: number; delivered: number } {
    const mono = performance.now();
    const received = Math.round((ORIGIN + mono) * 1000);
    const seq = this.#admit(sender, payload.size, mono);
    const receivers = this.trie.route(scope, sender.session, this.#route);
    this.#countScope(scope.text);
    let delivered = 0;
    const remote = this.remote !== null && this.remote.wants(scope) ? this.remote : null;
    if (receivers.length || remote) {
      const out = new Encoded(this.#message('publish', sender, scope.text, null, seq, received, times, payload));
      const now = Math.round(ORIGIN + mono);
      for (let i = 0; i < receivers.length; i++) if (this.#deliver(receivers[i]!, out, now)) delivered++;
      receivers.length = 0;
      remote?.published(out.message);
    }
    return { seq, delivered };
  }

  /** A publication from another hub (already admitted there): to this hub's subscribers only. */
  publishRemote(message: BusMessage, scope: Scope): number {
    const receivers = this.trie.route(scope, null, this.#route);
    this.#countScope(scope.text);
    let delivered = 0;
    if (receivers.length) {
      const out = new Encoded(message);
      const now = Date.now();
      for (let i = 0; i < receivers.length; i++) if (this.#deliver(receivers[i]!, out, now)) delivered++;
      receivers.length = 0;
    }
    return delivered;
  }

  /** Every session with a member bound, except the sender's. */
  broadcast(sender: Sender, payload: BusPayload, times: { created?: number; sent?: number }): { seq: number; delivered: number } {
    const mono = performance.now();
    const received = Math.round((ORIGIN + mono) * 1000);
    const seq = this.#admit(sender, payload.size, mono);
    const out = new Encoded(this.#message('broadcast', sender, null, null, seq, received, times, payload));
    const now = Math.round(ORIGIN + mono);
    let delivered = 0;
    for (const s of this.#sessions()) {
      if (s === sender.session || !isBusSession(s) || this.#registry.sessionMembers(s).size === 0) continue;
      if (this.#deliver(s, out, now)) delivered++;
    }
    return { seq, delivered };
  }

  send(sender: Sender, to: string, payload: BusPayload, times: { created?: number; sent?: number }): { seq: number; delivered: number } | Promise<{ seq: number; delivered: number }> {
    const mono = performance.now();
    const received = Math.round((ORIGIN + mono) * 1000);
    const at = this.#remoteAddress(to);
    if (at) {
      const seq = this.#admit(sender, payload.size, mono);
      const m = this.#message('send', sender, null, at.name, seq, received, times, payload);
      return this.remote!.send(sender, at.hubId, at.name, { ...m, from: `${this.#registry.hubId}/${m.from}` });
    }
    const session = this.#sessionOf(to);
    const seq = this.#admit(sender, payload.size, mono);
    const ok = this.#deliver(session, new Encoded(this.#message('send', sender, null, to, seq, received, times, payload)), Math.round(ORIGIN + mono));
    return { seq, delivered: ok ? 1 : 0 };
  }

  /** A direct message from another hub (already admitted there) to a member of this hub. */
  sendRemote(message: BusMessage): { seq: number; delivered: number } {
    const ok = this.#deliver(this.#sessionOf(message.to ?? ''), new Encoded(message), Date.now());
    return { seq: message.seq, delivered: ok ? 1 : 0 };
  }

  /** Asks a member (JSON-RPC `bus.handle` to its session) and relays its answer or its error. */
  async request(sender: Sender, to: string, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const at = this.#remoteAddress(to);
    if (at) {
      this.#admit(sender, 0, performance.now());
      this.totals.requests++;
      return this.remote!.request({ ...sender, name: `${this.#registry.hubId}/${sender.name}` }, at.hubId, at.name, method, params, timeoutMs);
    }
    return this.#ask(sender, to, method, params, timeoutMs, true);
  }

  /** A request from a member of another hub (admitted there); `from` is its hub/name. */
  requestRemote(from: string, to: string, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    return this.#ask({ name: from, member: null, session: null }, to, method, params, timeoutMs, false);
  }

  async #ask(sender: Sender, address: string, method: string, params: unknown, timeoutMs: number, admit: boolean): Promise<unknown> {
    const to = localName(address);
    const target = this.#registry.find(to);
    if (!target) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(to)}`, { name: to });
    const session = target.session;
    if (!session) throw new MusterError('NOT_CONNECTED', `${to} has no open session to ask`, { name: to });
    if (admit) this.#admit(sender, 0, performance.now());
    this.totals.requests++;
    try {
      return await session.request('bus.handle', { from: sender.name, method, params }, timeoutMs);
    } catch (err) {
      this.totals.requestErrors++;
      if (err instanceof PeerError) {
        throw new MusterError('MEMBER_ERROR', err.rpcError.message, { member: to, error: err.rpcError });
      }
      throw err;
    }
  }

  /**
   * For binary request/reply (bus-requests.ts): the session of `to` when it is a member of this
   * hub whose connection takes binary records, with the sender admitted and the request counted;
   * otherwise null, and the caller takes `request`.
   */
  binaryTarget(sender: Sender, to: string): BusSession | null {
    if (this.#remoteAddress(to)) return null;
    const session = this.#registry.find(localName(to))?.session;
    if (!isBusSession(session) || !session.open || !session.busBinary) return null;
    this.#admit(sender, 0, performance.now());
    this.totals.requests++;
    return session;
  }

  stats(): { totals: BusTotals; subscriptions: number; scopes: Record<string, number> } {
    return { totals: { ...this.totals }, subscriptions: this.trie.size, scopes: Object.fromEntries(this.scopeCounts) };
  }

  /** `hub/name` of another hub as its parts; null for this hub's own members (`name` or `<this hub>/name`). */
  #remoteAddress(address: string): { hubId: string; name: string } | null {
    const { hubId, name } = splitAddress(address);
    if (hubId === null || hubId === this.#registry.hubId) return null;
    if (!this.remote) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(hubId)}: this hub is not part of a tree`, { hub: hubId });
    return { hubId, name };
  }

  #sessionOf(address: string): BusSession {
    const name = localName(address);
    const target = this.#registry.find(name);
    if (!target) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(name)}`, { name });
    if (!isBusSession(target.session)) throw new MusterError('NOT_CONNECTED', `${name} has no open session to deliver to`, { name });
    return target.session;
  }

  #message(kind: MessageKind, sender: Sender, scope: string | null, to: string | null, seq: number, received: number,
    times: { created?: number; sent?: number }, payload: BusPayload): BusMessage {
    const sent = times.sent ?? received;
    return { kind, from: sender.name, scope, to, seq, created: times.created ?? sent, sent, received, payload };
  }

  /** Rate limit, then the sender's next sequence number and its sent counters. */
  #admit(sender: Sender, bytes: number, now: number): number {
    const key: object = sender.member ?? this.#hubSender;
    let limit = this.#limits.get(key);
    if (!limit) {
      const spec: RateSpec | undefined = (sender.member && this.#opts.rateLimits[sender.member.type]) || this.#opts.rateLimits['*'];
      limit = new SenderLimit(spec ?? { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 }, now);
      this.#limits.set(key, limit);
    }
    const wait = limit.take(bytes, now);
    if (wait > 0) {
      this.totals.throttled++;
      if (!this.#throttledSenders.has(key)) {
        this.#throttledSenders.add(key);
        // Fire-and-forget publishers (JSON-RPC notifications) get no error reply: tell them here.
        sender.session?.notify('bus.throttled', JSON.stringify({ from: sender.name, retryAfterMs: wait }));
      }
      throw new MusterError('THROTTLED', `${sender.name} is over its bus rate limit; retry after ${wait} ms`, { retryAfterMs: wait });
    }
    this.#throttledSenders.delete(key);
    this.totals.published++;
    const m = sender.member;
    if (!m) return ++this.#hubSender.seq;
    const t = (m.traffic ??= { sent: 0, sentBytes: 0, lastSent: null, received: 0, receivedBytes: 0, lastReceived: null, dropped: 0 });
    t.sent++;
    t.sentBytes += bytes;
    t.lastSent = Math.round(ORIGIN + now);
    return t.sent;
  }

  /** One receiver's bounded queue: enqueue, or drop (counted) / disconnect by policy. */
  #deliver(s: BusSession, out: Encoded, now: number): boolean {
    const o = this.#opts;
    if (!s.open) return false;
    const frame = s.busBinary ? out.binary : out.json;
    const size = out.message.payload.size;
    if (s.outboundMessages >= o.queueMessages || s.outboundBytes + frame.length > o.queueBytes) {
      if (o.slowPolicy === 'disconnect') {
        this.totals.slowDisconnects++;
        s.close(1008, 'slow consumer: bus queue full');
      }
      this.totals.dropped++;
      for (const m of this.#registry.sessionMembers(s)) {
        const t = (m.traffic ??= { sent: 0, sentBytes: 0, lastSent: null, received: 0, receivedBytes: 0, lastReceived: null, dropped: 0 });
        t.dropped++;
      }
      return false;
    }
    s.enqueue(frame);
    this.totals.delivered++;
    this.totals.deliveredBytes += frame.length;
    for (const m of this.#registry.sessionMembers(s)) {
      const t = (m.traffic ??= { sent: 0, sentBytes: 0, lastSent: null, received: 0, receivedBytes: 0, lastReceived: null, dropped: 0 });
      t.received++;
      t.receivedBytes += size;
      t.lastReceived = now;
    }
    return true;
  }

  #countScope(scope: string): void {
    const n = this.scopeCounts.get(scope);
    if (n !== undefined) this.scopeCounts.set(scope, n + 1);
    else if (this.scopeCounts.size < MAX_SCOPES_COUNTED) this.scopeCounts.set(scope, 1);
    else this.scopeCounts.set(OTHER_SCOPES, (this.scopeCounts.get(OTHER_SCOPES) ?? 0) + 1);
  }
}

/** The member name of `name` or `hub/name` (the hub part already known to be this hub). */
function localName(address: string): string {
  return splitAddress(address).name;
}

/** A message's encodings, each built at most once, when the first receiver of that format needs it. */
class Encoded {
  readonly message: BusMessage;
  #json: Buffer | null = null;
  #binary: Buffer | null = null;
  constructor(message: BusMessage) {
    this.message = message;
  }
  get json(): Buffer {
    return (this.#json ??= encodeMessage(this.message));
  }
  get binary(): Buffer {
    return (this.#binary ??= encodeBinary(this.message));
  }
}
