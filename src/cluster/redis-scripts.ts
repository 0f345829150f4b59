/**
 * Runs the cluster's Lua scripts by their SHA (loaded once; loaded again after a Redis restart
 * forgot them), within the store's timeout (reply-watch.ts): a Redis that does not answer is
 * STORE_UNAVAILABLE.
 */
import { createHash } from 'node:crypto';
import type { createClient } from '@redis/client';
import { MusterError } from '../errors.js';
import type { ReplyWatch } from './reply-watch.js';

type Client = ReturnType<typeof createClient>;

/** Redis's errors for a server that takes no writes now (maxmemory with noeviction, a failed save or AOF write, a replica, loading, busy, ...). */
const REFUSALS = /^(OOM|MISCONF|READONLY|NOREPLICAS|MASTERDOWN|LOADING|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/** A command that failed: STORE_UNAVAILABLE, saying whether Redis refused it (until an operator mends that) or did not answer. */
export function redisFailure(err: unknown): MusterError {
  if (err instanceof MusterError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new MusterError('STORE_UNAVAILABLE', REFUSALS.test(text) ? `Redis refused the command: ${text}` : `Redis did not answer: ${text}`);
}

export class Scripts {
  readonly #client: Client;
  readonly #watch: ReplyWatch;
  readonly #sha = new Map<string, string>();
  readonly #counts: { commands: number; failures: number } | undefined;

  /** `counts`, when given, is bumped for each run and each failed one (for /metrics). */
  constructor(client: Client, watch: ReplyWatch, counts?: { commands: number; failures: number }) {
    this.#client = client;
    this.#watch = watch;
    this.#counts = counts;
  }

  async run<T>(script: string, argv: readonly string[]): Promise<T> {
    let sha = this.#sha.get(script);
    if (!sha) this.#sha.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    if (this.#counts) this.#counts.commands++;
    try {
      try {
        return await this.#watch.answered(this.#client.sendCommand<T>(['EVALSHA', sha, '0', ...argv]));
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        return await this.#watch.answered(this.#client.sendCommand<T>(['EVAL', script, '0', ...argv]));
      }
    } catch (err) {
      if (this.#counts) this.#counts.failures++;
      if (err instanceof MusterError) throw err;
      const text = (err as Error).message;
      // Redis refusing writes refuses a script before its first write, so nothing of it is written.
      // Any other script error is a bug of ours.
      if (!REFUSALS.test(text) && /^ERR|user_script/.test(text)) throw new MusterError('INTERNAL', `A cluster script failed: ${text}`);
      throw redisFailure(err);
    }
  }
}
