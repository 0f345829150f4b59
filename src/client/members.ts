/**
 * Members this client registered: what to send to register them again after a reconnect, and
 * their automatic heartbeats (ttl members, every ttl/3).
 */
import type { RegisterParams, RegisterResult } from '../schemas/member.js';
import { HeartbeatSchedule } from './heartbeat-schedule.js';
import { randomToken } from './register-retry.js';

export interface OwnedMember {
  id: string;
  name: string;
  token: string;
  /** When the hub made it: a re-registration answering another was made anew (undefined from a hub that does not say). */
  registeredAt: number | undefined;
  /** The register params, kept current by update() so a re-registration carries them. */
  params: RegisterParams;
  /** ttl of the member, when it has one (heartbeats every third of it). */
  ttlMs: number | undefined;
  /** A heartbeat is on its way (at most one at a time per member). */
  beating: boolean;
  /**
   * The newToken a re-registration proposes should the hub have lost the member (made when first
   * needed): kept until the hub makes the member anew with it, so a re-registration whose answer
   * was lost, sent again, resumes the member it made rather than making another.
   */
  spare: string | undefined;
  /** The caller's own newToken, when it gave one: every re-registration proposes it (the same id, always). */
  own: string | undefined;
}

export class OwnedMembers {
  readonly #byId = new Map<string, OwnedMember>();
  /** Heartbeats while the member is this client's (one it replaced, or removed, is not). */
  readonly #beats: HeartbeatSchedule<OwnedMember>;

  constructor(beat: (m: OwnedMember) => void) {
    this.#beats = new HeartbeatSchedule(beat, (m) => this.#byId.get(m.id) === m);
  }

  get size(): number {
    return this.#byId.size;
  }

  all(): OwnedMember[] {
    return [...this.#byId.values()];
  }

  get(id: string): OwnedMember | undefined {
    return this.#byId.get(id);
  }

  add(params: RegisterParams, result: RegisterResult, ttlMs: number | undefined, own?: string): OwnedMember {
    // Registered again (the same newToken): this record replaces the one before, and its heartbeats.
    const m: OwnedMember = { id: result.id, name: result.name, token: result.token, registeredAt: result.registeredAt, params, ttlMs, beating: false, spare: undefined, own };
    this.#byId.set(m.id, m);
    if (ttlMs !== undefined) this.#beats.add(m, Math.max(50, Math.floor(ttlMs / 3)));
    return m;
  }

  /** The hub registered the member anew (it had lost it): new id and token, or the same ones with a caller's own newToken. */
  replace(m: OwnedMember, result: RegisterResult): void {
    this.#byId.delete(m.id);
    m.id = result.id;
    m.name = result.name;
    m.token = result.token;
    m.registeredAt = result.registeredAt;
    m.spare = undefined;
    this.#byId.set(m.id, m);
  }

  remove(id: string): void {
    this.#byId.delete(id);
  }

  clear(): void {
    this.#beats.clear();
    this.#byId.clear();
  }

  /** The register params to resume a member: same name, with its token so the hub keeps its id (and a spare, should it have lost it). */
  resumeParams(m: OwnedMember): RegisterParams {
    return { ...m.params, name: m.name, token: m.token, newToken: m.own ?? (m.spare ??= randomToken()) };
  }
}

/** The ttl a register call asked for, or undefined for non-ttl members ('ttl' alone: the hub's default, unknown here). */
export function requestedTtl(liveness: RegisterParams['liveness']): { ttl: boolean; ttlMs?: number } {
  if (liveness === 'ttl') return { ttl: true };
  if (typeof liveness === 'object' && liveness.kind === 'ttl') return { ttl: true, ttlMs: liveness.ttlMs };
  return { ttl: false };
}
