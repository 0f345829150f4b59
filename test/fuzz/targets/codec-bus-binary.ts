/**
 * Codec target: the bus binary frame format (src/faces/bus-binary.ts). decodeClientFrame takes
 * any bytes and must return null or an error text, never throw, and hand its visitor only
 * records that lie inside the frame; an unmutated frame decodes to exactly the records encoded.
 * decodeHubFrame (the client side) may throw, but only its own "not a bus frame" / "truncated"
 * errors, never a RangeError out of a DataView.
 */
import fc from 'fast-check';
import {
  decodeClientFrame, decodeHubFrame, KIND_HANDLE, KIND_REQUEST, publishPayload, type AnswerRecord, type PublishRecord, type RequestRecord,
} from '../../../src/faces/native/bus-binary.js';
import { byteOpArb, applyByteOps, describeByteOp, showBytes, type ByteOp } from '../mutate.js';
import { describeRecord, encodeFrame, encodeRecord, payloadBytes, recordSpecArb, type RecordSpec } from '../records.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';

interface Case { readonly records: readonly RecordSpec[]; readonly bytes: readonly ByteOp[] }

const specs = recordSpecArb({ names: ['cam-1', 'hub/cam-2'], scopes: ['/a/b/', '/', '/tree/x/'], methods: ['snap', 'é'], hugeWeight: 1 });
const arbitrary: fc.Arbitrary<Case> = fc.record({
  records: fc.array(specs, { minLength: 0, maxLength: 4 }),
  bytes: fc.oneof(fc.constant([]), fc.array(byteOpArb([1, 2, 4, 8]), { minLength: 1, maxLength: 4 })),
});

const SEEDS: RecordSpec[][] = [
  [{ kind: 1, isBytes: false, from: '', where: '/a/b/', a: 0, b: 0, method: '', payload: { json: { k: 'json', v: { t: 1 } } } }],
  [{ kind: 3, isBytes: true, from: 'cam-1', where: 'cam-2', a: 1.7e15, b: 1.7e15, method: '', payload: { raw: new Uint8Array([0, 1, 2, 255]) } }],
  [{ kind: KIND_REQUEST, isBytes: false, from: '', where: 'cam-1', a: 42, b: 500, method: 'snap', payload: { json: { k: 'json', v: { w: 640 } } } },
    { kind: 6, isBytes: false, from: '', where: '', a: 7, b: 0, method: '', payload: { json: { k: 'json', v: 'done' } } }],
];
const SEED_FRAMES = SEEDS.map(encodeFrame);

const HUB_ERRORS = new Set(['not a bus frame', 'truncated bus frame', 'truncated bus record']);

function run(c: Case): Outcome {
  const frame = applyByteOps(encodeFrame(c.records), c.bytes, SEED_FRAMES);
  const seen: { kind: 'publish' | 'request' | 'answer'; r: PublishRecord | RequestRecord | AnswerRecord }[] = [];
  const inFrame = (p: Uint8Array) => p.buffer === frame.buffer && p.byteOffset >= frame.byteOffset && p.byteOffset + p.byteLength <= frame.byteOffset + frame.byteLength;
  const err = decodeClientFrame(frame, {
    // The hub's publish records leave their payload in the frame; the view is what it would copy.
    publish: (r) => seen.push({ kind: 'publish', r: { ...r, payload: publishPayload(r) } }),
    request: (r) => seen.push({ kind: 'request', r }),
    answer: (r) => seen.push({ kind: 'answer', r }),
  });
  if (err !== null && typeof err !== 'string') return fault('malformed', 'decodeClientFrame result', String(err));
  for (const s of seen) {
    if (!inFrame(s.r.payload)) return fault('malformed', `${s.kind} payload outside the frame`, '');
    if (typeof s.r.from !== 'string' || typeof s.r.where !== 'string') return fault('malformed', `${s.kind} names`, '');
  }
  if (c.bytes.length === 0) {
    const problem = roundTrip(c.records, seen);
    if (problem) return fault('malformed', 'round trip', problem);
  }
  try {
    decodeHubFrame(frame, {});
  } catch (e) {
    if (!(e instanceof Error) || e.constructor !== Error || !HUB_ERRORS.has(e.message)) return fault('throw', `decodeHubFrame: ${(e as Error).name}: ${(e as Error).message}`, String((e as Error).stack));
  }
  return ok(err === null ? 'decoded' : `malformed:${err}`);
}

/** An unmutated frame decodes to the records encoded (handles, kind 5, are read in the publish layout by the hub: skipped). */
function roundTrip(records: readonly RecordSpec[], seen: { kind: string; r: PublishRecord | RequestRecord | AnswerRecord }[]): string | null {
  if (records.some((r) => r.kind === KIND_HANDLE)) return null;
  if (seen.length !== records.length) return `${records.length} records encoded, ${seen.length} decoded`;
  for (let i = 0; i < records.length; i++) {
    const want = records[i];
    const got = seen[i].r;
    const enc = encodeRecord(want);
    if (got.kind !== want.kind || got.isBytes !== want.isBytes || got.from !== want.from.slice(0, 255) || got.where !== want.where.slice(0, 65_535)) return `record ${i} header differs`;
    if (!Buffer.from(got.payload).equals(Buffer.from(payloadBytes(want.payload))) && enc.byteLength > 0) return `record ${i} payload differs`;
    if ('created' in got && !(Object.is(got.created, want.a) && Object.is(got.sent, want.b))) return `record ${i} times differ`;
    if ('timeoutMs' in got && !(Object.is(got.id, want.a) && got.timeoutMs === want.b >>> 0)) return `record ${i} id/timeout differ`;
  }
  return null;
}

export default defineTarget<Case>({
  name: 'codec-bus-binary',
  kind: 'codec',
  weight: 0.5,
  setup: (env) => ({
    arbitrary,
    sweep: function* () {
      for (let i = 0; i < SEEDS.length; i++) {
        const s = SEEDS[(env.seed + i) % SEEDS.length];
        const len = encodeFrame(s).length;
        for (let at = 0; at < len; at++) yield { records: s, bytes: [{ op: 'truncate', at }] };
      }
    },
    run,
    show: (c) => `decodeClientFrame(frameOf([${c.records.map(describeRecord).join(', ')}])${c.bytes.length ? ` then ${c.bytes.map(describeByteOp).join('; ')}` : ''})\n  bytes: ${showBytes(applyByteOps(encodeFrame(c.records), c.bytes, SEED_FRAMES))}`,
  }),
});
