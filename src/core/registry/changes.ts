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

/**
 * The events of this hub's change as objects, so the feed need not parse them back: a field of
 * the change, which stores hand back as given (a WeakMap entry per change cost the collector).
 */
const DRAFTS = Symbol('drafts');
type OwnChange = Change & { [DRAFTS]?: EventDraft[] };

export class Changes {
  readonly #store: Store;
  readonly #log: EventLog;
  readonly #origin: string;
  readonly #mirror: Mirror | null;
  readonly #now: () => number;

  constructor(store: Store, log: EventLog, origin: string, mirror: Mirror | null, now: () => number) {
    this.#store = store;
    this.#log = log;
    this.#origin = origin;
    this.#mirror = mirror;
    this.#now = now;
    store.feed((applied) => this.#applied(applied));
  }

  /** Sends a change (`written`: enough once written, see Change); resolves once the store applied it and its events reached watchers. */
  commit(puts: Put[], deletes: string[], drafts: EventDraft[], conditions?: Conditions, written = false): Promise<unknown> {
    const at = this.#now();
    for (const d of drafts) d.at = at;
    const change: OwnChange = { puts, deletes, events: drafts.map((d) => JSON.stringify(d)), conditions, origin: this.#origin, [DRAFTS]: drafts };
    if (written) change.written = true;
    const mirror = this.#mirror;
    if (!mirror) return this.#store.apply(change); // no async frame of its own: one promise less per change
    mirror.sent(change);
    return this.#store.apply(change).catch((err: unknown) => {
      mirror.refused(change);
      throw err;
    });
  }

  /** An applied change from the feed: another hub's is mirrored first; then its events go to watchers. */
  #applied(applied: Applied): void {
    const drafts = (applied.change as OwnChange)[DRAFTS];
    // This hub's own events are at hand as objects; others' are read from their JSON if asked for.
    const events = applied.events.map((e, i) => new LoggedEvent(e.revision, e.json, drafts ? asEvent(drafts[i]!, e.revision) : undefined));
    if (drafts) this.#mirror?.settled(applied.change, events);
    else this.#mirror?.apply(applied.change, events);
    for (const e of events) this.#log.deliver(e);
  }
}

/** The draft, now the event: its revision set in place. */
function asEvent(draft: EventDraft, revision: number): HubEvent {
  const event = draft as EventDraft & { revision: number };
  event.revision = revision;
  return event as HubEvent;
}
