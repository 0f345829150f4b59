/**
 * Codec target: the RSB face's framing and Notification reader (src/faces/rsb/framing.ts,
 * notification.ts). Any byte stream, split anywhere, gives frames, an end, or a too-large
 * refusal; any frame gives a Notification or a refusal with a reason (never a throw); valid
 * seeds read back what they say; a frame the hub builds from what it read reads the same.
 */
import fc from 'fast-check';
import { FrameReader } from '../../../src/faces/rsb/framing.js';
import { decodeNotification, encodeFrame, isRefusal } from '../../../src/faces/rsb/notification.js';
import { materialize, mapIter, seedCaseArb, showSeedCase, truncations, type SeedCase } from '../cases.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';

const id = (n: number) => ({ senderId: Buffer.alloc(16, n), sequenceNumber: n });
export const RSB_SEEDS: Buffer[] = [
  encodeFrame({ eventId: id(1), scope: '/fuzz/a/', wireSchema: 'utf-8-string', data: Buffer.from('hello'), metaData: { createTime: 1, sendTime: 2 } }),
  encodeFrame({ eventId: id(2), scope: '/fuzz/svc/m/', method: 'REQUEST', wireSchema: '.rst.Pose', data: Buffer.alloc(40, 3), metaData: { createTime: 5, sendTime: 6, userInfos: [['k', 'v']], userTimes: [['t', 9]] } }),
  encodeFrame({ eventId: id(3), scope: '/fuzz/svc/m/', method: 'REPLY', wireSchema: 'int64', data: Buffer.alloc(8), causes: [id(2), id(4)], metaData: { createTime: 7, sendTime: 8, userInfos: [['rsb:error?', '1']] } }),
];
const MAX_BODY = 64 * 1024;

interface Case { readonly seeded: SeedCase; readonly split: number }

function run(c: Case): Outcome {
  const stream = materialize(RSB_SEEDS, c.seeded);
  const reader = new FrameReader(MAX_BODY);
  const codes: string[] = [];
  const at = stream.length ? c.split % (stream.length + 1) : 0;
  let problem: string | null = null;
  const sink = {
    frame(frame: Buffer) {
      const d = decodeNotification(frame, 4);
      if (isRefusal(d)) { codes.push(d.kind); return; }
      codes.push('notification');
      // What the hub builds from what it read must read back the same.
      const again = decodeNotification(encodeFrame({ ...d, metaData: d.metaData ?? { createTime: 0, sendTime: 0 } }), 4);
      if (isRefusal(again) || again.scope !== d.scope || again.wireSchema !== d.wireSchema || Buffer.compare(again.data, d.data) !== 0) problem = 'a re-encoded notification reads differently';
    },
    end() { codes.push('end'); },
    tooLarge(n: number) { codes.push('too-large'); if (n <= MAX_BODY) problem = `too-large for ${n} bytes`; },
  };
  try {
    reader.push(stream.subarray(0, at), sink);
    reader.push(stream.subarray(at), sink);
  } catch (err) {
    return fault('throw', `rsb codec threw ${(err as Error).name}`, (err as Error).stack ?? String(err));
  }
  if (problem) return fault('malformed', problem, '');
  if (c.seeded.json.length === 0 && c.seeded.bytes.length === 0 && codes.join() !== 'notification') return fault('malformed', 'a valid seed is refused', codes.join());
  return ok(...new Set(codes));
}

export default defineTarget<Case>({
  name: 'codec-rsb',
  kind: 'codec',
  weight: 0.5,
  setup: (env) => ({
    arbitrary: fc.record({ seeded: seedCaseArb({ hugeWeight: 1, intWidths: [1, 4] }), split: fc.nat() }),
    sweep: () => mapIter(truncations(RSB_SEEDS, env.seed), (seeded): Case => ({ seeded, split: 0 })),
    run,
    show: (c) => `FrameReader.push (split at ${c.split}): ${showSeedCase(c.seeded, `#${c.seeded.seed % RSB_SEEDS.length}`, materialize(RSB_SEEDS, c.seeded))}`,
  }),
});
