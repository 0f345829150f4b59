/** The bus's operations: subscriptions, publish, broadcast, send, request/reply, stats. */
import { Type } from '@sinclair/typebox';
import {
  BroadcastParams, BusStats, DEFAULT_REQUEST_TIMEOUT_MS, PublishParams, RequestParams, SendParams, SendResult, SubscribeParams,
  SubscribeResult, UnsubscribeParams,
} from '../../schemas/bus.js';
import { BusPayload, payloadOf } from '../bus/message.js';
import { parseScope } from '../bus/scope.js';
import { op, readOp } from './operation.js';

export const busOperations = [
  op({
    name: 'bus.subscribe',
    summary: 'Receive bus.message notifications for a scope and every scope below it.',
    params: SubscribeParams,
    result: SubscribeResult,
    needsConnection: true,
    run: (s, p, caller) => {
      const scope = parseScope(p.scope);
      s.bus.senderOf(caller);
      return { subscription: s.bus.subscribe(caller.connection!, scope, p.echo ?? false), scope: scope.text };
    },
  }),
  op({
    name: 'bus.unsubscribe',
    summary: 'Stop a subscription.',
    params: UnsubscribeParams,
    result: Type.Object({ ok: Type.Boolean() }),
    needsConnection: true,
    run: (s, p, caller) => ({ ok: s.bus.unsubscribe(caller.connection!, p.subscription) }),
  }),
  op({
    name: 'bus.publish',
    summary: 'Publish data (JSON) or bytes (base64) on a scope, as `from` (its token) or as the connection\'s member, or as the hub (admin token). As a JSON-RPC notification it is fire-and-forget.',
    params: PublishParams,
    result: SendResult,
    http: { method: 'POST', path: '/v1/publish', auth: true },
    run: (s, p, caller) => s.bus.publish(s.bus.senderOf(caller, p.from), parseScope(p.scope), payloadOf(p), p),
  }),
  op({
    name: 'bus.broadcast',
    summary: 'Deliver to every connected member (on every face) except the sender.',
    params: BroadcastParams,
    result: SendResult,
    http: { method: 'POST', path: '/v1/broadcast', auth: true },
    run: (s, p, caller) => s.bus.broadcast(s.bus.senderOf(caller, p.from), payloadOf(p), p),
  }),
  op({
    name: 'bus.send',
    summary: 'Deliver data or bytes to one member by name (or hub/name).',
    params: SendParams,
    result: SendResult,
    http: { method: 'POST', path: '/v1/members/:name/send', rename: { name: 'to' }, auth: true },
    run: (s, p, caller) => s.bus.send(s.bus.senderOf(caller, p.from), p.to, payloadOf(p), p),
  }),
  op({
    name: 'bus.request',
    summary: 'Ask a member (it gets a bus.handle request, or a handle record) and return its answer; its own error is MEMBER_ERROR.',
    params: RequestParams,
    result: Type.Unknown(),
    http: { method: 'POST', path: '/v1/members/:name/request', rename: { name: 'to' }, wrap: 'result', auth: true },
    run: async (s, p, caller) => {
      const answer = await s.bus.request(s.bus.senderOf(caller, p.from), p.to, p.method, BusPayload.of(p.params), p.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      return answer.toJSONValue();
    },
  }),
  readOp('bus.stats', 'Bus totals, subscription count, messages per scope and subscriptions per scope.', BusStats, '/v1/bus/stats', (s) => s.bus.stats()),
] as const;
