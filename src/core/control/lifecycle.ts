/**
 * The component lifecycle (Saturnin ICCP's state machine) as data: a transition table from a
 * phase and an event to the next state, or to a protocol error with its reason. Pure: no
 * timers, no I/O, no registry; control.ts asks `step` before every transition and does what it
 * says. test/lifecycle-table.test.ts tests it row by row; docs/architecture.md draws it.
 *
 * Dialects: components of a face with its own wire (ICCP: real Saturnin components) follow the
 * real system where it differs from the native table: `ICCP_ROWS` come first for them.
 */
import type { LifecycleState } from '../../schemas/control.js';

/**
 * Where a component is: its state, refined where the state alone does not decide (whether READY
 * came, and which call a late answer would answer). `none`: not a component yet.
 */
export const PHASES = [
  'none', 'starting', 'unresponsive before READY', 'ready', 'configuring', 'configured', 'stopping',
  'unresponsive after READY', 'unresponsive (late CONFIGURE)', 'unresponsive (late STOP)', 'finished', 'failed',
] as const;
export type Phase = (typeof PHASES)[number];

/** What can happen to a component: its own messages, the hub's commands, and timers and links. */
export const EVENTS = [
  'registered', 'registered again', 'hub restarted',
  // From the component. "another call": an answer naming a call that is not the one it can answer.
  'READY', 'ERROR', 'OK', 'FINISHED', 'answer to another call', 'CONFIGURE from the component', 'STOP from the component',
  // A message its face could not read (a legacy wire: garbage, wrong frames, too large).
  'bad message',
  // From the hub, and what the hub sees.
  'CONFIGURE sent', 'STOP sent', 'no READY in time', 'no answer in time', 'connection lost',
  // Reported by whoever started the component's process (`muster launch`).
  'process exited',
] as const;
export type EventName = (typeof EVENTS)[number];

/** The messages a component sends; a refusal or a protocol error answers each. */
export const MESSAGES = [
  'READY', 'ERROR', 'OK', 'FINISHED', 'answer to another call', 'CONFIGURE from the component', 'STOP from the component', 'bad message',
] as const satisfies readonly EventName[];

export type Kind = 'configure' | 'stop';

/** Whose rules a component follows: the native table, or the real ICCP system's where they differ. */
export const DIALECTS = ['native', 'iccp'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** A component's answer to a command (or, for `error` before READY, its failure to start). */
export type Answer =
  | { readonly type: 'ok'; readonly call?: string }
  | { readonly type: 'error'; readonly call?: string; readonly text: string }
  | { readonly type: 'finished'; readonly call?: string; readonly outcome: 'OK' | 'ERROR' | 'UNKNOWN'; readonly details?: readonly string[] };

/** What happened, with the facts the notes and reasons quote. */
export type Happening =
  | { readonly type: 'registered' | 'registered again' | 'hub restarted' | 'READY' | 'connection lost' | 'no answer in time' }
  | { readonly type: 'CONFIGURE from the component' | 'STOP from the component' }
  | { readonly type: 'CONFIGURE sent' | 'STOP sent'; readonly call: string }
  | { readonly type: 'no READY in time'; readonly ms: number }
  | { readonly type: 'process exited'; readonly text: string }
  | { readonly type: 'bad message'; readonly text: string }
  | { readonly type: 'answer'; readonly answer: Answer };

/** The call an answer can answer: the open one, or (unresponsive) the one that timed out. */
export interface CallInfo {
  readonly id: string;
  readonly kind: Kind;
  /** The state CONFIGURE was sent from: an ERROR answer returns there. */
  readonly from: LifecycleState;
  readonly timeoutMs: number;
}

export interface Situation {
  /** null: not a component yet. */
  readonly state: LifecycleState | null;
  /** READY came in this run. */
  readonly readySeen: boolean;
  readonly lastError: string | null;
  readonly call: CallInfo | null;
  /** Default: native. */
  readonly dialect?: Dialect;
}

/**
 * A row's outcome. `to`: the next state (`back`: the state CONFIGURE was sent from), with the
 * history note and `lastError` as templates of `{fact}`s (null clears lastError).
 * `protocolError`: the component fails and the sender hears the reason. `refused`: the sender
 * hears it, nothing changes (the run is over). `stay`: nothing changes, and why.
 */
export type Outcome =
  | { readonly to: LifecycleState | 'back'; readonly note?: string; readonly lastError?: string | null }
  | { readonly protocolError: string }
  | { readonly refused: string }
  | { readonly stay: string };

export interface Row {
  readonly from: readonly Phase[];
  readonly on: readonly EventName[];
  readonly outcome: Outcome;
}

const BEFORE_READY = ['starting', 'unresponsive before READY'] as const satisfies readonly Phase[];
const LATE = ['unresponsive (late CONFIGURE)', 'unresponsive (late STOP)'] as const satisfies readonly Phase[];
/** After READY with no call to answer. */
const IDLE = ['ready', 'configured', 'unresponsive after READY', 'finished'] as const satisfies readonly Phase[];
const OPEN = ['configuring', 'stopping'] as const satisfies readonly Phase[];
const AFTER_READY = [...IDLE, ...OPEN, ...LATE] as const;
const ALIVE = [...BEFORE_READY, ...AFTER_READY] as const;
const ANSWERS = ['OK', 'ERROR', 'FINISHED', 'answer to another call'] as const satisfies readonly EventName[];

/** Same text in the history note and in lastError. */
const failing = (to: LifecycleState, text: string): Outcome => ({ to, note: text, lastError: text });
const LATE_CONFIGURE = 'late answer to CONFIGURE {open}: ';
const LATE_STOP = 'late answer to STOP {open}: ';

/** The lifecycle. Each (phase, event) pair is in at most one row. */
export const TRANSITIONS: readonly Row[] = [
  { from: ['none'], on: ['registered'], outcome: { to: 'starting', note: 'registered' } },
  { from: PHASES, on: ['registered again'], outcome: { to: 'starting', note: 'registered again: a new run', lastError: null } },

  { from: ['starting'], on: ['READY'], outcome: { to: 'ready' } },
  { from: ['unresponsive before READY'], on: ['READY'], outcome: { to: 'ready', note: 'late READY' } },
  { from: BEFORE_READY, on: ['ERROR'], outcome: { to: 'failed', note: 'could not start', lastError: '{text}' } },
  { from: ['starting'], on: ['no READY in time'], outcome: failing('unresponsive', 'no READY within {ms} ms') },
  { from: ['starting'], on: ['hub restarted'], outcome: { stay: 'it waits for READY again' } },
  { from: BEFORE_READY, on: ['OK', 'FINISHED', 'answer to another call'], outcome: { protocolError: '{answer} before READY' } },
  { from: AFTER_READY, on: ['READY'], outcome: { protocolError: 'a second READY' } },

  { from: ['ready', 'configured'], on: ['CONFIGURE sent'], outcome: { to: 'configuring', note: 'CONFIGURE {call}' } },
  { from: ['configuring'], on: ['OK'], outcome: { to: 'configured', note: 'OK' } },
  { from: ['configuring'], on: ['ERROR'], outcome: { to: 'back', note: 'CONFIGURE failed: {text}', lastError: '{text}' } },
  { from: ['configuring'], on: ['FINISHED'], outcome: { protocolError: 'FINISHED does not answer CONFIGURE' } },

  { from: ['ready', 'configured', 'unresponsive after READY', ...LATE], on: ['STOP sent'], outcome: { to: 'stopping', note: 'STOP {call}' } },
  { from: ['stopping'], on: ['FINISHED'], outcome: { to: 'finished', note: 'FINISHED {outcome}', lastError: '{problems}' } },
  { from: ['stopping'], on: ['ERROR'], outcome: { to: 'failed', note: 'STOP failed: {text}', lastError: '{text}' } },
  { from: ['stopping'], on: ['OK'], outcome: { protocolError: 'OK does not answer STOP' } },

  { from: OPEN, on: ['answer to another call'], outcome: { protocolError: '{answer} for call {call}, but the open call is {open}' } },
  { from: OPEN, on: ['no answer in time'], outcome: failing('unresponsive', 'no answer to {command} within {ms} ms') },
  { from: OPEN, on: ['connection lost'], outcome: failing('failed', 'connection lost during {command}') },
  { from: OPEN, on: ['hub restarted'], outcome: failing('unresponsive', 'the hub restarted while {state}') },

  { from: ['unresponsive (late CONFIGURE)'], on: ['OK'], outcome: { to: 'configured', note: `${LATE_CONFIGURE}OK` } },
  { from: ['unresponsive (late CONFIGURE)'], on: ['ERROR'], outcome: { to: 'back', note: `${LATE_CONFIGURE}CONFIGURE failed: {text}`, lastError: '{text}' } },
  { from: ['unresponsive (late CONFIGURE)'], on: ['FINISHED'], outcome: { protocolError: 'FINISHED does not answer CONFIGURE' } },
  { from: ['unresponsive (late STOP)'], on: ['FINISHED'], outcome: { to: 'finished', note: `${LATE_STOP}FINISHED {outcome}`, lastError: '{problems}' } },
  { from: ['unresponsive (late STOP)'], on: ['ERROR'], outcome: { to: 'failed', note: `${LATE_STOP}STOP failed: {text}`, lastError: '{text}' } },
  { from: ['unresponsive (late STOP)'], on: ['OK'], outcome: { protocolError: 'OK does not answer STOP' } },
  { from: LATE, on: ['connection lost'], outcome: { stay: 'the late answer can no longer come' } },

  { from: IDLE, on: ANSWERS, outcome: { protocolError: '{answer} answers nothing: no CONFIGURE or STOP is open' } },
  { from: LATE, on: ['answer to another call'], outcome: { protocolError: '{answer} answers nothing: no CONFIGURE or STOP is open' } },
  { from: ALIVE, on: ['CONFIGURE from the component', 'STOP from the component'], outcome: { protocolError: '{answer} goes from the hub to a component, never back' } },
  { from: ALIVE, on: ['bad message'], outcome: { protocolError: 'a bad message: {text}' } },
  { from: ['failed'], on: MESSAGES, outcome: { refused: '{answer} from a failed component ({lastError}); register again to start a new run' } },

  { from: BEFORE_READY, on: ['process exited'], outcome: failing('failed', 'its process exited before READY: {text}') },
  { from: AFTER_READY.filter((p) => p !== 'finished'), on: ['process exited'], outcome: failing('failed', 'its process exited in state {state}: {text}') },
  { from: ['finished'], on: ['process exited'], outcome: { to: 'finished', note: 'its process exited: {text}' } },
  { from: ['failed'], on: ['process exited'], outcome: { to: 'failed', note: 'its process exited: {text}' } },
];

/** ICCP components after READY with nothing open: components finish or crash on their own (PROTOCOLS.md section 3). */
const ICCP_IDLE = ['ready', 'configured', 'unresponsive after READY'] as const satisfies readonly Phase[];

/**
 * The ICCP dialect's rows, asked before TRANSITIONS for its components. An OK, ERROR or FINISHED
 * with no command open is accepted, as the real controller accepts it: FINISHED finishes the run,
 * ERROR fails it, OK changes nothing. A component that vanishes without FINISHED has failed.
 */
export const ICCP_ROWS: readonly Row[] = [
  { from: ICCP_IDLE, on: ['FINISHED'], outcome: { to: 'finished', note: 'FINISHED {outcome}, unprompted', lastError: '{problems}' } },
  { from: ICCP_IDLE, on: ['ERROR'], outcome: { to: 'failed', note: 'ERROR, unprompted: {text}', lastError: '{text}' } },
  { from: ICCP_IDLE, on: ['OK'], outcome: { stay: 'an unprompted OK is accepted and changes nothing' } },
  { from: ['finished'], on: ['OK', 'FINISHED'], outcome: { stay: 'the run is over; accepted' } },
  { from: ['finished'], on: ['ERROR'], outcome: { to: 'failed', note: 'ERROR after FINISHED: {text}', lastError: '{text}' } },
  { from: ICCP_IDLE, on: ['connection lost'], outcome: failing('failed', 'connection lost in state {state}: the component vanished without FINISHED') },
];

const ROWS_OF: Readonly<Record<Dialect, readonly (readonly Row[])[]>> = { native: [TRANSITIONS], iccp: [ICCP_ROWS, TRANSITIONS] };

/** What a command needs when the table has no row for it (INVALID_STATE). */
export const NEEDS = { configure: 'ready or configured', stop: 'ready, configured or unresponsive after READY' } as const;

/** The result of `step`: what control.ts does. */
export type Step =
  | { readonly type: 'move'; readonly row: Row; readonly to: LifecycleState; readonly note: string | undefined; readonly lastError: string | null | undefined }
  /** The component fails (`failed`, lastError "protocol error: reason"); the sender and any waiting controller hear why. */
  | { readonly type: 'protocol-error'; readonly row: Row; readonly reason: string; readonly to: 'failed'; readonly note: string }
  /** The sender hears PROTOCOL_ERROR; nothing changes. */
  | { readonly type: 'refused'; readonly row: Row; readonly reason: string }
  /** A command in a state the table sends none from. */
  | { readonly type: 'invalid-state'; readonly kind: Kind; readonly needs: string }
  /** Nothing changes (a row says why, or no row: a stale timer). */
  | { readonly type: 'stay'; readonly row: Row | null };

export function phaseOf(s: Situation): Phase {
  if (s.state === null) return 'none';
  if (s.state !== 'unresponsive') return s.state;
  if (!s.readySeen) return 'unresponsive before READY';
  if (!s.call) return 'unresponsive after READY';
  return s.call.kind === 'configure' ? 'unresponsive (late CONFIGURE)' : 'unresponsive (late STOP)';
}

/** The row for a phase and an event in a dialect, if any. */
export function rowFor(phase: Phase, event: EventName, dialect: Dialect = 'native'): Row | undefined {
  for (const rows of ROWS_OF[dialect]) {
    const row = rows.find((r) => r.from.includes(phase) && r.on.includes(event));
    if (row) return row;
  }
  return undefined;
}

const LABEL = { ok: 'OK', error: 'ERROR', finished: 'FINISHED', configure: 'CONFIGURE', stop: 'STOP' } as const;

/** The table's event for what happened: an answer naming a call it cannot answer is its own event. */
export function eventOf(s: Situation, h: Happening): EventName {
  if (h.type !== 'answer') return h.type;
  const call = h.answer.call;
  if (call !== undefined && call !== s.call?.id) return 'answer to another call';
  return LABEL[h.answer.type];
}

/** The next step for a component in situation `s` when `h` happens. */
export function step(s: Situation, h: Happening): Step {
  const event = eventOf(s, h);
  const row = rowFor(phaseOf(s), event, s.dialect);
  if (!row) {
    if (event === 'CONFIGURE sent') return { type: 'invalid-state', kind: 'configure', needs: NEEDS.configure };
    if (event === 'STOP sent') return { type: 'invalid-state', kind: 'stop', needs: NEEDS.stop };
    return { type: 'stay', row: null };
  }
  const facts = factsOf(s, h);
  const o = row.outcome;
  if ('protocolError' in o) {
    const reason = fill(o.protocolError, facts)!;
    return { type: 'protocol-error', row, reason, to: 'failed', note: `protocol error: ${reason}` };
  }
  if ('refused' in o) return { type: 'refused', row, reason: fill(o.refused, facts)! };
  if ('stay' in o) return { type: 'stay', row };
  const to = o.to === 'back' ? (s.call?.from === 'configured' ? 'configured' : 'ready') : o.to;
  const lastError = o.lastError === undefined || o.lastError === null ? o.lastError : fill(o.lastError, facts);
  return { type: 'move', row, to, note: o.note === undefined ? undefined : fill(o.note, facts), lastError };
}

type Facts = Readonly<Record<string, string | number | undefined>>;

function factsOf(s: Situation, h: Happening): Facts {
  const call = s.call;
  const base = { state: s.state ?? 'none', lastError: s.lastError ?? 'failed', open: call?.id, command: call ? LABEL[call.kind] : undefined, ms: call?.timeoutMs };
  switch (h.type) {
    case 'answer': {
      const a = h.answer;
      if (a.type === 'error') return { ...base, answer: 'ERROR', call: a.call, text: a.text };
      if (a.type === 'ok') return { ...base, answer: 'OK', call: a.call };
      const outcome = a.outcome === 'ERROR' ? 'ERROR' : 'OK';
      const problems = outcome === 'ERROR' ? (a.details ?? []).join('; ') || 'finished with outcome ERROR' : undefined;
      return { ...base, answer: 'FINISHED', call: a.call, outcome, problems };
    }
    case 'CONFIGURE sent': case 'STOP sent': return { ...base, call: h.call };
    case 'CONFIGURE from the component': return { ...base, answer: 'CONFIGURE' };
    case 'STOP from the component': return { ...base, answer: 'STOP' };
    case 'no READY in time': return { ...base, ms: h.ms };
    case 'process exited': return { ...base, text: h.text };
    case 'bad message': return { ...base, answer: 'a bad message', text: h.text };
    case 'READY': return { ...base, answer: 'READY' };
    default: return base;
  }
}

/** Fills `{fact}` placeholders; a template quoting a fact the event lacks gives nothing (FINISHED OK sets no lastError). */
export function fill(template: string, facts: Facts): string | undefined {
  let missing = false;
  const text = template.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = facts[k];
    if (v === undefined) missing = true;
    return String(v);
  });
  return missing ? undefined : text;
}
