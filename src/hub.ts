/**
 * Builds a hub from a config: the store, the core services, the adapters that carry the bus and
 * lifecycle control beyond this process, and the faces; and stops it gracefully.
 */
import { readFileSync } from 'node:fs';
import { hostname, platform, release } from 'node:os';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import pino, { type Logger } from 'pino';
import type { HubConfig } from './config.js';
import type { Cluster } from './cluster/cluster.js';
import { Relay } from './core/bus/relay.js';
import { Control } from './core/control/control.js';
import { Drain, DRAIN_CLOSE_CODE, DRAIN_CLOSE_REASON } from './core/drain.js';
import { Audit } from './core/events/audit.js';
import { Watches } from './core/events/watches.js';
import { Federation } from './core/federation/federation.js';
import { Prober } from './core/registry/prober.js';
import { Registry, type Caller } from './core/registry/registry.js';
import { coreSample } from './core/stats/core-sample.js';
import { StatsHistory } from './core/stats/history.js';
import type { FaceLimits, HubContext } from './faces/context.js';
import type { Face } from './faces/face.js';
import { mountDashboard } from './faces/native/dashboard-route.js';
import { answerClientError, httpServerFactory } from './faces/native/http-server.js';
import { originAllowed } from './faces/native/origin-check.js';
import { fromFastifyError, httpRoutes, mountHttp } from './faces/native/http.js';
import { OpenStreams } from './faces/open-streams.js';
import { RegistrarClient } from './faces/native/registrar-client.js';
import { WsFace } from './faces/native/ws-face.js';
import { PING_SCHEME, xmlrpcPing } from './faces/co2/ping.js';
import { isDevice } from './faces/plantimager/label.js';
import type { IccpFace } from './faces/iccp/face.js';
import { probeOnceWith } from './faces/probes/probe-once.js';
import { redactConfig } from './config-diff.js';
import { LEGACY_FACES, type LegacyFace } from './hub-faces.js';
import { ConfigReloader, type ReloadTarget } from './hub-reload.js';
import { Metrics } from './metrics.js';
import type { ReloadResult } from './schemas/admin.js';
import type { HubInfo } from './schemas/hub.js';
import { SnapshotSaver } from './store/snapshot-saver.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';
import { VERSION } from './version.js';
import { MusterError } from './errors.js';

export { VERSION };
export type { Face };

/** How long a stopping hub waits for peers to close before it cuts their connections. */
const STOP_GRACE_MS = 2_000;

export interface HubOptions {
  config: HubConfig;
  /** Another store; default SQLite under config.dataDir. */
  store?: Store;
  logger?: Logger;
  /** Resolves the config again for a reload (SIGHUP, admin.reload); without it the hub cannot reload. */
  reload?: () => HubConfig;
}

export class Hub implements HubContext, ReloadTarget {
  readonly registry: Registry;
  readonly watches: Watches;
  readonly bus: Relay;
  readonly control: Control;
  readonly federation: Federation;
  readonly stats: StatsHistory;
  readonly audit: Audit;
  readonly drain: Drain;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: FaceLimits;
  readonly streams = new OpenStreams();
  readonly app: FastifyInstance;
  readonly ws: WsFace;
  readonly startedAt = Date.now();
  #config: HubConfig;
  #configLoadedAt = this.startedAt;
  #reloader: ConfigReloader | null = null;
  readonly #store: Store;
  readonly #snapshots: SnapshotSaver;
  readonly #prober: Prober;
  readonly #faces: Face[] = [];
  #registrar: RegistrarClient | null = null;
  /** Cluster mode: this hub's part of several sharing one Redis (null on its own). */
  readonly #cluster: Cluster | null;
  #iccp: IccpFace | undefined;
  #url = '';
  #stopping: Promise<void> | null = null;
  readonly #stoppedListeners: (() => void)[] = [];

  private constructor(config: HubConfig, store: Store, registry: Registry, log: Logger, cluster: Cluster | null) {
    this.#config = config;
    this.#cluster = cluster;
    this.#store = store;
    this.#snapshots = new SnapshotSaver({ store, hubId: config.hubId });
    this.registry = registry;
    this.log = log;
    this.limits = { maxMessageBytes: config.maxMessageBytes, maxWatchQueueBytes: config.maxWatchQueueBytes, maxConnections: config.maxConnections };
    // The core: registry (opened by start), watches, bus, lifecycle control, federation.
    this.watches = new Watches(registry.log);
    this.bus = new Relay(registry, { rateLimits: config.busRateLimits });
    this.control = new Control({ registry, timeoutMs: config.lifecycleTimeoutMs, onError: (err) => log.warn({ err }, 'lifecycle transition not persisted') });
    this.federation = new Federation({
      registry, relay: this.bus, control: this.control, log, hubId: config.hubId, federationToken: config.federationToken,
      federationAllow: config.federationAllow, monitorMs: config.federationMonitorMs, graceMs: config.federationGraceMs,
      treeScopes: config.treeScopes, lifecycleTimeoutMs: config.lifecycleTimeoutMs,
    });
    // Adapters: where the bus and lifecycle control reach beyond this process. The cluster's first:
    // its hubs share one namespace, so a plain name may live on another hub of it.
    if (cluster) {
      const fed = this.federation;
      const shared = cluster.bus(this.bus, this.control, {
        forward: (call) => fed.forward(call.to, call.op, call.params, 'sibling', call.hops), heldBy: (hubId) => fed.heldBy(hubId), fromCluster: (m, scope) => fed.fromCluster(m, scope),
      });
      this.bus.addAdapter(shared);
      this.control.addAdapter(shared);
      this.federation.joinCluster(shared);
    }
    this.bus.addAdapter(this.federation.busAdapter);
    this.control.addAdapter(this.federation.controlAdapter);
    this.#prober = new Prober(registry, probeOnceWith({ [PING_SCHEME]: xmlrpcPing }));
    registry.attachProbes(this.#prober);
    this.control.start();
    this.stats = new StatsHistory({ read: () => coreSample(this) });
    this.stats.start();
    this.audit = new Audit(registry);
    this.drain = new Drain(registry, {
      sessionsLeft: () => this.#sessionsLeft(),
      moveClients: () => {
        for (const c of this.ws.connections) c.close(DRAIN_CLOSE_REASON, DRAIN_CLOSE_CODE);
        this.streams.closeAll(DRAIN_CLOSE_REASON);
      },
      stop: () => this.stop(),
    }, log);

    this.metrics = new Metrics({
      counters: () => registry.counters,
      members: () => registry.counts(),
      revision: () => registry.log.revision,
      connections: () => this.ws.connections.size,
      watchers: () => this.watches.count,
      watchersDropped: () => this.watches.dropped,
    });
    registry.onRemoved((_m, reason) => this.metrics.removals.inc({ reason }));
    this.metrics.addBus(() => this.bus.totals);
    this.metrics.addFederation(() => ({
      registrarConnected: this.config.registrar ? this.federation.registrarConnected : null, children: this.federation.childCount,
      descendants: this.federation.descendants().length, dropped: this.federation.dropped,
    }));
    if (cluster) this.metrics.addCluster(() => cluster.metrics());
    if (store.figures) this.metrics.addStore(store.figures.bind(store), () => store.failure?.() != null);

    // The native face: HTTP, SSE and the WebSocket API on one port.
    const tls = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : null;
    this.app = Fastify({
      logger: false, bodyLimit: config.maxMessageBytes, requestTimeout: config.requestTimeoutMs, keepAliveTimeout: config.idleTimeoutMs,
      serverFactory: httpServerFactory(config, tls),
      clientErrorHandler: answerClientError,
      // Bad percent-encoding and over-long path parameters, answered like every other error.
      frameworkErrors: (err, _req, reply: FastifyReply) => {
        const e = fromFastifyError(err);
        this.metrics.errors.inc({ face: 'http', code: e.code });
        void reply.code(e.status).send({ error: e.toJSON() });
      },
    }) as unknown as FastifyInstance;
    this.ws = new WsFace(this, {
      queueMessages: config.busQueueMessages, queueBytes: config.busQueueBytes, slowPolicy: config.busSlowPolicy, maxWatchQueueBytes: config.maxWatchQueueBytes,
    });
    // A burst read whole is handled in slices (turn-slices.ts); the store writes it as one commit all the same.
    store.holdCommitsFor?.(this.ws.backlog);
  }

  static async start(options: HubOptions): Promise<Hub> {
    const { config } = options;
    const log = options.logger ?? pino({ level: config.logLevel, name: 'muster' });
    // Cluster mode and the legacy faces are loaded only when configured: a hub starts sooner without them.
    const cluster = !options.store && config.cluster ? new (await import('./cluster/cluster.js')).Cluster({
      url: config.cluster, prefix: config.clusterPrefix, hubId: config.hubId, leaseMs: config.clusterLeaseMs, graceMs: config.graceMs,
      timeoutMs: config.storeTimeoutMs, eventRetention: config.eventRetention, log,
    }) : null;
    const store = options.store ?? cluster?.store ?? new SqliteStore({
      dataDir: config.dataDir, eventRetention: config.eventRetention, synchronous: config.sync,
      stopped: (reason) => log.error({ reason }, 'the store takes no more writes'),
      checkpoints: {
        failing: (reason) => log.error({ reason }, 'a checkpoint of the store failed: its WAL grows until one ends (commits are still durable)'),
        mended: (failures) => log.info({ failures }, 'checkpoints of the store end again'),
      },
      full: { waiting: (reason) => log.error({ reason }, 'the disk of the store is full: writes wait'), writing: () => log.info('the store writes again') },
    });
    const opening = performance.now();
    log.info({ store: store.kind, ...(cluster ? {} : { dataDir: config.dataDir }) }, 'loading the store');
    const registry = await Registry.open({
      store, hubId: config.hubId, adminToken: config.adminToken, registrationKey: config.registrationKey,
      maxMembers: config.maxMembers, eventRetention: config.eventRetention,
      liveness: { ttlMs: config.ttlMs, graceMs: config.graceMs },
      loading: (loaded, total) => log.info({ loaded, total }, `loading members: ${loaded} of ${total}`),
      // plantimager's devices are leases their clients renew and register again when lost (docs/operations.md, Durability).
      enoughOnceWritten: config.plantimagerSync === 'normal' ? isDevice : undefined,
    });
    log.info({ members: registry.size, ms: Math.round(performance.now() - opening) }, `store loaded: ${registry.size} members`);
    if (config.registrar && !config.registrarToken) throw new Error('config: registrar needs registrarToken (the parent\'s federation token)');
    const hub = new Hub(config, store, registry, log, cluster);
    await hub.#listen();
    await cluster?.start(hub.url).catch(async (err: unknown) => { await hub.stop(); throw err; });
    hub.federation.start(config.poa ?? [hub.url]);
    hub.#startRegistrar(config);
    if (options.reload) hub.#reloader = new ConfigReloader(hub, options.reload);
    // Legacy faces listen on their own ports once the core is up.
    for (const face of LEGACY_FACES) {
      if (face.wanted(config)) await hub.startFace(face, config).catch(async (err: unknown) => { await hub.stop(); throw err; });
    }
    return hub;
  }

  get url(): string {
    return this.#url;
  }

  /** The config in effect: the start's, or the last reload's. */
  get config(): HubConfig {
    return this.#config;
  }

  /** When the config in effect was loaded (ms since the epoch). */
  get configLoadedAt(): number {
    return this.#configLoadedAt;
  }

  /** The Saturnin ICCP face's endpoints (iccp.* operations), when it runs. */
  get iccp(): IccpFace | undefined {
    return this.#iccp;
  }

  /** A snapshot of the store (GET /v1/admin/snapshot): gzip'd JSON lines, see docs/operations.md. */
  snapshot(): Promise<AsyncIterable<Uint8Array>> {
    return this.#snapshots.start();
  }

  /** Registers a face that listens on its own port so it shows in info and stops with the hub. */
  addFace(face: Face): void {
    this.#faces.push(face);
  }

  // ---- Reloading the config (hub-reload.ts) ------------------------------------------------

  /** Reads the config again and applies what changed (SIGHUP, admin.reload). */
  /** Reads the config file again and applies it (hub-reload.ts); one that changed something is an admin event (`caller`: where the call came from). */
  async reloadConfig(by: string, caller: Caller = {}): Promise<ReloadResult> {
    if (this.#stopping) throw new MusterError('SHUTTING_DOWN');
    if (!this.#reloader) throw new MusterError('CONFIG_NOT_RELOADABLE', 'This hub was started from code, not by `muster hub`: it has no config file to read again');
    const result = await this.#reloader.reload(by);
    // Recorded once applied (a refused reload changes nothing and is logged at warn); a store that cannot take it does not undo it.
    if (result.changed.length) {
      await this.audit.record('reload', { by, changed: result.changed, restarted: result.restarted }, caller)
        .catch((err: unknown) => this.log.warn({ err }, 'the config reload was applied but could not be recorded in the event log'));
    }
    return result;
  }

  hasFace(name: string): boolean {
    return this.#faces.some((f) => f.name === name);
  }

  async startFace(face: LegacyFace, config: HubConfig): Promise<void> {
    const started = await face.start(this, config, this.startedAt);
    // A reload that raced a stop: the face would outlive the hub.
    if (this.#stopping) {
      await started.stop();
      throw new MusterError('SHUTTING_DOWN');
    }
    if (started.name === 'iccp') this.#iccp = started as IccpFace;
    this.addFace(started);
  }

  async stopFace(name: string): Promise<void> {
    const i = this.#faces.findIndex((f) => f.name === name);
    if (i < 0) return;
    const [face] = this.#faces.splice(i, 1);
    if (name === 'iccp') this.#iccp = undefined;
    await face!.stop();
  }

  async replaceRegistrar(config: HubConfig): Promise<void> {
    await this.#registrar?.stop(true).catch((err: unknown) => this.log.warn({ err }, 'leaving the registrar failed'));
    this.#registrar = null;
    this.#startRegistrar(config);
  }

  setNativeLimits(config: HubConfig): void {
    this.limits.maxWatchQueueBytes = config.maxWatchQueueBytes;
    this.limits.maxConnections = config.maxConnections;
    this.app.server.maxConnections = config.maxConnections;
    this.ws.setLimits({ queueMessages: config.busQueueMessages, queueBytes: config.busQueueBytes, slowPolicy: config.busSlowPolicy, maxWatchQueueBytes: config.maxWatchQueueBytes });
  }

  adopt(config: HubConfig): void {
    this.#config = config;
    this.#configLoadedAt = Date.now();
  }

  #startRegistrar(config: HubConfig): void {
    if (!config.registrar) return;
    this.#registrar = new RegistrarClient(this.federation, this.registry, {
      url: config.registrar, token: config.registrarToken!, monitorMs: config.federationMonitorMs, queueBytes: config.busQueueBytes, log: this.log,
    });
    this.#registrar.start();
    const registrar = this.#registrar;
    this.federation.monitorRegistrar((timeoutMs) => registrar.checkNow(timeoutMs));
  }

  info(): HubInfo {
    const now = Date.now();
    const config = redactConfig(this.config);
    return {
      name: 'muster', version: VERSION, hubId: this.config.hubId, hubName: this.config.hubName,
      startedAt: this.startedAt, serverTime: now, uptimeMs: now - this.startedAt, host: hostname(),
      platform: `${platform()} ${release()}`, node: process.version, store: this.#store.kind, health: this.health(),
      revision: this.registry.log.revision, members: this.registry.counts(),
      faces: [{ name: 'http+ws', address: this.#url }, ...this.#faces.map((f) => ({ name: f.name, address: f.address }))],
      federation: {
        registrar: this.federation.registrarId, registrarUrl: (config.registrar as string | undefined) ?? null, connected: this.federation.registrarConnected,
        lastError: this.#registrar?.lastError ?? '', children: this.federation.childCount, descendants: this.federation.descendants().length,
      },
      config, configLoadedAt: this.#configLoadedAt,
      ...(this.#cluster ? { cluster: this.#cluster.info() } : {}),
    };
  }

  /** What /healthz says: a draining hub, a cluster hub whose Redis does not answer, or a store that takes no more writes, is not healthy. */
  health(): { ok: boolean; reason?: string } {
    if (this.drain.active) return { ok: false, reason: 'draining: about to stop' };
    if (this.#cluster && !this.#cluster.healthy) return { ok: false, reason: 'the shared store (Redis) does not answer' };
    const failure = this.#store.failure?.() ?? null;
    if (failure) return { ok: false, reason: failure };
    return { ok: true };
  }

  async #listen(): Promise<void> {
    await this.app.register(fastifyWebsocket, { options: { maxPayload: this.config.maxMessageBytes * 4 } });
    const ws = this.ws;
    await this.app.register(async (scoped) => {
      // Refused before the upgrade: a page of another origin never gets a socket.
      scoped.addHook('preValidation', async (req, reply) => {
        const e = this.drain.active ? new MusterError('DRAINING', 'This hub is draining and takes no new connections: connect to another hub')
          : originAllowed(req.headers.origin, req.headers.host, this.config.allowOrigins) ? null
            : new MusterError('FORBIDDEN', `Pages of origin ${JSON.stringify(req.headers.origin).slice(0, 200)} may not open /v1/ws (see allowOrigins)`);
        if (e) await reply.code(e.status).send({ error: e.toJSON() });
      });
      scoped.get('/v1/ws', { websocket: true }, (socket, req) => ws.accept(socket, req.raw));
    });
    mountHttp(this.app, this, httpRoutes(this), VERSION);
    mountDashboard(this.app);
    ws.start();
    await this.app.listen({ host: this.config.host, port: this.config.port });
    const addr = this.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.config.port;
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    this.#url = `${this.config.tlsCert ? 'https' : 'http'}://${host}:${port}`;
    this.log.info({ url: this.#url, store: this.#store.kind, members: this.registry.size }, 'hub listening');
  }

  /** Session members still connected through the native face (what a drain waits to see leave). */
  #sessionsLeft(): number {
    let n = 0;
    for (const c of this.ws.connections) for (const m of this.registry.connectionMembers(c)) if (m.liveness.kind === 'session') n++;
    return n;
  }

  /** Called once the hub has stopped, whoever asked (a signal, the end of a drain). */
  onStopped(listener: () => void): void {
    this.#stoppedListeners.push(listener);
  }

  /** Graceful stop: stop accepting, close sessions and streams with a reason, flush the store. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#registrar?.stop(this.config.deregisterOnStop).catch((err: unknown) => this.log.warn({ err }, 'registrar link stop failed'));
      this.federation.close();
      for (const f of this.#faces.splice(0)) await f.stop().catch((err: unknown) => this.log.warn({ err, face: f.name }, 'face stop failed'));
      const reason = 'hub shutting down';
      this.ws.stop(reason);
      this.streams.closeAll(reason);
      // Peers had their close frames; whoever has not hung up after the grace is cut off, so stop is bounded.
      const force = setTimeout(() => { this.ws.terminateAll(); this.app.server.closeAllConnections(); }, STOP_GRACE_MS);
      await this.app.close();
      clearTimeout(force);
      this.control.close();
      this.stats.stop();
      await this.#cluster?.stop().catch((err: unknown) => this.log.warn({ err }, 'leaving the cluster failed'));
      this.registry.close();
      this.#prober.stopAll();
      await this.#store.close();
      this.log.info('hub stopped');
      for (const l of this.#stoppedListeners) l();
    })();
    return this.#stopping;
  }
}
