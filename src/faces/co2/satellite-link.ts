/**
 * One satellite as the core sees it (core/ports.ts Connection). Bus messages for it wait in a
 * bounded queue and leave through a token bucket as `notify` calls on one connection, so they
 * arrive in order: one call at a time until the satellite shows it keeps connections alive, then
 * several at once (pipelined, http-client.ts), those of one turn of the event loop in one write.
 * A notify that fails or hangs (past the call timeout) is counted and the next one goes (a hang
 * closes the connection, and the notifies sent behind it on it fail and are counted with it); a
 * satellite that closes the connection with notifies unanswered gets them again on a new one.
 * Every satellite has its own queue, connection and pump, so a slow one never holds up the others.
 * Bus requests become XML-RPC calls of the request's method with its payload as the one param,
 * each on a connection of its own (kept for the next request while the satellite allows).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BusPayload } from '../../core/bus/message.js';
import { TokenBucket } from '../../core/bus/rate-limit.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import { MusterError, PeerError } from '../../errors.js';
import { encodeCall } from './encode.js';
import { CallFailed, ClientConnection, type Endpoint, type XmlRpcAnswer } from './http-client.js';
import { fromJsonValue, toJsonText } from './json-map.js';
import { notifyFrame, type NotifyCodec, type NotifyFrame, type NotifyPart } from './notify-codec.js';

export interface LinkLimits {
  /** Notify calls queued per satellite; past it a message is dropped (counted). */
  queueMessages: number;
  /** Notify calls per second per satellite (0 = unlimited). */
  notifyPerSec: number;
  /** Deadline of each call to the satellite (notify and bus requests). */
  callTimeoutMs: number;
}

export interface LinkDeps {
  codec: NotifyCodec;
  /** How long a connection to the satellite stays open without calls. */
  idleMs: number;
  limits: LinkLimits;
  log: Logger;
  /** A notify failed or timed out (the owner counts it against the member). */
  onNotifyFailed: () => void;
}

/** Bus requests open at one satellite at once. */
const MAX_OPEN_REQUESTS = 64;
/** Idle connections kept for the next bus request. */
const SPARE_CONNECTIONS = 2;

export interface LinkStats {
  notified: number;
  notifyFails: number;
  dropped: number;
}

export class SatelliteLink implements Connection {
  readonly id = randomUUID();
  readonly face = 'co2';
  readonly stats: LinkStats = { notified: 0, notifyFails: 0, dropped: 0 };
  readonly #to: Endpoint;
  readonly #frame: NotifyFrame;
  readonly #codec: NotifyCodec;
  readonly #idleMs: number;
  readonly #limits: LinkLimits;
  readonly #bucket: TokenBucket;
  readonly #log: Logger;
  readonly #onNotifyFailed: () => void;
  readonly #queue: NotifyPart[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  /** Where notifies go; null until the first one, and after it closed. */
  #conn: ClientConnection | null = null;
  readonly #spare: ClientConnection[] = [];
  /** Notifies the closing connection did not process, in order, until it is gone. */
  #retry: NotifyPart[] = [];
  #timer: NodeJS.Timeout | null = null;
  #openRequests = 0;
  #open = true;
  readonly #closeListeners: ((reason: string) => void)[] = [];

  constructor(to: Endpoint, notifyPass: string | undefined, deps: LinkDeps) {
    this.#to = to;
    this.#frame = notifyFrame(notifyPass);
    this.#codec = deps.codec;
    this.#idleMs = deps.idleMs;
    this.#limits = deps.limits;
    this.#bucket = new TokenBucket(deps.limits.notifyPerSec, Math.max(1, deps.limits.notifyPerSec), performance.now());
    this.#log = deps.log;
    this.#onNotifyFailed = deps.onNotifyFailed;
  }

  get open(): boolean {
    return this.#open;
  }

  get backlog(): Backlog {
    return { messages: this.#queue.length - this.#queueHead, bytes: this.#queuedBytes };
  }

  deliver(out: Outbound): boolean {
    if (!this.#open || out.type !== 'bus') return false;
    if (this.#queue.length - this.#queueHead >= this.#limits.queueMessages) {
      this.stats.dropped++;
      return false;
    }
    let part: NotifyPart;
    try {
      part = out.encoded(this.#codec);
    } catch {
      return false; // a payload no XML-RPC value can hold (nested too deep)
    }
    this.#queue.push(part);
    this.#queuedBytes += part.bytes;
    this.#pump();
    return true;
  }

  async request(req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    if (!this.#open) throw new MusterError('MEMBER_GONE', `${req.to} is gone`);
    if (this.#openRequests >= MAX_OPEN_REQUESTS) throw new MusterError('THROTTLED', `At most ${MAX_OPEN_REQUESTS} requests open per satellite`, { retryAfterMs: 100 });
    let body: string;
    try {
      body = encodeCall(req.method, [fromJsonValue(req.payload.isBytes ? { $base64: req.payload.base64 } : req.payload.toJSONValue())]);
    } catch {
      throw new MusterError('INVALID_PARAMS', 'The payload is nested too deep for XML-RPC');
    }
    this.#openRequests++;
    try {
      const answer = await this.#ask(body, timeoutMs);
      if (answer.ok) return BusPayload.json(toJsonText(answer.value));
      throw new PeerError({ code: answer.fault.code, message: answer.fault.message });
    } catch (err) {
      if (err instanceof CallFailed) {
        throw err.reason === 'timeout' ? new MusterError('TIMEOUT', `${req.to} did not answer within ${timeoutMs} ms`) : new MusterError('MEMBER_GONE', `${req.to} could not be called: ${err.message}`);
      }
      throw err;
    } finally {
      this.#openRequests--;
    }
  }

  close(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#conn?.destroy();
    for (const c of this.#spare.splice(0)) c.destroy();
    for (const l of this.#closeListeners.splice(0)) l(reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.#closeListeners.push(listener);
  }

  /** One bus request on a connection of its own (a spare one if there is), kept after for the next while there is room. */
  #ask(body: string, timeoutMs: number): Promise<XmlRpcAnswer> {
    let conn = this.#spare.pop();
    while (conn && conn.room === 0) conn = this.#spare.pop();
    const c = conn ?? new ClientConnection(this.#to, {
      keepAlive: true, idleMs: this.#idleMs,
      onClose: (closed) => { const i = this.#spare.indexOf(closed); if (i >= 0) this.#spare.splice(i, 1); },
    });
    return new Promise((resolve, reject) => {
      c.call(body, Buffer.byteLength(body), timeoutMs, (err, answer) => {
        if (this.#open && c.room > 0 && this.#spare.length < SPARE_CONNECTIONS) this.#spare.push(c);
        else c.destroy();
        if (err) reject(err);
        else resolve(answer!);
      });
    });
  }

  /** Sends queued notifies while the connection has room and the bucket allows; otherwise waits (for answers, or the bucket). */
  #pump(): void {
    if (this.#timer || !this.#open) return;
    while (this.#queueHead < this.#queue.length) {
      let conn = this.#conn;
      if (conn === null || conn.closed) conn = this.#conn = this.#connect();
      if (conn.room === 0) return; // an answer (or the connection's close) pumps again
      const wait = this.#bucket.take(1, performance.now());
      if (wait > 0) {
        this.#timer = setTimeout(() => { this.#timer = null; this.#pump(); }, wait);
        return;
      }
      const part = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead++] = undefined as unknown as NotifyPart;
      if (this.#queueHead === this.#queue.length) {
        this.#queue.length = 0;
        this.#queueHead = 0;
      } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
      this.#queuedBytes -= part.bytes;
      const f = this.#frame;
      conn.call(f.head + part.text + f.tail, f.bytes + part.bytes, this.#limits.callTimeoutMs, (err, answer) => this.#notified(part, err, answer));
    }
  }

  #connect(): ClientConnection {
    return new ClientConnection(this.#to, {
      keepAlive: true, idleMs: this.#idleMs,
      onClose: (closed) => {
        if (this.#conn !== closed) return;
        this.#conn = null;
        if (!this.#open) return;
        if (this.#retry.length) {
          this.#queue.splice(this.#queueHead, 0, ...this.#retry);
          this.#retry = [];
        }
        this.#pump();
      },
    });
  }

  #notified(part: NotifyPart, err: CallFailed | null, answer: XmlRpcAnswer | null): void {
    if (err?.reason === 'unprocessed') {
      // Sent on a connection the satellite was closing: it never saw it. First in line again (once that connection is gone).
      if (!this.#open) return;
      this.#retry.push(part);
      this.#queuedBytes += part.bytes;
      return;
    }
    if (err) this.#failed(err.message);
    else if (answer!.ok) this.stats.notified++;
    else this.#failed(`fault ${answer!.fault.code}: ${answer!.fault.message.slice(0, 200)}`);
    this.#pump();
  }

  #failed(why: string): void {
    this.stats.notifyFails++;
    this.#onNotifyFailed();
    if (this.stats.notifyFails === 1 || this.stats.notifyFails % 1000 === 0) {
      this.#log.warn({ satellite: `${this.#to.host}:${this.#to.port}`, fails: this.stats.notifyFails, why }, 'notify failed');
    }
  }
}
