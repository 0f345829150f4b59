/**
 * ICCP peers for tests: Saturnin-like components in Python (test/iccp/component.py, one process
 * each, stopped by their own pid) and raw ZeroMQ PAIR peers in Node for bad input.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as zmq from 'zeromq';
import { PYTHON, pythonProtos } from './protos.js';

const SCRIPT = new URL('./component.py', import.meta.url).pathname;

export interface ComponentOptions {
  mode?: 'normal' | 'stock' | 'unprompted' | 'crash' | 'start-error' | 'silent' | 'hang';
  endpoints?: Record<string, string[]>;
  after?: number;
  outcome?: 'OK' | 'ERROR' | 'UNKNOWN';
  details?: string[];
  stopError?: boolean;
  stopRaises?: boolean;
}

export type Line = Record<string, unknown> & { event: string };

/** The component.py command line (for `muster launch` too). */
export function componentArgs(endpoint: string | null, o: ComponentOptions = {}): string[] {
  const args = [SCRIPT, pythonProtos(), '--mode', o.mode ?? 'normal', '--endpoints', JSON.stringify(o.endpoints ?? {}), '--lifetime', '30000'];
  if (endpoint) args.push('--endpoint', endpoint);
  if (o.after !== undefined) args.push('--after', String(o.after));
  if (o.outcome) args.push('--outcome', o.outcome);
  if (o.details?.length) args.push('--details', ...o.details);
  if (o.stopError) args.push('--stop-error');
  if (o.stopRaises) args.push('--stop-raises');
  return args;
}

export class PyComponent {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  readonly exited: Promise<number | null>;
  #stderr = '';
  #wake: (() => void) | null = null;

  constructor(endpoint: string, options: ComponentOptions = {}) {
    this.child = spawn(PYTHON, componentArgs(endpoint, options), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    this.child.stderr!.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as Line);
      this.#wake?.();
    });
  }

  /** The first line with this event (seen or to come); rejects after timeoutMs. */
  async waitFor(event: string, timeoutMs = 10_000): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => l.event === event);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`component: no ${event} in ${timeoutMs} ms (lines ${JSON.stringify(this.lines)}; stderr ${this.#stderr})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#wake = () => { clearTimeout(t); resolve(); };
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid!, signal);
    return this.exited;
  }
}

/** A raw PAIR peer: sends whatever frames a test gives it. */
export class RawPeer {
  readonly #socket = new zmq.Pair({ linger: 0, sendTimeout: 2000, receiveTimeout: 2000 });

  constructor(endpoint: string) {
    this.#socket.connect(endpoint);
  }

  send(frames: (Buffer | Uint8Array)[]): Promise<void> {
    return this.#socket.send(frames);
  }

  /** The next message from the hub, or null within timeoutMs. */
  async receive(timeoutMs = 2000): Promise<Buffer[] | null> {
    this.#socket.receiveTimeout = timeoutMs;
    try {
      return await this.#socket.receive();
    } catch {
      return null;
    }
  }

  close(): void {
    this.#socket.close();
  }
}

export { eventually } from '../support/eventually.js';
