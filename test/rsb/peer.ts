/** Drives test/rsb/rsb_peer.py: RSB socket clients and a bus server in Python (Debian's python3-protobuf, protoc). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { requirePrerequisites, systemPython } from '../support/prerequisites.js';

export const PYTHON = systemPython('protobuf');
requirePrerequisites('protoc');
const SCRIPT = new URL('./rsb_peer.py', import.meta.url).pathname;

export interface RsbEvent {
  scope: string; method: string; schema: string; hex: string; text?: string; sender: string; seq: number;
  causes: { sender: string; seq: number }[]; create: number; send: number; has_meta: boolean;
  user_infos: Record<string, string>; user_times: Record<string, number>;
}

export type Data = { hex: string } | { text: string } | { pack: string; value: number | boolean } | Record<string, never>;

/** One Python process speaking JSON lines; `op` sends one and waits for its answer. */
class LineProcess {
  protected readonly child: ChildProcess;
  readonly #lines: string[] = [];
  #waiter: ((line: string) => void) | null = null;
  #stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stderr!.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-4000); });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const w = this.#waiter;
      this.#waiter = null;
      if (w) w(line);
      else this.#lines.push(line);
    });
  }

  line(timeoutMs = 15_000): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiter = null; reject(new Error(`python gave no line in ${timeoutMs} ms: ${this.#stderr}`)); }, timeoutMs);
      this.#waiter = (l) => { clearTimeout(timer); resolve(l); };
      void this.exited.then((code) => { clearTimeout(timer); reject(new Error(`python exited (${code}): ${this.#stderr}`)); });
    });
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

export class RsbClient extends LineProcess {
  private constructor(port: number) {
    super(['client', '127.0.0.1', String(port)]);
  }

  static async connect(port: number): Promise<RsbClient> {
    const c = new RsbClient(port);
    const first = JSON.parse(await c.line()) as { ready?: boolean; error?: string };
    if (!first.ready) throw new Error(`RSB client did not start: ${JSON.stringify(first)}`);
    return c;
  }

  async op<T = Record<string, unknown>>(op: Record<string, unknown>, timeoutMs = 15_000): Promise<T> {
    this.child.stdin!.write(JSON.stringify(op) + '\n');
    return JSON.parse(await this.line(timeoutMs)) as T;
  }

  listen(scope: string): Promise<unknown> {
    return this.op({ op: 'listen', scope });
  }

  send(scope: string, schema: string, data: Data, extra: Record<string, unknown> = {}): Promise<{ sender: string; seq: number }> {
    return this.op({ op: 'send', scope, schema, ...data, ...extra });
  }

  async events(count = 1, timeoutMs = 3000): Promise<RsbEvent[]> {
    return (await this.op<{ events: RsbEvent[] }>({ op: 'events', count, timeout_ms: timeoutMs })).events;
  }

  serve(scope: string, reply: 'echo' | 'error' | 'upper' | 'silent' = 'echo'): Promise<unknown> {
    return this.op({ op: 'serve', scope, reply });
  }

  async call(scope: string, schema: string, data: Data, timeoutMs = 3000): Promise<RsbEvent | null> {
    return (await this.op<{ reply: RsbEvent | null }>({ op: 'call', scope, schema, ...data, timeout_ms: timeoutMs })).reply;
  }

  raw(hex: string): Promise<{ ok: boolean }> {
    return this.op({ op: 'raw', hex });
  }

  /** How the hub ended the connection ('eof', 'reset: ...'), or null if it stayed open for timeoutMs. */
  async closed(timeoutMs = 3000): Promise<string | null> {
    return (await this.op<{ closed: string | null }>({ op: 'closed', timeout_ms: timeoutMs })).closed;
  }

  /** A clean leave, as rsb-python's deactivate does it (shutdown, close), then the process ends. */
  async leave(): Promise<void> {
    await this.op({ op: 'close' });
    await this.stop();
  }
}

/** A Python RSB bus server (rsb-python's BusServer behaviour) on a free or given port. */
export class RsbServer extends LineProcess {
  port = 0;

  static async start(port = 0): Promise<RsbServer> {
    const s = new RsbServer(['server', String(port)]);
    const line = await s.line();
    const m = /^listening (\d+)$/.exec(line);
    if (!m) throw new Error(`RSB server did not start: ${line}`);
    s.port = Number(m[1]);
    return s;
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Python protobuf reading and writing Notifications (the reference for the codec tests). */
export class PyCodec extends LineProcess {
  constructor() {
    super(['codec']);
  }

  async op<T>(op: Record<string, unknown>): Promise<T> {
    this.child.stdin!.write(JSON.stringify(op) + '\n');
    return JSON.parse(await this.line()) as T;
  }
}
