/**
 * Requests to members that take the bus binary format (`bus.format {binary: true}`): the hub
 * asks with a handle record and the member answers with a reply or error record quoting the
 * hub's id. One table for the whole face; timeouts sit on one deadline wheel whose timer runs
 * only while requests are open. A target has at most MAX_OPEN_PER_TARGET open (more answer
 * THROTTLED); its open requests fail MEMBER_GONE when its connection closes.
 */
import { BusPayload } from '../../core/bus/message.js';
import { DeadlineWheel, type WheelEntry } from '../../core/deadline-wheel.js';
import type { BusRequest } from '../../core/ports.js';
import { MusterError, PeerError } from '../../errors.js';
import { jsonBytesTooDeep } from '../../schemas/json-depth.js';
import { encodeRequestRecord, KIND_ERROR, KIND_HANDLE, type AnswerRecord } from './bus-binary.js';
import { slabAlloc } from './record-slab.js';

export const MAX_OPEN_PER_TARGET = 10_000;
const TICK_MS = 10;

/** Where a handle record goes: the member's connection. */
export interface BinaryTarget {
  enqueue(record: Uint8Array): void;
}

class Pending implements WheelEntry {
  deadline = Infinity;
  slot = -1;
  constructor(
    readonly id: number,
    readonly target: BinaryTarget,
    readonly method: string,
    readonly timeoutMs: number,
    readonly resolve: (payload: BusPayload) => void,
    readonly reject: (err: unknown) => void,
  ) {}
}

export class BinaryRequests {
  readonly #pending = new Map<number, Pending>();
  readonly #byTarget = new Map<BinaryTarget, Set<Pending>>();
  #nextId = 1;
  #wheel: DeadlineWheel<Pending> | null = null;

  /** Requests open at binary members now. */
  get open(): number {
    return this.#pending.size;
  }

  /** Sends a handle record to `target`; resolves with its reply, rejects with its error (PeerError) or TIMEOUT. */
  ask(target: BinaryTarget, req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    let mine = this.#byTarget.get(target);
    if (!mine) this.#byTarget.set(target, (mine = new Set()));
    if (mine.size >= MAX_OPEN_PER_TARGET) return Promise.reject(new MusterError('THROTTLED', 'Too many requests open to this member', { retryAfterMs: 100 }));
    return new Promise((resolve, reject) => {
      const p = new Pending(this.#nextId++, target, req.method, timeoutMs, resolve, reject);
      this.#pending.set(p.id, p);
      mine.add(p);
      this.#wheelOn().schedule(p, Date.now() + timeoutMs);
      target.enqueue(encodeRequestRecord({
        kind: KIND_HANDLE, isBytes: req.payload.isBytes, from: req.from, where: req.to, id: p.id, timeoutMs, method: req.method, payload: req.payload.raw,
      }, slabAlloc));
    });
  }

  /**
   * A reply or error record from `from`. Unknown ids (late answers, others' ids) are ignored.
   * Returns an error text when the answer was unusable (the member is told with bus.error).
   */
  answer(from: BinaryTarget, r: AnswerRecord): string | null {
    const p = this.#pending.get(r.id);
    if (!p || p.target !== from) return null;
    this.#done(p);
    if (r.kind === KIND_ERROR) {
      p.reject(PeerError.from(jsonOr(r.payload, {})));
      return null;
    }
    if (!r.isBytes && !isJson(r.payload)) {
      p.reject(new PeerError({ code: -32700, message: 'The member answered with invalid JSON' }));
      return `The reply to request ${r.id} does not hold valid JSON`;
    }
    p.resolve(BusPayload.raw(r.payload, r.isBytes));
    return null;
  }

  /** The target's connection closed: its open requests fail MEMBER_GONE. */
  closed(target: BinaryTarget): void {
    const mine = this.#byTarget.get(target);
    if (!mine) return;
    this.#byTarget.delete(target);
    for (const p of mine) {
      this.#done(p);
      p.reject(new MusterError('MEMBER_GONE', 'The member disconnected before answering'));
    }
  }

  #done(p: Pending): void {
    this.#pending.delete(p.id);
    this.#wheel?.cancel(p);
    const mine = this.#byTarget.get(p.target);
    mine?.delete(p);
    if (mine?.size === 0) this.#byTarget.delete(p.target);
  }

  /** The timeout wheel; its timer is set only while requests are open. */
  #wheelOn(): DeadlineWheel<Pending> {
    if (this.#wheel) return this.#wheel;
    this.#wheel = new DeadlineWheel<Pending>((p) => {
      this.#done(p);
      p.reject(new MusterError('TIMEOUT', `No answer to ${p.method} within ${p.timeoutMs} ms`, { timeoutMs: p.timeoutMs }));
    }, { resolutionMs: TICK_MS });
    this.#wheel.start();
    return this.#wheel;
  }
}

/** True when UTF-8 bytes hold valid JSON within the depth cap (empty counts: it means null). */
export function isJson(bytes: Uint8Array): boolean {
  if (bytes.byteLength === 0) return true;
  if (jsonBytesTooDeep(bytes)) return false;
  try {
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function jsonOr(bytes: Uint8Array, fallback: unknown): unknown {
  if (!isJson(bytes) || bytes.byteLength === 0) return fallback;
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown;
}
