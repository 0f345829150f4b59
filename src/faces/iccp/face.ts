/**
 * The Saturnin ICCP face: one bound PAIR socket per component, as Saturnin's own controller binds
 * them. Endpoints are declared in config (`iccpEndpoints`: name -> address), handed out on demand
 * from the bind spec (`iccp`: `muster iccp endpoint NAME`, `muster launch`, iccp.endpoint), and
 * bound again after a restart for every ICCP component the registry kept. Each endpoint is bound
 * before its address is handed out, so a component never finds it missing. The face installs the
 * ICCP dialect of the lifecycle on the control service.
 */
import type { Logger } from 'pino';
import { MusterError } from '../../errors.js';
import { assertValidName } from '../../core/names.js';
import type { IccpEndpointView, IccpPort } from '../../core/operations/iccp-port.js';
import type { LifecycleState } from '../../schemas/control.js';
import type { HubContext } from '../context.js';
import type { Face } from '../face.js';
import { candidates, checkEndpoint, DEFAULT_BIND, parseBindSpec, type BindSpec } from './bind-spec.js';
import { MAX_FRAME_BYTES } from './codec.js';
import { toConfigProto } from './config-map.js';
import { IccpComponents, isIccpComponent } from './components.js';
import { IccpMetrics } from './metrics.js';
import { PairEndpoint } from './pair-endpoint.js';

export interface IccpFaceOptions {
  /** Bind spec of endpoints handed out on demand (see bind-spec.ts); default tcp://127.0.0.1:*. */
  bind?: string;
  /** Declared endpoints: component name -> tcp://HOST:PORT or ipc:///PATH. */
  endpoints?: Readonly<Record<string, string>>;
  readyTimeoutMs?: number;
  finishedTimeoutMs?: number;
  maxFrameBytes?: number;
  /** Endpoints bound at once (each holds one component). */
  maxEndpoints?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

interface Bound {
  readonly endpoint: PairEndpoint;
  readonly origin: IccpEndpointView['origin'];
  readonly since: number;
}

export class IccpFace implements Face, IccpPort {
  readonly name = 'iccp';
  readonly address: string;
  readonly #hub: HubContext;
  readonly #log: Logger;
  readonly #spec: BindSpec;
  readonly #components: IccpComponents;
  readonly #bound = new Map<string, Bound>();
  readonly #binding = new Map<string, Promise<Bound>>();
  readonly #maxEndpoints: number;
  readonly #maxFrameBytes: number;
  readonly #removeDialect: () => void;
  readonly #metrics: IccpMetrics;
  #stopped = false;

  private constructor(hub: HubContext, options: IccpFaceOptions) {
    this.#hub = hub;
    this.#log = hub.log.child({ face: 'iccp' });
    const bind = options.bind ?? DEFAULT_BIND;
    this.#spec = parseBindSpec(bind);
    this.address = bind;
    this.#maxEndpoints = options.maxEndpoints ?? hub.limits.maxConnections;
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#metrics = new IccpMetrics(hub.metrics.registry, {
      endpoints: () => {
        let connected = 0;
        for (const b of this.#bound.values()) if (b.endpoint.connected) connected++;
        return { connected, waiting: this.#bound.size - connected };
      },
      components: () => [...hub.registry.members()].filter(isIccpComponent),
    });
    this.#components = new IccpComponents(hub, this.#log, { maxFrameBytes: this.#maxFrameBytes, readyTimeoutMs, metrics: this.#metrics });
    this.#removeDialect = hub.control.addDialect({
      name: 'iccp', covers: isIccpComponent,
      timeouts: { ready: readyTimeoutMs, stop: options.finishedTimeoutMs ?? DEFAULT_TIMEOUT_MS },
      checkConfig: (config) => void toConfigProto(config),
    });
  }

  /** Binds the declared endpoints and those of kept components; rejects when a declared one cannot be bound. */
  static async start(hub: HubContext, options: IccpFaceOptions): Promise<IccpFace> {
    const face = new IccpFace(hub, options);
    try {
      for (const [name, endpoint] of Object.entries(options.endpoints ?? {})) {
        assertValidName(name);
        await face.#bind(name, [checkEndpoint(endpoint)], 'config');
        if (!hub.registry.names.isTaken(name)) hub.registry.names.reserve(name);
      }
    } catch (err) {
      await face.stop();
      throw err;
    }
    for (const m of hub.registry.members()) {
      const endpoint = m.meta.endpoint;
      if (!isIccpComponent(m) || !endpoint || face.#bound.has(m.name)) continue;
      await face.#bind(m.name, [endpoint], 'restored').catch((err: unknown) => face.#log.warn({ err, name: m.name, endpoint }, 'ICCP endpoint of a kept component not bound again'));
    }
    face.#log.info({ bind: face.address, endpoints: face.#bound.size }, 'ICCP face listening');
    return face;
  }

  async endpoint(name: string): Promise<IccpEndpointView> {
    if (this.#stopped) throw new MusterError('SHUTTING_DOWN');
    assertValidName(name);
    const known = this.#bound.get(name);
    if (known) return this.#view(name, known);
    const other = this.#hub.registry.find(name);
    if (other && other.name === name && !isIccpComponent(other)) throw new MusterError('NAME_TAKEN', `The name ${name} is held by a member that is not an ICCP component`, { name });
    if (!other && this.#hub.registry.names.isTaken(name)) throw new MusterError('NAME_TAKEN', `The name ${name} is taken`, { name });
    if (this.#bound.size + this.#binding.size >= this.#maxEndpoints) {
      throw new MusterError('REGISTRY_FULL', `This hub binds at most ${this.#maxEndpoints} ICCP endpoints`, { max: this.#maxEndpoints });
    }
    let pending = this.#binding.get(name);
    if (!pending) {
      pending = this.#bind(name, candidates(this.#spec, name), 'on-demand').then(async (bound) => {
        if (!this.#hub.registry.find(name)) await this.#precreate(name, bound.endpoint.url);
        return bound;
      });
      this.#binding.set(name, pending);
      void pending.finally(() => this.#binding.delete(name)).catch(() => {});
    }
    const b = await pending.catch((err: unknown) => {
      throw err instanceof MusterError ? err : new MusterError('INVALID_STATE', (err as Error).message, { name, state: null });
    });
    return this.#view(name, b);
  }

  endpoints(): IccpEndpointView[] {
    return [...this.#bound].map(([name, b]) => this.#view(name, b)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  exited(name: string, text: string): LifecycleState | null {
    const m = this.#components.exited(name, text);
    return (m?.lifecycle?.state ?? null) as LifecycleState | null;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#components.stopping();
    for (const b of this.#bound.values()) b.endpoint.close('hub shutting down');
    this.#bound.clear();
    this.#removeDialect();
    this.#metrics.close();
  }

  async #bind(name: string, addresses: readonly string[], origin: Bound['origin']): Promise<Bound> {
    let last: unknown = new Error('no address to bind');
    for (const address of addresses) {
      try {
        const endpoint = await PairEndpoint.bind(name, address, this.#components, { maxFrameBytes: this.#maxFrameBytes });
        if (this.#stopped) {
          endpoint.close('hub shutting down');
          throw new MusterError('SHUTTING_DOWN');
        }
        const b = { endpoint, origin, since: Date.now() };
        this.#bound.set(name, b);
        this.#log.debug({ name, endpoint: endpoint.url, origin }, 'ICCP endpoint bound');
        return b;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /** A member waits for READY from the moment its endpoint is handed out, so a start that fails (or a process exit) shows in its lifecycle. */
  async #precreate(name: string, endpoint: string): Promise<void> {
    const m = this.#components.newMember(name, endpoint, { face: 'iccp', endpoint });
    await this.#hub.registry.add(m);
    this.#hub.control.adopt(m, false);
  }

  #view(name: string, b: Bound): IccpEndpointView {
    const r = this.#components.record(name);
    return {
      name, endpoint: b.endpoint.url, origin: b.origin, connected: b.endpoint.connected, sessions: r.sessions,
      lastMessage: r.lastMessage, lastError: r.lastError, since: b.since,
    };
  }
}
