/**
 * Cluster mode, put together: several hub processes share one registry and one bus through
 * Redis. The store (redis-store.ts) decides and feeds every hub; the keeper holds this hub's
 * lease and shares the duties of expiry and of reaping lost hubs; the bus (cluster-bus.ts) is the
 * adapter that carries publications, sends, requests and lifecycle commands to the hub that
 * holds a member. src/hub.ts builds one when the config names a cluster.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Relay } from '../core/bus/relay.js';
import type { Control } from '../core/control/control.js';
import { ClusterBus, type BusDropReason, type TreeSide } from './cluster-bus.js';
import { ClusterKeeper, type ClusterHub } from './cluster-keeper.js';
import { RedisStore } from './redis-store.js';

export interface ClusterOptions {
  url: string;
  prefix: string;
  hubId: string;
  leaseMs: number;
  graceMs: number;
  timeoutMs: number;
  eventRetention: number;
  log: Logger;
}

export interface ClusterInfo {
  prefix: string;
  healthy: boolean;
  hubs: ClusterHub[];
}

export interface ClusterMetrics {
  commands: number; failures: number; fed: number; feedLagMs: number; epochs: number; gaps: number;
  busSent: number; busReceived: number; busTimeouts: number; busResubscribed: number; busDropped: Partial<Record<BusDropReason, number>>;
  expired: number; reaped: number; leaseFailures: number; heartbeatsUnwritten: number; expiryHeld: boolean; healthy: boolean; hubs: number;
}

const NO_HUBS: ReadonlyMap<string, ClusterHub> = new Map();

export class Cluster {
  readonly store: RedisStore;
  readonly #o: ClusterOptions;
  readonly #instance = randomUUID();
  #bus: ClusterBus | null = null;
  #keeper: ClusterKeeper | null = null;

  constructor(options: ClusterOptions) {
    this.#o = options;
    this.store = new RedisStore({ url: options.url, prefix: options.prefix, hubId: options.hubId, eventRetention: options.eventRetention, commandTimeoutMs: options.timeoutMs, log: options.log });
  }

  /**
   * The adapter for the relay and the control service (installed before the federation's), and
   * the federation's way to the hubs registered with another hub of the cluster.
   */
  bus(relay: Relay, control: Control, tree: TreeSide): ClusterBus {
    this.#bus ??= new ClusterBus({
      hubId: this.#o.hubId, prefix: this.store.prefix, client: this.store.client, send: (args) => this.store.send(args), relay, control, tree,
      hubs: () => this.#keeper?.hubs() ?? NO_HUBS,
      hubsChanged: () => this.#keeper?.refresh(),
    });
    return this.#bus;
  }

  /** Joins: the lease (refused while another process holds this hub id), the bus, the shared duties. */
  async start(url: string): Promise<void> {
    const o = this.#o;
    this.#keeper = new ClusterKeeper({
      send: (args) => this.store.send(args), scripts: this.store.scripts,
      failures: () => this.store.stats.failures, connected: () => this.store.client.isReady, unwritten: () => this.store.deadlines.pending, prefix: this.store.prefix, hubId: o.hubId,
      instance: this.#instance, url, leaseMs: o.leaseMs, graceMs: o.graceMs, eventRetention: o.eventRetention, log: o.log,
      onHubLost: (hub) => this.#bus?.forget(hub),
      onHubJoined: (hub) => this.#bus?.hubJoined(hub),
    });
    // Redis wiped: the registry puts its members again (the store tells it); leases and interest here.
    this.store.restarted(() => {
      void this.#keeper?.rejoined().catch(() => {});
      this.#bus?.retell();
    });
    await this.#keeper.start();
    await this.#bus?.start();
  }

  info(): ClusterInfo {
    return { prefix: this.#o.prefix, healthy: this.healthy, hubs: [...(this.#keeper?.hubs().values() ?? [])] };
  }

  get healthy(): boolean {
    return this.store.healthy && (this.#bus?.healthy ?? true);
  }

  /** What /metrics shows of the cluster (read at scrape time; counters are this hub's since it started). */
  metrics(): ClusterMetrics {
    const s = this.store.stats;
    const b = this.#bus?.stats;
    const k = this.#keeper?.stats;
    return {
      commands: s.commands, failures: s.failures, fed: s.fed, feedLagMs: s.feedLagMs, epochs: s.epochs, gaps: s.gaps,
      busSent: b?.sent ?? 0, busReceived: b?.received ?? 0, busTimeouts: b?.timeouts ?? 0, busResubscribed: b?.resubscribed ?? 0,
      busDropped: { ...(b?.dropped ?? {}) }, expired: k?.expired ?? 0, reaped: k?.reaped ?? 0, leaseFailures: k?.leaseFailures ?? 0,
      heartbeatsUnwritten: this.store.deadlines.pending, expiryHeld: this.#keeper?.expiryHeld ?? false,
      healthy: this.healthy, hubs: this.#keeper?.hubs().size ?? 0,
    };
  }

  /** Leaves the cluster (the store is closed by the hub, after its sessions). */
  async stop(): Promise<void> {
    await Promise.all([this.#keeper?.stop(), this.#bus?.stop()]);
  }
}
