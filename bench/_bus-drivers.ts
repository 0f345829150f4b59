/**
 * Bus bench drivers: the same small interface over muster (its WebSocket JSON-RPC bus), NATS
 * (the `nats` client) and Mosquitto (the `mqtt` client), so one load generator drives all three.
 * Payloads are Buffers of the same size for every system.
 */
import mqtt from 'mqtt';
import { connect as natsConnect } from 'nats';
import WebSocket from 'ws';
import {
  decodeHubFrame, encodeAnswerRecord, encodePublishRecord, encodeRequestRecord, frameOf, KIND_CODE, KIND_REPLY, KIND_REQUEST,
  type AnswerRecord, type RequestRecord,
} from '../src/faces/native/bus-binary.js';

export interface Publisher {
  publish(payload: Buffer): void;
  close(): Promise<void>;
}

export interface Requester {
  request(payload: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export interface Closer { close(): Promise<void> }

export interface Driver {
  readonly name: string;
  readonly serverPid: number;
  /** Every process serving the load (a cluster: its hubs and its Redis); CPU is summed over them. Default [serverPid]. */
  readonly serverPids?: readonly number[];
  /** The load phases this driver takes part in (bench/bus.ts); all when absent. */
  readonly phases?: readonly string[];
  publisher(topic: string): Promise<Publisher>;
  subscriber(topic: string, onMessage: (payload: Buffer) => void): Promise<Closer>;
  responder(service: string): Promise<Closer>;
  requester(service: string): Promise<Requester>;
}

// ---------------------------------------------------------------- NATS

export function natsDriver(serverPid: number): Driver {
  const opts = { servers: '127.0.0.1:4222' };
  return {
    name: 'nats', serverPid,
    async publisher(topic) {
      const nc = await natsConnect(opts);
      return { publish: (p) => nc.publish(topic, p), close: async () => { await nc.flush(); await nc.close(); } };
    },
    async subscriber(topic, onMessage) {
      const nc = await natsConnect(opts);
      nc.subscribe(topic, { callback: (_err, msg) => onMessage(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength)) });
      await nc.flush();
      return { close: () => nc.close() };
    },
    async responder(service) {
      const nc = await natsConnect(opts);
      nc.subscribe(service, { callback: (_err, msg) => { msg.respond(msg.data); } });
      await nc.flush();
      return { close: () => nc.close() };
    },
    async requester(service) {
      const nc = await natsConnect(opts);
      return {
        request: async (p) => { const m = await nc.request(service, p, { timeout: 5000 }); return Buffer.from(m.data); },
        close: () => nc.close(),
      };
    },
  };
}

// ---------------------------------------------------------------- MQTT (Mosquitto)

export function mqttDriver(serverPid: number): Driver {
  const url = 'mqtt://127.0.0.1:1883';
  let nextClient = 0;
  const open = async () => {
    const c = await mqtt.connectAsync(url, { clientId: `bench-${process.pid}-${nextClient++}`, clean: true, reconnectPeriod: 0 });
    // MQTT.js leaves Nagle on (nats and ws turn it off): small QoS 0 packets would wait for ACKs.
    (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    return c;
  };
  return {
    name: 'mosquitto', serverPid,
    async publisher(topic) {
      const c = await open();
      return { publish: (p) => { c.publish(topic, p, { qos: 0 }); }, close: () => c.endAsync() };
    },
    async subscriber(topic, onMessage) {
      const c = await open();
      c.on('message', (_t, payload) => onMessage(payload));
      await c.subscribeAsync(topic, { qos: 0 });
      return { close: () => c.endAsync() };
    },
    async responder(service) {
      const c = await open();
      // Request payload: 8-byte correlation id + reply-topic length byte + reply topic + body.
      c.on('message', (_t, p) => {
        const n = p[8]!;
        c.publish(p.subarray(9, 9 + n).toString(), Buffer.concat([p.subarray(0, 8), p.subarray(9 + n)]), { qos: 0 });
      });
      await c.subscribeAsync(service, { qos: 0 });
      return { close: () => c.endAsync() };
    },
    async requester(service) {
      const c = await open();
      const replyTopic = `${service}/reply/${nextClient}`;
      const waiting = new Map<number, (b: Buffer) => void>();
      let id = 0;
      c.on('message', (_t, p) => { const k = p.readDoubleLE(0); const w = waiting.get(k); if (w) { waiting.delete(k); w(p.subarray(8)); } });
      await c.subscribeAsync(replyTopic, { qos: 0 });
      const rt = Buffer.from(replyTopic);
      return {
        request: (p) => new Promise<Buffer>((resolve, reject) => {
          const k = ++id;
          const head = Buffer.alloc(9);
          head.writeDoubleLE(k, 0);
          head[8] = rt.length;
          const timer = setTimeout(() => { waiting.delete(k); reject(new Error('mqtt request timeout')); }, 5000);
          waiting.set(k, (b) => { clearTimeout(timer); resolve(b); });
          c.publish(service, Buffer.concat([head, rt, p]), { qos: 0 });
        }),
        close: () => c.endAsync(),
      };
    },
  };
}

// ---------------------------------------------------------------- muster (raw JSON-RPC over ws)

/**
 * A lean muster peer speaking the documented wire protocol: publishes, deliveries, requests and
 * their answers in the bus binary frame format (records coalesced per microtask into one frame,
 * as nats.js coalesces its writes); setup calls as JSON-RPC.
 */
class MusterPeer {
  readonly ws: WebSocket;
  #next = 1;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #out: string[] = [];
  #flushQueued = false;
  onMessage: ((params: { bytes?: string }) => void) | null = null;
  onBinary: ((payload: Buffer) => void) | null = null;
  #records: Uint8Array[] = [];
  #memberId = '';
  /** A handle record (a request to this member); answer with sendRecord(encodeAnswerRecord(...)). */
  onHandle: ((r: RequestRecord) => void) | null = null;
  readonly #answers = new Map<number, (r: AnswerRecord) => void>();
  #nextRequest = 1;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    const visitor = {
      delivery: (r: { payload: Uint8Array }) => this.onBinary?.(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)),
      handle: (r: RequestRecord) => this.onHandle?.(r),
      answer: (r: AnswerRecord) => { const w = this.#answers.get(r.id); if (w) { this.#answers.delete(r.id); w(r); } },
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        decodeHubFrame(data, visitor);
        return;
      }
      const v = JSON.parse(data.toString()) as unknown;
      if (Array.isArray(v)) for (const m of v) this.#dispatch(m as Record<string, any>);
      else this.#dispatch(v as Record<string, any>);
    });
  }

  static async open(url: string, name: string): Promise<MusterPeer> {
    // Unmasked frames (a zero key, which ws skips on both ends), as the SDK sends them in Node.
    const ws = new WebSocket(url, { perMessageDeflate: false, generateMask: (m) => { m.fill(0); } });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const p = new MusterPeer(ws);
    p.#memberId = ((await p.call('register', { name, type: 'bench', liveness: 'session', exclusive: true })) as { id: string }).id;
    return p;
  }

  /** A request record to `to`; resolves with the reply's payload (a copy), rejects with an error record's. */
  request(to: string, method: string, payload: Buffer, timeoutMs: number): Promise<Buffer> {
    const id = this.#nextRequest++;
    return new Promise((resolve, reject) => {
      this.#answers.set(id, (r) => {
        if (r.kind === KIND_REPLY) resolve(Buffer.from(r.payload));
        else reject(new Error(`${r.where}: ${Buffer.from(r.payload).toString()}`));
      });
      this.sendRecord(encodeRequestRecord({ kind: KIND_REQUEST, isBytes: true, from: '', where: to, id, timeoutMs, method, payload }, Buffer.allocUnsafe));
    });
  }

  #dispatch(m: Record<string, any>): void {
    if (m.method === 'bus.message') { this.onMessage?.(m.params); return; }
    const w = this.#waiting.get(m.id as number);
    if (!w) return;
    this.#waiting.delete(m.id as number);
    if (m.error) w.reject(new Error(`${m.error.data?.code}: ${m.error.message}`)); else w.resolve(m.result);
  }

  call(method: string, params: unknown): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Queues a frame; those queued in one turn go as one batch (at most 100 per batch). */
  send(text: string): void {
    this.#out.push(text);
    if (this.#out.length >= 100) this.#flush();
    else if (!this.#flushQueued) { this.#flushQueued = true; queueMicrotask(() => this.#flush()); }
  }

  /** Queues a binary record; those of one turn go as one binary frame. */
  sendRecord(r: Uint8Array): void {
    this.#records.push(r);
    if (this.#records.length >= 1000) this.#flush();
    else if (!this.#flushQueued) { this.#flushQueued = true; queueMicrotask(() => this.#flush()); }
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#records.length) { this.ws.send(frameOf(this.#records, Buffer.allocUnsafe)); this.#records = []; }
    const out = this.#out;
    if (!out.length) return;
    this.#out = [];
    this.ws.send(out.length === 1 ? out[0]! : `[${out.join(',')}]`);
  }

  /** Unregisters (so the name is free at once for the next phase) and closes. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) await this.call('unregister', { id: this.#memberId }).catch(() => {});
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** `prefix` starts the names of its members (drivers on hubs of one cluster share one namespace). */
export function musterDriver(serverPid: number, wsUrl: string, prefix = 'bench'): Driver {
  let n = 0;
  const name = (what: string) => `${prefix}-${what}-${n++}`;
  return {
    name: 'muster', serverPid,
    async publisher(topic) {
      const p = await MusterPeer.open(wsUrl, name('pub'));
      const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
      return {
        publish: (b) => p.sendRecord(encodePublishRecord({ kind: KIND_CODE.publish, isBytes: true, from: '', where: topic, created: 0, sent: now(), payload: b }, Buffer.allocUnsafe)),
        close: () => p.close(),
      };
    },
    async subscriber(topic, onMessage) {
      const p = await MusterPeer.open(wsUrl, name('sub'));
      p.onBinary = onMessage;
      await p.call('bus.format', { binary: true });
      await p.call('bus.subscribe', { scope: topic });
      return { close: () => p.close() };
    },
    async responder(service) {
      const p = await MusterPeer.open(wsUrl, service);
      p.onHandle = (r) => p.sendRecord(encodeAnswerRecord({ kind: KIND_REPLY, isBytes: r.isBytes, from: '', where: '', id: r.id, payload: r.payload }, Buffer.allocUnsafe));
      await p.call('bus.format', { binary: true });
      return { close: () => p.close() };
    },
    async requester(service) {
      const p = await MusterPeer.open(wsUrl, name('req'));
      await p.call('bus.format', { binary: true });
      return {
        request: (b) => p.request(service, 'echo', b, 5000),
        close: () => p.close(),
      };
    },
  };
}
