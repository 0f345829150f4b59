/** One typed config: defaults < JSON file < environment (MUSTER_*) < flags. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { LogLevel } from './schemas/admin.js';
import { validate } from './schemas/validate.js';

export const HubConfig = Type.Object({
  host: Type.String({ description: 'Bind address (loopback unless told otherwise)' }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  dataDir: Type.String({ description: 'Folder of the SQLite store' }),
  hubId: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'This hub\'s id (unique in a tree of hubs)' }),
  hubName: Type.String({ maxLength: 128 }),
  adminToken: Type.Optional(Type.String({ minLength: 8 })),
  adminTokenGraceMs: Type.Integer({ minimum: 0, description: 'After a reload that changes adminToken, how long the old token still works' }),
  registrationKey: Type.Optional(Type.String({ minLength: 1 })),
  maxMembers: Type.Integer({ minimum: 1 }),
  eventRetention: Type.Integer({ minimum: 1 }),
  sync: Type.Union([Type.Literal('full'), Type.Literal('normal')], { description: 'SQLite durability: full survives power loss, normal a crash' }),
  maxMessageBytes: Type.Integer({ minimum: 1024 }),
  maxWatchQueueBytes: Type.Integer({ minimum: 1024 }),
  cluster: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS): run as one hub of a cluster sharing its registry and bus' })),
  clusterPrefix: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Key prefix in Redis, so that two clusters can share one Redis' }),
  clusterLeaseMs: Type.Integer({ minimum: 500, description: "How long a killed hub's lease runs before the others take its members as lost" }),
  storeTimeoutMs: Type.Integer({ minimum: 50, description: 'A shared store not answering within this makes writes fail STORE_UNAVAILABLE' }),
  allowOrigins: Type.Array(Type.String({ minLength: 1 }), { description: 'Web page origins (https://app.example:8443) besides the hub\'s own that may open /v1/ws; "*" for any. Programs send no Origin and are not concerned' }),
  maxConnections: Type.Integer({ minimum: 1, description: 'Open connections the HTTP/WebSocket port takes at once; more are refused' }),
  headersTimeoutMs: Type.Integer({ minimum: 100, description: "How long a client may take to send a request's headers (and a WebSocket upgrade)" }),
  requestTimeoutMs: Type.Integer({ minimum: 100, description: 'How long a client may take to send a whole request' }),
  idleTimeoutMs: Type.Integer({ minimum: 100, description: 'How long an idle keep-alive HTTP connection stays open' }),
  ttlMs: Type.Integer({ minimum: 100 }),
  graceMs: Type.Integer({ minimum: 0 }),
  lifecycleTimeoutMs: Type.Integer({ minimum: 10, description: 'How long the hub waits for a component\'s READY, and by default for its answer to CONFIGURE and STOP' }),
  tlsCert: Type.Optional(Type.String({ description: 'PEM certificate file; with tlsKey the hub serves HTTPS and WSS' })),
  tlsKey: Type.Optional(Type.String()),
  logLevel: LogLevel,
  plantimager: Type.Optional(Type.String({ description: '[HOST:]PORT of the plantimager ZeroMQ face; off when absent' })),
  plantimagerAllow: Type.Optional(Type.Array(Type.String(), { description: 'Client networks (CIDR) allowed on the plantimager face' })),
  plantimagerSync: Type.Union([Type.Literal('full'), Type.Literal('normal')], { description: "Durability of plantimager devices' changes at sync full: normal answers once written (survives a crash of the hub; the devices register again what a power loss takes), full as sync" }),
  co2: Type.Optional(Type.String({ description: '[HOST:]PORT of the CO2 relay XML-RPC face; off when absent' })),
  co2MaxSats: Type.Integer({ minimum: 1, description: 'CO2 satellites registered at once (max_sats); more are refused with a fault' }),
  co2PingIntervalMs: Type.Integer({ minimum: 100, description: 'How often the hub pings each CO2 satellite (XML-RPC ping)' }),
  co2PingFailures: Type.Integer({ minimum: 1, maximum: 100, description: 'Failed pings in a row after which a CO2 satellite is removed (probe-failed)' }),
  co2TimeoutMs: Type.Integer({ minimum: 10, description: "Deadline of each call the hub makes to a CO2 satellite (ping, notify)" }),
  co2NotifyPerSec: Type.Integer({ minimum: 0, description: 'notify calls per second to each CO2 satellite (0 = unlimited)' }),
  co2QueueMessages: Type.Integer({ minimum: 1, description: 'Relayed messages queued for each CO2 satellite; past it they are dropped (counted)' }),
  iccp: Type.Optional(Type.String({ description: 'Saturnin ICCP face: where endpoints handed out on demand are bound (tcp://HOST:*, tcp://HOST:LO-HI or ipc:///DIR/); off when absent' })),
  iccpEndpoints: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Declared ICCP endpoints: component name -> tcp://HOST:PORT or ipc:///PATH (bound at start)' })),
  iccpReadyTimeoutMs: Type.Integer({ minimum: 10, description: 'How long an ICCP component may take to send READY once connected (or once its endpoint was handed out)' }),
  iccpFinishedTimeoutMs: Type.Integer({ minimum: 10, description: 'How long the hub waits for FINISHED after STOP to an ICCP component (unless the controller says)' }),
  iccpMaxFrameBytes: Type.Integer({ minimum: 1024, description: 'Longest ICCP frame read; a longer one fails the session that sent it' }),
  iccpMaxEndpoints: Type.Optional(Type.Integer({ minimum: 1, description: 'ICCP endpoints bound at once (default: maxConnections)' })),
  rsb: Type.Optional(Type.String({ description: '[HOST:]PORT of the RSB socket bus server (conventional port 55555); off when absent' })),
  rsbConnect: Type.Optional(Type.String({ description: 'HOST:PORT of an existing RSB bus server to join as a client and bridge; off when absent' })),
  rsbMaxFrameBytes: Type.Integer({ minimum: 1024, maximum: 0x7fffffff, description: 'Largest RSB Notification accepted; a longer length prefix closes the connection' }),
  rsbIdleTimeoutMs: Type.Integer({ minimum: 100, description: 'An RSB connection that sent part of a frame and then nothing for this long is closed' }),
  rsbScopes: Type.Array(Type.String({ pattern: '^/' }), { minItems: 1, description: 'Bus scopes every RSB connection receives (with every scope below them); / is what RSB servers do' }),
  busRateLimits: Type.Record(Type.String(), Type.Object({
    messagesPerSec: Type.Number({ minimum: 0, description: '0 = unlimited' }),
    bytesPerSec: Type.Number({ minimum: 0, description: '0 = unlimited' }),
    burstSec: Type.Number({ minimum: 0.001, description: 'Seconds of traffic a sender may save up' }),
  }, { additionalProperties: false }), { description: 'Bus rate limit per sender, by member type; "*" is the default' }),
  busQueueMessages: Type.Integer({ minimum: 1, description: 'Messages a receiver may have queued on the bus' }),
  busQueueBytes: Type.Integer({ minimum: 1024, description: 'Bytes a receiver may have queued on the bus' }),
  busSlowPolicy: Type.Union([Type.Literal('drop'), Type.Literal('disconnect')], { description: 'A receiver past its queue bound loses the message (drop) or its connection (disconnect)' }),
  registrar: Type.Optional(Type.String({ pattern: '^(https?|wss?)://', description: 'URL of the parent hub to register with (federation); none makes this hub a root' })),
  registrarToken: Type.Optional(Type.String({ minLength: 1, description: "The parent's federation token" })),
  federationToken: Type.Optional(Type.String({ minLength: 8, description: 'Token child hubs present to register here; without it this hub accepts no child hubs' })),
  federationAllow: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), { description: 'Hub ids that may register here as children (default: any with the token)' })),
  federationMonitorMs: Type.Integer({ minimum: 100, description: 'Connection monitor interval: the child checks its record at the parent, the parent pings its children' }),
  federationGraceMs: Type.Integer({ minimum: 0, description: 'How long a parent keeps a child hub (suspect) after its link dropped, before removing its subtree (hub-lost)' }),
  deregisterOnStop: Type.Boolean({ description: 'On graceful shutdown, remove this hub from its parent at once' }),
  treeScopes: Type.Array(Type.String({ pattern: '^/' }), { description: 'Bus scopes whose publications travel between hubs (with every scope below them)' }),
  poa: Type.Optional(Type.Array(Type.String(), { description: 'Points of access this hub reports to its parent (default: its own URL)' })),
}, { additionalProperties: false });
export type HubConfig = Static<typeof HubConfig>;

export const DEFAULT_CONFIG: HubConfig = {
  host: '127.0.0.1',
  port: 7070,
  dataDir: './muster-data',
  hubId: hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'hub',
  hubName: 'muster',
  adminTokenGraceMs: 5 * 60_000,
  maxMembers: 100_000,
  eventRetention: 10_000,
  sync: 'full',
  plantimagerSync: 'normal',
  maxMessageBytes: 1024 * 1024,
  maxWatchQueueBytes: 8 * 1024 * 1024,
  clusterPrefix: 'muster',
  clusterLeaseMs: 3_000,
  storeTimeoutMs: 2_000,
  allowOrigins: [],
  maxConnections: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  ttlMs: 20_000,
  graceMs: 10_000,
  lifecycleTimeoutMs: 10_000,
  co2MaxSats: 100,
  co2PingIntervalMs: 10_000,
  co2PingFailures: 3,
  co2TimeoutMs: 5_000,
  co2NotifyPerSec: 1_000,
  co2QueueMessages: 1_000,
  iccpReadyTimeoutMs: 10_000,
  iccpFinishedTimeoutMs: 10_000,
  iccpMaxFrameBytes: 64 * 1024,
  logLevel: 'info',
  busRateLimits: { '*': { messagesPerSec: 10_000, bytesPerSec: 16 * 1024 * 1024, burstSec: 2 } },
  busQueueMessages: 10_000,
  busQueueBytes: 8 * 1024 * 1024,
  busSlowPolicy: 'drop',
  rsbMaxFrameBytes: 4 * 1024 * 1024,
  rsbIdleTimeoutMs: 30_000,
  rsbScopes: ['/'],
  federationMonitorMs: 10_000,
  federationGraceMs: 15_000,
  deregisterOnStop: true,
  treeScopes: ['/tree/'],
};

/** Environment variables, named MUSTER_ plus the key in upper snake case (MUSTER_ADMIN_TOKEN, MUSTER_PORT, ...). */
export function configFromEnv(env: NodeJS.ProcessEnv): Partial<HubConfig> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(HubConfig.properties)) {
    const name = 'MUSTER_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
    const v = env[name];
    if (v === undefined || v === '') continue;
    const schema = (HubConfig.properties as Record<string, { type?: string }>)[key]!;
    if (schema.type === 'object') {
      try {
        out[key] = JSON.parse(v);
      } catch {
        throw new Error(`${name} must be JSON, like {"*": {"messagesPerSec": 1000, "bytesPerSec": 1048576, "burstSec": 2}}`);
      }
    } else if (schema.type === 'boolean') out[key] = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
    else out[key] = schema.type === 'integer' ? Number(v) : schema.type === 'array' ? v.split(',') : v;
  }
  return out as Partial<HubConfig>;
}

export function configFromFile(path: string): Partial<HubConfig> {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as Partial<HubConfig>;
  } catch (err) {
    throw new Error(`Config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Merges the layers and validates the result; throws a readable error naming the bad key. */
export function resolveConfig(layers: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<HubConfig> }): HubConfig {
  const merged = {
    ...DEFAULT_CONFIG,
    ...(layers.file ? configFromFile(layers.file) : {}),
    ...(layers.env ? configFromEnv(layers.env) : {}),
    ...stripUndefined(layers.flags ?? {}),
  };
  // A bare port is the documented form of the plantimager address; JSON files naturally write it as a number.
  if (typeof merged.plantimager === 'number') merged.plantimager = String(merged.plantimager);
  if (typeof merged.co2 === 'number') merged.co2 = String(merged.co2);
  if (typeof merged.rsb === 'number') merged.rsb = String(merged.rsb);
  return validate(HubConfig, merged, 'config');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
