/**
 * Payloads across the bridge: an RSB event's wire schema and data become a bus payload (JSON
 * where RSB's standard converters define a value, bytes otherwise), and a bus payload becomes a
 * wire schema and data for RSB listeners. The mapping is documented in docs/protocol.md (RSB).
 */
import { BusPayload, type PayloadMeta } from '../../core/bus/message.js';

export const FACE = 'rsb';

/** RSB's standard wire schemas (rsb-python's converters; C++, Java and Lisp agree). */
export const SCHEMA = {
  void: 'void', bool: 'bool', int32: 'int32', int64: 'int64', uint32: 'uint32', uint64: 'uint64',
  float: 'float', double: 'double', bytes: 'bytes', utf8: 'utf-8-string', ascii: 'ascii-string', scope: 'scope',
} as const;

/** Fixed-width numbers: byte size and reader (little-endian, as struct.pack('<q') etc. writes them). */
const NUMBERS: Record<string, { size: number; read(b: Buffer): number | bigint }> = {
  [SCHEMA.int32]: { size: 4, read: (b) => b.readInt32LE(0) },
  [SCHEMA.uint32]: { size: 4, read: (b) => b.readUInt32LE(0) },
  [SCHEMA.int64]: { size: 8, read: (b) => b.readBigInt64LE(0) },
  [SCHEMA.uint64]: { size: 8, read: (b) => b.readBigUInt64LE(0) },
  [SCHEMA.float]: { size: 4, read: (b) => b.readFloatLE(0) },
  [SCHEMA.double]: { size: 8, read: (b) => b.readDoubleLE(0) },
};

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * The bus payload of an RSB event. JSON: void → null, bool → true/false, the numbers → a JSON
 * number (64-bit integers written exactly, as JSON text allows), utf-8-string, ascii-string and
 * scope → a JSON string. Everything else (bytes, `.pkg.Message` protobuf schemas, schemas the hub
 * does not know, and standard schemas whose data does not fit them) → bytes. The wire schema is
 * kept in the payload's meta either way (the bridge's meta also keeps the frame).
 */
export function payloadFromRsb(wireSchema: string, data: Uint8Array, meta: PayloadMeta = { face: FACE, schema: wireSchema }): BusPayload {
  const json = jsonOf(wireSchema, asBuffer(data));
  return json === null ? BusPayload.raw(data, true, meta) : BusPayload.json(json, meta);
}

function jsonOf(schema: string, data: Buffer): string | null {
  // The common cases first: raw bytes and protobuf payloads stay bytes.
  if (schema === SCHEMA.bytes || schema.charCodeAt(0) === 0x2e) return null;
  switch (schema) {
    case SCHEMA.void: return 'null';
    case SCHEMA.bool: return data.length === 1 ? (data[0] ? 'true' : 'false') : null;
    case SCHEMA.utf8: case SCHEMA.ascii: case SCHEMA.scope: {
      const text = data.toString('utf8');
      // Invalid UTF-8 would be replaced on decode: keep such data as bytes instead.
      return Buffer.byteLength(text) === data.length && !text.includes('\ufffd') ? JSON.stringify(text) : null;
    }
  }
  const n = NUMBERS[schema];
  if (!n || data.length !== n.size) return null;
  const v = n.read(data);
  if (typeof v === 'bigint') return v.toString();
  return Number.isFinite(v) ? String(v) : null;
}

/**
 * An RSB wire schema and data for a bus payload. Bytes keep the schema they carry (from RSB or
 * another face), else `bytes`; JSON null → `void`,
 * booleans → `bool`, integers within ±2^53 → `int64`, other numbers → `double`, strings →
 * `utf-8-string` of the string; arrays and objects → `utf-8-string` of their JSON text (RSB has
 * no JSON schema; every RSB language reads utf-8-string).
 */
export function rsbFromPayload(p: BusPayload): { wireSchema: string; data: Uint8Array } {
  if (p.isBytes) return { wireSchema: p.meta?.schema ?? SCHEMA.bytes, data: p.raw };
  const text = p.jsonText.trim();
  if (text === '' || text === 'null') return { wireSchema: SCHEMA.void, data: new Uint8Array(0) };
  if (text === 'true' || text === 'false') return { wireSchema: SCHEMA.bool, data: Uint8Array.of(text === 'true' ? 1 : 0) };
  const first = text[0]!;
  if (first === '"') return { wireSchema: SCHEMA.utf8, data: Buffer.from(JSON.parse(text) as string) };
  if (first === '-' || (first >= '0' && first <= '9')) {
    const v = Number(text);
    const out = Buffer.allocUnsafe(8);
    if (Number.isSafeInteger(v)) {
      out.writeBigInt64LE(BigInt(v));
      return { wireSchema: SCHEMA.int64, data: out };
    }
    out.writeDoubleLE(v);
    return { wireSchema: SCHEMA.double, data: out };
  }
  return { wireSchema: SCHEMA.utf8, data: Buffer.from(text) };
}
