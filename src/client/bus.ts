/**
 * The bus in the SDK: publish/subscribe on RSB scopes, broadcast, send, request/reply, over the
 * hub's bus binary format (payloads as bytes, no JSON-RPC per message).
 *
 *   const b = bus(client);                        // client has registered a member
 *   for await (const m of b.subscribe('/sensors/')) console.log(m.from, m.scope, m.data);
 *   b.publish('/sensors/t1/', { celsius: 21.5 });              // fire-and-forget
 *   b.publish('/blobs/', new Uint8Array([1, 2, 3]));           // arrives as a Uint8Array
 *   await b.flush();                                           // the hub has read them (or the first refusal throws)
 *   b.onRequest('add', (p) => p.a + p.b);
 *   await b.request('calc', 'add', { a: 1, b: 2 }, { timeoutMs: 2000 });
 *
 * A turn's first message is written at once, the rest of the turn's as one WebSocket frame; the
 * send buffer is bounded (bus-sender.ts). Subscriptions are made again after a reconnect.
 */
import {
  decodeHubFrame, encodePublishRecord, KIND_CODE, KIND_NAME, type AnswerRecord, type DeliveryRecord, type HubRecords, type RequestRecord,
} from '../faces/native/bus-binary.js';
import { ADDRESS_PATTERN } from '../schemas/member.js';
import { Client } from './client.js';
import { MusterClientError } from './errors.js';
import type { FrameChannel } from './frame-channel.js';
import { decodePayload, encodePayload } from './bus-payload.js';
import { BusRequests, DEFAULT_REQUEST_TIMEOUT_MS, type BusRequestHandler } from './bus-requests.js';
import { RecordSender } from './bus-sender.js';
import { openSubscription, type LocalSub, type SubscribeOptions, type Subscription } from './bus-subscription.js';
import type { MusterClient } from './types.js';
import type { BusMessage, MessageKind } from './bus-message.js';

export type { BusRequestHandler, RequestContext } from './bus-requests.js';
export type { SubscribeOptions, Subscription } from './bus-subscription.js';
export type { BusMessage, MessageKind } from './bus-message.js';

export interface SendOptions {
  /** The member to send as, when this client registered several. */
  from?: string;
  /** When the message was made (µs since the epoch); default now. */
  created?: number;
}

export interface Bus {
  /**
   * Publishes on a scope, fire-and-forget: queued, and sent with everything else published in
   * this turn as one frame. Returns false once the send buffer is past half of `maxPendingBytes`:
   * `await flush()` before publishing more. Throws INVALID_SCOPE, SEND_BUFFER_FULL (the buffer
   * is full) or CONNECTION_CLOSED at once; the hub's refusals come later, to `onError` and `flush()`.
   */
  publish(scope: string, data: unknown, options?: SendOptions): boolean;
  /** To every connected member but the sender; as publish. */
  broadcast(data: unknown, options?: SendOptions): boolean;
  /** To one member by name (`hub/name` across a tree); as publish (NOT_CONNECTED, NO_SUCH_MEMBER come to onError). */
  send(name: string, data: unknown, options?: SendOptions): boolean;
  /**
   * Sends what is queued and resolves once the hub has read it (waiting out a reconnect up to the
   * request timeout). Rejects with the first refusal the hub reported since the last flush
   * (THROTTLED with details.retryAfterMs, INVALID_PARAMS, UNAUTHORIZED, NO_SUCH_MEMBER, ...).
   */
  flush(): Promise<void>;
  /** The hub's refusals of fire-and-forget sends, as they arrive. Returns a remover. */
  onError(handler: (err: MusterClientError) => void): () => void;
  subscribe(scope: string, options?: SubscribeOptions): Subscription;
  subscribe(scope: string, handler: (m: BusMessage) => void, options?: SubscribeOptions): Subscription;
  /** Asks a member; resolves with its answer, rejects with its error (MEMBER_ERROR), NO_SUCH_MEMBER, MEMBER_GONE or TIMEOUT. */
  request<T = unknown>(name: string, method: string, params?: unknown, options?: { timeoutMs?: number; from?: string }): Promise<T>;
  /** Answers requests for `method` from other members. Returns a remover. */
  onRequest(method: string, handler: BusRequestHandler): () => void;
  /** Every message delivered to this connection (publishes, broadcasts, sends). Returns a remover. */
  onMessage(handler: (m: BusMessage) => void): () => void;
}

const nowMicros = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);
const MEMBER_ADDRESS = new RegExp(ADDRESS_PATTERN);
const utf8 = new TextEncoder();
const SCOPE = /^\/(?:[-_a-zA-Z0-9]+\/)*$/;
const MAX_SCOPE_LENGTH = 1024;

/** A JSON `bus.message` notification (from hubs or paths that still send JSON). */
interface WireMessage {
  kind: MessageKind; from: string; scope?: string; to?: string; seq: number;
  created: number; sent: number; received: number; data?: unknown; bytes?: string;
}

class BusImpl implements Bus {
  readonly #channel: FrameChannel;
  readonly #sender: RecordSender;
  readonly #requests: BusRequests;
  readonly #client: MusterClient;
  readonly #subs = new Set<LocalSub>();
  readonly #messageHandlers = new Set<(m: BusMessage) => void>();
  readonly #errorHandlers = new Set<(err: MusterClientError) => void>();
  /** The first refusal since the last flush. */
  #failure: MusterClientError | null = null;
  readonly #scopes = new Map<string, string>();
  #lastName = '';
  readonly #visitor: HubRecords;
  #delivered = 0;

  constructor(client: Client) {
    this.#client = client;
    this.#channel = client.frames({ frame: (f) => this.#onFrame(f), orphanError: (e) => this.#refused(e) });
    this.#sender = new RecordSender(this.#channel, client.maxPendingBytes);
    this.#requests = new BusRequests(this.#sender);
    this.#visitor = {
      delivery: (r) => this.#onDelivery(r),
      handle: (r: RequestRecord) => this.#requests.handle(r),
      answer: (r: AnswerRecord) => this.#requests.answer(r),
    };
    client.onNotification('bus.message', (p) => this.#onJsonMessage(p as WireMessage));
    client.onNotification('bus.error', (p) => this.#refused(hubError(p, 'INTERNAL')));
    client.onNotification('bus.throttled', (p) => {
      const { retryAfterMs, from } = p as { retryAfterMs?: number; from?: string };
      this.#refused(new MusterClientError('THROTTLED', `${from ?? 'The sender'} is over its bus rate limit`, { retryAfterMs }));
    });
    client.handle('bus.handle', (p) => {
      const { from, method, params } = p as { from: string; method: string; params: unknown };
      return this.#requests.handleJson(method, params, from);
    });
    client.on('status', (s) => {
      if (s.type === 'disconnected' || s.type === 'closed') this.#requests.failAll(s.reason);
      if (s.type === 'reconnected') { this.#sender.sendNow(); this.#resubscribe(); }
    });
  }

  publish(scope: string, data: unknown, options?: SendOptions): boolean {
    return this.#queue(KIND_CODE.publish, this.#scope(scope), data, options);
  }

  broadcast(data: unknown, options?: SendOptions): boolean {
    return this.#queue(KIND_CODE.broadcast, '', data, options);
  }

  send(name: string, data: unknown, options?: SendOptions): boolean {
    return this.#queue(KIND_CODE.send, this.#name(name), data, options);
  }

  async flush(): Promise<void> {
    await this.#sender.flush();
    const failure = this.#failure;
    this.#failure = null;
    if (failure) throw failure;
  }

  onError(handler: (err: MusterClientError) => void): () => void {
    this.#errorHandlers.add(handler);
    return () => { this.#errorHandlers.delete(handler); };
  }

  request<T = unknown>(name: string, method: string, params?: unknown, options: { timeoutMs?: number; from?: string } = {}): Promise<T> {
    try {
      const from = options.from === undefined ? '' : this.#name(options.from);
      // 85 UTF-16 units are at most 255 bytes of UTF-8: only a longer method is encoded to be measured.
      if (method.length > 85 && utf8.encode(method).byteLength > 255) throw new MusterClientError('INVALID_PARAMS', 'A request\'s method is at most 255 bytes');
      const to = this.#name(name);
      const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      // The answer is the member's: no schema types it. Connected: asked in this turn, with no promise hop.
      if (this.#channel.connected) return this.#requests.ask(to, method, params ?? null, timeoutMs, from) as Promise<T>;
      return this.#channel.ready().then(() => this.#requests.ask(to, method, params ?? null, timeoutMs, from) as Promise<T>);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  onRequest(method: string, handler: BusRequestHandler): () => void {
    return this.#requests.setHandler(method, handler);
  }

  onMessage(handler: (m: BusMessage) => void): () => void {
    this.#messageHandlers.add(handler);
    return () => { this.#messageHandlers.delete(handler); };
  }

  subscribe(scope: string, a?: SubscribeOptions | ((m: BusMessage) => void), b?: SubscribeOptions): Subscription {
    return openSubscription(this.#client, this.#subs, scope, a, b);
  }

  #queue(kind: number, where: string, data: unknown, o: SendOptions = {}): boolean {
    this.#sender.checkRoom();
    const from = o.from === undefined ? '' : this.#name(o.from);
    const { isBytes, payload } = encodePayload(data);
    const sent = nowMicros();
    encodePublishRecord({ kind, isBytes, from, where, created: o.created ?? sent, sent, payload }, this.#sender.alloc);
    return this.#sender.added();
  }

  /** Normalized, checked here so that a typo throws at the call rather than arriving later as a refusal. */
  #scope(input: string): string {
    const known = this.#scopes.get(input);
    if (known !== undefined) return known;
    const scope = input.endsWith('/') ? input : `${input}/`;
    if (scope.length > MAX_SCOPE_LENGTH || !SCOPE.test(scope)) throw new MusterClientError('INVALID_SCOPE', `Not a scope: ${JSON.stringify(input.slice(0, 100))} (scopes look like /a/b/)`);
    if (this.#scopes.size >= 1000) this.#scopes.clear();
    this.#scopes.set(input, scope);
    return scope;
  }

  #name(name: string): string {
    if (name === this.#lastName) return name;
    if (!MEMBER_ADDRESS.test(name)) throw new MusterClientError('INVALID_PARAMS', `Not a member name: ${JSON.stringify(name.slice(0, 100))}`);
    this.#lastName = name;
    return name;
  }

  #refused(err: MusterClientError): void {
    this.#failure ??= err;
    for (const h of this.#errorHandlers) { try { h(err); } catch { /* a handler's bug must not break the client */ } }
  }

  #onFrame(frame: Uint8Array): void {
    this.#delivered = nowMicros();
    try {
      decodeHubFrame(frame, this.#visitor);
    } catch (err) {
      this.#refused(new MusterClientError('PROTOCOL_ERROR', `Unreadable bus frame from the hub: ${(err as Error).message}`));
    }
  }

  #onDelivery(r: DeliveryRecord): void {
    const kind = KIND_NAME[r.kind]!;
    const m: BusMessage = {
      kind, from: r.from, seq: r.seq, created: r.created, sent: r.sent, received: r.received, delivered: this.#delivered,
      data: decodePayload(r.payload, r.isBytes),
    };
    if (kind === 'publish') m.scope = r.where;
    else if (kind === 'send') m.to = r.where;
    this.#dispatch(m);
  }

  #onJsonMessage(w: WireMessage): void {
    const m: BusMessage = {
      kind: w.kind, from: w.from, seq: w.seq, created: w.created, sent: w.sent, received: w.received, delivered: nowMicros(),
      data: w.bytes !== undefined ? fromBase64(w.bytes) : w.data,
    };
    if (w.scope !== undefined) m.scope = w.scope;
    if (w.to !== undefined) m.to = w.to;
    this.#dispatch(m);
  }

  #dispatch(m: BusMessage): void {
    for (const h of this.#messageHandlers) { try { h(m); } catch { /* see #refused */ } }
    if (m.scope === undefined) return;
    // One delivery per connection: every local subscription whose scope covers it gets it.
    for (const s of this.#subs) if (m.scope.startsWith(s.scope)) s.push(m);
  }

  #resubscribe(): void {
    for (const s of this.#subs) s.reopen();
  }
}

/** A `bus.error` notification's `{code, message, details?}` as an error. */
function hubError(p: unknown, fallback: string): MusterClientError {
  const e = (typeof p === 'object' && p !== null ? p : {}) as { code?: unknown; message?: unknown; details?: unknown };
  const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
  return new MusterClientError(typeof e.code === 'string' ? e.code : fallback, typeof e.message === 'string' ? e.message : 'The hub refused a bus record', details);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const buses = new WeakMap<MusterClient, Bus>();

/** The bus of a client made by `connect` (one per client). */
export function bus(client: MusterClient): Bus {
  let b = buses.get(client);
  if (b) return b;
  if (!(client instanceof Client)) throw new TypeError('bus() takes a client made by connect()');
  buses.set(client, (b = new BusImpl(client)));
  return b;
}
