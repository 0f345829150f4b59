/**
 * Codec target: the plantimager request codec (src/faces/plantimager/codec.ts). decodeRequest
 * takes any frames and must return a typed request or an ERROR reply with a catalogued code
 * (never throw); every reply is {event, payload} JSON; valid seeds decode to what they say.
 */
import fc from 'fast-check';
import { isErrorCode } from '../../../src/errors.js';
import { decodeRequest, MAX_FRAME_BYTES } from '../../../src/faces/plantimager/codec.js';
import { mapIter, materialize, seedCaseArb, showSeedCase, truncations, type SeedCase } from '../cases.js';
import { showBytes } from '../mutate.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';

export const PLANTIMAGER_SEEDS = [
  '{"event": "REGISTER", "payload": {"device_type": "camera", "addr": "tcp://127.0.0.1:5000", "name": "cam", "overwrite": false}}',
  '{"event": "CHECK_ALIVE", "payload": {"uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "alive_timeout": 20}}',
  '{"event": "UNREGISTER", "payload": {"uuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}}',
  '{"event": "LIST_DEVICES", "payload": {}}',
].map((s) => Buffer.from(s));

/** Extra frames after the first, or none at all: the codec takes exactly one. */
type Case = { readonly seeded: SeedCase; readonly frames: 0 | 1 | 2 } | { readonly raw: Uint8Array };

const arbitrary: fc.Arbitrary<Case> = fc.oneof(
  { weight: 9, arbitrary: fc.record({ seeded: seedCaseArb({ hugeWeight: 1 }), frames: fc.constantFrom<0 | 1 | 2>(1, 1, 1, 1, 0, 2) }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((raw): Case => ({ raw })) },
);

function framesOf(c: Case): Uint8Array[] {
  if ('raw' in c) return [c.raw];
  const body = materialize(PLANTIMAGER_SEEDS, c.seeded);
  return c.frames === 0 ? [] : c.frames === 1 ? [body] : [body, Buffer.from('{}')];
}

function run(c: Case): Outcome {
  const frames = framesOf(c);
  const d = decodeRequest(frames);
  if (d.ok) {
    const e = d.request.event;
    if (!['REGISTER', 'UNREGISTER', 'CHECK_ALIVE', 'UNSUPPORTED'].includes(e)) return fault('malformed', `request event ${e}`, '');
    if (d.request.event === 'CHECK_ALIVE' && !(d.request.aliveTimeoutS >= 0 && d.request.aliveTimeoutS <= 31_536_000)) return fault('malformed', 'alive_timeout out of range', String(d.request.aliveTimeoutS));
    return ok(e);
  }
  if (!isErrorCode(d.code)) return fault('uncatalogued', `code ${String(d.code)}`, '');
  let reply: { event?: unknown; payload?: { error?: unknown; message?: unknown } };
  try {
    reply = JSON.parse(d.reply.toString('utf8')) as typeof reply;
  } catch {
    return fault('malformed', 'ERROR reply is not JSON', d.reply.toString('utf8').slice(0, 200));
  }
  if (reply.event !== 'ERROR' || reply.payload?.error !== d.code || typeof reply.payload.message !== 'string') return fault('malformed', 'ERROR reply shape', JSON.stringify(reply).slice(0, 300));
  if ('seeded' in c && c.frames === 1 && c.seeded.json.length === 0 && c.seeded.bytes.length === 0) return fault('malformed', 'a valid seed is refused', d.code);
  if (frames.length === 1 && frames[0].byteLength > MAX_FRAME_BYTES && d.code !== 'PAYLOAD_TOO_LARGE') return fault('malformed', 'oversize frame not PAYLOAD_TOO_LARGE', d.code);
  return ok(d.code);
}

export default defineTarget<Case>({
  name: 'codec-plantimager',
  kind: 'codec',
  weight: 0.5,
  setup: (env) => ({
    arbitrary,
    sweep: () => mapIter(truncations(PLANTIMAGER_SEEDS, env.seed), (seeded): Case => ({ seeded, frames: 1 })),
    run,
    show: (c) => ('raw' in c ? `decodeRequest([${showBytes(c.raw)}])` : `decodeRequest(${c.frames} frame(s): ${showSeedCase(c.seeded, `#${c.seeded.seed % PLANTIMAGER_SEEDS.length}`, materialize(PLANTIMAGER_SEEDS, c.seeded))})`),
  }),
});
