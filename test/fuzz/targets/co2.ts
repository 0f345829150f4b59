/**
 * Codec target: the CO2 face's XML-RPC decoder (src/faces/co2/decode.ts). Seeds are the calls real
 * satellites send (as Python's xmlrpc.client writes them), mutated by byte operations and by
 * hostile XML spliced in: DOCTYPE with internal and external entities (billion laughs, XXE),
 * nesting far past the cap, huge strings, many elements, wrong and unknown value types, other
 * encodings. decodeCall must return a typed call or a catalogued code, never throw, and never
 * expand an entity; a decoded call re-encodes to XML that decodes to the same call.
 */
import fc from 'fast-check';
import { isErrorCode } from '../../../src/errors.js';
import { decodeCall } from '../../../src/faces/co2/decode.js';
import { encodeCall } from '../../../src/faces/co2/encode.js';
import { applyByteOps, byteOpArb, describeByteOp, showBytes, type ByteOp } from '../mutate.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';

const call = (method: string, ...values: string[]) =>
  `<?xml version='1.0'?>\n<methodCall>\n<methodName>${method}</methodName>\n<params>\n${values.map((v) => `<param>\n${v}</param>\n`).join('')}</params>\n</methodCall>\n`;
const struct = (members: Record<string, string>) => `<value><struct>\n${Object.entries(members).map(([k, v]) => `<member>\n<name>${k}</name>\n${v}</member>\n`).join('')}</struct></value>\n`;

export const CO2_SEEDS = [
  call('relay.register', struct({ port: '<value><int>8001</int></value>\n', nick: '<value><string>alpha</string></value>\n', plugins: '<value><array><data>\n<value><string>relay</string></value>\n</data></array></value>\n', notify_pass: '<value><string>sesame</string></value>\n' })),
  call('relay.relay', struct({ host_id: '<value><string>0f8fad5b-d9cb-469f-a165-70867728950e</string></value>\n', data: struct({ t: '<value><double>21.5</double></value>\n', at: '<value><dateTime.iso8601>20030501T12:00:00</dateTime.iso8601></value>\n', b: '<value><base64>\nAAE=\n</base64></value>\n', n: '<value><nil/></value>', ok: '<value><boolean>1</boolean></value>\n' }) })),
  call('relay.get_satellites'),
  call('system.methodHelp', '<value><string>relay.relay</string></value>\n'),
  call('test', '<value>untyped</value>\n'),
  // The shape quick-call.ts reads straight off the bytes (a struct of strings, as Python writes it).
  call('relay.relay', struct({ host_id: '<value><string>0f8fad5b-d9cb-469f-a165-70867728950e</string></value>\n', data: '<value><string>t=21.5 at 12:00</string></value>\n' })),
].map((s) => Buffer.from(s));

const DEEP = (n: number) => '<value><array><data>'.repeat(n) + '</data></array></value>'.repeat(n);
const HOSTILE = [
  '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>',
  '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', '&lol2;', '&x;', '&#0;', '&#x110000;', '&amp;', ']]>', '<![CDATA[<x>]]>',
  DEEP(70), DEEP(300), '<value>' + 'x'.repeat(200_000) + '</value>', '<value><int>1</int></value>'.repeat(20_000),
  '<value><int>99999999999999999999</int></value>', '<value><double>nan</double></value>', '<value><boolean>2</boolean></value>',
  '<value><float>1</float></value>', '<value><struct><member><value/></member></struct></value>', '<value><array></array></value>',
  '<?xml version="1.0" encoding="UTF-16"?>', '<?xml version="1.0" encoding="ISO-8859-1"?>', '\ufeff', '\u0000', '\ud800',
  '<methodCall>', '</methodCall>', '<params>', '<param>', '<value>', '</value>', '<a xmlns:x="y" x:b="c"/>', '<!-- c -->', '<?pi x?>',
];

interface Case { readonly seed: number; readonly splices: readonly (readonly [number, number])[]; readonly bytes: readonly ByteOp[] }

const arbitrary: fc.Arbitrary<Case> = fc.record({
  seed: fc.nat({ max: 1000 }),
  splices: fc.array(fc.tuple(fc.nat({ max: HOSTILE.length - 1 }), fc.nat({ max: 100_000 })), { maxLength: 3 }),
  bytes: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteOpArb([1, 2, 4]), { minLength: 1, maxLength: 3 }) }),
});

function bodyOf(c: Case): Buffer {
  let text = CO2_SEEDS[c.seed % CO2_SEEDS.length]!.toString('utf8');
  for (const [h, at] of c.splices) {
    const i = at % (text.length + 1);
    text = text.slice(0, i) + HOSTILE[h]! + text.slice(i);
  }
  const bytes = Buffer.from(text);
  return c.bytes.length ? applyByteOps(bytes, c.bytes) : bytes;
}

function run(c: Case): Outcome {
  const body = bodyOf(c);
  let d: ReturnType<typeof decodeCall>;
  try {
    d = decodeCall(body, 'text/xml');
  } catch (err) {
    return fault('throw', `decodeCall threw ${(err as Error).name}`, String(err).slice(0, 300));
  }
  if (!d.ok) return isErrorCode(d.code) ? ok(d.code) : fault('uncatalogued', `code ${String(d.code)}`, d.message);
  const text = JSON.stringify(d.call);
  if (text.includes('lollollol') || text.includes('root:')) return fault('malformed', 'an entity was expanded', text.slice(0, 300));
  const again = decodeCall(Buffer.from(encodeCall(d.call.method, d.call.params)), 'text/xml');
  if (!again.ok || JSON.stringify(again.call) !== text) return fault('malformed', 're-encoded call decodes differently', text.slice(0, 300));
  if (c.splices.length === 0 && c.bytes.length === 0 && !d.ok) return fault('malformed', 'a valid seed is refused', '');
  return ok('ok');
}

export default defineTarget<Case>({
  name: 'co2',
  kind: 'codec',
  weight: 0.5,
  setup: () => ({
    arbitrary,
    run,
    show: (c) => `decodeCall(seed #${c.seed % CO2_SEEDS.length}, splices ${JSON.stringify(c.splices.map(([h, at]) => [HOSTILE[h]!.slice(0, 60), at]))}, bytes ${c.bytes.map(describeByteOp).join(', ')}):\n  ${showBytes(bodyOf(c), 600)}`,
  }),
});
