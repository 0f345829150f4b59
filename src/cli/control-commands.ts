/**
 * Lifecycle control commands: configure, stop, lifecycle. They speak to the hub through the SDK
 * controller over WebSocket (a configure may wait longer than a one-shot HTTP request should).
 * Controlling needs the admin token or a controller's token (--token or MUSTER_TOKEN). Exit code
 * 1 when any component answered ERROR or the hub failed the call.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { connect, controller, MusterClientError, type Controller, type Selector } from '../client/index.js';
import { age, fields, table } from './format.js';
import { DEFAULT_HUB, hubTarget } from './hub-api.js';
import { print, printJson } from './output.js';

interface Flags {
  hub?: string; token?: string; json?: boolean; type?: string; prefix?: string; state?: string; meta?: string[]; timeout?: string;
}

function common(cmd: Command): Command {
  return cmd
    .option('--hub <url>', `hub URL (or MUSTER_HUB; default ${DEFAULT_HUB})`)
    .option('--token <token>', 'admin or controller token (or MUSTER_TOKEN)')
    .option('--json', 'the hub\'s answer as JSON');
}

function group(cmd: Command): Command {
  return cmd
    .option('--type <type>', 'every component of this type')
    .option('--meta <key=value>', 'every component with this meta label (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--prefix <prefix>', 'every component whose name starts with this')
    .option('--state <state>', 'only components in this lifecycle state (with a group selector)')
    .option('--timeout <ms>', 'how long the hub waits for each answer (default: the hub\'s, 10000)');
}

function timeoutOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,7}$/.test(v)) throw new MusterClientError('INVALID_PARAMS', `--timeout takes milliseconds, not ${JSON.stringify(v)}`);
  return Number(v);
}

/** NAME, or a selector from --type/--meta/--prefix/--state; exactly one of the two. */
function target(name: string | undefined, f: Flags): { name: string } | { selector: Selector } {
  const selector: Selector = {};
  if (f.type) selector.type = f.type;
  if (f.prefix) selector.prefix = f.prefix;
  if (f.state) selector.state = f.state as Selector['state'];
  if (f.meta?.length) {
    selector.meta = {};
    for (const p of f.meta) {
      const eq = p.indexOf('=');
      if (eq <= 0) throw new MusterClientError('INVALID_PARAMS', `--meta takes key=value, not ${JSON.stringify(p)}`);
      selector.meta[p.slice(0, eq)] = p.slice(eq + 1);
    }
  }
  const grouped = Object.keys(selector).length > 0;
  if (name !== undefined && grouped) throw new MusterClientError('INVALID_PARAMS', 'Give a NAME or a selector (--type, --meta, --prefix, --state), not both');
  if (name !== undefined) return { name };
  if (!grouped) throw new MusterClientError('INVALID_PARAMS', 'Give a component NAME, or --type / --meta / --prefix to act on a group');
  return { selector };
}

function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new MusterClientError('INVALID_PARAMS', `Cannot read --config ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MusterClientError('INVALID_PARAMS', `--config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MusterClientError('INVALID_PARAMS', `--config ${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** Runs fn with an SDK controller on a fresh connection, closed afterwards. */
async function withController<T>(f: Flags, fn: (ctl: Controller) => Promise<T>): Promise<T> {
  const hub = hubTarget(f);
  const client = await connect({ url: hub.url, token: hub.token, reconnect: false }).catch((err: unknown) => {
    throw new MusterClientError('HUB_UNREACHABLE', `Cannot reach the hub at ${hub.url}: ${(err as Error).message}`, { url: hub.url });
  });
  try {
    return await fn(controller(client));
  } finally {
    await client.close();
  }
}

export function controlCommands(program: Command): void {
  group(common(program.command('configure')))
    .description('send CONFIGURE to a component (or a group) and print its answer')
    .argument('[name]', 'component name')
    .requiredOption('--config <file>', 'JSON object to send (- reads stdin)')
    .action(async (name: string | undefined, f: Flags & { config: string }) => {
      const t = target(name, f);
      const config = readConfig(f.config);
      const timeoutMs = timeoutOf(f.timeout);
      const rows = await withController(f, async (ctl) => {
        if ('name' in t) return [await ctl.configure(t.name, config, { timeoutMs })];
        return (await ctl.configureGroup(t.selector, config, { timeoutMs })).members;
      });
      if (f.json) printJson('name' in t ? rows[0] : { members: rows });
      else if (rows.length === 0) print('no components match\n');
      else print(table(['name', 'result', 'state', 'error'], rows.map((r) => [r.name, r.ok ? 'OK' : (('code' in r && r.code) || 'ERROR'), r.state ?? '-', r.error ?? ''])));
      if (rows.some((r) => !r.ok)) process.exitCode = 1;
    });

  group(common(program.command('stop')))
    .description('send STOP to a component (or a group) and print how it finished')
    .argument('[name]', 'component name')
    .action(async (name: string | undefined, f: Flags) => {
      const t = target(name, f);
      const timeoutMs = timeoutOf(f.timeout);
      const rows = await withController(f, async (ctl) => {
        if ('name' in t) return [await ctl.stop(t.name, { timeoutMs })];
        return (await ctl.stopGroup(t.selector, { timeoutMs })).members;
      });
      if (f.json) printJson('name' in t ? rows[0] : { members: rows });
      else if (rows.length === 0) print('no components match\n');
      else print(table(['name', 'outcome', 'state', 'details'], rows.map((r) => [r.name, r.outcome ?? ('code' in r ? r.code ?? 'ERROR' : 'ERROR'), r.state ?? '-', (r.details ?? []).join('; ') || ('error' in r ? r.error ?? '' : '')])));
      if (rows.some((r) => r.outcome !== 'OK')) process.exitCode = 1;
    });

  common(program.command('lifecycle'))
    .description("show a component's lifecycle: state, endpoints, last error and transition history")
    .argument('<name>', 'component name')
    .action(async (name: string, f: Flags) => {
      const lc = await withController(f, (ctl) => ctl.lifecycle(name));
      if (f.json) return printJson(lc);
      const now = Date.now();
      const endpoints = Object.entries(lc.endpoints).map(([ch, addrs]) => `${ch}=${addrs.join(',')}`).join(' ') || '-';
      print(fields([
        ['name', lc.name], ['state', `${lc.state} (${age(now - lc.since)})`], ['endpoints', endpoints], ['last error', lc.lastError ?? '-'],
        ['connected', lc.connected ? 'yes' : 'no'],
        ['open call', lc.pending ? `${lc.pending.command} ${lc.pending.call}, due in ${Math.max(0, lc.pending.deadline - now)} ms` : '-'],
      ]));
      print('\n' + table(['at', 'from', 'to', 'note'], lc.history.map((t) => [new Date(t.at).toISOString(), t.from ?? '-', t.to, t.note ?? ''])));
    });
}
