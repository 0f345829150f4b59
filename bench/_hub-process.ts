/**
 * Bench support: a hub as its own process pinned to one core, and the bench process pinned to
 * another, so the load generator does not steal the hub's CPU. Memory is read from /proc and,
 * when the hub runs under --inspect, after a full GC forced through the inspector protocol.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const BIN = new URL('../bin/muster.js', import.meta.url).pathname;
export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';

/** Pins every thread of this process to `cores` ("1", "0-1"; no-op where taskset is missing). */
export function pinSelf(cores: number | string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cores), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface BenchHub {
  child: ChildProcess;
  pid: number;
  url: string;
  wsUrl: string;
  /** ms from spawn until the "listening" line. */
  listenMs: number;
  /** ws:// URL of the inspector when started with `inspect`. */
  inspectorUrl: string | null;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface HubSpawnOptions {
  dataDir: string;
  core?: number;
  sync?: 'full' | 'normal';
  inspect?: boolean;
  extraArgs?: string[];
  nodeArgs?: string[];
  /** The CLI to run (default: this checkout's bin/muster.js); another checkout's to race two builds. */
  bin?: string;
}

/** Starts `muster hub` under `taskset -c core` and waits (at most 30 s) for it to listen. */
export async function spawnBenchHub(o: HubSpawnOptions): Promise<BenchHub> {
  const nodeArgs = [...(o.nodeArgs ?? []), ...(o.inspect ? ['--inspect=127.0.0.1:0'] : [])];
  const args = [
    '-c', String(o.core ?? 0), process.execPath, ...nodeArgs, o.bin ?? BIN, 'hub', '--host', '127.0.0.1', '--port', '0',
    '--data', o.dataDir, '--log-level', 'warn', '--admin-token', BENCH_ADMIN_TOKEN, '--max-members', '1000000',
    '--sync', o.sync ?? 'full', ...(o.extraArgs ?? []),
  ];
  const t0 = performance.now();
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  let inspectorUrl: string | null = null;
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
    inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1] ?? null;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`hub did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    void exited.then(() => { clearTimeout(timer); reject(new Error(`hub exited: ${stderr}`)); });
  });
  const listenMs = performance.now() - t0;
  return {
    child, pid: child.pid!, url, wsUrl: url.replace(/^http/, 'ws') + '/v1/ws', listenMs, inspectorUrl,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    },
  };
}

/** The node process under taskset (taskset execs, so it is the same pid). RSS in bytes from /proc. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

let clockTicks = 0;

/** CPU time (user + system) the process has used, in ms, from /proc. */
export function cpuMs(pid: number): number {
  if (!clockTicks) {
    try { clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clockTicks = 100; }
  }
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/** Jiffies the whole machine spent busy and in all, from /proc/stat (for "how busy was it"). */
export function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
}

/** Forces a full GC in the hub through the inspector and returns its heap figures. */
export async function gcAndHeap(inspectorUrl: string): Promise<{ heapUsed: number; rss: number; external: number }> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  let nextId = 1;
  const call = (method: string, params: unknown = {}): Promise<any> => new Promise((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 30_000);
    const onMessage = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown };
      if (m.id !== id) return;
      ws.off('message', onMessage);
      clearTimeout(timer);
      if (m.error) reject(new Error(JSON.stringify(m.error))); else resolve(m.result);
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ id, method, params }));
  });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const mem = JSON.parse((r as { result: { value: string } }).result.value) as { heapUsed: number; rss: number; external: number };
    return mem;
  } finally {
    ws.close();
  }
}
