/**
 * The connection keeper: one JSON-RPC connection at a time, reconnecting with backoff after a
 * drop. After a reconnect it re-registers every member the client registered (with their
 * tokens, so the hub keeps their ids and names), then re-opens every watch from the last
 * revision it saw, and only then lets user calls through again. A keepalive finds links that
 * died without a close.
 */
import { ConnectionClosedError, isLinkError, MusterClientError, TimeoutError } from './errors.js';
import { BATCHED_METHODS, callHub } from './hub-methods.js';
import { OwnedMembers, type OwnedMember } from './members.js';
import { RpcConnection, type RpcHandlers } from './rpc-connection.js';
import type { StatusHub } from './status.js';
import type { WebSocketFactory } from './transport.js';
import { WatchTable, type DroppedParams, type EventParams, type WatchLink } from './watch-table.js';

type State = 'connected' | 'reconnecting' | 'closed';

export interface ReconnectPolicy { initialDelayMs: number; maxDelayMs: number }

export interface KeeperOptions {
  /** The socket URL, token included. */
  /** The hub's URL, or the URLs of a cluster's hubs (tried in turn). */
  urls: readonly string[];
  factory: WebSocketFactory;
  /** false: the first drop closes the client. */
  reconnect: ReconnectPolicy | false;
  /** Default timeout of a call (and of opening a socket). */
  timeoutMs: number;
  /** Check the link after this long without a frame from the hub (0 = never). */
  keepAliveMs: number;
}

/** What the hub sends unasked on the current connection, past the watches' own notifications. */
export interface Inbound {
  notification(method: string, params: unknown): void;
  /** Answers a hub-to-client request; a throw becomes an error reply. */
  request(method: string, params: unknown): Promise<unknown>;
  /** A binary frame (the bus binary format). */
  binary(frame: Uint8Array): void;
  /** An error the hub could not tie to a request. */
  orphanError(err: MusterClientError): void;
  /** A new connection opened; called before anything else is sent on it. */
  opened(conn: RpcConnection): void;
}

interface Deferred { promise: Promise<void>; resolve(): void; reject(err: unknown): void }

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => { /* callers that wait see it */ });
  return { promise, resolve, reject };
}

export class ConnectionKeeper implements WatchLink {
  /** Members to register again after a reconnect (and to keep alive with heartbeats). */
  readonly members: OwnedMembers;
  /** Watches to re-open after a reconnect. */
  readonly watches: WatchTable;
  readonly #options: KeeperOptions;
  readonly #inbound: Inbound;
  readonly #status: StatusHub;
  #state: State = 'reconnecting';
  #conn: RpcConnection | undefined;
  /** User calls wait on it while reconnecting. */
  #ready = deferred();
  #urlIndex = 0;
  #sleep: { timer: ReturnType<typeof setTimeout>; wake(): void } | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(options: KeeperOptions, inbound: Inbound, status: StatusHub) {
    this.#options = options;
    this.#inbound = inbound;
    this.#status = status;
    this.members = new OwnedMembers((m) => this.#beat(m));
    this.watches = new WatchTable(this, options.timeoutMs, status);
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Default timeout of a call. */
  get timeoutMs(): number {
    return this.#options.timeoutMs;
  }

  /** The current connection, also while a resume runs on it. */
  get conn(): RpcConnection | undefined {
    return this.#conn;
  }

  /** The first connection: each URL once, in order; if none answers it rejects at once (a wrong URL is reported, not retried). */
  async start(): Promise<void> {
    for (let tried = 1; ; tried++) {
      try {
        this.#conn = await this.#open();
        break;
      } catch (err) {
        if (tried >= this.#options.urls.length) throw err;
      }
    }
    this.#state = 'connected';
    this.#ready.resolve();
    const { keepAliveMs } = this.#options;
    if (keepAliveMs > 0) this.#keepAlive = setInterval(() => this.#checkLink(), Math.max(100, keepAliveMs / 2));
    this.#status.emit({ type: 'connected' });
  }

  /** A call through the ready gate: waits out a reconnect (within the timeout), fails once closed. */
  async call(method: string, params: unknown, timeoutMs = this.#options.timeoutMs): Promise<unknown> {
    if (this.#state === 'reconnecting') await this.ready(timeoutMs);
    const conn = this.#conn;
    if (this.#state !== 'connected' || !conn) throw new ConnectionClosedError(this.#state === 'closed' ? 'The client is closed' : undefined);
    return conn.call(method, params, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#keepAlive);
    this.#sleep?.wake();
    this.members.clear();
    this.watches.end();
    this.#ready.reject(new ConnectionClosedError('The client is closed'));
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close(1000, 'client closed');
    this.#status.emit({ type: 'closed', reason: 'client closed' });
    this.#status.end();
  }

  #open(): Promise<RpcConnection> {
    const ref: { conn?: RpcConnection } = {};
    // A replaced connection's last frames and its close are not this client's business any more.
    const current = () => ref.conn !== undefined && ref.conn === this.#conn;
    const handlers: RpcHandlers = {
      notification: (method, params) => { if (current()) this.#onNotification(method, params); },
      request: (method, params) => this.#inbound.request(method, params),
      binary: (frame) => { if (current()) this.#inbound.binary(frame); },
      orphanError: (err) => { if (current()) this.#inbound.orphanError(err); },
      closed: (reason) => { if (current()) this.#onDrop(reason); },
    };
    const { factory, urls, timeoutMs } = this.#options;
    const url = urls[this.#urlIndex % urls.length]!;
    // A failed attempt moves on to the next hub of the list, so a dead hub is not retried forever.
    return RpcConnection.open(factory, url, handlers, timeoutMs, BATCHED_METHODS).then((conn) => {
      this.#inbound.opened(conn);
      return (ref.conn = conn);
    }, (err: unknown) => {
      this.#urlIndex++;
      throw err;
    });
  }

  #onNotification(method: string, params: unknown): void {
    if (method === 'event') this.watches.event(params as EventParams);
    else if (method === 'watch.dropped') this.watches.dropped(params as DroppedParams);
    this.#inbound.notification(method, params);
  }

  #onDrop(reason: string): void {
    this.#conn = undefined;
    // The hub went: try the next one first (with one URL, the same one).
    this.#urlIndex++;
    this.watches.forget();
    if (this.#state !== 'connected') return; // a resume in progress retries by itself
    this.#status.emit({ type: 'disconnected', reason });
    const policy = this.#options.reconnect;
    if (policy === false) {
      this.watches.fail(new ConnectionClosedError(`The connection to the hub closed (${reason})`));
      void this.close();
      return;
    }
    this.#state = 'reconnecting';
    this.#ready = deferred();
    // 1012 "service restart": the hub is draining and asked its clients to go to the next hub now.
    void this.#reconnectLoop(policy, reason.startsWith('1012 '));
  }

  async #reconnectLoop(policy: ReconnectPolicy, moveNow = false): Promise<void> {
    for (let attempt = 1; this.#state === 'reconnecting'; attempt++) {
      const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt - 1, 20));
      const delayMs = moveNow && attempt === 1 ? 0 : Math.round(base / 2 + Math.random() * base / 2);
      this.#status.emit({ type: 'reconnecting', attempt, delayMs });
      await new Promise<void>((wake) => { this.#sleep = { timer: setTimeout(wake, delayMs), wake }; });
      clearTimeout(this.#sleep?.timer);
      this.#sleep = undefined;
      if (this.#state !== 'reconnecting') return;
      try {
        const conn = await this.#open();
        if (this.#state !== 'reconnecting') { await conn.close(); return; }
        this.#conn = conn;
        await this.#resume(conn);
        if (this.#conn !== conn || !conn.open) continue;
        this.#state = 'connected';
        this.#ready.resolve();
        this.watches.openPending(conn);
        this.#status.emit({ type: 'reconnected' });
        return;
      } catch {
        // Whatever failed (link, timeout, a refusal mid-resume), start over on a fresh connection.
        const conn = this.#conn;
        this.#conn = undefined;
        conn?.abort('resume failed');
        this.watches.forget();
      }
    }
  }

  /** Members first (with their tokens), then watches from their last revision. */
  async #resume(conn: RpcConnection): Promise<void> {
    for (const m of this.members.all()) await this.#reregister(m, conn);
    await this.watches.reopenAll(conn);
  }

  /**
   * Registers an owned member again; link errors propagate, the hub's refusals are reported.
   * A member the hub had lost is made anew, even with the same id (a caller's own newToken fixes
   * it): its `registeredAt` tells, or `lost` (the hub said so), and listeners hear `member-replaced`.
   */
  async #reregister(m: OwnedMember, conn: RpcConnection, lost = false): Promise<void> {
    try {
      const r = await callHub(conn, 'register', this.members.resumeParams(m), this.#options.timeoutMs);
      const remade = r.registeredAt !== undefined && m.registeredAt !== undefined && r.registeredAt !== m.registeredAt;
      if (r.id !== m.id || lost || remade) {
        const oldId = m.id;
        this.members.replace(m, r);
        this.#status.emit({ type: 'member-replaced', oldId, id: r.id, name: r.name });
      }
    } catch (err) {
      if (isLinkError(err)) throw err;
      this.members.remove(m.id);
      const error = err instanceof MusterClientError ? err : new MusterClientError('INTERNAL', String(err));
      this.#status.emit({ type: 'member-lost', id: m.id, name: m.name, error });
    }
  }

  #beat(m: OwnedMember): void {
    const conn = this.#conn;
    if (this.#state !== 'connected' || !conn || m.beating) return;
    m.beating = true;
    callHub(conn, 'heartbeat', { id: m.id, token: m.token }, this.#options.timeoutMs).then(
      () => { m.beating = false; },
      (err: unknown) => {
        // The hub let it expire (a stalled event loop, a long pause): take it back.
        if (err instanceof MusterClientError && err.code === 'NO_SUCH_MEMBER') void this.#reregister(m, conn, true).catch(() => {}).finally(() => { m.beating = false; });
        else m.beating = false;
      },
    );
  }

  /** No frame from the hub for keepAliveMs: ask something cheap; no answer means a dead link. */
  #checkLink(): void {
    const conn = this.#conn;
    const { keepAliveMs, timeoutMs } = this.#options;
    if (this.#state !== 'connected' || !conn || Date.now() - conn.lastReceived < keepAliveMs) return;
    conn.call('system.listMethods', {}, timeoutMs).catch((err: unknown) => {
      if (err instanceof TimeoutError) conn.abort('the hub stopped answering');
    });
  }

  /** Resolves once connected (at once if connected); waits out a reconnect up to timeoutMs; rejects once closed. */
  ready(timeoutMs = this.#options.timeoutMs): Promise<void> {
    if (this.#state === 'connected') return Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((_resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`Not reconnected to the hub within ${timeoutMs} ms`, { timeoutMs })), timeoutMs);
    });
    return Promise.race([this.#ready.promise, timeout]).finally(() => clearTimeout(timer));
  }
}
