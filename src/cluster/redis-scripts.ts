/**
 * Runs the cluster's Lua scripts by their SHA (loaded once; loaded again after a Redis restart
 * forgot them), with a timeout: a Redis that does not answer is STORE_UNAVAILABLE.
 */
import { createHash } from 'node:crypto';
import type { createClient } from '@redis/client';
import { MusterError } from '../errors.js';

type Client = ReturnType<typeof createClient>;

/**
 * A reply within `ms` or STORE_UNAVAILABLE. node-redis's own command timeout covers only commands
 * still queued, not one already written to a Redis that stopped answering (a paused or frozen
 * server): this one does; the late reply, if it comes, is dropped.
 */
export function answered<T>(reply: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new MusterError('STORE_UNAVAILABLE', `Redis did not answer within ${ms} ms`)), ms);
  });
  reply.catch(() => {});
  return Promise.race([reply, late]).finally(() => clearTimeout(timer));
}

export class Scripts {
  readonly #client: Client;
  readonly #timeoutMs: number;
  readonly #sha = new Map<string, string>();
  readonly #counts: { commands: number; failures: number } | undefined;

  /** `counts`, when given, is bumped for each run and each failed one (for /metrics). */
  constructor(client: Client, timeoutMs: number, counts?: { commands: number; failures: number }) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#counts = counts;
  }

  async run<T>(script: string, argv: readonly string[]): Promise<T> {
    let sha = this.#sha.get(script);
    if (!sha) this.#sha.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    const ms = this.#timeoutMs;
    if (this.#counts) this.#counts.commands++;
    try {
      try {
        return await answered(this.#client.sendCommand<T>(['EVALSHA', sha, '0', ...argv]), ms);
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        return await answered(this.#client.sendCommand<T>(['EVAL', script, '0', ...argv]), ms);
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
