/** The real `muster` command as a child process, run to completion. */
import { spawn } from 'node:child_process';

const BIN = new URL('../../bin/muster.js', import.meta.url).pathname;

export interface CliRun {
  /** The exit code; null when a signal ended it (the timeout's SIGKILL among them). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Killed with SIGKILL after this long, so that a hung command fails its test instead of the run. */
  timeoutMs?: number;
}

/**
 * Runs `muster ARGS` and resolves when it has exited and closed its output. It starts from
 * process.env without MUSTER_HUB and MUSTER_TOKEN, so that a developer's shell cannot point a
 * test at another hub; they come only from `env`. stdin is /dev/null: nothing waits on it.
 */
export function runMuster(args: string[], env: Record<string, string> = {}, options: CliOptions = {}): Promise<CliRun> {
  const base = { ...process.env };
  delete base.MUSTER_HUB;
  delete base.MUSTER_TOKEN;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Decoded as a stream, so that a character split between two chunks stays whole.
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: string) => { stdout += d; });
  child.stderr.on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
