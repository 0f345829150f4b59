/**
 * A member as the core keeps it: its record (persisted), its live state (status, connection,
 * deadline, stats), and the facts other services keep with it as typed fields (roles, lifecycle
 * and its history, the hub link of a record of another hub). The store sees them as `extra`.
 */
import type { Transition } from '../../schemas/control.js';
import type { LivenessSpec, MemberStatus, MemberView, ProbeStats, RegisterResult, TrafficStats } from '../../schemas/member.js';
import type { StoredMember } from '../../store/store.js';
import type { WheelEntry } from '../deadline-wheel.js';
import type { OrderLinks } from '../ordered-sharded-map.js';
import type { Connection } from '../ports.js';

/** What a record of another hub is to this hub (federation). */
export type HubRole = 'registrar' | 'registree' | 'descendant';
export type MemberRole = 'component' | 'controller' | HubRole;

export interface LifecycleInfo {
  state: string;
  endpoints: Record<string, string[]>;
  lastError: string | null;
  since: number;
}

/** The index's order and the deadline wheel's slot are kept in the member (their own bookkeeping). */
export interface Member extends WheelEntry, OrderLinks<Member> {
  readonly id: string;
  readonly name: string;
  type: string;
  address: string;
  meta: Record<string, string>;
  liveness: Required<LivenessSpec>;
  tokenHash: string;
  /** Set once, but for a member another hub of the cluster made first (registry.ts, mirror.ts). */
  registeredAt: number;
  lastSeen: number;
  /** Set through MemberIndex.setStatus, which keeps the counts by status. */
  readonly status: MemberStatus;
  /** The connection it registered on (and is reached through), if any. */
  connection: Connection | null;
  /** The hub of a cluster whose faces hold it (null: this hub, or no hub holds it). */
  attachedTo: string | null;
  /** The face of the last connection it was bound to (kept after it closes; not persisted). */
  face: string | null;
  roles: MemberRole[];
  /** Set on records of other hubs: how this hub knows them. */
  hubLink: HubRole | null;
  lifecycle: LifecycleInfo | null;
  /** The last lifecycle transitions, oldest first (bounded by the control service). */
  history: Transition[];
  probe: ProbeStats | null;
  /** Allocated on first message: most members never use the bus. */
  traffic: TrafficStats | null;
  /** Values a face keeps with the member and never shows (a CO2 satellite's notify_pass); persisted. */
  secrets?: Readonly<Record<string, string>>;
  /**
   * The last presented token that matched `hash` (then tokenHash), so the next heartbeat compares
   * it rather than hashing again. Memory only: never persisted, shown or sent.
   */
  verifiedToken?: { token: string; hash: string };
}

/** What a face or service gives to create a member (the stored record, its facts typed); the registry fills in the live state. */
export type MemberInit = Omit<StoredMember, 'extra'> & {
  roles?: MemberRole[];
  hubLink?: HubRole | null;
  lifecycle?: LifecycleInfo | null;
  history?: Transition[];
  secrets?: Readonly<Record<string, string>>;
};

/**
 * What most members have none of, shared rather than one empty object or array each (a member
 * without them takes 150 bytes less). Frozen: a writer replaces the field (history: ownHistory).
 */
const NO_META: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_ROLES: MemberRole[] = Object.freeze([]) as unknown as MemberRole[];
const NO_HISTORY: Transition[] = Object.freeze([]) as unknown as Transition[];

/** The member's history, its own from the first entry on (it starts as the shared empty one). */
export function ownHistory(m: Member): Transition[] {
  if (m.history === NO_HISTORY) m.history = [];
  return m.history;
}

export const EMPTY_TRAFFIC: TrafficStats = Object.freeze({ sent: 0, sentBytes: 0, lastSent: null, received: 0, receivedBytes: 0, lastReceived: null, dropped: 0 });

const HUB_ROLES: readonly string[] = ['registrar', 'registree', 'descendant'];

/** The record as the store keeps it: the typed fields go into `extra` (only those set). */
export function toStored(m: Member): StoredMember {
  const extra: Record<string, unknown> = {};
  if (m.roles.length) extra.roles = m.roles;
  if (m.hubLink) extra.hubLink = m.hubLink;
  if (m.lifecycle) extra.lifecycle = m.lifecycle;
  if (m.history.length) extra.lifecycleHistory = m.history;
  if (m.secrets) extra.secrets = m.secrets;
  const stored: StoredMember = {
    id: m.id, name: m.name, type: m.type, address: m.address, meta: m.meta, liveness: m.liveness,
    tokenHash: m.tokenHash, registeredAt: m.registeredAt, extra, status: m.status,
  };
  // Set, not spread: a spread builds the record on V8's slow path.
  if (m.attachedTo) stored.attachedTo = m.attachedTo;
  return stored;
}

/** The typed fields of a stored record's `extra` (unknown keys are dropped). */
export function fromStoredExtra(extra: Record<string, unknown>): Pick<MemberInit, 'roles' | 'hubLink' | 'lifecycle' | 'history' | 'secrets'> {
  const hubLink = typeof extra.hubLink === 'string' && HUB_ROLES.includes(extra.hubLink) ? (extra.hubLink as HubRole) : null;
  return {
    roles: Array.isArray(extra.roles) ? (extra.roles.filter((r) => typeof r === 'string') as MemberRole[]) : [],
    hubLink,
    lifecycle: typeof extra.lifecycle === 'object' && extra.lifecycle !== null ? (extra.lifecycle as LifecycleInfo) : null,
    history: Array.isArray(extra.lifecycleHistory) ? (extra.lifecycleHistory as Transition[]) : [],
    ...secretsOf(extra.secrets),
  };
}

/** Stored secrets: string values only. */
function secretsOf(value: unknown): { secrets?: Record<string, string> } {
  if (typeof value !== 'object' || value === null) return {};
  return { secrets: Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string')) as Record<string, string> };
}

/** A member record with its live state: alive, seen now, no connection, not scheduled. */
export function liveMember(init: MemberInit, liveness: Required<LivenessSpec>, now: number): Member {
  const m: Member = {
    id: init.id, name: init.name, type: init.type, address: init.address, meta: isEmpty(init.meta) ? NO_META : init.meta,
    liveness, tokenHash: init.tokenHash, registeredAt: init.registeredAt,
    lastSeen: now, status: init.status ?? 'alive', connection: null, attachedTo: init.attachedTo ?? null, face: null, roles: init.roles?.length ? init.roles : NO_ROLES, hubLink: init.hubLink ?? null,
    lifecycle: init.lifecycle ?? null, history: init.history?.length ? init.history : NO_HISTORY, probe: null, traffic: null, deadline: Infinity, slot: -1, slotIndex: -1,
    older: null, newer: null,
  };
  if (init.secrets) m.secrets = init.secrets;
  return m;
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** What a stored record gives to build its member again. */
export function initFromStored(s: StoredMember): MemberInit {
  // Field by field: object spreads here cost a tenth of loading 100,000 members.
  const facts = fromStoredExtra(s.extra);
  const init: MemberInit = {
    id: s.id, name: s.name, type: s.type, address: s.address, meta: s.meta, liveness: s.liveness, tokenHash: s.tokenHash,
    registeredAt: s.registeredAt, roles: facts.roles, hubLink: facts.hubLink, lifecycle: facts.lifecycle, history: facts.history,
  };
  if (s.attachedTo !== undefined) init.attachedTo = s.attachedTo;
  if (s.status !== undefined) init.status = s.status;
  if (facts.secrets) init.secrets = facts.secrets;
  return init;
}

/** The public view of a member (what lists, gets and events show). */
export function viewOf(m: Member, hubId: string): MemberView {
  const v: MemberView = {
    id: m.id, name: m.name, type: m.type, address: m.address, meta: m.meta, liveness: m.liveness,
    status: m.status, registeredAt: m.registeredAt, lastSeen: m.lastSeen, hub: m.attachedTo ?? hubId,
    stats: { traffic: m.traffic ?? EMPTY_TRAFFIC },
  };
  if (m.face) v.face = m.face;
  if (m.probe) v.stats.probe = { ...m.probe };
  if (m.lifecycle) v.lifecycle = m.lifecycle;
  if (m.roles.length) v.roles = m.roles;
  return v;
}

export function hasRole(m: Member, role: MemberRole): boolean {
  return m.roles.includes(role);
}

/** A registration's answer: with a ttl member's ttl, for a client that asked for the hub's default. */
export function registered(m: Member, token: string): RegisterResult {
  return { id: m.id, name: m.name, token, registeredAt: m.registeredAt, ...(m.liveness.kind === 'ttl' ? { ttlMs: m.liveness.ttlMs } : {}) };
}
