/**
 * The component side of lifecycle control (ICCP over muster).
 *
 *   const c = await component(client, {
 *     type: 'worker',
 *     onConfigure: async (config) => { apply(config); },          // a throw answers ERROR(message)
 *     onStop: async () => { await flush(); return { details: ['flushed'] }; },  // then FINISHED
 *   });
 *   await c.ready({ data: ['tcp://10.0.0.5:9000'] });             // or c.fail('port in use')
 *   await c.finished;                                               // after STOP was answered
 */
import type { Endpoints, LifecycleState } from '../schemas/control.js';
import type { MethodResult } from './hub-methods.js';
import type { MusterClient, RegisterOptions } from './types.js';

/** What a component tells the hub. */
type LifecycleMessage = 'lifecycle.ready' | 'lifecycle.error' | 'lifecycle.ok' | 'lifecycle.finished';

export interface StopOutcome {
  outcome?: 'OK' | 'ERROR';
  details?: string[];
}

export interface ComponentOptions extends Omit<RegisterOptions, 'roles'> {
  /** Answers CONFIGURE: resolving answers OK, a throw answers ERROR with the error's message. */
  onConfigure?(config: Record<string, unknown>): Promise<void> | void;
  /** Clean-up on STOP; answers FINISHED with what it returns (default OK). A throw answers FINISHED ERROR. */
  onStop?(): Promise<StopOutcome | void> | StopOutcome | void;
  /** Answers the hub refused (PROTOCOL_ERROR after the hub gave up on this run, ...). */
  onError?(err: unknown): void;
}

export interface Component {
  readonly id: string;
  readonly name: string;
  readonly token: string;
  /** The state the hub last acknowledged. */
  readonly state: LifecycleState;
  /** Announces READY with the endpoints, once per run (again by itself after a reconnect). */
  ready(endpoints?: Endpoints): Promise<void>;
  /** Tells the hub the component could not start (before READY): it becomes failed with this reason. */
  fail(reason: string): Promise<void>;
  /** Resolves with the outcome sent in FINISHED, once STOP was answered. */
  readonly finished: Promise<Required<StopOutcome>>;
  /** Stops listening for commands (does not unregister). */
  close(): void;
}

interface CommandParams {
  name: string;
  call: string;
  config?: Record<string, unknown>;
}

class ComponentImpl implements Component {
  id: string;
  name: string;
  state: LifecycleState = 'starting';
  readonly finished: Promise<Required<StopOutcome>>;
  readonly #client: MusterClient;
  readonly #options: ComponentOptions;
  readonly #unsubscribe: (() => void)[] = [];
  #endpoints: Endpoints | null = null;
  #token: string;
  #done = false;
  #finish!: (o: Required<StopOutcome>) => void;

  constructor(client: MusterClient, options: ComponentOptions, reg: { id: string; name: string; token: string }) {
    this.#client = client;
    this.#options = options;
    this.id = reg.id;
    this.name = reg.name;
    this.#token = reg.token;
    this.finished = new Promise((resolve) => { this.#finish = resolve; });
    this.#unsubscribe.push(
      client.onNotification('lifecycle.configure', (p) => this.#mine(p) && void this.#configure(p as CommandParams)),
      client.onNotification('lifecycle.stop', (p) => this.#mine(p) && void this.#stop(p as CommandParams)),
      client.on('status', (s) => {
        // Registering again (after a reconnect, or anew after the hub lost it) starts a new run: announce READY again.
        const replaced = s.type === 'member-replaced' && s.oldId === this.id;
        if (replaced) {
          this.id = s.id;
          this.name = s.name;
        }
        // While reconnecting, 'reconnected' follows; announcing on both would be a second READY.
        const rejoined = s.type === 'reconnected' || (replaced && client.connected);
        const endpoints = this.#endpoints;
        if (rejoined && endpoints && !this.#done) void this.#send(() => client.call('lifecycle.ready', { name: this.name, endpoints }));
      }),
    );
  }

  get token(): string {
    return this.#client.tokenOf(this.id) ?? this.#token;
  }

  async ready(endpoints: Endpoints = {}): Promise<void> {
    this.#endpoints = endpoints;
    await this.#send(() => this.#client.call('lifecycle.ready', { name: this.name, endpoints }), true);
  }

  async fail(reason: string): Promise<void> {
    this.#done = true;
    await this.#send(() => this.#client.call('lifecycle.error', { name: this.name, text: reason }), true);
  }

  close(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  #mine(p: unknown): boolean {
    return typeof p === 'object' && p !== null && (p as { name?: unknown }).name === this.name;
  }

  async #configure(p: CommandParams): Promise<void> {
    try {
      await this.#options.onConfigure?.(p.config ?? {});
    } catch (err) {
      await this.#send(() => this.#client.call('lifecycle.error', { name: this.name, call: p.call, text: messageOf(err) }));
      return;
    }
    await this.#send(() => this.#client.call('lifecycle.ok', { name: this.name, call: p.call }));
  }

  async #stop(p: CommandParams): Promise<void> {
    let result: Required<StopOutcome>;
    try {
      const r = (await this.#options.onStop?.()) ?? {};
      result = { outcome: r.outcome ?? 'OK', details: r.details ?? [] };
    } catch (err) {
      result = { outcome: 'ERROR', details: [messageOf(err)] };
    }
    this.#done = true;
    await this.#send(() => this.#client.call('lifecycle.finished', { name: this.name, call: p.call, ...result }));
    this.#finish(result);
  }

  /** Sends one lifecycle message; the hub's answer is the state it moved to. */
  async #send(message: () => Promise<MethodResult<LifecycleMessage>>, rethrow = false): Promise<void> {
    try {
      const r = await message();
      this.state = r.state;
    } catch (err) {
      if (rethrow) throw err;
      this.#options.onError?.(err);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Registers a component member (roles: ["component"], session liveness by default) and answers the hub's commands. */
export async function component(client: MusterClient, options: ComponentOptions): Promise<Component> {
  const { onConfigure: _c, onStop: _s, onError: _e, ...reg } = options;
  const result = await client.register({ liveness: 'session', ...reg, roles: ['component'] });
  return new ComponentImpl(client, options, result);
}
