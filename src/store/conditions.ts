/**
 * A store's own record of what its conditions are about (which names and ids are taken), so that
 * it can refuse a change that no longer holds atomically, whatever the registry in front of it
 * believed. Embedded stores keep it in memory beside their data; a shared store keeps the same
 * facts in the shared engine.
 */
import { MusterError } from '../errors.js';
import type { Change, StoredMember } from './store.js';

export class ConditionBook {
  readonly #nameOf = new Map<string, string>();
  readonly #idOf = new Map<string, string>();

  constructor(members: Iterable<StoredMember> = []) {
    for (const m of members) this.#put(m);
  }

  get size(): number {
    return this.#nameOf.size;
  }

  /** Throws the change's failed condition (nothing is applied then). */
  check(change: Change): void {
    const c = change.conditions;
    if (!c) return;
    const freed = new Set(change.deletes);
    for (const id of c.present ?? []) {
      if (!this.#nameOf.has(id)) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(id)}`, { id });
    }
    for (const name of c.namesFree ?? []) {
      const holder = this.#idOf.get(name);
      const mine = change.puts.some((p) => p.member.id === holder);
      if (holder !== undefined && !freed.has(holder) && !mine) throw new MusterError('NAME_TAKEN', `The name ${name} is taken`, { name });
    }
    if (c.maxMembers !== undefined) {
      let after = this.#nameOf.size;
      for (const id of change.deletes) if (this.#nameOf.has(id)) after--;
      for (const p of change.puts) if (!this.#nameOf.has(p.member.id)) after++;
      if (after > c.maxMembers) throw new MusterError('REGISTRY_FULL', `The registry is full (${c.maxMembers} members)`, { max: c.maxMembers });
    }
  }

  /** Records an applied change. */
  record(change: Change): void {
    for (const id of change.deletes) {
      const name = this.#nameOf.get(id);
      if (name === undefined) continue;
      this.#nameOf.delete(id);
      if (this.#idOf.get(name) === id) this.#idOf.delete(name);
    }
    for (const p of change.puts) this.#put(p.member);
  }

  #put(m: StoredMember): void {
    const old = this.#nameOf.get(m.id);
    if (old !== undefined && old !== m.name && this.#idOf.get(old) === m.id) this.#idOf.delete(old);
    this.#nameOf.set(m.id, m.name);
    this.#idOf.set(m.name, m.id);
  }
}
