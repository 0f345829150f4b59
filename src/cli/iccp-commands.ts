/**
 * Saturnin ICCP commands: `muster iccp endpoint NAME` (the hub binds a PAIR endpoint for component
 * NAME and prints it), `muster iccp endpoints`, and `muster launch NAME -- COMMAND...`, which gets
 * NAME's endpoint (bound before anything starts), starts COMMAND with it, passes signals on, and
 * reports its exit to the hub, where it shows in the component's lifecycle. The endpoint reaches
 * the command as $MUSTER_ICCP_ENDPOINT (with $MUSTER_ICCP_NAME) and in place of `{endpoint}` (and
 * `{name}`) in its arguments: a Saturnin service runner passes it on as its controller address.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { MusterClientError, type HubMethods } from '../client/index.js';
import { age, table } from './format.js';
import { DEFAULT_HUB, hubTarget, request, type HubTarget } from './hub-api.js';
import { print, printJson, warn } from './output.js';

type EndpointView = HubMethods['iccp.endpoint']['result'];
interface Flags { hub?: string; token?: string; json?: boolean }

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function common(cmd: Command): Command {
  return cmd
    .option('--hub <url>', `hub URL (or MUSTER_HUB; default ${DEFAULT_HUB})`)
    .option('--token <token>', 'admin or controller token (or MUSTER_TOKEN)')
    .option('--json', 'the hub\'s answer as JSON');
}

const endpointOf = (hub: HubTarget, name: string) => request<EndpointView>(hub, 'POST', `/v1/iccp/endpoints/${encodeURIComponent(name)}`);

export function iccpCommands(program: Command): void {
  const iccp = program.command('iccp').description('Saturnin ICCP components: their control endpoints');

  common(iccp.command('endpoint'))
    .description('print the ICCP endpoint of component NAME, bound by the hub now if it has none')
    .argument('<name>', 'component name')
    .action(async (name: string, f: Flags) => {
      const view = await endpointOf(hubTarget(f), name);
      if (f.json) printJson(view);
      else print(`${view.endpoint}\n`);
    });

  common(iccp.command('endpoints'))
    .description('list the ICCP endpoints with their last message and last error')
    .action(async (f: Flags) => {
      const { endpoints } = await request<{ endpoints: EndpointView[] }>(hubTarget(f), 'GET', '/v1/iccp/endpoints');
      if (f.json) return printJson({ endpoints });
      const now = Date.now();
      print(table(['name', 'endpoint', 'origin', 'connected', 'sessions', 'last message', 'last error', 'bound'], endpoints.map((e) => [
        e.name, e.endpoint, e.origin, e.connected ? 'yes' : 'no', String(e.sessions), e.lastMessage ?? '-', e.lastError ?? '-', age(now - e.since),
      ])));
    });

  common(program.command('launch'))
    .description('start a Saturnin component with an ICCP endpoint of the hub ($MUSTER_ICCP_ENDPOINT, or {endpoint} in its arguments) and report its exit')
    .argument('<name>', 'component name')
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(async (name: string, command: string[], f: Flags) => {
      const hub = hubTarget(f);
      const view = await endpointOf(hub, name);
      const code = await run(name, view.endpoint, hub, command);
      const report = await request<{ state: string | null }>(hub, 'POST', `/v1/iccp/endpoints/${encodeURIComponent(name)}/exited`, code)
        .catch((err: unknown) => { warn(`muster launch: exit not reported: ${(err as Error).message}`); return { state: null }; });
      warn(`muster launch: ${name} ${code.signal ? `killed by ${code.signal}` : `exited with code ${code.code}`}; state ${report.state ?? 'unknown'}`);
      process.exitCode = code.signal ? 128 + signalNumber(code.signal) : code.code ?? 1;
    });
}

/** Runs the component to its end, signals passed on; resolves with how it ended. */
function run(name: string, endpoint: string, hub: HubTarget, command: string[]): Promise<{ code: number | null; signal: string | null }> {
  const fill = (a: string) => a.replaceAll('{endpoint}', endpoint).replaceAll('{name}', name);
  const [file, ...args] = command.map(fill);
  if (!file) throw new MusterClientError('INVALID_PARAMS', 'muster launch NAME -- COMMAND...: the command is missing');
  const child = spawn(file, args, {
    stdio: 'inherit', env: { ...process.env, MUSTER_ICCP_ENDPOINT: endpoint, MUSTER_ICCP_NAME: name, MUSTER_HUB: hub.url },
  });
  const forward = (s: NodeJS.Signals) => () => { if (child.exitCode === null) child.kill(s); };
  const handlers = SIGNALS.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  warn(`muster launch: ${name} on ${endpoint} (pid ${child.pid ?? '-'})`);
  return new Promise((resolve) => {
    const done = (r: { code: number | null; signal: string | null }) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(r);
    };
    child.once('error', (err) => {
      warn(`muster launch: cannot start ${file}: ${err.message}`);
      done({ code: 127, signal: null });
    });
    child.once('exit', (code, signal) => done({ code, signal }));
  });
}

function signalNumber(signal: string): number {
  const n: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return n[signal] ?? 0;
}
