/**
 * The bus binary frame format (WebSocket binary frames), for payload-heavy traffic: no JSON, no
 * base64. Pure codec over Uint8Array/DataView, shared by the hub, the SDK and the bench.
 *
 * A frame is the byte 0xB5 (format version 1) followed by records. All integers little-endian.
 * Every record starts with the same header:
 *
 *   u32 length of the rest | u8 kind | u8 flags (bit 0: payload is bytes, else UTF-8 JSON)
 *   u8 from length, from (ASCII) | u16 where length, where (ASCII)
 *
 * then, by kind:
 *
 *   1 publish, 2 broadcast, 3 send   client → hub: f64 created µs (0: now), f64 sent µs (0: now), payload
 *     (where: scope or target)       hub → client: f64 seq, f64 created, sent, received µs, payload
 *   4 request  client → hub          f64 id, u32 timeoutMs (0: 10000), u8 method length, method (UTF-8), payload
 *     (where: the member asked)
 *   5 handle   hub → client          the same fields as a request; from: the requester, where: the
 *                                    member asked, id: the hub's, to quote in the answer
 *   6 reply    both ways             f64 id, payload (the result)
 *   7 error    both ways             f64 id, payload: UTF-8 JSON error object; hub → client: where
 *                                    is the muster error code
 */
export const FRAME_MAGIC = 0xb5;

export type MessageKind = 'publish' | 'broadcast' | 'send';
export const KIND_CODE = { publish: 1, broadcast: 2, send: 3 } as const;
export const KIND_NAME: Record<number, MessageKind | undefined> = { 1: 'publish', 2: 'broadcast', 3: 'send' };
export const FLAG_BYTES = 1;
export const KIND_REQUEST = 4;
export const KIND_HANDLE = 5;
export const KIND_REPLY = 6;
export const KIND_ERROR = 7;

export interface DeliveryRecord {
  kind: number;
  isBytes: boolean;
  from: string;
  where: string;
  seq: number;
  created: number;
  sent: number;
  received: number;
  payload: Uint8Array;
}

export interface PublishRecord {
  kind: number;
  isBytes: boolean;
  from: string;
  where: string;
  created: number;
  sent: number;
  payload: Uint8Array;
}

/** A request (client → hub, kind 4) or its forward to the member asked (hub → client, kind 5). */
export interface RequestRecord {
  kind: number;
  isBytes: boolean;
  from: string;
  where: string;
  id: number;
  timeoutMs: number;
  method: string;
  payload: Uint8Array;
}

/** A reply (kind 6) or an error (kind 7) to request `id`. */
export interface AnswerRecord {
  kind: number;
  isBytes: boolean;
  from: string;
  where: string;
  id: number;
  payload: Uint8Array;
}

/** Allocates record buffers; Node callers pass Buffer.allocUnsafe (pooled, much cheaper for small sizes). */
export type Alloc = (size: number) => Uint8Array;
const defaultAlloc: Alloc = (n) => new Uint8Array(n);

// Numbers are written through one scratch Float64Array (no DataView per record); the format is little-endian.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function writeF64(buf: Uint8Array, at: number, x: number): void {
  f64[0] = x;
  if (LITTLE_ENDIAN) for (let i = 0; i < 8; i++) buf[at + i] = f64Bytes[i]!;
  else for (let i = 0; i < 8; i++) buf[at + i] = f64Bytes[7 - i]!;
}

function writeU32(buf: Uint8Array, at: number, x: number): void {
  buf[at] = x & 0xff;
  buf[at + 1] = (x >>> 8) & 0xff;
  buf[at + 2] = (x >>> 16) & 0xff;
  buf[at + 3] = (x >>> 24) & 0xff;
}

function writeAscii(buf: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i) & 0x7f;
  return at + s.length;
}

/**
 * Names and scopes repeat from record to record: the last few decoded are kept with their bytes,
 * and a byte compare (cheaper than building a string) finds them again.
 */
const RECENT = 8;
const recentText: string[] = [];
const recentBytes: Uint8Array[] = [];
let recentNext = 0;

function readAscii(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  search: for (let k = 0; k < recentBytes.length; k++) {
    const b = recentBytes[k]!;
    if (b.length !== n) continue;
    for (let i = 0; i < n; i++) if (b[i] !== buf[start + i]) continue search;
    return recentText[k]!;
  }
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  if (n <= 256) {
    recentText[recentNext] = s;
    recentBytes[recentNext] = buf.slice(start, end);
    recentNext = (recentNext + 1) % RECENT;
  }
  return s;
}

/** The fields every record starts with. */
interface RecordHead {
  kind: number;
  isBytes: boolean;
  from: string;
  where: string;
}

/** Bytes of a record with `fieldsBytes` of kind-specific fields and a payload of `payloadBytes`. */
function recordBytes(r: RecordHead, fieldsBytes: number, payloadBytes: number): number {
  return 4 + 1 + 1 + 1 + r.from.length + 2 + r.where.length + fieldsBytes + payloadBytes;
}

/** Writes the common header of a record of `len` bytes at `at`; returns where its kind-specific fields go. */
export function writeRecordHeader(r: RecordHead, len: number, buf: Uint8Array, at: number): number {
  writeU32(buf, at, len - 4);
  buf[at + 4] = r.kind;
  buf[at + 5] = r.isBytes ? FLAG_BYTES : 0;
  buf[at + 6] = r.from.length;
  const p = writeAscii(buf, at + 7, r.from);
  buf[p] = r.where.length & 0xff;
  buf[p + 1] = r.where.length >>> 8;
  return writeAscii(buf, p + 2, r.where);
}

/** Where the kind-specific fields of the record startRecord made go (a module variable: no object per record). */
let fieldsAt = 0;

/** Allocates a record with room for `timesBytes` of kind-specific fields and the payload, writes the common header, sets fieldsAt. */
function startRecord(r: RecordHead & { payload: Uint8Array }, timesBytes: number, alloc: Alloc): Uint8Array {
  const len = recordBytes(r, timesBytes, r.payload.byteLength);
  const buf = alloc(len);
  fieldsAt = writeRecordHeader(r, len, buf, 0);
  return buf;
}

/** A delivery record but its payload, which the hub copies from wherever it holds it (delivery-head.ts). */
export type DeliveryHead = Omit<DeliveryRecord, 'payload'>;

export function deliveryRecordBytes(h: DeliveryHead, payloadBytes: number): number {
  return recordBytes(h, 32, payloadBytes);
}

/** A whole delivery record (the hub writes its own into its slab: delivery-head.ts). */
export function encodeDeliveryRecord(r: DeliveryRecord, alloc: Alloc = defaultAlloc): Uint8Array {
  const len = deliveryRecordBytes(r, r.payload.byteLength);
  const buf = alloc(len);
  const p = writeRecordHeader(r, len, buf, 0);
  writeF64(buf, p, r.seq);
  writeF64(buf, p + 8, r.created);
  writeF64(buf, p + 16, r.sent);
  writeF64(buf, p + 24, r.received);
  buf.set(r.payload, p + 32);
  return buf;
}

export function encodePublishRecord(r: PublishRecord, alloc: Alloc = defaultAlloc): Uint8Array {
  const buf = startRecord(r, 16, alloc);
  const at = fieldsAt;
  writeF64(buf, at, r.created);
  writeF64(buf, at + 8, r.sent);
  buf.set(r.payload, at + 16);
  return buf;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const isAscii = (s: string) => { for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false; return true; };

/** A request (kind 4) or a handle (kind 5) record. The method is at most 255 bytes of UTF-8. */
export function encodeRequestRecord(r: RequestRecord, alloc: Alloc = defaultAlloc): Uint8Array {
  const method = isAscii(r.method) ? null : utf8.encode(r.method);
  const methodLen = method ? method.byteLength : r.method.length;
  if (methodLen > 255) throw new RangeError('method longer than 255 bytes');
  const buf = startRecord(r, 13 + methodLen, alloc);
  const at = fieldsAt;
  writeF64(buf, at, r.id);
  writeU32(buf, at + 8, r.timeoutMs);
  buf[at + 12] = methodLen;
  if (method) buf.set(method, at + 13);
  else writeAscii(buf, at + 13, r.method);
  buf.set(r.payload, at + 13 + methodLen);
  return buf;
}

/** A reply (kind 6) or an error (kind 7) record. */
export function encodeAnswerRecord(r: AnswerRecord, alloc: Alloc = defaultAlloc): Uint8Array {
  const buf = startRecord(r, 8, alloc);
  const at = fieldsAt;
  writeF64(buf, at, r.id);
  buf.set(r.payload, at + 8);
  return buf;
}

/** A frame of records: the magic byte then the records, in one buffer. */
export function frameOf(records: Uint8Array[], alloc: Alloc = defaultAlloc): Uint8Array {
  let n = 1;
  for (const r of records) n += r.byteLength;
  const out = alloc(n);
  out[0] = FRAME_MAGIC;
  let at = 1;
  for (const r of records) { out.set(r, at); at += r.byteLength; }
  return out;
}

// The common header of the record being decoded (no object per record).
let hKind = 0;
let hIsBytes = false;
let hFrom = '';
let hWhere = '';

/** Reads the common header of the record at `at` ending at `end`; returns where its own fields start, or -1. */
function readHeader(frame: Uint8Array, dv: DataView, at: number, end: number): number {
  if (end < at + 7) return -1;
  hKind = frame[at + 4]!;
  hIsBytes = (frame[at + 5]! & FLAG_BYTES) !== 0;
  const fromLen = frame[at + 6]!;
  const p = at + 7 + fromLen;
  if (p + 2 > end) return -1;
  const whereLen = dv.getUint16(p, true);
  if (p + 2 + whereLen > end) return -1;
  hFrom = readAscii(frame, at + 7, p);
  hWhere = readAscii(frame, p + 2, p + 2 + whereLen);
  return p + 2 + whereLen;
}

function readUtf8(frame: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) if (frame[i]! > 0x7f) return utf8Decoder.decode(frame.subarray(start, end));
  return readAscii(frame, start, end);
}

/** The request fields after the header at `p`, or null when they overrun the record. */
function readRequest(frame: Uint8Array, dv: DataView, p: number, end: number): RequestRecord | null {
  if (p + 13 > end) return null;
  const methodLen = frame[p + 12]!;
  if (p + 13 + methodLen > end) return null;
  return {
    kind: hKind, isBytes: hIsBytes, from: hFrom, where: hWhere, id: dv.getFloat64(p, true), timeoutMs: dv.getUint32(p + 8, true),
    method: readUtf8(frame, p + 13, p + 13 + methodLen), payload: frame.subarray(p + 13 + methodLen, end),
  };
}

function readAnswer(frame: Uint8Array, dv: DataView, p: number, end: number): AnswerRecord | null {
  if (p + 8 > end) return null;
  return { kind: hKind, isBytes: hIsBytes, from: hFrom, where: hWhere, id: dv.getFloat64(p, true), payload: frame.subarray(p + 8, end) };
}

/** What a client receives: deliveries (kinds 1-3), handles (5), replies and errors (6, 7). Others are skipped. */
export interface HubRecords {
  delivery?(r: DeliveryRecord): void;
  handle?(r: RequestRecord): void;
  answer?(r: AnswerRecord): void;
}

/**
 * Calls the visitor for every record of a frame from the hub; payloads are views into the frame
 * (a delivery's a plain Uint8Array, also over a Buffer). Throws on a malformed frame.
 */
export function decodeHubFrame(frame: Uint8Array, v: HubRecords): void {
  if (frame[0] !== FRAME_MAGIC) throw new Error('not a bus frame');
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = 1;
  while (at + 4 <= frame.byteLength) {
    const end = at + 4 + dv.getUint32(at, true);
    if (end > frame.byteLength) throw new Error('truncated bus frame');
    const p = readHeader(frame, dv, at, end);
    if (p < 0) throw new Error('truncated bus record');
    if (hKind >= 1 && hKind <= 3) {
      if (p + 32 > end) throw new Error('truncated bus record');
      v.delivery?.({
        kind: hKind, isBytes: hIsBytes, from: hFrom, where: hWhere, seq: dv.getFloat64(p, true), created: dv.getFloat64(p + 8, true),
        sent: dv.getFloat64(p + 16, true), received: dv.getFloat64(p + 24, true), payload: new Uint8Array(frame.buffer, frame.byteOffset + p + 32, end - p - 32),
      });
    } else if (hKind === KIND_HANDLE) {
      const r = readRequest(frame, dv, p, end);
      if (!r) throw new Error('truncated bus record');
      v.handle?.(r);
    } else if (hKind === KIND_REPLY || hKind === KIND_ERROR) {
      const r = readAnswer(frame, dv, p, end);
      if (!r) throw new Error('truncated bus record');
      v.answer?.(r);
    }
    at = end;
  }
}

/** Calls `each` for every delivery record of a frame (other kinds are skipped). */
export function decodeDeliveries(frame: Uint8Array, each: (r: DeliveryRecord) => void): void {
  decodeHubFrame(frame, { delivery: each });
}

/**
 * A publish, broadcast or send record as the hub decodes it. Its payload stays in the frame:
 * bytes [payloadStart, payloadEnd) of `frame`, a DataView over the whole frame; no view is made
 * per record (the hub copies the bytes into its deliveries; publishPayload makes a view).
 */
export interface PublishIn extends Omit<PublishRecord, 'payload'> {
  frame: DataView;
  payloadStart: number;
  payloadEnd: number;
}

/** The payload of a decoded record, as a view into its frame. */
export function publishPayload(r: PublishIn): Uint8Array {
  return new Uint8Array(r.frame.buffer, r.frame.byteOffset + r.payloadStart, r.payloadEnd - r.payloadStart);
}

/** What the hub receives: publish, broadcast, send (and unknown kinds, in their layout, for the caller to refuse); requests; answers. */
export interface ClientRecords {
  publish(r: PublishIn): void;
  request(r: RequestRecord): void;
  answer(r: AnswerRecord): void;
}

/**
 * Calls the visitor for every record of a client frame. Returns an error text for a malformed
 * frame (records before the bad one were handled), or null.
 */
export function decodeClientFrame(frame: Uint8Array, v: ClientRecords): string | null {
  if (frame[0] !== FRAME_MAGIC) return 'binary frames start with 0xB5';
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = 1;
  while (at < frame.byteLength) {
    if (at + 4 > frame.byteLength) return 'truncated record length';
    const end = at + 4 + dv.getUint32(at, true);
    if (end > frame.byteLength || end < at + 7) return 'record length out of range';
    const p = readHeader(frame, dv, at, end);
    if (p < 0) return 'truncated record';
    if (hKind === KIND_REQUEST) {
      const r = readRequest(frame, dv, p, end);
      if (!r) return 'truncated request record';
      v.request(r);
    } else if (hKind === KIND_REPLY || hKind === KIND_ERROR) {
      const r = readAnswer(frame, dv, p, end);
      if (!r) return 'truncated answer record';
      v.answer(r);
    } else {
      if (p + 16 > end) return 'truncated record';
      v.publish({
        kind: hKind, isBytes: hIsBytes, from: hFrom, where: hWhere, created: dv.getFloat64(p, true), sent: dv.getFloat64(p + 8, true),
        frame: dv, payloadStart: p + 16, payloadEnd: end,
      });
    }
    at = end;
  }
  return null;
}
