/**
 * One satellite as the core sees it (core/ports.ts Connection). Bus messages for it wait in a
 * bounded queue and leave through a token bucket, one `notify` call at a time so they arrive in
 * order; a notify that fails or hangs (past the call timeout) is counted and the next one goes,
 * and since every satellite has its own queue and pump a slow one never holds up the others.
 * Bus requests become XML-RPC calls of the request's method with its payload as the one param.
 */
import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import type { Logger } from 'pino';
import { BusPayload } from '../../core/bus/message.js';
import { TokenBucket } from '../../core/bus/rate-limit.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import { MusterError, PeerError } from '../../errors.js';
import { encodeCall } from './encode.js';
import { CallFailed, postXmlRpc, type Endpoint } from './http-client.js';
import { fromJsonValue, toJsonText } from './json-map.js';
import { notifyFrame, type NotifyCodec } from './notify-codec.js';

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
  /** Keep-alive connections to satellites, shared by the face. */
  agent: Agent;
  limits: LinkLimits;
  log: Logger;
  /** A notify failed or timed out (the owner counts it against the member). */
  onNotifyFailed: () => void;
}

/** Bus requests open at one satellite at once. */
const MAX_OPEN_REQUESTS = 64;

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
  readonly #frame: { head: string; tail: string };
  readonly #codec: NotifyCodec;
  readonly #agent: Agent;
  readonly #limits: LinkLimits;
  readonly #bucket: TokenBucket;
  readonly #log: Logger;
  readonly #onNotifyFailed: () => void;
  readonly #queue: string[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #busy = false;
  #timer: NodeJS.Timeout | null = null;
  #openRequests = 0;
  #open = true;
  readonly #closeListeners: ((reason: string) => void)[] = [];

  constructor(to: Endpoint, notifyPass: string | undefined, deps: LinkDeps) {
    this.#to = to;
    this.#frame = notifyFrame(notifyPass);
    this.#codec = deps.codec;
    this.#agent = deps.agent;
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
    let part: string;
    try {
      part = out.encoded(this.#codec);
    } catch {
      return false; // a payload no XML-RPC value can hold (nested too deep)
    }
    this.#queue.push(part);
    this.#queuedBytes += part.length;
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
      const answer = await postXmlRpc(this.#to, body, timeoutMs, this.#agent);
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
    for (const l of this.#closeListeners.splice(0)) l(reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.#closeListeners.push(listener);
  }

  /** Sends the next notify when none is in flight and the bucket allows; otherwise waits. */
  #pump(): void {
    if (this.#busy || this.#timer || !this.#open || this.#queueHead >= this.#queue.length) return;
    const wait = this.#bucket.take(1, performance.now());
    if (wait > 0) {
      this.#timer = setTimeout(() => { this.#timer = null; this.#pump(); }, wait);
      return;
    }
    const part = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead++] = '';
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    this.#queuedBytes -= part.length;
    this.#busy = true;
    postXmlRpc(this.#to, this.#frame.head + part + this.#frame.tail, this.#limits.callTimeoutMs, this.#agent).then(
      (answer) => {
        if (answer.ok) this.stats.notified++;
        else this.#failed(`fault ${answer.fault.code}: ${answer.fault.message.slice(0, 200)}`);
      },
      (err: unknown) => this.#failed((err as Error).message),
    ).finally(() => {
      this.#busy = false;
      this.#pump();
    });
  }

  #failed(why: string): void {
    this.stats.notifyFails++;
    this.#onNotifyFailed();
    if (this.stats.notifyFails === 1 || this.stats.notifyFails % 1000 === 0) {
      this.#log.warn({ satellite: `${this.#to.host}:${this.#to.port}`, fails: this.stats.notifyFails, why }, 'notify failed');
    }
  }
}
