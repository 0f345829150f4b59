/**
 * Codec target: the ICCP codec (src/faces/iccp/codec.ts). decode takes any frames and returns a
 * typed message or a reason (never throws); what it accepts stays within the documented limits;
 * valid seeds decode; a REQUEST's config maps to JSON and back to the same kinds.
 */
import fc from 'fast-check';
import { toBinary } from '@bufbuild/protobuf';
import { decode, MAX_ADDRESSES, MAX_CHANNELS, MAX_DETAILS, MAX_TEXT } from '../../../src/faces/iccp/codec.js';
import { fromConfigProto, toConfigProto } from '../../../src/faces/iccp/config-map.js';
import { ConfigProtoSchema } from '../../../src/faces/iccp/gen/config_pb.js';
import { applyByteOps, byteOpArb, describeByteOp, showBytes, type ByteOp } from '../mutate.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';
import { ICCP_SEEDS } from './iccp-seeds.js';

/** A seed message, one of its frames mutated, and maybe a frame dropped, duplicated or added. */
export interface IccpCase {
  readonly seed: number;
  readonly frame: number;
  readonly bytes: readonly ByteOp[];
  readonly shape: 'as-is' | 'drop' | 'duplicate' | 'extra';
}

export const iccpCaseArb: fc.Arbitrary<IccpCase> = fc.record({
  seed: fc.nat({ max: 10_000 }),
  frame: fc.nat({ max: 10 }),
  bytes: fc.array(byteOpArb([1, 2, 4]), { minLength: 0, maxLength: 4 }),
  shape: fc.oneof({ weight: 8, arbitrary: fc.constant('as-is' as const) }, { weight: 1, arbitrary: fc.constantFrom('drop' as const, 'duplicate' as const, 'extra' as const) }),
});

export function iccpFrames(c: IccpCase): Buffer[] {
  const seed = ICCP_SEEDS[c.seed % ICCP_SEEDS.length]!;
  const i = c.frame % seed.length;
  const frames = seed.map((f, j) => (j === i ? applyByteOps(f, c.bytes, seed) : Buffer.from(f)));
  switch (c.shape) {
    case 'as-is': return frames;
    case 'drop': return frames.filter((_, j) => j !== i);
    case 'duplicate': return [...frames.slice(0, i + 1), frames[i]!, ...frames.slice(i + 1)];
    case 'extra': return [...frames, Buffer.from('extra')];
  }
}

export function showIccpCase(c: IccpCase): string {
  const frames = iccpFrames(c);
  const ops = c.bytes.map(describeByteOp).join(', ') || 'none';
  return `seed #${c.seed % ICCP_SEEDS.length}, frame ${c.frame}: ${ops}; ${c.shape} -> [${frames.map((f) => showBytes(f, 200)).join(' | ')}]`;
}

function run(c: IccpCase): Outcome {
  const d = decode(iccpFrames(c));
  if (!d.ok) {
    if (typeof d.reason !== 'string' || d.reason.length === 0 || d.reason.length > 400) return fault('malformed', 'a reason that is not a short text', String(d.reason).slice(0, 500));
    if (c.bytes.length === 0 && c.shape === 'as-is') return fault('malformed', 'a valid seed is refused', d.reason);
    return ok('refused');
  }
  const m = d.message;
  switch (m.type) {
    case 'READY':
      if (Object.keys(m.endpoints).length > MAX_CHANNELS || Object.values(m.endpoints).some((a) => a.length > MAX_ADDRESSES)) return fault('malformed', 'READY past the endpoint limits', JSON.stringify(m.endpoints).slice(0, 300));
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(m.peer.uid)) return fault('malformed', 'READY uid', m.peer.uid);
      break;
    case 'ERROR':
      if (m.text.length > MAX_TEXT) return fault('malformed', 'ERROR text past the limit', String(m.text.length));
      break;
    case 'FINISHED':
      if (m.details.length > MAX_DETAILS || m.details.some((t) => t.length > MAX_TEXT)) return fault('malformed', 'FINISHED details past the limits', String(m.details.length));
      break;
    case 'REQUEST': {
      // Whatever config decodes maps to JSON and back to the same bytes (the hub never re-encodes one it got, but the mapping must hold).
      let json: Record<string, unknown>;
      try {
        json = fromConfigProto(m.config);
      } catch (err) {
        return fault('throw', 'fromConfigProto threw', (err as Error).message);
      }
      try {
        const again = toBinary(ConfigProtoSchema, toConfigProto(json));
        const once = toBinary(ConfigProtoSchema, toConfigProto(fromConfigProto(toConfigProto(json))));
        if (!Buffer.from(again).equals(Buffer.from(once))) return fault('malformed', 'ConfigProto -> JSON -> ConfigProto is not stable', JSON.stringify(json).slice(0, 300));
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'INVALID_PARAMS') return fault('throw', 'toConfigProto threw outside the catalogue', (err as Error).message);
        return ok('REQUEST', 'INVALID_PARAMS');
      }
      break;
    }
    default:
  }
  return ok(m.type);
}

export default defineTarget<IccpCase>({
  name: 'codec-iccp',
  kind: 'codec',
  weight: 0.5,
  setup: () => ({
    arbitrary: iccpCaseArb,
    sweep: function* () {
      for (let s = 0; s < ICCP_SEEDS.length; s++) {
        const seed = ICCP_SEEDS[s]!;
        for (let f = 0; f < seed.length; f++) {
          for (let cut = 0; cut < seed[f]!.length; cut++) yield { seed: s, frame: f, bytes: [{ op: 'truncate', at: cut } as ByteOp], shape: 'as-is' as const };
        }
      }
    },
    run,
    show: (c) => `decode(${showIccpCase(c)})`,
  }),
});
