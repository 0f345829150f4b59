/**
 * Latency at a fixed rate for several systems, interleaved: every system keeps one publisher and
 * one subscriber open, and they take turns in short slices, all systems once per round in a
 * shuffled order (each odd round the even round's order reversed, so no system is more often
 * first, last or before another). On a VM whose wake-up cost drifts by hundreds of µs within
 * seconds, phases run one system after another compare machines, not systems; slices of one
 * round meet the same machine. A round's paired difference (one system's slice p50 minus
 * another's in that round) is the figure to compare; pooled percentiles are kept beside it.
 * Every stream and wait is bounded in count and time.
 */
import type { Closer, Driver, Publisher } from './_bus-drivers.js';
import { serverCpuSeconds } from './_bus-load.js';
import { median } from './_cluster-setup.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 0) => Number(x.toFixed(d));

export interface LatencyResult {
  /** Pooled over every slice of the system: the measured messages of all rounds. */
  rate: number; sent: number; received: number; p50Us: number; p99Us: number; p999Us: number; maxUs: number; serverCpuUsPerDelivered: number;
  slices: number;
  /** The p50 of each round's slice, in round order (NaN where a slice received nothing). */
  sliceP50sUs: number[];
}

/** One system's slice p50 minus another's, round by round. */
export interface PairedDifference {
  rounds: number; medianUs: number; p25Us: number; p75Us: number; minUs: number; maxUs: number;
  /** A distribution-free interval holding the true median with at least 95% confidence (order statistics; null under 6 rounds). */
  medianCi95Us: [number, number] | null;
  diffsUs: number[];
}

export interface LatencyOptions {
  rate: number;
  payloadBytes: number;
  /** Unmeasured stream per system before the rounds, one system after another. */
  warmSeconds: number;
  /** Unmeasured rounds after that, so the first measured slice meets the rhythm of the rest, not a long idle. */
  warmRounds: number;
  rounds: number;
  sliceSeconds: number;
  /** The start of each slice is streamed but not measured: the stream is steady when measuring begins. */
  leadInSeconds: number;
}

export interface InterleavedLatency {
  systems: Record<string, LatencyResult>;
  /** The order of each round. */
  orders: string[][];
  seconds: number;
}

/** The nearest-rank quantile of a sorted array (as the bench has always reported p50/p99), µs from ms. */
const quantileUs = (sorted: Float64Array, f: number) => round((sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? NaN) * 1000);

/** One system's publisher and subscriber, open across all its slices, and what they measured. */
class Lane {
  readonly d: Driver;
  #received = 0;
  /** Latencies (ms) of the measured messages of the current slice. */
  #slice: number[] = [];
  readonly #pooled: number[] = [];
  readonly #sliceP50sUs: number[] = [];
  #sent = 0;
  #cpuSec = 0;
  #pub: Publisher | null = null;
  #sub: Closer | null = null;

  constructor(d: Driver) {
    this.d = d;
  }

  async open(): Promise<void> {
    // A topic per lane: muster's raw-wire and SDK lanes share one hub, and neither may receive the other's.
    const topic = this.d.name.startsWith('muster') ? `/bench/lat-${this.d.name}/` : this.d.name === 'nats' ? 'bench.lat' : 'bench/lat';
    // The same work per message for every system: one byte test, one clock reading, one push.
    this.#sub = await this.d.subscriber(topic, (p) => { this.#received++; if (p[8] === 1) this.#slice.push(performance.now() - p.readDoubleLE(0)); });
    this.#pub = await this.d.publisher(topic);
  }

  async close(): Promise<void> {
    await this.#pub?.close();
    await this.#sub?.close();
  }

  /**
   * `seconds` at the rate, the first `leadIn` seconds (or all, unmeasured) marked 0 in byte 8;
   * then waits (at most 1 s) for every message to arrive, so no slice overlaps the next.
   */
  async stream(rate: number, seconds: number, leadIn: number, payloadBytes: number, measured: boolean): Promise<void> {
    const pub = this.#pub;
    if (!pub) throw new Error(`${this.d.name}: latency lane not open`);
    this.#slice = [];
    const total = Math.round(rate * seconds);
    const first = measured ? Math.round(rate * leadIn) : total;
    const base = this.#received;
    let cpu0 = serverCpuSeconds(this.d);
    const t0 = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
      if (sent < first && due >= first) cpu0 = serverCpuSeconds(this.d);
      while (sent < due) {
        const b = Buffer.alloc(payloadBytes, 7);
        b[8] = sent >= first ? 1 : 0;
        b.writeDoubleLE(performance.now(), 0);
        pub.publish(b);
        sent++;
      }
      await sleep(1);
      if (performance.now() - t0 > seconds * 2000 + 2000) break;
    }
    const end = performance.now() + 1000;
    while (this.#received - base < sent && performance.now() < end) await sleep(1);
    const got = this.#slice;
    this.#slice = []; // a straggler after the wait lands here and is dropped
    if (measured) {
      this.#cpuSec += serverCpuSeconds(this.d) - cpu0;
      this.#sent += Math.max(0, sent - first);
      for (const x of got) this.#pooled.push(x);
      this.#sliceP50sUs.push(quantileUs(Float64Array.from(got).sort(), 0.5));
    }
  }

  result(rate: number): LatencyResult {
    const sorted = Float64Array.from(this.#pooled).sort();
    return {
      rate, sent: this.#sent, received: sorted.length,
      p50Us: quantileUs(sorted, 0.5), p99Us: quantileUs(sorted, 0.99), p999Us: quantileUs(sorted, 0.999), maxUs: quantileUs(sorted, 1),
      serverCpuUsPerDelivered: round((this.#cpuSec * 1e6) / Math.max(sorted.length, 1), 3),
      slices: this.#sliceP50sUs.length, sliceP50sUs: this.#sliceP50sUs,
    };
  }
}

function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Warms each system up alone, then runs `rounds` rounds of one slice per system. */
export async function interleavedLatency(drivers: readonly Driver[], o: LatencyOptions, log: (line: string) => void = () => {}): Promise<InterleavedLatency> {
  const lanes = drivers.map((d) => new Lane(d));
  const t0 = performance.now();
  try {
    for (const l of lanes) await l.open();
    await sleep(200);
    for (const l of lanes) {
      log(`  ${l.d.name}: latency warm-up ${o.warmSeconds} s`);
      await l.stream(o.rate, o.warmSeconds, 0, o.payloadBytes, false);
    }
    for (let r = 0; r < o.warmRounds; r++) for (const l of shuffled(lanes)) await l.stream(o.rate, o.sliceSeconds, 0, o.payloadBytes, false);
    const orders: Lane[][] = [];
    for (let r = 0; r < o.rounds; r++) orders.push(r % 2 ? [...orders[r - 1]!].reverse() : shuffled(lanes));
    log(`  latency: ${o.rounds} rounds of ${lanes.length} slices of ${o.sliceSeconds} s`);
    for (const order of orders) for (const l of order) await l.stream(o.rate, o.sliceSeconds, o.leadInSeconds, o.payloadBytes, true);
    return {
      systems: Object.fromEntries(lanes.map((l) => [l.d.name, l.result(o.rate)])),
      orders: orders.map((order) => order.map((l) => l.d.name)),
      seconds: round((performance.now() - t0) / 1000, 1),
    };
  } finally {
    for (const l of lanes) await l.close();
  }
}

/** `a`'s slice p50 minus `b`'s, round by round, rounds where either slice got nothing left out. */
export function pairedDifference(a: LatencyResult, b: LatencyResult): PairedDifference {
  const diffs = a.sliceP50sUs.map((x, i) => x - (b.sliceP50sUs[i] ?? NaN)).filter((x) => Number.isFinite(x));
  const sorted = Float64Array.from(diffs).sort();
  const q = (f: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? NaN);
  const k = medianCiRank(sorted.length);
  return {
    rounds: diffs.length, medianUs: round(median(diffs)), p25Us: q(0.25), p75Us: q(0.75),
    minUs: round(sorted[0] ?? NaN), maxUs: round(sorted[sorted.length - 1] ?? NaN),
    medianCi95Us: k > 0 ? [round(sorted[k - 1]!), round(sorted[sorted.length - k]!)] : null, diffsUs: diffs,
  };
}

/**
 * The largest k with P(Binomial(n, 1/2) < k) <= 2.5%: the k-th smallest and k-th largest of n
 * values bound their median with at least 95% confidence, whatever the distribution. 0 when none.
 */
function medianCiRank(n: number): number {
  let cdf = 0;
  let pmf = 0.5 ** n; // P(X = 0)
  for (let k = 0; k < n; k++) {
    if (cdf + pmf > 0.025) return k;
    cdf += pmf;
    pmf = (pmf * (n - k)) / (k + 1);
  }
  return 0;
}
