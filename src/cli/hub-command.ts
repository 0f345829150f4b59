/** `muster hub`: runs a hub until SIGINT/SIGTERM, then stops it gracefully; SIGHUP reloads its config. */
import { Option, type Command } from 'commander';
import type { HubConfig } from '../config.js';
import { hubBanner } from './hub-banner.js';

interface HubFlags {
  host?: string; port?: string; data?: string; config?: string; adminToken?: string; maxMembers?: string;
  hubId?: string; registrationKey?: string; plantimager?: string | boolean; plantimagerAllow?: string; plantimagerSync?: string; logLevel?: string; sync?: string;
  cluster?: string; clusterPrefix?: string; registrar?: string; registrarToken?: string; federationToken?: string; federationAllow?: string; allowOrigin?: string; monitorMs?: string; graceMs?: string;
  treeScopes?: string; deregister?: boolean;
  co2?: string; co2MaxSats?: string;
  iccp?: string | boolean; iccpEndpoint?: string[];
  rsb?: string | boolean; rsbConnect?: string;
  tlsCert?: string; tlsKey?: string;
}

/** pino's levels (src/schemas/admin.ts has them as a schema; not imported here, to keep typebox out of start-up). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const list = (v: string | undefined) => v?.split(',').map((c) => c.trim()).filter((c) => c !== '');

/** NAME=VALUE flags (repeatable) as a record. */
function pairs(v: string[] | undefined, name: string): Record<string, string> | undefined {
  if (!v?.length) return undefined;
  const out: Record<string, string> = {};
  for (const p of v) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`--${name} takes NAME=VALUE, not ${JSON.stringify(p)}`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

function intFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`--${name} takes a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

export function hubCommand(program: Command): void {
  program.command('hub')
    .description('run a hub (HTTP + WebSocket API on one port, SQLite store)')
    .option('--host <addr>', 'bind address', undefined)
    .option('--port <n>', 'port (default 7070)')
    .option('--data <dir>', 'data folder of the SQLite store (default ./muster-data)')
    .option('--config <file>', 'JSON config file')
    .option('--admin-token <token>', 'admin token (or MUSTER_ADMIN_TOKEN)')
    .option('--registration-key <key>', 'key registering clients must present')
    .option('--max-members <n>', 'refuse registrations past this many members')
    .option('--hub-id <id>', 'this hub\'s id')
    .addOption(new Option('--sync <mode>', 'SQLite durability: full or normal').choices(['full', 'normal']))
    .option('--tls-cert <file>', 'PEM certificate file; with --tls-key the hub serves HTTPS and WSS (or MUSTER_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key file of --tls-cert (or MUSTER_TLS_KEY)')
    .option('--plantimager [addr]', 'enable the plantimager ZeroMQ face on [HOST:]PORT (default 5555)')
    .option('--plantimager-allow <cidrs>', 'comma-separated client networks allowed on the plantimager face (ZAP), e.g. 10.0.0.0/8,127.0.0.1')
    .addOption(new Option('--plantimager-sync <mode>', "durability of plantimager devices' changes: normal (default; answered once written) or full (as --sync)").choices(['full', 'normal']))
    .option('--co2 <addr>', 'enable the CO2 relay XML-RPC face on [HOST:]PORT')
    .option('--co2-max-sats <n>', 'CO2 satellites registered at once (default 100)')
    .option('--iccp [bind]', 'enable the Saturnin ICCP face; endpoints handed out on demand are bound at [bind] (default tcp://127.0.0.1:*; tcp://HOST:LO-HI, ipc:///DIR/)')
    .option('--iccp-endpoint <name=endpoint>', 'declare an ICCP endpoint, e.g. log=tcp://127.0.0.1:5601 (repeatable; turns the face on)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--rsb [addr]', 'enable the RSB socket bus server on [HOST:]PORT (default 55555)')
    .option('--rsb-connect <host:port>', 'join an existing RSB bus server as a client and bridge it into the bus')
    .option('--cluster <url>', 'run as one hub of a cluster sharing its registry and bus through Redis, e.g. redis://127.0.0.1:6379')
    .option('--cluster-prefix <prefix>', "key prefix in Redis, so that two clusters can share one Redis (default muster)")
    .option('--registrar <url>', 'parent hub to register with (federation), e.g. http://site:7070')
    .option('--registrar-token <token>', "the parent's federation token (or MUSTER_REGISTRAR_TOKEN)")
    .option('--federation-token <token>', 'token child hubs must present to register here (or MUSTER_FEDERATION_TOKEN)')
    .option('--federation-allow <ids>', 'comma-separated hub ids that may register here')
    .option('--monitor-ms <n>', 'federation connection monitor interval (default 10000)')
    .option('--grace-ms <n>', 'how long a silent child hub is kept before its subtree is removed (default 15000)')
    .option('--tree-scopes <scopes>', 'comma-separated bus scopes shared across the tree (default /tree/)')
    .option('--no-deregister', 'stay registered with the parent on shutdown (it drops this hub after its grace)')
    .option('--allow-origin <origins>', "comma-separated web page origins besides the hub's own that may open /v1/ws (\"*\" for any)")
    .addOption(new Option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent').choices(LOG_LEVELS))
    .action(async (flags: HubFlags) => {
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new Error('--tls-cert and --tls-key go together');
      // Loaded here, not at the top: its schema compiler costs client commands ~0.1 s of start-up.
      const { resolveConfig } = await import('../config.js');
      // A reload reads the file again; the environment and flags stay as they were at start.
      const layers = {
        file: flags.config,
        env: { ...process.env },
        flags: {
          host: flags.host, port: intFlag(flags.port, 'port'), dataDir: flags.data, adminToken: flags.adminToken,
          registrationKey: flags.registrationKey, maxMembers: intFlag(flags.maxMembers, 'max-members'), hubId: flags.hubId,
          sync: flags.sync as HubConfig['sync'] | undefined, logLevel: flags.logLevel as HubConfig['logLevel'] | undefined,
          plantimager: flags.plantimager === true ? '5555' : flags.plantimager || undefined,
          plantimagerAllow: list(flags.plantimagerAllow), plantimagerSync: flags.plantimagerSync as HubConfig['plantimagerSync'] | undefined,
          co2: flags.co2, co2MaxSats: intFlag(flags.co2MaxSats, 'co2-max-sats'),
          iccp: flags.iccp === true || (flags.iccp === undefined && flags.iccpEndpoint) ? 'tcp://127.0.0.1:*' : flags.iccp || undefined,
          iccpEndpoints: pairs(flags.iccpEndpoint, 'iccp-endpoint'),
          rsb: flags.rsb === true ? '55555' : flags.rsb || undefined, rsbConnect: flags.rsbConnect,
          cluster: flags.cluster, clusterPrefix: flags.clusterPrefix, registrar: flags.registrar, registrarToken: flags.registrarToken, federationToken: flags.federationToken,
          federationAllow: list(flags.federationAllow), federationMonitorMs: intFlag(flags.monitorMs, 'monitor-ms'),
          federationGraceMs: intFlag(flags.graceMs, 'grace-ms'), treeScopes: list(flags.treeScopes),
          deregisterOnStop: flags.deregister === false ? false : undefined, allowOrigins: list(flags.allowOrigin),
          tlsCert: flags.tlsCert, tlsKey: flags.tlsKey,
        },
      };
      const config = resolveConfig(layers);
      // Loaded here, not at the top: client commands then start without fastify and SQLite.
      const { Hub } = await import('../hub.js');
      const hub = await Hub.start({ config, reload: () => resolveConfig(layers) });
      const { keepServingOnUnhandledRejections } = await import('../last-resort.js');
      keepServingOnUnhandledRejections(hub.log, () => hub.metrics.unhandled.inc());
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        hub.log.info({ signal }, 'stopping');
        hub.stop().then(() => process.exit(0), (err: unknown) => { hub.log.error({ err }, 'stop failed'); process.exit(1); });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // A drain (muster admin drain) ends with the hub stopping itself: the process goes with it.
      hub.onStopped(() => stop('drained'));
      // The reload logs what it applied, or why it was refused (the hub then keeps its config).
      process.on('SIGHUP', () => { hub.reloadConfig('SIGHUP', { from: { face: 'signal', address: 'SIGHUP' } }).catch(() => {}); });
      // Tests and scripts wait for the first line on stdout to know the hub is up.
      process.stdout.write(hubBanner(hub.url, config));
    });
}
