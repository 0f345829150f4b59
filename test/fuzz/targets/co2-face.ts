/**
 * Socket target: the CO2 face and its own HTTP/1.x server (src/faces/co2/http-server.ts). Each
 * case is one connection carrying one or two requests framed the ways clients frame them
 * (Content-Length over HTTP/1.1 and 1.0, chunked with extensions, pipelined, Expect:
 * 100-continue, GET), then head mutations (no Host, a second Content-Length, Content-Length with
 * Transfer-Encoding, other encodings and types, a huge header) and byte operations. The calls are
 * the codec target's seeds; relay.relay names a satellite this target registered (a raw TCP
 * server in this process), so relaying really delivers: the satellite answers notifies and pings
 * in every framing the face's client reads, and with hostile answers (SATELLITE_ANSWERS).
 *
 * Every answer on the connection must be HTTP 200 with an XML-RPC methodResponse (params, or a
 * fault whose string starts with a catalogued code) or the GET page; a request with nothing broken
 * must be answered; a connection the hub stops answering must not stop the face (a ping on a new
 * connection is answered). Nothing that names "register" is sent: the hub would dial the port a
 * mutation made.
 */
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import fc from 'fast-check';
import { faultCodeOf } from '../../../src/faces/co2/faults.js';
import type { ErrorCode } from '../../../src/errors.js';
import type { Live } from '../hub.js';
import { applyByteOps, byteOpArb, describeByteOp, showBytes, type ByteOp } from '../mutate.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';
import { crashOutcome, diedWithin, isCatalogued } from '../ws-session.js';
import { CO2_SEEDS } from './co2.js';

const FRAMINGS = ['length-1.1', 'length-1.0', 'chunked', 'pipelined', 'expect', 'get'] as const;
const HEAD_BREAKS = ['none', 'no-host', 'two-lengths', 'length-and-chunked', 'gzip', 'text-plain', 'huge-header', 'bad-expect', 'lf-only'] as const;
const OK_ANSWER = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>OK</string></value>\n</param>\n</params>\n</methodResponse>\n";

interface Case { readonly seed: number; readonly framing: number; readonly head: number; readonly bytes: readonly ByteOp[] }

const arbitrary: fc.Arbitrary<Case> = fc.record({
  seed: fc.nat({ max: 1000 }),
  framing: fc.nat({ max: FRAMINGS.length - 1 }),
  head: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: HEAD_BREAKS.length - 1 }) }),
  bytes: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteOpArb([1, 2, 4]), { minLength: 1, maxLength: 3 }) }),
});

interface Built { readonly bytes: Buffer; readonly requests: number; readonly intact: boolean; readonly label: string }

function request(body: Buffer, framing: (typeof FRAMINGS)[number], head: (typeof HEAD_BREAKS)[number], last: boolean): Buffer {
  const version = framing === 'length-1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  const lines = [framing === 'get' ? `GET / ${version}` : `POST /RPC2 ${version}`];
  if (head !== 'no-host') lines.push('Host: 127.0.0.1');
  lines.push(`Content-Type: ${head === 'text-plain' ? 'text/plain' : 'text/xml'}`, `Connection: ${last ? 'close' : 'keep-alive'}`);
  if (head === 'gzip') lines.push('Content-Encoding: gzip');
  if (head === 'huge-header') lines.push(`X-Filler: ${'f'.repeat(20_000)}`);
  if (framing === 'expect' || head === 'bad-expect') lines.push(`Expect: ${head === 'bad-expect' ? 'something' : '100-continue'}`);
  let payload = framing === 'get' ? Buffer.alloc(0) : body;
  if (framing === 'chunked' || head === 'length-and-chunked') {
    lines.push('Transfer-Encoding: chunked');
    if (head === 'length-and-chunked') lines.push(`Content-Length: ${payload.length}`);
    const half = payload.length >> 1;
    const chunk = (b: Buffer, ext = '') => Buffer.concat([Buffer.from(`${b.length.toString(16)}${ext}\r\n`), b, Buffer.from('\r\n')]);
    payload = Buffer.concat([chunk(payload.subarray(0, half), ';x=1'), chunk(payload.subarray(half)), Buffer.from('0\r\nX-Trailer: t\r\n\r\n')]);
  } else if (framing !== 'get') {
    lines.push(`Content-Length: ${payload.length}`);
    if (head === 'two-lengths') lines.push(`Content-Length: ${payload.length + 1}`);
  }
  const eol = head === 'lf-only' ? '\n' : '\r\n';
  return Buffer.concat([Buffer.from(lines.join(eol) + eol + eol, 'latin1'), payload]);
}

function build(c: Case, hostId: string): Built {
  const framing = FRAMINGS[c.framing % FRAMINGS.length]!;
  const head = HEAD_BREAKS[c.head % HEAD_BREAKS.length]!;
  const seed = 1 + (c.seed % (CO2_SEEDS.length - 1)); // not #0, relay.register
  const body = Buffer.from(CO2_SEEDS[seed]!.toString().replace(/0f8fad5b-d9cb-469f-a165-70867728950e/, hostId));
  const parts = framing === 'pipelined'
    ? [request(body, framing, head, false), request(CO2_SEEDS[2]!, framing, head, true)]
    : [request(body, framing, head, true)];
  let bytes: Buffer = Buffer.concat(parts);
  if (c.bytes.length) bytes = applyByteOps(bytes, c.bytes);
  return { bytes, requests: parts.length, intact: head === 'none' && c.bytes.length === 0, label: `${framing}/${head}/seed ${seed}` };
}

interface Answer { readonly status: number; readonly contentType: string; readonly body: string }

/** Every answer on the connection (1xx skipped) and how it ended. */
function exchange(address: string, bytes: Buffer, timeoutMs: number): Promise<{ end: 'closed' | 'timeout'; answers: Answer[]; rest: number }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    const finish = (end: 'closed' | 'timeout') => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ end, ...answersIn(Buffer.concat(chunks)) });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => { socket.end(bytes); });
    socket.on('data', (d: Buffer) => { chunks.push(d); });
    socket.on('close', () => finish('closed'));
    socket.on('error', () => { /* 'close' follows */ });
  });
}

function answersIn(b: Buffer): { answers: Answer[]; rest: number } {
  const answers: Answer[] = [];
  let at = 0;
  while (at < b.length) {
    const end = b.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...lines] = b.subarray(at, end).toString('latin1').split('\r\n');
    const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine ?? '')?.[1] ?? 0);
    const length = Number(headers.get('content-length') ?? (status === 100 ? 0 : NaN));
    if (!Number.isInteger(length) || end + 4 + length > b.length) break;
    if (status !== 100) answers.push({ status, contentType: headers.get('content-type') ?? '', body: b.toString('utf8', end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return { answers, rest: b.length - at };
}

/** A problem with one answer, or null; the codes it carried go to `codes`. */
function checkAnswer(a: Answer, codes: string[]): string | null {
  if (a.status !== 200) return `status ${a.status} (the face answers everything with 200)`;
  if (a.contentType.startsWith('text/plain')) return codes.push('page'), null;
  if (!a.contentType.startsWith('text/xml')) return `content type ${a.contentType}`;
  if (!a.body.includes('<methodResponse>')) return 'not a methodResponse';
  if (!a.body.includes('<fault>')) return codes.push('ok'), null;
  const faultCode = Number(/<name>faultCode<\/name>\s*<value><int>(-?\d+)<\/int>/.exec(a.body)?.[1]);
  const code = /<name>faultString<\/name>\s*<value><string>([A-Z_]+):/.exec(a.body)?.[1] ?? '';
  if (!isCatalogued(code)) return `fault string without a catalogued code: ${a.body.slice(0, 300)}`;
  if (faultCode !== faultCodeOf(code as ErrorCode)) return `fault ${code} with faultCode ${faultCode}`;
  codes.push(code);
  return null;
}

async function judge(live: Live, address: string, b: Built): Promise<Outcome> {
  const r = await exchange(address, b.bytes, 5000);
  if (live.dead || (r.end === 'timeout' && (await diedWithin(live, 300)))) return crashOutcome(live);
  const codes: string[] = [];
  for (const a of r.answers) {
    const problem = checkAnswer(a, codes);
    if (problem) return fault('malformed', `${b.label.split('/')[0]}: ${problem.slice(0, 60)}`, problem, codes);
  }
  if (codes.includes('INTERNAL')) return fault('internal', `${b.label} answered INTERNAL`, live.takeErrors().join('\n').slice(0, 3000), codes);
  if (b.intact && (r.answers.length !== b.requests || r.rest !== 0)) {
    return fault('malformed', `${b.label.split('/')[0]}: ${r.answers.length} of ${b.requests} requests answered`, `${r.end}, ${r.rest} bytes left over`, codes);
  }
  if (r.end === 'timeout') {
    // A lying length waits for bytes that never come: only a face that stops serving is a hang.
    const ping = await exchange(address, request(CO2_SEEDS[2]!, 'length-1.1', 'none', true), 3000);
    if (ping.answers.length !== 1) return fault('hang', 'the CO2 face stopped answering', `${b.label}; a ping on a new connection: ${ping.end}`, codes);
    codes.push('co2:no-answer');
  }
  return ok(...codes, ...(r.answers.length ? [] : ['co2:closed']));
}

const xmlAnswer = (body: string, head = 'HTTP/1.1 200 OK\r\nContent-Type: text/xml') => `${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
/**
 * What the satellite answers, in turn: well-formed answers in every framing the client reads, and
 * hostile ones (faults, garbage, lying lengths, bad chunks, huge heads, DOCTYPEs, early closes).
 * Every seventh answer also gets one byte changed. The hub must survive all of them.
 */
const SATELLITE_ANSWERS: readonly string[] = [
  xmlAnswer(OK_ANSWER),
  `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10;x\r\n${OK_ANSWER.slice(0, 16)}\r\n${(OK_ANSWER.length - 16).toString(16)}\r\n${OK_ANSWER.slice(16)}\r\n0\r\n\r\n`,
  `HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n${OK_ANSWER}`,
  xmlAnswer("<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string>no</string></value></member></struct></value></fault></methodResponse>"),
  xmlAnswer('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodResponse><params><param><value>&x;</value></param></params></methodResponse>'),
  xmlAnswer('not xml at all'),
  'HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\nshort',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(40_000)}\r\nContent-Length: 0\r\n\r\n`,
  'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\n' + xmlAnswer(OK_ANSWER),
  'garbage\r\n\r\n',
  xmlAnswer(OK_ANSWER, 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/xml'),
  '',
];

/** A satellite for relay.relay to deliver to (and the pinger to ping): answers each call with the next of SATELLITE_ANSWERS. */
function satellite(): Promise<NetServer> {
  let turn = 0;
  const server = createNetServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('error', () => { /* the hub may cut it */ });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buf.toString('latin1', 0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        const n = turn++;
        const answer = Buffer.from(SATELLITE_ANSWERS[n % SATELLITE_ANSWERS.length]!, 'latin1');
        if (n % 7 === 3 && answer.length) answer[(n * 7919) % answer.length] ^= 1 << (n % 8);
        if (answer.length === 0 || n % 11 === 5) socket.destroy();
        else socket.write(answer);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export default defineTarget<Case>({
  name: 'co2-face',
  kind: 'socket',
  weight: 1,
  async setup(env) {
    const hub = env.hub!;
    const sat = await satellite();
    const port = (sat.address() as { port: number }).port;
    let state: { live: Live; hostId: string } | null = null;
    const session = async () => {
      const live = await hub.live();
      if (state?.live === live) return state;
      const reg = request(Buffer.from(CO2_SEEDS[0]!.toString().replace('8001', String(port)).replace('alpha', 'fz-co2')), 'length-1.1', 'none', true);
      const answer = (await exchange(live.co2, reg, 5000)).answers[0]?.body ?? '';
      const hostId = /<value><string>([0-9a-f-]{36})<\/string><\/value>/.exec(answer)?.[1];
      if (!hostId) throw new Error(`co2-face: the satellite could not register: ${answer.slice(0, 300)}`);
      state = { live, hostId };
      return state;
    };
    await session();
    const built = new WeakMap<Case, Built>();
    return {
      arbitrary,
      // Every truncation of one relay call, per framing.
      sweep: function* () {
        for (let framing = 0; framing < FRAMINGS.length; framing++) {
          const len = build({ seed: 1, framing, head: 0, bytes: [] }, state!.hostId).bytes.length;
          for (let at = 0; at < len; at += 7) yield { seed: 1, framing, head: 0, bytes: [{ op: 'truncate' as const, at }] };
        }
      },
      async run(c) {
        const s = await session();
        const b = build(c, s.hostId);
        built.set(c, b);
        if (b.bytes.includes('register')) return ok('skipped');
        return judge(s.live, s.live.co2, b);
      },
      show(c) {
        const b = built.get(c);
        return `CO2 ${b?.label ?? `seed ${c.seed}`}${c.bytes.length ? `, then ${c.bytes.map(describeByteOp).join('; ')}` : ''}\n  bytes: ${b ? showBytes(b.bytes, 600) : '?'}`;
      },
      close: () => new Promise<void>((resolve) => sat.close(() => resolve())),
    };
  },
});
