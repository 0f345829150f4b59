/**
 * Requests to members that take the bus binary format (`bus.format {binary: true}`): the hub
 * asks with a handle record and the member answers with a reply or error record quoting the
 * hub's id. One table for the whole face; timeouts sit on one deadline wheel whose timer runs
 * only while requests are open. A target has at most MAX_OPEN_PER_TARGET open (more answer
 * THROTTLED); its open requests fail MEMBER_GONE when its connection closes.
 */
import { BusPayload } from '../../core/bus/message.js';
import { DeadlineWheel, type WheelEntry } from '../../core/deadline-wheel.js';
import { IdTable } from '../../core/id-table.js';
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
  slotIndex = -1;
  /** Its neighbours among its target's open requests (a list, not a Set per target: see id-table.ts). */
  prev: Pending | null = null;
  next: Pending | null = null;
  constructor(
    readonly id: number,
    readonly target: BinaryTarget,
    readonly method: string,
    readonly timeoutMs: number,
    readonly resolve: (payload: BusPayload) => void,
    readonly reject: (err: unknown) => void,
  ) {}
}

/** A target's open requests: how many, and the newest (a list through Pending.prev). */
interface TargetOpen {
  count: number;
  newest: Pending | null;
}

export class BinaryRequests {
  readonly #pending = new IdTable<Pending>();
  /** Kept while the target's connection is open (dropped by closed()), so a burst does not add and delete it each time. */
  readonly #byTarget = new Map<BinaryTarget, TargetOpen>();
  #nextId = 1;
  #wheel: DeadlineWheel<Pending> | null = null;

  /** Requests open at binary members now. */
  get open(): number {
    return this.#pending.size;
  }

  /** Sends a handle record to `target`; resolves with its reply, rejects with its error (PeerError) or TIMEOUT. */
  ask(target: BinaryTarget, req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    let mine = this.#byTarget.get(target);
    if (!mine) this.#byTarget.set(target, (mine = { count: 0, newest: null }));
    if (mine.count >= MAX_OPEN_PER_TARGET) return Promise.reject(new MusterError('THROTTLED', 'Too many requests open to this member', { retryAfterMs: 100 }));
    return new Promise((resolve, reject) => {
      const p = new Pending(this.#nextId++, target, req.method, timeoutMs, resolve, reject);
      this.#pending.add(p);
      p.prev = mine.newest;
      if (mine.newest) mine.newest.next = p;
      mine.newest = p;
      mine.count++;
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
    // Oldest first, as they were asked.
    const open: Pending[] = [];
    for (let p = mine.newest; p; p = p.prev) open.push(p);
    for (let i = open.length - 1; i >= 0; i--) {
      const p = open[i]!;
      this.#done(p);
      p.reject(new MusterError('MEMBER_GONE', 'The member disconnected before answering'));
    }
    this.#byTarget.delete(target);
  }

  #done(p: Pending): void {
    this.#pending.delete(p);
    this.#wheel?.cancel(p);
    const mine = this.#byTarget.get(p.target);
    if (!mine) return;
    if (p.next) p.next.prev = p.prev;
    else mine.newest = p.prev;
    if (p.prev) p.prev.next = p.next;
    // Unlinked both ways: a finished request must not lead to the ones after it.
    p.prev = p.next = null;
    mine.count--;
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
