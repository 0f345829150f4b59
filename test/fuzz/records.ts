/**
 * Bus binary records (src/faces/bus-binary.ts) as fast-check values: a record spec is encoded
 * with the project's own encoders, so an unmutated frame is valid by construction and byte
 * operations then break it in every way the format allows (lengths, kinds, flags, truncation).
 */
import fc from 'fast-check';
import {
  encodeAnswerRecord, encodePublishRecord, encodeRequestRecord, frameOf, KIND_ERROR, KIND_HANDLE, KIND_REPLY, KIND_REQUEST,
} from '../../src/faces/native/bus-binary.js';
import { describeValue, valueSpec, valueText, type ValueSpec } from './values.js';

export type PayloadSpec = { readonly json: ValueSpec } | { readonly raw: Uint8Array };

export interface RecordSpec {
  readonly kind: number;
  readonly isBytes: boolean;
  readonly from: string;
  readonly where: string;
  /** created (publish layout) or id (request, answer). */
  readonly a: number;
  /** sent (publish layout) or timeoutMs (request). */
  readonly b: number;
  readonly method: string;
  readonly payload: PayloadSpec;
}

const ascii = (chars: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength });
const NAME_CHARS = 'abcxyz019._-/ ';
const F64 = fc.oneof(
  fc.constantFrom(0, 1, -1, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, 1e308, 5e-324, 1.5),
  fc.double(),
);
const U32 = fc.oneof(fc.constantFrom(0, 1, 10, 500, 10_000, 300_000, 300_001, 0xffff_ffff), fc.nat());

export interface RecordChoices {
  /** Names the record may come from / go to (the target's fixtures); random ASCII is mixed in. */
  readonly names: readonly string[];
  readonly scopes: readonly string[];
  readonly methods: readonly string[];
  readonly hugeWeight?: number;
}

export function recordSpecArb(c: RecordChoices): fc.Arbitrary<RecordSpec> {
  const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...c.names) }, { weight: 1, arbitrary: ascii(NAME_CHARS, 70) });
  const where = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...c.scopes, ...c.names) },
    { weight: 1, arbitrary: ascii(NAME_CHARS, 300) },
  );
  return fc.record({
    kind: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(1, 2, 3, KIND_REQUEST, KIND_REPLY, KIND_ERROR) }, { weight: 1, arbitrary: fc.constantFrom(0, KIND_HANDLE, 8, 255) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    isBytes: fc.boolean(),
    from: fc.oneof(fc.constant(''), name),
    where,
    a: F64,
    b: U32,
    method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...c.methods) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) }),
    payload: fc.oneof(
      { weight: 3, arbitrary: valueSpec({ hugeWeight: c.hugeWeight ?? 1 }).map((json): PayloadSpec => ({ json })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((raw): PayloadSpec => ({ raw })) },
    ),
  });
}

export const payloadBytes = (p: PayloadSpec): Uint8Array => ('json' in p ? Buffer.from(valueText(p.json)) : p.raw);

/** Encodes one record; kinds 4 and 5 take the request layout, 6 and 7 the answer layout, the rest the publish layout. */
export function encodeRecord(r: RecordSpec): Uint8Array {
  const base = { kind: r.kind, isBytes: r.isBytes, from: r.from.slice(0, 255), where: r.where.slice(0, 65_535), payload: payloadBytes(r.payload) };
  if (r.kind === KIND_REQUEST || r.kind === KIND_HANDLE) {
    const method = Buffer.byteLength(r.method) > 255 ? r.method.slice(0, 60) : r.method;
    return encodeRequestRecord({ ...base, id: r.a, timeoutMs: r.b >>> 0, method });
  }
  if (r.kind === KIND_REPLY || r.kind === KIND_ERROR) return encodeAnswerRecord({ ...base, id: r.a });
  return encodePublishRecord({ ...base, created: r.a, sent: r.b });
}

export const encodeFrame = (records: readonly RecordSpec[]): Buffer => Buffer.from(frameOf(records.map(encodeRecord)));

export function describeRecord(r: RecordSpec): string {
  const payload = 'json' in r.payload ? describeValue(r.payload.json) : `${r.payload.raw.length} raw bytes`;
  return `{kind ${r.kind}${r.isBytes ? ' bytes' : ''}, from ${JSON.stringify(r.from.slice(0, 40))}, where ${JSON.stringify(r.where.slice(0, 40))}, a ${r.a}, b ${r.b}, method ${JSON.stringify(r.method.slice(0, 40))}, payload ${payload}}`;
}
