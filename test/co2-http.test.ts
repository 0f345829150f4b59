/**
 * The CO2 face's own HTTP on both sides, over real sockets. As a server: pipelined calls answered
 * in order in one connection, chunked bodies, HTTP/1.0 with and without keep-alive, Expect:
 * 100-continue, a head that never ends. As a client of satellites (raw TCP satellites here, so
 * each HTTP form can be chosen): notifies pipelined on one connection in order once the
 * satellite keeps it alive, notifies a satellite closed the connection on sent again exactly once,
 * chunked and read-until-close answers, a hang that costs only the notifies sent with it.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';
import { sleep, until } from './support/wait.js';

let h: TestHub;
let port: number;

before(async () => {
  h = await startHub({ co2: '127.0.0.1:0', co2PingIntervalMs: 60_000, co2TimeoutMs: 1000, headersTimeoutMs: 1500, co2NotifyPerSec: 0 });
  port = Number(new URL(h.hub.info().faces.find((f) => f.name === 'co2')!.address).port);
});
after(async () => {
  await h?.stop();
});

function xmlCall(method: string, members: Record<string, string | number> = {}): string {
  const m = Object.entries(members).map(([k, v]) => `<member>\n<name>${k}</name>\n<value>${typeof v === 'number' ? `<int>${v}</int>` : `<string>${v}</string>`}</value>\n</member>\n`).join('');
  return `<?xml version='1.0'?>\n<methodCall>\n<methodName>${method}</methodName>\n<params>\n<param>\n<value><struct>\n${m}</struct></value>\n</param>\n</params>\n</methodCall>\n`;
}
const post = (body: string, extra = '', version = '1.1') => `POST /RPC2 HTTP/${version}\r\nHost: x\r\nContent-Type: text/xml\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Sends `raw` on a new connection; resolves with all that comes back once the hub closes it or `quietMs` pass without more. */
function exchange(raw: string | string[], quietMs = 400): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const quiet = () => { clearTimeout(timer); timer = setTimeout(() => { s.destroy(); resolve({ text, closed: false }); }, quietMs); };
    s.on('connect', async () => {
      for (const part of [raw].flat()) { s.write(part); await sleep(30); }
      quiet();
    });
    s.on('data', (d) => { text += d.toString(); quiet(); });
    s.on('end', () => { clearTimeout(timer); resolve({ text, closed: true }); s.destroy(); });
    s.on('error', reject);
  });
}
const answers = (text: string) => text.split(/(?=HTTP\/1\.1 )/).filter((a) => a.startsWith('HTTP/1.1 200'));

describe('co2 http - the face as a server', () => {
  test('pipelined calls are answered in order on one connection; chunked bodies are read', async () => {
    const calls = ['ping', 'relay.get_num_satellites', 'system.methodHelp'].map((m) => post(xmlCall(m))).join('');
    const r = await exchange(calls);
    const got = answers(r.text);
    assert.equal(got.length, 3, r.text);
    assert.match(got[0]!, /<string>OK<\/string>/);
    assert.match(got[1]!, /<int>0<\/int>/);
    assert.match(got[2]!, /INVALID_PARAMS/, 'methodHelp wants a name');
    assert.ok(!r.closed, 'kept alive');
    const body = xmlCall('ping');
    const chunked = `POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(10).toString(16)}\r\n${body.slice(0, 10)}\r\n${(body.length - 10).toString(16)};ext=1\r\n${body.slice(10)}\r\n0\r\nX-Trailer: t\r\n\r\n`;
    const c = await exchange([chunked.slice(0, 50), chunked.slice(50)]);
    assert.match(answers(c.text)[0] ?? '', /<string>OK<\/string>/, c.text);
  });

  test('HTTP/1.0 closes after the answer unless it asks to keep alive; Expect: 100-continue', async () => {
    const once = await exchange(post(xmlCall('ping'), '', '1.0'));
    assert.ok(once.closed, 'closed after one answer');
    assert.match(once.text, /Connection: close/);
    const kept = await exchange(post(xmlCall('ping'), 'Connection: keep-alive\r\n', '1.0'));
    assert.ok(!kept.closed);
    assert.match(kept.text, /Connection: keep-alive[\s\S]*<string>OK/);
    const body = xmlCall('ping');
    const cont = await exchange([`POST /RPC2 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`, body]);
    assert.match(cont.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK[\s\S]*<string>OK/);
  });

  test('a connection that sends only blank lines and ends costs nothing: the face keeps answering', async () => {
    // Found by the co2-face fuzz target: stray CRLFs and then the end of the stream crashed the hub.
    for (const raw of ['\r\n', '\r\n\r\n\r\n', '\r\n' + 'POST /R']) {
      await new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => s.end(raw));
        s.on('close', () => resolve());
        s.on('error', () => { /* 'close' follows */ });
      });
    }
    const { text } = await exchange(post(xmlCall('relay.get_num_satellites')));
    assert.equal(answers(text).length, 1, text);
  });

  test('a head that never ends gets REQUEST_TIMEOUT and is closed; bare LF heads and a missing Host are faults', async () => {
    const slow = await exchange('POST /RPC2 HTTP/1.1\r\nHost: x\r\n', 6000);
    assert.ok(slow.closed);
    assert.match(slow.text, /^HTTP\/1\.1 200 OK[\s\S]*REQUEST_TIMEOUT/);
    const lf = await exchange('POST /RPC2 HTTP/1.1\nHost: x\n\n');
    assert.match(lf.text, /INVALID_REQUEST/);
    const noHost = await exchange(`POST /RPC2 HTTP/1.1\r\nContent-Length: 0\r\n\r\n`);
    assert.match(noHost.text, /INVALID_REQUEST: An HTTP\/1.1 request needs a Host header/);
  });
});

const dataOf = (call: string) => /<name>data<\/name>\n<value><string>([^<]*)</.exec(call)?.[1];

/** A satellite on raw TCP: `answer(socket, requests)` decides how each batch of notify calls read is answered. */
class RawSatellite {
  readonly server: Server;
  readonly notifies: string[] = [];
  /** Notify calls per connection, in the order the connections came. */
  readonly perConnection: number[] = [];
  maxBatch = 0;
  port = 0;
  constructor(answer: (socket: Socket, calls: string[], conn: number) => void) {
    this.server = createServer((socket) => {
      const conn = this.perConnection.push(0) - 1;
      let buf = '';
      socket.on('data', (d) => {
        buf += d.toString('latin1');
        const calls: string[] = [];
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) break;
          const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
          if (buf.length < end + 4 + len) break;
          calls.push(buf.slice(end + 4, end + 4 + len));
          buf = buf.slice(end + 4 + len);
        }
        if (!calls.length) return;
        const notifies = calls.filter((c) => dataOf(c) !== undefined).length; // not the pinger's calls
        this.perConnection[conn]! += notifies;
        this.maxBatch = Math.max(this.maxBatch, notifies);
        for (const c of calls) {
          const data = dataOf(c);
          if (data !== undefined) this.notifies.push(data);
        }
        answer(socket, calls, conn);
      });
      socket.on('error', () => {});
    });
  }
  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
}

/** Connections that carried notify calls. */
const connections = (sat: RawSatellite) => sat.perConnection.filter((n) => n > 0).length;

const OK_BODY = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>OK</string></value>\n</param>\n</params>\n</methodResponse>\n";
const OK = `HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${OK_BODY.length}\r\n\r\n${OK_BODY}`;

async function rpc(body: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/RPC2`, { method: 'POST', body, headers: { 'Content-Type': 'text/xml' } });
  return res.text();
}
async function registerRaw(sat: RawSatellite, nick: string): Promise<string> {
  const text = await rpc(xmlCall('relay.register', { port: sat.port, nick }));
  return /<string>([^<]+)<\/string>/.exec(text)![1]!;
}
async function relayBurst(from: string, n: number, tag: string): Promise<void> {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => rpc(xmlCall('relay.relay', { host_id: from, data: `${tag}${i}` }))));
  for (const a of answers) assert.match(a, /<string>OK<\/string>/);
}
async function props(hostId: string): Promise<string> {
  return rpc(xmlCall('relay.get_satellite_props', { host_id: hostId }));
}
const notifyFails = (text: string) => Number(/<name>notify_fails<\/name>\n<value><int>(\d+)/.exec(text)?.[1]);

describe('co2 http - the face as a client of satellites', () => {
  const servers: Server[] = [];
  let sender: string;
  before(async () => {
    const quiet = await new RawSatellite((s, calls) => s.write(OK.repeat(calls.length))).listen();
    servers.push(quiet.server);
    sender = await registerRaw(quiet, 'sender');
  });
  after(() => { for (const s of servers) s.close(); });

  test('a keep-alive satellite gets notifies pipelined on one connection, in order; chunked and HTTP/1.0 answers are read', async () => {
    const fast = await new RawSatellite((s, calls) => s.write(OK.repeat(calls.length))).listen();
    const chunkedAnswer = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${OK_BODY.length.toString(16)}\r\n${OK_BODY}\r\n0\r\n\r\n`;
    const chunky = await new RawSatellite((s, calls) => s.write(chunkedAnswer.repeat(calls.length))).listen();
    const old = await new RawSatellite((s) => s.end(`HTTP/1.0 200 OK\r\nContent-type: text/xml\r\n\r\n${OK_BODY}`)).listen();
    servers.push(fast.server, chunky.server, old.server);
    const ids = [await registerRaw(fast, 'fast'), await registerRaw(chunky, 'chunky'), await registerRaw(old, 'old')];
    await relayBurst(sender, 200, 'a');
    for (const s of [fast, chunky, old]) {
      await until('200 notifies', () => s.notifies.length >= 200, 5000).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${[fast, chunky, old].map((x) => x.notifies.length).join(', ')}; notify_fails ${(await Promise.all(ids.map(async (i) => notifyFails(await props(i))))).join(', ')}`);
      });
    }
    for (const s of [fast, chunky, old]) assert.deepEqual([...s.notifies].sort(), Array.from({ length: 200 }, (_, i) => `a${i}`).sort());
    assert.deepEqual(fast.notifies, [...fast.notifies].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))), 'in the order relayed');
    assert.equal(connections(fast), 1, 'one connection');
    assert.ok(fast.maxBatch > 1, `several notifies in one write (at most ${fast.maxBatch})`);
    assert.equal(connections(old), 200, 'a satellite closing after each answer gets a connection per notify');
    assert.equal(old.maxBatch, 1, 'and one notify at a time');
    for (const id of ids) assert.equal(notifyFails(await props(id)), 0);
  });

  test('answers alike are matched by their bytes, each still counted as it says: OK runs, faults, another head, HTTP 500', async () => {
    const FAULT_BODY = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>1</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>no</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
    const FAULT = `HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${FAULT_BODY.length}\r\n\r\n${FAULT_BODY}`;
    const OTHER_HEAD = OK.replace('Content-Type', 'Server: other\r\nContent-Type');
    const ERROR = 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n';
    // By the number in its data: every 7th a fault, every 11th an HTTP 500, every 5th OK under another head, the rest OK.
    const pick = (n: number) => n % 7 === 0 ? FAULT : n % 11 === 0 ? ERROR : n % 5 === 0 ? OTHER_HEAD : OK;
    const mixed = await new RawSatellite((s, calls) => s.write(calls.map((c) => pick(Number(dataOf(c)?.slice(1) ?? 1))).join(''))).listen();
    servers.push(mixed.server);
    const id = await registerRaw(mixed, 'mixed');
    await relayBurst(sender, 100, 'm');
    await until('100 notifies', () => mixed.notifies.length >= 100, 5000);
    let expected = 0;
    for (let n = 0; n < 100; n++) if (pick(n) === FAULT || pick(n) === ERROR) expected++;
    const fails = await until('the faults are counted', async () => { const f = notifyFails(await props(id)); return f >= expected ? f : false; }, 5000);
    assert.equal(fails, expected, 'each fault and error once, no OK among them');
    assert.equal(connections(mixed), 1, 'all on one connection');
  });

  test('notifies unanswered when a satellite closes the connection are sent again, once; a hang costs only its connection', async () => {
    const processed: string[] = [];
    // Answers 5 calls per connection, the fifth with Connection: close; what else it read there it never processes.
    const closer = await new RawSatellite((s, calls) => {
      for (const c of calls) {
        if (s.writableEnded) break;
        const data = dataOf(c);
        if (data !== undefined) processed.push(data);
        if (processed.length % 5 === 0) s.end(OK.replace('Content-Type', 'Connection: close\r\nContent-Type'));
        else s.write(OK);
      }
    }).listen();
    let hangs = false;
    const hanger = await new RawSatellite((s, calls) => { if (!hangs) s.write(OK.repeat(calls.length)); }).listen();
    servers.push(closer.server, hanger.server);
    const closerId = await registerRaw(closer, 'closer');
    const hangerId = await registerRaw(hanger, 'hanger');
    await relayBurst(sender, 3, 'a'); // the hanger shows it keeps connections alive
    await until('the hanger answers at first', () => hanger.notifies.length >= 3, 5000);
    hangs = true;
    await relayBurst(sender, 60, 'b');
    await until(`60 processed at the closer (${processed.length})`, () => processed.filter((n) => n.startsWith('b')).length >= 60, 5000);
    const b = processed.filter((n) => n.startsWith('b'));
    assert.equal(b.length, 60, 'each processed once');
    assert.deepEqual(b, [...b].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))), 'in order');
    assert.ok(connections(closer) >= 12, `a connection per 5 (${connections(closer)})`);
    assert.equal(notifyFails(await props(closerId)), 0, 'none counted as failed');
    // The hanger's 60 were pipelined on its connection: the first times out (1 s), those behind it fail with it.
    await until('all 60 reached the hanger', () => hanger.notifies.length >= 63, 5000);
    const fails = await until('the hung notifies are counted', async () => { const n = notifyFails(await props(hangerId)); return n >= 60 ? n : false; }, 5000);
    assert.equal(fails, 60, 'each once');
    assert.equal(connections(hanger), 1, 'all on the one connection');
    hangs = false;
    await relayBurst(sender, 5, 'c');
    await until('the hanger gets the next ones', () => hanger.notifies.filter((n) => n.startsWith('c')).length === 5, 5000);
    assert.equal(connections(hanger), 2, 'on a new connection');
  });
});
