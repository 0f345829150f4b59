/** A real redis-server for tests: its own free port and data folder, stopped by its own pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tempDir } from './hub.js';
import { requirePrerequisites } from './prerequisites.js';
import { freePort } from './net.js';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  child: ChildProcess;
  /** SIGKILL, or a clean stop (its data written as configured). */
  stop(options?: { keepData?: boolean; signal?: NodeJS.Signals }): Promise<void>;
  /** Starts a stopped server again on the same port and folder. */
  restart(): Promise<TestRedis>;
  /** Freezes the server (SIGSTOP) for `ms`, then lets it run again. */
  pause(ms: number): Promise<void>;
}

/** `appendfsync always` keeps every acknowledged write across a kill; tests of loss windows pass other args. */
export async function startRedis(extra: string[] = ['--appendonly', 'yes', '--appendfsync', 'always'], port?: number, dir?: string): Promise<TestRedis> {
  requirePrerequisites('redis-server');
  const p = port ?? (await freePort());
  const d = dir ?? tempDir('muster-redis-');
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--dir', d, '--save', '', '--logfile', '', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (/Ready to accept connections/.test(out)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}: ${out}`)); });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const r: TestRedis = {
    url: `redis://127.0.0.1:${p}`, port: p, dir: d, child,
    async stop(options = {}) {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, options.signal ?? 'SIGKILL');
      await exited;
      // A background AOF rewrite is a forked child that outlives the SIGKILLed server for a moment
      // and still writes its temp file here: retry until it is gone.
      if (!options.keepData) rmSync(d, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
    },
    restart: () => startRedis(extra, p, d),
    async pause(ms) {
      process.kill(child.pid!, 'SIGSTOP');
      await new Promise((res) => setTimeout(res, ms));
      process.kill(child.pid!, 'SIGCONT');
    },
  };
  return r;
}
