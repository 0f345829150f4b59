/**
 * One watch as the user sees it: an async iterable of events that outlives connections. The
 * client re-opens it on the hub after a reconnect (or a dropped hub watch) from the last
 * revision it saw; events at or below that revision are dropped, so none repeats.
 */
import type { HubEvent, WatchFilter } from '../schemas/event.js';
import { AsyncQueue } from './async-queue.js';
import type { Watch } from './types.js';

export interface WatchOwner {
  /** The reader has caught up with a paused watch: open it on the hub again. */
  resume(w: WatchStream): void;
  /** The user closed the watch: stop it on the hub. */
  closed(w: WatchStream): Promise<void>;
}

export class WatchStream implements Watch<HubEvent> {
  readonly filter: WatchFilter;
  readonly maxQueue: number;
  /** The revision this watch has seen everything up to (undefined until the hub first answers, without `since`). */
  revision: number | undefined;
  /** The history `revision` belongs to, from the hub: a resumed watch passes it back, so a wiped store answers COMPACTED. */
  epoch: string | undefined;
  /** The hub's watch id on the current connection (undefined while not open there). */
  hubId: number | undefined;
  /** Too many unread events: the hub watch is stopped until the reader catches up. */
  paused = false;
  /** A watch request for it is on its way to the hub. */
  opening = false;
  readonly ready: Promise<number>;
  #resolveReady!: (revision: number) => void;
  #rejectReady!: (err: unknown) => void;
  readonly #queue: AsyncQueue<HubEvent>;
  readonly #owner: WatchOwner;

  constructor(owner: WatchOwner, filter: WatchFilter, since: number | undefined, epoch: string | undefined, maxQueue: number) {
    this.#owner = owner;
    this.filter = filter;
    this.revision = since;
    this.epoch = epoch;
    this.maxQueue = maxQueue;
    this.#queue = new AsyncQueue(() => {
      if (this.paused && this.#queue.length <= this.maxQueue / 2) owner.resume(this);
    });
    this.ready = new Promise((resolve, reject) => { this.#resolveReady = resolve; this.#rejectReady = reject; });
    this.ready.catch(() => { /* the iterator reports it too */ });
  }

  get closed(): boolean {
    return this.#queue.done;
  }

  /** The hub accepted the watch and is current to `revision`. */
  opened(hubId: number, revision: number, epoch: string): void {
    this.hubId = hubId;
    this.epoch = epoch;
    this.revision = Math.max(this.revision ?? revision, revision);
    this.#resolveReady(this.revision);
  }

  /** Queues an event unless already seen; returns false when the queue is full (pause the hub watch). */
  push(event: HubEvent): boolean {
    if (this.closed || (this.revision !== undefined && event.revision <= this.revision)) return true;
    this.revision = event.revision;
    this.#queue.push(event);
    return this.#queue.length < this.maxQueue;
  }

  /** Ends the stream with an error (COMPACTED, connection closed for good, ...). */
  fail(err: unknown): void {
    this.hubId = undefined;
    this.#rejectReady(err);
    this.#queue.end(err);
  }

  end(): void {
    this.hubId = undefined;
    this.#queue.end();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.#queue.end();
    this.#rejectReady(new Error('watch closed'));
    await this.#owner.closed(this);
    this.hubId = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<HubEvent> {
    return {
      next: () => this.#queue.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
