/**
 * One WebSocket connection of the native face, as the core sees it (core/ports.ts): members are
 * bound to it, the bus and watches deliver to it, lifecycle commands reach components through it,
 * and a child hub's link is one too. It encodes what it is handed (JSON-RPC notifications, or bus
 * binary records after `bus.format {binary: true}`), keeps its outbound queue bounded, and asks
 * its peer with hub-to-client JSON-RPC requests (ids "h1", "h2", ...) or handle records.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { BusPayload } from '../../core/bus/message.js';
import type { BusTotals } from '../../core/bus/relay.js';
import type { Backlog, BusRequest, HubLink, Outbound } from '../../core/ports.js';
import type { Caller } from '../../core/registry/registry.js';
import type { CallOrigin } from '../../schemas/event.js';
import { MusterError, PeerError } from '../../errors.js';
import { IdTable } from '../../core/id-table.js';
import type { BinaryRequests } from './binary-requests.js';
import { BINARY_MESSAGE, JSON_MESSAGE, notificationOf } from './bus-codec.js';
import { encodeNotification } from './jsonrpc.js';
import { OutboundBatch } from './outbound-batch.js';

/** Bounds and policy every connection of the face shares. */
export interface ConnectionLimits {
  /** Bus messages a receiver may have queued. */
  queueMessages: number;
  /** Bytes a receiver may have queued (including the socket's unsent bytes). */
  queueBytes: number;
  /** Past the bound: lose the message, or the connection (close 1008). */
  slowPolicy: 'drop' | 'disconnect';
  /** Unsent bytes past which a watch is dropped (it resumes with `since`). */
  maxWatchQueueBytes: number;
}

interface PendingCall {
  /** The number in its JSON-RPC id (`h<id>`). */
  readonly id: number;
  resolve(result: unknown): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

/** Requests the hub may have open at one peer (JSON-RPC), as at one binary target. */
export const MAX_PENDING_REQUESTS = 10_000;

export class WsConnection implements HubLink {
  readonly id = randomUUID();
  readonly face = 'native';
  readonly remoteAddress: string;
  /** Admin or member token presented at connect (?token=) or with `auth`. */
  token: string | undefined;
  /** Seen since the last ping round (a pong or any frame). */
  alive = true;
  readonly #socket: WebSocket;
  readonly #out: OutboundBatch;
  readonly #limits: ConnectionLimits;
  readonly #totals: BusTotals;
  readonly #binaryRequests: BinaryRequests;
  /** The hub's calls open at this member, by the number in their id (`h<n>`); not a Map (id-table.ts). */
  #pending = new IdTable<PendingCall>();
  #nextRequestId = 1;
  #closeListeners: ((reason: string) => void)[] = [];
  #closeReason = 'connection closed';
  readonly #from: CallOrigin;

  constructor(socket: WebSocket, raw: Duplex | null, remoteAddress: string, token: string | undefined,
    shared: { limits: ConnectionLimits; totals: BusTotals; binaryRequests: BinaryRequests }) {
    this.#socket = socket;
    this.#out = new OutboundBatch(socket, raw);
    this.remoteAddress = remoteAddress;
    this.#from = { face: 'ws', address: remoteAddress };
    this.token = token;
    this.#limits = shared.limits;
    this.#totals = shared.totals;
    this.#binaryRequests = shared.binaryRequests;
  }

  get caller(): Caller {
    return { token: this.token, connection: this, from: this.#from };
  }

  get open(): boolean {
    return this.#socket.readyState === 1;
  }

  get backlog(): Backlog {
    return { messages: this.#out.messages, bytes: this.#out.bytes };
  }

  /** Bus deliveries to this connection are binary records (bus-binary.ts), not JSON notifications. */
  get busBinary(): boolean {
    return this.#out.binary;
  }

  setBusBinary(on: boolean): void {
    this.#out.setBinary(on);
  }

  /** Holds this connection's writes of a turn while `pending()`: its own frames wait for a later slice (turn-slices.ts). */
  holdWritesWhile(pending: () => boolean): void {
    this.#out.holdWhile(pending);
  }

  deliver(out: Outbound): boolean {
    if (!this.open) return false;
    if (out.type === 'bus') {
      if (!this.#out.binary) return this.#queue(out.encoded(JSON_MESSAGE));
      const record = out.encoded(BINARY_MESSAGE);
      if (!this.#room(record.end - record.start)) return false;
      this.#out.enqueueSpan(record);
      return true;
    }
    // A watch event waits behind whatever the socket has not written; past the bound the watch is dropped.
    if (out.type === 'event' && this.#socket.bufferedAmount > this.#limits.maxWatchQueueBytes) return false;
    const n = notificationOf(out);
    const text = encodeNotification(n.method, n.params);
    if (out.type === 'tree-publish') return this.#queue(Buffer.from(text), true);
    this.#out.send(text);
    return true;
  }

  /** Sends an already-encoded frame (a reply, an error) after what is queued. */
  send(data: string | Buffer): void {
    this.#out.send(data);
  }

  /** Queues a frame for this turn's batch (binary records in binary mode, JSON notifications otherwise). */
  enqueue(frame: Uint8Array): void {
    this.#out.enqueue(frame);
  }

  notify(method: string, paramsJson: string): void {
    this.#out.send(encodeNotification(method, paramsJson));
  }

  /** One bounded queue for bus messages; hub links' publications as their own frames. */
  #queue(frame: Uint8Array, ownFrame = false): boolean {
    if (!this.#room(frame.length)) return false;
    if (ownFrame) this.send(frame as Buffer);
    else this.enqueue(frame);
    return true;
  }

  /** Whether a message of `bytes` fits the queue's bounds; past them, by the policy, the connection is closed. */
  #room(bytes: number): boolean {
    const l = this.#limits;
    if (this.#out.messages < l.queueMessages && this.#out.bytes + bytes <= l.queueBytes) return true;
    if (l.slowPolicy === 'disconnect') {
      this.#totals.slowDisconnects++;
      this.close('slow consumer: bus queue full', 1008);
    }
    return false;
  }

  /** Asks the member: a handle record in binary mode, else a `bus.handle` JSON-RPC request. */
  request(req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    if (!this.open) return Promise.reject(new MusterError('MEMBER_GONE', 'The member has no open connection'));
    if (this.#out.binary) return this.#binaryRequests.ask(this, req, timeoutMs);
    const params = `{"from":${JSON.stringify(req.from)},"method":${JSON.stringify(req.method)},"params":${req.payload.isBytes ? `{"bytes":"${req.payload.base64}"}` : req.payload.jsonText || 'null'}}`;
    return this.#ask('bus.handle', params, timeoutMs).then((result) => BusPayload.of(result));
  }

  /** A hub-to-client call (hub links): resolves with the result, rejects with a PeerError or TIMEOUT / MEMBER_GONE. */
  call(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    return this.#ask(method, JSON.stringify(params ?? {}), timeoutMs);
  }

  #ask(method: string, paramsJson: string, timeoutMs: number): Promise<unknown> {
    if (!this.open) return Promise.reject(new MusterError('MEMBER_GONE', 'The member has no open connection'));
    if (this.#pending.size >= MAX_PENDING_REQUESTS) return Promise.reject(new MusterError('THROTTLED', 'Too many requests open to this member', { retryAfterMs: 100 }));
    const n = this.#nextRequestId++;
    return new Promise((resolve, reject) => {
      const call: PendingCall = {
        id: n, resolve, reject,
        timer: setTimeout(() => {
          this.#pending.delete(call);
          reject(new MusterError('TIMEOUT', `No answer to ${method} within ${timeoutMs} ms`, { timeoutMs }));
        }, timeoutMs),
      };
      this.#pending.add(call);
      this.#out.send(`{"jsonrpc":"2.0","id":"h${n}","method":${JSON.stringify(method)},"params":${paramsJson}}`);
    });
  }

  /** A response from the peer to one of the hub's requests. Unknown ids are ignored. */
  settle(id: unknown, result: unknown, error: unknown): void {
    if (typeof id !== 'string' || id.charCodeAt(0) !== 0x68 /* h */) return;
    const n = Number(id.slice(1));
    const p = Number.isSafeInteger(n) ? this.#pending.get(n) : undefined;
    // `h1` only: `h01` or `h1.0` name no call of the hub's.
    if (!p || id !== `h${n}`) return;
    this.#pending.delete(p);
    clearTimeout(p.timer);
    if (error !== undefined && error !== null) p.reject(PeerError.from(error));
    else p.resolve(result);
  }

  close(reason: string, code = 1001): void {
    this.#closeReason = reason;
    this.#socket.close(code, reason.slice(0, 120));
  }

  terminate(): void {
    this.#socket.terminate();
  }

  onClose(listener: (reason: string) => void): void {
    this.#closeListeners.push(listener);
  }

  /** Called once by the face when the socket closed: open requests fail MEMBER_GONE, listeners hear why. */
  closed(): void {
    this.#out.clear();
    const open = [...this.#pending.values()];
    this.#pending = new IdTable<PendingCall>();
    for (const p of open) {
      clearTimeout(p.timer);
      p.reject(new MusterError('MEMBER_GONE', 'The member disconnected before answering'));
    }
    this.#binaryRequests.closed(this);
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const l of listeners) l(this.#closeReason);
  }
}
