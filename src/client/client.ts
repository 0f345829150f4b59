/**
 * The client: the SDK's public API (MusterClient) over a connection keeper, which holds the
 * connection, reconnects, and resumes members and watches (connection-keeper.ts, watch-table.ts).
 * Hub methods are typed from the operation tables (hub-methods.ts).
 */
import type { HubEvent, WatchFilter } from '../schemas/event.js';
import type { HubInfo } from '../schemas/hub.js';
import type { TreeListParams } from '../schemas/federation.js';
import type { ListResult, MemberStatus, MemberView, RegisterParams, RegisterResult, UpdateParams } from '../schemas/member.js';
import { ConnectionKeeper } from './connection-keeper.js';
import { MusterClientError } from './errors.js';
import type { FrameChannel, FrameSink } from './frame-channel.js';
import type { HubMethod, MethodParams, MethodResult, OtherMethod } from './hub-methods.js';
import { requestedTtl } from './members.js';
import { randomToken, retried } from './register-retry.js';
import type { RpcConnection } from './rpc-connection.js';
import { StatusHub } from './status.js';
import { socketUrl, type WebSocketFactory } from './transport.js';
import type {
  CallOptions, ClientStatus, ConnectOptions, EventsFor, MusterClient, NotificationHandler, RegisterOptions, RequestHandler, Watch, WatchOptions,
} from './types.js';

const DEFAULTS = { initialDelayMs: 250, maxDelayMs: 5000, requestTimeoutMs: 10_000, keepAliveMs: 30_000, maxQueue: 10_000, maxPendingBytes: 8 * 1024 * 1024 };

export class Client implements MusterClient {
  readonly #keeper: ConnectionKeeper;
  readonly #notificationHandlers = new Map<string, Set<NotificationHandler>>();
  readonly #requestHandlers = new Map<string, RequestHandler>();
  readonly #status = new StatusHub();
  #frameSink: FrameSink | null = null;
  /** Bound of the bus's send buffer (bus-sender.ts). */
  readonly maxPendingBytes: number;

  constructor(options: ConnectOptions, factory: WebSocketFactory) {
    const r = options.reconnect;
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULTS.maxPendingBytes;
    this.#keeper = new ConnectionKeeper({
      urls: (typeof options.url === 'string' ? [options.url] : options.url).map((u) => socketUrl(u, options.token)),
      factory,
      reconnect: r === false ? false : { initialDelayMs: r?.initialDelayMs ?? DEFAULTS.initialDelayMs, maxDelayMs: r?.maxDelayMs ?? DEFAULTS.maxDelayMs },
      timeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      keepAliveMs: options.keepAliveMs ?? DEFAULTS.keepAliveMs,
    }, {
      notification: (method, params) => this.#onNotification(method, params),
      request: (method, params) => this.#onRequest(method, params),
      binary: (frame) => this.#frameSink?.frame(frame),
      orphanError: (err) => this.#frameSink?.orphanError(err),
      opened: (conn) => { if (this.#frameSink) askBinary(conn, this.#keeper.timeoutMs); },
    }, this.#status);
  }

  /** The first connection: failure rejects (no retry) so a wrong URL is reported at once. */
  start(): Promise<void> {
    return this.#keeper.start();
  }

  get connected(): boolean {
    return this.#keeper.connected;
  }

  // ---- generic seams ----

  call<M extends HubMethod>(method: M, params: MethodParams<M>, options?: CallOptions): Promise<MethodResult<M>>;
  call<T = unknown, M extends string = string>(method: OtherMethod<M>, params?: unknown, options?: CallOptions): Promise<T>;
  call(method: string, params: unknown = {}, options: CallOptions = {}): Promise<unknown> {
    return this.#keeper.call(method, params, options.timeoutMs);
  }

  /**
   * Internal (the bus, bus.ts): binary frames both ways. From now on every connection asks the
   * hub for bus deliveries and requests as binary records (`bus.format {binary: true}`).
   */
  frames(sink: FrameSink): FrameChannel {
    this.#frameSink = sink;
    const keeper = this.#keeper;
    if (keeper.conn) askBinary(keeper.conn, keeper.timeoutMs);
    return {
      get connected() { return keeper.connected && keeper.conn?.open === true; },
      get closed() { return keeper.closed; },
      get bufferedAmount() { return keeper.conn?.bufferedAmount ?? 0; },
      send: (frame) => {
        const conn = keeper.conn;
        if (!keeper.connected || !conn?.open) return false;
        conn.sendBinary(frame);
        return true;
      },
      ready: () => keeper.ready(),
      // bus.format is cheap, and answered in order after the frames before it.
      roundTrip: async () => { await keeper.call('bus.format', { binary: true }); },
    };
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
    // The same newToken on every attempt: a retry after a lost answer resumes the member the first made.
    const newToken = options.newToken ?? randomToken();
    const result = await retried(() => this.call('register', { ...params, newToken }), () => this.#keeper.closed);
    const ttl = requestedTtl(params.liveness);
    let ttlMs = ttl.ttlMs ?? result.ttlMs;
    if (ttl.ttl && ttlMs === undefined) {
      // 'ttl' alone takes the hub's default, which a hub before 2026-12-07 tells only in the member record.
      const view = await this.get(result.id);
      ttlMs = view.liveness.kind === 'ttl' ? view.liveness.ttlMs : undefined;
    }
    this.#keeper.members.add(params, result, ttl.ttl ? ttlMs : undefined, options.newToken);
    return result;
  }

  get(nameOrId: string): Promise<MemberView> {
    return this.call('get', { name: nameOrId });
  }

  list(filter: TreeListParams = {}): Promise<ListResult> {
    return this.call('list', filter);
  }

  async update(id: string, patch: UpdateParams): Promise<MemberView> {
    const view = await this.call('update', { ...this.#tokenFor(id), ...patch, id });
    const m = this.#keeper.members.get(id);
    if (m) {
      if (patch.address !== undefined) m.params.address = patch.address;
      if (patch.meta !== undefined) m.params.meta = patch.meta;
    }
    return view;
  }

  async unregister(id: string): Promise<void> {
    try {
      await this.call('unregister', { ...this.#tokenFor(id), id });
      this.#keeper.members.remove(id);
    } catch (err) {
      if (err instanceof MusterClientError && err.code === 'NO_SUCH_MEMBER') this.#keeper.members.remove(id);
      throw err;
    }
  }

  async heartbeat(id: string): Promise<MemberStatus> {
    const r = await this.call('heartbeat', { ...this.#tokenFor(id), id });
    return r.status;
  }

  info(): Promise<HubInfo> {
    return this.call('info', {});
  }

  tokenOf(id: string): string | undefined {
    return this.#keeper.members.get(id)?.token;
  }

  watch<F extends WatchFilter>(filter?: F, options: WatchOptions = {}): Watch<EventsFor<F>> {
    // The hub sends admin events only to watches whose types list them: the type says as much.
    return this.#keeper.watches.add(filter ?? {}, options.since, options.epoch, options.maxQueue ?? DEFAULTS.maxQueue) as Watch<HubEvent> as Watch<EventsFor<F>>;
  }

  close(): Promise<void> {
    return this.#keeper.close();
  }

  // ---- from the hub ----

  #tokenFor(id: string): { token?: string } {
    const token = this.#keeper.members.get(id)?.token;
    return token ? { token } : {};
  }

  #onNotification(method: string, params: unknown): void {
    const handlers = this.#notificationHandlers.get(method);
    if (handlers) for (const h of handlers) {
      try { h(params); } catch { /* a handler's bug must not break the connection */ }
    }
  }

  async #onRequest(method: string, params: unknown): Promise<unknown> {
    const handler = this.#requestHandlers.get(method);
    if (!handler) throw new MusterClientError('METHOD_NOT_FOUND', `This client does not handle ${method}`);
    return handler(params);
  }
}

/** Asks for binary bus records on a connection, ahead of anything else sent on it (a hub that refuses keeps JSON, which the bus reads too). */
function askBinary(conn: RpcConnection, timeoutMs: number): void {
  conn.call('bus.format', { binary: true }, timeoutMs).catch(() => {});
}
