/**
 * The fuzz suite's vocabulary. A target is one codec or one face: it builds its case source
 * (a fast-check arbitrary, and optionally a finite sweep tried first) and runs one case,
 * reporting what it saw. The runner (runner.ts) owns time, seeds, shrinking and the summary.
 */
import type fc from 'fast-check';
import type { FuzzHub } from './hub.js';

/**
 * What broke. `crash`: the hub process exited; `hang`: no answer where one is owed; `internal`:
 * the hub answered INTERNAL (an unexpected throw it caught); `uncatalogued`: an error code not in
 * src/errors.ts; `malformed`: an answer that is not well-formed for its protocol; `throw`: a
 * codec threw; `unhealthy` / `lost`: the post-batch checks failed (control client, ledger).
 */
export type FaultKind = 'crash' | 'hang' | 'internal' | 'uncatalogued' | 'malformed' | 'throw' | 'unhealthy' | 'lost';

export interface Fault {
  readonly kind: FaultKind;
  /** Groups repeats of one fault: the same signature is recorded (and shrunk) once per run. */
  readonly signature: string;
  readonly message: string;
}

/** What one case did: the codes and outcomes it saw (e.g. INVALID_PARAMS, ok, close:1007), and a fault if any. */
export interface Outcome {
  readonly codes: readonly string[];
  readonly fault?: Fault;
}

export interface TargetRun<C> {
  readonly arbitrary: fc.Arbitrary<C>;
  /** Deterministic cases tried before random ones (every truncation of every seed, ...); may be cut short by time. */
  readonly sweep?: () => Iterable<C>;
  run(c: C): Outcome | Promise<Outcome>;
  /** The case as a short, self-contained reproduction (what to send, or what to call). */
  show(c: C): string;
  close?(): Promise<void>;
}

export interface FuzzEnv {
  /** The spawned hub, for socket targets (null when only codec targets run). */
  readonly hub: FuzzHub | null;
  readonly seed: number;
}

/** A codec target is pure and synchronous; a socket target talks to the spawned hub. */
export type FuzzTarget<C = unknown> =
  | { readonly name: string; readonly kind: 'codec'; readonly weight?: number; setup(env: FuzzEnv): TargetRun<C> }
  | { readonly name: string; readonly kind: 'socket'; readonly weight?: number; setup(env: FuzzEnv): Promise<TargetRun<C>> };

/** Declares a target with its case type checked, stored as FuzzTarget<unknown> in the list. */
export function defineTarget<C>(t: FuzzTarget<C>): FuzzTarget {
  return t as unknown as FuzzTarget;
}

export const ok = (...codes: string[]): Outcome => ({ codes });
export const fault = (kind: FaultKind, signature: string, message: string, codes: readonly string[] = []): Outcome => ({
  codes, fault: { kind, signature: `${kind}: ${signature}`, message },
});
