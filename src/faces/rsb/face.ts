/**
 * The RSB face: muster as an RSB socket bus server (`--rsb PORT`) and/or as a client of an
 * existing one (`--rsb-connect HOST:PORT`), both bridged into the one bus. On accept: the 4 zero
 * bytes in one write, then frames both ways. Every link is a member; the member `rsb` is the
 * address native members ask RSB methods through.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { hashToken, newToken } from '../../core/tokens.js';
import { MusterError } from '../../errors.js';
import type { HubContext } from '../context.js';
import type { Face } from '../face.js';
import { RsbBridge } from './bridge.js';
import { RsbCodec } from './codec.js';
import { RsbConnection } from './connection.js';
import { GATEWAY, RsbGateway } from './gateway.js';
import { HANDSHAKE } from './framing.js';
import { parseHostPort } from '../host-port.js';
import { RsbParticipants } from './participants.js';
import { RsbCalls, type FrameTarget } from './rpc.js';
import { END, RsbSocket, type EndKind, type SocketLimits } from './socket-io.js';
import { RsbUpstream } from './upstream.js';
import { FACE } from './wire-schema.js';

export const DEFAULT_RSB_PORT = 55555;

export interface RsbFaceOptions {
  /** `[HOST:]PORT` to serve RSB clients on; absent: no server. */
  listen?: string;
  /** `HOST:PORT` of a bus server to join as a client; absent: none. */
  connect?: string;
  defaultHost: string;
  maxConnections: number;
  /** Scopes every RSB link is subscribed to on the bus. */
  scopes: readonly string[];
  limits: SocketLimits;
}

const METRIC_NAMES = ['muster_rsb_closed_total', 'muster_rsb_connections', 'muster_rsb_throttled_total'];

export class RsbFace implements Face {
  readonly name = 'rsb';
  readonly address: string;
  readonly #hub: HubContext;
  readonly #log: Logger;
  readonly #server: Server | null;
  readonly #options: RsbFaceOptions;
  readonly #codec = new RsbCodec();
  readonly #calls: RsbCalls;
  readonly #bridge: RsbBridge;
  readonly #participants: RsbParticipants;
  readonly #links = new Set<RsbConnection>();
  readonly #gateway: RsbGateway;
  readonly #closed: Counter<'reason'>;
  #upstream: RsbUpstream | null = null;

  private constructor(hub: HubContext, server: Server | null, address: string, options: RsbFaceOptions) {
    this.#hub = hub;
    this.#log = hub.log.child({ face: FACE });
    this.#server = server;
    this.address = address;
    this.#options = options;
    this.#calls = new RsbCalls(this.#codec);
    this.#bridge = new RsbBridge(hub.bus, this.#calls, this.#log);
    this.#participants = new RsbParticipants(hub.registry, hub.bus, options.scopes);
    this.#gateway = new RsbGateway(this.#calls, this.#codec, () => this.#targets());
    this.#closed = new Counter({ name: 'muster_rsb_closed_total', help: 'RSB connections ended, by reason', labelNames: ['reason'] as const, registers: [hub.metrics.registry] });
    const links = this.#links;
    new Gauge({ name: 'muster_rsb_connections', help: 'Open RSB client connections', registers: [hub.metrics.registry], collect() { this.set(links.size); } });
    const bridge = this.#bridge;
    new Counter({ name: 'muster_rsb_throttled_total', help: 'RSB events refused by their sender\'s rate limit', registers: [hub.metrics.registry], collect() { this.reset(); this.inc(bridge.throttled); } });
    server?.on('connection', (socket) => this.#accept(socket));
  }

  static async start(hub: HubContext, options: RsbFaceOptions): Promise<RsbFace> {
    let server: Server | null = null;
    let address = '';
    if (options.listen !== undefined) {
      const { host, port } = parseHostPort(options.listen, options.defaultHost, 'RSB', DEFAULT_RSB_PORT);
      if (host === '') throw new Error(`RSB: ${JSON.stringify(options.listen)} is not [HOST:]PORT`);
      server = createServer({ noDelay: true });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', (err) => reject(new Error(`RSB face cannot listen on ${host}:${port}: ${err.message}`, { cause: err })));
        server!.listen({ host, port }, () => resolve());
      });
      const a = server.address();
      address = typeof a === 'object' && a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : `${host}:${port}`;
    }
    const face = new RsbFace(hub, server, address || `client of ${options.connect ?? '?'}`, options);
    try {
      await face.#addGateway();
    } catch (err) {
      server?.close();
      throw err;
    }
    if (options.connect !== undefined) {
      face.#upstream = new RsbUpstream(options.connect, {
        limits: options.limits, codec: face.#codec, calls: face.#calls, bridge: face.#bridge, participants: face.#participants, log: face.#log,
        onEnd: (kind, detail) => face.#count(kind, detail, options.connect!),
      });
      face.#upstream.start();
    }
    hub.log.info({ listen: address || null, connect: options.connect ?? null, scopes: options.scopes }, 'RSB face started');
    return face;
  }

  /** The upstream link's state (null without --rsb-connect). */
  get upstream(): { connected: boolean; connects: number } | null {
    return this.#upstream ? { connected: this.#upstream.open, connects: this.#upstream.connects } : null;
  }

  async stop(): Promise<void> {
    this.#server?.close();
    await this.#upstream?.stop();
    for (const c of this.#links) c.close('hub shutting down');
    this.#calls.closeAll(new MusterError('SHUTTING_DOWN'));
    this.#gateway.close('hub shutting down');
    const gateway = this.#hub.registry.find(GATEWAY.name);
    // A reload starts the face again: in a cluster, a removal Redis did not take would keep the gateway's name there.
    if (gateway?.connection === this.#gateway) await this.#hub.registry.remove(gateway, 'unregistered').catch(() => {});
    const deadline = Date.now() + 2_000;
    while (this.#links.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#participants.settled();
    // A face started again (a reloaded config) registers its metrics anew.
    for (const name of METRIC_NAMES) this.#hub.metrics.registry.removeSingleMetric(name);
  }

  #targets(): readonly FrameTarget[] {
    const all: FrameTarget[] = [...this.#links];
    if (this.#upstream) all.push(this.#upstream);
    return all;
  }

  async #addGateway(): Promise<void> {
    const registry = this.#hub.registry;
    const held = registry.find(GATEWAY.name);
    // The gateway of a previous run comes back from the store: it is this face's to replace.
    if (held && held.type === GATEWAY.type && held.meta.face === FACE) await registry.remove(held, 'unregistered');
    else if (held) throw new Error(`RSB face: the member name ${GATEWAY.name} is taken by another member; the RSB gateway needs it`);
    const member = registry.createMember({
      id: randomUUID(), name: GATEWAY.name, type: GATEWAY.type, address: this.address || (this.#options.connect ?? ''), meta: { face: FACE },
      liveness: { kind: 'session', graceMs: 0 }, tokenHash: hashToken(newToken()), registeredAt: Date.now(),
    });
    await registry.add(member, this.#gateway);
  }

  #accept(socket: Socket): void {
    // A draining hub takes no new sessions (admin.drain): the client's reconnect goes elsewhere.
    if (this.#hub.drain.active) {
      this.#closed.inc({ reason: 'draining' });
      socket.destroy();
      return;
    }
    if (this.#links.size >= this.#options.maxConnections) {
      this.#closed.inc({ reason: 'connection-cap' });
      this.#log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, max: this.#options.maxConnections }, 'RSB connection refused: connection cap');
      socket.destroy();
      return;
    }
    const io = new RsbSocket(socket, this.#options.limits);
    // The handshake first, in one write: some clients read exactly 4 bytes in one read.
    io.writeNow(HANDSHAKE);
    const conn = new RsbConnection(io, this.#codec, this.#calls);
    this.#links.add(conn);
    const joined = this.#participants.join(conn, FACE, io.remote, (why) => io.end('closedByHub', why));
    if (typeof joined === 'string') {
      this.#log.warn({ remote: io.remote, why: joined }, 'RSB connection refused');
      io.end('closedByHub', joined);
    }
    const member = typeof joined === 'string' ? null : joined.member;
    io.start({
      frame: (frame, n) => {
        if (typeof joined === 'string') return;
        const refused = this.#bridge.inbound(joined.sender, frame, n);
        if (refused !== null) io.end('badScope', refused);
      },
      ended: (kind, detail) => {
        this.#links.delete(conn);
        this.#count(kind, detail, io.remote, member?.name);
        conn.closed(END[kind].text);
        this.#participants.leave(conn, member, kind === 'clean' || kind === 'zeroLength' || kind === 'closedByHub');
      },
    });
  }

  /** Every end is counted by reason; refusals are logged with it and counted as errors of the face. */
  #count(kind: EndKind, detail: string, remote: string, name?: string): void {
    this.#closed.inc({ reason: kind });
    if (kind === 'slow') this.#hub.bus.totals.slowDisconnects++;
    const end = END[kind];
    if (end.code === null) {
      this.#log.debug({ remote, name, reason: end.text, detail }, 'RSB connection ended');
      return;
    }
    this.#hub.metrics.errors.inc({ face: FACE, code: end.code });
    this.#log.warn({ remote, name, code: end.code, reason: end.text, detail }, 'RSB connection closed');
  }
}
