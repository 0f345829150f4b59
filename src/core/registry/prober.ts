/**
 * The hub's own liveness checks for `probe` members: one timer per member, a check at its
 * interval, the result back to the registry (which keeps the round-trip stats and removes a
 * member after N failures in a row). The check itself is network I/O, so it is handed in
 * (faces/probes: HTTP, TCP, WebSocket).
 */
import type { ProbeOnce } from '../ports.js';
import type { Member, ProbeRunner, Registry } from './registry.js';

interface ProbeState {
  timer: NodeJS.Timeout | undefined;
  fails: number;
  stopped: boolean;
}

export class Prober implements ProbeRunner {
  readonly #registry: Registry;
  readonly #probeOnce: ProbeOnce;
  readonly #states = new Map<string, ProbeState>();

  constructor(registry: Registry, probeOnce: ProbeOnce) {
    this.#registry = registry;
    this.#probeOnce = probeOnce;
  }

  start(member: Member): void {
    this.stop(member);
    const state: ProbeState = { timer: undefined, fails: 0, stopped: false };
    this.#states.set(member.id, state);
    // First probe soon (not at once) so a registering member can answer its own registration.
    this.#schedule(member, state, 10);
  }

  stop(member: Member): void {
    const s = this.#states.get(member.id);
    if (!s) return;
    s.stopped = true;
    clearTimeout(s.timer);
    this.#states.delete(member.id);
  }

  stopAll(): void {
    for (const s of this.#states.values()) {
      s.stopped = true;
      clearTimeout(s.timer);
    }
    this.#states.clear();
  }

  #schedule(member: Member, state: ProbeState, delay: number): void {
    state.timer = setTimeout(() => void this.#run(member, state), delay);
    state.timer.unref();
  }

  async #run(member: Member, state: ProbeState): Promise<void> {
    if (member.liveness.kind !== 'probe') return;
    const { target, timeoutMs, intervalMs } = member.liveness;
    const started = performance.now();
    let ok: boolean;
    try {
      await this.#probeOnce(target, timeoutMs);
      ok = true;
    } catch {
      ok = false;
    }
    if (state.stopped) return;
    state.fails = ok ? 0 : state.fails + 1;
    this.#registry.probeResult(member, ok, Math.round((performance.now() - started) * 1000) / 1000, state.fails);
    if (!state.stopped) this.#schedule(member, state, intervalMs);
  }
}

