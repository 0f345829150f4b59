/** The hub's 15-minute history, kept on the page and topped up with `stats.history` since the last sample. */
import { useEffect, useState } from 'preact/hooks';
import type { MusterClient } from '../client/index.js';

export interface HistoryData {
  readonly times: readonly number[];
  readonly series: Readonly<Record<string, readonly number[]>>;
}

const KEEP = 900;
const EVERY_MS = 2_000;

interface HistoryAnswer { times: number[]; series: Record<string, number[]> }

export function useHistory(client: MusterClient): HistoryData {
  const [data, setData] = useState<HistoryData>({ times: [], series: {} });
  useEffect(() => {
    let stopped = false;
    let times: number[] = [];
    let series: Record<string, number[]> = {};
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      try {
        const since = times.length ? times[times.length - 1] : undefined;
        const r = await client.call<HistoryAnswer>('stats.history', since === undefined ? {} : { since });
        if (stopped) return;
        if (r.times.length) {
          times = times.concat(r.times).slice(-KEEP);
          const next: Record<string, number[]> = {};
          for (const [k, v] of Object.entries(r.series)) next[k] = (series[k] ?? []).concat(v).slice(-KEEP);
          series = next;
          setData({ times, series });
        }
      } catch {
        // the connection banner says why; the next poll tries again
      }
      if (!stopped) timer = setTimeout(() => void poll(), EVERY_MS);
    };
    void poll();
    return () => { stopped = true; if (timer) clearTimeout(timer); };
  }, [client]);
  return data;
}

/** Per-second rates of a running total (a restarted hub's reset counts as 0, not a negative rate). */
export function rates(h: HistoryData, name: string): number[] {
  const v = h.series[name] ?? [];
  const out: number[] = [];
  for (let i = 1; i < h.times.length; i++) {
    const dt = (h.times[i]! - h.times[i - 1]!) / 1000;
    out.push(dt > 0 ? Math.max(0, (v[i]! - v[i - 1]!) / dt) : 0);
  }
  return out;
}

/** Chart data: x in seconds (from the second sample on, to line up with rates). */
export function chartData(h: HistoryData, lines: number[][]): number[][] {
  return [h.times.slice(1).map((t) => t / 1000), ...lines];
}

export function levels(h: HistoryData, name: string): number[] {
  return (h.series[name] ?? []).slice(1);
}
