/**
 * The bus binary frame format (WebSocket binary frames), for payload-heavy traffic: no JSON, no
 * base64. Pure codec over Uint8Array/DataView, shared by the hub, the SDK and the bench.
 *
 * A frame is the byte 0xB5 (format version 1) followed by records. All integers little-endian.
 *
 *   hub → client (delivery)            client → hub (publish, broadcast, send)
 *   u32 length of the rest             u32 length of the rest
 *   u8  kind 1 publish 2 broadcast     u8  kind
 *       3 send                         u8  flags (bit 0: payload is bytes, else UTF-8 JSON)
 *   u8  flags                          u8  from length (0: the connection's only member), from
 *   u8  from length, from (ASCII)      u16 where length, where (scope, or the target's name)
 *   u16 where length, where            f64 created µs (0: now)
 *   f64 seq                            f64 sent µs (0: now)
 *   f64 created, sent, received µs     payload (the rest)
 *   payload (the rest)
 */
export const FRAME_MAGIC = 0xb5;

export type MessageKind = 'publish' | 'broadcast' | 'send';
export const KIND_CODE = { publish: 1, broadcast: 2, send: 3 } as const;
export const KIND_NAME: Record<number, MessageKind | undefined> = { 1: 'publish', 2: 'broadcast', 3: 'send' };
export const FLAG_BYTES = 1;

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

/** Allocates a record with room for `timesBytes` of times and the payload, writes the common header, returns where the times go. */
function startRecord(r: PublishRecord | DeliveryRecord, timesBytes: number, alloc: Alloc): { buf: Uint8Array; at: number } {
  const len = 4 + 1 + 1 + 1 + r.from.length + 2 + r.where.length + timesBytes + r.payload.byteLength;
  const buf = alloc(len);
  writeU32(buf, 0, len - 4);
  buf[4] = r.kind;
  buf[5] = r.isBytes ? FLAG_BYTES : 0;
  buf[6] = r.from.length;
  let at = writeAscii(buf, 7, r.from);
  buf[at] = r.where.length & 0xff;
  buf[at + 1] = r.where.length >>> 8;
  at = writeAscii(buf, at + 2, r.where);
  return { buf, at };
}

export function encodeDeliveryRecord(r: DeliveryRecord, alloc: Alloc = defaultAlloc): Uint8Array {
  const { buf, at } = startRecord(r, 32, alloc);
  writeF64(buf, at, r.seq);
  writeF64(buf, at + 8, r.created);
  writeF64(buf, at + 16, r.sent);
  writeF64(buf, at + 24, r.received);
  buf.set(r.payload, at + 32);
  return buf;
}

/** Calls `each` for every record of a delivery frame; payloads are views into the frame. */
export function decodeDeliveries(frame: Uint8Array, each: (r: DeliveryRecord) => void): void {
  if (frame[0] !== FRAME_MAGIC) throw new Error('not a bus frame');
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = 1;
  while (at + 4 <= frame.byteLength) {
    const end = at + 4 + dv.getUint32(at, true);
    if (end > frame.byteLength) throw new Error('truncated bus frame');
    const kind = frame[at + 4]!;
    const isBytes = (frame[at + 5]! & FLAG_BYTES) !== 0;
    const fromLen = frame[at + 6]!;
    const from = readAscii(frame, at + 7, at + 7 + fromLen);
    let p = at + 7 + fromLen;
    const whereLen = dv.getUint16(p, true);
    const where = readAscii(frame, p + 2, p + 2 + whereLen);
    p += 2 + whereLen;
    each({
      kind, isBytes, from, where, seq: dv.getFloat64(p, true), created: dv.getFloat64(p + 8, true),
      sent: dv.getFloat64(p + 16, true), received: dv.getFloat64(p + 24, true), payload: frame.subarray(p + 32, end),
    });
    at = end;
  }
}

export function encodePublishRecord(r: PublishRecord, alloc: Alloc = defaultAlloc): Uint8Array {
  const { buf, at } = startRecord(r, 16, alloc);
  writeF64(buf, at, r.created);
  writeF64(buf, at + 8, r.sent);
  buf.set(r.payload, at + 16);
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

/**
 * Calls `each` for every record of a publish frame. Returns an error text for a malformed
 * frame (records before the bad one were delivered), or null.
 */
export function decodePublishes(frame: Uint8Array, each: (r: PublishRecord) => void): string | null {
  if (frame[0] !== FRAME_MAGIC) return 'binary frames start with 0xB5';
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = 1;
  while (at < frame.byteLength) {
    if (at + 4 > frame.byteLength) return 'truncated record length';
    const end = at + 4 + dv.getUint32(at, true);
    if (end > frame.byteLength || end < at + 7) return 'record length out of range';
    const kind = frame[at + 4]!;
    const isBytes = (frame[at + 5]! & FLAG_BYTES) !== 0;
    const fromLen = frame[at + 6]!;
    let p = at + 7 + fromLen;
    if (p + 2 > end) return 'truncated record';
    const whereLen = dv.getUint16(p, true);
    if (p + 2 + whereLen + 16 > end) return 'truncated record';
    const from = readAscii(frame, at + 7, at + 7 + fromLen);
    const where = readAscii(frame, p + 2, p + 2 + whereLen);
    p += 2 + whereLen;
    each({ kind, isBytes, from, where, created: dv.getFloat64(p, true), sent: dv.getFloat64(p + 8, true), payload: frame.subarray(p + 16, end) });
    at = end;
  }
  return null;
}
