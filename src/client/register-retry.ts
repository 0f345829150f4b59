/**
 * `register`, safe to retry: the SDK chooses the new member's token (`newToken`), which fixes the
 * member's id at the hub, so the same call sent again after a lost answer (the connection
 * dropped, or no answer in time) resumes the member the first attempt made rather than making a
 * second one named `name-1`.
 */
import { isLinkError, MusterClientError } from './errors.js';

/** Attempts of one registration in all; each waits out a reconnect within the client's timeout. */
export const REGISTER_ATTEMPTS = 4;

/** 32 random bytes in base64url (43 characters), in Node and in browsers alike. */
export function randomToken(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(32));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * `attempt` again while its outcome is unknown (a link error) or the hub says the member of an
 * earlier attempt is on its way from another hub (MEMBER_EXISTS); not once the client is closed.
 */
export async function retried<T>(attempt: () => Promise<T>, closed: () => boolean): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const unknownOutcome = isLinkError(err) || (err instanceof MusterClientError && err.code === 'MEMBER_EXISTS');
      if (!unknownOutcome || n >= REGISTER_ATTEMPTS || closed()) throw err;
    }
  }
}
