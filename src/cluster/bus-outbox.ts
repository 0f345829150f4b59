/**
 * What the cluster bus sends to other hubs: the envelopes for each hub gathered in one turn go
 * out as one PUBLISH (a JSON array when several), at once past BATCH_BYTES. PUBLISHes written and
 * not yet answered are bounded: a frozen Redis must not grow this hub's memory; past a bound an
 * envelope is dropped and counted.
 */
import { ChurnMap } from '../core/churn-map.js';
import type { BusDropReason } from './bus-envelopes.js';

/** PUBLISHes waiting for Redis's answer, at most; past either bound a message is dropped (counted). */
const MAX_IN_FLIGHT = 10_000;
const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
/** A hub's gathered envelopes go out at once past this size, not at the end of the turn. */
const BATCH_BYTES = 256 * 1024;

export interface OutboxStats {
  sent: number;
  dropped: Record<BusDropReason, number>;
}

interface Box {
  texts: string[];
  bytes: number;
}

export class BusOutbox {
  readonly #send: <T>(args: string[]) => Promise<T>;
  readonly #prefix: string;
  readonly #stats: OutboxStats;
  #inFlight = 0;
  #inFlightBytes = 0;
  /** Per hub, this turn's envelopes (a ChurnMap: each turn adds and takes out its hubs). */
  readonly #boxes = new ChurnMap<string, Box>();
  #flushScheduled = false;

  constructor(send: <T>(args: string[]) => Promise<T>, prefix: string, stats: OutboxStats) {
    this.#send = send;
    this.#prefix = prefix;
    this.#stats = stats;
  }

  /** Queues one envelope (JSON text) for `hub`'s channel. */
  publish(hub: string, text: string): void {
    if (this.#inFlight >= MAX_IN_FLIGHT || this.#inFlightBytes + text.length > MAX_IN_FLIGHT_BYTES) {
      this.#stats.dropped['queue-full']++;
      return;
    }
    this.#stats.sent++;
    this.#inFlight++;
    this.#inFlightBytes += text.length;
    let box = this.#boxes.get(hub);
    if (!box) this.#boxes.set(hub, (box = { texts: [], bytes: 0 }));
    box.texts.push(text);
    box.bytes += text.length;
    if (box.bytes >= BATCH_BYTES) this.#flushHub(hub, box);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const [hub, box] of this.#boxes) this.#flushHub(hub, box);
  }

  #flushHub(hub: string, box: Box): void {
    this.#boxes.delete(hub);
    const { texts, bytes } = box;
    const n = texts.length;
    const dropped = this.#stats.dropped;
    const text = n === 1 ? texts[0]! : `[${texts.join(',')}]`;
    void this.#send<number>(['PUBLISH', `${this.#prefix}:bus:${hub}`, text]).then(
      (listeners) => { if (listeners === 0) dropped['no-subscriber'] += n; },
      () => { dropped['redis-error'] += n; },
    ).finally(() => {
      this.#inFlight -= n;
      this.#inFlightBytes -= bytes;
    });
  }
}
