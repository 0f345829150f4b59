/**
 * The hub's own liveness checks for `probe` members: an HTTP GET (any status below 500 counts
 * as up), a TCP connect, or a WebSocket open, each with a timeout. Results go back to the
 * registry, which keeps the round-trip stats and removes a member after N failures in a row.
 */
import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';
import type { Member, ProbeRunner, Registry } from './registry.js';

interface ProbeState {
  timer: NodeJS.Timeout | undefined;
  fails: number;
  stopped: boolean;
}

export class Prober implements ProbeRunner {
  readonly #registry: Registry;
  readonly #states = new Map<string, ProbeState>();

  constructor(registry: Registry) {
    this.#registry = registry;
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
      await probeOnce(target, timeoutMs);
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

/** Resolves if the target answers within the timeout. */
export async function probeOnce(target: string, timeoutMs: number): Promise<void> {
  const url = new URL(target);
  switch (url.protocol) {
    case 'http:':
    case 'https:': {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.body?.cancel();
      if (res.status >= 500) throw new Error(`HTTP ${res.status}`);
      return;
    }
    case 'tcp:':
      return new Promise((resolve, reject) => {
        const socket = tcpConnect({ host: url.hostname, port: Number(url.port) });
        const timer = setTimeout(() => { socket.destroy(); reject(new Error('timeout')); }, timeoutMs);
        socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve(); });
        socket.once('error', (err) => { clearTimeout(timer); reject(err); });
      });
    case 'ws:':
    case 'wss:':
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
        ws.once('open', () => { ws.terminate(); resolve(); });
        ws.once('error', (err) => { ws.terminate(); reject(err); });
      });
    default:
      throw new Error(`unsupported probe target ${url.protocol}`);
  }
}
