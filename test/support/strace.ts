/** A running hub's system calls, every thread, as strace sees them: for tests of what reaches the disk and when. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Call { atUs: number; endUs: number; syscall: string; target: string; args: string }

/** strace -ttt -T -yy lines (-ff: a file per thread, no call split across lines): `START SYSCALL(FD<TARGET>, ...) = RESULT <DURATION>`. */
export function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\.(\d{6}) (\w+)\(\d+<(.*?)>([,)].*) <(\d+)\.(\d{6})>$/.exec(line);
    if (!m) continue;
    const atUs = Number(m[1]) * 1e6 + Number(m[2]);
    calls.push({ atUs, endUs: atUs + Number(m[6]) * 1e6 + Number(m[7]), syscall: m[3]!, target: m[4]!, args: m[5]! });
  }
  return calls;
}

/** Attaches strace to every thread of `pid`; resolves once it has, with a way to detach. */
export async function attach(pid: number, args: string[]): Promise<{ detach: () => Promise<void> }> {
  const strace = spawn('strace', ['-f', '-p', String(pid), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => strace.once('exit', () => resolve()));
  let attached = '';
  strace.stderr!.on('data', (d: Buffer) => { attached += d.toString(); });
  // One "attached" line per thread of the hub (main, writer, libuv's pool...): wait for them to settle.
  for (let i = 0; i < 100 && !/attached/.test(attached); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  assert.match(attached, /attached/, `strace could not attach to the hub: ${attached}`);
  return {
    async detach() {
      strace.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      strace.kill('SIGKILL');
    },
  };
}

/**
 * Makes every `pwrite64` of `pid` fail with `errno` (ENOSPC: a full disk; EIO: a failing one) until
 * detached; `path` limits it to writes of that file.
 */
export function failWrites(pid: number, errno: 'ENOSPC' | 'EIO', path?: string): Promise<{ detach: () => Promise<void> }> {
  return attach(pid, [...(path ? ['-P', path] : []), '-e', 'trace=pwrite64', '-e', `inject=pwrite64:error=${errno}`, '-o', '/dev/null']);
}

/**
 * Traces `syscalls` of every thread of `pid` into files under `dir`; `stop()` detaches and gives
 * the calls in time order. With `hubUrl` (and write or writev among `syscalls`), it resolves only
 * once the hub's main thread shows in the trace: its answers to /healthz, asked until they do (on a
 * busy machine strace took longer than its wait to trace every thread, and a test's first answer went untraced).
 */
export async function traceCalls(pid: number, dir: string, syscalls: readonly string[], hubUrl?: string): Promise<{ stop: () => Promise<Call[]> }> {
  const traceDir = join(dir, 'trace');
  mkdirSync(traceDir);
  const strace = await attach(pid, ['-ff', '-ttt', '-T', '-yy', '-s', '8192', '-e', `trace=${syscalls.join(',')}`, '-o', join(traceDir, 't')]);
  const mainTraced = () => { try { return statSync(join(traceDir, `t.${pid}`)).size > 0; } catch { return false; } };
  for (let i = 0; hubUrl !== undefined && !mainTraced(); i++) {
    assert.ok(i < 200, 'the hub\'s main thread never showed in the trace');
    await fetch(`${hubUrl}/healthz`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async stop() {
      await strace.detach();
      return readdirSync(traceDir).flatMap((f) => parseTrace(readFileSync(join(traceDir, f), 'utf8'))).sort((x, y) => x.atUs - y.atUs);
    },
  };
}

/** Syncs of the store's WAL among `calls`. */
export const walSyncs = (calls: readonly Call[]): Call[] => calls.filter((c) => (c.syscall === 'fsync' || c.syscall === 'fdatasync') && c.target.endsWith('muster.db-wal'));
