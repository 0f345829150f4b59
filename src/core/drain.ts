/**
 * Draining a hub before it stops (admin.drain, a rolling restart): registrations answer DRAINING
 * on every face, the faces refuse new sessions and /healthz turns 503, so new work goes to
 * another hub; clients connected here are asked to move (their connections closed with 1012
 * "service restart", which the SDK takes as "reconnect now, to the next hub"); members that
 * stay keep working. Once no session member is left here, or the timeout passed, the hub stops.
 */
import type { Logger } from 'pino';
import type { DrainResult } from '../schemas/admin.js';
import type { Registry } from './registry/registry.js';

/** WebSocket close code for a drain: 1012 "Service Restart", i.e. come back, elsewhere or later. */
export const DRAIN_CLOSE_CODE = 1012;
export const DRAIN_CLOSE_REASON = 'DRAINING: this hub is about to stop; reconnect to another hub';
export const DRAIN_DEFAULT_TIMEOUT_MS = 30_000;
/** How often a drain looks whether the session members have gone. */
const POLL_MS = 100;

/** What a drain needs of the hub around the core. */
export interface DrainHooks {
  /** Session members still connected to this hub's faces. */
  sessionsLeft(): number;
  /** Closes client connections (sessions, watches, streams) with the drain's reason. */
  moveClients(): void;
  /** Stops the hub gracefully. */
  stop(): Promise<void>;
}

export class Drain {
  readonly #registry: Registry;
  readonly #hooks: DrainHooks;
  readonly #log: Logger;
  #state: DrainResult | null = null;

  constructor(registry: Registry, hooks: DrainHooks, log: Logger) {
    this.#registry = registry;
    this.#hooks = hooks;
    this.#log = log;
  }

  /** True from the first admin.drain on: faces refuse new sessions, /healthz answers 503. */
  get active(): boolean {
    return this.#state !== null;
  }

  /** Begins the drain (a second call answers the first); clients are asked to move after this returns, so the answer goes first. */
  start(timeoutMs = DRAIN_DEFAULT_TIMEOUT_MS): DrainResult {
    if (this.#state) return this.#state;
    const since = Date.now();
    this.#registry.policy.drain();
    const state: DrainResult = { draining: true, since, deadline: since + timeoutMs, sessions: this.#hooks.sessionsLeft() };
    this.#state = state;
    this.#log.warn({ timeoutMs, sessions: state.sessions }, 'draining: no new registrations or sessions; clients asked to move');
    setImmediate(() => {
      this.#hooks.moveClients();
      void this.#waitThenStop(state.deadline);
    });
    return state;
  }

  async #waitThenStop(deadline: number): Promise<void> {
    while (Date.now() < deadline && this.#hooks.sessionsLeft() > 0) await new Promise((r) => setTimeout(r, POLL_MS));
    const left = this.#hooks.sessionsLeft();
    this.#log.warn({ left }, left ? `drained: timeout passed with ${left} session members left; stopping` : 'drained: no session member left; stopping');
    await this.#hooks.stop().catch((err: unknown) => this.#log.error({ err }, 'stop after drain failed'));
  }
}
