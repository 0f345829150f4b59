/** Prometheus metrics. Counters are bumped on the hot path; gauges are read when scraped. */
import { Counter, Gauge, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { BusTotals } from './core/bus/relay.js';

/** The embedded store's figures (the store port's StoreFigures; metrics imports no store). */
interface StoreFigures { changes: number; commits: number; syncs: number; checkpoints: number; checkpointFailures: number; walBytes: number }

/** Why the cluster's bus lost a message (`muster_cluster_bus_dropped_total{reason}`). */
export const CLUSTER_DROP_REASONS = ['queue-full', 'redis-error', 'no-subscriber', 'no-member', 'unreadable'] as const;

/** What cluster mode reports to /metrics; counters are this hub's since it started. */
export interface ClusterFigures {
  commands: number;
  failures: number;
  fed: number;
  feedLagMs: number;
  /** New histories joined (the shared store was wiped). */
  epochs: number;
  /** Times entries were trimmed from the change stream before this hub read them. */
  gaps: number;
  busSent: number;
  busReceived: number;
  busTimeouts: number;
  busResubscribed: number;
  busDropped: Partial<Record<(typeof CLUSTER_DROP_REASONS)[number], number>>;
  expired: number;
  reaped: number;
  leaseFailures: number;
  /** Heartbeats answered whose deadline Redis has not taken yet (kept through an outage). */
  heartbeatsUnwritten: number;
  /** Whether this hub holds its expiry runs (Redis failed it lately). */
  expiryHeld: boolean;
  healthy: boolean;
  hubs: number;
}

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
    // prom-client names them process_* and nodejs_*; the prefix makes muster_process_*, muster_nodejs_*.
    // The event loop's lag is sampled every 100 ms (prom-client's default of 10 ms wakes an idle hub
    // 100 times a second): a stall of 100 ms or more is always seen, shorter ones in proportion.
    collectDefaultMetrics({ register: this.registry, prefix: 'muster_', eventLoopMonitoringPrecision: 100 });
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

  /**
   * Cluster mode: Redis round trips, the change feed, the bus between hubs (what it knows it
   * dropped, by reason), the shared duties this hub did, health and the hubs it sees. The figures
   * come from the cluster through `f` (src/hub.ts wires it), read at scrape time.
   */
  addCluster(f: () => ClusterFigures): void {
    const r = [this.registry];
    const counter = (name: string, help: string, read: (c: ClusterFigures) => number) =>
      new Counter({ name, help, registers: r, collect() { this.reset(); this.inc(read(f())); } });
    counter('muster_cluster_redis_commands_total', 'Commands this hub sent Redis: changes, reads, heartbeats, the expiry and reaper scripts (bus messages are counted apart)', (c) => c.commands);
    counter('muster_cluster_redis_failures_total', 'Of those, the ones that failed or got no answer within storeTimeoutMs', (c) => c.failures);
    new Gauge({ name: 'muster_cluster_heartbeats_unwritten', help: 'Heartbeats answered whose deadline Redis has not taken yet (kept while Redis is away or refusing writes)', registers: r, collect() { this.set(f().heartbeatsUnwritten); } });
    new Gauge({ name: 'muster_cluster_expiry_held', help: '1 while this hub runs no expiry: Redis failed it lately, and what every hub kept is written first', registers: r, collect() { this.set(f().expiryHeld ? 1 : 0); } });
    counter('muster_cluster_changes_fed_total', 'Changes read from the change stream and applied here (every hub\'s)', (c) => c.fed);
    new Gauge({ name: 'muster_cluster_feed_lag_ms', help: 'For the last change fed: ms from the writer deciding it to this hub applying it (includes clock skew between hubs)', registers: r, collect() { this.set(f().feedLagMs); } });
    counter('muster_cluster_epochs_total', 'Times this hub found the shared store wiped (its history lost) and joined the new one', (c) => c.epochs);
    counter('muster_cluster_feed_gaps_total', 'Times changes were trimmed from the change stream before this hub read them (it fell more than eventRetention behind, and loaded the store whole again)', (c) => c.gaps);
    counter('muster_cluster_bus_sent_total', 'Messages this hub published to other hubs (and its pings to itself)', (c) => c.busSent);
    counter('muster_cluster_bus_received_total', 'Messages this hub received from other hubs (and its pings)', (c) => c.busReceived);
    counter('muster_cluster_bus_timeouts_total', 'Requests and lifecycle commands to another hub that got no answer in time', (c) => c.busTimeouts);
    counter('muster_cluster_bus_resubscribed_total', 'Times the bus subscription went silent and was made again', (c) => c.busResubscribed);
    new Counter({
      name: 'muster_cluster_bus_dropped_total', help: 'Messages between hubs this hub knows were lost, by reason (Redis pub/sub is at most once)',
      labelNames: ['reason'] as const, registers: r,
      collect() {
        this.reset();
        const d = f().busDropped;
        for (const reason of CLUSTER_DROP_REASONS) this.inc({ reason }, d[reason] ?? 0);
      },
    });
    counter('muster_cluster_expired_total', 'Members this hub expired for the cluster (deadline passed)', (c) => c.expired);
    counter('muster_cluster_hubs_reaped_total', 'Hubs this hub found without a lease and reaped (their members made suspect)', (c) => c.reaped);
    counter('muster_cluster_lease_failures_total', 'Renewals of this hub\'s lease that failed', (c) => c.leaseFailures);
    new Gauge({ name: 'muster_cluster_healthy', help: '1 while Redis answers, the change stream is read and the bus hears its own pings', registers: r, collect() { this.set(f().healthy ? 1 : 0); } });
    new Gauge({ name: 'muster_cluster_hubs', help: 'Hubs of the cluster (this one included), as last read', registers: r, collect() { this.set(f().hubs); } });
  }

  /** Embedded store: changes written, the transactions and the syncs that took them (changes per sync: group commit at work), and whether it stopped. */
  addStore(f: () => StoreFigures, stopped: () => boolean): void {
    const counter = (name: string, help: string, read: (s: StoreFigures) => number) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(read(f())); } });
    counter('muster_store_changes_total', 'Changes written to the store file', (s) => s.changes);
    counter('muster_store_commits_total', 'Transactions that wrote them, 64 changes at most (at --sync full, what came while the last sync ran; at normal, a burst the hub read at once)', (s) => s.commits);
    counter('muster_store_syncs_total', 'Syncs of the file before acknowledging (--sync full; each covers every commit since the last began)', (s) => s.syncs);
    counter('muster_store_checkpoints_total', 'Checkpoints ended: the WAL copied into the database file, so that it starts again from its beginning', (s) => s.checkpoints);
    counter('muster_store_checkpoint_failures_total', 'Checkpoints that failed (the disk full or failing where the database file grows): the WAL grows until one ends', (s) => s.checkpointFailures);
    new Gauge({ name: 'muster_store_wal_bytes', help: 'Bytes in the WAL file: a few MB while checkpoints end', registers: [this.registry], collect() { this.set(f().walBytes); } });
    new Gauge({ name: 'muster_store_stopped', help: '1 while the store takes no writes (they answer STORE_UNAVAILABLE): a failed write or sync of its file stopped it, until the hub restarts; or its disk is full, until it has space again', registers: [this.registry], collect() { this.set(stopped() ? 1 : 0); } });
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
