/**
 * The hub's own counters over the last 15 minutes: one sample a second into a bounded ring (one
 * typed array per series), for charts. A sample reads plain counters and the member counts;
 * nothing on a hot path changes for it.
 */
import { SERIES, type History, type SeriesName } from '../../schemas/stats.js';

export type Sample = Readonly<Record<SeriesName, number>>;

export interface HistoryOptions {
  /** Reads every series now. */
  read(): Sample;
  intervalMs?: number;
  /** Samples kept (default 900: 15 minutes at one a second). */
  keep?: number;
  now?: () => number;
}

export class StatsHistory {
  readonly intervalMs: number;
  readonly keep: number;
  readonly #read: () => Sample;
  readonly #now: () => number;
  readonly #times: Float64Array;
  readonly #values: Record<SeriesName, Float64Array>;
  /** Index of the oldest sample; `#count` samples follow it (wrapping). */
  #head = 0;
  #count = 0;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: HistoryOptions) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.keep = options.keep ?? 900;
    this.#read = options.read;
    this.#now = options.now ?? Date.now;
    this.#times = new Float64Array(this.keep);
    this.#values = Object.fromEntries(SERIES.map((s) => [s, new Float64Array(this.keep)])) as Record<SeriesName, Float64Array>;
  }

  start(): void {
    if (this.#timer) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Takes one sample now (the timer calls it; tests too). */
  sample(): void {
    const values = this.#read();
    const i = (this.#head + this.#count) % this.keep;
    if (this.#count < this.keep) this.#count++;
    else this.#head = (this.#head + 1) % this.keep;
    this.#times[i] = this.#now();
    for (const s of SERIES) this.#values[s][i] = values[s];
  }

  /** The samples taken after `since` (all kept ones without it), oldest first. */
  since(since = -Infinity): History {
    let first = 0;
    while (first < this.#count && this.#times[(this.#head + first) % this.keep]! <= since) first++;
    const times: number[] = [];
    const series = Object.fromEntries(SERIES.map((s) => [s, [] as number[]])) as Record<SeriesName, number[]>;
    for (let k = first; k < this.#count; k++) {
      const i = (this.#head + k) % this.keep;
      times.push(this.#times[i]!);
      for (const s of SERIES) series[s].push(this.#values[s][i]!);
    }
    return { intervalMs: this.intervalMs, keep: this.keep, times, series };
  }
}

