/**
 * Native members calling RSB servers' methods. The hub sends a REQUEST on the method's scope
 * (`/server/method/`, as RSB's RemoteServer does) under its own sender id, and the first REPLY
 * that names that request in `causes` answers it; a reply carrying the `rsb:error?` user info is
 * the method's own error (a PeerError, MEMBER_ERROR to the caller). Replies are forwarded on the
 * bus like every event; the table only watches them go by.
 */
import { BusPayload } from '../../core/bus/message.js';
import { parseScope } from '../../core/bus/scope.js';
import { MusterError, PeerError } from '../../errors.js';
import { ERROR_INFO, METHOD, type RsbCodec } from './codec.js';
import { eventKey, type Notification } from './notification.js';
import { payloadFromRsb } from './wire-schema.js';
import { ChurnMap } from '../../core/churn-map.js';

/** Calls the hub may have open towards RSB at once. */
export const MAX_OPEN_CALLS = 10_000;

interface OpenCall {
  resolve(p: BusPayload): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
  /** The one target asked, when a member was asked by name (its close fails the call). */
  via: FrameTarget | null;
}

/** Where a request can go: something that queues a frame (an RSB socket, the upstream link). */
export interface FrameTarget {
  readonly open: boolean;
  queueFrame(frame: Buffer): boolean;
}

export class RsbCalls {
  readonly #codec: RsbCodec;
  /** Open calls by their request's event id; a ChurnMap, as each call adds and deletes one (core/churn-map.ts). */
  readonly #open = new ChurnMap<string, OpenCall>();

  constructor(codec: RsbCodec) {
    this.#codec = codec;
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * Asks `method` (`/server/scope/method`, the method being the last component) through each
   * target; resolves with the first reply. NOT_CONNECTED when no target is open.
   */
  ask(targets: readonly FrameTarget[], method: string, payload: BusPayload, from: string, timeoutMs: number): Promise<BusPayload> {
    let scope: string;
    try {
      const parsed = parseScope(method);
      if (parsed.parts.length === 0) throw new Error('root');
      scope = parsed.text;
    } catch {
      return Promise.reject(new MusterError('INVALID_PARAMS', `An RSB method is asked as /server/scope/method (a scope whose last component is the method), not ${JSON.stringify(method.slice(0, 80))}`));
    }
    const open = targets.filter((t) => t.open);
    if (open.length === 0) return Promise.reject(new MusterError('NOT_CONNECTED', 'No RSB participant is connected to ask'));
    if (this.#open.size >= MAX_OPEN_CALLS) return Promise.reject(new MusterError('THROTTLED', `At most ${MAX_OPEN_CALLS} RSB calls open at once`, { retryAfterMs: 100 }));
    const { frame, eventId } = this.#codec.request(scope, payload, from, Math.round((performance.timeOrigin + performance.now()) * 1000));
    const key = eventKey(eventId);
    return new Promise<BusPayload>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#open.delete(key);
        reject(new MusterError('TIMEOUT', `No REPLY to ${scope} within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
      this.#open.set(key, { resolve, reject, timer, via: targets.length === 1 ? targets[0]! : null });
      let sent = 0;
      for (const t of open) if (t.queueFrame(frame)) sent++;
      if (sent === 0) this.#settle(key, null, new MusterError('NOT_CONNECTED', 'No RSB participant took the request (queues full)'));
    });
  }

  /** Looks at every event from RSB; true when it answered a call of the hub's. */
  observe(n: Notification): boolean {
    if (this.#open.size === 0 || n.method !== METHOD.reply) return false;
    for (const cause of n.causes) {
      const key = eventKey(cause);
      if (!this.#open.has(key)) continue;
      const failed = n.metaData?.userInfos.some(([k]) => k === ERROR_INFO) ?? false;
      if (failed) {
        const text = Buffer.from(n.data.buffer, n.data.byteOffset, n.data.byteLength).toString('utf8');
        this.#settle(key, null, new PeerError({ code: -32000, message: text || 'the RSB method failed' }));
      } else this.#settle(key, payloadFromRsb(n.wireSchema, n.data), null);
      return true;
    }
    return false;
  }

  /** A target closed: calls that asked it alone fail MEMBER_GONE. */
  closed(target: FrameTarget): void {
    for (const [key, call] of this.#open) {
      if (call.via === target) this.#settle(key, null, new MusterError('MEMBER_GONE', 'The RSB participant disconnected before replying'));
    }
  }

  /** Fails every open call (the face stops). */
  closeAll(err: MusterError): void {
    for (const key of [...this.#open.keys()]) this.#settle(key, null, err);
  }

  #settle(key: string, value: BusPayload | null, err: unknown): void {
    const call = this.#open.get(key);
    if (!call) return;
    this.#open.delete(key);
    clearTimeout(call.timer);
    if (value) call.resolve(value);
    else call.reject(err);
  }
}
