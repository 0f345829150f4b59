/**
 * Client commands: ls, get, watch, info, register, heartbeat, unregister. Each takes --hub
 * (or MUSTER_HUB) and --token (or MUSTER_TOKEN); tables for people, --json for scripts.
 * Errors are thrown as MusterClientError; main prints `muster: CODE: message` and exits 1.
 */
import type { Command } from 'commander';
import { connect, MusterClientError, type HubInfo, type ListResult, type MemberView, type RegisterResult, type WatchFilter } from '../client/index.js';
import type { TreeNode } from '../schemas/federation.js';
import { CatchUp } from './catch-up.js';
import { clusterTable, eventLine, fields, memberFields, memberTable, age } from './format.js';
import { DEFAULT_HUB, hubTarget, request, type HubTarget } from './hub-api.js';
import { print, printJson, stdoutClosed, warn } from './output.js';
import { visible } from './visible.js';

interface HubFlags { hub?: string; token?: string; json?: boolean }

/** --hub and --token, as every client command takes them. */
export function withHub(cmd: Command): Command {
  return cmd
    .option('--hub <url>', `hub URL (or MUSTER_HUB; default ${DEFAULT_HUB})`)
    .option('--token <token>', 'admin or member token (or MUSTER_TOKEN)');
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function intFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new MusterClientError('INVALID_PARAMS', `--${name} takes a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

function metaFlags(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const meta: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new MusterClientError('INVALID_PARAMS', `--meta takes key=value, not ${JSON.stringify(p)}`);
    meta[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return meta;
}

/** Every page of a listing (bounded: 100 pages of 1000). */
async function listAll(hub: HubTarget, query: URLSearchParams): Promise<MemberView[]> {
  const members: MemberView[] = [];
  query.set('limit', '1000');
  for (let page = 0; page < 100; page++) {
    const r = await request<ListResult>(hub, 'GET', `/v1/members?${query}`);
    members.push(...r.members);
    if (r.next === null) break;
    query.set('after', r.next);
  }
  return members;
}

function registrarLine(f: HubInfo['federation']): string {
  if (!f.registrarUrl) return 'none (a root hub)';
  const state = f.connected ? 'connected' : `not connected${f.lastError ? `: ${f.lastError}` : ''}`;
  return `${f.registrar ?? '?'} at ${f.registrarUrl}, ${state}`;
}

/** The tree drawn with box characters, one hub a line: id, status, members, first point of access. */
export function treeLines(node: TreeNode, prefix = '', last = true, root = true): string[] {
  const counts = node.members ? `${node.members.total} ${node.members.total === 1 ? 'member' : 'members'} (${node.members.alive} alive)` : 'members unknown';
  const line = visible(`${node.hubId}  ${node.status}  ${counts}${node.poa[0] ? `  ${node.poa[0]}` : ''}`);
  const lines = [root ? line : `${prefix}${last ? '└─ ' : '├─ '}${line}`];
  const childPrefix = root ? '' : prefix + (last ? '   ' : '│  ');
  node.children.forEach((c, i) => lines.push(...treeLines(c, childPrefix, i === node.children.length - 1, false)));
  return lines;
}

export function registryCommands(program: Command): void {
  withHub(program.command('ls'))
    .description('list members')
    .option('--type <type>', 'only this member type')
    .option('--status <status>', 'alive, suspect or gone')
    .option('--prefix <prefix>', 'names starting with this')
    .option('--state <state>', 'lifecycle state: starting, ready, configuring, configured, stopping, finished, failed, unresponsive')
    .option('--meta <key=value>', 'meta label to match (repeatable)', collect)
    .option('--in <hub-id>', 'members of another hub of the tree')
    .option('--subtree', 'members of every hub below too (names shown as hub/name)')
    .option('--json', 'JSON array of members')
    .action(async (flags: HubFlags & { type?: string; status?: string; prefix?: string; state?: string; meta?: string[]; in?: string; subtree?: boolean }) => {
      const q = new URLSearchParams();
      if (flags.in) q.set('hub', flags.in);
      if (flags.subtree) q.set('subtree', 'true');
      if (flags.type) q.set('type', flags.type);
      if (flags.status) q.set('status', flags.status);
      if (flags.state) q.set('state', flags.state);
      if (flags.prefix) q.set('prefix', flags.prefix);
      for (const [k, v] of Object.entries(metaFlags(flags.meta) ?? {})) q.set(`meta.${k}`, v);
      const members = await listAll(hubTarget(flags), q);
      if (flags.json) printJson(members);
      else {
        const shown = flags.in || flags.subtree ? members.map((m) => ({ ...m, name: `${m.hub ?? ''}/${m.name}` })) : members;
        print(shown.length ? memberTable(shown) : 'no members\n');
      }
    });

  withHub(program.command('get'))
    .description('show one member')
    .argument('<name>', 'member name or id')
    .option('--json', 'the member as JSON')
    .action(async (name: string, flags: HubFlags) => {
      const m = await request<MemberView>(hubTarget(flags), 'GET', `/v1/members/${encodeURIComponent(name)}`);
      if (flags.json) printJson(m);
      else print(memberFields(m));
    });

  withHub(program.command('info'))
    .description('facts about the hub')
    .option('--json', 'as JSON')
    .action(async (flags: HubFlags) => {
      const i = await request<HubInfo>(hubTarget(flags), 'GET', '/v1/info');
      if (flags.json) return printJson(i);
      print(fields([
        ['hub', `${i.hubName} (${i.hubId})`], ['version', i.version], ['url', hubTarget(flags).url], ['uptime', age(i.uptimeMs)],
        ['host', `${i.host}, ${i.platform}, node ${i.node}`], ['store', i.store],
        // A hub of an older version does not say.
        ...(i.health ? [['health', i.health.ok ? 'ok' : `NOT OK: ${i.health.reason ?? ''}`] as [string, string]] : []),
        ['revision', String(i.revision)],
        ['members', `${i.members.total} (${i.members.alive} alive, ${i.members.suspect} suspect)`],
        ['faces', i.faces.map((f) => `${f.name} ${f.address}`).join(', ')],
        ['registrar', registrarLine(i.federation)],
        ['hubs below', `${i.federation.descendants} (${i.federation.children} direct)`],
        ...(i.cluster ? [['cluster', `${i.cluster.hubs.length} hubs, prefix ${i.cluster.prefix}, ${i.cluster.healthy ? 'healthy' : 'unhealthy'}`] as [string, string]] : []),
      ]));
      if (i.cluster) print('\n' + clusterTable(i.cluster, i.hubId));
    });

  withHub(program.command('tree'))
    .description('this hub and every hub below it, with status and member counts')
    .option('--json', 'as JSON')
    .action(async (flags: HubFlags) => {
      const t = await request<TreeNode>(hubTarget(flags), 'GET', '/v1/tree');
      if (flags.json) printJson(t);
      else print(treeLines(t).join('\n') + '\n');
    });

  withHub(program.command('register'))
    .description('register a member over HTTP; prints its id, name and token (ttl or probe liveness)')
    .requiredOption('--type <type>', 'member type')
    .option('--name <name>', 'proposed name (taken names get -1, -2, ...)')
    .option('--exclusive', 'fail with NAME_TAKEN instead of choosing another name')
    .option('--address <address>', 'where the member can be reached')
    .option('--meta <key=value>', 'meta label (repeatable)', collect)
    .option('--ttl <ms>', 'ttl liveness: alive while heartbeats arrive within this many ms (default: the hub\'s)')
    .option('--probe <url>', 'probe liveness: the hub checks this http(s)://, tcp:// or ws:// address')
    .option('--key <key>', 'registration key, when the hub requires one')
    .option('--new-token <token>', 'the token the member gets, your own (32-256 characters of [A-Za-z0-9_-], random): the same command again answers the same member')
    .option('--json', 'print {id, name, token} as JSON')
    .action(async (flags: HubFlags & { type: string; name?: string; exclusive?: boolean; address?: string; meta?: string[]; ttl?: string; probe?: string; key?: string; newToken?: string }) => {
      const ttlMs = intFlag(flags.ttl, 'ttl');
      if (ttlMs !== undefined && flags.probe) throw new MusterClientError('INVALID_PARAMS', 'Choose --ttl or --probe, not both');
      const body: Record<string, unknown> = { type: flags.type };
      if (flags.name !== undefined) body.name = flags.name;
      if (flags.exclusive) body.exclusive = true;
      if (flags.address !== undefined) body.address = flags.address;
      const meta = metaFlags(flags.meta);
      if (meta) body.meta = meta;
      if (flags.probe) body.liveness = { kind: 'probe', target: flags.probe };
      else body.liveness = ttlMs === undefined ? 'ttl' : { kind: 'ttl', ttlMs };
      if (flags.key) body.key = flags.key;
      if (flags.newToken !== undefined) body.newToken = flags.newToken;
      const r = await request<RegisterResult>(hubTarget(flags), 'POST', '/v1/members', body);
      if (flags.json) printJson(r);
      else print(fields([['id', r.id], ['name', r.name], ['token', r.token]]));
    });

  withHub(program.command('heartbeat'))
    .description('tell the hub a ttl member is alive')
    .argument('<id>', 'member id or name')
    .option('--json', 'as JSON')
    .action(async (id: string, flags: HubFlags) => {
      const r = await request<{ status: string }>(hubTarget(flags), 'PUT', `/v1/members/${encodeURIComponent(id)}/heartbeat`);
      if (flags.json) printJson(r);
      else print(`${visible(r.status)}\n`);
    });

  withHub(program.command('unregister'))
    .description('remove a member (its token or the admin token)')
    .argument('<id>', 'member id or name')
    .option('--json', 'as JSON')
    .action(async (id: string, flags: HubFlags) => {
      const r = await request<{ ok: boolean }>(hubTarget(flags), 'DELETE', `/v1/members/${encodeURIComponent(id)}`);
      if (flags.json) printJson(r);
      else print(`unregistered ${visible(id)}\n`);
    });

  withHub(program.command('watch'))
    .description('stream registry events, one line each (resumes across hub restarts); Ctrl-C stops')
    .option('--since <revision>', 'replay events after this revision first')
    .option('--type <type>', 'only members of this type')
    .option('--name <name>', 'only this member')
    .option('--prefix <prefix>', 'only names starting with this')
    .option('--events <list>', 'comma-separated event types: added,updated,removed,lifecycle,admin (admin: the audit of admin actions, only when listed)')
    .option('--json', 'one JSON event per line')
    .action(async (flags: HubFlags & { since?: string; type?: string; name?: string; prefix?: string; events?: string }) => {
      const since = intFlag(flags.since, 'since');
      const filter: WatchFilter = {};
      if (flags.type) filter.type = flags.type;
      if (flags.name) filter.name = flags.name;
      if (flags.prefix) filter.prefix = flags.prefix;
      if (flags.events) filter.types = flags.events.split(',').map((t) => t.trim()) as WatchFilter['types'];
      const hub = hubTarget(flags);
      const client = await connect({ url: hub.url, token: hub.token }).catch((err: unknown) => {
        throw new MusterClientError('HUB_UNREACHABLE', `Cannot reach the hub at ${hub.url}: ${(err as Error).message}`, { url: hub.url });
      });
      const stop = () => { void client.close(); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      stdoutClosed.addEventListener('abort', stop, { once: true });
      client.on('status', (s) => {
        if (s.type === 'disconnected') warn(`muster: connection lost (${s.reason}); reconnecting`);
        else if (s.type === 'reconnected') warn('muster: reconnected');
      });
      const catchUp = since === undefined ? null : new CatchUp(since, (await request<HubInfo>(hub, 'GET', '/v1/info')).revision, warn);
      try {
        const watch = client.watch(filter, since === undefined ? {} : { since });
        void watch.ready.then(() => catchUp?.replayed(), () => {});
        for await (const e of watch) {
          if (flags.json) printJson(e);
          else print(eventLine(e) + '\n');
          catchUp?.seen(e.revision);
        }
      } finally {
        catchUp?.stop();
        await client.close();
      }
    });
}
