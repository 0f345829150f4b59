/**
 * Request/reply with a fixed number in flight for several systems, interleaved as the latency
 * phase is (bench/_bus-latency.ts): every system keeps its responder and requester open, and they
 * take turns in slices of about a second, all systems once per round, the order reversed every
 * other round. Run one system after another, 8 s each, the same build's SDK measured 0.5x and
 * 1.7x a bare ws relay on different days: the machine's speed had moved between the phases. The
 * figure to compare is the median of the rounds' own ratios. Every slice is bounded in time.
 */
import type { Closer, Driver, Requester } from './_bus-drivers.js';
import { serverCpuSeconds, type RequestResult } from './_bus-load.js';
import { median } from './_cluster-setup.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 0) => Number(x.toFixed(d));

export interface RequestOptions {
  inFlight: number;
  payloadBytes: number;
  /** Unmeasured requests per system before the rounds, one system after another. */
  warmMs: number;
  rounds: number;
  sliceMs: number;
}

/** Pooled over a system's slices, with each slice's rate in round order. */
export interface InterleavedRequestResult extends RequestResult {
  slices: number;
  sliceRoundTripsPerSec: number[];
}

/** One system's responder and requester, open across its slices, and what they measured. */
class Lane {
  readonly d: Driver;
  readonly #inFlight: number;
  #responder: Closer | null = null;
  #requester: Requester | null = null;
  #roundTrips = 0;
  #errors = 0;
  #seconds = 0;
  #cpuSec = 0;
  readonly #rates: number[] = [];

  constructor(d: Driver, inFlight: number) {
    this.d = d;
    this.#inFlight = inFlight;
  }

  async open(): Promise<void> {
    const n = this.#inFlight;
    const service = this.d.name.startsWith('muster') ? `bench-echo-${this.d.name}-${n}` : this.d.name === 'nats' ? `bench.echo${n}` : `bench/echo${n}`;
    this.#responder = await this.d.responder(service);
    this.#requester = await this.d.requester(service);
  }

  async close(): Promise<void> {
    await this.#requester?.close();
    await this.#responder?.close();
  }

  /** `inFlight` workers each awaiting one request after another for `ms`; the last ones are awaited. */
  async slice(ms: number, payloadBytes: number, measured: boolean): Promise<void> {
    const req = this.#requester;
    if (!req) throw new Error(`${this.d.name}: request lane not open`);
    const payload = Buffer.alloc(payloadBytes, 7);
    let done = 0;
    let errors = 0;
    const cpu0 = serverCpuSeconds(this.d);
    const t0 = performance.now();
    const end = t0 + ms;
    const worker = async () => {
      while (performance.now() < end) {
        try { await req.request(payload); done++; } catch { errors++; }
      }
    };
    await Promise.all(Array.from({ length: this.#inFlight }, worker));
    const seconds = (performance.now() - t0) / 1000;
    if (!measured) return;
    this.#cpuSec += serverCpuSeconds(this.d) - cpu0;
    this.#roundTrips += done;
    this.#errors += errors;
    this.#seconds += seconds;
    this.#rates.push(round(done / seconds));
  }

  result(): InterleavedRequestResult {
    return {
      inFlight: this.#inFlight, roundTrips: this.#roundTrips, seconds: round(this.#seconds, 3),
      roundTripsPerSec: round(this.#roundTrips / Math.max(this.#seconds, 1e-9)),
      serverCpuUsPerRoundTrip: round((this.#cpuSec * 1e6) / Math.max(this.#roundTrips, 1), 2), errors: this.#errors,
      slices: this.#rates.length, sliceRoundTripsPerSec: this.#rates,
    };
  }
}

/** Warms each system up alone, then runs `rounds` rounds of one slice per system. */
export async function interleavedRequests(drivers: readonly Driver[], o: RequestOptions, log: (line: string) => void = () => {}): Promise<Record<string, InterleavedRequestResult>> {
  const lanes = drivers.map((d) => new Lane(d, o.inFlight));
  try {
    for (const l of lanes) await l.open();
    await sleep(200);
    for (const l of lanes) {
      log(`  ${l.d.name}: request${o.inFlight} warm-up ${o.warmMs / 1000} s`);
      await l.slice(o.warmMs, o.payloadBytes, false);
    }
    log(`  request${o.inFlight}: ${o.rounds} rounds of ${lanes.length} slices of ${o.sliceMs / 1000} s`);
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 ? [...lanes].reverse() : lanes;
      for (const l of order) await l.slice(o.sliceMs, o.payloadBytes, true);
    }
    return Object.fromEntries(lanes.map((l) => [l.d.name, l.result()]));
  } finally {
    for (const l of lanes) await l.close();
  }
}

/** The median of the rounds' own ratios of a's rate to b's. */
export function pairedRatio(a: InterleavedRequestResult | null | undefined, b: InterleavedRequestResult | null | undefined): number | null {
  if (!a || !b) return null;
  const ratios = a.sliceRoundTripsPerSec.map((x, i) => x / (b.sliceRoundTripsPerSec[i] ?? NaN)).filter((x) => Number.isFinite(x));
  return ratios.length ? round(median(ratios), 2) : null;
}
