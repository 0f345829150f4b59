/**
 * The WebSocket API: JSON-RPC 2.0 at /v1/ws. Each connection is a session (session members are
 * bound to it). Methods come from the shared operation table, plus watch/unwatch/auth, the
 * self-description methods, and whatever other services (bus, control) add.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type WebSocket from 'ws';
import type { Watcher } from '../core/event-log.js';
import type { Caller, Session } from '../core/registry.js';
import { MusterError, toMusterError } from '../errors.js';
import { WatchParams } from '../schemas/event.js';
import { HubInfo } from '../schemas/hub.js';
import { Token } from '../schemas/member.js';
import { validate } from '../schemas/validate.js';
import type { HubContext } from './context.js';
import { decode, encodeError, encodeNotification, encodeResult, type RpcId, type RpcMessage } from './jsonrpc.js';
import { operations, type Operation } from './operations.js';

/** A JSON-RPC method of the WebSocket face. */
export interface WsMethod<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly name: string;
  readonly summary: string;
  readonly params: P;
  readonly result: R;
  run(conn: WsConnection, params: Static<P>): Promise<Static<R>> | Static<R>;
}

export function wsMethod<P extends TSchema, R extends TSchema>(m: WsMethod<P, R>): WsMethod {
  return m as unknown as WsMethod;
}

type CloseListener = (conn: WsConnection) => void;

/** An error a peer answered to a hub-to-client request, as it sent it. */
export class PeerError extends Error {
  readonly rpcError: { code: number; message: string; data?: unknown };
  constructor(rpcError: { code: number; message: string; data?: unknown }) {
    super(rpcError.message);
    this.name = 'PeerError';
    this.rpcError = rpcError;
  }
}

interface PendingRequest {
  resolve(result: unknown): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

const MAX_PENDING_REQUESTS = 10_000;

// Write coalescing: connections written to in this event-loop turn, flushed together once.
const dirty: WsConnection[] = [];
let flushScheduled = false;
const OPEN_BATCH = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE_BATCH = Buffer.from(']');
const BINARY_FRAME = Buffer.from([0xb5]);

function flushDirty(): void {
  flushScheduled = false;
  const list = dirty.splice(0);
  for (const c of list) c.flush();
}

/** One WebSocket connection: a session, its caller identity, its watches. */
export class WsConnection implements Session {
  readonly id = randomUUID();
  readonly remoteAddress: string;
  /** Admin or member token presented at connect (?token=) or with `auth`. */
  token: string | undefined;
  readonly #socket: WebSocket;
  readonly #hub: HubContext;
  readonly watches = new Map<number, Watcher>();
  #nextWatchId = 1;
  readonly #pending = new Map<string, PendingRequest>();
  #nextRequestId = 1;
  #closeListeners: CloseListener[] = [];
  alive = true;
  /** The TCP socket under the WebSocket, corked while a turn's writes accumulate. */
  readonly #raw: Duplex | null;
  #dirty = false;
  #corked = false;
  /** Encoded notifications owed to this connection this turn; sent as one frame at flush. */
  #batch: Buffer[] = [];
  #batchBytes = 0;
  /** Messages handed to the socket whose write has not completed yet. */
  #inflight = 0;
  #busBinary = false;

  constructor(socket: WebSocket, hub: HubContext, remoteAddress: string, token: string | undefined, raw?: Duplex) {
    this.#socket = socket;
    this.#hub = hub;
    this.remoteAddress = remoteAddress;
    this.token = token;
    this.#raw = raw ?? null;
  }

  get caller(): Caller {
    return { token: this.token, session: this };
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get open(): boolean {
    return this.#socket.readyState === 1;
  }

  /**
   * Sends already-encoded text (or bytes). Encoding is the caller's, once per message. Writes of
   * one event-loop turn are corked and reach the kernel as one write.
   */
  send(data: string | Buffer): void {
    if (this.#socket.readyState !== 1) return;
    if (this.#batch.length) this.#sendBatch();
    this.#markDirty();
    this.#socket.send(data);
  }

  /**
   * Queues an encoded JSON-RPC notification (the same Buffer goes to every receiver). Those owed
   * in one turn go out as one text frame: the notification alone, or a JSON array of them; or,
   * in binary mode, binary records after one 0xB5 byte in one binary frame.
   */
  enqueue(frame: Buffer): void {
    if (this.#socket.readyState !== 1) return;
    this.#batch.push(frame);
    this.#batchBytes += frame.length;
    this.#markDirty();
  }

  /** Bus deliveries to this connection are binary records (bus-binary.ts), not JSON. */
  get busBinary(): boolean {
    return this.#busBinary;
  }

  setBusBinary(on: boolean): void {
    if (this.#batch.length) this.#sendBatch();
    this.#busBinary = on;
  }

  /** Bytes owed to this peer: queued this turn plus not yet written to the kernel. */
  get outboundBytes(): number {
    return this.#batchBytes + this.#socket.bufferedAmount;
  }

  /** Messages owed to this peer: queued this turn plus in writes not yet completed. */
  get outboundMessages(): number {
    return this.#batch.length + this.#inflight;
  }

  /** Called once per turn for a connection written to: one frame for the batch, then uncork. */
  flush(): void {
    this.#dirty = false;
    if (this.#batch.length && this.#socket.readyState === 1) this.#sendBatch();
    if (this.#corked) {
      this.#corked = false;
      this.#raw!.uncork();
    }
  }

  #sendBatch(): void {
    const batch = this.#batch;
    const n = batch.length;
    this.#batch = [];
    this.#batchBytes = 0;
    let frame: Buffer;
    if (this.#busBinary) {
      batch.unshift(BINARY_FRAME);
      this.#inflight += n;
      this.#socket.send(Buffer.concat(batch), { binary: true }, () => { this.#inflight -= n; });
      return;
    }
    if (n === 1) frame = batch[0]!;
    else {
      const parts: Buffer[] = [OPEN_BATCH];
      for (let i = 0; i < n; i++) { if (i) parts.push(COMMA); parts.push(batch[i]!); }
      parts.push(CLOSE_BATCH);
      frame = Buffer.concat(parts);
    }
    this.#inflight += n;
    this.#socket.send(frame, { binary: false }, () => { this.#inflight -= n; });
  }

  #markDirty(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    if (this.#raw && !this.#raw.writableCorked) {
      this.#raw.cork();
      this.#corked = true;
    }
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDirty);
    }
  }

  notify(method: string, paramsJson: string): void {
    this.send(encodeNotification(method, paramsJson));
  }

  /** A JSON-RPC request from the hub to this peer. Ids are "h1", "h2", ... (the hub's own sequence). */
  request(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.open) return Promise.reject(new MusterError('MEMBER_GONE', 'The member has no open connection'));
    if (this.#pending.size >= MAX_PENDING_REQUESTS) return Promise.reject(new MusterError('THROTTLED', 'Too many requests open to this member', { retryAfterMs: 100 }));
    const id = `h${this.#nextRequestId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new MusterError('TIMEOUT', `No answer to ${method} within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** A response from the peer to one of the hub's requests. Unknown ids are ignored. */
  settle(id: unknown, result: unknown, error: unknown): void {
    if (typeof id !== 'string') return;
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (error !== undefined && error !== null) {
      const e = error as { code?: unknown; message?: unknown; data?: unknown };
      p.reject(new PeerError({ code: typeof e.code === 'number' ? e.code : -32000, message: typeof e.message === 'string' ? e.message : 'error', data: e.data }));
    } else p.resolve(result);
  }

  close(code = 1000, reason = ''): void {
    this.#socket.close(code, reason.slice(0, 120));
  }

  terminate(): void {
    this.#socket.terminate();
  }

  onClose(listener: CloseListener): void {
    this.#closeListeners.push(listener);
  }

  addWatch(params: WatchParams): { watch: number; revision: number } {
    const watchId = this.#nextWatchId++;
    const hub = this.#hub;
    const prefix = `{"jsonrpc":"2.0","method":"event","params":{"watch":${watchId},"event":`;
    const watcher: Watcher = {
      filter: params.filter ?? {},
      deliver: (e) => {
        if (this.#socket.bufferedAmount > hub.limits.maxWatchQueueBytes) {
          // Bounded: a watcher that cannot keep up is dropped and told where to resume.
          hub.metrics.slowWatchers.inc();
          this.removeWatch(watchId);
          this.notify('watch.dropped', JSON.stringify({ watch: watchId, code: 'SLOW_CONSUMER', resumeAfter: e.event.revision - 1 }));
          return;
        }
        this.send(prefix + e.json + '}}');
      },
    };
    // Replayed events are sent before the reply; the client buffers them until it knows the watch id.
    const revision = hub.registry.log.watch(watcher, params.since);
    this.watches.set(watchId, watcher);
    return { watch: watchId, revision };
  }

  removeWatch(watchId: number): boolean {
    const w = this.watches.get(watchId);
    if (!w) return false;
    this.#hub.registry.log.unwatch(w);
    this.watches.delete(watchId);
    return true;
  }

  /** Called once by the face when the socket closes. */
  closed(): void {
    this.#batch = [];
    this.#batchBytes = 0;
    for (const id of [...this.watches.keys()]) this.removeWatch(id);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new MusterError('MEMBER_GONE', 'The member disconnected before answering'));
    }
    this.#pending.clear();
    for (const l of this.#closeListeners) l(this);
    this.#closeListeners = [];
  }
}

const WS_LABEL = { face: 'ws' } as const;

const MethodName = Type.Object({ name: Type.String({ maxLength: 128 }) });

export class WsFace {
  readonly #hub: HubContext;
  readonly #methods = new Map<string, WsMethod>();
  /** Who takes binary frames (the bus binary format); without one they are refused. */
  #binary: ((conn: WsConnection, data: Buffer) => void) | null = null;
  readonly connections = new Set<WsConnection>();
  #pingTimer: NodeJS.Timeout | undefined;

  constructor(hub: HubContext, extra: WsMethod[] = []) {
    this.#hub = hub;
    for (const o of operations) {
      const op = o as unknown as Operation;
      this.#add({ name: op.name, summary: op.summary, params: op.params, result: op.result, run: (conn, p) => op.run(hub, p, conn.caller) });
    }
    this.#add(wsMethod({
      name: 'auth', summary: 'Present a token (admin or member) for the rest of this connection.',
      params: Type.Object({ token: Token }, { additionalProperties: false }), result: Type.Object({ admin: Type.Boolean() }),
      run: (conn, p) => { conn.token = p.token; return { admin: hub.registry.isAdmin(p.token) }; },
    }));
    this.#add(wsMethod({
      name: 'watch', summary: 'Replay events after `since`, then stream them live as `event` notifications.',
      params: WatchParams, result: Type.Object({ watch: Type.Integer(), revision: Type.Integer() }),
      run: (conn, p) => {
        if (conn.watches.size >= 16) throw new MusterError('INVALID_REQUEST', 'At most 16 watches per connection');
        return conn.addWatch(p);
      },
    }));
    this.#add(wsMethod({
      name: 'unwatch', summary: 'Stop a watch.', params: Type.Object({ watch: Type.Integer() }, { additionalProperties: false }),
      result: Type.Object({ ok: Type.Boolean() }), run: (conn, p) => ({ ok: conn.removeWatch(p.watch) }),
    }));
    this.#add(wsMethod({
      name: 'system.getProperties', summary: 'Facts about the hub (same as info).', params: Type.Object({}), result: HubInfo,
      run: () => hub.info(),
    }));
    this.#add(wsMethod({
      name: 'system.listMethods', summary: 'Names of every method.', params: Type.Object({}), result: Type.Array(Type.String()),
      run: () => [...this.#methods.keys()].sort(),
    }));
    this.#add(wsMethod({
      name: 'system.methodHelp', summary: "A method's description. Params: {name} or [name].", params: MethodName, result: Type.String(),
      run: (_c, p) => this.#method(p.name).summary,
    }));
    this.#add(wsMethod({
      name: 'system.methodSignature', summary: "A method's params and result as JSON Schema. Params: {name} or [name].", params: MethodName,
      result: Type.Object({ params: Type.Unknown(), result: Type.Unknown() }),
      run: (_c, p) => { const m = this.#method(p.name); return { params: plain(m.params), result: plain(m.result) }; },
    }));
    this.#add(wsMethod({
      name: 'rpc.discover', summary: 'This API as an OpenRPC document.', params: Type.Object({}), result: Type.Unknown(),
      run: () => this.openRpc(),
    }));
    for (const m of extra) this.#add(m);
  }

  /** Adds methods after construction (services that are built later). */
  onBinary(handler: (conn: WsConnection, data: Buffer) => void): void {
    this.#binary = handler;
  }

  addMethods(methods: WsMethod[]): void {
    for (const m of methods) this.#add(m);
  }

  start(): void {
    this.#pingTimer = setInterval(() => {
      for (const c of this.connections) {
        if (!c.alive) { c.close(1001, 'no pong'); continue; }
        c.alive = false;
      }
    }, 30_000);
    this.#pingTimer.unref();
  }

  stop(reason = 'hub shutting down'): void {
    clearInterval(this.#pingTimer);
    for (const c of this.connections) c.close(1001, reason);
  }

  /** Drops every connection without waiting for the peer's close frame. */
  terminateAll(): void {
    for (const c of this.connections) c.terminate();
  }

  /** Takes over an accepted socket. */
  accept(socket: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = url.searchParams.get('token') ?? bearer(req.headers.authorization);
    const conn = new WsConnection(socket, this.#hub, req.socket.remoteAddress ?? '', token ?? undefined, req.socket);
    this.connections.add(conn);
    socket.on('pong', () => { conn.alive = true; });
    const pinger = setInterval(() => { if (socket.readyState === 1) socket.ping(); }, 25_000);
    pinger.unref();
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      conn.alive = true;
      // Every reply path catches its own errors; this is the backstop that keeps one frame from taking the hub down.
      this.#onMessage(conn, data, isBinary).catch((err: unknown) => this.#hub.log.error({ err }, 'unhandled error on a WebSocket frame'));
    });
    socket.on('close', () => {
      clearInterval(pinger);
      this.connections.delete(conn);
      conn.closed();
      this.#hub.registry.sessionClosed(conn);
    });
    socket.on('error', () => { /* 'close' follows */ });
  }

  openRpc(): unknown {
    return {
      openrpc: '1.2.6',
      info: { title: 'muster hub WebSocket API', version: this.#hub.info().version, description: 'JSON-RPC 2.0 at /v1/ws. Errors carry muster codes in error.data.code.' },
      methods: [...this.#methods.values()].map((m) => ({
        name: m.name,
        summary: m.summary,
        paramStructure: 'by-name',
        params: Object.entries((plain(m.params) as { properties?: Record<string, unknown>; required?: string[] }).properties ?? {}).map(([name, schema]) => ({
          name, schema, required: ((plain(m.params) as { required?: string[] }).required ?? []).includes(name),
        })),
        result: { name: 'result', schema: plain(m.result) },
      })),
    };
  }

  #add(m: WsMethod): void {
    this.#methods.set(m.name, m);
  }

  #method(name: string): WsMethod {
    const m = this.#methods.get(name);
    if (!m) throw new MusterError('METHOD_NOT_FOUND', `No method ${JSON.stringify(name.slice(0, 80))}`);
    return m;
  }

  async #onMessage(conn: WsConnection, data: Buffer, isBinary: boolean): Promise<void> {
    const hub = this.#hub;
    if (data.length > hub.limits.maxMessageBytes) {
      hub.metrics.errors.inc({ face: 'ws', code: 'PAYLOAD_TOO_LARGE' });
      conn.send(encodeError(null, new MusterError('PAYLOAD_TOO_LARGE', `Messages are at most ${hub.limits.maxMessageBytes} bytes`)));
      return;
    }
    if (isBinary) {
      if (this.#binary) return this.#binary(conn, data);
      conn.send(encodeError(null, new MusterError('INVALID_REQUEST', 'Send JSON-RPC as text frames')));
      return;
    }
    const { batch, messages } = decode(data.toString('utf8'));
    hub.metrics.requests.inc(WS_LABEL, messages.length); // once per frame: a labelled inc costs a hash
    // Synchronous methods (heartbeat, get, ...) answer in this turn, without a promise per message.
    if (!batch) {
      const reply = this.#handle(conn, messages[0]!);
      const text = typeof reply === 'string' || reply === null ? reply : await reply;
      if (text !== null) conn.send(text);
      return;
    }
    let replies = messages.map((m) => this.#handle(conn, m));
    if (replies.some((r) => typeof r === 'object' && r !== null)) replies = await Promise.all(replies);
    const out = (replies as (string | null)[]).filter((r): r is string => r !== null);
    if (out.length === 0) return;
    conn.send(`[${out.join(',')}]`);
  }

  /** One message: the encoded reply (now, or later for async methods), or null for notifications and responses. */
  #handle(conn: WsConnection, msg: RpcMessage): string | null | Promise<string | null> {
    let id: RpcId = null;
    try {
      switch (msg.kind) {
        case 'invalid':
          id = msg.id;
          throw msg.error;
        case 'response':
          conn.settle(msg.id, msg.result, msg.error);
          return null;
        case 'notification':
        case 'request': {
          if (msg.kind === 'request') id = msg.id;
          const method = this.#method(msg.method);
          let params = msg.params;
          if (Array.isArray(params)) params = method.params === MethodName && typeof params[0] === 'string' ? { name: params[0] } : params;
          const result = method.run(conn, validate(method.params, params));
          if (result instanceof Promise) return this.#later(msg, id, result);
          return this.#succeeded(msg, id, result);
        }
      }
    } catch (err) {
      return this.#failed(msg, id, err);
    }
  }

  #later(msg: RpcMessage, id: RpcId, result: Promise<unknown>): Promise<string | null> {
    return result.then((r) => this.#succeeded(msg, id, r), (err: unknown) => this.#failed(msg, id, err));
  }

  /** The encoded result; a result that cannot be encoded is this request's INTERNAL error, never a throw. */
  #succeeded(msg: RpcMessage, id: RpcId, result: unknown): string | null {
    if (msg.kind !== 'request') return null;
    try {
      return encodeResult(id, JSON.stringify(result ?? null));
    } catch (err) {
      return this.#failed(msg, id, err);
    }
  }

  #failed(msg: RpcMessage, id: RpcId, err: unknown): string | null {
    const e = toMusterError(err);
    this.#hub.metrics.errors.inc({ face: 'ws', code: e.code });
    if (e.code === 'INTERNAL') this.#hub.log.error({ err }, 'internal error');
    return msg.kind === 'notification' ? null : encodeError(id, e);
  }
}

function bearer(h: string | undefined): string | null {
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m ? m[1]!.trim() : null;
}

const plain = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));

