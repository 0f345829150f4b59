/**
 * What the hub sends a WebSocket peer unasked: notifications, and the requests it makes of
 * members and child hubs. One schema each (types, validation in the SDK's tests, docs).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { ForwardParams, HubPublish, InterestParams } from './federation.js';
import { RegistryEvent } from './event.js';
import { Config } from './control.js';

const Micros = Type.Number({ description: 'Microseconds since the epoch' });
const Payload = {
  data: Type.Optional(Type.Unknown({ description: 'The JSON payload' })),
  bytes: Type.Optional(Type.String({ description: 'The bytes payload, base64' })),
};
const ErrorBody = { code: Type.String({ description: 'A muster error code' }), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) };

export const BusMessageNotification = Type.Object({
  kind: Type.Union([Type.Literal('publish'), Type.Literal('broadcast'), Type.Literal('send')]),
  from: Type.String({ description: 'The sender: a member name, hub/name from another hub, or "hub"' }),
  scope: Type.Optional(Type.String({ description: 'publish: the scope published on' })),
  to: Type.Optional(Type.String({ description: 'send: the member addressed' })),
  seq: Type.Integer({ description: "The sender's sequence number" }),
  created: Micros, sent: Micros, received: Micros,
  ...Payload,
});

export interface NotificationDoc {
  readonly method: string;
  readonly summary: string;
  readonly params: TSchema;
  /** A request the hub makes (answered by the peer) rather than a notification. */
  readonly request?: boolean;
}

export const NOTIFICATIONS: readonly NotificationDoc[] = [
  { method: 'bus.message', summary: 'A bus message for this connection (a subscription, a broadcast or a send).', params: BusMessageNotification },
  { method: 'bus.throttled', summary: 'The sender is over its rate limit (once per episode); retry after retryAfterMs.', params: Type.Object({ from: Type.String(), retryAfterMs: Type.Integer() }) },
  { method: 'bus.error', summary: 'A binary frame (or a record in it) was refused; the first error of the frame.', params: Type.Object(ErrorBody) },
  { method: 'event', summary: 'A registry event for a watch.', params: Type.Object({ watch: Type.Integer(), event: RegistryEvent }) },
  { method: 'watch.dropped', summary: 'The watch was dropped: it fell too far behind (SLOW_CONSUMER), or the shared store lost its history (COMPACTED); watch again with since: resumeAfter and the epoch.', params: Type.Object({ watch: Type.Integer(), code: Type.Union([Type.Literal('SLOW_CONSUMER'), Type.Literal('COMPACTED')]), resumeAfter: Type.Integer() }) },
  { method: 'lifecycle.configure', summary: 'CONFIGURE for a component on this connection; answer with lifecycle.ok or lifecycle.error quoting call.', params: Type.Object({ name: Type.String(), call: Type.String(), config: Config }) },
  { method: 'lifecycle.stop', summary: 'STOP for a component on this connection; answer with lifecycle.finished or lifecycle.error quoting call.', params: Type.Object({ name: Type.String(), call: Type.String() }) },
  { method: 'hub.publish', summary: 'To a child hub: a publication on a tree-wide scope it wants.', params: HubPublish },
  { method: 'hub.interest', summary: 'To a child hub: the tree-wide scopes this hub wants from it.', params: InterestParams },
  { method: 'bus.handle', summary: 'Request to a member: answer a bus.request (result, or a JSON-RPC error that reaches the asker as MEMBER_ERROR).', params: Type.Object({ from: Type.String(), method: Type.String(), params: Type.Unknown() }), request: true },
  { method: 'hub.ping', summary: 'Request to a child hub: the parent\'s connection monitor.', params: Type.Object({}), request: true },
  { method: 'hub.forward', summary: 'Request to a child hub: run an operation on a hub at or below it.', params: ForwardParams, request: true },
];
