/**
 * The WebSocket API: JSON-RPC 2.0 at /v1/ws. Every service operation is a method (the operation
 * tables in core/operations), beside the face's own (ws-methods.ts); binary frames carry the bus
 * binary format (bus-binary-handler.ts). Each socket is a WsConnection, the core's Connection.
 */
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { BusTotals } from '../../core/bus/relay.js';
import { allOperations, type Operation } from '../../core/operations/index.js';
import { MusterError, toMusterError } from '../../errors.js';
import { validate } from '../../schemas/validate.js';
import type { HubContext } from '../context.js';
import { BinaryRequests } from './binary-requests.js';
import { handleBinaryFrame } from './bus-binary-handler.js';
import { decode, encodeError, encodeResult, resultJson, type RpcId, type RpcMessage } from './jsonrpc.js';
import { WsConnection, type ConnectionLimits } from './ws-connection.js';
import { faceMethods, MethodName, type WsMethod } from './ws-methods.js';
import { FrameQueue, TurnSlices } from './turn-slices.js';

const WS_LABEL = { face: 'ws' } as const;
const PING_MS = 25_000;
const PONG_CHECK_MS = 30_000;

interface Frame { data: Buffer; isBinary: boolean }

export class WsFace {
  readonly #hub: HubContext;
  readonly #methods = new Map<string, WsMethod>();
  readonly #shared: { limits: ConnectionLimits; totals: BusTotals; binaryRequests: BinaryRequests };
  readonly connections = new Set<WsConnection>();
  /** Frames handled in slices of each turn, so one connection's burst does not hold everyone else's. */
  readonly #slices = new TurnSlices();
  #pingTimer: NodeJS.Timeout | undefined;

  constructor(hub: HubContext, limits: ConnectionLimits) {
    this.#hub = hub;
    this.#shared = { limits, totals: hub.bus.totals, binaryRequests: new BinaryRequests() };
    for (const o of allOperations) this.#add(fromOperation(hub, o));
    for (const m of faceMethods(hub, () => this.#methods)) this.#add(m);
  }

  /** Queue bounds from a reloaded config: every connection, open or new, goes by them at once. */
  setLimits(limits: ConnectionLimits): void {
    Object.assign(this.#shared.limits, limits);
  }

  /** Frames read and not yet handled (a burst being handled in slices), as the store holds a commit for them. */
  get backlog(): { readonly handled: number; readonly waiting: number } {
    return this.#slices;
  }

  /** Requests open at members that take binary records. */
  get binaryRequestsOpen(): number {
    return this.#shared.binaryRequests.open;
  }

  start(): void {
    this.#pingTimer = setInterval(() => {
      for (const c of this.connections) {
        if (!c.alive) { c.close('no pong'); continue; }
        c.alive = false;
      }
    }, PONG_CHECK_MS);
    this.#pingTimer.unref();
  }

  stop(reason = 'hub shutting down'): void {
    clearInterval(this.#pingTimer);
    for (const c of this.connections) c.close(reason);
  }

  /** Drops every connection without waiting for the peer's close frame. */
  terminateAll(): void {
    for (const c of this.connections) c.terminate();
  }

  /** Takes over an accepted socket. */
  accept(socket: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = url.searchParams.get('token') ?? bearer(req.headers.authorization);
    const conn = new WsConnection(socket, req.socket, req.socket.remoteAddress ?? '', token ?? undefined, this.#shared);
    this.connections.add(conn);
    socket.on('pong', () => { conn.alive = true; });
    const pinger = setInterval(() => { if (socket.readyState === 1) socket.ping(); }, PING_MS);
    pinger.unref();
    const frames = new FrameQueue<Frame>({
      // Every reply path catches its own errors; this is the backstop that keeps one frame from taking the hub down.
      handle: (f) => void this.#onMessage(conn, f.data, f.isBinary).catch((err: unknown) => this.#hub.log.error({ err }, 'unhandled error on a WebSocket frame')),
      sizeOf: (f) => f.data.length,
      pause: () => socket.pause(),
      resume: () => socket.resume(),
    });
    conn.holdWritesWhile(() => frames.length > 0);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      conn.alive = true;
      this.#slices.offer(frames, { data, isBinary });
    });
    socket.on('close', () => {
      clearInterval(pinger);
      // After the frames it sent before closing (turn-slices.ts): their members' sessions end with it.
      frames.whenDrained(() => {
        this.connections.delete(conn);
        conn.closed();
        this.#hub.registry.connectionClosed(conn);
      });
    });
    socket.on('error', () => { /* 'close' follows */ });
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
    if (isBinary) return handleBinaryFrame(hub.bus, this.#shared.binaryRequests, conn, data);
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
      return encodeResult(id, resultJson(result));
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

/** A service operation as a JSON-RPC method: the caller is the connection with its token. */
function fromOperation(hub: HubContext, op: Operation): WsMethod {
  return { name: op.name, summary: op.summary, params: op.params, result: op.result, run: (conn, p) => op.run(hub, p, conn.caller) };
}

function bearer(h: string | undefined): string | null {
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m ? m[1]!.trim() : null;
}
