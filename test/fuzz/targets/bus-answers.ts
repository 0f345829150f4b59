/**
 * Socket target: what members answer. A requester asks a member (bus.request over JSON-RPC, a
 * binary request record, or HTTP POST /v1/members/NAME/request); the member (a JSON one or a
 * binary one) answers with a hostile answer: a result or error holding deep, huge or odd values,
 * then mutated bytewise. The requester must get a well-formed answer with a catalogued code
 * (the result, MEMBER_ERROR, TIMEOUT, ...), and the hub must live on.
 */
import fc from 'fast-check';
import { encodeAnswerRecord, encodeRequestRecord, frameOf, KIND_ERROR, KIND_REPLY } from '../../../src/faces/native/bus-binary.js';
import { Report, checkHttpAnswer, type HubRequest } from '../check.js';
import type { Live } from '../hub.js';
import { applyByteOps, byteOpArb, describeByteOp, safeToSend, showBytes, type ByteOp } from '../mutate.js';
import { FuzzPeer, nullAnswer } from '../peer.js';
import { payloadBytes, type PayloadSpec } from '../records.js';
import { defineTarget, ok, type Outcome } from '../types.js';
import { describeValue, valueSpec, valueText, type ValueSpec } from '../values.js';
import { crashOutcome, diedWithin, registerOn, verdict, WsSessions, type Member } from '../ws-session.js';

type Via = 'json' | 'binary' | 'http';
type To = 'json' | 'binary';
type Shape = 'result' | 'error-data' | 'error-object';

interface Case {
  readonly via: Via;
  readonly to: To;
  readonly shape: Shape;
  readonly value: ValueSpec;
  /** Binary answers: a reply (6) or an error (7) record, payload flagged bytes or JSON. */
  readonly kind: 6 | 7;
  readonly isBytes: boolean;
  readonly raw: Uint8Array | null;
  readonly bytes: readonly ByteOp[];
}

const ID = '"__ID__"';
/** A mangled answer is never matched: the request then ends in TIMEOUT, so keep it short. */
const ASK_TIMEOUT_MS = 500;

function jsonAnswer(c: Case, id: string): Buffer {
  const v = valueText(c.value);
  const text = c.shape === 'result' ? `{"jsonrpc":"2.0","id":${ID},"result":${v}}`
    : c.shape === 'error-data' ? `{"jsonrpc":"2.0","id":${ID},"error":{"code":-32000,"message":"no","data":${v}}}`
      : `{"jsonrpc":"2.0","id":${ID},"error":${v}}`;
  return applyByteOps(Buffer.from(text.replace(ID, JSON.stringify(id))), c.bytes);
}

function binaryAnswer(c: Case, req: HubRequest): Buffer {
  const payload: PayloadSpec = c.raw ? { raw: c.raw } : { json: c.value };
  const record = encodeAnswerRecord({ kind: c.kind === 7 ? KIND_ERROR : KIND_REPLY, isBytes: c.isBytes, from: '', where: req.where ?? '', id: Number(req.id), payload: payloadBytes(payload) });
  return applyByteOps(frameOf([record]), c.bytes);
}

interface Fixtures { asker: Member; json: FuzzPeer; binary: FuzzPeer; jsonName: string; binaryName: string }

let nextId = 1;

export default defineTarget<Case>({
  name: 'bus-answers',
  kind: 'socket',
  weight: 2,
  async setup(env) {
    const hub = env.hub!;
    let current: Case | null = null;
    let answered = false;
    let responders: FuzzPeer[] = [];
    const sessions = new WsSessions<Fixtures>(hub, async (live, asker) => {
      for (const p of responders) p.terminate();
      const json = await FuzzPeer.open(live.wsUrl, live.died);
      const binary = await FuzzPeer.open(live.wsUrl, live.died);
      const jsonMember = await registerOn(json, { name: 'fz-resp', type: 'fuzz', liveness: 'session' });
      const binaryMember = await registerOn(binary, { name: 'fz-bresp', type: 'fuzz', liveness: 'session' });
      responders = [json, binary];
      await binary.call('bus.format', { binary: true });
      // Each responder answers the case's first request with the hostile answer, any other with null.
      json.answerer = (req) => {
        if (!current || answered || req.binary || req.method !== 'bus.handle') return nullAnswer(req);
        answered = true;
        return { data: jsonAnswer(current, String(req.id)), binary: false };
      };
      binary.answerer = (req) => {
        if (!current || answered || !req.binary) return nullAnswer(req);
        answered = true;
        return { data: binaryAnswer(current, req), binary: true };
      };
      const me = await registerOn(asker, { name: 'fz-asker', type: 'fuzz', liveness: 'session' });
      return { asker: me, json, binary, jsonName: jsonMember.name, binaryName: binaryMember.name };
    });
    await sessions.get();
    const arbitrary: fc.Arbitrary<Case> = fc.record({
      via: fc.constantFrom<Via>('json', 'binary', 'http'),
      to: fc.constantFrom<To>('json', 'binary'),
      shape: fc.constantFrom<Shape>('result', 'error-data', 'error-object'),
      value: valueSpec(),
      kind: fc.constantFrom<6 | 7>(6, 7),
      isBytes: fc.boolean(),
      raw: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 32 }) }),
      bytes: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteOpArb(), { minLength: 1, maxLength: 3 }) }),
    });

    async function ask(c: Case, live: Live, f: Fixtures, asker: FuzzPeer): Promise<Outcome> {
      const to = c.to === 'json' ? f.jsonName : f.binaryName;
      const label = `${c.via} request to a ${c.to} member`;
      if (c.via === 'http') {
        try {
          const res = await fetch(`${live.url}/v1/members/${to}/request`, {
            method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${f.asker.token}` },
            body: JSON.stringify({ method: 'echo', params: {}, timeoutMs: ASK_TIMEOUT_MS, from: f.asker.name }), signal: AbortSignal.timeout(5000),
          });
          const r = new Report();
          checkHttpAnswer(res.status, res.headers.get('content-type') ?? '', await res.text(), r);
          return verdict(live, asker, 'answered', merge(r, f), label, []);
        } catch (err) {
          if (await diedWithin(live, 300)) return crashOutcome(live);
          return verdict(live, asker, 'timeout', merge(new Report(), f), `${label} (${(err as Error).name})`, []);
        }
      }
      const id = nextId++;
      const frame = c.via === 'json'
        ? `{"jsonrpc":"2.0","id":"q${id}","method":"bus.request","params":{"to":"${to}","method":"echo","params":{},"timeoutMs":${ASK_TIMEOUT_MS}}}`
        : Buffer.from(frameOf([encodeRequestRecord({ kind: 4, isBytes: false, from: '', where: to, id, timeoutMs: ASK_TIMEOUT_MS, method: 'echo', payload: Buffer.from('{}') })]));
      asker.send(frame, c.via === 'binary');
      const open = await asker.awaitAnswers([c.via === 'json' ? `q${id}` : id], 4000);
      const end = await asker.exchange(null, false, 5000);
      return verdict(live, asker, end, merge(asker.take(), f), label, open);
    }

    return {
      arbitrary,
      async run(c) {
        const s = await sessions.get();
        const sample = c.to === 'json' ? jsonAnswer(c, 'h1') : binaryAnswer(c, { binary: true, id: 1, method: 'echo', where: 'x' });
        if (!safeToSend(sample)) return ok('skipped');
        current = c;
        answered = false;
        try {
          return await ask(c, s.live, s.fixtures, s.peer);
        } finally {
          current = null;
          // A responder closed by the hub (an answer over the size limits) makes the next case start afresh.
          if (!s.fixtures.json.open || !s.fixtures.binary.open) sessions.drop();
        }
      },
      show(c) {
        const answer = c.to === 'json' ? jsonAnswer(c, 'h1') : binaryAnswer(c, { binary: true, id: 1, method: 'echo', where: 'fz-bresp' });
        const what = c.to === 'json' ? `${c.shape} ${describeValue(c.value)}` : `${c.kind === 7 ? 'error' : 'reply'} record${c.isBytes ? ' (bytes)' : ''} with ${c.raw ? `${c.raw.length} raw bytes` : describeValue(c.value)}`;
        return `${c.via} request to a ${c.to} member, which answers ${what}${c.bytes.length ? `, then ${c.bytes.map(describeByteOp).join('; ')}` : ''}\n  answer (for hub request id h1 / 1): ${showBytes(answer)}`;
      },
      async close() {
        for (const p of responders) p.terminate();
        await sessions.close();
      },
    };
  },
});

/** The responders' reports join the requester's: a bus.error the hub sent them must be well-formed too. */
function merge(r: Report, f: Fixtures): Report {
  for (const other of [f.json.take(), f.binary.take()]) {
    r.codes.push(...other.codes.filter((c) => c !== 'ok'));
    r.problems.push(...other.problems);
    r.uncatalogued.push(...other.uncatalogued);
  }
  return r;
}
