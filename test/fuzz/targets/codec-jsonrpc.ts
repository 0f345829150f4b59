/**
 * Codec target: the JSON-RPC 2.0 codec (src/faces/jsonrpc.ts). decode() takes any text and must
 * return typed messages, never throw; an invalid message carries a catalogued MusterError whose
 * encoded reply is well-formed JSON-RPC; a valid request decodes to its method and params.
 */
import fc from 'fast-check';
import { ERRORS, isErrorCode, MusterError } from '../../../src/errors.js';
import { decode, encodeError, encodeResult } from '../../../src/faces/native/jsonrpc.js';
import { mapIter, materialize, seedCaseArb, showSeedCase, truncations, type SeedCase } from '../cases.js';
import { showBytes } from '../mutate.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';

const SEEDS = [
  '{"jsonrpc":"2.0","id":1,"method":"register","params":{"type":"camera","name":"cam-1","meta":{"room":"a"},"liveness":{"kind":"ttl","ttlMs":20000}}}',
  '{"jsonrpc":"2.0","id":"x-2","method":"bus.publish","params":{"scope":"/a/b/","data":{"t":21.5,"tags":["x","y"]}}}',
  '{"jsonrpc":"2.0","method":"bus.publish","params":{"scope":"/a/","bytes":"AAEC"}}',
  '{"jsonrpc":"2.0","id":3,"method":"system.methodHelp","params":["get"]}',
  '{"jsonrpc":"2.0","id":"h7","result":{"ok":true}}',
  '{"jsonrpc":"2.0","id":"h8","error":{"code":-32000,"message":"no","data":{"code":"X"}}}',
  '[{"jsonrpc":"2.0","id":1,"method":"info"},{"jsonrpc":"2.0","method":"heartbeat","params":{"id":"a"}},{"jsonrpc":"2.0","id":null,"method":"get","params":{"name":"a"}}]',
  '{"jsonrpc":"2.0","id":4,"method":"bus.request","params":{"to":"cam-1","method":"snap","params":{"w":640},"timeoutMs":500}}',
].map((s) => Buffer.from(s));

type Case = { seeded: SeedCase } | { text: string };

const arbitrary: fc.Arbitrary<Case> = fc.oneof(
  { weight: 8, arbitrary: seedCaseArb().map((seeded): Case => ({ seeded })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text): Case => ({ text })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v): Case => ({ text: JSON.stringify(v) })) },
);

const textOf = (c: Case): string => ('text' in c ? c.text : materialize(SEEDS, c.seeded).toString('utf8'));

function run(c: Case): Outcome {
  const text = textOf(c);
  const { batch, messages } = decode(text);
  if (!Array.isArray(messages) || messages.length === 0) return fault('malformed', 'decode returned no messages', `decode gave ${JSON.stringify({ batch, messages })}`);
  const codes: string[] = [];
  for (const m of messages) {
    switch (m.kind) {
      case 'invalid': {
        if (!(m.error instanceof MusterError) || !isErrorCode(m.error.code)) return fault('uncatalogued', `invalid message with code ${String((m.error as { code?: unknown }).code)}`, 'not a catalogued MusterError');
        codes.push(m.error.code);
        const reply = JSON.parse(encodeError(m.id, m.error)) as { error: { code: number; data: { code: string } } };
        if (reply.error.code !== ERRORS[m.error.code].rpc || reply.error.data.code !== m.error.code) return fault('malformed', 'encodeError', `encodeError gave ${JSON.stringify(reply)}`);
        break;
      }
      case 'request':
      case 'notification': {
        if (typeof m.method !== 'string' || m.method.length === 0 || m.method.length > 128) return fault('malformed', `${m.kind} with a bad method`, JSON.stringify(m.method));
        if (typeof m.params !== 'object' || m.params === null) return fault('malformed', `${m.kind} with params ${typeof m.params}`, '');
        if (m.kind === 'request') {
          // JSON-RPC allows (and discourages) a null id on a request; it is answered with id null.
          const id: unknown = m.id;
          if (id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) return fault('malformed', 'request id', JSON.stringify(id));
          JSON.parse(encodeResult(m.id, 'null'));
        }
        codes.push(m.kind);
        break;
      }
      case 'response':
        codes.push('response');
        break;
      default:
        return fault('malformed', 'unknown message kind', JSON.stringify(m));
    }
  }
  // Unmutated seeds are valid: they must decode as what they are.
  if ('seeded' in c && c.seeded.json.length === 0 && c.seeded.bytes.length === 0 && codes.some((k) => isErrorCode(k))) {
    return fault('malformed', 'a valid seed decodes as invalid', text);
  }
  return ok(...codes);
}

export default defineTarget<Case>({
  name: 'codec-jsonrpc',
  kind: 'codec',
  weight: 0.5,
  setup: (env) => ({
    arbitrary,
    sweep: () => mapIter(truncations(SEEDS, env.seed), (seeded): Case => ({ seeded })),
    run,
    show: (c) => ('text' in c ? `decode(${showBytes(Buffer.from(c.text))})` : `decode(${showSeedCase(c.seeded, `#${c.seeded.seed % SEEDS.length}`, materialize(SEEDS, c.seeded))})`),
  }),
});
