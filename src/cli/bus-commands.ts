/**
 * Bus commands: pub, sub, broadcast, request. They speak WebSocket through the SDK. Messages go
 * as `--as NAME` (with that member's token or the admin token, --token or MUSTER_TOKEN), or
 * else as a temporary session member of type `cli` that is unregistered on exit.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { bus, connect, MusterClientError, type BusMessage, type MusterClient } from '../client/index.js';
import { DEFAULT_HUB, hubTarget } from './hub-api.js';
import { print, printJson, stdoutClosed } from './output.js';
import { jsonText, visible } from './visible.js';

interface Flags { hub?: string; token?: string; as?: string; key?: string; text?: boolean }

function common(cmd: Command): Command {
  return cmd
    .option('--hub <url>', `hub URL (or MUSTER_HUB; default ${DEFAULT_HUB})`)
    .option('--token <token>', 'admin or member token (or MUSTER_TOKEN)')
    .option('--as <name>', 'send as this member (its token or the admin token); default a temporary member')
    .option('--key <key>', 'registration key for the temporary member, when the hub requires one');
}

/** DATA as JSON when it parses, else as a string; `-` reads stdin; --text keeps it a string. */
function dataOf(arg: string, f: Flags): unknown {
  const text = arg === '-' ? readFileSync(0, 'utf8') : arg;
  if (f.text) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function jsonArg(arg: string | undefined, what: string): unknown {
  if (arg === undefined) return null;
  try {
    return JSON.parse(arg);
  } catch (err) {
    throw new MusterClientError('INVALID_PARAMS', `${what} must be JSON: ${(err as Error).message}`);
  }
}

function intOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new MusterClientError('INVALID_PARAMS', `--${name} takes a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

/** Runs fn on a fresh connection with a sender; the temporary member is removed afterwards. */
async function withBus<T>(f: Flags, role: string, fn: (c: MusterClient, from: string | undefined) => Promise<T>): Promise<T> {
  const hub = hubTarget(f);
  const client = await connect({ url: hub.url, token: hub.token, reconnect: false }).catch((err: unknown) => {
    throw new MusterClientError('HUB_UNREACHABLE', `Cannot reach the hub at ${hub.url}: ${(err as Error).message}`, { url: hub.url });
  });
  let temp: string | undefined;
  try {
    if (f.as === undefined) {
      const r = await client.register({ type: 'cli', name: `cli-${role}`, liveness: 'session', ...(f.key ? { key: f.key } : {}) });
      temp = r.id;
    }
    return await fn(client, f.as);
  } finally {
    if (temp !== undefined) await client.unregister(temp).catch(() => {});
    await client.close();
  }
}

/** SCOPE FROM DATA, each escaped (JSON leaves C1 and bidi characters raw in strings). */
function line(m: BusMessage): string {
  const data = m.data instanceof Uint8Array ? `bytes:${Buffer.from(m.data).toString('base64')}` : jsonText(m.data);
  return `${visible(m.scope ?? (m.kind === 'send' ? `@${m.to}` : '*'))} ${visible(m.from)} ${data}\n`;
}

function jsonValue(m: BusMessage): unknown {
  const data = m.data instanceof Uint8Array ? undefined : m.data;
  const bytes = m.data instanceof Uint8Array ? Buffer.from(m.data).toString('base64') : undefined;
  return { ...m, data, bytes };
}

export function busCommands(program: Command): void {
  common(program.command('pub'))
    .description('publish DATA (JSON, else text; - reads stdin) on SCOPE')
    .argument('<scope>', 'scope such as /sensors/t1/')
    .argument('<data>', 'JSON value, or text')
    .option('--text', 'send DATA as a string even when it parses as JSON')
    .action(async (scope: string, data: string, f: Flags) => {
      const r = await withBus(f, 'pub', (c, from) => c.call('bus.publish', { scope, data: dataOf(data, f), from }));
      print(`seq ${r.seq}, delivered to ${r.delivered}\n`);
    });

  common(program.command('broadcast'))
    .description('deliver DATA to every connected member')
    .argument('<data>', 'JSON value, or text')
    .option('--text', 'send DATA as a string even when it parses as JSON')
    .action(async (data: string, f: Flags) => {
      const r = await withBus(f, 'broadcast', (c, from) => c.call('bus.broadcast', { data: dataOf(data, f), from }));
      print(`seq ${r.seq}, delivered to ${r.delivered}\n`);
    });

  common(program.command('sub'))
    .description('print messages on SCOPE (and below), one line each: SCOPE FROM DATA')
    .argument('<scope>', 'scope such as /sensors/')
    .option('--count <n>', 'exit after n messages')
    .option('--json', 'one JSON object per message (bytes as base64 in "bytes")')
    .option('--echo', 'include messages this connection publishes')
    .option('--all', 'also print broadcasts and messages sent to this subscriber (scope shown as * and @NAME)')
    .action(async (scope: string, f: Flags & { count?: string; json?: boolean; echo?: boolean; all?: boolean }) => {
      const count = intOpt(f.count, 'count');
      await withBus(f, 'sub', async (c) => {
        let n = 0;
        let finish: () => void = () => {};
        const stop = new Promise<void>((resolve) => {
          finish = resolve;
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
          stdoutClosed.addEventListener('abort', () => resolve(), { once: true });
        });
        const show = (m: BusMessage) => {
          if (count !== undefined && n >= count) return;
          if (f.json) printJson(jsonValue(m));
          else print(line(m));
          if (++n === count) finish();
        };
        if (f.all) bus(c).onMessage((m) => { if (m.kind !== 'publish') show(m); });
        const sub = bus(c).subscribe(scope, show, { echo: f.echo ?? false });
        await sub.ready;
        if (count === 0) finish();
        await stop;
        await sub.close();
      });
    });

  common(program.command('request'))
    .description("ask member NAME to run METHOD with PARAMS (JSON) and print its answer as JSON")
    .argument('<name>', 'member name')
    .argument('<method>', 'method the member answers')
    .argument('[params]', 'JSON params')
    .option('--timeout <ms>', 'how long to wait for the answer (default 10000)')
    .action(async (name: string, method: string, params: string | undefined, f: Flags & { timeout?: string }) => {
      const p = jsonArg(params, 'PARAMS');
      const timeoutMs = intOpt(f.timeout, 'timeout');
      const result = await withBus(f, 'request', (c, from) => bus(c).request(name, method, p, { timeoutMs, from }));
      printJson(result);
    });
}
