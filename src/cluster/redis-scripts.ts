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
      // A script error is a bug of ours; anything else is Redis not answering.
      if (/^ERR|user_script/.test(text)) throw new MusterError('INTERNAL', `A cluster script failed: ${text}`);
      throw new MusterError('STORE_UNAVAILABLE', `Redis did not answer: ${text}`);
    }
  }
}
