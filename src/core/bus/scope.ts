/**
 * RSB scopes: `/a/b/`, components of [-_a-zA-Z0-9]+, root `/`. A missing trailing slash is
 * added; anything else is INVALID_SCOPE. Parsed scopes are cached (bounded) because publishers
 * reuse a handful of scopes millions of times.
 */
import { MusterError } from '../../errors.js';
import { MAX_SCOPE_LENGTH } from '../../schemas/bus.js';

export { MAX_SCOPE_LENGTH };

const COMPONENT = /^[-_a-zA-Z0-9]+$/;
const CACHE_MAX = 10_000;

export interface Scope {
  /** Canonical text, with leading and trailing slash. */
  readonly text: string;
  /** Components from the root down; [] for `/`. */
  readonly parts: readonly string[];
}

const cache = new Map<string, Scope>();

/** Parses and normalizes a scope; throws INVALID_SCOPE. */
export function parseScope(input: string): Scope {
  const hit = cache.get(input);
  if (hit) return hit;
  const scope = parseUncached(input);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(input, scope);
  return scope;
}

function parseUncached(input: string): Scope {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_SCOPE_LENGTH || input[0] !== '/') {
    throw invalid(input);
  }
  if (input === '/') return { text: '/', parts: [] };
  const body = input.endsWith('/') ? input.slice(1, -1) : input.slice(1);
  const parts = body.split('/');
  for (const p of parts) if (!COMPONENT.test(p)) throw invalid(input);
  return { text: `/${parts.join('/')}/`, parts };
}

function invalid(input: unknown): MusterError {
  const shown = typeof input === 'string' ? JSON.stringify(input.slice(0, 80)) : typeof input;
  return new MusterError('INVALID_SCOPE', `Invalid scope ${shown}: scopes look like /a/b/ with components of [-_a-zA-Z0-9]`, { scope: typeof input === 'string' ? input.slice(0, 200) : null });
}

/** True when `sub` is `scope` or below it (a listener on sub receives it). */
export function isSubScope(scope: string, of: string): boolean {
  return scope.startsWith(of);
}
