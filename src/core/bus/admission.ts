/**
 * Admission, the bus's second phase: a sender's token buckets, then its next sequence number and
 * its sent counters. A refused sender is told once per episode on its connection (fire-and-forget
 * publishers get no error reply otherwise) and the call fails THROTTLED.
 */
import { MusterError } from '../../errors.js';
import type { Connection } from '../ports.js';
import type { Member } from '../registry/registry.js';
import { SenderLimit, type RateSpec } from './rate-limit.js';

/** Who sends: a member, or the hub itself (the admin without `from`). */
export interface Sender {
  readonly name: string;
  readonly member: Member | null;
  readonly connection: Connection | null;
}

/** Per member type; '*' is the default. */
export type RateLimits = Record<string, RateSpec>;

/** Wall-clock ms = ORIGIN + performance.now(): one clock read per message serves every timestamp. */
export const ORIGIN = performance.timeOrigin;

export class Admission {
  #rateLimits: RateLimits;
  #limits = new WeakMap<object, SenderLimit>();
  /** Senders currently refused, told once per episode. */
  readonly #throttled = new WeakSet<object>();
  readonly #hub = { seq: 0 };
  /** Messages refused by a rate limit. */
  refused = 0;
  /** Messages admitted. */
  admitted = 0;

  constructor(rateLimits: RateLimits) {
    this.#rateLimits = rateLimits;
  }

  /** New limits (a reloaded config): every sender starts afresh with a full bucket of the new size. */
  setRateLimits(rateLimits: RateLimits): void {
    this.#rateLimits = rateLimits;
    this.#limits = new WeakMap();
  }

  /** Takes `bytes` of the sender's allowance at `mono` (performance.now()); returns its next sequence number. */
  admit(sender: Sender, bytes: number, mono: number): number {
    const key: object = sender.member ?? this.#hub;
    let limit = this.#limits.get(key);
    if (!limit) {
      const spec = (sender.member && this.#rateLimits[sender.member.type]) || this.#rateLimits['*'];
      limit = new SenderLimit(spec ?? { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 }, mono);
      this.#limits.set(key, limit);
    }
    const wait = limit.take(bytes, mono);
    if (wait > 0) {
      this.refused++;
      limit.throttled = true;
      if (!this.#throttled.has(key)) {
        this.#throttled.add(key);
        sender.connection?.deliver({ type: 'throttled', from: sender.name, retryAfterMs: wait });
      }
      throw new MusterError('THROTTLED', `${sender.name} is over its bus rate limit; retry after ${wait} ms`, { retryAfterMs: wait });
    }
    if (limit.throttled) {
      limit.throttled = false;
      this.#throttled.delete(key);
    }
    this.admitted++;
    const m = sender.member;
    if (!m) return ++this.#hub.seq;
    const t = trafficOf(m);
    t.sent++;
    t.sentBytes += bytes;
    t.lastSent = Math.round(ORIGIN + mono);
    return t.sent;
  }
}

/** A member's bus counters, allocated on its first message (most members never use the bus). */
export function trafficOf(m: Member): NonNullable<Member['traffic']> {
  return (m.traffic ??= { sent: 0, sentBytes: 0, lastSent: null, received: 0, receivedBytes: 0, lastReceived: null, dropped: 0 });
}
