/** What the dashboard tests share: the bundle built once per run, bounded waiting. */
import { buildDashboard, type BuiltDashboard } from '../../src/dashboard/build.js';

let built: Promise<BuiltDashboard> | null = null;

/** Builds dist/www (what `npm run build` does) once per test process; hubs started after it serve it. */
export function ensureBundle(): Promise<BuiltDashboard> {
  built ??= buildDashboard();
  return built;
}

/** Polls `fn` until it gives a value, within `ms`; then fails saying what was awaited. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
