/** Params and results of the bus methods, shared by the WebSocket and HTTP faces. */
import { Type } from '@sinclair/typebox';
import { MemberAddress, Name } from './member.js';

/** Longest scope text accepted. */
export const MAX_SCOPE_LENGTH = 1024;

export const ScopeText = Type.String({ minLength: 1, maxLength: MAX_SCOPE_LENGTH, description: 'RSB scope such as /a/b/ (trailing slash optional)' });
const Micros = Type.Number({ minimum: 0, description: 'Microseconds since the epoch' });

export const PayloadFields = {
  data: Type.Optional(Type.Unknown({ description: 'Any JSON value' })),
  bytes: Type.Optional(Type.String({ description: 'Raw bytes, base64 (instead of data)' })),
  from: Type.Optional(Name),
  created: Type.Optional(Micros),
  sent: Type.Optional(Micros),
};

export const PublishParams = Type.Object({ scope: ScopeText, ...PayloadFields }, { additionalProperties: false });
export const BroadcastParams = Type.Object(PayloadFields, { additionalProperties: false });
export const SendParams = Type.Object({ to: MemberAddress, ...PayloadFields }, { additionalProperties: false });
export const SendResult = Type.Object({
  seq: Type.Integer({ description: "The sender's sequence number of this message" }),
  delivered: Type.Integer({ description: 'Receivers whose queue took it' }),
});

export const RequestFields = {
  method: Type.String({ minLength: 1, maxLength: 128 }),
  params: Type.Optional(Type.Unknown()),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000, description: 'Default 10000' })),
  from: Type.Optional(Name),
};
export const RequestParams = Type.Object({ to: MemberAddress, ...RequestFields }, { additionalProperties: false });
export const HttpRequestBody = Type.Object(RequestFields, { additionalProperties: false });

export const SubscribeParams = Type.Object({
  scope: ScopeText,
  echo: Type.Optional(Type.Boolean({ description: "Also receive this connection's own publishes" })),
}, { additionalProperties: false });
export const SubscribeResult = Type.Object({ subscription: Type.Integer(), scope: Type.String({ description: 'The normalized scope' }) });
export const UnsubscribeParams = Type.Object({ subscription: Type.Integer() }, { additionalProperties: false });

export const BusStats = Type.Object({
  totals: Type.Object({
    published: Type.Integer(), delivered: Type.Integer(), deliveredBytes: Type.Integer(), dropped: Type.Integer(),
    throttled: Type.Integer(), slowDisconnects: Type.Integer(), requests: Type.Integer(), requestErrors: Type.Integer(),
  }),
  subscriptions: Type.Integer(),
  scopes: Type.Record(Type.String(), Type.Integer(), { description: 'Messages published per scope' }),
  subscribers: Type.Record(Type.String(), Type.Integer(), { description: 'Subscriptions per scope on this hub (each also receives every scope below it)' }),
});

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
