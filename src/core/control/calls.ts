/**
 * A component's calls: the CONFIGURE or STOP open on it (at most one, as in ICCP) with its
 * timeout, the call that timed out (whose late answer is still taken), and the controller's
 * result for an answer. What the timeout does to the lifecycle is the table's and control.ts's.
 */
import type { MusterError } from '../../errors.js';
import type { ConfigureResult, LifecycleState, StopResult } from '../../schemas/control.js';
import type { Answer, CallInfo, Kind } from './lifecycle.js';

export type CallResult = ConfigureResult | StopResult;

/** A CONFIGURE or STOP sent to a component; resolve/reject reach the waiting controller. */
export interface OpenCall extends CallInfo {
  readonly deadline: number;
  resolve?(result: CallResult): void;
  reject?(err: MusterError): void;
}

export class Calls {
  #open: OpenCall | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The call that timed out: its late answer is still taken while the component is unresponsive. */
  #late: OpenCall | null = null;

  get open(): OpenCall | null {
    return this.#open;
  }

  /** The call an answer answers in `state`: the open one, or (unresponsive) the late one. */
  answerable(state: LifecycleState): OpenCall | null {
    return this.#open ?? (state === 'unresponsive' ? this.#late : null);
  }

  /** Opens `call`; `onTimeout` runs if no answer takes it within its timeout. A late call is forgotten. */
  begin(call: OpenCall, onTimeout: (call: OpenCall) => void): void {
    this.take();
    this.#late = null;
    this.#open = call;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#open === call) onTimeout(call);
    }, call.timeoutMs);
    this.#timer.unref();
  }

  /** Closes the open call (its timer too) and hands it over, to settle or fail. */
  take(): OpenCall | null {
    const open = this.#open;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#open = null;
    return open;
  }

  /** The open call timed out: it becomes the late call, and only its reject is left to call, once. */
  expire(call: OpenCall): ((err: MusterError) => void) | undefined {
    if (this.#open !== call) return undefined;
    this.take();
    this.#late = call;
    const reject = call.reject;
    call.resolve = undefined;
    call.reject = undefined;
    return reject;
  }

  /** `call` was answered: it is neither open nor late any more. */
  answered(call: OpenCall): void {
    if (this.#open === call) this.take();
    if (this.#late === call) this.#late = null;
  }

  forgetLate(): void {
    this.#late = null;
  }
}

/** What the waiting controller gets for an answer that moved the component to `state`. */
export function resultOf(name: string, kind: Kind, a: Answer, state: LifecycleState): CallResult {
  switch (a.type) {
    case 'ok': return { name, ok: true, state };
    case 'error': return kind === 'configure' ? { name, ok: false, error: a.text, state } : { name, outcome: 'ERROR', details: [a.text], state };
    case 'finished': return { name, outcome: a.outcome === 'ERROR' ? 'ERROR' : 'OK', details: [...(a.details ?? [])], state };
  }
}
