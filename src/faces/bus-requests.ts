/**
 * Request/reply in the bus binary format. A member that took binary records (`bus.format
 * {binary: true}`) is asked with a handle record and answers with a reply or error record; the
 * answer goes back in the requester's own form: a reply or error record to a binary requester,
 * the JSON result or a MusterError to a JSON one (bus.request, HTTP). Every other target (a
 * JSON member, a member of another hub, no such member) takes the relay's JSON path
 * (Relay.request), so the error codes are the same on both paths.
 *
 * Bytes crossing into JSON (a bytes request to a JSON member, a bytes reply to a JSON requester)
 * become `{"bytes": "<base64>"}`; an empty JSON-flagged payload means null.
 *
 * Bounded: a connection has at most MAX_OPEN_PER_CONNECTION requests open as requester and as
 * target (more answer THROTTLED); timeouts sit on one deadline wheel whose timer runs only while
 * requests are open.
 */
import { DeadlineWheel, type WheelEntry } from '../core/deadline-wheel.js';
import { MusterError, toMusterError } from '../errors.js';
import { jsonBytesTooDeep, MAX_JSON_DEPTH } from '../schemas/json-depth.js';
import {
  encodeAnswerRecord, encodeRequestRecord, FRAME_MAGIC, KIND_ERROR, KIND_HANDLE, KIND_REPLY, type AnswerRecord, type RequestRecord,
} from './bus-binary.js';
import { BusPayload } from './bus-codec.js';
import type { BusSession, Relay, Sender } from './bus-relay.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './bus-schemas.js';
import { ADDRESS_PATTERN } from '../schemas/member.js';

export const MAX_OPEN_PER_CONNECTION = 10_000;
const MAX_TIMEOUT_MS = 300_000;
const MAX_METHOD_LENGTH = 128;
const TICK_MS = 10;
const MAGIC = Buffer.from([FRAME_MAGIC]);
const MEMBER_ADDRESS = new RegExp(ADDRESS_PATTERN);
const alloc = (n: number) => Buffer.allocUnsafe(n);

/** One request open at a member that takes binary records. */
class Pending implements WheelEntry {
  deadline = Infinity;
  slot = -1;
  constructor(
    readonly id: number,
    readonly target: BusSession,
    readonly to: string,
    readonly method: string,
    readonly timeoutMs: number,
    /** Who asked, for its open-request count (null over HTTP). */
    readonly asker: BusSession | null,
    /** A binary requester's own request id; the answer goes back as a record to `asker`. */
    readonly rid: number,
    /** A JSON requester's promise, when not a record. */
    readonly settle: ((err: MusterError | null, value: unknown) => void) | null,
  ) {}
}

/** Per connection: requests it has open (as requester) and those open at it (as target). */
interface ConnState {
  asking: number;
  asked: Set<Pending> | null;
}

export class BusRequests {
  readonly #relay: Relay;
  readonly #pending = new Map<number, Pending>();
  readonly #conns = new WeakMap<BusSession, ConnState>();
  #nextId = 1;
  #wheel: DeadlineWheel<Pending> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(relay: Relay) {
    this.#relay = relay;
  }

  /** Requests open at binary members now. */
  get open(): number {
    return this.#pending.size;
  }

  /** A JSON caller (bus.request over WebSocket, HTTP): resolves with the member's result as JSON. */
  ask(sender: Sender, to: string, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const asker = sender.session;
    this.#checkAsker(asker);
    const target = this.#relay.binaryTarget(sender, to);
    if (!target) return this.#relay.request(sender, to, method, params, timeoutMs);
    return new Promise((resolve, reject) => {
      const payload = BusPayload.json(JSON.stringify(params ?? null));
      this.#forward(sender, target, to, method, timeoutMs, payload, asker, 0, (err, value) => (err ? reject(err) : resolve(value)));
    });
  }

  /** A request record from `conn`: answered with a reply or error record carrying the record's id. */
  fromRecord(conn: BusSession, token: string | undefined, r: RequestRecord): void {
    let counted = false;
    try {
      const sender = this.#relay.senderOf(conn, r.from === '' ? undefined : r.from, token);
      if (!MEMBER_ADDRESS.test(r.where)) throw new MusterError('INVALID_PARAMS', 'A request names its target as name or hub/name');
      if (r.method.length === 0 || r.method.length > MAX_METHOD_LENGTH) {
        throw new MusterError('INVALID_PARAMS', `A request's method is 1 to ${MAX_METHOD_LENGTH} characters`);
      }
      const timeoutMs = r.timeoutMs === 0 ? DEFAULT_REQUEST_TIMEOUT_MS : r.timeoutMs;
      if (timeoutMs > MAX_TIMEOUT_MS) throw new MusterError('INVALID_PARAMS', `timeoutMs is at most ${MAX_TIMEOUT_MS}`);
      if (!r.isBytes) jsonOf(r.payload);
      this.#checkAsker(conn);
      const target = this.#relay.binaryTarget(sender, r.where);
      if (target) {
        // The record's payload is a view into the incoming frame: the handle record copies it.
        this.#forward(sender, target, r.where, r.method, timeoutMs, BusPayload.raw(r.payload, r.isBytes), conn, r.id, null);
        return;
      }
      // Not a binary member here: the JSON path, its answer turned into a record.
      const params = r.isBytes ? { bytes: Buffer.from(r.payload).toString('base64') } : jsonOf(r.payload);
      const rid = r.id;
      this.#state(conn).asking++;
      counted = true;
      // Encoding the answer is a step of its own, so that a failure there is this request's error too.
      this.#relay.request(sender, r.where, r.method, params, timeoutMs)
        .then((v) => BusPayload.json(JSON.stringify(v ?? null)))
        .then(
          (payload) => { this.#state(conn).asking--; this.#recordAnswer(conn, rid, r.where, null, payload); },
          (e: unknown) => { this.#state(conn).asking--; this.#recordAnswer(conn, rid, r.where, toMusterError(e), null); },
        );
    } catch (err) {
      if (counted) this.#state(conn).asking--;
      this.#relay.totals.requestErrors++;
      this.#recordAnswer(conn, r.id, r.where, toMusterError(err), null);
    }
  }

  /** A reply or error record from a member's connection. Unknown ids (late answers, others' ids) are ignored. */
  fromAnswer(conn: BusSession, r: AnswerRecord): void {
    const p = this.#pending.get(r.id);
    if (!p || p.target !== conn) return;
    this.#done(p);
    if (r.kind === KIND_ERROR) {
      const e = errorObject(r.payload);
      this.#fail(p, new MusterError('MEMBER_ERROR', e.message, { member: p.to, error: e }));
      return;
    }
    if (!r.isBytes) {
      try { jsonOf(r.payload); } catch {
        conn.notify('bus.error', JSON.stringify({ code: 'INVALID_PARAMS', message: `The reply to request ${r.id} does not hold valid JSON` }));
        this.#fail(p, new MusterError('MEMBER_ERROR', 'The member answered with invalid JSON', { member: p.to, error: { code: -32700, message: 'invalid JSON' } }));
        return;
      }
    }
    if (p.settle) p.settle(null, jsonValue(r.payload, r.isBytes));
    else if (p.asker) this.#recordAnswer(p.asker, p.rid, p.to, null, BusPayload.raw(r.payload, r.isBytes));
  }

  #checkAsker(asker: BusSession | null): void {
    if (asker && (this.#conns.get(asker)?.asking ?? 0) >= MAX_OPEN_PER_CONNECTION) {
      throw new MusterError('THROTTLED', `At most ${MAX_OPEN_PER_CONNECTION} requests open per connection`, { retryAfterMs: 100 });
    }
  }

  #forward(sender: Sender, target: BusSession, to: string, method: string, timeoutMs: number, payload: BusPayload,
    asker: BusSession | null, rid: number, settle: Pending['settle']): void {
    const ts = this.#state(target);
    const asked = (ts.asked ??= this.#watch(target));
    if (asked.size >= MAX_OPEN_PER_CONNECTION) throw new MusterError('THROTTLED', 'Too many requests open to this member', { retryAfterMs: 100 });
    const p = new Pending(this.#nextId++, target, to, method, timeoutMs, asker, rid, settle);
    this.#pending.set(p.id, p);
    asked.add(p);
    if (asker) this.#state(asker).asking++;
    this.#wheelOn().schedule(p, Date.now() + timeoutMs);
    target.enqueue(encodeRequestRecord({
      kind: KIND_HANDLE, isBytes: payload.isBytes, from: sender.name, where: to, id: p.id, timeoutMs, method, payload: payload.raw,
    }, alloc) as Buffer);
  }

  /** Takes a request off every table. */
  #done(p: Pending): void {
    this.#pending.delete(p.id);
    this.#wheel?.cancel(p);
    this.#conns.get(p.target)?.asked?.delete(p);
    if (p.asker) this.#state(p.asker).asking--;
  }

  #fail(p: Pending, err: MusterError): void {
    this.#relay.totals.requestErrors++;
    if (p.settle) p.settle(err, null);
    else if (p.asker) this.#recordAnswer(p.asker, p.rid, p.to, err, null);
  }

  /** A reply or error record to a binary requester: with its deliveries in binary mode, else a frame of its own. */
  #recordAnswer(conn: BusSession, rid: number, to: string, err: MusterError | null, value: BusPayload | null): void {
    if (!conn.open) return;
    // `to` is whatever the request named; only a real address fits the record's one-byte ASCII `from`.
    const from = MEMBER_ADDRESS.test(to) ? to : '';
    const rec = encodeAnswerRecord(err
      ? { kind: KIND_ERROR, isBytes: false, from, where: err.code, id: rid, payload: Buffer.from(JSON.stringify(err.toJSON())) }
      : { kind: KIND_REPLY, isBytes: value!.isBytes, from, where: '', id: rid, payload: value!.raw }, alloc) as Buffer;
    if (conn.busBinary) conn.enqueue(rec);
    else (conn as Partial<{ send(data: Buffer): void }>).send?.(Buffer.concat([MAGIC, rec]));
  }

  #state(conn: BusSession): ConnState {
    let s = this.#conns.get(conn);
    if (!s) this.#conns.set(conn, (s = { asking: 0, asked: null }));
    return s;
  }

  /** A target's open requests, failed with MEMBER_GONE when its connection closes. */
  #watch(target: BusSession): Set<Pending> {
    const asked = new Set<Pending>();
    target.onClose(() => {
      for (const p of [...asked]) {
        this.#done(p);
        this.#fail(p, new MusterError('MEMBER_GONE', 'The member disconnected before answering'));
      }
    });
    return asked;
  }

  /** The timeout wheel; its timer runs while requests are open and stops at the first tick with none. */
  #wheelOn(): DeadlineWheel<Pending> {
    const wheel = (this.#wheel ??= new DeadlineWheel<Pending>((p) => {
      this.#done(p);
      this.#fail(p, new MusterError('TIMEOUT', `No answer to ${p.method} within ${p.timeoutMs} ms`, { timeoutMs: p.timeoutMs }));
    }, { resolutionMs: TICK_MS }));
    if (!this.#timer) {
      this.#timer = setInterval(() => {
        wheel.tick();
        if (this.#pending.size === 0) {
          // A fresh wheel next time: an idle wheel would have every missed slot to walk.
          clearInterval(this.#timer);
          this.#timer = undefined;
          this.#wheel = null;
        }
      }, TICK_MS);
      this.#timer.unref();
    }
    return wheel;
  }
}

/** The JSON value of a JSON-flagged payload (empty: null); throws INVALID_PARAMS. */
function jsonOf(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) return null;
  if (jsonBytesTooDeep(bytes)) throw new MusterError('INVALID_PARAMS', `A record's JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new MusterError('INVALID_PARAMS', 'A record flagged JSON does not hold valid JSON');
  }
}

/** A payload as a JSON value: bytes as {bytes: base64}. */
function jsonValue(bytes: Uint8Array, isBytes: boolean): unknown {
  return isBytes ? { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') } : jsonOf(bytes);
}

/** A member's error record as a JSON-RPC error object, as the JSON path reports it (code -32000 when not a number). */
function errorObject(bytes: Uint8Array): { code: number; message: string; data?: unknown } {
  let e: { code?: unknown; message?: unknown; data?: unknown } = {};
  try {
    const v = jsonOf(bytes);
    if (v && typeof v === 'object') e = v as typeof e;
  } catch { /* not JSON: a generic error */ }
  const out: { code: number; message: string; data?: unknown } = {
    code: typeof e.code === 'number' ? e.code : -32000, message: typeof e.message === 'string' ? e.message : 'error',
  };
  if (e.data !== undefined) out.data = e.data;
  return out;
}
