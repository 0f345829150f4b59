/**
 * Revisions and watches. Every change gets the next revision; the last `retention` events are
 * kept in a ring (and in the store) for replay. A watcher gets what is after its `since`, then
 * live events, in revision order. Each event is encoded to JSON once, for the store and for
 * every watcher.
 */
import { MusterError } from '../../errors.js';
import type { RegistryEvent, WatchFilter } from '../../schemas/event.js';
import type { StoredEvent } from '../../store/store.js';

export interface LoggedEvent {
  event: RegistryEvent;
  /** The event as JSON, encoded once. */
  json: string;
}

export interface Watcher {
  filter: WatchFilter;
  deliver(e: LoggedEvent): void;
}

export class EventLog {
  readonly #retention: number;
  readonly #ring: (LoggedEvent | undefined)[];
  #head = 0; // index of the oldest kept event
  #count = 0;
  #revision: number;
  /** Events are recorded when a change is made and delivered once it is durable; replay stops here. */
  #delivered: number;
  readonly #watchers = new Set<Watcher>();

  constructor(retention: number, revision = 0, kept: StoredEvent[] = []) {
    this.#retention = Math.max(1, retention);
    this.#ring = new Array(this.#retention);
    this.#revision = revision;
    this.#delivered = revision;
    for (const s of kept.slice(-this.#retention)) this.#push({ event: JSON.parse(s.json) as RegistryEvent, json: s.json });
  }

  /** The revision of the last event delivered to watchers. */
  get revision(): number {
    return this.#delivered;
  }

  /** The oldest revision a watch can still start after (since >= this works). */
  get oldestReplayable(): number {
    const oldest = this.#at(0);
    return oldest ? oldest.event.revision - 1 : this.#revision;
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** Assigns the next revision; the caller fills it into the event it builds. */
  nextRevision(): number {
    return ++this.#revision;
  }

  /** Records an event (its revision from nextRevision) and returns it encoded. Not yet delivered. */
  record(event: RegistryEvent): LoggedEvent {
    const logged = { event, json: JSON.stringify(event) };
    this.#push(logged);
    return logged;
  }

  /** Sends a recorded event to matching watchers (after it is durable). */
  deliver(logged: LoggedEvent): void {
    this.#delivered = logged.event.revision;
    for (const w of this.#watchers) if (matches(w.filter, logged.event)) w.deliver(logged);
  }

  /**
   * Adds a watcher. Replays kept events after `since` (throws COMPACTED when they are gone),
   * then it receives live ones. Returns the revision it is current to.
   */
  watch(watcher: Watcher, since?: number): number {
    if (since !== undefined) {
      if (since > this.#delivered) since = this.#delivered;
      if (since < this.oldestReplayable) {
        throw new MusterError('COMPACTED', `Revision ${since} is older than the log keeps (oldest: ${this.oldestReplayable}); re-list at revision ${this.#revision}`, { revision: this.#revision, oldest: this.oldestReplayable });
      }
      for (let i = 0; i < this.#count; i++) {
        const e = this.#at(i)!;
        if (e.event.revision > this.#delivered) break;
        if (e.event.revision > since && matches(watcher.filter, e.event)) watcher.deliver(e);
      }
    }
    this.#watchers.add(watcher);
    return this.#delivered;
  }

  unwatch(watcher: Watcher): void {
    this.#watchers.delete(watcher);
  }

  #push(e: LoggedEvent): void {
    if (this.#count < this.#retention) {
      this.#ring[(this.#head + this.#count) % this.#retention] = e;
      this.#count++;
    } else {
      this.#ring[this.#head] = e;
      this.#head = (this.#head + 1) % this.#retention;
    }
  }

  #at(i: number): LoggedEvent | undefined {
    if (i >= this.#count) return undefined;
    return this.#ring[(this.#head + i) % this.#retention];
  }
}

export function matches(filter: WatchFilter, event: RegistryEvent): boolean {
  if (filter.types && !filter.types.includes(event.type)) return false;
  const m = event.member;
  if (filter.type !== undefined && m.type !== filter.type) return false;
  if (filter.name !== undefined && m.name !== filter.name) return false;
  if (filter.prefix !== undefined && !m.name.startsWith(filter.prefix)) return false;
  if (filter.meta) for (const k in filter.meta) if (m.meta[k] !== filter.meta[k]) return false;
  return true;
}
