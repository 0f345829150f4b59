/**
 * `npm run bench -- co2`: the CO2 relay face beside a small Python reference relay (standard
 * library only: a threading SimpleXMLRPCServer with keep-alive, one queue and one delivery thread
 * per satellite calling its notify through xmlrpc.client), each pinned to core 0 and measured the same
 * way in the same run by a load generator on core 1:
 *
 * - relayCalls: 4 satellites call relay.relay (8 calls in flight each, keep-alive) for a few
 *   seconds; relay.relay answers per second, and the notifies the other 3 satellites got meanwhile.
 * - notifyDeliveries: 1 satellite relays as fast as the relay answers; notify calls per second
 *   received by 10 satellites.
 *
 * The satellites are lean servers on raw sockets that count notify calls and answer OK (so the relay,
 * not the satellite, is measured). muster runs with unlimited bus rates and notify rate, and a
 * deep notify queue (the defaults protect slow satellites). `ratios` = muster / reference.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect, createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, pinSelf, spawnBenchHub } from './_hub-process.js';

const SECONDS = Number(process.env.CO2_BENCH_SECONDS ?? 4);
const IN_FLIGHT = 8;

const REFERENCE = String.raw`
import queue, socketserver, sys, threading, uuid, xmlrpc.client
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler

class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True   # a thread per connection: keep-alive clients do not starve each other

class Handler(SimpleXMLRPCRequestHandler):
    protocol_version = 'HTTP/1.1'   # keep-alive, as muster allows

sats = {}   # host_id -> (queue, addr)

def deliver(q, url):
    proxy = xmlrpc.client.ServerProxy(url)
    while True:
        params = q.get()
        try:
            proxy.notify(params)
        except Exception:
            proxy = xmlrpc.client.ServerProxy(url)

def register(p):
    host_id = str(uuid.uuid4())
    q = queue.Queue()
    threading.Thread(target=deliver, args=(q, 'http://127.0.0.1:%d' % p['port']), daemon=True).start()
    sats[host_id] = q
    return host_id

def relay(p):
    if p['host_id'] not in sats:
        raise Exception('unknown host_id')
    for h, q in list(sats.items()):
        if h != p['host_id']:
            q.put({'host_id': p['host_id'], 'data': p['data']})
    return 'OK'

server = Server(('127.0.0.1', int(sys.argv[1])), requestHandler=Handler, logRequests=False, allow_none=True)
server.register_function(register, 'relay.register')
server.register_function(relay, 'relay.relay')
server.register_function(lambda *a: len(sats), 'relay.get_num_satellites')
print('listening', flush=True)
server.serve_forever()
`;

const OK_BODY = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>OK</string></value>\n</param>\n</params>\n</methodResponse>\n";
const OK_ANSWER = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${OK_BODY.length}\r\n\r\n${OK_BODY}`);
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

/**
 * Reads HTTP/1.1 messages framed by Content-Length off a byte stream (requests at a satellite,
 * answers at a sender); calls `each(head, body)` per message. All the bench's own HTTP is this
 * small, so the load generator costs little beside the relay it measures.
 */
class Framer {
  #buf: Buffer = Buffer.alloc(0);
  constructor(readonly each: (head: string, body: Buffer) => void) {}
  push(chunk: Buffer): void {
    let buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) break;
      const head = buf.toString('latin1', 0, end + 2);
      const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) break;
      this.each(head, buf.subarray(end + 4, end + 4 + length));
      buf = buf.subarray(end + 4 + length);
    }
    this.#buf = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

/** A satellite that counts notify calls and answers OK, a batch of pipelined calls with one write. */
class Sink {
  readonly server: Server;
  count = 0;
  port = 0;
  constructor() {
    this.server = createNetServer({ noDelay: true }, (socket) => {
      let owed = 0;
      const framer = new Framer(() => { this.count++; owed++; });
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        if (owed === 0) return;
        socket.write(owed === 1 ? OK_ANSWER : Buffer.concat(Array.from({ length: owed }, () => OK_ANSWER)));
        owed = 0;
      });
      socket.on('error', () => { /* the relay went away */ });
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }
}

function xmlCall(method: string, struct: Record<string, string | number>): string {
  const members = Object.entries(struct).map(([k, v]) => `<member>\n<name>${k}</name>\n<value>${typeof v === 'number' ? `<int>${v}</int>` : `<string>${v}</string>`}</value>\n</member>\n`).join('');
  return `<?xml version='1.0'?>\n<methodCall>\n<methodName>${method}</methodName>\n<params>\n<param>\n<value><struct>\n${members}</struct></value>\n</param>\n</params>\n</methodCall>\n`;
}

/** One call with node:http (registration). */
function post(port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/RPC2', method: 'POST', agent: false, headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.once('end', () => resolve(text));
    });
    req.once('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

async function register(port: number, sink: Sink, nick: string): Promise<string> {
  const text = await post(port, xmlCall('relay.register', { port: sink.port, nick }));
  const id = /<string>([^<]+)<\/string>/.exec(text)?.[1];
  if (!id) throw new Error(`register failed: ${text}`);
  return id;
}

/**
 * A satellite calling relay.relay over one keep-alive connection, the next call when the answer
 * came (xmlrpc.client's way); `onAnswer(ok)` per answer; stops at `end` (performance.now() ms).
 */
function relayLoop(port: number, request: Buffer, end: number, onAnswer: (ok: boolean) => void): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    const framer = new Framer((head, body) => {
      onAnswer(head.startsWith('HTTP/1.1 200') && body.includes('<string>OK</string>'));
      if (performance.now() < end) socket.write(request);
      else socket.end();
    });
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', () => { /* counted as missing answers */ });
    socket.on('close', () => resolve());
  });
}

/** Senders relay for SECONDS (after 1 s of warm-up); answers/s and notifies/s received by `receivers`. */
async function drive(port: number, senders: { id: string }[], receivers: Sink[], pid: number, perCall: number): Promise<Record<string, number>> {
  let answered = 0;
  let faults = 0;
  let counting = false;
  const end = performance.now() + (SECONDS + 1) * 1000;
  const runs = senders.flatMap((s) => {
    const body = xmlCall('relay.relay', { host_id: s.id, data: 'x'.repeat(64) });
    const call = Buffer.from(`POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept-Encoding: gzip\r\nContent-Type: text/xml\r\nUser-Agent: Python-xmlrpc/3.11\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return Array.from({ length: IN_FLIGHT }, () => relayLoop(port, call, end, (ok) => {
      if (!counting) return;
      if (ok) answered++;
      else faults++;
    }));
  });
  await new Promise((r) => setTimeout(r, 1000));
  counting = true;
  const delivered0 = receivers.reduce((n, r) => n + r.count, 0);
  const cpu0 = cpuMs(pid);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(runs);
  const elapsed = (performance.now() - t0) / 1000;
  const delivered = receivers.reduce((n, r) => n + r.count, 0) - delivered0;
  const cpu = cpuMs(pid) - cpu0;
  const own = process.cpuUsage(own0);
  return {
    relayCallsPerSec: Math.round(answered / elapsed), faults, notifiesPerSec: Math.round(delivered / elapsed),
    // Calls whose notifies were delivered in the window: a relay that answers but queues its notifies without end is not relaying.
    relayCallsDeliveredPerSec: Math.round(Math.min(answered, delivered / perCall) / elapsed),
    serverCpuPercent: Math.round((cpu / 10) / elapsed),
    // The relay's CPU time per relay call answered and per notify delivered (each the whole of it: a notify's share of the calls included).
    serverCpuUsPerRelayCall: Math.round((cpu * 1000) / Math.max(1, answered) * 10) / 10,
    serverCpuUsPerNotify: Math.round((cpu * 1000) / Math.max(1, delivered) * 10) / 10,
    loadGeneratorCpuPercent: Math.round((own.user + own.system) / 10_000 / elapsed),
  };
}

interface Relay { port: number; pid: number; stop(): Promise<void> }

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function startMuster(): Promise<Relay> {
  const dataDir = mkdtempSync(join(tmpdir(), 'muster-bench-co2-'));
  const port = await freePort();
  Object.assign(process.env, {
    MUSTER_BUS_RATE_LIMITS: JSON.stringify({ '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } }),
    MUSTER_CO2_NOTIFY_PER_SEC: '0', MUSTER_CO2_QUEUE_MESSAGES: '1000000', MUSTER_CO2_PING_INTERVAL_MS: '60000', MUSTER_CO2_MAX_SATS: '100',
  });
  // CO2_BENCH_PROF=DIR writes a CPU profile of the hub there (node --cpu-prof), one per phase.
  const prof = process.env.CO2_BENCH_PROF;
  const hub = await spawnBenchHub({ dataDir, core: 0, sync: 'normal', extraArgs: ['--co2', `127.0.0.1:${port}`], nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [] });
  return { port, pid: hub.pid, async stop() { await hub.kill(); rmSync(dataDir, { recursive: true, force: true }); } };
}

async function startReference(script: string): Promise<Relay> {
  const port = await freePort();
  const child: ChildProcess = spawn('taskset', ['-c', '0', '/usr/bin/python3', script, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`reference relay exited ${code}`)));
  });
  return { port, pid: child.pid!, async stop() { child.kill('SIGKILL'); } };
}

async function measure(start: () => Promise<Relay>, sinks: Sink[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const phase of ['relayCalls', 'notifyDeliveries'] as const) {
    const relay = await start();
    try {
      if (phase === 'relayCalls') {
        const ids = [];
        for (let i = 0; i < 4; i++) ids.push({ id: await register(relay.port, sinks[i]!, `sender-${i}`) });
        out[phase] = await drive(relay.port, ids, sinks.slice(0, 4), relay.pid, 3);
      } else {
        for (let i = 0; i < 10; i++) await register(relay.port, sinks[i]!, `receiver-${i}`);
        const sender = await register(relay.port, sinks[10]!, 'sender');
        out[phase] = await drive(relay.port, [{ id: sender }], sinks.slice(0, 10), relay.pid, 10);
      }
    } finally {
      await relay.stop();
    }
  }
  return out;
}

export default async function bench(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const dir = mkdtempSync(join(tmpdir(), 'co2-reference-'));
  const script = join(dir, 'reference_relay.py');
  writeFileSync(script, REFERENCE);
  const sinks = Array.from({ length: 11 }, () => new Sink());
  for (const s of sinks) await s.listen();
  try {
    // CO2_BENCH_ONLY=muster (or reference) measures one side alone (for profiling; no ratios then).
    const only = process.env.CO2_BENCH_ONLY;
    const muster = only === 'reference' ? null : await measure(startMuster, sinks);
    const reference = only === 'muster' ? null : await measure(() => startReference(script), sinks);
    if (!muster || !reference) return { seconds: SECONDS, inFlightPerSatellite: IN_FLIGHT, pinned, muster, reference };
    const ratio = (a: number, b: number) => Math.round((a / Math.max(1, b)) * 10) / 10;
    return {
      seconds: SECONDS, inFlightPerSatellite: IN_FLIGHT, pinned, muster, reference,
      ratios: {
        relayCalls: ratio(muster.relayCalls!.relayCallsPerSec!, reference.relayCalls!.relayCallsPerSec!),
        notifyDeliveries: ratio(muster.notifyDeliveries!.notifiesPerSec!, reference.notifyDeliveries!.notifiesPerSec!),
        relayCallsDelivered: ratio(muster.relayCalls!.relayCallsDeliveredPerSec!, reference.relayCalls!.relayCallsDeliveredPerSec!),
      },
      // The same per unit of the relay's CPU (reference's CPU per op / muster's): what a busy machine's scheduling skews least.
      cpuRatios: {
        relayCalls: ratio(reference.relayCalls!.serverCpuUsPerRelayCall!, muster.relayCalls!.serverCpuUsPerRelayCall!),
        notifyDeliveries: ratio(reference.notifyDeliveries!.serverCpuUsPerNotify!, muster.notifyDeliveries!.serverCpuUsPerNotify!),
      },
      target: '>= 5x the reference',
    };
  } finally {
    for (const s of sinks) s.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
