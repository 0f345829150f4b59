/** Test hubs: in-process on a free loopback port, or as a real child process (for kill -9). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, type HubConfig } from '../../src/config.js';
import { Hub } from '../../src/hub.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function tempDir(prefix = 'muster-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestHub {
  hub: Hub;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** Stops the hub; `keepData` leaves the store for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startHub(overrides: Partial<HubConfig> = {}): Promise<TestHub> {
  const dataDir = overrides.dataDir ?? tempDir();
  const config: HubConfig = {
    ...DEFAULT_CONFIG, host: '127.0.0.1', port: 0, dataDir, hubId: 'test-hub', adminToken: ADMIN_TOKEN,
    logLevel: 'silent', sync: 'normal', ...overrides,
  };
  const hub = await Hub.start({ config });
  return {
    hub, url: hub.url, wsUrl: hub.url.replace(/^http/, 'ws') + '/v1/ws', dataDir,
    async stop(options = {}) {
      await hub.stop();
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface HubProcess {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** What it printed on stdout so far (its start-up lines first). */
  stdout(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const BIN = new URL('../../bin/muster.js', import.meta.url).pathname;

/** Runs `muster hub` as a child process on a free port and waits until it listens. */
export async function spawnHub(args: string[], env: NodeJS.ProcessEnv = {}): Promise<HubProcess> {
  const child = spawn(process.execPath, [BIN, 'hub', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args], {
    env: { ...process.env, MUSTER_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start in 20 s: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`hub exited with ${code}: ${stderr}`)); });
  });
  return {
    child, url, wsUrl: url.replace(/^http/, 'ws') + '/v1/ws', pid: child.pid!, exited, stdout: () => out,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
      return exited;
    },
  };
}
