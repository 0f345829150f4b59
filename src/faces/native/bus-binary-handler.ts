/**
 * Binary frames on the WebSocket face (bus-binary.ts): publish, broadcast and send records,
 * fire-and-forget, a failed one reported with one `bus.error` notification per frame (THROTTLED
 * is told by `bus.throttled`); request records, each answered with a reply or error record
 * carrying the record's id, in the requester's form (with its deliveries in binary mode, else a
 * frame of its own); and members' reply and error records to the hub's handle records.
 */
import { BusPayload } from '../../core/bus/message.js';
import type { Relay, Sender } from '../../core/bus/relay.js';
import { parseScope } from '../../core/bus/scope.js';
import { MusterError, toMusterError } from '../../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../schemas/bus.js';
import { jsonBytesTooDeep, MAX_JSON_DEPTH } from '../../schemas/json-depth.js';
import { ADDRESS_PATTERN } from '../../schemas/member.js';
import { isJson, type BinaryRequests } from './binary-requests.js';
import {
  decodeClientFrame, encodeAnswerRecord, FRAME_MAGIC, KIND_ERROR, KIND_NAME, KIND_REPLY, publishPayload, type PublishIn, type RequestRecord,
} from './bus-binary.js';
import { slabAlloc } from './record-slab.js';
import type { WsConnection } from './ws-connection.js';

const MAX_TIMEOUT_MS = 300_000;
const MAX_METHOD_LENGTH = 128;
const MEMBER_ADDRESS = new RegExp(ADDRESS_PATTERN);
const MAGIC = Buffer.from([FRAME_MAGIC]);

export function handleBinaryFrame(relay: Relay, requests: BinaryRequests, conn: WsConnection, data: Buffer): void {
  let firstError: MusterError | null = null;
  // Records of one frame mostly come from the same sender: it is authorized once per frame and name.
  const caller = conn.caller;
  let senderName: string | null = null;
  let sender: Sender | null = null;
  const senderOf = (from: string): Sender => {
    if (from !== senderName || sender === null) {
      sender = relay.senderOf(caller, from === '' ? undefined : from);
      senderName = from;
    }
    return sender;
  };
  // The records of a frame arrived together: one clock reading serves them all.
  const mono = performance.now();
  const malformed = decodeClientFrame(data, {
    publish: (r) => {
      try {
        publishRecord(relay, senderOf(r.from), conn, r, mono);
      } catch (err) {
        const e = toMusterError(err);
        if (e.code !== 'THROTTLED') firstError ??= e;
      }
    },
    request: (r) => requestRecord(relay, conn, r),
    answer: (r) => {
      const unusable = requests.answer(conn, r);
      if (unusable) conn.notify('bus.error', JSON.stringify({ code: 'INVALID_PARAMS', message: unusable }));
    },
  });
  if (malformed) firstError ??= new MusterError('INVALID_REQUEST', `Malformed bus frame: ${malformed}`);
  if (firstError) conn.notify('bus.error', JSON.stringify(firstError.toJSON()));
}

function publishRecord(relay: Relay, sender: Sender, conn: WsConnection, r: PublishIn, mono: number): void {
  // JSON receivers get these as numbers: Infinity or NaN would make their whole frame unparseable.
  if (!isTime(r.created) || !isTime(r.sent)) throw new MusterError('INVALID_PARAMS', 'A record\'s created and sent times are microseconds since the epoch (0: now)');
  const times = { created: r.created || undefined, sent: r.sent || undefined };
  let payload: BusPayload;
  if (r.isBytes) payload = BusPayload.inFrame(r.frame, r.payloadStart, r.payloadEnd, true);
  else {
    const json = publishPayload(r);
    checkJson(json);
    payload = BusPayload.raw(json, false);
  }
  const kind = KIND_NAME[r.kind];
  if (kind === 'publish') relay.publish(sender, parseScope(r.where), payload, times, mono);
  else if (kind === 'broadcast') relay.broadcast(sender, payload, times, mono);
  else if (kind === 'send') {
    const sent = relay.send(sender, r.where, payload, times, mono);
    // A send to another hub settles later; its failure is this frame's error all the same.
    if (sent instanceof Promise) sent.catch((err: unknown) => conn.notify('bus.error', JSON.stringify(toMusterError(err).toJSON())));
  } else throw new MusterError('INVALID_REQUEST', `Unknown record kind ${r.kind}`);
}

/** A request record: validated, relayed, and answered with a reply or error record quoting its id. */
function requestRecord(relay: Relay, conn: WsConnection, r: RequestRecord): void {
  let asked: Promise<BusPayload>;
  try {
    const sender = relay.senderOf(conn.caller, r.from === '' ? undefined : r.from);
    if (!MEMBER_ADDRESS.test(r.where)) throw new MusterError('INVALID_PARAMS', 'A request names its target as name or hub/name');
    if (r.method.length === 0 || r.method.length > MAX_METHOD_LENGTH) throw new MusterError('INVALID_PARAMS', `A request's method is 1 to ${MAX_METHOD_LENGTH} characters`);
    const timeoutMs = r.timeoutMs === 0 ? DEFAULT_REQUEST_TIMEOUT_MS : r.timeoutMs;
    if (timeoutMs > MAX_TIMEOUT_MS) throw new MusterError('INVALID_PARAMS', `timeoutMs is at most ${MAX_TIMEOUT_MS}`);
    // An empty JSON-flagged payload means null.
    if (!r.isBytes && r.payload.byteLength > 0) checkJson(r.payload);
    // The record's payload is a view into the incoming frame; it is used before this turn ends or copied by the encoder.
    asked = relay.request(sender, r.where, r.method, BusPayload.raw(r.payload, r.isBytes), timeoutMs);
  } catch (err) {
    relay.totals.requestErrors++;
    answerRecord(conn, r.id, r.where, toMusterError(err), null);
    return;
  }
  asked.then(
    (payload) => answerRecord(conn, r.id, r.where, null, payload),
    (err: unknown) => answerRecord(conn, r.id, r.where, toMusterError(err), null),
  );
}

/** A reply or error record to a binary requester: with its deliveries in binary mode, else a frame of its own. */
function answerRecord(conn: WsConnection, rid: number, to: string, err: MusterError | null, value: BusPayload | null): void {
  if (!conn.open) return;
  // `to` is whatever the request named; only a real address fits the record's one-byte ASCII `from`.
  const from = MEMBER_ADDRESS.test(to) ? to : '';
  const rec = encodeAnswerRecord(err
    ? { kind: KIND_ERROR, isBytes: false, from, where: err.code, id: rid, payload: Buffer.from(JSON.stringify(err.toJSON())) }
    : { kind: KIND_REPLY, isBytes: value!.isBytes, from, where: '', id: rid, payload: value!.raw }, slabAlloc);
  if (conn.busBinary) conn.enqueue(rec);
  else conn.send(Buffer.concat([MAGIC, rec]));
}

function checkJson(bytes: Uint8Array): void {
  if (jsonBytesTooDeep(bytes)) throw new MusterError('INVALID_PARAMS', `A record's JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (bytes.byteLength === 0 || !isJson(bytes)) throw new MusterError('INVALID_PARAMS', 'A record flagged JSON does not hold valid JSON');
}

const isTime = (t: number): boolean => Number.isFinite(t) && t >= 0;
