/**
 * plantimager's expiry arithmetic. The original stores `int(now) + timeout` and prunes entries
 * below `int(now)`, so a device stays while `int(now) <= int(t) + timeout`: until the end of that
 * whole second. An alive check (or a registration, with ALIVE_TIMEOUT) buys between `timeout` and
 * `timeout + 1` s, and real devices are written to that rhythm (they check every timeout + a few ms).
 */

/** The instant (ms since the epoch) a device checked at `nowMs` expires; it is still there just before. */
export function aliveUntil(nowMs: number, timeoutS: number): number {
  // int(now) is whole, so int(now) <= int(t) + timeout is int(now) <= int(t) + floor(timeout).
  return (Math.floor(nowMs / 1000) + Math.floor(timeoutS) + 1) * 1000;
}
