/**
 * Cluster mode: this hub's copy of members other hubs change. Every applied change comes back
 * through the store's feed, in revision order; changes made here are already in memory, changes
 * made elsewhere are applied here, field by field. A field this hub has written and whose change
 * the feed has not brought back yet keeps this hub's value: that write comes later in the store's
 * order, so it is the one the store ends with, and every hub's copy converges on the store's.
 */
import type { LoggedEvent } from '../events/event-log.js';
import type { RemovalReason } from '../../schemas/member.js';
import type { Change, MemberField, Put, StoredMember } from '../../store/store.js';
import { fromStoredExtra, initFromStored, type Member, type MemberInit } from './member.js';
import type { MemberIndex } from './member-index.js';
import { ChurnMap } from '../churn-map.js';

/** What the mirror asks of the registry it serves. */
export interface MirrorHooks {
  readonly hubId: string;
  create(init: MemberInit): Member;
  /** A new member from another hub: indexed (and probed here if this hub holds it). */
  added(member: Member): void;
  /** A member another hub removed: out of this hub's index, its listeners told. */
  removed(member: Member, reason: RemovalReason): void;
  /** A member this hub held is held by another hub now (its client moved there). */
  movedAway(member: Member): void;
  /** A member another hub held is held by this one now (a probed member of a hub this one reaped). */
  movedHere(member: Member): void;
}

const ALL_FIELDS: readonly MemberField[] = ['name', 'type', 'address', 'meta', 'liveness', 'tokenHash', 'registeredAt', 'extra', 'attachedTo', 'status'];

export class Mirror {
  readonly #index: MemberIndex;
  readonly #hooks: MirrorHooks;
  /**
   * Per member id: this hub's writes the feed has not brought back yet, whole records (every
   * field) and fields on their own. A registration is one whole put: one counter, no map. A
   * ChurnMap: each change adds and deletes an entry (core/churn-map.ts).
   */
  readonly #pending = new ChurnMap<string, Pending>();
  /**
   * Per member id: this hub's removals the feed has not brought back yet. The member is out of
   * the index already; another hub's put of it, applied before the removal, must not bring it back.
   */
  readonly #removing = new ChurnMap<string, number>();
  /**
   * Per member id: other hubs' puts that a pending whole write or removal of this hub's hid. If the
   * store refuses that write (a retried registration whose member another hub made first:
   * MEMBER_EXISTS; a removal of a member another hub took meanwhile: NO_SUCH_MEMBER), they are the
   * member as the store has it, and are applied then.
   */
  readonly #hidden = new Map<string, Put[]>();

  constructor(index: MemberIndex, hooks: MirrorHooks) {
    this.#index = index;
    this.#hooks = hooks;
  }

  /** A change this hub is sending to the store: its fields are pending until the feed brings it back. */
  sent(change: Change): void {
    this.#count(change.puts, 1);
    for (const id of change.deletes) this.#removing.set(id, (this.#removing.get(id) ?? 0) + 1);
  }

  /**
   * This hub's own change came back: its fields are settled; what it hid is older, and dropped. A
   * member of an id it removed that is here again (applied from older puts when an earlier try of
   * the removal timed out, which Redis then ran late) is older than the removal too, and goes.
   */
  settled(change: Change, events: readonly LoggedEvent[] = []): void {
    this.#settle(change, false);
    for (const id of change.deletes) {
      this.#hidden.delete(id);
      const m = this.#index.find(id);
      // Not one this change (or a later write of this hub's) puts back under the same id.
      if (m && m.id === id && !this.writing(id) && !change.puts.some((p) => p.member.id === id)) this.#hooks.removed(m, removalReason(events, id));
    }
  }

  /** This hub's own change failed: settled, and the other hubs' puts it hid (the store's record) applied now. */
  refused(change: Change): void {
    this.#settle(change, true);
  }

  #settle(change: Change, refused: boolean): void {
    this.#count(change.puts, -1);
    for (const id of change.deletes) {
      const n = (this.#removing.get(id) ?? 0) - 1;
      if (n > 0) this.#removing.set(id, n);
      else this.#removing.delete(id);
    }
    if (this.#hidden.size === 0) return;
    for (const id of change.deletes) this.#unhide(id, refused);
    for (const put of change.puts) this.#unhide(put.member.id, refused);
  }

  /** Once no write of this hub's hides the member: its hidden puts applied (the write refused) or dropped (older than it). */
  #unhide(id: string, refused: boolean): void {
    const hidden = this.writing(id) || this.#removing.get(id) !== undefined ? undefined : this.#hidden.get(id);
    if (hidden === undefined) return;
    this.#hidden.delete(id);
    if (refused) for (const p of hidden) this.#put(p);
  }

  /** Keeps another hub's put for when this hub's pending write of the member is settled. */
  #hide(put: Put): void {
    const hidden = this.#hidden.get(put.member.id);
    if (hidden) hidden.push(put);
    else this.#hidden.set(put.member.id, [put]);
  }

  /** True while this hub has written the member and the feed has not brought that write back. */
  writing(id: string): boolean {
    return this.#pending.get(id) !== undefined;
  }

  /** Another hub's change: deletes, then puts, applied to this hub's members. */
  apply(change: Change, events: readonly LoggedEvent[]): void {
    for (const id of change.deletes) {
      const m = this.#index.find(id);
      if (!m || m.id !== id) continue;
      this.#hooks.removed(m, removalReason(events, id));
    }
    for (const put of change.puts) this.#put(put);
  }

  #put(put: Put): void {
    const stored = put.member;
    const m = this.#index.find(stored.id);
    if (!m || m.id !== stored.id) {
      // This hub removed it; that comes later in the store's order, unless the store refuses it.
      if (this.#removing.get(stored.id) !== undefined) return this.#hide(put);
      const member = this.#hooks.create(initFromStored(stored));
      this.#index.add(member);
      this.#hooks.added(member);
      return;
    }
    const pending = this.#pending.get(stored.id);
    if (pending && pending.whole > 0) return this.#hide(put);
    const fields = (put.fields ?? ALL_FIELDS).filter((f) => !pending?.fields?.get(f));
    if (fields.length === 0) return;
    const wasHere = m.attachedTo === this.#hooks.hubId;
    // Name and token hash are index keys: the member is indexed again under the new ones.
    const rekey = fields.includes('name') || fields.includes('tokenHash');
    if (rekey) this.#index.delete(m);
    assign(m, stored, fields, this.#index);
    if (rekey) this.#index.add(m);
    if (wasHere && m.attachedTo !== this.#hooks.hubId) this.#hooks.movedAway(m);
    else if (!wasHere && m.attachedTo === this.#hooks.hubId) this.#hooks.movedHere(m);
  }

  #count(puts: readonly Put[], delta: 1 | -1): void {
    for (const put of puts) {
      const id = put.member.id;
      let p = this.#pending.get(id);
      if (!p) {
        if (delta < 0) continue;
        this.#pending.set(id, (p = { whole: 0, fields: null }));
      }
      if (put.fields === undefined) p.whole += delta;
      else {
        const fields = (p.fields ??= new Map());
        for (const f of put.fields) {
          const n = (fields.get(f) ?? 0) + delta;
          if (n > 0) fields.set(f, n);
          else fields.delete(f);
        }
        if (fields.size === 0) p.fields = null;
      }
      if (p.whole <= 0 && p.fields === null) this.#pending.delete(id);
    }
  }
}

/** This hub's writes of one member not fed back yet: whole puts, and puts of some fields, by field. */
interface Pending {
  whole: number;
  fields: Map<MemberField, number> | null;
}

/** Copies `fields` of a stored record onto a live member (the typed facts out of `extra`). */
function assign(m: Member, s: StoredMember, fields: readonly MemberField[], index: MemberIndex): void {
  for (const f of fields) {
    switch (f) {
      case 'name': (m as { name: string }).name = s.name; break;
      case 'type': m.type = s.type; break;
      case 'address': m.address = s.address; break;
      case 'meta': m.meta = s.meta; break;
      case 'tokenHash': m.tokenHash = s.tokenHash; break;
      case 'attachedTo': m.attachedTo = s.attachedTo ?? null; break;
      case 'status': if (s.status) index.setStatus(m, s.status); break;
      case 'liveness': m.liveness = s.liveness as Member['liveness']; break;
      case 'registeredAt': m.registeredAt = s.registeredAt; break;
      case 'extra': {
        const facts = fromStoredExtra(s.extra);
        m.roles = facts.roles ?? [];
        m.hubLink = facts.hubLink ?? null;
        m.lifecycle = facts.lifecycle ?? null;
        m.history = facts.history ?? [];
        break;
      }
    }
  }
}

/** The reason a change's `removed` event gives for the member (unregistered if none). */
function removalReason(events: readonly LoggedEvent[], id: string): RemovalReason {
  const removal = events.map((e) => e.event).find((e) => e.type === 'removed' && e.member.id === id);
  return removal?.type === 'removed' ? removal.reason : 'unregistered';
}
