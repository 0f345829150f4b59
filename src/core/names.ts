/** Member names: validation and the first free `name-N`. */
import { MusterError } from '../errors.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function isValidName(name: string): boolean {
  // `.` and `..` would turn /v1/members/NAME into another path.
  return NAME_RE.test(name) && name !== '.' && name !== '..';
}

export function assertValidName(name: string): void {
  if (!isValidName(name)) throw new MusterError('INVALID_NAME', `Invalid name ${JSON.stringify(name.slice(0, 80))}: names are 1-64 characters of [A-Za-z0-9._-], not . or ..`);
}

/** The first of `base`, `base-1`, `base-2`, ... that `taken` says is free and that fits 64 characters. */
export function firstFreeName(base: string, taken: (name: string) => boolean, startAt = 0): string {
  if (startAt === 0 && !taken(base)) return base;
  for (let n = Math.max(1, startAt); ; n++) {
    const suffix = `-${n}`;
    const candidate = base.slice(0, 64 - suffix.length) + suffix;
    if (!taken(candidate)) return candidate;
  }
}

/** `name` or `hub/name` (a member of hub `hub` anywhere in the tree): the hub part, or null, and the name. */
export function splitAddress(address: string): { hubId: string | null; name: string } {
  const slash = address.indexOf('/');
  return slash < 0 ? { hubId: null, name: address } : { hubId: address.slice(0, slash), name: address.slice(slash + 1) };
}
