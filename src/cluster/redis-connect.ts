/**
 * Connecting a store's Redis clients at open: both connect within a bound, or the hub is told
 * clearly why not (the URL shown without its password): a hub that cannot reach its store does
 * not start.
 */
import type { createClient } from '@redis/client';
import { MusterError } from '../errors.js';

export type RedisClient = ReturnType<typeof createClient>;

export async function connectClients(clients: readonly RedisClient[], url: string, commandTimeoutMs: number): Promise<void> {
  let last: unknown = null;
  const seen = (err: unknown) => { last = err; };
  for (const c of clients) c.on('error', seen);
  const within = Math.max(5_000, commandTimeoutMs * 2);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(clients.map((c) => c.connect())),
      new Promise((_r, reject) => { timer = setTimeout(() => reject(new Error('no connection')), within); }),
    ]);
  } catch (err) {
    await Promise.allSettled(clients.map((c) => c.destroy()));
    const why = (last as Error | null)?.message || (err as Error).message;
    throw new MusterError('STORE_UNAVAILABLE', `Cannot reach the cluster's Redis at ${redacted(url)} within ${within} ms: ${why}`);
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.off('error', seen);
  }
}

/** The URL without its password, for messages and logs. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}
