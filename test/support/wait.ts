/** Waiting in tests: for a condition to hold, polled, with a bound. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `what` every 50 ms until it gives something truthy, which it returns; fails after `ms` with the label and the last error. */
export async function until<T>(label: string, what: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await what();
      if (v) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${label}${last ? ` (${String(last)})` : ''}`);
    await sleep(50);
  }
}

/** The text an SSE stream sends within `ms` of opening (a replay, say), then the stream is closed. */
export async function sseReplay(url: string, ms = 300): Promise<string> {
  const stop = new AbortController();
  const res = await fetch(url, { signal: stop.signal });
  const reader = res.body!.getReader();
  const timer = setTimeout(() => stop.abort(), ms);
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
  } catch { /* aborted: what came is the replay */ }
  clearTimeout(timer);
  return text;
}
