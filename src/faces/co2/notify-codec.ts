/**
 * Bus messages as the satellites' `notify` call: notify({host_id, data, notify_pass}). A message
 * is encoded once for all satellites (the codec's part: host_id and data, and its UTF-8 length);
 * each satellite's link adds its own notify_pass and HTTP head around it. A satellite's relay is
 * written from the XML-RPC value it sent (remembered for its payload until the next relay: the
 * relay's publish encodes it at once), so it is not mapped back from JSON; anything else on the
 * bus is mapped from JSON (json-map.ts), which keeps every type too.
 */
import type { BusMessage, BusPayload, MessageCodec } from '../../core/bus/message.js';
import { encodeValue, escapeXml, XML_HEADER } from './encode.js';
import { fromJsonValue } from './json-map.js';
import { XmlRpcBase64, type XmlRpcValue } from './values.js';

/** The shared middle of every satellite's notify body, and its length in UTF-8 bytes. */
export interface NotifyPart {
  readonly text: string;
  readonly bytes: number;
}

export class NotifyCodec implements MessageCodec<NotifyPart> {
  readonly name = 'co2-notify';
  /** The last relay's payload and value, written out once a receiver asks (one slot: a WeakMap cost more than the encoding). */
  #lastPayload: BusPayload | null = null;
  #lastValue: XmlRpcValue = null;
  #lastText: string | null = null;
  readonly #hostIdOf: (sender: string) => string;

  /** `hostIdOf`: the host_id satellites are told for a sender's name (its member id, or the name itself). */
  constructor(hostIdOf: (sender: string) => string) {
    this.#hostIdOf = hostIdOf;
  }

  /** The exact value of a payload this face built from a satellite's relay. */
  remember(payload: BusPayload, value: XmlRpcValue): void {
    this.#lastPayload = payload;
    this.#lastValue = value;
    this.#lastText = null;
  }

  /** The struct members host_id and data; throws RangeError for a payload nested too deep. */
  encode(message: BusMessage): NotifyPart {
    const data = message.payload === this.#lastPayload ? (this.#lastText ??= encodeValue(this.#lastValue)) : encodeValue(valueOf(message.payload));
    const text = `<member>\n<name>host_id</name>\n${encodeValue(this.#hostIdOf(message.from))}</member>\n<member>\n<name>data</name>\n${data}</member>\n`;
    return { text, bytes: Buffer.byteLength(text) };
  }
}

function valueOf(payload: BusPayload): XmlRpcValue {
  if (payload.isBytes) return new XmlRpcBase64(payload.base64);
  return fromJsonValue(payload.toJSONValue());
}

const HEAD = `${XML_HEADER}<methodCall>\n<methodName>notify</methodName>\n<params>\n<param>\n<value><struct>\n`;
const TAIL = '</struct></value>\n</param>\n</params>\n</methodCall>\n';

export interface NotifyFrame {
  readonly head: string;
  readonly tail: string;
  /** UTF-8 bytes of head and tail together. */
  readonly bytes: number;
}

/** What a satellite's link puts before and after the shared part: its notify_pass, if it gave one. */
export function notifyFrame(notifyPass: string | undefined): NotifyFrame {
  const pass = notifyPass ? `<member>\n<name>notify_pass</name>\n<value><string>${escapeXml(notifyPass)}</string></value>\n</member>\n` : '';
  const head = HEAD + pass;
  return { head, tail: TAIL, bytes: Buffer.byteLength(head) + Buffer.byteLength(TAIL) };
}
