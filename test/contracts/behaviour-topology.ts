/**
 * What the behaviour suites (behaviour-registry.ts, behaviour-watch.ts, behaviour-bus.ts) run on:
 * a topology of hubs, one hub or the hubs of a cluster, reached only as a client reaches them
 * (the SDK, the WebSocket API, HTTP). A test spreads its clients over the hubs with `hub(i)`: on
 * one hub every index is that hub; in a cluster index 0, 1, 2 are three different hubs, so a
 * publisher and its subscriber, a watcher and the change it sees, sit on different processes.
 *
 * What may differ between topologies is only what a cluster cannot promise at once: a change made
 * at one hub is seen at another a moment later (`until`), and a subscription made at one hub is in
 * force at another once the hubs have heard of it (`inForce`). Everything asserted after that is
 * the same in both.
 */
import { after, afterEach, before } from 'node:test';
import { bus, connect, type BusMessage, type ConnectOptions, type MusterClient } from '../../src/client/index.js';
import type { HubConfig } from '../../src/config.js';
import { ADMIN_TOKEN } from '../support/hub.js';
import { RpcPeer } from '../support/rpc.js';

export interface HubEnds {
  /** The hub's id, as member views name it (`hub`). */
  id: string;
  url: string;
  wsUrl: string;
}

export interface Topology {
  readonly hubs: readonly HubEnds[];
  stop(): Promise<void>;
}

export interface TopologyFactory {
  /** 'single' or 'cluster'; test names carry it. */
  name: string;
  start(config: Partial<HubConfig>): Promise<Topology>;
}

/** One config for every behaviour suite, so one topology serves them all. */
export const BEHAVIOUR_CONFIG: Partial<HubConfig> = {
  eventRetention: 100,
  graceMs: 1_000,
  busQueueBytes: 256 * 1024,
  busQueueMessages: 5_000,
  busSlowPolicy: 'drop',
  busRateLimits: {
    '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 },
    limited: { messagesPerSec: 5, bytesPerSec: 0, burstSec: 1 },
  },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a behaviour test works with: the hubs, clients spread over them, and waiting helpers. */
export class Behaviour {
  readonly #factory: TopologyFactory;
  #topology: Topology | null = null;
  readonly #clients: MusterClient[] = [];
  readonly #peers: RpcPeer[] = [];
  readonly #cleanups: (() => Promise<void> | void)[] = [];

  constructor(factory: TopologyFactory) {
    this.#factory = factory;
  }

  get name(): string {
    return this.#factory.name;
  }

  /** Starts the topology before the file's tests and stops it after; closes each test's clients after it. */
  install(): void {
    before(async () => { this.#topology = await this.#factory.start(BEHAVIOUR_CONFIG); });
    afterEach(async () => {
      for (const c of this.#cleanups.splice(0).reverse()) await c();
      await Promise.all(this.#clients.splice(0).map((c) => c.close().catch(() => {})));
      await Promise.all(this.#peers.splice(0).map((p) => { p.ws.terminate(); return p.close(); }));
    });
    after(async () => { await this.#topology?.stop(); });
  }

  get hubs(): readonly HubEnds[] {
    if (!this.#topology) throw new Error('the topology is not started');
    return this.#topology.hubs;
  }

  /** The hub for a test's i-th client: always the same one on one hub, a different one per index in a cluster. */
  hub(i: number): HubEnds {
    return this.hubs[i % this.hubs.length]!;
  }

  /** An SDK client of hub(i), closed after the test. */
  async client(i: number, options: Partial<ConnectOptions> = {}): Promise<MusterClient> {
    const c = await connect({ url: this.hub(i).url, reconnect: { initialDelayMs: 50, maxDelayMs: 300 }, ...options });
    this.#clients.push(c);
    return c;
  }

  /** An SDK client of hub(i) with a session member registered on it. */
  async member(i: number, name: string, type = 'svc'): Promise<MusterClient> {
    const c = await this.client(i);
    await c.register({ name, type, liveness: 'session', exclusive: true });
    return c;
  }

  /** A bare JSON-RPC peer of hub(i), closed after the test. */
  async peer(i: number): Promise<RpcPeer> {
    const p = await RpcPeer.connect(this.hub(i).wsUrl);
    this.#peers.push(p);
    return p;
  }

  /** Runs after the test, before its clients close (a proxy, a server). */
  cleanup(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  /** An HTTP call to hub(i); `token` goes as the bearer (default none). */
  async http(i: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(this.hub(i).url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  admin(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    return this.http(i, method, path, body, ADMIN_TOKEN);
  }

  /** Polls until `what` gives a value (not undefined/false/null); generous, for a loaded machine. */
  async until<T>(label: string, what: () => Promise<T | undefined | false | null> | T | undefined | false | null, ms = 15_000): Promise<T> {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
      try {
        const v = await what();
        if (v !== undefined && v !== false && v !== null) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`${this.name}: not within ${ms} ms: ${label}${last ? ` (last error: ${String(last)})` : ''}`);
      await sleep(20);
    }
  }

  /**
   * Waits until a subscription made elsewhere is in force at the publisher's hub: publishes probes
   * on `scope` until `received()` holds one. The suites leave probes out of what they count.
   */
  async inForce(publisher: MusterClient, scope: string, received: () => readonly BusMessage[]): Promise<void> {
    await this.until(`a subscription to ${scope} in force at the publisher's hub`, async () => {
      await bus(publisher).publish(scope, PROBE);
      return received().some(isProbe) || (await sleep(30), received().some(isProbe));
    });
  }
}

export const PROBE = { probe: true };
export const isProbe = (m: BusMessage): boolean => typeof m.data === 'object' && m.data !== null && (m.data as { probe?: unknown }).probe === true;

/** The code of a rejection (an SDK error or a MusterError), or 'no error'. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** The rejection itself (fails when there is none). */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}
