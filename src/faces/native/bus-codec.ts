/**
 * How the native face writes what the core hands it (core/ports.ts Outbound): JSON-RPC
 * notifications, or records of the bus binary format for connections that asked for them. Bus
 * messages go through codecs, so each message is encoded once per format however many
 * receivers take it.
 */
import type { BusMessage, MessageCodec } from '../../core/bus/message.js';
import type { Outbound } from '../../core/ports.js';
import { deliveryRecordBytes, KIND_CODE, type DeliveryHead } from './bus-binary.js';
import { writeDeliveryHead } from './delivery-head.js';
import { slabSpan, type Span } from './record-slab.js';

/**
 * The `bus.message` notification; binary payloads travel as `bytes` (base64) instead of `data`,
 * so the SDK knows to hand the receiver a Uint8Array. Names, scopes and numbers need no escaping
 * (names and scopes are validated to plain ASCII), so this is concatenation plus one Buffer.
 */
export const JSON_MESSAGE: MessageCodec<Buffer> = {
  name: 'native-json',
  encode(m) {
    const where = m.scope !== null ? `,"scope":"${m.scope}"` : m.to !== null ? `,"to":"${m.to}"` : '';
    return Buffer.from(
      `{"jsonrpc":"2.0","method":"bus.message","params":{"kind":"${m.kind}","from":"${m.from}"${where},"seq":${m.seq},` +
      `"created":${m.created},"sent":${m.sent},"received":${m.received},${payloadField(m)}}}`,
    );
  },
};

/** Every delivery's head is filled into this one object and written at once (no object per message). */
const head: DeliveryHead = { kind: 0, isBytes: false, from: '', where: '', seq: 0, created: 0, sent: 0, received: 0 };

/** The delivery record of the bus binary format (bus-binary.ts), written into the face's slab. */
export const BINARY_MESSAGE: MessageCodec<Span> = {
  name: 'native-binary',
  encode(m) {
    head.kind = KIND_CODE[m.kind];
    head.isBytes = m.payload.isBytes;
    head.from = m.from;
    head.where = m.scope ?? m.to ?? '';
    head.seq = m.seq;
    head.created = m.created;
    head.sent = m.sent;
    head.received = m.received;
    const len = deliveryRecordBytes(head, m.payload.size);
    const span = slabSpan(len);
    m.payload.copyTo(span.bytes, span.data, writeDeliveryHead(head, len, span.bytes, span.data, span.start));
    return span;
  },
};

/** The params of `hub.publish` (a publication travelling between hubs), JSON. */
export const HUB_PUBLISH_PARAMS: MessageCodec<string> = {
  name: 'hub-publish',
  encode(m) {
    return `{"from":${JSON.stringify(m.from)},"scope":"${m.scope}","seq":${m.seq},"created":${m.created},"sent":${m.sent},"received":${m.received},${payloadField(m)}}`;
  },
};

function payloadField(m: BusMessage): string {
  return m.payload.isBytes ? `"bytes":"${m.payload.base64}"` : `"data":${m.payload.jsonText}`;
}

/** The method and params (JSON) of every Outbound but bus messages (see the notification schemas). */
export function notificationOf(out: Exclude<Outbound, BusMessage>): { method: string; params: string } {
  switch (out.type) {
    case 'event': return { method: 'event', params: `{"watch":${out.watch},"event":${out.event.json}}` };
    case 'watch-dropped': return { method: 'watch.dropped', params: JSON.stringify({ watch: out.watch, code: out.code ?? 'SLOW_CONSUMER', resumeAfter: out.resumeAfter }) };
    case 'command': {
      const { type, ...params } = out.command;
      return { method: `lifecycle.${type}`, params: JSON.stringify(params) };
    }
    case 'throttled': return { method: 'bus.throttled', params: JSON.stringify({ from: out.from, retryAfterMs: out.retryAfterMs }) };
    case 'tree-publish': return { method: 'hub.publish', params: out.message.encoded(HUB_PUBLISH_PARAMS) };
    case 'interest': return { method: 'hub.interest', params: JSON.stringify({ scopes: out.scopes }) };
  }
}
