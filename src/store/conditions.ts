/**
 * A store's own record of what its conditions are about (which names and ids are taken), so that
 * it can refuse a change that no longer holds atomically, whatever the registry in front of it
 * believed. Embedded stores keep it in memory beside their data; a shared store keeps the same
 * facts in the shared engine.
 *
 * Its tables hold every member, so each lookup is likely a cache miss: a registration costs four
 * (its name, its id, and the two entries written), and the SQLite store keeps a member's row slot
 * in the same entry rather than in a map of its own.
 */
import { ShardedMap } from '../core/sharded-map.js';
import { MusterError } from '../errors.js';
import type { Change, StoredMember } from './store.js';

/** A member as the book knows it: its name, and its row in an embedded store's file (0: none yet). */
export interface BookEntry {
  name: string;
  slot: number;
}

export class ConditionBook {
  readonly #byId = new ShardedMap<BookEntry>();
  readonly #idOf = new ShardedMap<string>();

  constructor(members: Iterable<StoredMember> = [], slotOf?: (m: StoredMember, i: number) => number) {
    let i = 0;
    for (const m of members) this.#put(m, slotOf?.(m, i++) ?? 0);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The member's entry, or undefined when the book has no such member. */
  entry(id: string): BookEntry | undefined {
    return this.#byId.get(id);
  }

  /**
   * Checks the change's conditions and records it, or throws the failed condition (nothing
   * recorded then). Its puts' entries are looked up once, for the member count and the record.
   * Returns the first put's entry, where an embedded store keeps its own fact (a row slot).
   */
  admit(change: Change): BookEntry | undefined {
    const c = change.conditions;
    const puts = change.puts;
    // One put is nearly every change: its entry is kept rather than an array of them.
    const first = puts.length > 0 ? this.#byId.get(puts[0]!.member.id) : undefined;
    if (c) this.#check(change, c, first);
    for (const id of change.deletes) {
      const entry = this.#byId.get(id);
      if (entry === undefined) continue;
      this.#byId.delete(id);
      if (this.#idOf.get(entry.name) === id) this.#idOf.delete(entry.name);
    }
    let firstEntry: BookEntry | undefined;
    for (let i = 0; i < puts.length; i++) {
      // A delete of the same id in this change leaves no entry to update.
      const entry = this.#put(puts[i]!.member, 0, i === 0 && change.deletes.length === 0 ? first ?? null : undefined);
      if (i === 0) firstEntry = entry;
    }
    return firstEntry;
  }

  #check(change: Change, c: NonNullable<Change['conditions']>, first: BookEntry | undefined): void {
    for (const id of c.present ?? []) {
      if (!this.#byId.has(id)) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(id)}`, { id });
    }
    for (const id of c.absent ?? []) {
      const known = change.puts.length > 0 && change.puts[0]!.member.id === id ? first : this.#byId.get(id);
      if (known !== undefined) throw new MusterError('MEMBER_EXISTS', `A member ${JSON.stringify(id)} exists already`, { id });
    }
    for (const name of c.namesFree ?? []) {
      const holder = this.#idOf.get(name);
      if (holder === undefined) continue;
      const mine = change.puts.some((p) => p.member.id === holder);
      if (!change.deletes.includes(holder) && !mine) throw new MusterError('NAME_TAKEN', `The name ${name} is taken`, { name });
    }
    if (c.maxMembers !== undefined) {
      let after = this.#byId.size;
      for (const id of change.deletes) if (this.#byId.has(id)) after--;
      change.puts.forEach((p, i) => { if ((i === 0 ? first : this.#byId.get(p.member.id)) === undefined) after++; });
      if (after > c.maxMembers) throw new MusterError('REGISTRY_FULL', `The registry is full (${c.maxMembers} members)`, { max: c.maxMembers });
    }
  }

  /** Records `m` under its id and name; `known` is its entry when already looked up (null: none). */
  #put(m: StoredMember, slot: number, known?: BookEntry | null): BookEntry {
    let entry = known === undefined ? this.#byId.get(m.id) : known;
    if (entry === null || entry === undefined) this.#byId.set(m.id, (entry = { name: m.name, slot }));
    else if (entry.name !== m.name) {
      if (this.#idOf.get(entry.name) === m.id) this.#idOf.delete(entry.name);
      entry.name = m.name;
    }
    // The last put of a name holds it, as a change without conditions may give it to another id.
    this.#idOf.set(m.name, m.id);
    return entry;
  }
}
