/**
 * JSON-RPC 2.0 over one open socket: numbered requests with timeouts, notifications, and
 * requests from the hub (ids "h1", "h2", ...) answered by a handler. Binary frames (the bus
 * binary format) pass through both ways untouched. Knows nothing of muster's methods (the client
 * names those it may batch); the client builds on it and makes a new one per (re)connection.
 *
 * Where the socket coalesces a turn's writes (Node), a turn's requests of the batched methods
 * leave as one JSON-RPC batch, which the hub parses and answers as one frame: 64 awaited
 * registrations cost the hub about a quarter less CPU each than as 64 frames (docs/benchmarks.md).
 * The hub answers a batch once every call in it is done, so only methods it answers without
 * waiting on anyone else are batched. Frames keep the order of the calls that made them.
 */
import { ERRORS, isErrorCode } from '../errors.js';
import { FRAME_MAGIC } from '../faces/native/bus-binary.js';
import { ConnectionClosedError, fromRpcError, MusterClientError, TimeoutError } from './errors.js';
import { messageBytes, OPEN, type WebSocketFactory, type WebSocketLike } from './transport.js';
import { IdTable } from '../core/id-table.js';

export interface RpcHandlers {
  notification(method: string, params: unknown): void;
  /** Answers a hub-to-client request; a throw becomes an error reply. */
  request(method: string, params: unknown): Promise<unknown>;
  /** A binary frame from the hub. */
  binary?(frame: Uint8Array): void;
  /** An error the hub could not tie to a request (id null: a frame it refused whole). */
  orphanError?(err: MusterClientError): void;
  /** The socket closed (not called when close() was asked for by the client). */
  closed(reason: string): void;
}

interface Pending {
  readonly id: number;
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const utf8 = new TextDecoder();
const NONE: ReadonlySet<string> = new Set();

/** Requests a connection may have open at once; past this, calls fail fast instead of queueing. */
const MAX_PENDING = 10_000;

/**
 * A batch's size at most, in bytes: within any hub's message limit (maxMessageBytes is 1 KiB at
 * least), which the SDK is not told. Only ASCII texts are batched, so their length is their bytes.
 */
export const BATCH_BYTES = 1024;
const ASCII = /^[\x00-\x7f]*$/;

export class RpcConnection {
  readonly #socket: WebSocketLike;
  readonly #handlers: RpcHandlers;
  /** Not a Map: one set and one delete per call would keep answered calls alive in V8 (id-table.ts). */
  #pending = new IdTable<Pending>();
  #nextId = 1;
  #closed = false;
  /** Methods whose requests of one turn leave as one batch (where the socket coalesces). */
  readonly #batched: ReadonlySet<string>;
  /** This turn's batched requests, sent when the turn ends or before any other frame; #turnBytes: their lengths plus a comma each. */
  #turn: string[] = [];
  #turnBytes = 0;
  #turnScheduled = false;
  /** Time of the last frame from the hub (keepalive uses it). */
  lastReceived = Date.now();

  private constructor(socket: WebSocketLike, handlers: RpcHandlers, batched: ReadonlySet<string>) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#batched = socket.coalesce ? batched : NONE;
    // Browsers hand binary frames over as Blobs (asynchronous to read) unless told otherwise; `ws` gives Buffers.
    if (socket.binaryType === 'blob') socket.binaryType = 'arraybuffer';
    socket.onmessage = (ev) => this.#onMessage(ev.data);
    socket.onclose = (ev) => this.#onClose(ev.reason ? `${ev.code} ${ev.reason}` : `closed (${ev.code})`);
    socket.onerror = () => { /* onclose follows */ };
  }

  /** Opens a socket; rejects with ConnectionClosedError if it does not open within timeoutMs. `batched`: see the top of this file. */
  static open(factory: WebSocketFactory, url: string, handlers: RpcHandlers, timeoutMs: number, batched: ReadonlySet<string> = NONE): Promise<RpcConnection> {
    return new Promise((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = factory(url);
      } catch (err) {
        reject(new ConnectionClosedError(`Cannot connect to ${redact(url)}: ${(err as Error).message}`, { cause: err }));
        return;
      }
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.onopen = socket.onclose = null;
        // Closing a socket that is still connecting raises an error event; without a handler Node's `ws` would throw it.
        socket.onerror = () => {};
        try { socket.close(); } catch { /* already closed */ }
        reject(new ConnectionClosedError(`Cannot connect to ${redact(url)}: ${why}`));
      };
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      socket.onerror = (ev) => fail(errorText(ev));
      socket.onclose = (ev) => fail(ev.reason || `closed (${ev.code})`);
      socket.onopen = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.onopen = null;
        resolve(new RpcConnection(socket, handlers, batched));
      };
    });
  }

  get open(): boolean {
    return !this.#closed && this.#socket.readyState === OPEN;
  }

  /** Bytes sent and not yet written to the network (0 where the socket does not tell). */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount ?? 0;
  }

  /** A binary frame (dropped when closed). */
  sendBinary(frame: Uint8Array): void {
    if (this.open) this.#send(frame);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  call(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.open) return Promise.reject(new ConnectionClosedError());
    if (this.#pending.size >= MAX_PENDING) {
      return Promise.reject(new MusterClientError('THROTTLED', `More than ${MAX_PENDING} requests are waiting for the hub`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        id, resolve, reject,
        timer: setTimeout(() => {
          this.#pending.delete(p);
          reject(new TimeoutError(`No answer to ${method} within ${timeoutMs} ms`, { method, timeoutMs }));
        }, timeoutMs),
      };
      this.#pending.add(p);
      const text = JSON.stringify({ jsonrpc: '2.0', id, method, params });
      // One that cannot join a batch goes alone, after the turn's batch (#send).
      const batched = this.#batched.has(method) && text.length + 3 <= BATCH_BYTES && ASCII.test(text);
      // Queued before the socket is corked, so the batch goes out before it is uncorked (in the same write).
      if (batched) this.#queue(text);
      this.#socket.coalesce?.();
      if (!batched) this.#send(text);
    });
  }

  /** Adds a request to this turn's batch, sending the batch first if it would not fit. */
  #queue(text: string): void {
    // [a,b]: the lengths, a comma between each two, the brackets.
    if (this.#turnBytes + text.length + 2 > BATCH_BYTES) this.#flushTurn();
    this.#turn.push(text);
    this.#turnBytes += text.length + 1;
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#flushTurn();
    });
  }

  #flushTurn(): void {
    const turn = this.#turn;
    if (turn.length === 0) return;
    this.#turn = [];
    this.#turnBytes = 0;
    // Closed meanwhile: their calls were failed with the connection.
    if (this.open) this.#socket.send(turn.length === 1 ? turn[0]! : `[${turn.join(',')}]`);
  }

  /** Every frame but a batch leaves here: after the turn's batch, so frames keep the order of their calls. */
  #send(data: string | Uint8Array): void {
    if (this.#turn.length > 0) this.#flushTurn();
    this.#socket.send(data);
  }

  /** A notification with already-encoded params (fire-and-forget; dropped when closed). */
  notify(method: string, paramsJson: string): void {
    if (this.open) this.#send(`{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${paramsJson}}`);
  }

  /**
   * Closes the socket; open calls fail with ConnectionClosedError. `closed` is not reported.
   * Resolves when the socket has closed (or after a second, if the hub does not answer the close).
   */
  close(code = 1000, reason = 'client closed'): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#rejectAll(reason);
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.#socket.onclose = () => { clearTimeout(timer); resolve(); };
    });
    try { this.#socket.close(code, reason); } catch { /* already closing */ }
    return done;
  }

  /** Gives up on a link that stopped answering: closes it and reports it closed. */
  abort(reason: string): void {
    if (this.#closed) return;
    try { this.#socket.close(4000, reason.slice(0, 100)); } catch { /* already closing */ }
    this.#onClose(reason);
  }

  #onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectAll(reason);
    this.#handlers.closed(reason);
  }

  #rejectAll(reason: string): void {
    const open = [...this.#pending.values()];
    this.#pending = new IdTable<Pending>();
    for (const p of open) {
      clearTimeout(p.timer);
      p.reject(new ConnectionClosedError(`The connection closed before the hub answered (${reason})`));
    }
  }

  #onMessage(data: unknown): void {
    this.lastReceived = Date.now();
    let text: string;
    if (typeof data === 'string') text = data;
    else {
      const bytes = messageBytes(data);
      if (!bytes) return;
      if (bytes[0] === FRAME_MAGIC) { this.#handlers.binary?.(bytes); return; }
      // Hubs send some JSON (hub.publish to a hub link) in binary frames.
      text = utf8.decode(bytes);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return; // the hub only sends JSON; a bad frame is not worth dropping the session for
    }
    for (const m of Array.isArray(value) ? value : [value]) this.#dispatch(m);
  }

  #dispatch(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const msg = m as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    if (typeof msg.method === 'string') {
      if (msg.id === undefined || msg.id === null) this.#handlers.notification(msg.method, msg.params);
      else void this.#answer(msg.id, msg.method, msg.params);
      return;
    }
    if (msg.id === null && msg.error !== undefined && msg.error !== null) { this.#handlers.orphanError?.(fromRpcError(msg.error)); return; }
    if (typeof msg.id !== 'number') return;
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(p);
    clearTimeout(p.timer);
    if (msg.error !== undefined && msg.error !== null) p.reject(fromRpcError(msg.error));
    else p.resolve(msg.result);
  }

  async #answer(id: unknown, method: string, params: unknown): Promise<void> {
    let reply: string;
    try {
      const result = await this.#handlers.request(method, params);
      reply = JSON.stringify({ jsonrpc: '2.0', id, result: result ?? null });
    } catch (err) {
      reply = JSON.stringify({ jsonrpc: '2.0', id, error: toRpcError(err) });
    }
    if (this.open) this.#send(reply);
  }
}

/** A thrown value as a JSON-RPC error object carrying a muster code in data.code. */
export function toRpcError(err: unknown): { code: number; message: string; data: { code: string; details?: Record<string, unknown> } } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; details?: unknown };
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  const code = typeof e.code === 'string' ? e.code : 'INTERNAL';
  const rpc = isErrorCode(code) ? ERRORS[code].rpc : -32000;
  const data: { code: string; details?: Record<string, unknown> } = { code };
  if (typeof e.details === 'object' && e.details !== null) data.details = e.details as Record<string, unknown>;
  return { code: rpc, message, data };
}

function errorText(ev: unknown): string {
  const e = ev as { message?: unknown; error?: { message?: unknown } } | null;
  if (typeof e?.error?.message === 'string') return e.error.message;
  if (typeof e?.message === 'string') return e.message;
  return 'connection failed';
}

/** A URL fit for an error message: no token, no password (ws://user:***@host). */
function redact(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, '$1***').replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^@]*@/i, '$1:***@');
}
