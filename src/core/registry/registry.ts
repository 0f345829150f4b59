/**
 * The registry: who is registered, under which name, and whether they are alive. Live state is
 * in memory (maps by id, name and token hash); every acknowledged change is committed to the
 * store before its promise resolves, and its event reaches watchers after that. Heartbeats touch
 * memory only. Expiry runs on a deadline wheel, never by scanning.
 */
import { randomUUID } from 'node:crypto';
import type { Connection } from '../ports.js';
import { fromStoredExtra, toStored, viewOf, type LifecycleInfo, type Member, type MemberInit } from './member.js';

export type { LifecycleInfo, Member, MemberInit } from './member.js';
import { MusterError } from '../../errors.js';
import type { RegistryEvent } from '../../schemas/event.js';
import type {
  ListParams, ListResult, LivenessSpec, MemberStatus, MemberView, ProbeStats, RegisterParams,
  RegisterResult, RemovalReason, TrafficStats, UpdateParams,
} from '../../schemas/member.js';
import { LIMITS } from '../../schemas/member.js';
import type { Store, StoredMember } from '../../store/store.js';
import { DeadlineWheel, type WheelEntry } from '../deadline-wheel.js';
import { EventLog } from '../events/event-log.js';
import { assertValidName, firstFreeName } from '../names.js';
import { hashToken, newToken, Secret, secretEquals } from '../tokens.js';

export interface LivenessDefaults {
  ttlMs: number;
  graceMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  probeFailures: number;
}

export const DEFAULT_LIVENESS: LivenessDefaults = {
  ttlMs: 20_000, graceMs: 10_000, probeIntervalMs: 5_000, probeTimeoutMs: 2_000, probeFailures: 3,
};

/** Who is asking: a presented token (member or admin) and the connection the call came on. */
export interface Caller {
  token?: string;
  connection?: Connection;
}

export interface ProbeRunner {
  start(member: Member): void;
  stop(member: Member): void;
}

export interface RegistryOptions {
  store: Store;
  hubId: string;
  adminToken?: string;
  registrationKey?: string;
  maxMembers?: number;
  eventRetention?: number;
  liveness?: Partial<LivenessDefaults>;
  now?: () => number;
}

type RemovedListener = (member: Member, reason: RemovalReason) => void;
/** `again`: the member registered once more with its token (a new run for a component). */
type RegisteredListener = (member: Member, again: boolean) => void;


export class Registry {
  readonly hubId: string;
  readonly log: EventLog;
  readonly defaults: LivenessDefaults;
  readonly #store: Store;
  readonly #admin: Secret;
  readonly #registrationKey: string | undefined;
  readonly #maxMembers: number;
  readonly #now: () => number;
  readonly #byId = new Map<string, Member>();
  readonly #byName = new Map<string, Member>();
  readonly #byToken = new Map<string, Member>();
  readonly #connections = new Map<Connection, Set<Member>>();
  readonly #wheel: DeadlineWheel<Member>;
  readonly #removedListeners: RemovedListener[] = [];
  readonly #registeredListeners: RegisteredListener[] = [];
  /** Names held outside this registry's members (another face's reservation, a hub id, ...). */
  readonly #reservedNames = new Set<string>();
  /** Per base name, a suffix N such that base-1 .. base-N are all taken: keeps "first free" O(1) for crowds of one name. */
  readonly #suffixHint = new Map<string, number>();
  #probes: ProbeRunner | null = null;
  #closed = false;
  /** Plain counters (read by /metrics at scrape time; cheaper than a metrics call per heartbeat). */
  readonly counters = { registrations: 0, heartbeats: 0 };

  private constructor(options: RegistryOptions, log: EventLog) {
    this.hubId = options.hubId;
    this.log = log;
    this.defaults = { ...DEFAULT_LIVENESS, ...options.liveness };
    this.#store = options.store;
    this.#admin = new Secret(options.adminToken || undefined);
    this.#registrationKey = options.registrationKey || undefined;
    this.#maxMembers = options.maxMembers ?? 100_000;
    this.#now = options.now ?? Date.now;
    this.#wheel = new DeadlineWheel<Member>((m) => this.#expire(m), { now: this.#now });
  }

  /** Loads the store and gives every member a fresh chance to show it is alive. */
  static async open(options: RegistryOptions): Promise<Registry> {
    const snapshot = await options.store.open();
    const log = new EventLog(options.eventRetention ?? 10_000, snapshot.revision, snapshot.events);
    const registry = new Registry(options, log);
    const now = registry.#now();
    for (const stored of snapshot.members) {
      const m = registry.#fromStored(stored, now);
      registry.#index(m);
      if (m.liveness.kind === 'ttl') registry.#wheel.schedule(m, now + m.liveness.ttlMs);
      else if (m.liveness.kind === 'session') {
        m.status = 'suspect';
        registry.#wheel.schedule(m, now + m.liveness.graceMs);
      }
    }
    registry.#wheel.start();
    return registry;
  }

  /** Probing starts for every probe member once a runner is attached. */
  attachProbes(runner: ProbeRunner): void {
    this.#probes = runner;
    for (const m of this.#byId.values()) if (m.liveness.kind === 'probe') runner.start(m);
  }

  onRemoved(listener: RemovedListener): void {
    this.#removedListeners.push(listener);
  }

  /** Called once a registration through register() is durable (before the caller hears back). */
  onRegistered(listener: RegisteredListener): void {
    this.#registeredListeners.push(listener);
  }

  /** The member a token belongs to (roles such as controller are checked by their service). */
  findByToken(token: string): Member | undefined {
    return this.#byToken.get(hashToken(token));
  }

  get size(): number {
    return this.#byId.size;
  }

  isAdmin(token: string | undefined): boolean {
    return this.#admin.matches(token);
  }

  /** Reserves a name so no member can take it (another face's device, a hub id, ...). */
  reserveName(name: string): void {
    this.#reservedNames.add(name);
  }

  releaseName(name: string): void {
    this.#reservedNames.delete(name);
  }

  isNameTaken(name: string): boolean {
    return this.#byName.has(name) || this.#reservedNames.has(name);
  }

  async register(params: RegisterParams, caller: Caller = {}): Promise<RegisterResult> {
    this.#assertOpen();
    const admin = this.isAdmin(caller.token);
    if (this.#registrationKey && !admin && !secretEquals(params.key, this.#registrationKey)) {
      throw new MusterError('UNAUTHORIZED', 'This hub requires a registration key (param "key")');
    }
    const liveness = this.normalizeLiveness(params.liveness);
    if (liveness.kind === 'session' && !caller.connection) {
      throw new MusterError('INVALID_PARAMS', 'Session liveness needs a connection (WebSocket); use ttl or probe over HTTP');
    }
    if (params.name !== undefined) assertValidName(params.name);

    if (params.token) {
      const existing = this.#byToken.get(hashToken(params.token));
      if (existing) {
        assertRoles(params.roles, admin, existing);
        return this.#reregister(existing, params, liveness, caller, params.token);
      }
    }
    assertRoles(params.roles, admin);

    if (this.#byId.size >= this.#maxMembers) {
      throw new MusterError('REGISTRY_FULL', `The registry is full (${this.#maxMembers} members)`, { max: this.#maxMembers });
    }
    const base = params.name ?? `${params.type.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60)}`;
    let name = base;
    if (this.isNameTaken(base)) {
      if (params.exclusive) throw new MusterError('NAME_TAKEN', `The name ${base} is taken`, { name: base });
      name = firstFreeName(base, (n) => this.isNameTaken(n), (this.#suffixHint.get(base) ?? 0) + 1);
      const suffix = Number(name.slice(name.lastIndexOf('-') + 1));
      if (name.length <= 64 && Number.isInteger(suffix)) this.#suffixHint.set(base, suffix);
    }
    const token = newToken();
    const now = this.#now();
    const member = this.createMember({
      id: randomUUID(), name, type: params.type, address: params.address ?? '', meta: params.meta ?? {},
      liveness, tokenHash: hashToken(token), registeredAt: now, roles: params.roles ?? [],
    }, now);
    // A component starts its lifecycle at registration (the control service takes it from there).
    if (params.roles?.includes('component')) member.lifecycle = { state: 'starting', endpoints: {}, lastError: null, since: now };
    await this.add(member, caller.connection);
    for (const l of this.#registeredListeners) l(member, false);
    return { id: member.id, name: member.name, token };
  }

  /** Builds a member record; `add` puts it in the registry. For faces that assign ids and names themselves. */
  createMember(init: MemberInit, now = this.#now()): Member {
    return this.#live(init, now);
  }

  /**
   * Adds a built member (name must be free), evicting `evict` in the same commit. Resolves once
   * durable. Faces with their own naming rules (plantimager) use this after choosing the name.
   */
  async add(member: Member, connection?: Connection, evict: Member[] = []): Promise<void> {
    this.#assertOpen();
    const removed = evict.filter((m) => this.#byId.get(m.id) === m);
    // Check before evicting: a refused add must leave the evicted members where they were.
    const freedName = removed.some((m) => m.name === member.name);
    if (this.isNameTaken(member.name) && !freedName) throw new MusterError('NAME_TAKEN', `The name ${member.name} is taken`, { name: member.name });
    if (this.#byId.size - removed.length >= this.#maxMembers) throw new MusterError('REGISTRY_FULL', `The registry is full (${this.#maxMembers} members)`, { max: this.#maxMembers });
    for (const m of removed) this.#unindex(m, 'evicted');
    this.#index(member);
    this.#startLiveness(member, connection);
    this.counters.registrations++;
    const events = removed.map((m) => this.#event({ type: 'removed', member: this.view(m), reason: 'evicted' }));
    events.push(this.#event({ type: 'added', member: this.view(member) }));
    await this.#commit([this.toStored(member)], removed.map((m) => m.id), events);
  }

  async #reregister(member: Member, params: RegisterParams, liveness: Required<LivenessSpec>, caller: Caller, token: string): Promise<RegisterResult> {
    member.type = params.type;
    if (params.address !== undefined) member.address = params.address;
    if (params.meta !== undefined) member.meta = params.meta;
    if (params.roles !== undefined) member.roles = params.roles;
    const livenessChanged = JSON.stringify(member.liveness) !== JSON.stringify(liveness);
    if (livenessChanged) {
      if (member.liveness.kind === 'probe') this.#probes?.stop(member);
      member.liveness = liveness;
    }
    this.#startLiveness(member, caller.connection);
    await this.#commit([this.toStored(member)], [], [this.#event({ type: 'updated', member: this.view(member) })]);
    for (const l of this.#registeredListeners) l(member, true);
    return { id: member.id, name: member.name, token };
  }

  /** O(1), no disk write: moves the ttl deadline and marks the member seen. */
  heartbeat(idOrName: string, caller: Caller): MemberView['status'] {
    const member = this.#authorized(idOrName, caller);
    this.keepAlive(member);
    return member.status;
  }

  /**
   * A member seen again on a (new) connection, for services that keep records themselves (a hub
   * link that reconnected): alive, bound to `connection`, persisted, and watchers told.
   */
  async resume(member: Member, connection?: Connection): Promise<void> {
    if (this.#byId.get(member.id) !== member) return;
    this.#startLiveness(member, connection);
    await this.changed(member);
  }

  /** Moves a member's expiry to now + forMs (default its ttl); for faces with their own alive checks. */
  keepAlive(member: Member, forMs?: number): void {
    this.touch(member);
    this.counters.heartbeats++;
    if (member.liveness.kind === 'ttl') this.#wheel.schedule(member, this.#now() + (forMs ?? member.liveness.ttlMs));
  }

  /** Sets a ttl member's expiry to an absolute time, for faces whose protocol fixes it (plantimager's whole seconds). */
  expireAt(member: Member, atMs: number): void {
    if (this.#byId.get(member.id) === member && member.liveness.kind === 'ttl') this.#wheel.schedule(member, atMs);
  }

  /** Marks a member seen (any traffic from it counts). */
  touch(member: Member): void {
    member.lastSeen = this.#now();
  }

  async update(idOrName: string, patch: UpdateParams, caller: Caller): Promise<MemberView> {
    const member = this.#authorized(idOrName, caller);
    if (patch.address !== undefined) member.address = patch.address;
    if (patch.meta !== undefined) member.meta = patch.meta;
    await this.changed(member);
    return this.view(member);
  }

  async unregister(idOrName: string, caller: Caller): Promise<void> {
    const member = this.#authorized(idOrName, caller);
    await this.remove(member, 'unregistered');
  }

  /** Removes a member for a reason; resolves once durable. */
  async remove(member: Member, reason: RemovalReason): Promise<void> {
    if (this.#byId.get(member.id) !== member) return;
    this.#unindex(member, reason);
    await this.#commit([], [member.id], [this.#event({ type: 'removed', member: this.view(member), reason })]);
  }

  /**
   * Persists a member whose record another service changed and tells watchers. `lifecycle`
   * events carry the transition; everything else is `updated`.
   */
  async changed(member: Member, transition?: { from: string; to: string }): Promise<void> {
    if (this.#byId.get(member.id) !== member) return;
    const event = transition
      ? this.#event({ type: 'lifecycle', member: this.view(member), from: transition.from, to: transition.to })
      : this.#event({ type: 'updated', member: this.view(member) });
    await this.#commit([this.toStored(member)], [], [event]);
  }

  /** A connection closed: its session members become suspect until their grace period ends. */
  connectionClosed(connection: Connection): void {
    const members = this.#connections.get(connection);
    this.#connections.delete(connection);
    if (!members) return;
    const now = this.#now();
    for (const m of members) {
      if (m.connection !== connection) continue;
      m.connection = null;
      if (m.liveness.kind !== 'session') continue;
      this.#setStatus(m, 'suspect');
      this.#wheel.schedule(m, now + m.liveness.graceMs);
    }
  }

  /** Members bound to a connection (the bus uses this to route messages). */
  connectionMembers(connection: Connection): ReadonlySet<Member> {
    return this.#connections.get(connection) ?? new Set();
  }

  /** Probe results: stats, status, and removal after N failures in a row. */
  probeResult(member: Member, ok: boolean, rttMs: number, consecutiveFails: number): void {
    if (this.#byId.get(member.id) !== member || member.liveness.kind !== 'probe') return;
    const s = (member.probe ??= { last: null, min: null, max: null, avg: null, count: 0, fails: 0 });
    if (ok) {
      s.last = rttMs;
      s.min = s.min === null ? rttMs : Math.min(s.min, rttMs);
      s.max = s.max === null ? rttMs : Math.max(s.max, rttMs);
      s.avg = s.avg === null ? rttMs : (s.avg * s.count + rttMs) / (s.count + 1);
      s.count++;
      this.touch(member);
      this.#setStatus(member, 'alive');
    } else {
      s.fails++;
      if (consecutiveFails >= member.liveness.failures) void this.remove(member, 'probe-failed').catch(() => {});
      else this.#setStatus(member, 'suspect');
    }
  }

  find(idOrName: string): Member | undefined {
    return this.#byId.get(idOrName) ?? this.#byName.get(idOrName);
  }

  get(idOrName: string): MemberView {
    const m = this.find(idOrName);
    if (!m) throw new MusterError('NO_SUCH_MEMBER', `No member named ${JSON.stringify(idOrName.slice(0, 80))}`, { name: idOrName });
    return this.view(m);
  }

  /** Checks a caller may act on a member (its own token or the admin token). */
  authorize(idOrName: string, caller: Caller): Member {
    return this.#authorized(idOrName, caller);
  }

  /** Every connection with members bound (broadcast reaches each once). */
  connections(): IterableIterator<Connection> {
    return this.#connections.keys();
  }

  members(): IterableIterator<Member> {
    return this.#byId.values();
  }

  list(params: ListParams = {}): ListResult {
    const limit = params.limit ?? LIMITS.listLimitDefault;
    const hits: Member[] = [];
    for (const m of this.#byId.values()) {
      if (params.type !== undefined && m.type !== params.type) continue;
      if (params.status !== undefined && m.status !== params.status) continue;
      if (params.prefix !== undefined && !m.name.startsWith(params.prefix)) continue;
      if (params.after !== undefined && m.name <= params.after) continue;
      if (params.state !== undefined && m.lifecycle?.state !== params.state) continue;
      if (params.meta && !metaMatches(m.meta, params.meta)) continue;
      hits.push(m);
    }
    hits.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const page = hits.slice(0, limit);
    return {
      members: page.map((m) => this.view(m)),
      next: hits.length > limit ? page[page.length - 1]!.name : null,
      revision: this.log.revision,
    };
  }

  counts(): Record<MemberStatus | 'total', number> {
    const c = { total: this.#byId.size, alive: 0, suspect: 0, gone: 0 };
    for (const m of this.#byId.values()) c[m.status]++;
    return c;
  }

  view(m: Member): MemberView {
    return viewOf(m, this.hubId);
  }

  toStored(m: Member): StoredMember {
    return toStored(m);
  }

  normalizeLiveness(spec: RegisterParams['liveness']): Required<LivenessSpec> {
    const d = this.defaults;
    if (spec === undefined || spec === 'ttl') return { kind: 'ttl', ttlMs: d.ttlMs };
    if (spec === 'session') return { kind: 'session', graceMs: d.graceMs };
    switch (spec.kind) {
      case 'ttl': return { kind: 'ttl', ttlMs: spec.ttlMs ?? d.ttlMs };
      case 'session': return { kind: 'session', graceMs: spec.graceMs ?? d.graceMs };
      case 'probe': return {
        kind: 'probe', target: spec.target, intervalMs: spec.intervalMs ?? d.probeIntervalMs,
        timeoutMs: spec.timeoutMs ?? d.probeTimeoutMs, failures: spec.failures ?? d.probeFailures,
      };
    }
  }

  /** Stops timers and probes; the store is closed by its owner. */
  close(): void {
    this.#closed = true;
    this.#wheel.stop();
    for (const m of this.#byId.values()) if (m.liveness.kind === 'probe') this.#probes?.stop(m);
  }

  #assertOpen(): void {
    if (this.#closed) throw new MusterError('SHUTTING_DOWN');
  }

  #authorized(idOrName: string, caller: Caller): Member {
    const member = this.find(idOrName);
    // Names are listable anyway; telling a client its member is gone lets it register again.
    if (!member) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(idOrName.slice(0, 80))}`, { name: idOrName });
    if (caller.token) {
      // One hash of the presented token answers both checks (this runs on every heartbeat).
      const presented = hashToken(caller.token);
      if (presented === member.tokenHash || this.#admin.matchesHash(presented)) return member;
    }
    if (caller.connection && member.connection === caller.connection) return member;
    throw new MusterError('UNAUTHORIZED', 'A valid member token or the admin token is required');
  }

  #startLiveness(member: Member, connection: Connection | undefined): void {
    const now = this.#now();
    member.lastSeen = now;
    switch (member.liveness.kind) {
      case 'ttl':
        this.#bind(member, null);
        this.#wheel.schedule(member, now + member.liveness.ttlMs);
        this.#setStatus(member, 'alive');
        break;
      case 'session':
        this.#bind(member, connection ?? null);
        this.#wheel.cancel(member);
        this.#setStatus(member, 'alive');
        break;
      case 'probe':
        this.#bind(member, null);
        this.#wheel.cancel(member);
        this.#probes?.start(member);
        break;
    }
    if (connection && member.liveness.kind !== 'session') this.#bind(member, connection);
  }

  #bind(member: Member, connection: Connection | null): void {
    if (member.connection && member.connection !== connection) this.#connections.get(member.connection)?.delete(member);
    member.connection = connection;
    if (connection) {
      let set = this.#connections.get(connection);
      if (!set) this.#connections.set(connection, (set = new Set()));
      set.add(member);
    }
  }

  /** Status changes are events too, but not writes: status is not persisted. */
  #setStatus(member: Member, status: MemberStatus): void {
    if (member.status === status) return;
    member.status = status;
    if (this.#byId.get(member.id) !== member) return;
    const e = this.#event({ type: 'updated', member: this.view(member) });
    void this.#commit([], [], [e]).catch(() => {});
  }

  #expire(member: Member): void {
    // Records of other hubs (federation) lapse when their hub's link stays down past the grace.
    const reason: RemovalReason = member.hubLink !== null ? 'hub-lost' : member.liveness.kind === 'session' ? 'session-lost' : 'expired';
    void this.remove(member, reason).catch(() => {});
  }

  #index(m: Member): void {
    this.#byId.set(m.id, m);
    this.#byName.set(m.name, m);
    this.#byToken.set(m.tokenHash, m);
  }

  #unindex(m: Member, reason: RemovalReason): void {
    this.#byId.delete(m.id);
    this.#byName.delete(m.name);
    const dash = m.name.lastIndexOf('-');
    if (dash > 0) {
      const base = m.name.slice(0, dash);
      const n = Number(m.name.slice(dash + 1));
      const hint = this.#suffixHint.get(base);
      if (hint !== undefined && Number.isInteger(n) && n >= 1 && n <= hint) this.#suffixHint.set(base, n - 1);
    }
    this.#byToken.delete(m.tokenHash);
    this.#wheel.cancel(m);
    if (m.liveness.kind === 'probe') this.#probes?.stop(m);
    this.#bind(m, null);
    m.status = 'gone';
    for (const l of this.#removedListeners) l(m, reason);
  }

  #fromStored(s: StoredMember, now: number): Member {
    return this.#live({ ...s, ...fromStoredExtra(s.extra) }, now);
  }

  /** A member record with its live state: alive, seen now, no connection, not scheduled. */
  #live(init: MemberInit, now: number): Member {
    return {
      id: init.id, name: init.name, type: init.type, address: init.address, meta: init.meta,
      liveness: this.normalizeLiveness(init.liveness), tokenHash: init.tokenHash, registeredAt: init.registeredAt,
      lastSeen: now, status: 'alive', connection: null, roles: init.roles ?? [], hubLink: init.hubLink ?? null,
      lifecycle: init.lifecycle ?? null, history: init.history ?? [], probe: null, traffic: null, deadline: Infinity, slot: -1,
    };
  }

  #event<E extends DistributiveOmit<RegistryEvent, 'revision' | 'at'>>(partial: E): RegistryEvent {
    return { ...partial, revision: this.log.nextRevision(), at: this.#now() } as RegistryEvent;
  }

  /** Writes a change with its events, then delivers the events (in revision order, since commits are FIFO). */
  async #commit(puts: StoredMember[], deletes: string[], events: RegistryEvent[]): Promise<void> {
    const logged = events.map((e) => this.log.record(e));
    await this.#store.commit({ puts, deletes, events: logged.map((l) => ({ revision: l.event.revision, json: l.json })) });
    for (const l of logged) this.log.deliver(l);
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** The controller role is granted only with the admin token (or kept by a member that has it). */
function assertRoles(roles: RegisterParams['roles'], admin: boolean, existing?: Member): void {
  if (!roles?.includes('controller') || admin) return;
  const had = existing?.roles.includes('controller');
  if (!had) throw new MusterError('FORBIDDEN', 'Only the admin token may register a member with the controller role');
}

function metaMatches(meta: Record<string, string>, want: Record<string, string>): boolean {
  for (const k in want) if (meta[k] !== want[k]) return false;
  return true;
}
