/**
 * Request/reply over the bus binary format: this client's requests (request records, answered
 * by reply or error records quoting their id) and its answers to other members' requests
 * (handle records, answered the same way). Timeouts are the hub's (it answers TIMEOUT); the
 * local deadline, 2 s later, only covers a hub that stopped answering, so one coarse timer
 * serves every open request.
 */
import {
  encodeAnswerRecord, encodeRequestRecord, KIND_ERROR, KIND_REPLY, KIND_REQUEST, type AnswerRecord, type RequestRecord,
} from '../faces/native/bus-binary.js';
import { ConnectionClosedError, fromRpcError, MusterClientError, TimeoutError } from './errors.js';
import { decodePayload, encodePayload } from './bus-payload.js';
import type { RecordSender } from './bus-sender.js';
import { toRpcError } from './rpc-connection.js';
import { IdTable } from '../core/id-table.js';

export interface RequestContext { from: string }
export type BusRequestHandler = (params: unknown, ctx: RequestContext) => unknown | Promise<unknown>;

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** The hub's own bound on a requester's open requests. */
const MAX_OPEN = 10_000;
const GRACE_MS = 2000;
const TICK_MS = 250;

interface Open {
  readonly id: number;
  method: string;
  timeoutMs: number;
  deadline: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class BusRequests {
  readonly #sender: RecordSender;
  /** Not a Map: one set and one delete per request would keep answered requests alive in V8 (id-table.ts). */
  #open = new IdTable<Open>();
  readonly #handlers = new Map<string, BusRequestHandler>();
  #nextId = 1;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(sender: RecordSender) {
    this.#sender = sender;
  }

  /** Queues a request record; the answer settles the promise. Call when connected. */
  ask(to: string, method: string, params: unknown, timeoutMs: number, from: string): Promise<unknown> {
    if (this.#open.size >= MAX_OPEN) return Promise.reject(new MusterClientError('THROTTLED', `More than ${MAX_OPEN} requests are waiting for answers`, { retryAfterMs: 100 }));
    const { isBytes, payload } = encodePayload(params);
    const id = this.#nextId++;
    const promise = new Promise<unknown>((resolve, reject) => {
      this.#open.add({ id, method, timeoutMs, deadline: Date.now() + timeoutMs + GRACE_MS, resolve, reject });
    });
    encodeRequestRecord({ kind: KIND_REQUEST, isBytes, from, where: to, id, timeoutMs, method, payload }, this.#sender.alloc);
    this.#sender.added(true);
    this.#tick();
    return promise;
  }

  /** A reply or error record to one of this client's requests (unknown ids: late, ignored). */
  answer(r: AnswerRecord): void {
    const o = this.#open.get(r.id);
    if (!o) return;
    this.#open.delete(o);
    if (r.kind === KIND_REPLY) o.resolve(decodePayload(r.payload, r.isBytes));
    else o.reject(fromHubError(r.where, decodePayload(r.payload, false)));
  }

  /** The connection dropped: the hub forgot these requests. */
  failAll(reason: string): void {
    const open = [...this.#open.values()];
    this.#open = new IdTable<Open>();
    for (const o of open) o.reject(new ConnectionClosedError(`The connection closed before the answer to ${o.method} (${reason})`));
  }

  setHandler(method: string, handler: BusRequestHandler): () => void {
    this.#handlers.set(method, handler);
    return () => { if (this.#handlers.get(method) === handler) this.#handlers.delete(method); };
  }

  /** A member's request to this one, from the JSON path (`bus.handle`, e.g. forwarded across a tree of hubs). */
  handleJson(method: string, params: unknown, from: string): unknown {
    const h = this.#handlers.get(method);
    if (!h) throw new MusterClientError('METHOD_NOT_FOUND', `No handler for ${method}`);
    return h(params, { from });
  }

  /** A handle record: the handler's value (or throw) goes back as a reply (or error) record quoting the hub's id. */
  handle(r: RequestRecord): void {
    const id = r.id;
    let value: unknown;
    try {
      value = this.handleJson(r.method, decodePayload(r.payload, r.isBytes), r.from);
    } catch (err) {
      this.#reply(id, null, err);
      return;
    }
    if (value instanceof Promise) value.then((v: unknown) => this.#reply(id, v, null), (err: unknown) => this.#reply(id, null, err ?? new Error('rejected')));
    else this.#reply(id, value, null);
  }

  #reply(id: number, value: unknown, err: unknown): void {
    // An answer made after a drop quotes an id the new connection's hub side never gave.
    if (!this.#sender.connected) return;
    let record: AnswerRecord;
    try {
      record = err === null ? { kind: KIND_REPLY, from: '', where: '', id, ...encodePayload(value) } : errorRecord(id, err);
    } catch (encodeErr) {
      record = errorRecord(id, encodeErr);
    }
    encodeAnswerRecord(record, this.#sender.alloc);
    this.#sender.added(true);
  }

  /** One timer while requests are open, for hubs that stopped answering. */
  #tick(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const o of this.#open.values()) {
        if (o.deadline > now) continue;
        this.#open.delete(o);
        o.reject(new TimeoutError(`No answer to ${o.method} within ${o.timeoutMs} ms`, { method: o.method, timeoutMs: o.timeoutMs }));
      }
      if (this.#open.size === 0) { clearInterval(this.#timer); this.#timer = undefined; }
    }, TICK_MS);
  }
}

function errorRecord(id: number, err: unknown): AnswerRecord {
  return { kind: KIND_ERROR, isBytes: false, from: '', where: '', id, payload: new TextEncoder().encode(JSON.stringify(toRpcError(err))) };
}

/** The hub's error record: `where` is the muster code, the payload `{code, message, details?}`. */
function fromHubError(code: string, body: unknown): MusterClientError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { message?: unknown; details?: unknown };
  return fromRpcError({ message: typeof b.message === 'string' ? b.message : code, data: { code, details: b.details } });
}
