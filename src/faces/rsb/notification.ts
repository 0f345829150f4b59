/**
 * RSB's `rsb.protocol.Notification` (proto/rsb/protocol/*.proto in this folder): decoded from a
 * frame's body with every proto2 required field checked, and built for events the hub sends.
 * Pure: bytes in, a typed notification or a refusal with its reason out. Byte fields stay views
 * into the frame (no copies); text fields are ASCII in RSB and read as latin1 so that no byte is
 * lost.
 */
import { lenFieldSize, uintFieldSize, WireError, WireReader, WireWriter, WIRE } from './protobuf-wire.js';

/** Field numbers, from the .proto files. */
export const FIELD = {
  notification: { eventId: 108, scope: 6, method: 14, wireSchema: 7, data: 9, causes: 13, metaData: 15 },
  eventId: { senderId: 1, sequenceNumber: 2 },
  metaData: { createTime: 2, sendTime: 3, receiveTime: 4, deliverTime: 5, userTimes: 6, userInfos: 7 },
  userTime: { key: 1, timestamp: 2 },
  userInfo: { key: 1, value: 2 },
} as const;

export interface EventId {
  readonly senderId: Uint8Array;
  readonly sequenceNumber: number;
}

export interface MetaData {
  /** µs since the epoch. */
  readonly createTime: number;
  readonly sendTime: number;
  readonly receiveTime?: number;
  readonly deliverTime?: number;
  readonly userTimes: readonly (readonly [key: string, timestamp: number])[];
  readonly userInfos: readonly (readonly [key: string, value: string])[];
}

export interface Notification {
  readonly eventId: EventId;
  /** Absent only in a refused notification: the hub routes by it. */
  readonly scope: string;
  /** '' when absent (the .proto's default); 'REQUEST' and 'REPLY' in RPC. */
  readonly method: string;
  readonly wireSchema: string;
  readonly data: Uint8Array;
  readonly causes: readonly EventId[];
  readonly metaData: MetaData | null;
}

/** Why a frame's body was refused; each maps to one error code of the catalogue. */
export type Refusal =
  | { readonly kind: 'garbage'; readonly detail: string }
  | { readonly kind: 'missing-required'; readonly detail: string };

/** A notification, or why not (a refusal has `detail`; no notification does). */
export type Decoded = Notification | Refusal;

export function isRefusal(d: Decoded): d is Refusal {
  return 'detail' in d;
}

const EMPTY = new Uint8Array(0);

/** Decodes the Notification in `buf` from `start` (a frame's body begins after its 4-byte prefix). */
export function decodeNotification(buf: Buffer, start = 0): Decoded {
  try {
    return readNotification(buf, start);
  } catch (err) {
    if (err instanceof WireError) return { kind: 'garbage', detail: err.message };
    throw err;
  }
}

function missing(detail: string): Refusal {
  return { kind: 'missing-required', detail };
}

const NO_CAUSES: readonly EventId[] = Object.freeze([]);
const NO_PAIRS: readonly never[] = Object.freeze([]);

function readNotification(body: Buffer, start: number): Decoded {
  const r = new WireReader(body, start);
  const F = FIELD.notification;
  let eventId: EventId | null | 'incomplete' = null;
  let scope: string | null = null;
  let method = '';
  let wireSchema = '';
  let data: Uint8Array = EMPTY;
  let causes: EventId[] | null = null;
  let metaData: MetaData | null | 'incomplete' = null;
  while (!r.done) {
    const { field, wire } = r.key();
    const lenField = field === F.eventId || field === F.scope || field === F.method || field === F.wireSchema
      || field === F.data || field === F.causes || field === F.metaData;
    if (!lenField) { r.skip(wire); continue; }
    if (wire !== WIRE.LEN) throw new WireError(`field ${field} must be length-delimited`);
    const [s, e] = r.span();
    switch (field) {
      case F.eventId: eventId = readEventId(body, s, e); break;
      case F.scope: scope = SCOPES.text(body, s, e); break;
      case F.method: method = latin1(body, s, e); break;
      case F.wireSchema: wireSchema = SCHEMAS.text(body, s, e); break;
      case F.data: data = body.subarray(s, e); break;
      case F.causes: {
        const cause = readEventId(body, s, e);
        if (cause === 'incomplete') return missing('a cause (EventId) lacks sender_id or sequence_number');
        (causes ??= []).push(cause);
        break;
      }
      case F.metaData: metaData = readMetaData(body, s, e); break;
    }
  }
  if (eventId === null) return missing('event_id is required');
  if (eventId === 'incomplete') return missing('event_id lacks sender_id or sequence_number');
  if (metaData === 'incomplete') return missing('meta_data lacks create_time or send_time, or a user time or info lacks a field');
  if (scope === null) return missing('scope is needed to route the event');
  return { eventId, scope, method, wireSchema, data, causes: causes ?? NO_CAUSES, metaData };
}

function readEventId(buf: Buffer, start: number, end: number): EventId | 'incomplete' {
  const r = new WireReader(buf, start, end);
  let senderId: Uint8Array | null = null;
  let seq: number | null = null;
  while (!r.done) {
    const { field, wire } = r.key();
    if (field === FIELD.eventId.senderId && wire === WIRE.LEN) { const [s, e] = r.span(); senderId = buf.subarray(s, e); }
    else if (field === FIELD.eventId.sequenceNumber && wire === WIRE.VARINT) seq = r.varint();
    else if (field === FIELD.eventId.senderId || field === FIELD.eventId.sequenceNumber) throw new WireError(`EventId field ${field} has the wrong wire type`);
    else r.skip(wire);
  }
  return senderId === null || seq === null ? 'incomplete' : { senderId, sequenceNumber: seq };
}

function readMetaData(buf: Buffer, start: number, end: number): MetaData | 'incomplete' {
  const r = new WireReader(buf, start, end);
  const F = FIELD.metaData;
  let createTime: number | undefined;
  let sendTime: number | undefined;
  let receiveTime: number | undefined;
  let deliverTime: number | undefined;
  let userTimes: [string, number][] | null = null;
  let userInfos: [string, string][] | null = null;
  let complete = true;
  while (!r.done) {
    const { field, wire } = r.key();
    if (field >= F.createTime && field <= F.deliverTime) {
      if (wire !== WIRE.VARINT) throw new WireError(`EventMetaData field ${field} must be a varint`);
      const v = r.varint();
      if (field === F.createTime) createTime = v;
      else if (field === F.sendTime) sendTime = v;
      else if (field === F.receiveTime) receiveTime = v;
      else deliverTime = v;
    } else if (field === F.userTimes || field === F.userInfos) {
      if (wire !== WIRE.LEN) throw new WireError(`EventMetaData field ${field} must be length-delimited`);
      const [s, e] = r.span();
      const pair = readPair(buf, s, e, field === F.userTimes);
      if (pair === null) complete = false;
      else if (field === F.userTimes) (userTimes ??= []).push([pair[0], pair[1] as number]);
      else (userInfos ??= []).push([pair[0], pair[1] as string]);
    } else r.skip(wire);
  }
  if (!complete || createTime === undefined || sendTime === undefined) return 'incomplete';
  return { createTime, sendTime, receiveTime, deliverTime, userTimes: userTimes ?? NO_PAIRS, userInfos: userInfos ?? NO_PAIRS };
}

/** A UserTime (key, uint64 timestamp) or a UserInfo (key, bytes value); null when a required field is missing. */
function readPair(buf: Buffer, start: number, end: number, isTime: boolean): [string, string | number] | null {
  const r = new WireReader(buf, start, end);
  let key: string | null = null;
  let value: string | number | null = null;
  while (!r.done) {
    const { field, wire } = r.key();
    if (field === 1 && wire === WIRE.LEN) { const [s, e] = r.span(); key = latin1(buf, s, e); }
    else if (field === 2 && isTime && wire === WIRE.VARINT) value = r.varint();
    else if (field === 2 && !isTime && wire === WIRE.LEN) { const [s, e] = r.span(); value = latin1(buf, s, e); }
    else if (field === 1 || field === 2) throw new WireError(`${isTime ? 'UserTime' : 'UserInfo'} field ${field} has the wrong wire type`);
    else r.skip(wire);
  }
  return key === null || value === null ? null : [key, value];
}

/**
 * The last text read for a field, kept with its bytes: a publisher sends the same scope and wire
 * schema over and over, and the same string object also keeps the scope parser's cache lookup cheap.
 */
class LastText {
  #bytes = Buffer.alloc(0);
  #text = '';

  text(buf: Buffer, start: number, end: number): string {
    const n = end - start;
    if (n === this.#bytes.length && n <= 256 && buf.compare(this.#bytes, 0, n, start, end) === 0) return this.#text;
    this.#text = latin1(buf, start, end);
    if (n <= 256) this.#bytes = Buffer.from(buf.subarray(start, end));
    return this.#text;
  }
}
const SCOPES = new LastText();
const SCHEMAS = new LastText();

function latin1(buf: Buffer, start: number, end: number): string {
  return start === end ? '' : buf.toString('latin1', start, end);
}

// ---- building -------------------------------------------------------------------------

/** What the hub sets in a Notification it sends; every required field has a value by construction. */
export interface NotificationInit {
  readonly eventId: EventId;
  readonly scope: string;
  readonly method?: string;
  readonly wireSchema: string;
  readonly data: Uint8Array;
  readonly causes?: readonly EventId[];
  readonly metaData: Pick<MetaData, 'createTime' | 'sendTime'> & Partial<Pick<MetaData, 'userTimes' | 'userInfos'>>;
}

/** A whole frame: the uint32 little-endian length, then the Notification. */
export function encodeFrame(n: NotificationInit): Buffer {
  const N = FIELD.notification;
  const idBody = eventIdSize(n.eventId);
  const causes = n.causes ?? [];
  const meta = metaDataParts(n.metaData);
  const scope = Buffer.from(n.scope, 'latin1');
  const method = n.method ? Buffer.from(n.method, 'latin1') : null;
  const schema = Buffer.from(n.wireSchema, 'latin1');
  let size = lenFieldSize(N.eventId, idBody) + lenFieldSize(N.scope, scope.length) + lenFieldSize(N.wireSchema, schema.length)
    + lenFieldSize(N.data, n.data.length) + lenFieldSize(N.metaData, meta.size);
  if (method) size += lenFieldSize(N.method, method.length);
  for (const c of causes) size += lenFieldSize(N.causes, eventIdSize(c));
  const out = Buffer.allocUnsafe(4 + size);
  out.writeUInt32LE(size, 0);
  const w = new WireWriter(out, 4);
  // Field order as protoc writes it (by field number), so hub-built frames look like any client's.
  w.bytes(N.scope, scope);
  w.bytes(N.wireSchema, schema);
  w.bytes(N.data, n.data);
  for (const c of causes) writeEventId(w, N.causes, c);
  if (method) w.bytes(N.method, method);
  w.key(N.metaData, WIRE.LEN);
  w.varint(meta.size);
  meta.write(w);
  writeEventId(w, N.eventId, n.eventId);
  return out;
}

function eventIdSize(id: EventId): number {
  return lenFieldSize(FIELD.eventId.senderId, id.senderId.length) + uintFieldSize(FIELD.eventId.sequenceNumber, id.sequenceNumber);
}

function writeEventId(w: WireWriter, field: number, id: EventId): void {
  w.key(field, WIRE.LEN);
  w.varint(eventIdSize(id));
  w.bytes(FIELD.eventId.senderId, id.senderId);
  w.uint(FIELD.eventId.sequenceNumber, id.sequenceNumber);
}

function metaDataParts(m: NotificationInit['metaData']): { size: number; write(w: WireWriter): void } {
  const F = FIELD.metaData;
  const create = nonNegative(m.createTime);
  const send = nonNegative(m.sendTime);
  const times = (m.userTimes ?? []).map(([k, t]) => ({ key: Buffer.from(k, 'latin1'), t: nonNegative(t) }));
  const infos = (m.userInfos ?? []).map(([k, v]) => ({ key: Buffer.from(k, 'latin1'), value: Buffer.from(v, 'latin1') }));
  const timeSize = (x: { key: Buffer; t: number }) => lenFieldSize(1, x.key.length) + uintFieldSize(2, x.t);
  const infoSize = (x: { key: Buffer; value: Buffer }) => lenFieldSize(1, x.key.length) + lenFieldSize(2, x.value.length);
  let size = uintFieldSize(F.createTime, create) + uintFieldSize(F.sendTime, send);
  for (const x of times) size += lenFieldSize(F.userTimes, timeSize(x));
  for (const x of infos) size += lenFieldSize(F.userInfos, infoSize(x));
  return {
    size,
    write(w) {
      w.uint(F.createTime, create);
      w.uint(F.sendTime, send);
      for (const x of times) { w.key(F.userTimes, WIRE.LEN); w.varint(timeSize(x)); w.bytes(1, x.key); w.uint(2, x.t); }
      for (const x of infos) { w.key(F.userInfos, WIRE.LEN); w.varint(infoSize(x)); w.bytes(1, x.key); w.bytes(2, x.value); }
    },
  };
}

/** Times are µs since the epoch; anything else written as a varint would be garbage. */
function nonNegative(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.min(Math.round(v), Number.MAX_SAFE_INTEGER) : 0;
}

/** An EventId as a map key (sender id hex + sequence number). */
export function eventKey(id: EventId): string {
  return `${Buffer.from(id.senderId.buffer, id.senderId.byteOffset, id.senderId.byteLength).toString('hex')}:${id.sequenceNumber}`;
}
