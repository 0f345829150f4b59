/** Drives test/co2/satellite.py (a CO2 satellite in Python's standard library) one JSON line at a time. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { systemPython } from '../support/prerequisites.js';

export const PYTHON = systemPython();
const SCRIPT = new URL('./satellite.py', import.meta.url).pathname;

/** A typed XML-RPC value as the Python side writes it (see satellite.py). */
export type Typed =
  | string
  | Typed[]
  | { int: number } | { bool: boolean } | { double: number } | { dateTime: string } | { base64: string } | { nil: null }
  | { struct: Record<string, Typed> };

export type CallOut = { result: Typed } | { fault: { code: number; string: string } } | { protocol_error: number } | { error: string };

export const int = (n: number): Typed => ({ int: n });
export const struct = (o: Record<string, Typed>): Typed => ({ struct: o });

export class PySatellite {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  #waiter: ((line: string) => void) | null = null;
  #stderr = '';
  readonly exited: Promise<number | null>;
  port = 0;

  private constructor(relayUrl: string) {
    this.#child = spawn(PYTHON, [SCRIPT, relayUrl], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.#child.stderr!.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-4000); });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const w = this.#waiter;
      this.#waiter = null;
      if (w) w(line);
      else this.#lines.push(line);
    });
  }

  static async start(relayUrl: string): Promise<PySatellite> {
    const s = new PySatellite(relayUrl);
    s.port = (JSON.parse(await s.#next(15_000)) as { port: number }).port;
    return s;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  #next(timeoutMs: number): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiter = null; reject(new Error(`python gave no answer in ${timeoutMs} ms: ${this.#stderr}`)); }, timeoutMs);
      this.#waiter = (l) => { clearTimeout(timer); resolve(l); };
      void this.exited.then((code) => { clearTimeout(timer); reject(new Error(`python exited (${code}): ${this.#stderr}`)); });
    });
  }

  async op<T>(op: Record<string, unknown>, timeoutMs = 20_000): Promise<T> {
    this.#child.stdin!.write(JSON.stringify(op) + '\n');
    return JSON.parse(await this.#next(timeoutMs)) as T;
  }

  /** Calls a relay method through xmlrpc.client.ServerProxy. */
  call(method: string, ...params: Typed[]): Promise<CallOut> {
    return this.op<CallOut>({ op: 'call', method, params });
  }

  /** Calls a relay method from another loopback address (another machine as the relay sees it). */
  callFrom(source: string, method: string, ...params: Typed[]): Promise<CallOut> {
    return this.op<CallOut>({ op: 'call', method, params, source });
  }

  /** The result of a call that must succeed. */
  async ok(method: string, ...params: Typed[]): Promise<Typed> {
    const out = await this.call(method, ...params);
    if (!('result' in out)) throw new Error(`${method} failed: ${JSON.stringify(out)}`);
    return out.result;
  }

  /** Registers with the relay; resolves with the host id. */
  async register(nick: string, extra: Record<string, Typed> = {}): Promise<string> {
    return (await this.ok('relay.register', struct({ port: int(this.port), nick, plugins: ['relay', 'chat'], ...extra }))) as string;
  }

  /** notify() params received since the last call. */
  async notifies(): Promise<Typed[]> {
    return (await this.op<{ notifies: Typed[] }>({ op: 'notifies' })).notifies;
  }

  async pings(): Promise<number> {
    return (await this.op<{ pings: number }>({ op: 'pings' })).pings;
  }

  /** How notify() and ping() behave: answer, fail (a fault), or hang for 30 s; and the notify_pass it demands. */
  async mode(mode: 'ok' | 'fail' | 'hang', notifyPass?: string): Promise<void> {
    await this.op(notifyPass === undefined ? { op: 'mode', mode } : { op: 'mode', mode, notify_pass: notifyPass });
  }

  async close(): Promise<void> {
    this.#child.stdin!.end();
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
