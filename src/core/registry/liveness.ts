/**
 * Whether members are alive. A ttl member lives until its deadline on the wheel (a heartbeat
 * moves it: a number write); a session member lives while its connection is open, then for a
 * grace period; a probe member lives while the hub's probes answer. Status changes are told to
 * watchers but never written: status is not persisted.
 */
import type { LivenessSpec, MemberStatus, RegisterParams, RemovalReason } from '../../schemas/member.js';
import type { SharedDeadlines } from '../../store/store.js';
import { DeadlineWheel } from '../deadline-wheel.js';
import type { Connection } from '../ports.js';
import type { Member } from './member.js';
import type { MemberIndex } from './member-index.js';

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

/** Session members of a closed connection turned suspect per event-loop turn (as the wheel's expiries). */
const LAPSE_BATCH = 500;

export interface ProbeRunner {
  start(member: Member): void;
  stop(member: Member): void;
}

/** What liveness asks of the registry it serves. */
export interface LivenessHooks {
  /** A registered member's status changed: tell watchers. */
  statusChanged(member: Member): void;
  /** A member's liveness ran out (deadline, session grace, probe failures): remove it. */
  lapsed(member: Member, reason: RemovalReason): void;
}

/** A liveness spec with every default filled in. */
export function normalizeLiveness(spec: RegisterParams['liveness'], d: LivenessDefaults): Required<LivenessSpec> {
  if (spec === undefined || spec === 'ttl') return sharedSpec(TTL_SPECS, 'ttl', d.ttlMs);
  if (spec === 'session') return sharedSpec(SESSION_SPECS, 'session', d.graceMs);
  switch (spec.kind) {
    case 'ttl': return sharedSpec(TTL_SPECS, 'ttl', spec.ttlMs ?? d.ttlMs);
    case 'session': return sharedSpec(SESSION_SPECS, 'session', spec.graceMs ?? d.graceMs);
    case 'probe': return {
      kind: 'probe', target: spec.target, intervalMs: spec.intervalMs ?? d.probeIntervalMs,
      timeoutMs: spec.timeoutMs ?? d.probeTimeoutMs, failures: spec.failures ?? d.probeFailures,
    };
  }
}

/**
 * ttl and session specs, one frozen object per value shared by every member that has it (a fleet
 * has a few: 40 bytes a member less). Bounded, as clients choose the values: past it, each its own.
 */
const TTL_SPECS = new Map<number, Required<LivenessSpec>>();
const SESSION_SPECS = new Map<number, Required<LivenessSpec>>();
const SHARED_SPECS_MAX = 256;

function sharedSpec(specs: Map<number, Required<LivenessSpec>>, kind: 'ttl' | 'session', ms: number): Required<LivenessSpec> {
  let spec = specs.get(ms);
  if (spec) return spec;
  spec = Object.freeze(kind === 'ttl' ? { kind, ttlMs: ms } : { kind, graceMs: ms });
  if (specs.size < SHARED_SPECS_MAX) specs.set(ms, spec);
  return spec;
}

export class Liveness {
  readonly #index: MemberIndex;
  readonly #hooks: LivenessHooks;
  readonly #now: () => number;
  readonly #wheel: DeadlineWheel<Member>;
  /** Cluster mode: deadlines live in the shared store, which also expires members (once, for every hub). */
  readonly #shared: SharedDeadlines | null;
  /** Members by the connection they are bound to (the bus routes by it; a close ends sessions). */
  readonly #connections = new Map<Connection, Set<Member>>();
  #probes: ProbeRunner | null = null;
  #closed = false;

  constructor(index: MemberIndex, hooks: LivenessHooks, now: () => number, shared: SharedDeadlines | null = null) {
    this.#index = index;
    this.#hooks = hooks;
    this.#now = now;
    this.#shared = shared;
    this.#wheel = new DeadlineWheel<Member>((m) => this.#expire(m), { now });
  }

  /** A member loaded from the store gets a fresh chance: a whole ttl, or a session's grace to come back. */
  restore(member: Member, now: number): void {
    if (this.#shared) return; // a shared store kept the status and the deadline
    if (member.liveness.kind === 'ttl') this.#wheel.schedule(member, now + member.liveness.ttlMs);
    else if (member.liveness.kind === 'session') {
      this.#index.setStatus(member, 'suspect');
      this.#wheel.schedule(member, now + member.liveness.graceMs);
    }
  }

  /** Starts expiry (once the store is loaded). */
  run(): void {
    this.#wheel.start();
  }

  /** Probing starts for every probe member once a runner is attached. */
  attachProbes(runner: ProbeRunner, members: Iterable<Member>): void {
    this.#probes = runner;
    for (const m of members) if (m.liveness.kind === 'probe') runner.start(m);
  }

  /**
   * Cluster mode: a member this hub holds that came in through the store's feed, not made here (a
   * registration Redis ran after this hub had given up on it, a probed member of a hub this one
   * reaped): no client is bound to it here. A session member lapses as if its connection had just
   * closed; a probed one is probed.
   */
  adopted(member: Member): void {
    if (member.liveness.kind === 'probe') this.#probes?.start(member);
    else if (member.liveness.kind === 'session' && member.status === 'alive') setImmediate(() => this.#lapse([member], 0, this.#now()));
  }

  /** Alive from now (registered, registered again, or resumed), bound to `connection` if given. */
  start(member: Member, connection: Connection | undefined): void {
    const now = this.#now();
    member.lastSeen = now;
    switch (member.liveness.kind) {
      case 'ttl':
        this.#bind(member, null);
        this.#schedule(member, now + member.liveness.ttlMs);
        this.#setStatus(member, 'alive');
        break;
      case 'session':
        this.#bind(member, connection ?? null);
        this.#cancel(member);
        this.#setStatus(member, 'alive');
        break;
      case 'probe':
        this.#bind(member, null);
        this.#cancel(member);
        this.#probes?.start(member);
        break;
    }
    if (connection && member.liveness.kind !== 'session') this.#bind(member, connection);
  }

  /** A re-registration's spec replaces the member's; probing under the old one stops (start() follows). */
  replaceSpec(member: Member, spec: Required<LivenessSpec>): void {
    if (JSON.stringify(member.liveness) === JSON.stringify(spec)) return;
    if (member.liveness.kind === 'probe') this.#probes?.stop(member);
    member.liveness = spec;
  }

  /** A member leaving the registry: off the wheel, not probed, bound to nothing. */
  stop(member: Member): void {
    this.#cancel(member);
    if (member.liveness.kind === 'probe') this.#probes?.stop(member);
    this.#bind(member, null);
  }

  /** A heartbeat: seen now, and a ttl member's deadline moves a whole ttl on (a number write). */
  keepAlive(member: Member): void {
    const now = this.#now();
    member.lastSeen = now;
    if (member.liveness.kind === 'ttl') this.#schedule(member, now + member.liveness.ttlMs);
  }

  expireAt(member: Member, atMs: number): void {
    if (this.#index.holds(member) && member.liveness.kind === 'ttl') this.#schedule(member, atMs);
  }

  touch(member: Member): void {
    member.lastSeen = this.#now();
  }

  /**
   * A connection closed: its session members become suspect until their grace period ends (from
   * now), LAPSE_BATCH a turn: a gateway's 50,000 at once held the hub for 2 s.
   */
  connectionClosed(connection: Connection): void {
    const members = this.#connections.get(connection);
    this.#connections.delete(connection);
    if (!members) return;
    const sessions: Member[] = [];
    for (const m of members) {
      if (m.connection !== connection) continue;
      m.connection = null;
      if (m.liveness.kind === 'session') sessions.push(m);
    }
    // From the end of this turn, a batch a turn, so the loop reads its sockets between any two.
    const closedAt = this.#now();
    if (sessions.length > 0) setImmediate(() => this.#lapse(sessions, 0, closedAt));
  }

  #lapse(members: readonly Member[], from: number, closedAt: number): void {
    if (this.#closed) return;
    const end = Math.min(members.length, from + LAPSE_BATCH);
    for (let i = from; i < end; i++) {
      const m = members[i]!;
      // Bound again (resumed on another connection) or gone meanwhile: not this close's any more.
      if (m.connection !== null || !this.#index.holds(m) || m.liveness.kind !== 'session') continue;
      this.#setStatus(m, 'suspect');
      this.#schedule(m, closedAt + m.liveness.graceMs);
    }
    if (end < members.length) setImmediate(() => this.#lapse(members, end, closedAt));
  }

  connectionMembers(connection: Connection): ReadonlySet<Member> {
    return this.#connections.get(connection) ?? new Set();
  }

  connections(): IterableIterator<Connection> {
    return this.#connections.keys();
  }

  /** A probe's result: round-trip stats, status, and removal after N failures in a row. */
  probeResult(member: Member, ok: boolean, rttMs: number, consecutiveFails: number): void {
    if (!this.#index.holds(member) || member.liveness.kind !== 'probe') return;
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
      if (consecutiveFails >= member.liveness.failures) this.#hooks.lapsed(member, 'probe-failed');
      else this.#setStatus(member, 'suspect');
    }
  }

  /** Stops the wheel and the probes of `members`. */
  close(members: Iterable<Member>): void {
    this.#closed = true;
    this.#wheel.stop();
    for (const m of members) if (m.liveness.kind === 'probe') this.#probes?.stop(m);
  }

  /** A member held by another hub of the cluster now: no connection of this hub reaches it, and its hub probes it. */
  unbind(member: Member): void {
    this.#bind(member, null);
    if (member.liveness.kind === 'probe') this.#probes?.stop(member);
  }

  #schedule(member: Member, at: number): void {
    if (this.#shared) this.#shared.touch(member.id, at);
    else this.#wheel.schedule(member, at);
  }

  #cancel(member: Member): void {
    if (!this.#shared) this.#wheel.cancel(member);
  }

  #bind(member: Member, connection: Connection | null): void {
    if (member.connection && member.connection !== connection) this.#connections.get(member.connection)?.delete(member);
    member.connection = connection;
    if (connection) {
      member.face = connection.face;
      let set = this.#connections.get(connection);
      if (!set) this.#connections.set(connection, (set = new Set()));
      set.add(member);
    }
  }

  #setStatus(member: Member, status: MemberStatus): void {
    if (member.status === status) return;
    this.#index.setStatus(member, status);
    if (this.#index.holds(member)) this.#hooks.statusChanged(member);
  }

  #expire(member: Member): void {
    // Records of other hubs (federation) lapse when their hub's link stays down past the grace.
    const reason: RemovalReason = member.hubLink !== null ? 'hub-lost' : member.liveness.kind === 'session' ? 'session-lost' : 'expired';
    this.#hooks.lapsed(member, reason);
  }
}
