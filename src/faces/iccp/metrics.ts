/**
 * The ICCP face's Prometheus series, on the hub's registry: endpoints (connected or waiting),
 * sessions and failed sessions, and ICCP components by lifecycle state (read at scrape time).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Member } from '../../core/registry/registry.js';

const NAMES = ['muster_iccp_endpoints', 'muster_iccp_sessions_total', 'muster_iccp_session_failures_total', 'muster_iccp_components'] as const;

export class IccpMetrics {
  readonly sessions: Counter;
  readonly failures: Counter<'reason'>;
  readonly #registry: Registry;

  constructor(registry: Registry, read: { endpoints: () => { connected: number; waiting: number }; components: () => Iterable<Member> }) {
    this.#registry = registry;
    new Gauge({
      name: NAMES[0], help: 'ICCP endpoints bound, by whether a component holds them', labelNames: ['state'] as const, registers: [registry],
      collect() {
        const e = read.endpoints();
        this.set({ state: 'connected' }, e.connected);
        this.set({ state: 'waiting' }, e.waiting);
      },
    });
    this.sessions = new Counter({ name: NAMES[1], help: 'ICCP sessions (component connections) started', registers: [registry] });
    this.failures = new Counter({ name: NAMES[2], help: 'ICCP sessions failed by the hub, by kind of reason', labelNames: ['reason'] as const, registers: [registry] });
    new Gauge({
      name: NAMES[3], help: 'ICCP components by lifecycle state', labelNames: ['state'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const m of read.components()) if (m.lifecycle) this.inc({ state: m.lifecycle.state });
      },
    });
  }

  close(): void {
    for (const n of NAMES) this.#registry.removeSingleMetric(n);
  }
}
