/**
 * The CO2 face's surface: every method of the seed under every name, introspection in the seed's
 * shapes, exact echo of every type, the GET page and both paths; then bad input of every kind,
 * each answered with HTTP 200 and a fault with a stable code, the hub serving on.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';
import { int, PySatellite, struct, type Typed } from './co2/satellite.js';

let h: TestHub;
let base: string;
let sat: PySatellite;
let hostId: string;

before(async () => {
  h = await startHub({ co2: '127.0.0.1:0', co2PingIntervalMs: 60_000, maxMessageBytes: 64 * 1024 });
  base = h.hub.info().faces.find((f) => f.name === 'co2')!.address.replace(/\/RPC2$/, '');
  sat = await PySatellite.start(base);
  hostId = await sat.register('probe-me');
});
after(async () => {
  await sat?.close();
  await h?.stop();
});

const SEED_NAMES = [
  'relay.register', 'relay.relay', 'relay.deregister', 'relay.get_satellites', 'relay.get_num_satellites', 'relay.get_max_satellites',
  'relay.get_satellite_props', 'relay.get_satellite_ctime', 'co2.get_satellites', 'co2.get_num_satellites', 'co2.get_satellite_props',
  'co2.get_satellite', 'co2.get_satellite_ctime', 'web.get_satellites', 'web.get_num_satellites', 'web.get_satellite_props',
  'web.get_satellite_ctime', 'ping', 'test', 'system.listMethods', 'sys.listMethods', 'co2.co2_get_method_names', 'web.get_method_names',
  'system.methodHelp', 'sys.methodHelp', 'co2.get_method_help', 'web.get_method_help', 'system.methodSignature', 'sys.methodSignature',
  'co2.get_method_signature', 'web.get_method_signature', 'system.get_properties', 'web.get_properties',
];

describe('co2 - methods', () => {
  test('every name of the seed is listed and documented, by every listing method', async () => {
    for (const m of ['system.listMethods', 'sys.listMethods', 'co2.co2_get_method_names', 'web.get_method_names']) {
      const names = (await sat.ok(m)) as string[];
      for (const n of SEED_NAMES) assert.ok(names.includes(n), `${m} lists ${n}`);
    }
    for (const n of SEED_NAMES) {
      for (const help of ['system.methodHelp', 'co2.get_method_help']) {
        const text = await sat.ok(help, n);
        assert.ok(typeof text === 'string' && text.length > 10, `${help}(${n})`);
      }
    }
  });

  test("methodSignature answers the seed's {args, args_d, args_v, args_kw}", async () => {
    assert.deepEqual(await sat.ok('system.methodSignature', 'relay.get_satellites'), struct({ args: ['param_dict'], args_d: struct({ param_dict: struct({}) }), args_v: [], args_kw: [] }));
    assert.deepEqual(await sat.ok('web.get_method_signature', 'relay.register'), struct({ args: ['param_dict'], args_d: struct({}), args_v: [], args_kw: [] }));
    assert.deepEqual(await sat.ok('co2.get_method_signature', 'ping'), struct({ args: [], args_d: struct({}), args_v: [], args_kw: [] }));
  });

  test('ping, test echoing every type exactly, system.get_properties', async () => {
    assert.equal(await sat.ok('ping'), 'OK');
    const every: Typed = struct({ i: int(-7), b: { bool: false }, s: 'x', d: { double: 3 }, t: { dateTime: '20030501T12:00:00' }, bin: { base64: 'AP8=' }, a: [[], struct({})], n: { nil: null } });
    assert.deepEqual(await sat.ok('test', every), every);
    const props = ((await sat.ok('system.get_properties')) as { struct: Record<string, Typed> }).struct;
    for (const k of ['co2_author', 'kernel', 'operating_system', 'maintainer', 'sw_platform', 'hw_platform', 'co2_version', 'maintainer_email', 'hardware', 'processor']) assert.equal(typeof props[k], 'string', k);
    for (const k of ['start_time', 'server_time']) assert.ok('dateTime' in (props[k] as object), k);
    assert.ok('int' in (props.uptime as object));
    assert.deepEqual(props.plugins, ['relay']);
    assert.deepEqual(Object.keys(((await sat.ok('web.get_properties')) as { struct: object }).struct).sort(), Object.keys(props).sort());
  });

  test('GET answers a plain text page; calls are served at /RPC2 and /', async () => {
    for (const path of ['/', '/RPC2', '/anything']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/plain/);
      assert.match(await res.text(), /CO2 relay[\s\S]*1 of at most 100 satellites/);
    }
    for (const path of ['/', '/RPC2']) {
      const r = await post(path, call('relay.get_num_satellites'));
      assert.equal(r.status, 200);
      assert.match(r.text, /<int>1<\/int>/);
    }
  });
});

function call(method: string, ...params: string[]): string {
  return `<?xml version='1.0'?>\n<methodCall>\n<methodName>${method}</methodName>\n<params>\n${params.map((p) => `<param>\n${p}</param>\n`).join('')}</params>\n</methodCall>\n`;
}

async function post(path: string, body: string | Buffer, headers: Record<string, string> = { 'Content-Type': 'text/xml' }, method = 'POST'): Promise<{ status: number; text: string }> {
  const res = await fetch(base + path, { method, body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  return { status: res.status, text: await res.text() };
}

/** faultCode and the stable code at the start of faultString. */
function faultOf(text: string): { faultCode: number; code: string } | null {
  const m = /<name>faultCode<\/name>\n<value><int>(-?\d+)<\/int><\/value>\n<\/member>\n<member>\n<name>faultString<\/name>\n<value><string>([A-Z_]+):/.exec(text);
  return m ? { faultCode: Number(m[1]), code: m[2]! } : null;
}

describe('co2 - bad input', () => {
  const v = (inner: string) => `<value>${inner}</value>\n`;
  const reg = (members: string) => call('relay.register', v(`<struct>${members}</struct>`));
  const member = (name: string, value: string) => `<member><name>${name}</name>${v(value)}</member>`;
  const deep = (n: number) => v('<array><data>' + '<value><array><data>'.repeat(n) + '</data></array></value>'.repeat(n) + '</data></array>');
  const cases: { name: string; body: string | Buffer | (() => string); headers?: Record<string, string>; method?: string; path?: string; code: string; faultCode: number }[] = [
    { name: 'empty body', body: '', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'not XML', body: 'hello', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'unclosed element', body: '<methodCall><methodName>ping</methodName>', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'mismatched tags', body: '<methodCall><methodName>ping</methodCall></methodName>', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'two roots', body: '<methodCall><methodName>ping</methodName></methodCall><x/>', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'bad character reference', body: '<methodCall><methodName>&#0;</methodName></methodCall>', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'undefined entity', body: '<methodCall><methodName>&nope;</methodName></methodCall>', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'invalid UTF-8', body: Buffer.from([0x3c, 0x6d, 0xc3, 0x28, 0x3e]), code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'unsupported encoding', body: '<?xml version="1.0" encoding="UTF-16"?><methodCall/>', code: 'PARSE_ERROR', faultCode: -32700 },
    { name: 'billion laughs', body: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]><methodCall><methodName>&lol9;</methodName></methodCall>`, code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'XXE', body: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodCall><methodName>&x;</methodName></methodCall>', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'a bare DOCTYPE', body: '<!DOCTYPE methodCall><methodCall><methodName>ping</methodName></methodCall>', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'body over the limit', body: call('test', v(`<string>${'x'.repeat(100 * 1024)}</string>`)), code: 'PAYLOAD_TOO_LARGE', faultCode: -32001 },
    { name: 'nesting too deep', body: call('test', deep(100)), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'nesting far too deep', body: call('test', deep(1400)), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'wrong root', body: '<methodResponse/>', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'no methodName', body: '<methodCall><params/></methodCall>', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'unknown value type', body: call('test', v('<float>1</float>')), code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'int not a number', body: call('test', v('<int>one</int>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'boolean not 0/1', body: call('test', v('<boolean>true</boolean>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'double nan', body: call('test', v('<double>nan</double>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'bad base64', body: call('test', v('<base64>@@@</base64>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'bad dateTime', body: call('test', v('<dateTime.iso8601>soon</dateTime.iso8601>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'unknown method', body: call('relay.explode'), code: 'METHOD_NOT_FOUND', faultCode: -32601 },
    { name: 'help for an unknown method', body: call('system.methodHelp', v('<string>nope</string>')), code: 'METHOD_NOT_FOUND', faultCode: -32601 },
    { name: 'register without a struct', body: call('relay.register', v('<int>8000</int>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'register with a string port', body: reg(member('port', '<string>8000</string>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'register with port 0', body: reg(member('port', '<int>0</int>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'register with an int nick', body: reg(member('port', '<int>8000</int>') + member('nick', '<int>5</int>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'register with a control character in the nick', body: reg(member('port', '<int>8000</int>') + member('nick', '<string>a&#127;&#155;2Jb</string>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'register with plugins not a list', body: reg(member('port', '<int>8000</int>') + member('plugins', '<string>a</string>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'register with a struct notify_pass', body: reg(member('port', '<int>8000</int>') + member('notify_pass', '<struct></struct>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'relay without data', body: () => call('relay.relay', v(`<struct>${member('host_id', `<string>${hostId}</string>`)}</struct>`)), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'relay for an unknown host_id', body: call('relay.relay', v(`<struct>${member('host_id', '<string>nobody</string>')}${member('data', '<int>1</int>')}</struct>`)), code: 'NO_SUCH_MEMBER', faultCode: 1 },
    { name: 'props with two params', body: call('relay.get_satellite_props', v('<struct></struct>'), v('<struct></struct>')), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'test without a param', body: call('test'), code: 'INVALID_PARAMS', faultCode: -32602 },
    { name: 'PUT', body: call('ping'), method: 'PUT', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'DELETE', body: '', method: 'DELETE', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'another path', body: call('ping'), path: '/xmlrpc', code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'JSON content type', body: call('ping'), headers: { 'Content-Type': 'application/json' }, code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'form content type', body: call('ping'), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, code: 'INVALID_REQUEST', faultCode: -32600 },
    { name: 'gzip content encoding', body: call('ping'), headers: { 'Content-Type': 'text/xml', 'Content-Encoding': 'gzip' }, code: 'INVALID_REQUEST', faultCode: -32600 },
  ];

  test(`${cases.length} bad inputs each get HTTP 200 and a fault with a stable code; the hub keeps serving`, async () => {
    for (const c of cases) {
      const body = typeof c.body === 'function' ? c.body() : c.body;
      const r = await post(c.path ?? '/RPC2', body, c.headers, c.method);
      assert.equal(r.status, 200, `${c.name}: HTTP 200`);
      assert.deepEqual(faultOf(r.text), { faultCode: c.faultCode, code: c.code }, `${c.name}: ${r.text.slice(0, 300)}`);
      assert.deepEqual(await sat.ok('relay.get_num_satellites'), int(1), `still serving after ${c.name}`);
    }
    assert.ok(cases.length >= 40);
  });

  test('malformed HTTP, too-large headers and a Python client seeing faults as exceptions', async () => {
    for (const raw of ['NOT HTTP AT ALL\r\n\r\n', `POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]) {
      const text = await new Promise<string>((resolve, reject) => {
        const s = connect(new URL(base).port as unknown as number, '127.0.0.1', () => s.end(raw));
        let out = '';
        s.on('data', (d) => { out += d.toString(); });
        s.on('close', () => resolve(out));
        s.on('error', reject);
        s.setTimeout(5000, () => s.destroy());
      });
      assert.match(text, /^HTTP\/1\.1 200 OK/);
      assert.ok(faultOf(text.slice(text.indexOf('<?xml'))), text.slice(0, 300));
    }
    const f = await sat.call('relay.get_satellite_props', struct({}));
    assert.deepEqual('fault' in f ? f.fault.code : null, -32602, 'xmlrpc.client raises Fault(-32602) for a missing host_id');
    assert.deepEqual(await sat.ok('relay.get_num_satellites'), int(1));
  });
});
