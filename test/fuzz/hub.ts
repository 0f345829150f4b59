/**
 * The hub under fuzz: a real `muster hub` child process (spawnHub), so a crash is an exit we see.
 * One per run; after a crash the next target call gets a fresh one (a new generation) and the
 * crash is on record. It also holds the run's invariants, checked after each batch:
 *
 * - the process is alive;
 * - a control client registered at the start can still heartbeat and `get` itself;
 * - every ledger member (registered and acknowledged during the run, over WebSocket and HTTP,
 *   while the fuzz traffic flows) is still listed and alive.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { spawnHub, tempDir, type HubProcess, ADMIN_TOKEN } from '../support/hub.js';
import { FuzzPeer } from './peer.js';
import { fault, type Fault } from './types.js';

export const FEDERATION_TOKEN = 'fuzz-federation-token';
export { ADMIN_TOKEN };

/** One hub process and what was set up on it. */
export interface Live {
  readonly generation: number;
  readonly url: string;
  readonly wsUrl: string;
  readonly plantimager: string;
  /** HOST:PORT of the CO2 XML-RPC face. */
  readonly co2: string;
  /** Resolves when the process exits. */
  readonly died: Promise<void>;
  readonly dead: boolean;
  /** The hub's recent output (stderr and error-level log lines), for crash reports. */
  logTail(): string;
  /** Error-level log lines written since the previous call. */
  takeErrors(): string[];
}

const LEDGER_MAX = 300;
const TAIL_BYTES = 16 * 1024;

class LiveHub implements Live {
  readonly generation: number;
  readonly url: string;
  readonly wsUrl: string;
  plantimager = '';
  co2 = '';
  readonly died: Promise<void>;
  dead = false;
  readonly proc: HubProcess;
  readonly dataDir: string;
  #tail = '';
  #errors: string[] = [];
  control: { peer: FuzzPeer; id: string; name: string; token: string } | null = null;

  constructor(generation: number, proc: HubProcess, dataDir: string) {
    this.generation = generation;
    this.proc = proc;
    this.dataDir = dataDir;
    this.url = proc.url;
    this.wsUrl = proc.wsUrl;
    this.died = proc.exited.then(() => { this.dead = true; });
    let partial = '';
    proc.child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // pino levels: 50 error, 60 fatal. Anything the hub logs as an error is a fault to look at.
        if (/"level":(50|60)/.test(line)) { this.#errors.push(line); this.#keep(line); }
      }
      if (partial.length > TAIL_BYTES) partial = partial.slice(-TAIL_BYTES);
    });
    proc.child.stderr!.on('data', (d: Buffer) => this.#keep(d.toString()));
  }

  #keep(text: string): void {
    this.#tail = (this.#tail + text + '\n').slice(-TAIL_BYTES);
  }

  logTail(): string {
    return this.#tail;
  }

  takeErrors(): string[] {
    return this.#errors.splice(0);
  }
}

export class FuzzHub {
  #live: LiveHub | null = null;
  #starting: Promise<LiveHub> | null = null;
  #generation = 0;
  readonly #ledgerPrefix = `ledger-${randomBytes(4).toString('hex')}-`;
  /** Acknowledged ledger members of the current generation: name -> id. */
  #ledger = new Map<string, string>();
  #ledgerPending: Promise<void> | null = null;
  #ledgerSeq = 0;
  #crashReported = 0;
  spawns = 0;
  crashes = 0;
  checks = 0;
  #stopped = false;

  /** The live hub, spawning one first when there is none or the last one died. */
  async live(): Promise<Live> {
    if (this.#stopped) throw new Error('the fuzz hub is stopped');
    if (this.#live && !this.#live.dead) return this.#live;
    this.#starting ??= this.#spawn().finally(() => { this.#starting = null; });
    return this.#starting;
  }

  get current(): Live | null {
    return this.#live;
  }

  /** The current hub died and no fault says so yet. */
  get crashUnreported(): boolean {
    return this.#live !== null && this.#live.dead && this.#crashReported !== this.#live.generation;
  }

  markCrashReported(): void {
    if (this.#live) this.#crashReported = this.#live.generation;
  }

  /** The crash of the current (dead) hub as a fault. */
  crashFault(): Fault {
    return this.#crashFault(this.#live!);
  }

  async #spawn(): Promise<LiveHub> {
    if (this.#live) {
      this.crashes++;
      await this.#cleanup(this.#live);
    }
    const dataDir = tempDir('muster-fuzz-');
    const proc = await spawnHub(['--data', dataDir, '--hub-id', 'fuzz-hub', '--sync', 'normal', '--plantimager', '127.0.0.1:0', '--co2', '127.0.0.1:0', '--iccp'], {
      MUSTER_FEDERATION_TOKEN: FEDERATION_TOKEN,
    });
    this.spawns++;
    const live = new LiveHub(++this.#generation, proc, dataDir);
    const info = (await (await fetch(`${live.url}/v1/info`)).json()) as { faces: { name: string; address: string }[] };
    live.plantimager = info.faces.find((f) => f.name === 'plantimager')?.address ?? '';
    live.co2 = new URL(info.faces.find((f) => f.name === 'co2')?.address ?? 'http://0.0.0.0:0').host;
    const peer = await FuzzPeer.open(live.wsUrl, live.died);
    const name = `fz-control-${randomBytes(3).toString('hex')}`;
    const reply = await peer.call('register', { name, type: 'fuzz-control', exclusive: true, liveness: { kind: 'ttl', ttlMs: 3_600_000 } });
    const result = reply?.result as { id: string; token: string } | undefined;
    if (!result) throw new Error(`control client could not register: ${JSON.stringify(reply)}`);
    live.control = { peer, id: result.id, name, token: result.token };
    this.#ledger = new Map();
    this.#ledgerPending = null;
    this.#live = live;
    return live;
  }

  /**
   * The batch invariants. Also starts the next ledger registration, which then runs alongside the
   * next batch of fuzz traffic and is checked at the following call.
   */
  async check(): Promise<Fault | null> {
    const live = this.#live;
    if (!live) return null;
    this.checks++;
    if (live.dead) return this.#crashFault(live);
    const c = live.control!;
    const hb = await c.peer.call('heartbeat', { id: c.id, token: c.token }, 5000);
    // A failed call may be the hub dying: the exit event can trail the closed socket.
    if (!hb) await Promise.race([live.died, new Promise((r) => setTimeout(r, 500))]);
    if (live.dead) return this.#crashFault(live);
    if (!hb || !('result' in hb)) return fault('unhealthy', 'control heartbeat', `the control client's heartbeat got ${hb ? JSON.stringify(hb).slice(0, 300) : 'no answer in 5 s'}`).fault!;
    const got = await c.peer.call('get', { name: c.name }, 5000);
    const member = got?.result as { id?: string; status?: string } | undefined;
    if (!member || member.id !== c.id || member.status !== 'alive') {
      return fault('unhealthy', 'control get', `get of the control client got ${got ? JSON.stringify(got).slice(0, 300) : 'no answer in 5 s'}`).fault!;
    }
    await this.#ledgerPending;
    const missing = await this.#missingLedger(live);
    if (live.dead) return this.#crashFault(live);
    if (typeof missing === 'string') return fault('unhealthy', 'ledger list', `listing the ledger members failed: ${missing}`).fault!;
    if (missing.length) return fault('lost', 'ledger member missing', `acknowledged members no longer listed (or not alive): ${missing.join(', ')}`).fault!;
    if (this.#ledger.size < LEDGER_MAX) this.#ledgerPending = this.#addLedger(live);
    return null;
  }

  #crashFault(live: LiveHub): Fault {
    return fault('crash', crashSignature(live.logTail()), `the hub exited (code ${live.proc.child.exitCode}, signal ${live.proc.child.signalCode}); its last output:\n${live.logTail().slice(-4000)}`).fault!;
  }

  get ledgerSize(): number {
    return this.#ledger.size;
  }

  async #addLedger(live: LiveHub): Promise<void> {
    const name = `${this.#ledgerPrefix}${++this.#ledgerSeq}`;
    const params = { name, type: 'fuzz-ledger', exclusive: true, liveness: { kind: 'ttl', ttlMs: 3_600_000 } };
    try {
      if (this.#ledgerSeq % 2) {
        const reply = await live.control!.peer.call('register', params, 10_000);
        const id = (reply?.result as { id?: string } | undefined)?.id;
        if (id) this.#ledger.set(name, id);
      } else {
        const res = await fetch(`${live.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params), signal: AbortSignal.timeout(10_000) });
        const body = (await res.json()) as { id?: string };
        if (res.status === 201 && body.id) this.#ledger.set(name, body.id);
      }
    } catch {
      // Not acknowledged: nothing to hold the hub to.
    }
  }

  /** Ledger names not listed as alive with their id, or why the listing failed. */
  async #missingLedger(live: LiveHub): Promise<string[] | string> {
    if (this.#ledger.size === 0) return [];
    const seen = new Map<string, string>();
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const q = new URLSearchParams({ prefix: this.#ledgerPrefix, limit: '1000', ...(after ? { after } : {}) });
      try {
        const res = await fetch(`${live.url}/v1/members?${q}`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as { members: { id: string; name: string; status: string }[]; next: string | null };
        for (const m of body.members) if (m.status === 'alive') seen.set(m.name, m.id);
        after = body.next;
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
      if (!after) break;
    }
    return [...this.#ledger].filter(([name, id]) => seen.get(name) !== id).map(([name]) => name);
  }

  async #cleanup(live: LiveHub): Promise<void> {
    live.control?.peer.terminate();
    await live.proc.kill('SIGKILL');
    rmSync(live.dataDir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting?.catch(() => undefined);
    const live = this.#live;
    if (!live) return;
    if (live.dead) this.crashes++;
    live.control?.peer.terminate();
    await live.proc.kill('SIGTERM');
    rmSync(live.dataDir, { recursive: true, force: true });
  }
}

/** The first error line of a crash's output (e.g. "RangeError: Maximum call stack size exceeded") and where it was thrown. */
export function crashSignature(tail: string): string {
  // Log lines (JSON) may mention errors too: the crash is in the plain stderr text.
  const lines = tail.split('\n').filter((l) => !l.startsWith('{'));
  const i = lines.findIndex((l) => /^\s*(\w*Error|Uncaught|node:internal)/.test(l) || /Error: /.test(l));
  if (i < 0) return 'hub exited';
  const errLine = lines.slice(i).find((l) => /\w*Error\b/.test(l)) ?? lines[i];
  const at = lines.slice(i).find((l) => /^\s+at .*\/src\//.test(l));
  return `${errLine.trim().slice(0, 120)}${at ? ` ${at.trim().replace(/^at /, 'at ').replace(/\(.*\/src\//, '(src/').slice(0, 120)}` : ''}`;
}
