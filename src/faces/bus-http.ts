/** The bus over HTTP, for scripts: publish, broadcast, send and request as one POST each. */
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { parseScope } from '../core/scope.js';
import { MusterError } from '../errors.js';
import { validate } from '../schemas/validate.js';
import { payloadOf } from './bus-codec.js';
import type { Relay } from './bus-relay.js';
import {
  BroadcastParams, BusStats, DEFAULT_REQUEST_TIMEOUT_MS, HttpRequestBody, PayloadFields, PublishParams, SendResult,
} from './bus-schemas.js';
import { bodyObject, type HttpRoute } from './http.js';

const NamePath = Type.Object({ name: Type.String() });
const SendBody = Type.Object(PayloadFields, { additionalProperties: false });


export function busHttpRoutes(relay: Relay): HttpRoute[] {
  return [
    {
      method: 'POST', url: '/v1/publish', summary: 'Publish data or bytes (base64) on a scope, as `from` (its token) or as the hub (admin token).',
      body: PublishParams, response: SendResult, auth: true,
      handler: (req, _reply, caller) => {
        const p = validate(PublishParams, bodyObject(req), 'body');
        return relay.publish(relay.httpSender(p.from, caller.token), parseScope(p.scope), payloadOf(p), p);
      },
    },
    {
      method: 'POST', url: '/v1/broadcast', summary: 'Deliver to every connected member except the sender.',
      body: BroadcastParams, response: SendResult, auth: true,
      handler: (req, _reply, caller) => {
        const p = validate(BroadcastParams, bodyObject(req), 'body');
        return relay.broadcast(relay.httpSender(p.from, caller.token), payloadOf(p), p);
      },
    },
    {
      method: 'POST', url: '/v1/members/:name/send', summary: 'Deliver data or bytes to one member.',
      path: NamePath, body: SendBody, response: SendResult, auth: true,
      handler: (req, _reply, caller) => {
        const p = validate(SendBody, bodyObject(req), 'body');
        return relay.send(relay.httpSender(p.from, caller.token), (req.params as { name: string }).name, payloadOf(p), p);
      },
    },
    {
      method: 'POST', url: '/v1/members/:name/request', summary: "Ask a member; the answer is {result}, or its error as MEMBER_ERROR.",
      path: NamePath, body: HttpRequestBody, response: Type.Object({ result: Type.Unknown() }), auth: true,
      handler: async (req, _reply, caller) => {
        const p = validate(HttpRequestBody, bodyObject(req), 'body');
        const sender = relay.httpSender(p.from, caller.token);
        const result = await relay.requests.ask(sender, (req.params as { name: string }).name, p.method, p.params ?? null, p.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
        return { result: result ?? null };
      },
    },
    {
      method: 'GET', url: '/v1/bus/stats', summary: 'Bus totals, subscription count and messages per scope.', response: BusStats,
      handler: () => relay.stats(),
    },
  ];
}
