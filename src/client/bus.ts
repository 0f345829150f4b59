/**
 * The bus in the SDK: publish/subscribe on RSB scopes, broadcast, send, request/reply.
 *
 *   const b = bus(client);                        // client has registered a member
 *   for await (const m of b.subscribe('/sensors/')) console.log(m.from, m.scope, m.data);
 *   await b.publish('/sensors/t1/', { celsius: 21.5 });
 *   await b.publish('/blobs/', new Uint8Array([1, 2, 3]));   // arrives as a Uint8Array
 *   b.onRequest('add', (p) => p.a + p.b);
 *   await b.request('calc', 'add', { a: 1, b: 2 }, { timeoutMs: 2000 });
 *
 * Subscriptions are made again after a reconnect. Over JSON, bytes travel as base64 (`bytes`).
 */
import type { MethodParams, MethodResult } from './hub-methods.js';
import type { MusterClient } from './types.js';

export type MessageKind = 'publish' | 'broadcast' | 'send';

export interface BusMessage {
  kind: MessageKind;
  from: string;
  /** The scope a publish was made on (normalized: `/a/b/`). */
  scope?: string;
  /** The receiver of a `send`. */
  to?: string;
  /** The sender's sequence number. */
  seq: number;
  /** Microseconds since the epoch: made, sent by the sender's SDK, received by the hub, delivered here. */
  created: number;
  sent: number;
  received: number;
  delivered: number;
  /** A JSON value, or a Uint8Array for bytes. */
  data: unknown;
}

export interface SendOptions {
  /** The member to send as, when this client registered several. */
  from?: string;
  /** When the message was made (µs since the epoch); default now. */
  created?: number;
}

export type SendResult = MethodResult<'bus.publish'>;

export interface SubscribeOptions {
  /** Also receive this connection's own publishes. */
  echo?: boolean;
  /** Messages buffered for a slow async-iterator reader; past it new ones are dropped (counted). Default 10000. */
  maxQueue?: number;
}

export interface Subscription extends AsyncIterable<BusMessage> {
  readonly scope: string;
  /** Messages dropped because the reader was slower than the buffer. */
  readonly dropped: number;
  /** Resolves once the hub has accepted the subscription (rejects with INVALID_SCOPE, ...). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface RequestContext { from: string }
export type BusRequestHandler = (params: unknown, ctx: RequestContext) => unknown | Promise<unknown>;

export interface Bus {
  publish(scope: string, data: unknown, options?: SendOptions): Promise<SendResult>;
  subscribe(scope: string, options?: SubscribeOptions): Subscription;
  subscribe(scope: string, handler: (m: BusMessage) => void, options?: SubscribeOptions): Subscription;
  broadcast(data: unknown, options?: SendOptions): Promise<SendResult>;
  send(name: string, data: unknown, options?: SendOptions): Promise<SendResult>;
  /** Asks a member; resolves with its answer, rejects with its error (MEMBER_ERROR), NO_SUCH_MEMBER, MEMBER_GONE or TIMEOUT. */
  request<T = unknown>(name: string, method: string, params?: unknown, options?: { timeoutMs?: number; from?: string }): Promise<T>;
  /** Answers requests for `method` from other members. Returns a remover. */
  onRequest(method: string, handler: BusRequestHandler): () => void;
  /** Every message delivered to this connection (publishes, broadcasts, sends). Returns a remover. */
  onMessage(handler: (m: BusMessage) => void): () => void;
}

const nowMicros = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The payload fields every bus send shares (BroadcastParams is exactly them). */
function payloadParams(data: unknown, o: SendOptions = {}): MethodParams<'bus.broadcast'> {
  const p: MethodParams<'bus.broadcast'> = data instanceof Uint8Array ? { bytes: toBase64(data) } : { data: data ?? null };
  if (o.from !== undefined) p.from = o.from;
  const sent = nowMicros();
  p.sent = sent;
  p.created = o.created ?? sent;
  return p;
}

interface WireMessage {
  kind: MessageKind; from: string; scope?: string; to?: string; seq: number;
  created: number; sent: number; received: number; data?: unknown; bytes?: string;
}

interface LocalSub {
  scope: string;
  echo: boolean;
  hubId: number | null;
  push(m: BusMessage): void;
}

class BusImpl implements Bus {
  readonly #client: MusterClient;
  readonly #subs = new Set<LocalSub>();
  readonly #messageHandlers = new Set<(m: BusMessage) => void>();
  readonly #requestHandlers = new Map<string, BusRequestHandler>();

  constructor(client: MusterClient) {
    this.#client = client;
    client.onNotification('bus.message', (p) => this.#onMessage(p as WireMessage));
    client.handle('bus.handle', (p) => {
      const { from, method, params } = p as { from: string; method: string; params: unknown };
      const h = this.#requestHandlers.get(method);
      if (!h) throw Object.assign(new Error(`No handler for ${method}`), { code: 'METHOD_NOT_FOUND' });
      return h(params, { from });
    });
    client.on('status', (s) => { if (s.type === 'reconnected') this.#resubscribe(); });
  }

  publish(scope: string, data: unknown, options?: SendOptions): Promise<SendResult> {
    return this.#client.call('bus.publish', { scope, ...payloadParams(data, options) });
  }

  broadcast(data: unknown, options?: SendOptions): Promise<SendResult> {
    return this.#client.call('bus.broadcast', payloadParams(data, options));
  }

  send(name: string, data: unknown, options?: SendOptions): Promise<SendResult> {
    return this.#client.call('bus.send', { to: name, ...payloadParams(data, options) });
  }

  request<T = unknown>(name: string, method: string, params?: unknown, options: { timeoutMs?: number; from?: string } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const p: MethodParams<'bus.request'> = { to: name, method, params: params ?? null, timeoutMs };
    if (options.from !== undefined) p.from = options.from;
    // The local timeout leaves the hub time to answer TIMEOUT itself. The answer is the member's: no schema types it.
    return this.#client.call('bus.request', p, { timeoutMs: timeoutMs + 2000 }) as Promise<T>;
  }

  onRequest(method: string, handler: BusRequestHandler): () => void {
    this.#requestHandlers.set(method, handler);
    return () => { if (this.#requestHandlers.get(method) === handler) this.#requestHandlers.delete(method); };
  }

  onMessage(handler: (m: BusMessage) => void): () => void {
    this.#messageHandlers.add(handler);
    return () => { this.#messageHandlers.delete(handler); };
  }

  subscribe(scope: string, a?: SubscribeOptions | ((m: BusMessage) => void), b?: SubscribeOptions): Subscription {
    const handler = typeof a === 'function' ? a : null;
    const options = (typeof a === 'function' ? b : a) ?? {};
    const maxQueue = options.maxQueue ?? 10_000;
    const queue: BusMessage[] = [];
    let waiter: ((r: IteratorResult<BusMessage>) => void) | null = null;
    let closed = false;
    let dropped = 0;
    const local: LocalSub = {
      scope: scope.endsWith('/') ? scope : `${scope}/`, echo: options.echo ?? false, hubId: null,
      push: (m) => {
        if (closed) return;
        if (handler) { try { handler(m); } catch { /* a handler's bug must not break the client */ } return; }
        if (waiter) { const w = waiter; waiter = null; w({ value: m, done: false }); return; }
        if (queue.length >= maxQueue) { dropped++; return; }
        queue.push(m);
      },
    };
    this.#subs.add(local);
    const ready = this.#open(local);
    ready.catch(() => { this.#subs.delete(local); });
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      this.#subs.delete(local);
      if (waiter) { const w = waiter; waiter = null; w({ value: undefined, done: true }); }
      if (local.hubId !== null && this.#client.connected) await this.#client.call('bus.unsubscribe', { subscription: local.hubId }).catch(() => {});
    };
    return {
      scope: local.scope, ready,
      get dropped() { return dropped; },
      close,
      [Symbol.asyncIterator]: (): AsyncIterator<BusMessage> => ({
        next: async () => {
          await ready;
          const m = queue.shift();
          if (m) return { value: m, done: false };
          if (closed) return { value: undefined, done: true };
          return new Promise((resolve) => { waiter = resolve; });
        },
        return: async () => { await close(); return { value: undefined, done: true }; },
      }),
    };
  }

  async #open(local: LocalSub): Promise<void> {
    const r = await this.#client.call('bus.subscribe', { scope: local.scope, echo: local.echo });
    local.hubId = r.subscription;
    local.scope = r.scope;
  }

  #resubscribe(): void {
    for (const s of this.#subs) { s.hubId = null; void this.#open(s).catch(() => {}); }
  }

  #onMessage(w: WireMessage): void {
    const m: BusMessage = {
      kind: w.kind, from: w.from, seq: w.seq, created: w.created, sent: w.sent, received: w.received, delivered: nowMicros(),
      data: w.bytes !== undefined ? fromBase64(w.bytes) : w.data,
    };
    if (w.scope !== undefined) m.scope = w.scope;
    if (w.to !== undefined) m.to = w.to;
    for (const h of this.#messageHandlers) { try { h(m); } catch { /* see above */ } }
    if (m.scope === undefined) return;
    // One delivery per connection: every local subscription whose scope covers it gets it.
    for (const s of this.#subs) if (m.scope.startsWith(s.scope)) s.push(m);
  }
}

const buses = new WeakMap<MusterClient, Bus>();

/** The bus of a client (one per client). */
export function bus(client: MusterClient): Bus {
  let b = buses.get(client);
  if (!b) buses.set(client, (b = new BusImpl(client)));
  return b;
}
