/**
 * The client's watches: which stream each hub watch id feeds on the current connection, events
 * held for a watch whose reply has not arrived yet (the hub replays before it answers), opening
 * on the hub from the last revision seen, and pausing a watch whose reader fell behind.
 */
import type { HubEvent, WatchFilter } from '../schemas/event.js';
import { ConnectionClosedError, isLinkError, TimeoutError } from './errors.js';
import { callHub, type MethodParams } from './hub-methods.js';
import type { RpcConnection } from './rpc-connection.js';
import type { StatusHub } from './status.js';
import { WatchStream, type WatchOwner } from './watch.js';

/** Events held for a watch whose reply has not arrived yet (replays come before it); past this the oldest go. */
const MAX_ORPHANS = 100_000;

/** What the watches need to know of the connection (the keeper). */
export interface WatchLink {
  /** The current connection, also while a resume runs on it. */
  readonly conn: RpcConnection | undefined;
  /** Connected with any resume done: a new watch opens at once (otherwise the resume opens it). */
  readonly connected: boolean;
  readonly closed: boolean;
}

export interface EventParams { watch: number; event: HubEvent }
export interface DroppedParams { watch: number; code: string; resumeAfter: number }

export class WatchTable implements WatchOwner {
  readonly #link: WatchLink;
  readonly #timeoutMs: number;
  readonly #status: StatusHub;
  readonly #watches = new Set<WatchStream>();
  /** Hub watch id → watch, on the current connection. */
  readonly #byHubId = new Map<number, WatchStream>();
  readonly #orphans = new Map<number, HubEvent[]>();
  #orphanCount = 0;
  #opening = 0;

  constructor(link: WatchLink, timeoutMs: number, status: StatusHub) {
    this.#link = link;
    this.#timeoutMs = timeoutMs;
    this.#status = status;
  }

  /** A new watch: opened on the hub now when connected, by the resume step while reconnecting. */
  add(filter: WatchFilter, since: number | undefined, epoch: string | undefined, maxQueue: number): WatchStream {
    const w = new WatchStream(this, filter, since, epoch, maxQueue);
    if (this.#link.closed) {
      w.fail(new ConnectionClosedError('The client is closed'));
      return w;
    }
    this.#watches.add(w);
    const conn = this.#link.conn;
    if (this.#link.connected && conn) this.#openSoon(w, conn);
    return w;
  }

  // ---- WatchOwner ----

  resume(w: WatchStream): void {
    w.paused = false;
    const conn = this.#link.conn;
    if (this.#link.connected && conn && !w.opening) this.#openSoon(w, conn);
  }

  async closed(w: WatchStream): Promise<void> {
    this.#watches.delete(w);
    const id = w.hubId;
    if (id === undefined) return;
    this.#byHubId.delete(id);
    await this.#unwatch(id);
  }

  // ---- the keeper's steps ----

  /** Re-opens every watch on a fresh connection, each from its last revision; link errors propagate. */
  async reopenAll(conn: RpcConnection): Promise<void> {
    for (const w of [...this.#watches]) if (!w.closed && !w.paused) await this.#open(w, conn);
  }

  /** Opens the watches started (or un-paused) while a resume was running. */
  openPending(conn: RpcConnection): void {
    for (const w of this.#watches) if (!w.closed && !w.paused && !w.opening && w.hubId === undefined) this.#openSoon(w, conn);
  }

  /** The connection is gone: its watch ids mean nothing now. */
  forget(): void {
    this.#byHubId.clear();
    this.#orphans.clear();
    this.#orphanCount = 0;
    for (const w of this.#watches) w.hubId = undefined;
  }

  /** Ends every stream with an error (the connection closed for good). */
  fail(err: unknown): void {
    for (const w of this.#watches) w.fail(err);
  }

  /** Ends every stream (the client closed). */
  end(): void {
    for (const w of this.#watches) w.end();
    this.#watches.clear();
    this.#byHubId.clear();
  }

  // ---- notifications ----

  event(p: EventParams): void {
    const w = this.#byHubId.get(p.watch);
    if (w) return this.#deliver(w, p.event);
    if (this.#opening === 0) return; // a closed or paused watch's last events
    let list = this.#orphans.get(p.watch);
    if (!list) this.#orphans.set(p.watch, (list = []));
    list.push(p.event);
    if (++this.#orphanCount > MAX_ORPHANS) { list.shift(); this.#orphanCount--; }
  }

  dropped(p: DroppedParams): void {
    const w = this.#byHubId.get(p.watch);
    const conn = this.#link.conn;
    if (!w || !conn) return;
    this.#byHubId.delete(p.watch);
    w.hubId = undefined;
    this.#status.emit({ type: 'watch-resumed', code: p.code, resumeAfter: p.resumeAfter });
    // Everything up to w.revision arrived; re-open from there (resumeAfter is never below it).
    this.#openSoon(w, conn);
  }

  // ---- opening ----

  #openSoon(w: WatchStream, conn: RpcConnection): void {
    this.#open(w, conn).catch((err: unknown) => {
      // A dead link: the reconnect re-opens it. Anything else ended the watch already.
      if (err instanceof TimeoutError) conn.abort('the hub stopped answering');
    });
  }

  async #open(w: WatchStream, conn: RpcConnection): Promise<void> {
    const params: MethodParams<'watch'> = { filter: w.filter };
    if (w.revision !== undefined) params.since = w.revision;
    if (w.revision !== undefined && w.epoch !== undefined) params.epoch = w.epoch;
    this.#opening++;
    w.opening = true;
    try {
      const r = await callHub(conn, 'watch', params, this.#timeoutMs);
      if (this.#link.conn !== conn) return;
      if (w.closed || w.paused) {
        void callHub(conn, 'unwatch', { watch: r.watch }, this.#timeoutMs).catch(() => {});
        return;
      }
      this.#byHubId.set(r.watch, w);
      w.hubId = r.watch;
      const replayed = this.#orphans.get(r.watch) ?? [];
      this.#orphans.delete(r.watch);
      this.#orphanCount -= replayed.length;
      for (const e of replayed) this.#deliver(w, e);
      if (!w.paused) w.opened(r.watch, r.revision, r.epoch);
    } catch (err) {
      if (isLinkError(err)) throw err;
      this.#watches.delete(w);
      w.fail(err); // COMPACTED, INVALID_PARAMS, ...: typed, through the iterator
    } finally {
      w.opening = false;
      if (--this.#opening === 0) { this.#orphans.clear(); this.#orphanCount = 0; }
    }
  }

  #deliver(w: WatchStream, e: HubEvent): void {
    if (w.paused) return; // not counted as seen: the re-opened watch replays it
    if (w.push(e)) return;
    // The reader is behind by maxQueue events: stop the hub watch; resume() re-opens it from here.
    w.paused = true;
    const id = w.hubId;
    w.hubId = undefined;
    if (id === undefined) return;
    this.#byHubId.delete(id);
    void this.#unwatch(id);
  }

  /** Stops a hub watch; a failure needs nothing: the watch dies with the connection anyway. */
  async #unwatch(id: number): Promise<void> {
    const conn = this.#link.conn;
    if (conn) await callHub(conn, 'unwatch', { watch: id }, this.#timeoutMs).catch(() => {});
  }
}
