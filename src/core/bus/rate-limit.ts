/**
 * Token buckets: a sender may spend `rate` tokens per second with up to `burst` saved. Refill is
 * computed when a token is taken, so an idle bucket costs nothing.
 */
export interface RateSpec {
  /** Messages per second (0 = unlimited). */
  messagesPerSec: number;
  /** Payload bytes per second (0 = unlimited). */
  bytesPerSec: number;
  /** Seconds of traffic a sender may save up and spend at once. */
  burstSec: number;
}

export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(ratePerSec: number, burst: number, now: number) {
    this.#rate = ratePerSec;
    this.#burst = Math.max(burst, 1);
    this.#tokens = this.#burst;
    this.#last = now;
  }

  /** Takes `n` tokens; returns 0 when granted, else the ms to wait until they would be. */
  take(n: number, now: number): number {
    if (this.#rate <= 0) return 0;
    const t = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    if (t >= n) {
      this.#tokens = t - n;
      return 0;
    }
    this.#tokens = t;
    return Math.ceil(((Math.min(n, this.#burst) - t) * 1000) / this.#rate);
  }
}

/** A sender's two buckets: message count and bytes. */
export class SenderLimit {
  /** Refused last time (Admission's once-per-episode notice; a flag spares a set lookup per message). */
  throttled = false;
  readonly #messages: TokenBucket;
  readonly #bytes: TokenBucket;

  constructor(spec: RateSpec, now: number) {
    this.#messages = new TokenBucket(spec.messagesPerSec, spec.messagesPerSec * spec.burstSec, now);
    this.#bytes = new TokenBucket(spec.bytesPerSec, spec.bytesPerSec * spec.burstSec, now);
  }

  /** 0 when the message may go, else the retry-after in ms. A refused message spends nothing. */
  take(bytes: number, now: number): number {
    const wait = this.#messages.take(1, now);
    if (wait > 0) return wait;
    const waitBytes = this.#bytes.take(bytes, now);
    if (waitBytes > 0) {
      this.#messages.take(-1, now);
      return waitBytes;
    }
    return 0;
  }
}
