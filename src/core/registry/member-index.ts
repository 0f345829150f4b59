/**
 * Where the registry finds its members: by id, by name and by token hash, and the names held
 * outside its members. "The first free name" stays O(1) for a crowd of one name with a suffix
 * hint per base name, so the thousandth `sensor` does not try sensor-1 .. sensor-999 first.
 */
import { MusterError } from '../../errors.js';
import type { ListParams } from '../../schemas/member.js';
import { firstFreeName } from '../names.js';
import { OrderedShardedMap } from '../ordered-sharded-map.js';
import { ShardedMap } from '../sharded-map.js';
import type { Member } from './member.js';

/** Cluster mode: a registration whose name another hub took at the same moment tries this often, holding each lost name this long. */
export const RACED_NAME = { attempts: 20, holdMs: 5_000 } as const;

export class MemberIndex {
  /** In the order they came: lists and services walk the members in that order. */
  readonly #byId = new OrderedShardedMap<Member>();
  readonly #byName = new ShardedMap<Member>();
  readonly #byToken = new ShardedMap<Member>();
  /** Names held outside the members (another face's reservation, a hub id, ...). */
  readonly #reserved = new Set<string>();
  /** Per base name, a suffix N such that base-1 .. base-N are all taken. */
  readonly #suffixHint = new Map<string, number>();
  /** The members by status, kept as they come, go and change: counting them is read every second. */
  readonly #byStatus: Record<Member['status'], number> = { alive: 0, suspect: 0, gone: 0 };

  get size(): number {
    return this.#byId.size;
  }

  /** By id, then by name: one map lookup for a caller that knows its id (every heartbeat). */
  find(idOrName: string): Member | undefined {
    return this.#byId.get(idOrName) ?? this.#byName.get(idOrName);
  }

  byTokenHash(tokenHash: string): Member | undefined {
    return this.#byToken.get(tokenHash);
  }

  /** True while `member` is the record indexed under its id (not one removed or replaced since). */
  holds(member: Member): boolean {
    return this.#byId.get(member.id) === member;
  }

  values(): IterableIterator<Member> {
    return this.#byId.values();
  }

  /** The members a hub of the cluster holds, in the order they came. */
  *heldBy(hubId: string): IterableIterator<Member> {
    for (const m of this.#byId.values()) if (m.attachedTo === hubId) yield m;
  }

  /** Members by status, and in all. */
  counts(): Record<Member['status'] | 'total', number> {
    const s = this.#byStatus;
    return { total: this.#byId.size, alive: s.alive, suspect: s.suspect, gone: s.gone };
  }

  /** The one way a member's status changes, so that the counts stay true. */
  setStatus(m: Member, status: Member['status']): void {
    if (m.status === status) return;
    if (this.holds(m)) {
      this.#byStatus[m.status]--;
      this.#byStatus[status]++;
    }
    (m as { status: Member['status'] }).status = status;
  }

  /** The members a list asks for (every filter of `params` but the limit and the order; `attachedTo` a hub's), unsorted. */
  select(params: ListParams, attachedTo?: string): Member[] {
    const hits: Member[] = [];
    const search = params.search?.toLowerCase();
    for (const m of this.#byId.values()) {
      if (attachedTo !== undefined && m.attachedTo !== attachedTo) continue;
      if (params.type !== undefined && m.type !== params.type) continue;
      if (params.status !== undefined && m.status !== params.status) continue;
      if (params.prefix !== undefined && !m.name.startsWith(params.prefix)) continue;
      if (params.after !== undefined && m.name <= params.after) continue;
      if (params.state !== undefined && m.lifecycle?.state !== params.state) continue;
      if (params.meta && !metaMatches(m.meta, params.meta)) continue;
      if (search !== undefined && !m.name.toLowerCase().includes(search)) continue;
      if (params.role !== undefined && !m.roles.includes(params.role)) continue;
      hits.push(m);
    }
    return hits;
  }

  reserve(name: string): void {
    this.#reserved.add(name);
  }

  release(name: string): void {
    this.#reserved.delete(name);
  }

  isTaken(name: string): boolean {
    return this.#byName.has(name) || this.#reserved.has(name);
  }

  /** The name a newcomer gets: `base`, or the first free `base-N` (NAME_TAKEN instead when it must be `base`). */
  nameFor(base: string, exclusive: boolean): string {
    if (!this.isTaken(base)) return base;
    if (exclusive) throw new MusterError('NAME_TAKEN', `The name ${base} is taken`, { name: base });
    return this.firstFree(base);
  }

  /** Keeps a name from newcomers for `ms` (one another hub took first: its member is on its way here). */
  holdFor(name: string, ms: number): void {
    this.reserve(name);
    setTimeout(() => { if (!this.find(name)) this.release(name); }, ms).unref();
  }

  /** The first free `base-N` for a newcomer whose `base` is taken. */
  firstFree(base: string): string {
    const name = firstFreeName(base, (n) => this.isTaken(n), (this.#suffixHint.get(base) ?? 0) + 1);
    const suffix = Number(name.slice(name.lastIndexOf('-') + 1));
    if (name.length <= 64 && Number.isInteger(suffix)) this.#suffixHint.set(base, suffix);
    return name;
  }

  add(m: Member): void {
    const before = this.#byId.set(m.id, m);
    if (before !== m) {
      if (before !== undefined) this.#byStatus[before.status]--;
      this.#byStatus[m.status]++;
    }
    this.#byName.set(m.name, m);
    this.#byToken.set(m.tokenHash, m);
  }

  /** Takes `m` out; entries that point to another member (one that took its name meanwhile) stay. */
  delete(m: Member): void {
    if (this.#byId.get(m.id) === m) {
      this.#byId.delete(m.id);
      this.#byStatus[m.status]--;
    }
    if (this.#byName.get(m.name) !== m) {
      if (this.#byToken.get(m.tokenHash) === m) this.#byToken.delete(m.tokenHash);
      return;
    }
    this.#byName.delete(m.name);
    // A freed base-N at or below the hint lowers it, so the next newcomer gets base-N again.
    const dash = m.name.lastIndexOf('-');
    if (dash > 0) {
      const base = m.name.slice(0, dash);
      const n = Number(m.name.slice(dash + 1));
      const hint = this.#suffixHint.get(base);
      if (hint !== undefined && Number.isInteger(n) && n >= 1 && n <= hint) this.#suffixHint.set(base, n - 1);
    }
    if (this.#byToken.get(m.tokenHash) === m) this.#byToken.delete(m.tokenHash);
  }
}

function metaMatches(meta: Record<string, string>, want: Record<string, string>): boolean {
  for (const k in want) if (meta[k] !== want[k]) return false;
  return true;
}
