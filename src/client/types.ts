/** The SDK's public types: options, the client interface, statuses, watches. */
import type { HubEvent, RegistryEvent, WatchFilter } from '../schemas/event.js';
import type { HubInfo } from '../schemas/hub.js';
import type { TreeListParams } from '../schemas/federation.js';
import type { ListResult, MemberStatus, MemberView, RegisterResult, UpdateParams } from '../schemas/member.js';
import type { MusterClientError } from './errors.js';
import type { HubMethod, MethodParams, MethodResult, OtherMethod } from './hub-methods.js';
import type { WebSocketFactory } from './transport.js';

export interface ReconnectOptions {
  /** First delay after a drop (default 250 ms); doubles each failed attempt, with jitter. */
  initialDelayMs?: number;
  /** Longest delay between attempts (default 5000 ms). */
  maxDelayMs?: number;
}

export interface ConnectOptions {
  /**
   * `http://host:port` (→ `ws://host:port/v1/ws`) or a `ws://` / `wss://` URL; or several, the
   * hubs of a cluster: the client connects to the first that answers and, when its hub goes,
   * moves on to the next, resuming its members and watches there.
   */
  url: string | readonly string[];
  /** Admin or member token, sent as `?token=`. */
  token?: string;
  /** Reconnect after a drop (default on); `false` closes the client at the first drop. */
  reconnect?: ReconnectOptions | false;
  /** Default timeout of each call (default 10000 ms). */
  requestTimeoutMs?: number;
  /** With no frame from the hub for this long, the client checks the link and reconnects if dead (default 30000; 0 = off). */
  keepAliveMs?: number;
  /**
   * Bound of the bus's send buffer, in bytes (default 8 MiB): published messages not yet read by
   * the hub (queued, held while reconnecting, unwritten by the socket). Past half of it `publish`
   * returns false (await `flush()`), at it `publish` throws SEND_BUFFER_FULL.
   */
  maxPendingBytes?: number;
  /** Another WebSocket implementation (default: `ws` in Node, the global WebSocket in browsers). */
  webSocket?: WebSocketFactory;
}

type Register = MethodParams<'register'>;

/** register's params but the token (the client keeps it); field types from the operation table. */
export interface RegisterOptions {
  /** Proposed name; taken names get `-1`, `-2`, ... unless `exclusive`. Default: from the type. */
  name?: Register['name'];
  type: Register['type'];
  address?: Register['address'];
  meta?: Register['meta'];
  /** Default `'session'`: alive while this client is connected. ttl members get automatic heartbeats. */
  liveness?: Register['liveness'];
  /** Fail with NAME_TAKEN rather than choosing another name. */
  exclusive?: Register['exclusive'];
  /** Registration key, when the hub requires one. */
  key?: Register['key'];
  /** "component": driven through the lifecycle (see component()); "controller": may configure and stop components (granting it needs the admin token). */
  roles?: Register['roles'];
  /**
   * The new member's token, chosen by you (32-256 characters of [A-Za-z0-9_-], random): it fixes
   * the member's id, so the same newToken in another call, even after a restart of your program,
   * answers the member rather than making a second. Default: a random one for this call alone.
   */
  newToken?: Register['newToken'];
}

export interface CallOptions {
  timeoutMs?: number;
}

export interface WatchOptions {
  /** Replay events after this revision, then stream live. */
  since?: number;
  /**
   * The history `since` belongs to (a `watch.epoch` saved with `watch.revision`): when the hub's
   * store was wiped since, the watch fails COMPACTED instead of replaying another history.
   */
  epoch?: string;
  /** Events buffered for a slow reader before the client pauses the hub watch (default 10000). */
  maxQueue?: number;
}

/** What a watch with filter F yields: admin events too only when its `types` may list `admin`. */
export type EventsFor<F extends WatchFilter> = F extends { types?: infer T } ? AdminIfListed<T> : RegistryEvent;
type AdminIfListed<T> = T extends readonly (infer U)[] ? ('admin' extends U ? HubEvent : RegistryEvent) : RegistryEvent;

/**
 * A live stream of events; resumes across reconnects with no gap and no duplicate. Member events
 * (RegistryEvent) unless the filter's `types` lists `admin`: then admin events too (HubEvent).
 */
export interface Watch<E extends HubEvent = RegistryEvent> extends AsyncIterable<E> {
  /** Resolves with the revision the watch is current to once the hub has accepted it. */
  readonly ready: Promise<number>;
  /** The revision of the last event received (or the start revision). */
  readonly revision: number | undefined;
  /** The hub's history `revision` belongs to: save it with the revision to resume in a later run. */
  readonly epoch: string | undefined;
  close(): Promise<void>;
}

/** What happened to the connection, as a discriminated union on `type`. */
export type ClientStatus =
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string }
  | { type: 'reconnecting'; attempt: number; delayMs: number }
  | { type: 'reconnected' }
  /** The hub had lost the member (it expired while the client was away): registered anew. */
  | { type: 'member-replaced'; oldId: string; id: string; name: string }
  /** The member could not be registered again after a reconnect. */
  | { type: 'member-lost'; id: string; name: string; error: MusterClientError }
  /** A hub watch was dropped (slow reader) and resumed from `resumeAfter`. */
  | { type: 'watch-resumed'; code: string; resumeAfter: number }
  | { type: 'closed'; reason: string };

export type NotificationHandler = (params: unknown) => void;
export type RequestHandler = (params: unknown) => unknown | Promise<unknown>;

export interface MusterClient {
  /**
   * Registers a member on this connection; it is re-registered (same id, name, token) after
   * reconnects. Safe against a lost answer: the call is sent again (up to 4 attempts) with the
   * token it chose, and the hub answers the member the first attempt made rather than a second.
   */
  register(options: RegisterOptions): Promise<RegisterResult>;
  get(nameOrId: string): Promise<MemberView>;
  /** Members of this hub; `hub` lists another hub of the tree, `subtree: true` every hub below too. */
  list(filter?: TreeListParams): Promise<ListResult>;
  /** Changes address or meta; uses the member's token when this client registered it. */
  update(id: string, patch: UpdateParams): Promise<MemberView>;
  unregister(id: string): Promise<void>;
  /** A manual heartbeat (ttl members registered here get them automatically). */
  heartbeat(id: string): Promise<MemberStatus>;
  info(): Promise<HubInfo>;
  watch<F extends WatchFilter = Record<never, never>>(filter?: F, options?: WatchOptions): Watch<EventsFor<F>>;
  /** A method of the hub's operation tables: params and result typed from them. */
  call<M extends HubMethod>(method: M, params: MethodParams<M>, options?: CallOptions): Promise<MethodResult<M>>;
  /** Any other JSON-RPC method (system.*, rpc.discover, a newer hub's), untyped. */
  call<T = unknown, M extends string = string>(method: OtherMethod<M>, params?: unknown, options?: CallOptions): Promise<T>;
  /** Hub-to-client notifications; returns an unsubscribe function. */
  onNotification(method: string, handler: NotificationHandler): () => void;
  /** Answers hub-to-client requests for a method; a throw becomes an error reply. Returns a remover. */
  handle(method: string, handler: RequestHandler): () => void;
  on(event: 'status', listener: (status: ClientStatus) => void): () => void;
  status(): AsyncIterable<ClientStatus>;
  /** The token of a member this client registered. */
  tokenOf(id: string): string | undefined;
  readonly connected: boolean;
  /** Closes the connection for good; watches end; session members go suspect then gone. */
  close(): Promise<void>;
}
