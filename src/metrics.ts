/** Prometheus metrics. Counters are bumped on the hot path; gauges are read when scraped. */
import { Counter, Gauge, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { BusTotals } from './core/bus/relay.js';

export class Metrics {
  readonly registry = new PromRegistry();
  readonly removals = new Counter({ name: 'muster_removals_total', help: 'Members removed, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly errors = new Counter({ name: 'muster_errors_total', help: 'Errors answered, by face and code', labelNames: ['face', 'code'] as const, registers: [this.registry] });
  readonly requests = new Counter({ name: 'muster_requests_total', help: 'Requests handled, by face', labelNames: ['face'] as const, registers: [this.registry] });
  readonly unhandled = new Counter({ name: 'muster_unhandled_rejections_total', help: 'Promise rejections no handler took (bugs; the hub logged each and kept serving)', registers: [this.registry] });

  constructor(gauges: {
    counters: () => { registrations: number; heartbeats: number }; members: () => Record<string, number>; revision: () => number;
    connections: () => number; watchers: () => number; watchersDropped: () => number;
  }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'muster_process_' });
    new Counter({ name: 'muster_registrations_total', help: 'Members registered', registers: [this.registry], collect() { this.reset(); this.inc(gauges.counters().registrations); } });
    new Counter({ name: 'muster_heartbeats_total', help: 'Heartbeats received', registers: [this.registry], collect() { this.reset(); this.inc(gauges.counters().heartbeats); } });
    new Gauge({
      name: 'muster_members', help: 'Members by status', labelNames: ['status'] as const, registers: [this.registry],
      collect() {
        const c = gauges.members();
        for (const s of ['alive', 'suspect', 'gone'] as const) this.set({ status: s }, c[s] ?? 0);
      },
    });
    new Gauge({ name: 'muster_revision', help: 'Current event revision', registers: [this.registry], collect() { this.set(gauges.revision()); } });
    new Gauge({ name: 'muster_ws_connections', help: 'Open WebSocket connections', registers: [this.registry], collect() { this.set(gauges.connections()); } });
    new Gauge({ name: 'muster_watchers', help: 'Open watches (WebSocket and SSE)', registers: [this.registry], collect() { this.set(gauges.watchers()); } });
    new Counter({ name: 'muster_watchers_dropped_total', help: 'Watchers dropped for falling behind', registers: [this.registry], collect() { this.reset(); this.inc(gauges.watchersDropped()); } });
  }

  /** Federation: the registrar link, the hubs below, and tree-wide publications dropped on slow links. */
  addFederation(f: () => { registrarConnected: boolean | null; children: number; descendants: number; dropped: number }): void {
    new Gauge({ name: 'muster_federation_registrar_connected', help: '1 while registered with the registrar, 0 while not (absent on a root)', registers: [this.registry], collect() { const v = f().registrarConnected; if (v !== null) this.set(v ? 1 : 0); } });
    new Gauge({ name: 'muster_federation_child_hubs', help: 'Hubs registered directly with this one', registers: [this.registry], collect() { this.set(f().children); } });
    new Gauge({ name: 'muster_federation_descendant_hubs', help: 'Hubs below this one, direct or indirect', registers: [this.registry], collect() { this.set(f().descendants); } });
    new Counter({ name: 'muster_federation_dropped_total', help: 'Tree-wide publications a backed-up hub link lost', registers: [this.registry], collect() { this.reset(); this.inc(f().dropped); } });
  }

  /** Bus counters live as plain numbers on the relay (hot path); they are read at scrape time. */
  addBus(totals: () => BusTotals): void {
    const counters: [keyof BusTotals, string, string][] = [
      ['published', 'muster_bus_published_total', 'Messages accepted from senders'],
      ['delivered', 'muster_bus_delivered_total', 'Messages queued to receivers'],
      ['deliveredBytes', 'muster_bus_delivered_bytes_total', 'Payload bytes of the messages queued to receivers'],
      ['dropped', 'muster_bus_dropped_total', 'Messages a slow receiver lost (its queue was full)'],
      ['throttled', 'muster_bus_throttled_total', 'Messages refused by a sender rate limit'],
      ['slowDisconnects', 'muster_bus_slow_disconnects_total', 'Receivers disconnected for a full queue'],
      ['requests', 'muster_bus_requests_total', 'Member requests relayed'],
      ['requestErrors', 'muster_bus_request_errors_total', 'Member requests that failed (error, timeout, gone)'],
    ];
    for (const [key, name, help] of counters) {
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(totals()[key]); } });
    }
  }
}
