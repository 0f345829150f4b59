/**
 * The common case shape of message-oriented targets: a valid seed, JSON operations on it, byte
 * operations on the result. Also the deterministic sweep: every truncation of every seed.
 */
import fc from 'fast-check';
import {
  applyByteOps, applyJsonOps, byteOpArb, describeByteOp, describeJsonOp, jsonOpArb, showBytes, type ByteOp, type JsonOp,
} from './mutate.js';

export interface SeedCase {
  readonly seed: number;
  readonly json: readonly JsonOp[];
  readonly bytes: readonly ByteOp[];
}

export interface SeedCaseOptions {
  /** Integer weight of megabyte-sized values among hostile values (default 4 of 56). */
  readonly hugeWeight?: number;
  readonly intWidths?: readonly (1 | 2 | 4 | 8)[];
}

/** A third JSON-only, a third bytes-only, a third both; few operations, so shrinking has little to remove. */
export function seedCaseArb(opts: SeedCaseOptions = {}): fc.Arbitrary<SeedCase> {
  const json = fc.array(jsonOpArb(opts.hugeWeight), { minLength: 1, maxLength: 3 });
  const bytes = fc.array(byteOpArb(opts.intWidths), { minLength: 1, maxLength: 4 });
  const seed = fc.nat({ max: 10_000 });
  return fc.oneof(
    fc.record({ seed, json, bytes: fc.constant([]) }),
    fc.record({ seed, json: fc.constant([]), bytes }),
    fc.record({ seed, json, bytes }),
  );
}

/** Past the WebSocket close threshold (4 MiB) more bytes test nothing new: cases are cut here. */
export const MAX_CASE_BYTES = 5 * 1024 * 1024;

/** The case's bytes: JSON operations on the seed's text (when it is JSON), then byte operations; at most MAX_CASE_BYTES. */
export function materialize(seeds: readonly Uint8Array[], c: SeedCase): Buffer {
  const seed = seeds[c.seed % seeds.length];
  let b: Uint8Array = seed;
  if (c.json.length) {
    try {
      b = Buffer.from(applyJsonOps(Buffer.from(seed).toString('utf8'), c.json));
    } catch {
      b = seed; // a seed that is not JSON takes byte operations only
    }
  }
  if (b.byteLength > MAX_CASE_BYTES) b = b.subarray(0, MAX_CASE_BYTES);
  const out = applyByteOps(b, c.bytes, seeds);
  return out.length > MAX_CASE_BYTES ? out.subarray(0, MAX_CASE_BYTES) : out;
}

export function describeCase(c: SeedCase, seedLabel: string): string {
  const ops = [...c.json.map(describeJsonOp), ...c.bytes.map(describeByteOp)];
  return `seed ${seedLabel}${ops.length ? `, then ${ops.join('; ')}` : ''}`;
}

/** Case recipe plus the exact bytes. */
export function showSeedCase(c: SeedCase, seedLabel: string, bytes: Uint8Array): string {
  return `${describeCase(c, seedLabel)}\n  bytes: ${showBytes(bytes)}`;
}

/** Every proper prefix of every seed (shortest first within a seed); seeds in an order rotated by `start`. */
export function* truncations(seeds: readonly Uint8Array[], start: number): Iterable<SeedCase> {
  for (let i = 0; i < seeds.length; i++) {
    const s = (start + i) % seeds.length;
    for (let at = 0; at < seeds[s].length; at++) yield { seed: s, json: [], bytes: [{ op: 'truncate', at }] };
  }
}

export function* mapIter<A, B>(it: Iterable<A>, f: (a: A) => B): Iterable<B> {
  for (const a of it) yield f(a);
}
