/** Drives test/python/plantimager_client.py (a plantimager device in Python) one JSON line at a time. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { systemPython } from '../support/prerequisites.js';

export const PYTHON = systemPython('zmq');
const SCRIPT = new URL('./plantimager_client.py', import.meta.url).pathname;
export const SWARM = new URL('./swarm.py', import.meta.url).pathname;

export type Op =
  | { op: 'register'; device_type: string; addr: string; name: string; overwrite?: boolean }
  | { op: 'alive'; uuid: string; alive_timeout?: number }
  | { op: 'unregister'; uuid: string }
  | { op: 'raw'; text?: string[]; hex?: string[]; json?: unknown; timeout_ms?: number };

export interface RegisterOut { name: string; uuid: string }

export class PyClient {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  #waiter: ((line: string) => void) | null = null;
  #stderr = '';
  readonly exited: Promise<number | null>;

  constructor(url: string) {
    this.#child = spawn(PYTHON, [SCRIPT, url], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.#child.stderr!.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const w = this.#waiter;
      this.#waiter = null;
      if (w) w(line);
      else this.#lines.push(line);
    });
  }

  /** Sends one op and resolves with Python's answer; rejects if none comes within timeoutMs. */
  async op<T = Record<string, unknown>>(op: Op, timeoutMs = 15_000): Promise<T> {
    this.#child.stdin!.write(JSON.stringify(op) + '\n');
    const line = this.#lines.shift() ?? await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiter = null; reject(new Error(`python gave no answer to ${op.op} in ${timeoutMs} ms: ${this.#stderr}`)); }, timeoutMs);
      this.#waiter = (l) => { clearTimeout(timer); resolve(l); };
      void this.exited.then((code) => { clearTimeout(timer); reject(new Error(`python exited (${code}): ${this.#stderr}`)); });
    });
    return JSON.parse(line) as T;
  }

  register(device_type: string, addr: string, name: string, overwrite = false): Promise<RegisterOut> {
    return this.op<RegisterOut>({ op: 'register', device_type, addr, name, overwrite });
  }

  async alive(uuid: string, alive_timeout?: number): Promise<string> {
    return (await this.op<{ state: string }>(alive_timeout === undefined ? { op: 'alive', uuid } : { op: 'alive', uuid, alive_timeout })).state;
  }

  async unregister(uuid: string): Promise<boolean> {
    return (await this.op<{ ok: boolean }>({ op: 'unregister', uuid })).ok;
  }

  /** The reply frames as text, or null when no reply came within timeout_ms. */
  async raw(op: Omit<Extract<Op, { op: 'raw' }>, 'op'>): Promise<string[] | null> {
    return (await this.op<{ reply: string[] | null }>({ op: 'raw', ...op })).reply;
  }

  async close(): Promise<void> {
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
