/**
 * The relay: the bus service every face calls. A message goes through named phases:
 * authorize (who sends, as which member) → admit (the sender's rate limit, admission.ts) → route
 * (the scope trie, one member, or every connection with members) → fan out (each receiver's
 * connection takes it or not, by its own bound) → adapters (other hubs that want it).
 * Decoding, validating and encoding are the faces'; a message is built once and each face
 * encodes it once per codec (message.ts).
 */
import { asMemberError, MusterError } from '../../errors.js';
import { splitAddress } from '../names.js';
import type { BusAdapter, BusRequest, Connection, SendResult } from '../ports.js';
import type { Caller, Member, Registry } from '../registry/registry.js';
import { Admission, ORIGIN, trafficOf, type RateLimits, type Sender } from './admission.js';
import { BusMessage, type BusPayload, type MessageKind, type Times } from './message.js';
import type { Scope } from './scope.js';
import { SubscriptionTrie } from './subscriptions.js';

export type { Sender } from './admission.js';

export interface BusTotals {
  published: number;
  delivered: number;
  /** Payload bytes of the messages delivered. */
  deliveredBytes: number;
  dropped: number;
  throttled: number;
  slowDisconnects: number;
  requests: number;
  requestErrors: number;
}

export interface RelayOptions {
  rateLimits: RateLimits;
}

const MAX_SCOPES_COUNTED = 10_000;
const OTHER_SCOPES = '(other)';
/** Requests one connection may have open as the asker. */
export const MAX_OPEN_REQUESTS = 10_000;

export class Relay {
  readonly trie = new SubscriptionTrie<Connection>({ maxPerReceiver: 1000 });
  readonly totals: BusTotals = { published: 0, delivered: 0, deliveredBytes: 0, dropped: 0, throttled: 0, slowDisconnects: 0, requests: 0, requestErrors: 0 };
  /** Publications per scope (bus.stats); a counter object per scope, so a publication costs one lookup. */
  readonly #scopeCounts = new Map<string, { n: number }>();
  readonly #registry: Registry;
  readonly #admission: Admission;
  readonly #adapters: BusAdapter[] = [];
  readonly #watched = new WeakSet<Connection>();
  readonly #asking = new WeakMap<Connection, number>();
  /** Subscriptions per scope (bus.stats; one entry per scope subscribed, so bounded by the subscriptions). */
  readonly #subscribers = new Map<string, number>();

  constructor(registry: Registry, options: RelayOptions) {
    this.#registry = registry;
    this.#admission = new Admission(options.rateLimits);
  }

  /** Per-sender rate limits from a reloaded config. */
  setRateLimits(rateLimits: RateLimits): void {
    this.#admission.setRateLimits(rateLimits);
  }

  /** Fan-out beyond this process: installed by the hub (federation, cluster). */
  addAdapter(adapter: BusAdapter): void {
    this.#adapters.push(adapter);
  }

  // ---- authorize ------------------------------------------------------------------------

  /**
   * The member a caller speaks as: `from` (with its token, or on its own connection), the only
   * member of the caller's connection, or the hub itself for the admin.
   */
  senderOf(caller: Caller, from?: string): Sender {
    const connection = caller.connection ?? null;
    if (from !== undefined) {
      const m = this.#registry.authorize(from, caller);
      return { name: m.name, member: m, connection };
    }
    if (connection) {
      const mine = this.#registry.connectionMembers(connection);
      if (mine.size === 1) {
        const m = mine.values().next().value!;
        return { name: m.name, member: m, connection };
      }
      if (mine.size > 1) throw new MusterError('INVALID_PARAMS', 'This connection has several members: name the sender with "from"');
    }
    if (this.#registry.isAdmin(caller.token)) return { name: 'hub', member: null, connection };
    throw new MusterError('UNAUTHORIZED', connection
      ? 'Register a member on this connection (or present the admin token) before using the bus'
      : 'Name the sending member with "from" and present its token (or the admin token)');
  }

  // ---- subscriptions --------------------------------------------------------------------

  subscribe(connection: Connection, scope: Scope, echo: boolean): number {
    const sub = this.trie.subscribe(connection, scope, echo);
    if (!this.#watched.has(connection)) {
      this.#watched.add(connection);
      connection.onClose(() => {
        for (const s of this.trie.subscriptionsOf(connection)) this.#interest(s.scope, -1);
        this.trie.removeReceiver(connection);
      });
    }
    this.#interest(scope, 1);
    return sub.id;
  }

  unsubscribe(connection: Connection, id: number): boolean {
    const sub = this.trie.subscriptionsOf(connection).find((s) => s.id === id);
    if (!sub || !this.trie.unsubscribe(connection, id)) return false;
    this.#interest(sub.scope, -1);
    return true;
  }

  #interest(scope: Scope, delta: 1 | -1): void {
    const n = (this.#subscribers.get(scope.text) ?? 0) + delta;
    if (n > 0) this.#subscribers.set(scope.text, n);
    else this.#subscribers.delete(scope.text);
    for (const a of this.#adapters) a.interest(scope, delta);
  }

  // ---- publish, broadcast, send ---------------------------------------------------------

  /** `mono` is when the hub read the message (performance.now()): a face passes one reading for the records of one frame. */
  publish(sender: Sender, scope: Scope, payload: BusPayload, times: Times, mono = performance.now()): SendResult {
    const seq = this.#admit(sender, payload.size, mono);
    const receivers = this.trie.route(scope, sender.connection);
    this.#countScope(scope.text);
    let delivered = 0;
    const adapters = this.#adapters.length === 0 ? null : this.#wanting(scope);
    if (receivers.length || adapters) {
      const message = this.#message('publish', sender, scope.text, null, seq, mono, times, payload);
      const now = Math.round(ORIGIN + mono);
      for (let i = 0; i < receivers.length; i++) if (this.#deliver(receivers[i]!, message, now)) delivered++;
      if (adapters) for (const a of adapters) a.published(message);
    }
    return { seq, delivered };
  }

  /**
   * A publication from another hub (admitted there), through adapter `from`: to this hub's
   * subscribers only. Each adapter spreads publications on its own (the tree to its other links,
   * a cluster to each of its hubs), so none is passed from one adapter to another: with every hub
   * of a cluster a node of the tree, that would loop. One that came the long way round (through
   * the tree from a hub of this cluster, whose own adapter brought it already) is left out.
   */
  publishRemote(message: BusMessage, scope: Scope, from: BusAdapter | null = null): number {
    if (from && this.#nearer(message.from, from)) return 0;
    const receivers = this.trie.route(scope, null);
    this.#countScope(scope.text);
    let delivered = 0;
    const now = Date.now();
    for (let i = 0; i < receivers.length; i++) if (this.#deliver(receivers[i]!, message, now)) delivered++;
    return delivered;
  }

  /** True when a publication of `sender` (`hub/name`) came through `from` while another adapter, listed before it, is the nearer way to its hub. */
  arrivedFarther(sender: string, from: BusAdapter): boolean {
    return this.#nearer(sender, from);
  }

  #nearer(sender: string, from: BusAdapter): boolean {
    const hubId = splitAddress(sender).hubId;
    if (hubId === null || hubId === this.#registry.hubId) return false;
    const first = this.#adapters.find((a) => a.leadsTo?.(hubId) ?? a.reaches(hubId));
    return first !== undefined && first !== from;
  }

  /** Every connection with a member bound (on every face, and on every hub of a cluster), except the sender's. */
  broadcast(sender: Sender, payload: BusPayload, times: Times, mono = performance.now()): SendResult {
    const seq = this.#admit(sender, payload.size, mono);
    const message = this.#message('broadcast', sender, null, null, seq, mono, times, payload);
    const delivered = this.#broadcastHere(message, sender.connection, Math.round(ORIGIN + mono));
    for (const a of this.#adapters) a.broadcast?.(message);
    return { seq, delivered };
  }

  /** A broadcast from another hub of the cluster (admitted there): to this hub's connections. */
  broadcastRemote(message: BusMessage): number {
    return this.#broadcastHere(message, null, Date.now());
  }

  #broadcastHere(message: BusMessage, except: Connection | null, now: number): number {
    let delivered = 0;
    for (const c of this.#registry.connections()) {
      if (c === except || this.#registry.connectionMembers(c).size === 0) continue;
      if (this.#deliver(c, message, now)) delivered++;
    }
    return delivered;
  }

  send(sender: Sender, to: string, payload: BusPayload, times: Times, mono = performance.now()): SendResult | Promise<SendResult> {
    const remote = this.#remote(to);
    if (remote) {
      const seq = this.#admit(sender, payload.size, mono);
      return remote.adapter.send(remote.hubId, remote.name, this.#message('send', sender, null, remote.name, seq, mono, times, payload));
    }
    const target = this.#connectionOf(this.#local(to), 'deliver to');
    const seq = this.#admit(sender, payload.size, mono);
    const ok = this.#deliver(target, this.#message('send', sender, null, to, seq, mono, times, payload), Math.round(ORIGIN + mono));
    return { seq, delivered: ok ? 1 : 0 };
  }

  /** A direct message from another hub (admitted there) to a member of this hub. */
  sendRemote(message: BusMessage): SendResult {
    const ok = this.#deliver(this.#connectionOf(this.#local(message.to ?? ''), 'deliver to'), message, Date.now());
    return { seq: message.seq, delivered: ok ? 1 : 0 };
  }

  // ---- request/reply --------------------------------------------------------------------

  /** Asks a member (here, or through an adapter) and resolves with its answer; its own error is MEMBER_ERROR. */
  async request(sender: Sender, to: string, method: string, payload: BusPayload, timeoutMs: number): Promise<BusPayload> {
    const asker = sender.connection;
    const open = asker ? (this.#asking.get(asker) ?? 0) : 0;
    if (open >= MAX_OPEN_REQUESTS) throw new MusterError('THROTTLED', `At most ${MAX_OPEN_REQUESTS} requests open per connection`, { retryAfterMs: 100 });
    const remote = this.#remote(to);
    const name = remote ? remote.name : this.#local(to);
    const target = remote ? null : this.#connectionOf(name, 'ask');
    this.#admit(sender, payload.size, performance.now());
    this.totals.requests++;
    if (asker) this.#asking.set(asker, open + 1);
    try {
      const req: BusRequest = { from: sender.name, to: name, method, payload };
      return await (remote ? remote.adapter.request(remote.hubId, name, req, timeoutMs) : target!.request(req, timeoutMs));
    } catch (err) {
      this.totals.requestErrors++;
      throw asMemberError(err, name);
    } finally {
      if (asker) this.#asking.set(asker, (this.#asking.get(asker) ?? 1) - 1);
    }
  }

  /** A request from a member of another hub (admitted there); `from` is its hub/name. */
  async requestRemote(from: string, to: string, method: string, payload: BusPayload, timeoutMs: number): Promise<BusPayload> {
    const name = this.#local(to);
    const target = this.#connectionOf(name, 'ask');
    this.totals.requests++;
    try {
      return await target.request({ from, to: name, method, payload }, timeoutMs);
    } catch (err) {
      this.totals.requestErrors++;
      throw asMemberError(err, name);
    }
  }

  stats(): { totals: BusTotals; subscriptions: number; scopes: Record<string, number>; subscribers: Record<string, number> } {
    return { totals: { ...this.totals }, subscriptions: this.trie.size, scopes: Object.fromEntries([...this.#scopeCounts].map(([scope, c]) => [scope, c.n])), subscribers: Object.fromEntries(this.#subscribers) };
  }

  // ---- internals ------------------------------------------------------------------------

  #admit(sender: Sender, bytes: number, mono: number): number {
    try {
      const seq = this.#admission.admit(sender, bytes, mono);
      this.totals.published++;
      return seq;
    } catch (err) {
      this.totals.throttled++;
      throw err;
    }
  }

  /** The adapters that want `scope`, or null (the common case allocates nothing). */
  #wanting(scope: Scope): BusAdapter[] | null {
    let out: BusAdapter[] | null = null;
    for (const a of this.#adapters) if (a.wants(scope)) (out ??= []).push(a);
    return out;
  }

  /**
   * Where a send or request leaves this hub: `hub/name` of another hub of the tree, or (cluster
   * mode) a member another hub of the cluster holds, with the adapter that reaches that hub.
   */
  #remote(address: string): { adapter: BusAdapter; hubId: string; name: string } | null {
    const split = splitAddress(address);
    const name = split.name;
    let hubId = split.hubId;
    if (hubId === null) {
      const held = this.#registry.find(name)?.attachedTo;
      if (!held || held === this.#registry.hubId) return null;
      hubId = held;
    }
    if (hubId === this.#registry.hubId) return null;
    const adapter = this.#adapters.find((a) => a.reaches(hubId));
    if (!adapter) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(hubId)}: this hub is not part of a tree`, { hub: hubId });
    return { adapter, hubId, name };
  }

  /** The member name of `name` or `<this hub>/name`. */
  #local(address: string): string {
    return splitAddress(address).name;
  }

  #connectionOf(name: string, what: string): Connection {
    const target = this.#registry.find(name);
    if (!target) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(name)}`, { name });
    if (!target.connection?.open) throw new MusterError('NOT_CONNECTED', `${name} has no open connection to ${what}`, { name });
    return target.connection;
  }

  #message(kind: MessageKind, sender: Sender, scope: string | null, to: string | null, seq: number, mono: number, times: Times, payload: BusPayload): BusMessage {
    const received = Math.round((ORIGIN + mono) * 1000);
    const sent = times.sent ?? received;
    return new BusMessage(kind, sender.name, scope, to, seq, times.created ?? sent, sent, received, payload);
  }

  /** One receiver: its connection takes the message or not (its bound, its policy); counted either way. */
  #deliver(c: Connection, message: BusMessage, now: number): boolean {
    if (!c.open) return false;
    const members = this.#registry.connectionMembers(c);
    if (!c.deliver(message)) {
      this.totals.dropped++;
      for (const m of members) trafficOf(m).dropped++;
      return false;
    }
    const size = message.payload.size;
    this.totals.delivered++;
    this.totals.deliveredBytes += size;
    for (const m of members) received(m, size, now);
    return true;
  }

  #countScope(scope: string): void {
    const c = this.#scopeCounts.get(scope);
    if (c !== undefined) c.n++;
    else if (this.#scopeCounts.size < MAX_SCOPES_COUNTED) this.#scopeCounts.set(scope, { n: 1 });
    else {
      const other = this.#scopeCounts.get(OTHER_SCOPES);
      if (other) other.n++;
      else this.#scopeCounts.set(OTHER_SCOPES, { n: 1 });
    }
  }
}

function received(m: Member, size: number, now: number): void {
  const t = trafficOf(m);
  t.received++;
  t.receivedBytes += size;
  t.lastReceived = now;
}
