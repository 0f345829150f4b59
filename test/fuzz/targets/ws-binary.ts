/**
 * Socket target: bus binary frames (0xB5 + records) on /v1/ws. Records are built from specs
 * (publish, broadcast, send, request, reply, error, unknown kinds) aimed at this target's own
 * member, then mutated bytewise. Fire-and-forget records may only draw `bus.error` notices;
 * every request record the hub can read is owed a reply or error record with its id.
 */
import fc from 'fast-check';
import { decodeClientFrame } from '../../../src/faces/native/bus-binary.js';
import { applyByteOps, byteOpArb, describeByteOp, safeToSend, showBytes, type ByteOp } from '../mutate.js';
import { describeRecord, encodeFrame, recordSpecArb, type RecordSpec } from '../records.js';
import { defineTarget, ok } from '../types.js';
import { registerOn, transportMayClose, verdict, WsSessions, type Member } from '../ws-session.js';

interface Case { readonly records: readonly RecordSpec[]; readonly bytes: readonly ByteOp[] }

/** The request ids a frame's readable request records are owed answers for (the hub reads records as this decoder does). */
function owedIds(frame: Buffer): number[] {
  const ids: number[] = [];
  decodeClientFrame(frame, { publish: () => {}, request: (r) => ids.push(r.id), answer: () => {} });
  return ids;
}

const SENDER = 'fz-bin';

function seedRecords(): RecordSpec[][] {
  const json = (v: unknown) => ({ json: { k: 'json' as const, v: v as null } });
  return [
    [{ kind: 1, isBytes: false, from: '', where: '/fuzz/a/', a: 0, b: 0, method: '', payload: json({ n: 1 }) }],
    [{ kind: 2, isBytes: true, from: SENDER, where: '', a: 1, b: 2, method: '', payload: { raw: new Uint8Array([1, 2, 3]) } }],
    [{ kind: 3, isBytes: false, from: '', where: SENDER, a: 0, b: 0, method: '', payload: json('hi') }],
    [{ kind: 4, isBytes: false, from: '', where: SENDER, a: 1, b: 1000, method: 'echo', payload: json({ x: 1 }) }],
    [{ kind: 6, isBytes: false, from: '', where: '', a: 99, b: 0, method: '', payload: json(null) },
      { kind: 7, isBytes: false, from: '', where: '', a: 98, b: 0, method: '', payload: json({ code: 1, message: 'm' }) }],
  ];
}

export default defineTarget<Case>({
  name: 'ws-binary',
  kind: 'socket',
  weight: 2,
  async setup(env) {
    const hub = env.hub!;
    let token: string | undefined;
    let gen = 0;
    const sessions = new WsSessions<{ sender: Member }>(hub, async (live, peer, n) => {
      if (live.generation !== gen) { token = undefined; gen = live.generation; }
      const sender = await registerOn(peer, { name: SENDER, type: 'fuzz', liveness: 'session', ...(token ? { token } : {}) });
      token = sender.token;
      await peer.call('bus.subscribe', { scope: '/', echo: true });
      // Every other connection takes its deliveries and handle requests as binary records too.
      if (n % 2 === 0) await peer.call('bus.format', { binary: true });
      return { sender };
    });
    await sessions.get();
    const seeds = seedRecords();
    const seedFrames = seeds.map(encodeFrame);
    const specs = recordSpecArb({
      names: [SENDER, 'nobody', `fuzz-hub/${SENDER}`, 'elsewhere/x', ''], scopes: ['/fuzz/a/', '/', '/tree/a/', 'no-slash', '/a//b/', ''], methods: ['echo', 'bus.handle', ''],
    });
    const arbitrary: fc.Arbitrary<Case> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ records: fc.array(specs, { minLength: 1, maxLength: 3 }), bytes: fc.constant([]) }) },
      { weight: 3, arbitrary: fc.record({ records: fc.constantFrom(...seeds), bytes: fc.array(byteOpArb(), { minLength: 1, maxLength: 4 }) }) },
      { weight: 2, arbitrary: fc.record({ records: fc.array(specs, { minLength: 1, maxLength: 3 }), bytes: fc.array(byteOpArb(), { minLength: 1, maxLength: 3 }) }) },
    );
    const bytesOf = (c: Case) => {
      const b = applyByteOps(encodeFrame(c.records), c.bytes, seedFrames);
      return b.length > 5 * 1024 * 1024 ? b.subarray(0, 5 * 1024 * 1024) : b;
    };
    return {
      arbitrary,
      sweep: function* () {
        for (let i = 0; i < seeds.length; i++) {
          const s = seeds[(env.seed + i) % seeds.length];
          for (let at = 0; at < seedFrames[(env.seed + i) % seeds.length].length; at++) yield { records: s, bytes: [{ op: 'truncate' as const, at }] };
        }
      },
      async run(c) {
        const s = await sessions.get();
        const bytes = bytesOf(c);
        if (!safeToSend(bytes)) return ok('skipped');
        const end = await s.peer.exchange(bytes, true, 5000);
        const open = end === 'answered' && bytes.length <= 1024 * 1024 ? await s.peer.awaitAnswers(owedIds(bytes), 3000) : [];
        return verdict(s.live, s.peer, end, s.peer.take(), 'binary frame', open, transportMayClose(bytes, true));
      },
      show: (c) => `binary frame on /v1/ws: [${c.records.map(describeRecord).join(', ')}]${c.bytes.length ? ` then ${c.bytes.map(describeByteOp).join('; ')}` : ''}\n  bytes: ${showBytes(bytesOf(c))}`,
      close: () => sessions.close(),
    };
  },
});
