/**
 * The registry's way to the store and back: a change goes out with the events it makes (without
 * revisions) and the conditions it relies on; the store decides and feeds it back with
 * revisions, and only then do its events reach watchers (in revision order, with every other
 * hub's in a cluster) and the writer hear back.
 */
import type { HubEvent } from '../../schemas/event.js';
import type { Applied, Change, Conditions, Put, Store } from '../../store/store.js';
import { LoggedEvent, type EventLog } from '../events/event-log.js';
import type { Mirror } from './mirror.js';

/** An event before the store gives it a revision (`at` is stamped when it is sent). */
export type EventDraft = DistributiveOmit<HubEvent, 'revision' | 'at'> & { at?: number };
export type AdminEventDraft = Extract<EventDraft, { type: 'admin' }>;
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class Changes {
  readonly #store: Store;
  readonly #log: EventLog;
  readonly #origin: string;
  readonly #mirror: Mirror | null;
  readonly #now: () => number;
  /** The events of this hub's changes as objects, so the feed need not parse them back. */
  readonly #drafts = new WeakMap<object, EventDraft[]>();

  constructor(store: Store, log: EventLog, origin: string, mirror: Mirror | null, now: () => number) {
    this.#store = store;
    this.#log = log;
    this.#origin = origin;
    this.#mirror = mirror;
    this.#now = now;
    store.feed((applied) => this.#applied(applied));
  }

  /** Sends a change (`written`: enough once written, see Change); resolves once the store applied it and its events reached watchers. */
  async commit(puts: Put[], deletes: string[], drafts: EventDraft[], conditions?: Conditions, written = false): Promise<void> {
    const at = this.#now();
    for (const d of drafts) d.at = at;
    const change: Change = { puts, deletes, events: drafts.map((d) => JSON.stringify(d)), conditions, origin: this.#origin };
    if (written) change.written = true;
    this.#drafts.set(change, drafts);
    this.#mirror?.sent(change);
    try {
      await this.#store.apply(change);
    } catch (err) {
      this.#mirror?.settled(change);
      throw err;
    }
  }

  /** An applied change from the feed: another hub's is mirrored first; then its events go to watchers. */
  #applied(applied: Applied): void {
    const drafts = this.#drafts.get(applied.change);
    // This hub's own events are at hand as objects; others' are read from their JSON if asked for.
    const events = applied.events.map((e, i) => new LoggedEvent(e.revision, e.json, drafts ? Object.assign(drafts[i]!, { revision: e.revision }) as HubEvent : undefined));
    if (drafts) this.#mirror?.settled(applied.change);
    else this.#mirror?.apply(applied.change, events);
    for (const e of events) this.#log.deliver(e);
  }
}
