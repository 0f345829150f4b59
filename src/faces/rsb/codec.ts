/**
 * Bus messages as RSB frames. A message that came from an RSB participant goes out as the very
 * bytes it came in (never re-encoded: clients check required fields, and causes, user infos and
 * times ride along untouched). Any other message becomes a Notification the hub builds, once per
 * message whatever the number of RSB receivers: the hub's own sender id, the next sequence
 * number, the message's create and send times, and its payload mapped to a wire schema.
 */
import { randomUUID } from 'node:crypto';
import type { BusMessage, BusPayload, MessageCodec, PayloadMeta } from '../../core/bus/message.js';
import { encodeFrame, type EventId, type NotificationInit } from './notification.js';
import { FACE, rsbFromPayload } from './wire-schema.js';

/** User info keys the hub adds to events it builds: who sent it on the bus, and to whom (sends). */
export const USER_INFO = { from: 'muster:from', to: 'muster:to' } as const;
/** RSB scopes of bus messages that have none: broadcasts, and sends to one RSB member. */
export const UNSCOPED = { broadcast: '/muster/broadcast/', send: '/muster/send/' } as const;
export const METHOD = { request: 'REQUEST', reply: 'REPLY' } as const;
/** The user info an RPC reply carries when the method failed (every RSB language). */
export const ERROR_INFO = 'rsb:error?';

/** The meta of a payload that came from an RSB participant: its wire schema, and the frame as read. */
export class RsbMeta implements PayloadMeta {
  readonly face = FACE;
  constructor(readonly schema: string, readonly frame: Buffer) {}
}

/** The 16-byte UUID the hub sends its own events under (new at every start). */
export function newSenderId(): Buffer {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex');
}

export class RsbCodec implements MessageCodec<Buffer> {
  readonly name = 'rsb';
  readonly senderId: Buffer;
  #seq = 0;

  constructor(senderId: Buffer = newSenderId()) {
    this.senderId = senderId;
  }

  encode(m: BusMessage): Buffer {
    const meta = m.payload.meta;
    if (meta instanceof RsbMeta) return meta.frame;
    const infos: [string, string][] = [[USER_INFO.from, m.from]];
    if (m.to !== null) infos.push([USER_INFO.to, m.to]);
    const { wireSchema, data } = rsbFromPayload(m.payload);
    return encodeFrame({
      eventId: this.nextEventId(), scope: m.scope ?? (m.kind === 'send' ? UNSCOPED.send : UNSCOPED.broadcast), wireSchema, data,
      metaData: { createTime: m.created, sendTime: m.sent, userInfos: infos },
    });
  }

  /** An RPC request of the hub's own (a native member asking an RSB server's method). */
  request(scope: string, payload: BusPayload, from: string, now: number): { frame: Buffer; eventId: EventId } {
    const eventId = this.nextEventId();
    const { wireSchema, data } = rsbFromPayload(payload);
    const init: NotificationInit = {
      eventId, scope, method: METHOD.request, wireSchema, data, metaData: { createTime: now, sendTime: now, userInfos: [[USER_INFO.from, from]] },
    };
    return { frame: encodeFrame(init), eventId };
  }

  nextEventId(): EventId {
    // uint32 on the wire: wraps after 4 billion events, as RSB's own counters do.
    this.#seq = this.#seq >= 0xffffffff ? 1 : this.#seq + 1;
    return { senderId: this.senderId, sequenceNumber: this.#seq };
  }
}
