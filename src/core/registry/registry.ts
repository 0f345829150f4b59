/**
 * The registry: who is registered, under which name, and whether they are alive. Live state is
 * in memory (member-index.ts finds members, liveness.ts keeps them alive). Every change goes to
 * the store with the conditions it relies on; the store decides, hands out revisions and feeds
 * the applied change back, and only then do its events reach watchers and the caller hear back.
 * Heartbeats touch memory only.
 */
import { randomUUID } from 'node:crypto';
import { MusterError } from '../../errors.js';
import type {
  ListParams, ListResult, LivenessSpec, MemberStatus, MemberView, RegisterParams, RegisterResult,
  RemovalReason, UpdateParams,
} from '../../schemas/member.js';
import type { MemberField } from '../../store/store.js';
import { EventLog } from '../events/event-log.js';
import type { Connection } from '../ports.js';
import { hashToken, idOfNewToken, newToken } from '../tokens.js';
import { DEFAULT_LIVENESS, Liveness, normalizeLiveness, type LivenessDefaults, type ProbeRunner } from './liveness.js';
import { initFromStored, liveMember, registered, toStored, viewOf, type Member, type MemberInit } from './member.js';
import { MemberIndex, RACED_NAME } from './member-index.js';
import { listPage } from './list-order.js';
import { Changes, type AdminEventDraft, type EventDraft } from './changes.js';
import { Mirror } from './mirror.js';
import { RetriedWrites, type Asked, type Transition } from './retried-writes.js';
import { followStore } from './rejoin.js';
import { assertRoles } from './roles.js';
import { assertMayRegister, authorizedMember, RegistrationPolicy } from './access.js';
import type { Caller, RegistryOptions } from './registry-options.js';

export { DEFAULT_LIVENESS, type LivenessDefaults, type ProbeRunner } from './liveness.js';
export type { LifecycleInfo, Member, MemberInit } from './member.js';
export type { Caller, RegistryOptions } from './registry-options.js';

type RemovedListener = (member: Member, reason: RemovalReason) => void;
/** `again`: the member registered once more with its token (a new run for a component). */
type RegisteredListener = (member: Member, again: boolean) => void;

export class Registry {
  readonly hubId: string;
  readonly log: EventLog;
  readonly defaults: LivenessDefaults;
  /** Who may register here and how many: the admin token, the registration key, the cap, a drain (reload and drain change it). */
  readonly policy: RegistrationPolicy;
  readonly #now: () => number;
  readonly #index = new MemberIndex();
  /** The one namespace of every face: whether a name is taken, and names reserved so no member takes them (another face's device, a hub id). */
  readonly names: Pick<MemberIndex, 'isTaken' | 'reserve' | 'release'> = this.#index;
  readonly #liveness: Liveness;
  readonly #removedListeners: RemovedListener[] = [];
  readonly #registeredListeners: RegisteredListener[] = [];
  /** Cluster mode: applies other hubs' changes to this hub's members (null for a store of its own). */
  readonly #mirror: Mirror | null;
  readonly #changes: Changes;
  /** Cluster mode: removals and changes Redis did not take, written again (liveness's own, and `removeRetried`, `changedRetried`). */
  readonly #writes: RetriedWrites;
  readonly #enoughOnceWritten: (member: Member) => boolean;
  #closed = false;
  /** Plain counters (read by /metrics at scrape time; cheaper than a metrics call per heartbeat). */
  readonly counters = { registrations: 0, heartbeats: 0 };

  private constructor(options: RegistryOptions, log: EventLog) {
    this.hubId = options.hubId;
    this.log = log;
    this.defaults = { ...DEFAULT_LIVENESS, ...options.liveness };
    this.policy = new RegistrationPolicy(options);
    this.#now = options.now ?? Date.now;
    this.#enoughOnceWritten = options.enoughOnceWritten ?? (() => false);
    this.#liveness = new Liveness(this.#index, {
      // A status change is an event (a write of the status in a cluster); a lapse is a removal like any other.
      statusChanged: (m) => this.#writes.status(m),
      lapsed: (m, reason) => void this.remove(m, reason).catch(() => {}),
    }, this.#now, options.store.deadlines ?? null);
    this.#mirror = options.store.deadlines ? new Mirror(this.#index, {
      hubId: this.hubId,
      create: (init) => liveMember(init, this.normalizeLiveness(init.liveness), this.#now()),
      added: (m) => { if (m.attachedTo === this.hubId) this.#liveness.adopted(m); }, // made here, but Redis ran it late
      removed: (m, reason) => this.#unindex(m, reason),
      // Held by no hub (this hub was reaped while it stood still) yet its client is here: held here again (until Redis takes it).
      movedAway: (m) => (m.attachedTo == null && m.connection?.open ? this.#writes.hold(m) : this.#liveness.unbind(m)),
      movedHere: (m) => this.#liveness.adopted(m),
    }) : null;
    this.#changes = new Changes(options.store, log, this.hubId, this.#mirror, this.#now);
    this.#writes = new RetriedWrites({ remove: (m, r, a) => this.#removeOnce(m, r, a), changed: (m, t, f) => this.#changedOnce(m, t, f), resume: (m, c) => this.#resumeOnce(m, c) }, this.#index, this.#changes, this.hubId, this.#mirror !== null);
    // Cluster mode: the shared store was wiped and joined anew, or loaded whole again after this hub fell behind (rejoin.ts).
    const mirror = this.#mirror;
    if (mirror) followStore(options.store, {
      hubId: this.hubId, index: this.#index, log, mirror, evict: (m) => this.#unindex(m, 'evicted'),
      forget: (m) => { this.#index.delete(m); this.#liveness.stop(m); },
      put: (m) => this.#changes.commit([{ member: toStored(m) }], [], [{ type: 'added', member: this.view(m) }], { namesFree: [m.name] }),
    });
  }

  /** Loads the store and gives every member a fresh chance to show it is alive. */
  static async open(options: RegistryOptions): Promise<Registry> {
    const snapshot = await options.store.open();
    const log = new EventLog(options.eventRetention ?? 10_000, snapshot.position, snapshot.events);
    const registry = new Registry(options, log);
    const now = registry.#now();
    let told = performance.now();
    snapshot.members.forEach((stored, i) => {
      const m = registry.createMember(initFromStored(stored), now);
      registry.#index.add(m);
      registry.#liveness.restore(m, now);
      // A synchronous loop: no timer fires, so the clock is read every 1024 members.
      if (i % 1024 === 1023 && options.loading && performance.now() - told >= 1_000) options.loading(i + 1, snapshot.members.length, told = performance.now());
    });
    registry.#liveness.run();
    return registry;
  }

  /** Probing starts for every probe member this hub holds once a runner is attached (in a cluster, each member's hub probes it). */
  attachProbes(runner: ProbeRunner): void {
    this.#liveness.attachProbes(runner, this.#mirror ? this.#index.heldBy(this.hubId) : this.#index.values());
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
    return this.#index.byTokenHash(hashToken(token));
  }

  get size(): number {
    return this.#index.size;
  }

  isAdmin(token: string | undefined): boolean {
    return this.policy.admin.matches(token);
  }

  async register(params: RegisterParams, caller: Caller = {}): Promise<RegisterResult> {
    this.#assertOpen();
    const admin = this.isAdmin(caller.token);
    const liveness = this.normalizeLiveness(params.liveness);
    assertMayRegister(params, caller, liveness, admin, this.policy.registrationKey);
    // A known token resumes its member; so does a newToken whose member an earlier attempt made.
    const newTokenHash = params.newToken === undefined ? undefined : hashToken(params.newToken);
    const known = (params.token ? this.#index.byTokenHash(hashToken(params.token)) : undefined) ?? (newTokenHash ? this.#index.byTokenHash(newTokenHash) : undefined);
    if (known) {
      assertRoles(params.roles, admin, known);
      return this.#reregister(known, params, liveness, caller, known.tokenHash === newTokenHash ? params.newToken! : params.token!);
    }
    assertRoles(params.roles, admin);

    this.policy.assertRoom(this.#index.size);
    const base = params.name ?? `${params.type.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60)}`;
    const token = params.newToken ?? newToken();
    // A client's newToken fixes the id, so every attempt of one registration names one member (a
    // uuid of version 8, never one of the hub's own: a member of that id has that token, found above).
    const fixedId = params.newToken === undefined ? undefined : idOfNewToken(params.newToken);
    for (let attempt = 1; ; attempt++) {
      const name = this.#index.nameFor(base, params.exclusive === true);
      const now = this.#now();
      const member = this.createMember({
        id: fixedId ?? randomUUID(), name, type: params.type, address: params.address ?? '', meta: params.meta ?? {},
        liveness, tokenHash: newTokenHash ?? hashToken(token), registeredAt: now, roles: params.roles ?? [],
      }, now, liveness);
      // A component starts its lifecycle at registration (the control service takes it from there).
      if (params.roles?.includes('component')) member.lifecycle = { state: 'starting', endpoints: {}, lastError: null, since: now };
      try {
        await this.#insert(member, caller.connection, NO_MEMBERS, fixedId !== undefined); // nameFor gave a free name
      } catch (err) {
        const code = (err as MusterError).code;
        // This registration's first attempt made the member at another hub of the cluster (kept here as the store has it,
        // when it was made too, should that hub's put not be here yet): resume it.
        if (code === 'MEMBER_EXISTS' && this.#index.holds(member)) return this.#reregister(member, params, liveness, caller, token, (err as MusterError).details?.registeredAt);
        // Another hub of the cluster took the name first: its change is on its way here; hold the name meanwhile and try the next.
        if (!this.#mirror || params.exclusive || attempt >= RACED_NAME.attempts || code !== 'NAME_TAKEN') throw err;
        this.#index.holdFor(name, RACED_NAME.holdMs);
        continue;
      }
      for (const l of this.#registeredListeners) l(member, false);
      return registered(member, token);
    }
  }

  /** Builds a member record; `add` puts it in the registry. For faces that assign ids and names themselves. */
  createMember(init: MemberInit, now = this.#now(), liveness = this.normalizeLiveness(init.liveness)): Member {
    // In a cluster a member is held by the hub it registered at (its faces reach it).
    const m = liveMember(init, liveness, now);
    if (m.attachedTo === null && this.#mirror) m.attachedTo = this.hubId;
    return m;
  }

  /** Adds a built member (name must be free), evicting `evict` in the same commit; resolves once durable. For faces with naming rules of their own (plantimager). */
  async add(member: Member, connection?: Connection, evict: readonly Member[] = NO_MEMBERS): Promise<void> {
    this.#assertOpen();
    const removed = evict.length ? evict.filter((m) => this.#index.holds(m)) : NO_MEMBERS;
    // Check before evicting: a refused add must leave the evicted members where they were.
    const freedName = removed.some((m) => m.name === member.name);
    if (this.#index.isTaken(member.name) && !freedName) throw new MusterError('NAME_TAKEN', `The name ${member.name} is taken`, { name: member.name });
    return this.#insert(member, connection, removed);
  }

  /** `add` once the name is known to be free (but for `removed`, evicted in the same commit). */
  async #insert(member: Member, connection: Connection | undefined, removed: readonly Member[], fixedId = false): Promise<void> {
    this.policy.assertRoom(this.#index.size - removed.length);
    for (const m of removed) this.#unindex(m, 'evicted');
    this.#index.add(member);
    this.#liveness.start(member, connection);
    this.counters.registrations++;
    const added: EventDraft = { type: 'added', member: this.view(member) };
    const events: EventDraft[] = removed.length ? [...removed.map((m): EventDraft => ({ type: 'removed', member: this.view(m), reason: 'evicted' })), added] : [added];
    try {
      const written = this.#enoughOnceWritten(member) && removed.every(this.#enoughOnceWritten);
      await this.#changes.commit([{ member: toStored(member) }], removed.map((m) => m.id), events, { namesFree: [member.name], maxMembers: this.policy.maxMembers, absent: fixedId ? [member.id] : undefined }, written);
    } catch (err) {
      // Refused by the store (in a cluster, another hub took the name): as if it never came. But a
      // member another hub made with this id (MEMBER_EXISTS) stays, as the store has it (Mirror.refused).
      const exists = fixedId && this.#mirror !== null && (err as MusterError).code === 'MEMBER_EXISTS';
      if (!exists && this.#index.holds(member)) {
        this.#index.delete(member);
        this.#liveness.stop(member);
      }
      throw err;
    }
  }

  async #reregister(member: Member, params: RegisterParams, liveness: Required<LivenessSpec>, caller: Caller, token: string, madeAt?: unknown): Promise<RegisterResult> {
    if (typeof madeAt === 'number' && Number.isFinite(madeAt)) member.registeredAt = madeAt;
    member.type = params.type;
    if (params.address !== undefined) member.address = params.address;
    if (params.meta !== undefined) member.meta = params.meta;
    if (params.roles !== undefined) member.roles = params.roles;
    if (this.#mirror) member.attachedTo = this.hubId;
    this.#liveness.replaceSpec(member, liveness);
    this.#liveness.start(member, caller.connection);
    await this.#changes.commit([{ member: toStored(member) }], [], [{ type: 'updated', member: this.view(member) }], undefined, this.#enoughOnceWritten(member));
    for (const l of this.#registeredListeners) l(member, true);
    return registered(member, token);
  }

  /** O(1), no disk write: moves the ttl deadline and marks the member seen. */
  heartbeat(idOrName: string, caller: Caller): MemberView['status'] {
    const member = this.authorize(idOrName, caller);
    this.keepAlive(member);
    return member.status;
  }

  /** A member seen again on a (new) connection (a hub link that reconnected): alive, bound, persisted (retried-writes.ts), watchers told. */
  resume(member: Member, connection?: Connection): Promise<void> {
    return this.#writes.resume(member, connection);
  }

  async #resumeOnce(member: Member, connection?: Connection): Promise<void> {
    if (!this.#index.holds(member)) return;
    if (this.#mirror) member.attachedTo = this.hubId;
    this.#liveness.start(member, connection);
    await this.#changedOnce(member);
  }

  /** Marks a member seen and moves a ttl member's expiry a whole ttl on; for faces with their own alive checks. */
  keepAlive(member: Member): void {
    this.counters.heartbeats++;
    this.#liveness.keepAlive(member);
  }

  /** Sets a ttl member's expiry to an absolute time, for faces whose protocol fixes it (plantimager's whole seconds). */
  expireAt(member: Member, atMs: number): void {
    this.#liveness.expireAt(member, atMs);
  }

  /** Marks a member seen (any traffic from it counts). */
  touch(member: Member): void {
    this.#liveness.touch(member);
  }

  async update(idOrName: string, patch: UpdateParams, caller: Caller): Promise<MemberView> {
    const member = this.authorize(idOrName, caller);
    if (patch.address !== undefined) member.address = patch.address;
    if (patch.meta !== undefined) member.meta = patch.meta;
    await this.changed(member, undefined, ADDRESS_META);
    return this.view(member);
  }

  async unregister(idOrName: string, caller: Caller): Promise<void> {
    const member = this.authorize(idOrName, caller);
    await this.remove(member, 'unregistered');
  }

  /** Removes a member for a reason (with who asked, when someone did); resolves once durable. Out of memory at once: retried-writes.ts. */
  remove(member: Member, reason: RemovalReason, asked?: Asked): Promise<void> {
    return this.#writes.remove(member, reason, asked);
  }

  async #removeOnce(member: Member, reason: RemovalReason, asked?: Asked): Promise<void> {
    if (!this.#index.holds(member)) return;
    this.#unindex(member, reason);
    // In a cluster, only while held where this hub saw it (its write may reach Redis late, retried-writes.ts).
    const conditions = this.#mirror ? { heldBy: [{ id: member.id, hub: member.attachedTo }] } : undefined;
    await this.#changes.commit([], [member.id], [{ type: 'removed', member: this.view(member), reason, ...asked }], conditions, this.#enoughOnceWritten(member));
  }

  /** Appends an event that changes no member (an admin's action) to the log; resolves once durable. */
  async record(event: AdminEventDraft): Promise<void> {
    await this.#changes.commit([], [], [event]);
  }

  /**
   * Persists a member whose record another service changed (in memory already: its write must not
   * be lost, retried-writes.ts) and tells watchers: `lifecycle` events carry the transition, any other is `updated`.
   */
  changed(member: Member, transition?: Transition, fields?: readonly MemberField[]): Promise<void> {
    return this.#writes.changed(member, transition, fields);
  }

  async #changedOnce(member: Member, transition?: Transition, fields?: readonly MemberField[]): Promise<void> {
    if (!this.#index.holds(member)) return;
    const event: EventDraft = transition
      ? { type: 'lifecycle', member: this.view(member), from: transition.from, to: transition.to }
      : { type: 'updated', member: this.view(member) };
    await this.#changes.commit([{ member: toStored(member), fields }], [], [event], undefined, this.#enoughOnceWritten(member));
  }

  /** A connection closed: its session members become suspect until their grace period ends. */
  connectionClosed(connection: Connection): void {
    this.#liveness.connectionClosed(connection);
  }

  /** Members bound to a connection (the bus uses this to route messages). */
  connectionMembers(connection: Connection): ReadonlySet<Member> {
    return this.#liveness.connectionMembers(connection);
  }

  /** Probe results: stats, status, and removal after N failures in a row. */
  probeResult(member: Member, ok: boolean, rttMs: number, consecutiveFails: number): void {
    this.#liveness.probeResult(member, ok, rttMs, consecutiveFails);
  }

  find(idOrName: string): Member | undefined {
    return this.#index.find(idOrName);
  }

  get(idOrName: string): MemberView {
    const m = this.#index.find(idOrName);
    if (!m) throw new MusterError('NO_SUCH_MEMBER', `No member named ${JSON.stringify(idOrName.slice(0, 80))}`, { name: idOrName });
    return this.view(m);
  }

  /** Checks a caller may act on a member (its own token or the admin token). */
  authorize(idOrName: string, caller: Caller): Member {
    return authorizedMember(this.#index.find(idOrName), idOrName, caller, this.policy.admin);
  }

  /** Every connection with members bound (broadcast reaches each once). */
  connections(): IterableIterator<Connection> {
    return this.#liveness.connections();
  }

  members(): IterableIterator<Member> {
    return this.#index.values();
  }

  /** `heldHere`: only the members this hub holds (in a cluster, those attached to it; on its own, all). */
  list(params: ListParams = {}, heldHere = false): ListResult {
    const { page, next, total } = listPage(this.#index.select(params, heldHere && this.#mirror ? this.hubId : undefined), params);
    return { members: page.map((m) => this.view(m)), next, revision: this.log.revision, total };
  }

  counts(): Record<MemberStatus | 'total', number> {
    return this.#index.counts();
  }

  view(m: Member): MemberView {
    return viewOf(m, this.hubId);
  }

  normalizeLiveness(spec: RegisterParams['liveness']): Required<LivenessSpec> {
    return normalizeLiveness(spec, this.defaults);
  }

  /** Stops timers and probes; the store is closed by its owner. */
  close(): void {
    this.#closed = true;
    this.#liveness.close(this.#index.values());
    this.#writes.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new MusterError('SHUTTING_DOWN');
    this.policy.assertNotDraining();
  }

  #unindex(m: Member, reason: RemovalReason): void {
    this.#index.delete(m);
    this.#liveness.stop(m);
    this.#index.setStatus(m, 'gone');
    for (const l of this.#removedListeners) l(m, reason);
  }
}

const NO_MEMBERS: readonly Member[] = Object.freeze([]);
const ADDRESS_META: readonly MemberField[] = ['address', 'meta'];
