/**
 * The CO2 relay face: an XML-RPC server on its own port that CO2 satellites (Python's
 * xmlrpc.client and SimpleXMLRPCServer, among others) use unchanged. Satellites are members
 * (satellites.ts), their relays travel on the native bus under /co2/relay/, the hub's prober
 * pings them (ping.ts), and they survive restarts in the store. Timeouts and a connection cap
 * on the socket; bounded queues towards every satellite.
 */
import type { Logger } from 'pino';
import type { HubContext } from '../context.js';
import type { Face } from '../face.js';
import { DECODE_LIMITS, type DecodeLimits } from './decode.js';
import { parseListen, urlHost } from './listen.js';
import { methodTable, relayMethods, serverMethods, type MethodDef } from './methods.js';
import { HttpServer } from './http-server.js';
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
  readonly #http: HttpServer;
  readonly #satellites: Satellites;
  readonly #log: Logger;

  private constructor(http: HttpServer, satellites: Satellites, address: string, log: Logger) {
    this.#http = http;
    this.#satellites = satellites;
    this.address = address;
    this.#log = log;
  }

  static async start(hub: HubContext, options: Co2FaceOptions): Promise<Co2Face> {
    const { host, port } = parseListen(options.listen, options.defaultHost);
    const log = hub.log.child({ face: 'co2' });
    // Connections to satellites are kept alive (when they allow) until idle for idleTimeoutMs.
    const satellites = new Satellites(hub, { maxSats: options.maxSats, ping: options.ping, link: options.link, idleMs: options.idleTimeoutMs }, log);
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
    // Idle sockets are closed after idleTimeoutMs, slow heads after headersTimeoutMs, a stalled body after requestTimeoutMs.
    const http = new HttpServer(rpc, {
      maxBodyBytes: limits.maxBytes, headersTimeoutMs: options.headersTimeoutMs, requestTimeoutMs: options.requestTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs, maxConnections: options.maxConnections,
    });
    const server = http.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        void http.close();
        reject(new Error(`co2 face cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      });
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const boundPort = typeof bound === 'object' && bound ? bound.port : port;
    const face = new Co2Face(http, satellites, `http://${urlHost(host)}:${boundPort}/RPC2`, log);
    const restored = await satellites.rebindAll();
    log.info({ address: face.address, satellites: restored }, 'co2 face listening');
    return face;
  }

  async stop(): Promise<void> {
    const closed = this.#http.close();
    const force = setTimeout(() => this.#http.destroyAll(), STOP_GRACE_MS);
    await closed;
    clearTimeout(force);
    this.#satellites.closeAll('hub shutting down');
    this.#log.debug('co2 face stopped');
  }
}
