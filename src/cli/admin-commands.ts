/** Admin commands: `muster evict NAME`, `muster admin log-level|check-links|drain|reload`; all need the admin token. */
import { Argument, type Command } from 'commander';
import { hubTarget, request } from './hub-api.js';
import { LOG_LEVELS } from './hub-command.js';
import type { DrainResult, LinkCheck } from '../schemas/admin.js';
import { table } from './format.js';
import { print, printJson } from './output.js';
import { intFlag, withHub } from './registry-commands.js';
import { visible } from './visible.js';

interface HubFlags { hub?: string; token?: string; json?: boolean }

export function adminCommands(program: Command): void {
  withHub(program.command('evict'))
    .description('remove a member at once, reason evicted (admin token); watchers see who and why')
    .argument('<name>', 'member name or id')
    .option('--reason <text>', 'why, shown with the removed event')
    .option('--json', 'as JSON')
    .action(async (name: string, flags: HubFlags & { reason?: string }) => {
      const body = flags.reason === undefined ? {} : { reason: flags.reason };
      const r = await request<{ ok: boolean }>(hubTarget(flags), 'POST', `/v1/members/${encodeURIComponent(name)}/evict`, body);
      if (flags.json) printJson(r);
      else print(`evicted ${visible(name)}\n`);
    });

  const admin = program.command('admin').description('change a running hub (admin token)');
  withHub(admin.command('log-level'))
    .description("set the hub's log level at once, until it restarts")
    .addArgument(new Argument('<level>', LOG_LEVELS.join(', ')).choices(LOG_LEVELS))
    .option('--json', 'as JSON')
    .action(async (level: string, flags: HubFlags) => {
      const r = await request<{ level: string; previous: string }>(hubTarget(flags), 'PUT', '/v1/admin/log-level', { level });
      if (flags.json) printJson(r);
      else print(`log level ${visible(r.previous)} -> ${visible(r.level)}\n`);
    });

  withHub(admin.command('check-links'))
    .description('run the federation connection monitor now, both ways (registrar and child hubs); a child that does not answer is removed')
    .option('--timeout <ms>', 'how long each hub has to answer (default: the monitor\'s, up to 5000)')
    .option('--json', 'as JSON')
    .action(async (flags: HubFlags & { timeout?: string }) => {
      const timeoutMs = intFlag(flags.timeout, 'timeout');
      const r = await request<{ links: LinkCheck[] }>(hubTarget(flags), 'POST', '/v1/admin/check-links', timeoutMs === undefined ? {} : { timeoutMs });
      if (flags.json) return printJson(r);
      if (r.links.length === 0) return print('no federation links (no registrar, no child hubs)\n');
      print(table(['hub', 'role', 'status', 'rtt', 'address', ''], r.links.map((l) => [
        visible(l.hubId ?? '?'), l.role, l.status, l.rttMs === undefined ? '' : `${l.rttMs} ms`, visible(l.address), visible(l.error ?? l.note ?? ''),
      ])));
    });

  withHub(admin.command('drain'))
    .description('stop taking registrations and sessions, ask clients to move to another hub, then stop the hub (rolling restarts)')
    .option('--timeout <seconds>', 'stop after this long even if session members are still connected', '30')
    .option('--json', 'as JSON')
    .action(async (flags: HubFlags & { timeout: string }) => {
      const seconds = intFlag(flags.timeout, 'timeout')!;
      const r = await request<DrainResult>(hubTarget(flags), 'POST', '/v1/admin/drain', { timeoutMs: seconds * 1000 });
      if (flags.json) return printJson(r);
      print(`draining: ${r.sessions} session members asked to move; the hub stops when they have, by ${new Date(r.deadline).toISOString()} at the latest\n`);
    });

  withHub(admin.command('reload'))
    .description("read the hub's config file again and apply what changed, as SIGHUP does")
    .option('--json', 'as JSON')
    .action(async (flags: HubFlags) => {
      const r = await request<{ changed: string[]; restarted: string[] }>(hubTarget(flags), 'POST', '/v1/admin/reload', {});
      if (flags.json) printJson(r);
      else if (r.changed.length === 0) print('config reloaded: nothing changed\n');
      else print(`config reloaded: ${r.changed.map(visible).join(', ')}${r.restarted.length ? ` (restarted: ${r.restarted.map(visible).join(', ')})` : ''}\n`);
    });
}
