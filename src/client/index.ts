/**
 * muster client SDK (Node and browsers).
 *
 *   const c = await connect({ url: 'http://127.0.0.1:7070' });
 *   const { id, name, token } = await c.register({ type: 'sensor', liveness: { kind: 'ttl', ttlMs: 5000 } });
 *   for await (const e of c.watch({ type: 'sensor' })) console.log(e.type, e.member.name);
 */
import { Client } from './client.js';
import { defaultWebSocketFactory } from './transport.js';
import type { ConnectOptions, MusterClient } from './types.js';

export { ConnectionClosedError, MusterClientError, TimeoutError, type ClientErrorCode } from './errors.js';
export type { WebSocketFactory, WebSocketLike } from './transport.js';
export type { HubMethod, HubMethods, MethodParams, MethodResult } from './hub-methods.js';
export type {
  CallOptions, ClientStatus, ConnectOptions, MusterClient, NotificationHandler, ReconnectOptions, RegisterOptions,
  EventsFor, RequestHandler, Watch, WatchOptions,
} from './types.js';
export type {
  AdminAction, AdminEvent, CallOrigin, HubEvent, HubEventType, RegistryEvent, RegistryEventType, WatchFilter,
} from '../schemas/event.js';
export type { HubInfo } from '../schemas/hub.js';
export type { HubEdge, TreeListParams, TreeNode } from '../schemas/federation.js';
export type {
  ListParams, ListResult, LivenessSpec, MemberStatus, MemberView, ProbeStats, RegisterResult, RemovalReason, TrafficStats, UpdateParams,
} from '../schemas/member.js';
export type { ErrorCode } from '../errors.js';
export { component, type Component, type ComponentOptions, type StopOutcome } from './component.js';
export {
  bus, type Bus, type BusMessage, type BusRequestHandler, type MessageKind, type RequestContext, type SendOptions,
  type SubscribeOptions, type Subscription,
} from './bus.js';
export { controller, type ControlCallOptions, type Controller } from './controller.js';
export type {
  ConfigureResult, Endpoints, GroupConfigureResult, GroupStopResult, LifecycleRecord, LifecycleState, Selector, StopResult, Transition,
} from '../schemas/control.js';

/** Connects to a hub; rejects with ConnectionClosedError when it cannot be reached. */
export async function connect(options: ConnectOptions): Promise<MusterClient> {
  const factory = options.webSocket ?? (await defaultWebSocketFactory());
  const client = new Client(options, factory);
  await client.start();
  return client;
}
