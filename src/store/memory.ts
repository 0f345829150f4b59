/**
 * The reference store: everything in memory, nothing survives the process. It decides exactly
 * as every store must (test/contracts/store.ts runs the same contract against each), and it is
 * what tests use where a store's durability is not the point.
 */
import { randomUUID } from 'node:crypto';
import { ConditionBook } from './conditions.js';
import { withRevision, type Applied, type Change, type Store, type StoreSnapshot, type StoredEvent, type StoredMember } from './store.js';

export interface MemoryStoreOptions {
  eventRetention?: number;
}

export class MemoryStore implements Store {
  readonly kind: string = 'memory';
  readonly #members = new Map<string, StoredMember>();
  readonly #events: StoredEvent[] = [];
  readonly #retention: number;
  readonly #listeners: ((a: Applied) => void)[] = [];
  readonly #book = new ConditionBook();
  readonly #epoch = randomUUID();
  #revision = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#retention = options.eventRetention ?? 10_000;
  }

  async open(): Promise<StoreSnapshot> {
    return { members: [...this.#members.values()], events: [...this.#events], position: { revision: this.#revision, epoch: this.#epoch } };
  }

  async apply(change: Change): Promise<Applied> {
    this.#book.admit(change);
    for (const id of change.deletes) this.#members.delete(id);
    for (const p of change.puts) this.#members.set(p.member.id, p.member);
    const events = change.events.map((draft) => {
      const revision = ++this.#revision;
      return { revision, json: withRevision(draft, revision) };
    });
    this.#events.push(...events);
    if (this.#events.length > this.#retention) this.#events.splice(0, this.#events.length - this.#retention);
    const applied = { change, events };
    for (const l of this.#listeners) l(applied);
    return applied;
  }

  feed(listener: (applied: Applied) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {}
}
