/**
 * The fuzz runner: gives each target a share of the time budget, runs its sweep and then
 * fast-check rounds of random cases, shrinks each new fault (bounded in time) to a small
 * reproduction, checks the hub's invariants after every batch of socket cases, and returns a
 * JSON-able summary: cases per target, error codes seen, faults with seed, path and reproduction.
 *
 * Faults do not stop a run: a fault whose signature is already on record is counted and skipped,
 * so one known bug does not hide the next. A crashed hub is replaced by a fresh one.
 */
import fc from 'fast-check';
import { ERROR_CODES } from '../../src/errors.js';
import { FuzzHub } from './hub.js';
import type { Fault, FuzzEnv, FuzzTarget, Outcome, TargetRun } from './types.js';

export interface RunOptions {
  readonly targets: readonly FuzzTarget[];
  /** Total wall time, hub start included. */
  readonly budgetMs: number;
  readonly seed: number;
  /** Share of each target's time for its sweep (default 0.3). */
  readonly sweepShare?: number;
  /** Time to shrink one new fault (default: a quarter of the target's time, at most 20 s). */
  readonly shrinkMs?: number;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Replays one counterexample: a target name, a seed and a fast-check path. */
  readonly replay?: { readonly target: string; readonly seed: number; readonly path: string };
}

export interface FaultRecord {
  target: string;
  kind: Fault['kind'];
  signature: string;
  message: string;
  /** The smallest case found that shows the fault. */
  reproduction: string;
  /** Replay with `npm run fuzz -- --target T --seed S --path P` (random cases; sweep cases need no replay). */
  seed: number | null;
  path: string | null;
  shrinks: number;
  /** How many more times the same signature was seen. */
  repeats: number;
  atMs: number;
}

export interface TargetSummary {
  cases: number;
  sweepCases: number;
  ms: number;
  rounds: number;
  faults: number;
  codes: Record<string, number>;
  /** The slowest cases, for spotting near-hangs. */
  slowest: { ms: number; case: string }[];
}

export interface Summary {
  seed: number;
  budgetMs: number;
  elapsedMs: number;
  cases: number;
  targets: Record<string, TargetSummary>;
  /** Catalogued error codes seen in answers, over all targets. */
  distinctErrorCodes: string[];
  /** Codes seen in answers that are not in src/errors.ts. */
  uncataloguedCodes: string[];
  hub: { spawns: number; crashes: number; checks: number; ledgerMembers: number } | null;
  crashes: FaultRecord[];
  faults: FaultRecord[];
}

const CHECK_EVERY_CASES = 100;
const CHECK_EVERY_MS = 1000;
const RECENT = 3;

/** The least time a target gets, whatever the others took. */
const MIN_SHARE_MS = 400;

interface Pinned { signature: string; deadline: number; last: { shown: string; outcome: Outcome } | null; shrinks: number }

export async function runFuzz(options: RunOptions): Promise<Summary> {
  const start = Date.now();
  const deadline = start + options.budgetMs;
  const log = options.log ?? (() => {});
  const targets = options.replay ? options.targets.filter((t) => t.name === options.replay!.target) : options.targets;
  const needsHub = targets.some((t) => t.kind === 'socket');
  const hub = needsHub ? new FuzzHub() : null;
  const env: FuzzEnv = { hub, seed: options.seed };
  const records = new Map<string, FaultRecord>();
  const summaries: Record<string, TargetSummary> = {};
  const uncatalogued = new Set<string>();
  // Codec targets first: they need no hub, and the hub's start then counts against the socket targets' time.
  const ordered = [...targets.filter((t) => t.kind === 'codec'), ...targets.filter((t) => t.kind === 'socket')];

  try {
    let weightLeft = ordered.reduce((s, t) => s + (t.weight ?? 1), 0);
    for (const target of ordered) {
      const now = Date.now();
      // A floor, so that a target that overran its share (a slow machine, a slow setup) never
      // leaves a later one with no case at all; the run then ends a little after its budget.
      const share = Math.max(MIN_SHARE_MS, ((deadline - now) * (target.weight ?? 1)) / weightLeft);
      weightLeft -= target.weight ?? 1;
      const summary: TargetSummary = { cases: 0, sweepCases: 0, ms: 0, rounds: 0, faults: 0, codes: {}, slowest: [] };
      summaries[target.name] = summary;
      log(`fuzz: ${target.name} for ${Math.round(share)} ms`);
      await runTarget(target, env, share, summary, options, records, uncatalogued, start, log);
      summary.ms = Date.now() - now;
      summary.faults = [...records.values()].filter((r) => r.target === target.name).length;
    }
  } finally {
    await hub?.stop();
  }
  const faults = [...records.values()];
  const codes = new Set<string>();
  for (const s of Object.values(summaries)) for (const c of Object.keys(s.codes)) if ((ERROR_CODES as string[]).includes(c)) codes.add(c);
  return {
    seed: options.seed,
    budgetMs: options.budgetMs,
    elapsedMs: Date.now() - start,
    cases: Object.values(summaries).reduce((n, s) => n + s.cases + s.sweepCases, 0),
    targets: summaries,
    distinctErrorCodes: [...codes].sort(),
    uncataloguedCodes: [...uncatalogued].sort(),
    hub: hub ? { spawns: hub.spawns, crashes: hub.crashes, checks: hub.checks, ledgerMembers: hub.ledgerSize } : null,
    crashes: faults.filter((f) => f.kind === 'crash'),
    faults,
  };
}

async function runTarget(
  target: FuzzTarget, env: FuzzEnv, shareMs: number, summary: TargetSummary, options: RunOptions,
  records: Map<string, FaultRecord>, uncatalogued: Set<string>, start: number, log: (line: string) => void,
): Promise<void> {
  let run: TargetRun<unknown>;
  try {
    run = await target.setup(env);
  } catch (err) {
    record({ kind: 'throw', signature: `setup: ${(err as Error).message}`.slice(0, 160), message: String((err as Error).stack ?? err) }, '(setup)', null, null, 0);
    return;
  }
  // The share starts once the target is set up: the first socket target's setup starts the hub,
  // which on a loaded machine took all of its share (CI: "co2-face ran no case").
  const until = Date.now() + shareMs;
  const hub = env.hub;
  const recent: string[] = [];
  let sinceCheck = 0;
  let lastCheck = Date.now();

  function record(f: Fault, reproduction: string, seed: number | null, path: string | null, shrinks: number): void {
    const key = `${target.name} ${f.signature}`;
    const known = records.get(key);
    if (known) { known.repeats++; return; }
    const m = /not in the catalogue|code "?([A-Z_a-z0-9]+)/.exec(f.message);
    if (f.kind === 'uncatalogued' && m?.[1]) uncatalogued.add(m[1]);
    records.set(key, { target: target.name, kind: f.kind, signature: f.signature, message: f.message.slice(0, 6000), reproduction, seed, path, shrinks, repeats: 0, atMs: Date.now() - start });
    log(`fuzz: ${target.name}: ${f.signature}`);
  }

  /** One case: run it, count it, fold in log errors and unreported hub deaths, and check the invariants every batch. */
  async function exec(c: unknown): Promise<Outcome> {
    let outcome: Outcome;
    const t0 = Date.now();
    try {
      outcome = await run.run(c);
    } catch (err) {
      // The harness fails when the hub dies under it (a refused reconnect): that is the crash, not a harness fault.
      const live = hub?.current;
      if (live && !live.dead) await Promise.race([live.died, new Promise((r) => setTimeout(r, 500))]);
      outcome = live?.dead && hub
        ? { codes: [], fault: hub.crashFault() }
        : { codes: [], fault: { kind: 'throw', signature: `throw: harness: ${(err as Error).message}`.slice(0, 160), message: String((err as Error).stack ?? err) } };
    }
    for (const code of outcome.codes) summary.codes[code] = (summary.codes[code] ?? 0) + 1;
    const shown = safeShow(run, c);
    noteSlow(summary, Date.now() - t0, shown);
    recent.push(shown);
    if (recent.length > RECENT) recent.shift();
    if (hub && target.kind === 'socket') {
      const live = hub.current;
      // Errors the hub logged while this case ran (a swallowed throw, a failed write...).
      const errors = live?.takeErrors() ?? [];
      if (errors.length && !outcome.fault) outcome = { codes: outcome.codes, fault: logFault(errors) };
      if (outcome.fault?.kind === 'crash') hub.markCrashReported();
      else if (hub.crashUnreported) {
        // The hub died but the case did not see it (a crash set off by an earlier case): blame the recent ones.
        record(hub.crashFault(), `one of the last cases:\n${recent.join('\n')}`, null, null, 0);
        hub.markCrashReported();
      }
      sinceCheck++;
      if (sinceCheck >= CHECK_EVERY_CASES || Date.now() - lastCheck >= CHECK_EVERY_MS) {
        sinceCheck = 0;
        lastCheck = Date.now();
        if (!hub.current?.dead) {
          const f = await hub.check();
          if (f) record(f, `during the batch ending with:\n${recent.join('\n')}`, null, null, 0);
          if (f?.kind === 'crash') hub.markCrashReported();
        }
      }
    }
    return outcome;
  }

  // The sweep: deterministic cases (every truncation of every seed, ...), its share of the time.
  if (run.sweep && !options.replay) {
    const sweepUntil = Date.now() + (until - Date.now()) * (options.sweepShare ?? 0.3);
    let n = 0;
    for (const c of run.sweep()) {
      if (Date.now() >= sweepUntil || n++ > 10_000_000) break;
      const outcome = await exec(c);
      summary.sweepCases++;
      if (outcome.fault) record(outcome.fault, safeShow(run, c), null, null, 0);
    }
  }

  // Random rounds: each a fast-check run that stops at its first new fault, shrinks it, and records it.
  const shrinkMs = options.shrinkMs ?? Math.min(20_000, (until - Date.now()) / 4);
  for (let round = 0; round < 100_000 && Date.now() < until - 20; round++) {
    summary.rounds++;
    let pinned: Pinned | null = null;
    const judge = (c: unknown, outcome: Outcome): boolean => {
      const f = outcome.fault;
      if (!f) return true;
      if (pinned === null) {
        if (records.has(`${target.name} ${f.signature}`)) { records.get(`${target.name} ${f.signature}`)!.repeats++; return true; }
        pinned = { signature: f.signature, deadline: Date.now() + shrinkMs, last: { shown: safeShow(run, c), outcome }, shrinks: 0 };
        return false;
      }
      if (f.signature === pinned.signature) {
        pinned.last = { shown: safeShow(run, c), outcome };
        pinned.shrinks++;
        return false;
      }
      // Another fault met while shrinking: on record as it is, and the shrink goes on.
      if (!records.has(`${target.name} ${f.signature}`)) record(f, safeShow(run, c), null, null, 0);
      return true;
    };
    const shrinkOver = () => pinned !== null && Date.now() > pinned.deadline;
    const seed = options.replay?.seed ?? mix(options.seed, target.name, round);
    const params = {
      seed, numRuns: options.replay ? 1 : 1_000_000_000, path: options.replay?.path, endOnFailure: options.replay !== undefined,
      plugins: [fc.interruptAfterTimeLimit(Math.max(1, until - Date.now()))],
    };
    const details = target.kind === 'codec'
      ? fc.check(fc.property(run.arbitrary, (c) => {
        if (shrinkOver()) return true;
        summary.cases++;
        return judge(c, syncExec(run, c, summary));
      }), params)
      : await fc.check(fc.asyncProperty(run.arbitrary, async (c) => {
        if (shrinkOver()) return true;
        summary.cases++;
        return judge(c, await exec(c));
      }), params);
    const p = pinned as Pinned | null;
    if (p?.last) {
      record(p.last.outcome.fault!, p.last.shown, details.seed, details.counterexamplePath ?? null, p.shrinks);
    }
    if (options.replay) {
      log(`replay: ${details.failed ? 'failed' : 'passed'}${p?.last ? `: ${p.last.outcome.fault!.signature}` : ''}`);
      break;
    }
    if (!details.failed) break; // interrupted by the time limit: the target's time is up
  }
  await run.close?.().catch(() => undefined);
}

/** Codec cases: the target's run is synchronous; count codes here (exec is for socket targets). */
function syncExec(run: TargetRun<unknown>, c: unknown, summary: TargetSummary): Outcome {
  let outcome: Outcome;
  try {
    outcome = run.run(c) as Outcome;
  } catch (err) {
    outcome = { codes: [], fault: { kind: 'throw', signature: `throw: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 160), message: String((err as Error).stack ?? err) } };
  }
  for (const code of outcome.codes) summary.codes[code] = (summary.codes[code] ?? 0) + 1;
  return outcome;
}

function noteSlow(summary: TargetSummary, ms: number, shown: string): void {
  const slowest = summary.slowest;
  if (slowest.length === 3 && ms <= slowest[2].ms) return;
  slowest.push({ ms, case: shown.slice(0, 400) });
  slowest.sort((a, b) => b.ms - a.ms);
  slowest.length = Math.min(slowest.length, 3);
}

function safeShow(run: TargetRun<unknown>, c: unknown): string {
  try {
    return run.show(c);
  } catch (err) {
    return `(cannot show the case: ${(err as Error).message})`;
  }
}

/** An error-level log line as a fault: its message and error type make the signature. */
function logFault(lines: string[]): Fault {
  const first = lines[0];
  let sig = first.slice(0, 120);
  try {
    const j = JSON.parse(first) as { msg?: string; err?: { type?: string; message?: string } };
    sig = `${j.msg ?? ''}: ${j.err?.type ?? ''}: ${(j.err?.message ?? '').split('\n')[0].slice(0, 100)}`;
  } catch { /* the raw line then */ }
  return { kind: 'internal', signature: `internal: logged ${sig}`, message: lines.slice(0, 3).join('\n').slice(0, 4000) };
}

/** A per-target, per-round seed from the run's seed (so each round draws new cases, and a run is repeatable). */
function mix(seed: number, name: string, round: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const ch of `${name}#${round}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h | 0;
}
