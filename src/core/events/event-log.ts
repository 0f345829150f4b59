/**
 * The history watchers read: every event the store applied, in revision order, the last
 * `retention` kept in a ring for replay. Revisions come from the store (one sequence, shared by
 * every hub of a cluster) within an epoch that changes when the store is wiped. A watcher gets
 * what is after its `since`, then live events. Each event is JSON-encoded once, for every watcher.
 */
import { MusterError } from '../../errors.js';
import type { HubEvent, RegistryEvent, WatchFilter } from '../../schemas/event.js';
import type { Position, StoredEvent } from '../../store/store.js';
import { EventRing } from './event-ring.js';

/**
 * An applied event as its JSON (encoded once, for every watcher) and its revision. The object is
 * read from the JSON only when something asks for it (a watch filter, a face that shows fields):
 * in a cluster most events come from other hubs as JSON and most go out unread, so parsing each
 * on arrival, and keeping the log's 10,000 as objects, was work and memory for nothing. This hub's
 * own events come with their object, which watchers use while the event is delivered; the log
 * then lets it go (release), and keeps the event as bytes (event-ring.ts).
 */
export class LoggedEvent {
  readonly revision: number;
  readonly json: string;
  #event: HubEvent | undefined;

  constructor(revision: number, json: string, event?: HubEvent) {
    this.revision = revision;
    this.json = json;
    this.#event = event;
  }

  get event(): HubEvent {
    return (this.#event ??= JSON.parse(this.json) as HubEvent);
  }

  /**
   * The event's type, told without parsing: every event's JSON starts `{"revision":N,"type":"...`
   * (withRevision, and drafts written type first).
   */
  get type(): HubEvent['type'] {
    if (this.#event) return this.#event.type;
    const start = this.json.indexOf(',') + 9; // past `,"type":"`
    return this.json.slice(start, this.json.indexOf('"', start)) as HubEvent['type'];
  }

  /** An admin event (no member), told without parsing. */
  get admin(): boolean {
    if (this.#event) return this.#event.type === 'admin';
    return this.json.startsWith('"type":"admin"', this.json.indexOf(',') + 1);
  }

  /**
   * Drops the object (read again from the JSON if asked for) once the event is delivered: a
   * watcher's queue may hold the event past a young-generation collection, and the object kept
   * would be copied into the old generation and collected there.
   */
  release(): void {
    this.#event = undefined;
  }
}

export interface Watcher {
  filter: WatchFilter;
  deliver(e: LoggedEvent): void;
  /** The history it followed is gone (the store was wiped): it was current to `revision` of it. */
  restarted?(revision: number): void;
}

export class EventLog {
  readonly #retention: number;
  readonly #ring: EventRing;
  /** The last revision delivered to watchers. */
  #revision: number;
  #epoch: string;
  readonly #watchers = new Set<Watcher>();

  constructor(retention: number, position: Position, kept: StoredEvent[] = []) {
    this.#retention = Math.max(1, retention);
    this.#ring = new EventRing(this.#retention);
    this.#revision = position.revision;
    this.#epoch = position.epoch;
    for (const s of kept.slice(-this.#retention)) this.#ring.push(s.revision, s.json);
  }

  /** The revision of the last event delivered to watchers. */
  get revision(): number {
    return this.#revision;
  }

  /** Names the history the revisions belong to. */
  get epoch(): string {
    return this.#epoch;
  }

  /** The oldest revision a watch can still start after (since >= this works). */
  get oldestReplayable(): number {
    return this.#ring.count > 0 ? this.#ring.revisionAt(0) - 1 : this.#revision;
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** Keeps an applied event and sends it to matching watchers. Events arrive in revision order. */
  deliver(logged: LoggedEvent): void {
    this.#ring.push(logged.revision, logged.json);
    this.#revision = logged.revision;
    for (const w of this.#watchers) if (passes(w.filter, logged)) w.deliver(logged);
    logged.release();
  }

  /**
   * The store was wiped and began a new history, at `position` with `kept` events: what came
   * before cannot be resumed from. Every watcher leaves, told the revision it was current to.
   */
  restart(position: Position, kept: StoredEvent[] = []): void {
    const was = this.#revision;
    this.#ring.clear();
    this.#revision = position.revision;
    this.#epoch = position.epoch;
    for (const s of kept.slice(-this.#retention)) this.#ring.push(s.revision, s.json);
    const watchers = [...this.#watchers];
    this.#watchers.clear();
    for (const w of watchers) w.restarted?.(was);
  }

  /**
   * Adds a watcher. Replays kept events after `since`, then it receives live ones; returns the
   * revision it is current to. A `since` the log cannot serve (older than it keeps, ahead of it,
   * or from another epoch) throws COMPACTED with the current revision: re-list, then watch from there.
   */
  watch(watcher: Watcher, since?: number, epoch?: string): number {
    if (since !== undefined) {
      const why = epoch !== undefined && epoch !== this.#epoch ? `is from another history (epoch ${epoch}; this store's is ${this.#epoch})`
        : since > this.#revision ? `is ahead of the log (at ${this.#revision})`
          : since < this.oldestReplayable ? `is older than the log keeps (oldest: ${this.oldestReplayable})` : null;
      if (why) {
        throw new MusterError('COMPACTED', `Revision ${since} ${why}; re-list at revision ${this.#revision}`, { revision: this.#revision, oldest: this.oldestReplayable, epoch: this.#epoch });
      }
      const ring = this.#ring;
      for (let i = 0; i < ring.count; i++) {
        const revision = ring.revisionAt(i);
        if (revision <= since) continue;
        const e = new LoggedEvent(revision, ring.jsonAt(i));
        if (passes(watcher.filter, e)) watcher.deliver(e);
      }
    }
    this.#watchers.add(watcher);
    return this.#revision;
  }

  unwatch(watcher: Watcher): void {
    this.#watchers.delete(watcher);
  }

}

/**
 * A watch without a filter takes every member event, without reading it. Admin events go only to
 * watches that list `admin` in `types` and select no members (they have none): watchers written
 * before admin events existed never see an event without a member.
 */
function passes(filter: WatchFilter, e: LoggedEvent): boolean {
  const any = filter.type === undefined && filter.name === undefined && filter.prefix === undefined && filter.meta === undefined;
  if (e.admin) return any && filter.types !== undefined && filter.types.includes('admin');
  // A filter by type alone reads the type from the JSON's head: a replay parses no event for it.
  if (any) return filter.types === undefined || filter.types.includes(e.type);
  return matches(filter, e.event as RegistryEvent);
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
