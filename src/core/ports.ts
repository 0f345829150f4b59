/**
 * The seams between the core and the world: what the core sees of any face's connection, the
 * messages it hands one, and where bus traffic goes beyond this process. The core never knows a
 * wire format; each face encodes these its own way (and a message once per codec).
 */
import type { LoggedEvent } from './events/event-log.js';
import type { BusMessage, BusPayload } from './bus/message.js';
import type { Scope } from './bus/scope.js';

/** A lifecycle command from the hub to one component. */
export type LifecycleCommand =
  | { readonly type: 'configure'; readonly name: string; readonly call: string; readonly config: Record<string, unknown> }
  | { readonly type: 'stop'; readonly name: string; readonly call: string };

/** Domain messages the core hands a connection; `type` says which. */
export type Outbound =
  | BusMessage
  | { readonly type: 'event'; readonly watch: number; readonly event: LoggedEvent }
  /** A watch ended by the hub: its connection fell behind (SLOW_CONSUMER, the default), or its history is gone (COMPACTED). */
  | { readonly type: 'watch-dropped'; readonly watch: number; readonly resumeAfter: number; readonly code?: 'SLOW_CONSUMER' | 'COMPACTED' }
  | { readonly type: 'command'; readonly command: LifecycleCommand }
  | { readonly type: 'throttled'; readonly from: string; readonly retryAfterMs: number }
  /** A publication on a tree-wide scope, to another hub (federation). */
  | { readonly type: 'tree-publish'; readonly message: BusMessage }
  /** The tree-wide scopes this hub wants from the hub at the other end (federation). */
  | { readonly type: 'interest'; readonly scopes: readonly string[] };

/** A member asked over the bus: who asks, the method, the params. */
export interface BusRequest {
  readonly from: string;
  /** The member asked, by name. */
  readonly to: string;
  readonly method: string;
  readonly payload: BusPayload;
}

export interface Backlog {
  /** Messages queued to the peer and not yet written. */
  readonly messages: number;
  /** Bytes queued to the peer and not yet written. */
  readonly bytes: number;
}

/**
 * One peer as the core sees it, whatever face it came through. Members are bound to the
 * connection they registered on (session liveness ends with it); the bus, watches and lifecycle
 * control reach them through it.
 */
export interface Connection {
  readonly id: string;
  /** The face it came through: 'native', 'hub-link', 'plantimager', 'co2', 'rsb', 'iccp', ... */
  readonly face: string;
  /** False once closing: nothing more is delivered. */
  readonly open: boolean;
  readonly backlog: Backlog;
  /**
   * Queues a message for the peer. False when it was not taken: the connection is closed, the
   * face cannot carry this kind of message, or the peer's bounded queue is full (the
   * connection applies its slow-consumer policy and counts it).
   */
  deliver(out: Outbound): boolean;
  /** Asks the member behind this connection; rejects with a MusterError (TIMEOUT, MEMBER_GONE, ...) or a PeerError (its own error answer). */
  request(req: BusRequest, timeoutMs: number): Promise<BusPayload>;
  close(reason: string): void;
  onClose(listener: (reason: string) => void): void;
}

/** A link to another hub: a connection that also takes the hub's own calls (federation). */
export interface HubLink extends Connection {
  /** Calls a hub.* method at the other end; rejects with a PeerError (its answer) or a MusterError. */
  call(method: string, params: unknown, timeoutMs: number): Promise<unknown>;
}

/** The result of a send: the sender's sequence number and whether the receiver's queue took it. */
export interface SendResult {
  seq: number;
  delivered: number;
}

/**
 * Fan-out beyond this process (federation links today, a cluster of hubs next). The relay hands
 * an adapter the publications on scopes it wants, the sends and requests to hubs it reaches, and
 * every change of local interest; `src/hub.ts` installs the adapters.
 */
export interface BusAdapter {
  readonly name: string;
  /** True when publications on `scope` must also go through this adapter. Called per publication: O(depth). */
  wants(scope: Scope): boolean;
  /** A publication of this hub's, on a scope it wants. */
  published(message: BusMessage): void;
  /** A local subscription on `scope` came (+1) or went (-1). */
  interest(scope: Scope, delta: 1 | -1): void;
  /** Whether `hub/name` addresses of hub `hubId` are reached through this adapter. */
  reaches(hubId: string): boolean;
  /**
   * Whether this adapter is the nearest way to hub `hubId` (default: `reaches`): a publication
   * from that hub arriving through another adapter is a copy that came the long way round.
   */
  leadsTo?(hubId: string): boolean;
  send(hubId: string, name: string, message: BusMessage): Promise<SendResult>;
  request(hubId: string, name: string, req: BusRequest, timeoutMs: number): Promise<BusPayload>;
  /** A broadcast of this hub's, for the other hubs it reaches that take broadcasts (a cluster's; a tree keeps them local). */
  broadcast?(message: BusMessage): void;
}

/**
 * The other hubs of this hub's cluster, as the federation sees them (cluster mode): a hub below
 * one of them (a child hub registered there) is reached through it.
 */
export interface Siblings {
  /** The cluster's other hubs now. */
  has(hubId: string): boolean;
  /**
   * Runs a forwarded call (hub.forward's params) on sibling `hubId`, which goes on from there down
   * its own links only; rejects like a hub link's call (the far hub's code, or no answer).
   */
  forward(hubId: string, call: { to: string; op: string; params: Record<string, unknown>; hops: number }, timeoutMs: number): Promise<unknown>;
  /** The tree-wide scopes the others want (their subscribers' and their children's); `changed` hears of each change. */
  wanted(): string[];
  onWanted(changed: () => void): void;
  /** The tree-wide scopes this hub's children want: the others send their publications on them here. */
  wantBelow(scopes: readonly string[]): void;
  /** A tree-wide publication from a hub below this one, for the others that want it. */
  passOn(message: BusMessage): void;
}

/** Configure and stop of components reached through an adapter (another hub). */
export interface ControlAdapter {
  reaches(hubId: string): boolean;
  command(hubId: string, name: string, kind: LifecycleCommand['type'], config: Record<string, unknown>, timeoutMs: number | undefined): Promise<unknown>;
}

/** Checks a probe target once; resolves when it answered within the timeout. The I/O is a face's. */
export type ProbeOnce = (target: string, timeoutMs: number) => Promise<void>;
