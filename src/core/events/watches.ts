/**
 * Watches: a connection's standing interest in registry events. Each watch replays what the log
 * kept after its `since`, then takes live events, through `Connection.deliver`. A connection
 * that does not take an event (its bound is reached) loses that watch and is told where to
 * resume (`watch-dropped`), so a slow watcher costs the hub a bounded queue, never memory. When
 * the store was wiped every watch is dropped the same way, with code COMPACTED: resuming it from
 * the old history answers COMPACTED, never events of the new one as if they followed.
 */
import { MusterError } from '../../errors.js';
import type { WatchFilter } from '../../schemas/event.js';
import type { Connection } from '../ports.js';
import type { EventLog, LoggedEvent, Watcher } from './event-log.js';

export const MAX_WATCHES_PER_CONNECTION = 16;

export class Watches {
  readonly #log: EventLog;
  readonly #byConnection = new Map<Connection, Map<number, Watcher>>();
  #nextId = 1;
  /** Watches dropped because their connection fell behind. */
  dropped = 0;

  constructor(log: EventLog) {
    this.#log = log;
  }

  get count(): number {
    return this.#log.watcherCount;
  }

  /** Opens a watch; replayed events are delivered before this returns (throws COMPACTED first when they are gone). */
  open(connection: Connection, filter: WatchFilter, since: number | undefined, epoch?: string): { watch: number; revision: number; epoch: string } {
    let mine = this.#byConnection.get(connection);
    if (mine && mine.size >= MAX_WATCHES_PER_CONNECTION) throw new MusterError('INVALID_REQUEST', `At most ${MAX_WATCHES_PER_CONNECTION} watches per connection`);
    const id = this.#nextId++;
    const watcher: Watcher = {
      filter,
      deliver: (event: LoggedEvent) => {
        if (connection.deliver({ type: 'event', watch: id, event })) return;
        if (!connection.open) return;
        this.dropped++;
        this.close(connection, id);
        connection.deliver({ type: 'watch-dropped', watch: id, resumeAfter: event.revision - 1 });
      },
      // A wiped store: resuming from `revision` answers COMPACTED (another epoch), so the client re-lists.
      restarted: (revision: number) => {
        this.close(connection, id);
        connection.deliver({ type: 'watch-dropped', watch: id, resumeAfter: revision, code: 'COMPACTED' });
      },
    };
    const revision = this.#log.watch(watcher, since, epoch);
    if (!mine) {
      this.#byConnection.set(connection, (mine = new Map()));
      connection.onClose(() => this.closeAll(connection));
    }
    mine.set(id, watcher);
    return { watch: id, revision, epoch: this.#log.epoch };
  }

  /** The ids of a connection's open watches. */
  idsOf(connection: Connection): number[] {
    return [...(this.#byConnection.get(connection)?.keys() ?? [])];
  }

  close(connection: Connection, id: number): boolean {
    const mine = this.#byConnection.get(connection);
    const w = mine?.get(id);
    if (!w) return false;
    this.#log.unwatch(w);
    mine!.delete(id);
    return true;
  }

  closeAll(connection: Connection): void {
    const mine = this.#byConnection.get(connection);
    if (!mine) return;
    this.#byConnection.delete(connection);
    for (const w of mine.values()) this.#log.unwatch(w);
  }
}
