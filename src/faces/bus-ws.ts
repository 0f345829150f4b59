/**
 * The bus on the WebSocket face: JSON-RPC methods bus.subscribe, bus.unsubscribe, bus.publish,
 * bus.broadcast, bus.send, bus.request, bus.stats. The hub sends `bus.message` and
 * `bus.throttled` notifications and `bus.handle` requests (a member asked via bus.request).
 */
import { Type } from '@sinclair/typebox';
import { parseScope } from '../core/scope.js';
import { payloadOf } from './bus-codec.js';
import type { Relay } from './bus-relay.js';
import {
  BroadcastParams, BusStats, DEFAULT_REQUEST_TIMEOUT_MS, PublishParams, RequestParams, SendParams, SendResult,
  SubscribeParams, SubscribeResult, UnsubscribeParams,
} from './bus-schemas.js';
import { MusterError, toMusterError } from '../errors.js';
import { jsonBytesTooDeep, MAX_JSON_DEPTH } from '../schemas/json-depth.js';
import { decodeClientFrame, KIND_NAME, type PublishRecord } from './bus-binary.js';
import { BusPayload } from './bus-codec.js';
import { wsMethod, type WsConnection, type WsMethod } from './ws.js';

export function busWsMethods(relay: Relay): WsMethod[] {
  return [
    wsMethod({
      name: 'bus.subscribe', summary: 'Receive bus.message notifications for a scope and every scope below it.',
      params: SubscribeParams, result: SubscribeResult,
      run: (conn, p) => {
        const scope = parseScope(p.scope);
        relay.senderOf(conn, undefined, conn.token);
        return { subscription: relay.subscribe(conn, scope, p.echo ?? false), scope: scope.text };
      },
    }),
    wsMethod({
      name: 'bus.unsubscribe', summary: 'Stop a subscription.', params: UnsubscribeParams, result: Type.Object({ ok: Type.Boolean() }),
      run: (conn, p) => ({ ok: relay.unsubscribe(conn, p.subscription) }),
    }),
    wsMethod({
      name: 'bus.publish', summary: 'Publish data (JSON) or bytes (base64) on a scope. As a notification it is fire-and-forget.',
      params: PublishParams, result: SendResult,
      run: (conn, p) => relay.publish(relay.senderOf(conn, p.from, conn.token), parseScope(p.scope), payloadOf(p), p),
    }),
    wsMethod({
      name: 'bus.broadcast', summary: 'Deliver to every connected member except the sender.',
      params: BroadcastParams, result: SendResult,
      run: (conn, p) => relay.broadcast(relay.senderOf(conn, p.from, conn.token), payloadOf(p), p),
    }),
    wsMethod({
      name: 'bus.send', summary: 'Deliver to one member by name.', params: SendParams, result: SendResult,
      run: (conn, p) => relay.send(relay.senderOf(conn, p.from, conn.token), p.to, payloadOf(p), p),
    }),
    wsMethod({
      name: 'bus.request', summary: "Ask a member (it gets a bus.handle request) and return its answer, or its error as MEMBER_ERROR.",
      params: RequestParams, result: Type.Unknown(),
      run: (conn, p) => relay.requests.ask(relay.senderOf(conn, p.from, conn.token), p.to, p.method, p.params ?? null, p.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
    }),
    wsMethod({
      name: 'bus.format', summary: 'binary: true makes bus deliveries to this connection binary frames (the bus binary format) instead of bus.message notifications.',
      params: Type.Object({ binary: Type.Boolean() }, { additionalProperties: false }), result: Type.Object({ binary: Type.Boolean() }),
      run: (conn, p) => { conn.setBusBinary(p.binary); return { binary: conn.busBinary }; },
    }),
    wsMethod({
      name: 'bus.stats', summary: 'Bus totals, subscription count and messages per scope.', params: Type.Object({}), result: BusStats,
      run: () => relay.stats(),
    }),
  ];
}

/**
 * Binary frames on the WebSocket face (bus-binary.ts): publish, broadcast and send records,
 * fire-and-forget, a failed one reported with one `bus.error` notification per frame (THROTTLED
 * is told by `bus.throttled`); request records, each answered with a reply or error record; and
 * a member's reply and error records (bus-requests.ts).
 */
export function busBinaryHandler(relay: Relay): (conn: WsConnection, data: Buffer) => void {
  return (conn, data) => {
    let firstError: MusterError | null = null;
    const malformed = decodeClientFrame(data, {
      publish: (r: PublishRecord) => {
        try {
          const sender = relay.senderOf(conn, r.from === '' ? undefined : r.from, conn.token);
          // JSON receivers get these as numbers: Infinity or NaN would make their whole frame unparseable.
          if (!isTime(r.created) || !isTime(r.sent)) throw new MusterError('INVALID_PARAMS', 'A record\'s created and sent times are microseconds since the epoch (0: now)');
          const times = { created: r.created || undefined, sent: r.sent || undefined };
          const payload = BusPayload.raw(r.payload, r.isBytes);
          if (!r.isBytes) checkJson(r.payload);
          const kind = KIND_NAME[r.kind];
          if (kind === 'publish') relay.publish(sender, parseScope(r.where), payload, times);
          else if (kind === 'broadcast') relay.broadcast(sender, payload, times);
          else if (kind === 'send') {
            const sent = relay.send(sender, r.where, payload, times);
            // A send to another hub settles later; its failure is this frame's error all the same.
            if (sent instanceof Promise) sent.catch((err: unknown) => conn.notify('bus.error', JSON.stringify(toMusterError(err).toJSON())));
          } else throw new MusterError('INVALID_REQUEST', `Unknown record kind ${r.kind}`);
        } catch (err) {
          const e = toMusterError(err);
          if (e.code !== 'THROTTLED') firstError ??= e;
        }
      },
      request: (r) => relay.requests.fromRecord(conn, conn.token, r),
      answer: (r) => relay.requests.fromAnswer(conn, r),
    });
    if (malformed) firstError ??= new MusterError('INVALID_REQUEST', `Malformed bus frame: ${malformed}`);
    if (firstError) conn.notify('bus.error', JSON.stringify(firstError.toJSON()));
  };
}

function checkJson(bytes: Uint8Array): void {
  if (jsonBytesTooDeep(bytes)) throw new MusterError('INVALID_PARAMS', `A record's JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new MusterError('INVALID_PARAMS', 'A record flagged JSON does not hold valid JSON');
  }
}

const isTime = (t: number): boolean => Number.isFinite(t) && t >= 0;
