/**
 * The CO2 relay face: an XML-RPC server on its own port that CO2 satellites (Python's
 * xmlrpc.client and SimpleXMLRPCServer, among others) use unchanged. Satellites are members
 * (satellites.ts), their relays travel on the native bus under /co2/relay/, the hub's prober
 * pings them (ping.ts), and they survive restarts in the store. Timeouts and a connection cap
 * on the socket; bounded queues towards every satellite.
 */
import { Agent, createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { HubContext } from '../context.js';
import type { Face } from '../face.js';
import { DECODE_LIMITS, type DecodeLimits } from './decode.js';
import { parseListen, urlHost } from './listen.js';
import { methodTable, relayMethods, serverMethods, type MethodDef } from './methods.js';
import { RpcServer } from './rpc-server.js';
import { RELAY_SCOPE, Satellites, type PingSettings } from './satellites.js';
import type { LinkLimits } from './satellite-link.js';
import { serverProperties } from './server-info.js';

export interface Co2FaceOptions {
  /** `[HOST:]PORT`; a bare port binds `defaultHost`. */
  listen: string;
  defaultHost: string;
  maxSats: number;
  ping: PingSettings;
  link: LinkLimits;
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  /** When the hub started (system.get_properties). */
  startedAt: number;
  maintainer: string;
  maxBodyBytes?: number;
}

/** How long a stopping face waits for open calls before it cuts the connections. */
const STOP_GRACE_MS = 2000;

export class Co2Face implements Face {
  readonly name = 'co2';
  readonly address: string;
  readonly #server: Server;
  readonly #satellites: Satellites;
  readonly #agent: Agent;
  readonly #log: Logger;

  private constructor(server: Server, satellites: Satellites, agent: Agent, address: string, log: Logger) {
    this.#server = server;
    this.#satellites = satellites;
    this.#agent = agent;
    this.address = address;
    this.#log = log;
  }

  static async start(hub: HubContext, options: Co2FaceOptions): Promise<Co2Face> {
    const { host, port } = parseListen(options.listen, options.defaultHost);
    const log = hub.log.child({ face: 'co2' });
    // Keep-alive towards satellites that allow it (one notify in flight each, plus bus requests).
    const agent = new Agent({ keepAlive: true, maxSockets: 4, maxFreeSockets: 2, timeout: options.idleTimeoutMs });
    const satellites = new Satellites(hub, { maxSats: options.maxSats, ping: options.ping, link: options.link }, agent, log);
    const limits: DecodeLimits = { ...DECODE_LIMITS, maxBytes: options.maxBodyBytes ?? hub.limits.maxMessageBytes };
    let table: Map<string, MethodDef> = new Map();
    const facts = { startedAt: options.startedAt, maintainer: options.maintainer, maintainerEmail: '' };
    table = methodTable([...relayMethods(satellites), ...serverMethods(() => table, () => serverProperties(facts))]);
    const requests = hub.metrics.requests.labels({ face: 'co2' });
    const rpc = new RpcServer({
      methods: table, limits, log,
      onRequest: () => requests.inc(),
      onFault: (code) => hub.metrics.errors.inc({ face: 'co2', code }),
      page: () => `muster CO2 relay\n\nXML-RPC: POST calls to /RPC2 (or /). ${satellites.count} of at most ${satellites.maxSats} satellites registered.\nRelays are published on the muster bus at ${RELAY_SCOPE.text}.\nsystem.listMethods lists the methods.\n`,
    });
    const server = createServer({ headersTimeout: options.headersTimeoutMs, requestTimeout: options.requestTimeoutMs, keepAliveTimeout: options.idleTimeoutMs }, rpc.handle);
    server.maxConnections = options.maxConnections;
    // Idle sockets are closed by keepAliveTimeout, slow headers by headersTimeout, a stalled body by requestTimeout.
    server.on('clientError', rpc.clientError);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`co2 face cannot listen on ${host}:${port}: ${err.message}`, { cause: err })));
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const boundPort = typeof bound === 'object' && bound ? bound.port : port;
    const face = new Co2Face(server, satellites, agent, `http://${urlHost(host)}:${boundPort}/RPC2`, log);
    const restored = await satellites.rebindAll();
    log.info({ address: face.address, satellites: restored }, 'co2 face listening');
    return face;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const force = setTimeout(() => this.#server.closeAllConnections(), STOP_GRACE_MS);
    await closed;
    clearTimeout(force);
    this.#satellites.closeAll('hub shutting down');
    this.#agent.destroy();
    this.#log.debug('co2 face stopped');
  }
}
