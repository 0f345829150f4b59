/**
 * A member's removal or change that the store did not take for now (in a cluster, Redis away,
 * frozen or refusing writes; on the hub's own SQLite file, a full disk: STORE_UNAVAILABLE) is
 * written again until it does (write-retries.ts paces the tries). The member left this hub's
 * memory, or changed there, before the store was asked: dropped, the write left it in Redis and at
 * every other hub as it was (a ghost, a lost change), or in the file, its watchers never told. A removal is tried
 * again while no member of its id is here again; a change while this hub holds the member, its
 * fields as they are then, with an `updated` event; each only if the store still has the member.
 * A member held here again (resumed on a connection of this hub's, or held by no hub after its hub
 * was reaped while it stood still) is written again while that connection is open. Every removal,
 * change and resume of the registry goes this way, whether its caller waits or not: the memory
 * changed first, and a caller told STORE_UNAVAILABLE that tries again may find nothing left to do
 * (a second unregister answers NO_SUCH_MEMBER). A SQLite store that stopped (a failed write or
 * sync other than a full disk's) is not asked again: it takes nothing until a restart.
 */
import type { MusterError } from '../../errors.js';
import type { RemovalReason } from '../../schemas/member.js';
import type { MemberField } from '../../store/store.js';
import type { Connection } from '../ports.js';
import type { Changes } from './changes.js';
import { WriteRetries } from './write-retries.js';
import { toStored, viewOf, type Member } from './member.js';
import type { MemberIndex } from './member-index.js';

/** Who asked for a removal, and why (an admin's eviction). */
export interface Asked {
  by: string;
  note?: string;
}

/** A lifecycle transition a change makes (its event is `lifecycle`). */
export interface Transition {
  from: string;
  to: string;
}

/** The registry's first tries (each resolves once the store took the write). */
export interface FirstTries {
  remove(m: Member, reason: RemovalReason, asked?: Asked): Promise<void>;
  changed(m: Member, transition?: Transition, fields?: readonly MemberField[]): Promise<void>;
  resume(m: Member, connection?: Connection): Promise<void>;
}

export class RetriedWrites {
  readonly #first: FirstTries;
  readonly #index: MemberIndex;
  readonly #changes: Changes;
  readonly #hubId: string;
  readonly #cluster: boolean;
  readonly #retries: WriteRetries;
  /** Per member: the fields of its changes the store did not take yet (null: the whole record). */
  readonly #unwritten = new Map<Member, Set<MemberField> | null>();

  constructor(first: FirstTries, index: MemberIndex, changes: Changes, hubId: string, cluster: boolean) {
    this.#first = first;
    this.#index = index;
    this.#changes = changes;
    this.#hubId = hubId;
    this.#cluster = cluster;
    // In a cluster, any STORE_UNAVAILABLE (Redis away, frozen, refusing); on a store of the hub's
    // own, only a full disk's (it says when to try again): a store that stopped stays stopped.
    this.#retries = new WriteRetries((err) => (err as MusterError | undefined)?.code === 'STORE_UNAVAILABLE'
      && (cluster || (err as MusterError).details?.retryAfterMs !== undefined));
  }

  /** Removes the member (out of memory at once); rejects as the first try does. */
  remove(m: Member, reason: RemovalReason, asked?: Asked): Promise<void> {
    return this.#first.remove(m, reason, asked).catch((err: unknown) => {
      // The conditions: a removal a frozen Redis ran late is not made twice, nor made once another
      // hub took the member (its client resumed it there before this hub heard of it).
      const conditions = { present: [m.id], ...(this.#cluster ? { heldBy: [{ id: m.id, hub: m.attachedTo }] } : {}) };
      this.#retries.failed(m, err, 'removal', () => (this.#index.find(m.id) ? null
        : this.#changes.commit([], [m.id], [{ type: 'removed', member: viewOf(m, this.#hubId), reason, ...asked }], conditions)));
      throw err;
    });
  }

  /**
   * Writes `fields` of the member (the whole record when undefined) with its event; rejects as the
   * first try does. Tried again, the event is `updated` (a transition's `lifecycle` event is for
   * the state it names, which may have changed since; the member's record says where it is).
   */
  changed(m: Member, transition?: Transition, fields?: readonly MemberField[]): Promise<void> {
    return this.#first.changed(m, transition, fields).catch((err: unknown) => {
      if (this.#unwrite(m, err, fields)) this.#retries.failed(m, err, 'change', () => this.#changeAgain(m));
      throw err;
    });
  }

  /** A status liveness set: written while this hub holds the member. */
  status(m: Member): void {
    if (this.#heldHere(m)) void this.changed(m, undefined, STATUS).catch(() => {});
  }

  /** Binds the member to `connection` and writes it as held here (registry.resume); rejects as the first try does. */
  resume(m: Member, connection?: Connection): Promise<void> {
    return this.#first.resume(m, connection).catch((err: unknown) => {
      this.#retries.failed(m, err, 'hold', this.#holdAgain(m));
      throw err;
    });
  }

  /** A member whose client is here, held by no hub: held here again (resume), while its client stays connected. */
  hold(m: Member): void {
    const again = this.#holdAgain(m);
    void again()?.catch((err: unknown) => this.#retries.failed(m, err, 'hold', again));
  }

  /** The next try of holding the member here: while this hub has it and its connection is open. */
  #holdAgain(m: Member): () => Promise<void> | null {
    return () => (this.#index.holds(m) && m.connection?.open ? this.#first.resume(m, m.connection) : null);
  }

  close(): void {
    this.#retries.close();
    this.#unwritten.clear();
  }

  /** True while this hub holds the member: in its index and, in a cluster, attached to it. */
  #heldHere(m: Member): boolean {
    return this.#index.holds(m) && (!this.#cluster || m.attachedTo === this.#hubId);
  }

  /** The member's next try: its fields not written yet, as they are now, while this hub holds it. */
  #changeAgain(m: Member): Promise<unknown> | null {
    const fields = this.#unwritten.get(m);
    this.#unwritten.delete(m);
    if (fields === undefined || !this.#heldHere(m)) return null;
    const list = fields === null ? undefined : [...fields];
    // While the store has it: a member another hub removed meanwhile is not written back.
    const write = this.#changes.commit([{ member: toStored(m), fields: list }], [], [{ type: 'updated', member: viewOf(m, this.#hubId) }], { present: [m.id] });
    return write.catch((err: unknown) => {
      this.#unwrite(m, err, list);
      throw err;
    });
  }

  /** Keeps `fields` for the member's next try if the store was only unavailable (true then). */
  #unwrite(m: Member, err: unknown, fields: readonly MemberField[] | undefined): boolean {
    if (!this.#retries.retryable(err) || this.#retries.closed) return false;
    const had = this.#unwritten.get(m);
    this.#unwritten.set(m, had === null || fields === undefined ? null : new Set([...(had ?? []), ...fields]));
    return true;
  }
}

const STATUS: readonly MemberField[] = ['status'];
