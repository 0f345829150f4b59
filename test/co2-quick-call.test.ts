/**
 * The quick way to a call (quick-call.ts) beside the whole way (decode.ts through the element
 * tree): where the quick way answers, the whole way decodes the same call; what Python's
 * xmlrpc.client writes for relay.relay takes the quick way; everything unusual is left alone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { mutatedText } from './support/mutations.js';
import { DECODE_LIMITS, decodeCall, decodeCallTree, type DecodeLimits } from '../src/faces/co2/decode.js';
import { encodeCall } from '../src/faces/co2/encode.js';
import { quickCall } from '../src/faces/co2/quick-call.js';
import { struct } from '../src/faces/co2/values.js';
import { PYTHON } from './co2/satellite.js';

/** Where the quick way answers, the tree gives the same call; null where it leaves the body alone. */
function same(text: string, contentType?: string, limits: DecodeLimits = DECODE_LIMITS): ReturnType<typeof quickCall> {
  const body = Buffer.from(text, 'utf8');
  const quick = quickCall(body, contentType, limits);
  const whole = decodeCallTree(body, contentType, limits);
  if (quick === null) {
    assert.deepEqual(decodeCall(body, contentType, limits), whole, 'left alone: decodeCall is the whole way');
    return null;
  }
  assert.ok(whole.ok, `the whole way refuses what the quick way read: ${JSON.stringify(text.slice(0, 200))} -> ${JSON.stringify(whole)}`);
  assert.deepEqual(quick, whole.call, JSON.stringify(text.slice(0, 200)));
  return quick;
}

const relay = (hostId: string, data: string) => encodeCall('relay.relay', [struct([['host_id', hostId], ['data', data]])]);

describe('co2 quick call', () => {
  test('relay.relay as Python writes it takes the quick way', () => {
    const py = execFileSync(PYTHON, ['-c', [
      'import sys, xmlrpc.client as x',
      "sys.stdout.write(x.dumps(({'host_id': 'a1b2', 'data': 'x' * 64},), 'relay.relay'))",
      "sys.stdout.write('\\0' + x.dumps(({'data': 'tab\\there', 'host_id': ''},), 'relay.relay'))",
      "sys.stdout.write('\\0' + x.dumps(({},), 'relay.get_satellites'))",
    ].join('\n')], { encoding: 'utf8', timeout: 30_000 }).split('\0');
    assert.deepEqual(same(py[0]!), { method: 'relay.relay', params: [struct([['host_id', 'a1b2'], ['data', 'x'.repeat(64)]])] });
    assert.deepEqual(same(py[1]!, 'text/xml'), { method: 'relay.relay', params: [struct([['data', 'tab\there'], ['host_id', '']])] });
    assert.deepEqual(same(py[2]!), { method: 'relay.get_satellites', params: [struct()] });
    assert.ok(same(relay('h', 'x')), 'muster\'s own encoder writes the same layout');
  });

  test('anything else is left to the whole way', () => {
    for (const text of [
      relay('h', 'a &amp; b'), relay('h', 'é'), relay('h', 'cr\r'), relay('h', '\u0001'), relay('h', ']]>'),
      relay('h', 'x').replace('<string>x</string>', 'x'), relay('h', 'x').replace('<string>x</string>', '<int>1</int>'),
      relay('h', 'x') + ' ', ' ' + relay('h', 'x'), relay('h', 'x').replace('\n<params>', '<params>'),
      encodeCall('', [struct([['a', 'b']])]), encodeCall('m', []), encodeCall('m', ['a']), encodeCall('m', [struct(), struct()]),
      relay('h', 'x').replace('</methodCall>\n', ''), relay('h', 'x').replace("<?xml version='1.0'?>\n", ''),
    ]) assert.equal(same(text), null, JSON.stringify(text));
    assert.equal(same(relay('h', 'x'), 'text/xml; charset=ebcdic'), null, 'a charset is for the whole way to judge');
    assert.equal(same(relay('h', 'x'), undefined, { ...DECODE_LIMITS, maxElements: 9 }), null, 'past the element cap');
    assert.ok(same(relay('h', 'x'), undefined, { ...DECODE_LIMITS, maxElements: 14 }), 'at the element cap');
    assert.equal(same(relay('h', 'x'), undefined, { ...DECODE_LIMITS, maxDepth: 7 }), null, 'past the depth cap');
    assert.equal(same(relay('h', 'x'), undefined, { ...DECODE_LIMITS, maxValueDepth: 0 }), null, 'past the value depth cap');
    assert.equal(same(relay('h', 'x'), undefined, { ...DECODE_LIMITS, maxBytes: 100 }), null, 'past the size cap');
  });

  test('mutated calls: the quick way never disagrees with the whole way', () => {
    const seeds = [relay('2f1c', 'x'.repeat(20)), relay('', ''), encodeCall('m', [struct([['a', 'b'], ['a', 'c'], ['__proto__', 'p']])])];
    const pieces = ['<', '>', '/', '&', ';', '&amp;', '\r', '\n', '\t', ' ', ']]>', ']]', 'é', '\u0000', '<member>\n<name>', '</string></value>\n</member>\n', '<string>', '</string>', '<value>', '</name>'];
    fc.assert(fc.property(mutatedText(seeds, pieces), (text) => { same(text); }), { numRuns: 5000 });
  });
});
