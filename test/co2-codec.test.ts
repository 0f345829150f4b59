/**
 * The CO2 face's XML-RPC codec, byte for byte against Python's xmlrpc.client (the library real
 * satellites use): what muster writes is what Python writes, what Python writes muster reads
 * back to the same typed value, and what muster writes Python reads back. Then the refusals of
 * the decoder, and the JSON mapping used on the native bus.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { mutatedText } from './support/mutations.js';
import { DECODE_LIMITS, decodeCall, decodeResponse } from '../src/faces/co2/decode.js';
import { encodeCall, encodeFault, encodeResponse } from '../src/faces/co2/encode.js';
import { fromJsonValue, toJsonText } from '../src/faces/co2/json-map.js';
import { parseXmlFast } from '../src/faces/co2/xml-fast.js';
import { parseWithSaxes } from '../src/faces/co2/xml-tree.js';
import { pythonFloatRepr, struct, XmlRpcBase64, XmlRpcDateTime, XmlRpcDouble, type XmlRpcValue } from '../src/faces/co2/values.js';
import { PYTHON, type Typed } from './co2/satellite.js';

const ORACLE = new URL('./co2/codec_oracle.py', import.meta.url).pathname;

function fromTyped(t: Typed): XmlRpcValue {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map(fromTyped);
  if ('int' in t) return t.int;
  if ('bool' in t) return t.bool;
  if ('double' in t) return new XmlRpcDouble(t.double);
  if ('dateTime' in t) return new XmlRpcDateTime(t.dateTime);
  if ('base64' in t) return new XmlRpcBase64(t.base64);
  if ('nil' in t) return null;
  return struct(Object.entries(t.struct).map(([k, v]) => [k, fromTyped(v)] as const));
}

function toTyped(v: XmlRpcValue): Typed {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return { int: v };
  if (typeof v === 'boolean') return { bool: v };
  if (v === null) return { nil: null };
  if (v instanceof XmlRpcDouble) return { double: v.value };
  if (v instanceof XmlRpcDateTime) return { dateTime: v.text };
  if (v instanceof XmlRpcBase64) return { base64: v.base64 };
  if (Array.isArray(v)) return (v as XmlRpcValue[]).map(toTyped);
  return { struct: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toTyped(x)])) };
}

const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');
const CASES: Typed[] = [
  { int: 1 }, { int: -5 }, { int: 2147483647 }, { int: -2147483648 }, { int: 0 },
  { bool: true }, { bool: false },
  '', 'plain', '<&> "quoted" \'single\'', 'héllo ✓ 𝄞 日本', 'tab\tnew\nline', ' spaced ',
  { double: 1 }, { double: 0.1 }, { double: -2.5 }, { double: 1e16 }, { double: 1.5e-7 }, { double: 123456789.125 },
  { double: 1e22 }, { double: 0.0001 }, { double: 0.00001 }, { double: 5e-324 }, { double: 1.7976931348623157e308 }, { double: 0 },
  { dateTime: '20030501T12:00:00' }, { dateTime: '19991231T23:59:59' },
  { base64: '' }, { base64: b64([0, 1, 255]) }, { base64: b64([...Array(256).keys()]) },
  { nil: null },
  [], [{ int: 1 }, 'a', [{ bool: true }]],
  { struct: {} },
  { struct: { a: { struct: { b: [{ int: 1 }, { struct: { c: { nil: null } } }] } }, '<key&>': 'v', host_id: 'x', data: { double: 2 } } },
];
const FAULTS: [number, string][] = [[1, 'NO_SUCH_MEMBER: no satellite'], [-32601, '<oops> & more']];

function oracle(ours: string[]): { dumps: string[]; loads: ({ method: string | null; params: Typed[] } | { fault: [number, string] })[]; faults: string[] } {
  const out = execFileSync(PYTHON, [ORACLE], { input: JSON.stringify({ values: CASES, faults: FAULTS, ours }), maxBuffer: 16 * 1024 * 1024, timeout: 30_000 });
  return JSON.parse(out.toString());
}

describe('co2 codec - against Python xmlrpc.client', () => {
  const oursCalls = CASES.map((c) => encodeCall('test', [fromTyped(c)]));
  const oursResponses = CASES.map((c) => encodeResponse(fromTyped(c)));
  const py = oracle([...oursCalls, encodeCall('relay.register', [fromTyped({ struct: { port: { int: 8001 } } }), 'second']), 'carriage\rreturn'].map((x, i, all) => i === all.length - 1 ? encodeCall('test', [x]) : x));

  test('calls and responses are byte for byte what Python writes', () => {
    for (let i = 0; i < CASES.length; i++) {
      assert.equal(oursCalls[i], py.dumps[i], `call of case ${i}: ${JSON.stringify(CASES[i])}`);
      assert.equal(oursResponses[i], py.dumps[CASES.length + i], `response of case ${i}: ${JSON.stringify(CASES[i])}`);
    }
    FAULTS.forEach(([code, text], i) => assert.equal(encodeFault(code, text), py.faults[i], `fault ${i}`));
  });

  test("what Python writes decodes to the same typed value (requests and responses, faults)", () => {
    for (let i = 0; i < CASES.length; i++) {
      const call = decodeCall(Buffer.from(py.dumps[i]!), 'text/xml');
      assert.ok(call.ok, `case ${i}: ${JSON.stringify(call)}`);
      assert.equal(call.call.method, 'test');
      assert.deepEqual(call.call.params.map(toTyped), [CASES[i]], `case ${i}`);
      const res = decodeResponse(Buffer.from(py.dumps[CASES.length + i]!));
      assert.ok(res.ok, `response ${i}`);
      assert.deepEqual(toTyped(res.value), CASES[i]);
    }
    FAULTS.forEach(([code, message], i) => assert.deepEqual(decodeResponse(Buffer.from(py.faults[i]!)), { ok: false, fault: { code, message } }));
  });

  test('what muster writes Python reads back to the same value; a carriage return survives (Python alone would lose it)', () => {
    for (let i = 0; i < CASES.length; i++) assert.deepEqual(py.loads[i], { method: 'test', params: [CASES[i]] }, `case ${i}`);
    assert.deepEqual(py.loads[CASES.length], { method: 'relay.register', params: [{ struct: { port: { int: 8001 } } }, 'second'] });
    assert.deepEqual(py.loads[CASES.length + 1], { method: 'test', params: ['carriage\rreturn'] });
  });

  test("Python's float repr for doubles", () => {
    const expect: [number, string][] = [[1, '1.0'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [0.0001, '0.0001'], [0.00001, '1e-05'], [-1.5e-7, '-1.5e-07'], [1e100, '1e+100'], [123.456, '123.456'], [-0, '-0.0']];
    for (const [x, s] of expect) assert.equal(pythonFloatRepr(x), s, String(x));
  });
});

describe('co2 codec - refusals', () => {
  const call = (body: string, type?: string) => decodeCall(Buffer.from(body, 'latin1'), type);
  const code = (body: string, type?: string) => { const d = call(body, type); return d.ok ? 'ok' : d.code; };
  const wrap = (value: string) => `<?xml version="1.0"?><methodCall><methodName>test</methodName><params><param>${value}</param></params></methodCall>`;

  test('malformed XML, DOCTYPE and entities, caps, wrong shapes and values each get a stable code', () => {
    const cases: [string, string][] = [
      ['', 'PARSE_ERROR'],
      ['<methodCall>', 'PARSE_ERROR'],
      ['not xml at all', 'PARSE_ERROR'],
      ['<methodCall><methodName>x</methodName></methodCal>', 'PARSE_ERROR'],
      ['<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><methodCall><methodName>&lol2;</methodName></methodCall>', 'INVALID_REQUEST'],
      ['<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>&xxe;</methodName></methodCall>', 'INVALID_REQUEST'],
      ['<methodCall><methodName>&undefined;</methodName></methodCall>', 'PARSE_ERROR'],
      ['<?xml version="1.0" encoding="EBCDIC"?><methodCall/>', 'PARSE_ERROR'],
      ['<methodResponse/>', 'INVALID_REQUEST'],
      ['<methodCall></methodCall>', 'INVALID_REQUEST'],
      ['<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>', 'INVALID_REQUEST'],
      ['<methodCall>text<methodName>a</methodName></methodCall>', 'INVALID_REQUEST'],
      [wrap('<value><int>12x</int></value>'), 'INVALID_PARAMS'],
      [wrap('<value><int>99999999999999999999</int></value>'), 'INVALID_PARAMS'],
      [wrap('<value><boolean>yes</boolean></value>'), 'INVALID_PARAMS'],
      [wrap('<value><double>nan</double></value>'), 'INVALID_PARAMS'],
      [wrap('<value><double>1e999</double></value>'), 'INVALID_PARAMS'],
      [wrap('<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>'), 'INVALID_PARAMS'],
      [wrap('<value><base64>!!!</base64></value>'), 'INVALID_PARAMS'],
      [wrap('<value><nil>x</nil></value>'), 'INVALID_PARAMS'],
      [wrap('<value><float>1</float></value>'), 'INVALID_REQUEST'],
      [wrap('<value><int>1</int><int>2</int></value>'), 'INVALID_REQUEST'],
      [wrap('<value><struct><member><value><int>1</int></value></member></struct></value>'), 'INVALID_REQUEST'],
      [wrap('<value><array><value>x</value></array></value>'), 'INVALID_REQUEST'],
      [wrap('<int>1</int>'), 'INVALID_REQUEST'],
      [wrap('<value>' + '<array><data><value>'.repeat(70) + 'x' + '</value></data></array>'.repeat(70) + '</value>'), 'INVALID_PARAMS'],
      [wrap('<value>' + '<array><data><value>'.repeat(200) + 'x' + '</value></data></array>'.repeat(200) + '</value>'), 'INVALID_PARAMS'],
    ];
    for (const [body, expected] of cases) assert.equal(code(body), expected, body.slice(0, 120));
    const many = decodeCall(Buffer.from(wrap('<value><array><data>' + '<value><i4>1</i4></value>'.repeat(40_000) + '</data></array></value>')), 'text/xml', { ...DECODE_LIMITS, maxElements: 50_000 });
    assert.equal(many.ok ? 'ok' : many.code, 'PAYLOAD_TOO_LARGE', 'too many elements');
    const big = decodeCall(Buffer.alloc(2 * 1024 * 1024, 0x20));
    assert.equal(big.ok ? 'ok' : big.code, 'PAYLOAD_TOO_LARGE', 'over the size limit');
    assert.equal(code('<methodCall><methodName>x</methodName></methodCall>'.replace('x', '\u00e9'), 'text/xml; charset=iso-8859-1'), 'ok');
    assert.equal(code(Buffer.from([0x3c, 0x61, 0xff, 0x3e]).toString('latin1')), 'PARSE_ERROR', 'invalid UTF-8');
  });

  test('untyped values are strings, CDATA is text, comments and attributes are ignored, i4/i8/ex:nil are read', () => {
    const d = call(wrap('<value>untyped &amp; <![CDATA[<raw>]]></value></param><param><value><i4>7</i4></value></param><param><value><i8>5000000000</i8></value></param><param><!-- c --><value a="b"><ex:nil/></value>'));
    assert.ok(d.ok, JSON.stringify(d));
    assert.deepEqual(d.call.params.map(toTyped), ['untyped & <raw>', { int: 7 }, { int: 5000000000 }, { nil: null }]);
    assert.ok(encodeResponse(5000000000).includes('<i8>5000000000</i8>'), 'past 32 bits an int is written as <i8>');
  });
});

describe('co2 codec - JSON mapping on the bus', () => {
  test('every type survives XML-RPC -> JSON -> XML-RPC; natives see plain JSON where JSON can say it', () => {
    for (const c of CASES) {
      const v = fromTyped(c);
      const text = toJsonText(v);
      assert.deepEqual(toTyped(fromJsonValue(JSON.parse(text))), c, text);
    }
    assert.equal(toJsonText(struct([['t', 21.5], ['n', 3], ['d', new XmlRpcDouble(2)], ['ok', true], ['none', null]])), '{"t":21.5,"n":3,"d":{"$double":2},"ok":true,"none":null}');
    assert.equal(toJsonText(struct([['$base64', 'not a tag']])), '{"$struct":{"$base64":"not a tag"}}');
    assert.deepEqual(toTyped(fromJsonValue({ $dateTime: '20030501T12:00:00', x: 1 })), { struct: { $dateTime: '20030501T12:00:00', x: { int: 1 } } }, 'a tag only counts alone');
    assert.deepEqual(toTyped(fromJsonValue(2.5)), { double: 2.5 });
    assert.deepEqual(toTyped(fromJsonValue(7)), { int: 7 });
  });
});

describe('co2 codec - the quick XML reader beside saxes', () => {
  const limits = { maxDepth: 256, maxElements: 100_000 };
  /** Where the quick reader answers, saxes gives the same tree; where it does not, saxes decides. */
  const same = (text: string) => {
    const fast = parseXmlFast(text, limits);
    if (fast === null) return null;
    const slow = parseWithSaxes(text, limits);
    assert.ok(slow.ok, `saxes refuses what the quick reader read: ${JSON.stringify(text.slice(0, 200))}`);
    assert.deepEqual(fast, slow.root, JSON.stringify(text.slice(0, 200)));
    return fast;
  };

  test('what Python and muster write takes the quick way, to the tree saxes builds', () => {
    const written = [...CASES.map((c) => encodeCall('test', [fromTyped(c)])), ...CASES.map((c) => encodeResponse(fromTyped(c))), ...FAULTS.map(([c, m]) => encodeFault(c, m))];
    for (const text of [...written, ...oracle([]).dumps]) assert.ok(same(text), `quick: ${text.slice(0, 120)}`);
    assert.ok(same('<?xml version="1.0" encoding="utf-8"?>\n<methodCall><methodName>ping</methodName><params/></methodCall>'));
    assert.equal(same('<methodCall><methodName>&#13;&#x1F600;&lt;&amp;&gt;&quot;&apos;</methodName></methodCall>')!.children[0]!.text, '\r\u{1F600}<&>"\'');
  });

  test('anything unusual is left to saxes: comments, CDATA, attributes, DOCTYPE, a raw CR, bad references, errors', () => {
    for (const text of [
      '<methodCall><!-- c --></methodCall>', '<a><![CDATA[x]]></a>', '<a b="c"/>', '<a >x</a>', '<a>x</a >', '<!DOCTYPE a><a/>', '<a>\r\n</a>',
      '<a>&#0;</a>', '<a>&#xD800;</a>', '<a>&nope;</a>', '<a>&amp</a>', '<a>]]></a>', '<a>\u0001</a>', '<a>\uffff</a>', '<a>x\udd1e</a>', '<a>\ud834x</a>', '<a>\udd1e\ud834</a>', ' <?xml version="1.0"?><a/>',
      '<?xml version="1.1"?><a/>', '<?xml version="1.0" encoding="x y"?><a/>', '<?pi?><a/>', '<a/><b/>', '<a></b>', '<a>', 'x<a/>', '<a/>x', '</a>', '<1/>', '<é/>',
    ]) assert.equal(same(text), null, JSON.stringify(text));
    assert.equal(parseXmlFast('<a>' + '<b>'.repeat(5) + '</b>'.repeat(5) + '</a>', { maxDepth: 4, maxElements: 100 }), null, 'past the depth cap');
    assert.equal(parseXmlFast('<a>' + '<b/>'.repeat(5) + '</a>', { maxDepth: 10, maxElements: 5 }), null, 'past the element cap');
  });

  test('mutated XML-RPC: the quick reader never disagrees with saxes', () => {
    const seeds = CASES.map((c) => encodeCall('relay.relay', [struct([['host_id', 'h'], ['data', fromTyped(c)]])]));
    const pieces = ['<', '>', '/', '&', ';', '&amp;', '&#13;', '&#x41;', '\r', '\n', ' ', '"', "'", '<!--', '-->', '<![CDATA[', ']]>', '<?', '?>', 'é', '\u0000', '\ud83d\ude00', '\ud83d', '\ude00', 'value', '</value>', '<value>', '<x/>'];
    fc.assert(fc.property(mutatedText(seeds, pieces), (text) => { same(text); }), { numRuns: 3000 });
  });
});
