/**
 * `register`, safe to retry: the SDK chooses the new member's token (`newToken`), which fixes the
 * member's id at the hub, so the same call sent again after a lost answer (the connection
 * dropped, or no answer in time) resumes the member the first attempt made rather than making a
 * second one named `name-1`.
 */
import { isLinkError, MusterClientError } from './errors.js';

/** Attempts of one registration in all; each waits out a reconnect within the client's timeout. */
export const REGISTER_ATTEMPTS = 4;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Random bytes are drawn 64 tokens at a time; a handed-out token's bytes are zeroed. */
let pool = new Uint8Array(0);
let offset = 0;

/** 33 random bytes in base64url (44 characters, no padding), in Node and in browsers alike. */
export function randomToken(): string {
  if (offset + 33 > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(33 * 64));
    offset = 0;
  }
  const b = pool;
  let token = '';
  for (let i = offset; i < offset + 33; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    token += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]! + BASE64URL[(n >> 6) & 63]! + BASE64URL[n & 63]!;
  }
  b.fill(0, offset, offset + 33);
  offset += 33;
  return token;
}

/**
 * `attempt` again while its outcome is unknown: a link error, the shared store not answering in
 * time (STORE_UNAVAILABLE: the write may still run; tried again after a pause, as the hub says or
 * 250 ms doubling), or the hub saying the member of an earlier attempt exists (MEMBER_EXISTS).
 * Not once the client is closed.
 */
export async function retried<T>(attempt: () => Promise<T>, closed: () => boolean): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const code = err instanceof MusterClientError ? err.code : undefined;
      const unknownOutcome = isLinkError(err) || code === 'MEMBER_EXISTS' || code === 'STORE_UNAVAILABLE';
      if (!unknownOutcome || n >= REGISTER_ATTEMPTS || closed()) throw err;
      if (code === 'STORE_UNAVAILABLE') await new Promise((resolve) => setTimeout(resolve, pauseAfter(err as MusterClientError, n)));
    }
  }
}

function pauseAfter(err: MusterClientError, attempt: number): number {
  const asked = Number(err.details?.retryAfterMs);
  return Math.min(2_000, asked > 0 ? asked : 250 * 2 ** (attempt - 1));
}
