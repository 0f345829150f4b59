/**
 * The records this hub keeps of other hubs: members of type `hub`, named by hub id, whose
 * `member.hubLink` says what that hub is to this one (registrar, registree, descendant). A record
 * bound to a link turns suspect when the link closes and lapses after its grace period (the
 * registry's timer, reason `hub-lost`); the federation removes the others itself.
 */
import { randomUUID } from 'node:crypto';
import { MusterError } from '../../errors.js';
import type { RemovalReason } from '../../schemas/member.js';
import type { Connection } from '../ports.js';
import type { HubRole } from '../registry/member.js';
import type { Registry } from '../registry/registry.js';
import { hashToken, newToken } from '../tokens.js';

/** A registrar's record waits for it as long as it takes (a day); a child's lapses after the grace. */
const REGISTRAR_GRACE_MS = 86_400_000;

export class HubRecords {
  readonly #registry: Registry;
  readonly #hubId: string;
  readonly #graceMs: number;

  constructor(registry: Registry, hubId: string, graceMs: number) {
    this.#registry = registry;
    this.#hubId = hubId;
    this.#graceMs = graceMs;
  }

  /** What the member named `hubId` is to this hub; null when it is no record of a hub (or absent). */
  roleOf(hubId: string): HubRole | null {
    return this.#registry.find(hubId)?.hubLink ?? null;
  }

  /** The status of the member named `hubId`; null when there is none. */
  statusOf(hubId: string): string | null {
    return this.#registry.find(hubId)?.status ?? null;
  }

  /**
   * Cluster mode: the hub of this cluster that holds the link leading to `hubId` (the records of
   * a child hub and of the hubs below it are attached to the cluster hub it registered with).
   */
  heldBy(hubId: string): string | null {
    const m = this.#registry.find(hubId);
    return m && (m.hubLink === 'registree' || m.hubLink === 'descendant') ? m.attachedTo : null;
  }

  /** Cluster mode: the child hubs registered with other hubs of this cluster (their records are shared). */
  childrenHeldBy(isSibling: (hubId: string) => boolean): string[] {
    const out: string[] = [];
    for (const m of this.#registry.members()) if (m.hubLink === 'registree' && m.attachedTo !== null && isSibling(m.attachedTo)) out.push(m.name);
    return out.sort();
  }

  /** The points of access a hub's record carries. */
  poaOf(hubId: string): string[] {
    const text = this.#registry.find(hubId)?.meta.poa;
    return text ? text.split(' ').filter(Boolean) : [];
  }

  /**
   * True when a member named `hubId` is here and a record in `childId`'s subtree may not take its
   * place: it is neither a record of that subtree (`via` is the child leading to `hubId`, if any)
   * nor a hub record left over (routed nowhere and not alive).
   */
  taken(hubId: string, childId: string, via: string | undefined): boolean {
    const m = this.#registry.find(hubId);
    if (!m) return false;
    const ours = (m.hubLink === 'registree' || m.hubLink === 'descendant') && (via ?? hubId) === childId;
    const stale = m.hubLink !== null && via === undefined && m.status !== 'alive';
    return !ours && !stale;
  }

  /** Creates or refreshes the record of a hub; bound to `link` (its liveness ends with it) when given. */
  async upsert(hubId: string, role: HubRole, poa: string[], meta: Record<string, string>, link: Connection | undefined): Promise<void> {
    const allMeta = { ...meta, role, ...(poa.length ? { poa: poa.join(' ').slice(0, 256) } : {}) };
    const existing = this.#registry.find(hubId);
    if (existing && existing.hubLink !== null) {
      existing.address = poa[0] ?? existing.address;
      existing.meta = allMeta;
      existing.hubLink = role;
      existing.roles = [role];
      await this.#registry.resume(existing, link);
      return;
    }
    if (existing) throw new MusterError('HUB_ID_TAKEN', `A member named ${hubId} exists on hub ${this.#hubId}`, { hub: hubId });
    const now = Date.now();
    const member = this.#registry.createMember({
      id: randomUUID(), name: hubId, type: 'hub', address: poa[0] ?? '', meta: allMeta,
      liveness: { kind: 'session', graceMs: role === 'registrar' ? REGISTRAR_GRACE_MS : this.#graceMs },
      tokenHash: hashToken(newToken()), registeredAt: now, hubLink: role, roles: [role],
    }, now);
    await this.#registry.add(member, link);
  }

  /**
   * Removes the record of `hubId` if it is one of a hub in `role`. The lookup is synchronous, the
   * removal is not. The record leaves this hub at once: in a cluster, a removal Redis does not take
   * is written again until it does (else it stayed in Redis and at every other hub of the cluster).
   */
  async remove(hubId: string, role: HubRole, reason: RemovalReason): Promise<void> {
    const m = this.#registry.find(hubId);
    if (m?.hubLink === role) await this.#registry.remove(m, reason);
  }

  /** A new registrar accepted this hub: records of earlier ones (other hub ids) go. */
  async removeRegistrarsBut(hubId: string): Promise<void> {
    const stale = [...this.#registry.members()].filter((m) => m.hubLink === 'registrar' && m.name !== hubId);
    for (const m of stale) await this.#registry.remove(m, 'unregistered');
  }

  /**
   * A link that closed while its hub's records were written left them bound to a dead
   * connection, alive for good: let them lapse after the grace period like those of any closed link.
   */
  lapseIfClosed(link: Connection): void {
    if (!link.open) this.#registry.connectionClosed(link);
  }

  /** Calls `listener` when the record of a direct child leaves the registry, for whatever reason. */
  onRegistreeRemoved(listener: (hubId: string, reason: RemovalReason) => void): void {
    this.#registry.onRemoved((m, reason) => {
      if (m.hubLink === 'registree') listener(m.name, reason);
    });
  }
}
