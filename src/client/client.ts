/**
 * The client core: one JSON-RPC connection at a time, reconnecting with backoff after a drop.
 * After a reconnect it re-registers every member it registered (with their tokens, so the hub
 * keeps their ids and names), then re-opens every watch from the last revision it saw, and only
 * then lets user calls through again.
 */
import type { RegistryEvent, WatchFilter } from '../schemas/event.js';
import type { HubInfo } from '../schemas/hub.js';
import type { TreeListParams } from '../schemas/federation.js';
import type { ListResult, MemberStatus, MemberView, RegisterParams, RegisterResult, UpdateParams } from '../schemas/member.js';
import { ConnectionClosedError, MusterClientError, TimeoutError } from './errors.js';
import { OwnedMembers, requestedTtl, type OwnedMember } from './members.js';
import { RpcConnection, type RpcHandlers } from './rpc-connection.js';
import { StatusHub } from './status.js';
import { socketUrl, type WebSocketFactory } from './transport.js';
import type {
  CallOptions, ClientStatus, ConnectOptions, MusterClient, NotificationHandler, RegisterOptions, RequestHandler, Watch, WatchOptions,
} from './types.js';
import { WatchStream, type WatchOwner } from './watch.js';

type State = 'connected' | 'reconnecting' | 'closed';

const DEFAULTS = { initialDelayMs: 250, maxDelayMs: 5000, requestTimeoutMs: 10_000, keepAliveMs: 30_000, maxQueue: 10_000 };
/** Events held for a watch whose reply has not arrived yet (replays come before it); past this the oldest go. */
const MAX_ORPHANS = 100_000;

interface Deferred { promise: Promise<void>; resolve(): void; reject(err: unknown): void }

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => { /* callers that wait see it */ });
  return { promise, resolve, reject };
}

const isLinkError = (err: unknown) => err instanceof ConnectionClosedError || err instanceof TimeoutError;

export class Client implements MusterClient, WatchOwner {
  readonly #url: string;
  readonly #factory: WebSocketFactory;
  readonly #reconnect: { initialDelayMs: number; maxDelayMs: number } | false;
  readonly #timeoutMs: number;
  readonly #keepAliveMs: number;
  #state: State = 'reconnecting';
  #conn: RpcConnection | undefined;
  #ready = deferred();
  #sleep: { timer: ReturnType<typeof setTimeout>; wake(): void } | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly #members: OwnedMembers;
  readonly #watches = new Set<WatchStream>();
  /** Hub watch id → watch, on the current connection. */
  readonly #watchById = new Map<number, WatchStream>();
  readonly #orphans = new Map<number, RegistryEvent[]>();
  #orphanCount = 0;
  #watchesOpening = 0;
  readonly #notificationHandlers = new Map<string, Set<NotificationHandler>>();
  readonly #requestHandlers = new Map<string, RequestHandler>();
  readonly #status = new StatusHub();

  constructor(options: ConnectOptions, factory: WebSocketFactory) {
    this.#url = socketUrl(options.url, options.token);
    this.#factory = factory;
    this.#reconnect = options.reconnect === false ? false : { initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULTS.initialDelayMs, maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULTS.maxDelayMs };
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    this.#keepAliveMs = options.keepAliveMs ?? DEFAULTS.keepAliveMs;
    this.#members = new OwnedMembers((m) => this.#beat(m));
  }

  /** The first connection: failure rejects (no retry) so a wrong URL is reported at once. */
  async start(): Promise<void> {
    this.#conn = await this.#open();
    this.#state = 'connected';
    this.#ready.resolve();
    if (this.#keepAliveMs > 0) this.#keepAlive = setInterval(() => this.#checkLink(), Math.max(100, this.#keepAliveMs / 2));
    this.#status.emit({ type: 'connected' });
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  // ---- generic seams ----

  async call<T = unknown>(method: string, params: unknown = {}, options: CallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    if (this.#state === 'reconnecting') await this.#waitReady(timeoutMs);
    const conn = this.#conn;
    if (this.#state !== 'connected' || !conn) throw new ConnectionClosedError(this.#state === 'closed' ? 'The client is closed' : undefined);
    return (await conn.call(method, params, timeoutMs)) as T;
  }

  onNotification(method: string, handler: NotificationHandler): () => void {
    let set = this.#notificationHandlers.get(method);
    if (!set) this.#notificationHandlers.set(method, (set = new Set()));
    set.add(handler);
    return () => { set.delete(handler); };
  }

  handle(method: string, handler: RequestHandler): () => void {
    this.#requestHandlers.set(method, handler);
    return () => { if (this.#requestHandlers.get(method) === handler) this.#requestHandlers.delete(method); };
  }

  on(_event: 'status', listener: (status: ClientStatus) => void): () => void {
    return this.#status.on(listener);
  }

  status(): AsyncIterable<ClientStatus> {
    return this.#status.iterable();
  }

  // ---- registry ----

  async register(options: RegisterOptions): Promise<RegisterResult> {
    const params: RegisterParams = { type: options.type, liveness: options.liveness ?? 'session' };
    if (options.name !== undefined) params.name = options.name;
    if (options.address !== undefined) params.address = options.address;
    if (options.meta !== undefined) params.meta = options.meta;
    if (options.exclusive !== undefined) params.exclusive = options.exclusive;
    if (options.key !== undefined) params.key = options.key;
    if (options.roles !== undefined) params.roles = options.roles;
    const result = await this.call<RegisterResult>('register', params);
    const ttl = requestedTtl(params.liveness);
    let ttlMs = ttl.ttlMs;
    if (ttl.ttl && ttlMs === undefined) {
      // 'ttl' alone takes the hub's default, which only the member record tells.
      const view = await this.get(result.id);
      ttlMs = view.liveness.kind === 'ttl' ? view.liveness.ttlMs : undefined;
    }
    this.#members.add(params, result, ttl.ttl ? ttlMs : undefined);
    return result;
  }

  get(nameOrId: string): Promise<MemberView> {
    return this.call<MemberView>('get', { name: nameOrId });
  }

  list(filter: TreeListParams = {}): Promise<ListResult> {
    return this.call<ListResult>('list', filter);
  }

  async update(id: string, patch: UpdateParams): Promise<MemberView> {
    const view = await this.call<MemberView>('update', { ...this.#tokenFor(id), ...patch, id });
    const m = this.#members.get(id);
    if (m) {
      if (patch.address !== undefined) m.params.address = patch.address;
      if (patch.meta !== undefined) m.params.meta = patch.meta;
    }
    return view;
  }

  async unregister(id: string): Promise<void> {
    try {
      await this.call('unregister', { ...this.#tokenFor(id), id });
      this.#members.remove(id);
    } catch (err) {
      if (err instanceof MusterClientError && err.code === 'NO_SUCH_MEMBER') this.#members.remove(id);
      throw err;
    }
  }

  async heartbeat(id: string): Promise<MemberStatus> {
    const r = await this.call<{ status: MemberStatus }>('heartbeat', { ...this.#tokenFor(id), id });
    return r.status;
  }

  info(): Promise<HubInfo> {
    return this.call<HubInfo>('info', {});
  }

  tokenOf(id: string): string | undefined {
    return this.#members.get(id)?.token;
  }

  watch(filter: WatchFilter = {}, options: WatchOptions = {}): Watch {
    const w = new WatchStream(this, filter, options.since, options.maxQueue ?? DEFAULTS.maxQueue);
    if (this.#state === 'closed') {
      w.fail(new ConnectionClosedError('The client is closed'));
      return w;
    }
    this.#watches.add(w);
    // While reconnecting, the resume step opens it.
    if (this.#state === 'connected' && this.#conn) this.#openWatchSoon(w, this.#conn);
    return w;
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#keepAlive);
    this.#sleep?.wake();
    this.#members.clear();
    for (const w of this.#watches) w.end();
    this.#watches.clear();
    this.#watchById.clear();
    this.#ready.reject(new ConnectionClosedError('The client is closed'));
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close(1000, 'client closed');
    this.#status.emit({ type: 'closed', reason: 'client closed' });
    this.#status.end();
  }

  // ---- WatchOwner ----

  resume(w: WatchStream): void {
    w.paused = false;
    if (this.#state === 'connected' && this.#conn && !w.opening) this.#openWatchSoon(w, this.#conn);
  }

  async closed(w: WatchStream): Promise<void> {
    this.#watches.delete(w);
    const id = w.hubId;
    if (id === undefined) return;
    this.#watchById.delete(id);
    await this.#conn?.call('unwatch', { watch: id }, this.#timeoutMs).catch(() => { /* the watch dies with the connection anyway */ });
  }

  // ---- connection ----

  #open(): Promise<RpcConnection> {
    const ref: { conn?: RpcConnection } = {};
    const current = () => ref.conn !== undefined && ref.conn === this.#conn;
    const handlers: RpcHandlers = {
      notification: (method, params) => { if (current()) this.#onNotification(method, params); },
      request: (method, params) => this.#onRequest(method, params),
      closed: (reason) => { if (current()) this.#onDrop(reason); },
    };
    return RpcConnection.open(this.#factory, this.#url, handlers, this.#timeoutMs).then((conn) => (ref.conn = conn));
  }

  #onDrop(reason: string): void {
    this.#conn = undefined;
    this.#forgetHubWatches();
    if (this.#state !== 'connected') return; // a resume in progress retries by itself
    this.#status.emit({ type: 'disconnected', reason });
    if (this.#reconnect === false) {
      const err = new ConnectionClosedError(`The connection to the hub closed (${reason})`);
      for (const w of this.#watches) w.fail(err);
      void this.close();
      return;
    }
    this.#state = 'reconnecting';
    this.#ready = deferred();
    void this.#reconnectLoop(this.#reconnect);
  }

  async #reconnectLoop(policy: { initialDelayMs: number; maxDelayMs: number }): Promise<void> {
    for (let attempt = 1; this.#state === 'reconnecting'; attempt++) {
      const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt - 1, 20));
      const delayMs = Math.round(base / 2 + Math.random() * base / 2);
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
        // Watches started (or un-paused) while the resume was running.
        for (const w of this.#watches) if (!w.closed && !w.paused && !w.opening && w.hubId === undefined) this.#openWatchSoon(w, conn);
        this.#status.emit({ type: 'reconnected' });
        return;
      } catch {
        // Whatever failed (link, timeout, a refusal mid-resume), start over on a fresh connection.
        const conn = this.#conn;
        this.#conn = undefined;
        conn?.abort('resume failed');
        this.#forgetHubWatches();
      }
    }
  }

  /** Members first (with their tokens), then watches from their last revision. */
  async #resume(conn: RpcConnection): Promise<void> {
    for (const m of this.#members.all()) await this.#reregister(m, conn);
    for (const w of [...this.#watches]) if (!w.closed && !w.paused) await this.#openWatch(w, conn);
  }

  /** Registers an owned member again; link errors propagate, the hub's refusals are reported. */
  async #reregister(m: OwnedMember, conn: RpcConnection): Promise<void> {
    try {
      const r = (await conn.call('register', this.#members.resumeParams(m), this.#timeoutMs)) as RegisterResult;
      if (r.id !== m.id) {
        const oldId = m.id;
        this.#members.replace(m, r);
        this.#status.emit({ type: 'member-replaced', oldId, id: r.id, name: r.name });
      }
    } catch (err) {
      if (isLinkError(err)) throw err;
      this.#members.remove(m.id);
      const error = err instanceof MusterClientError ? err : new MusterClientError('INTERNAL', String(err));
      this.#status.emit({ type: 'member-lost', id: m.id, name: m.name, error });
    }
  }

  #beat(m: OwnedMember): void {
    const conn = this.#conn;
    if (this.#state !== 'connected' || !conn || m.beating) return;
    m.beating = true;
    conn.call('heartbeat', { id: m.id, token: m.token }, this.#timeoutMs).then(
      () => { m.beating = false; },
      (err: unknown) => {
        // The hub let it expire (a stalled event loop, a long pause): take it back.
        if (err instanceof MusterClientError && err.code === 'NO_SUCH_MEMBER') void this.#reregister(m, conn).catch(() => {}).finally(() => { m.beating = false; });
        else m.beating = false;
      },
    );
  }

  /** No frame from the hub for keepAliveMs: ask something cheap; no answer means a dead link. */
  #checkLink(): void {
    const conn = this.#conn;
    if (this.#state !== 'connected' || !conn || Date.now() - conn.lastReceived < this.#keepAliveMs) return;
    conn.call('system.listMethods', {}, this.#timeoutMs).catch((err: unknown) => {
      if (err instanceof TimeoutError) conn.abort('the hub stopped answering');
    });
  }

  #waitReady(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((_resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`Not reconnected to the hub within ${timeoutMs} ms`, { timeoutMs })), timeoutMs);
    });
    return Promise.race([this.#ready.promise, timeout]).finally(() => clearTimeout(timer));
  }

  #tokenFor(id: string): { token?: string } {
    const token = this.#members.get(id)?.token;
    return token ? { token } : {};
  }

  // ---- watches ----

  #openWatchSoon(w: WatchStream, conn: RpcConnection): void {
    this.#openWatch(w, conn).catch((err: unknown) => {
      // A dead link: the reconnect re-opens it. Anything else ended the watch already.
      if (err instanceof TimeoutError) conn.abort('the hub stopped answering');
    });
  }

  async #openWatch(w: WatchStream, conn: RpcConnection): Promise<void> {
    const params: { filter: WatchFilter; since?: number } = { filter: w.filter };
    if (w.revision !== undefined) params.since = w.revision;
    this.#watchesOpening++;
    w.opening = true;
    try {
      const r = (await conn.call('watch', params, this.#timeoutMs)) as { watch: number; revision: number };
      if (this.#conn !== conn) return;
      if (w.closed || w.paused) {
        void conn.call('unwatch', { watch: r.watch }, this.#timeoutMs).catch(() => {});
        return;
      }
      this.#watchById.set(r.watch, w);
      w.hubId = r.watch;
      const replayed = this.#orphans.get(r.watch) ?? [];
      this.#orphans.delete(r.watch);
      this.#orphanCount -= replayed.length;
      for (const e of replayed) this.#deliver(w, e);
      if (!w.paused) w.opened(r.watch, r.revision);
    } catch (err) {
      if (isLinkError(err)) throw err;
      this.#watches.delete(w);
      w.fail(err); // COMPACTED, INVALID_PARAMS, ...: typed, through the iterator
    } finally {
      w.opening = false;
      if (--this.#watchesOpening === 0) { this.#orphans.clear(); this.#orphanCount = 0; }
    }
  }

  #deliver(w: WatchStream, e: RegistryEvent): void {
    if (w.paused) return; // not counted as seen: the re-opened watch replays it
    if (w.push(e)) return;
    // The reader is behind by maxQueue events: stop the hub watch; resume() re-opens it from here.
    w.paused = true;
    const id = w.hubId;
    w.hubId = undefined;
    if (id === undefined) return;
    this.#watchById.delete(id);
    void this.#conn?.call('unwatch', { watch: id }, this.#timeoutMs).catch(() => {});
  }

  #forgetHubWatches(): void {
    this.#watchById.clear();
    this.#orphans.clear();
    this.#orphanCount = 0;
    for (const w of this.#watches) w.hubId = undefined;
  }

  #onNotification(method: string, params: unknown): void {
    if (method === 'event') this.#onEvent(params as { watch: number; event: RegistryEvent });
    else if (method === 'watch.dropped') this.#onWatchDropped(params as { watch: number; code: string; resumeAfter: number });
    const handlers = this.#notificationHandlers.get(method);
    if (handlers) for (const h of handlers) {
      try { h(params); } catch { /* a handler's bug must not break the connection */ }
    }
  }

  #onEvent(p: { watch: number; event: RegistryEvent }): void {
    const w = this.#watchById.get(p.watch);
    if (w) return this.#deliver(w, p.event);
    if (this.#watchesOpening === 0) return; // a closed or paused watch's last events
    let list = this.#orphans.get(p.watch);
    if (!list) this.#orphans.set(p.watch, (list = []));
    list.push(p.event);
    if (++this.#orphanCount > MAX_ORPHANS) { list.shift(); this.#orphanCount--; }
  }

  #onWatchDropped(p: { watch: number; code: string; resumeAfter: number }): void {
    const w = this.#watchById.get(p.watch);
    if (!w || !this.#conn) return;
    this.#watchById.delete(p.watch);
    w.hubId = undefined;
    this.#status.emit({ type: 'watch-resumed', code: p.code, resumeAfter: p.resumeAfter });
    // Everything up to w.revision arrived; re-open from there (resumeAfter is never below it).
    this.#openWatchSoon(w, this.#conn);
  }

  async #onRequest(method: string, params: unknown): Promise<unknown> {
    const handler = this.#requestHandlers.get(method);
    if (!handler) throw new MusterClientError('METHOD_NOT_FOUND', `This client does not handle ${method}`);
    return handler(params);
  }
}
