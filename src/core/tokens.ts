/** Member tokens: random, shown once, stored only as a SHA-256 hash (they carry 256 bits, so no slow hash is needed). */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';

// One-shot hashing (Node >= 20.12) skips building a Hash object; every heartbeat hashes a token.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'base64url' | 'hex') => string }).hash;

// Random bytes are drawn 8 KB at a time (one call per 256 tokens, not one per registration).
let pool = Buffer.alloc(0);
let offset = 0;

export function newToken(): string {
  if (offset + 32 > pool.length) {
    pool = randomBytes(32 * 256);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + 32);
  pool.fill(0, offset, offset + 32); // no copy of a handed-out token stays in the pool
  offset += 32;
  return token;
}

/**
 * The id of the member a client-chosen token (`register`'s `newToken`) makes: a uuid (version 8,
 * "custom") of its own SHA-256 hash, so that every attempt of one registration, at any hub,
 * names the same member, and the store refuses a second one atomically (`absent`).
 */
export function idOfNewToken(token: string): string {
  const x = oneShot ? oneShot('sha256', `muster member id\n${token}`, 'hex') : createHash('sha256').update(`muster member id\n${token}`).digest('hex');
  // Version 8 (the 13th digit) and the RFC 4122 variant (the 17th: 8, 9, a or b).
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-8${x.slice(13, 16)}-${'89ab'[parseInt(x[16]!, 16) & 3]}${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

/** Equal strings, in a time that depends on their length only (a presented token against one verified before). */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function hashToken(token: string): string {
  return oneShot ? oneShot('sha256', token, 'base64url') : createHash('sha256').update(token).digest('base64url');
}

/**
 * A configured secret (the admin token), hashed once. A presented token is hashed once by the
 * caller (hashToken) and that hash serves both the member check and this constant-time one.
 * A rotated secret still accepts the previous value for a grace period (a reloaded config).
 */
export class Secret {
  #hash: Buffer | null;
  #previous: { hash: Buffer; until: number } | null = null;

  constructor(value: string | undefined) {
    this.#hash = value ? Buffer.from(hashToken(value)) : null;
  }

  /** A new value at once; the old one still matches for `graceMs` (none when 0). */
  rotate(value: string | undefined, graceMs: number, now = Date.now()): void {
    this.#previous = this.#hash && graceMs > 0 ? { hash: this.#hash, until: now + graceMs } : null;
    this.#hash = value ? Buffer.from(hashToken(value)) : null;
  }

  matches(presented: string | undefined): boolean {
    return presented ? this.matchesHash(hashToken(presented)) : false;
  }

  matchesHash(presentedHash: string): boolean {
    const b = Buffer.from(presentedHash);
    if (this.#hash && sameBytes(b, this.#hash)) return true;
    const previous = this.#previous;
    if (!previous) return false;
    if (Date.now() >= previous.until) {
      this.#previous = null;
      return false;
    }
    return sameBytes(b, previous.hash);
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time comparison of a presented secret with a configured one. */
export function secretEquals(presented: string | undefined, expected: string | undefined): boolean {
  if (!presented || !expected) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
