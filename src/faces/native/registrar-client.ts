/**
 * The child's side of the link to its registrar (parent hub): connects to the parent's /v1/ws,
 * registers with hub.register, and keeps the link: the connection monitor asks hub.check every
 * interval and registers again when the parent lost this hub's record (it restarted with an
 * empty store, say); a dropped link is retried with backoff while this hub keeps serving.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ConnectionClosedError, MusterClientError, TimeoutError } from '../../client/errors.js';
import { RpcConnection } from '../../client/rpc-connection.js';
import { defaultWebSocketFactory, socketUrl } from '../../client/transport.js';
import type { Federation } from '../../core/federation/federation.js';
import type { BusPayload } from '../../core/bus/message.js';
import type { Backlog, HubLink, Outbound } from '../../core/ports.js';
import type { Registry } from '../../core/registry/registry.js';
import { isErrorCode, MusterError, PeerError } from '../../errors.js';
import { notificationOf } from './bus-codec.js';
import type { LinkCheck } from '../../schemas/admin.js';
import { ForwardParams, HubHello, HubPublish, InterestParams } from '../../schemas/federation.js';
import { validate } from '../../schemas/validate.js';
import { VERSION } from '../../version.js';

export interface RegistrarClientOptions {
  url: string;
  token: string;
  monitorMs: number;
  /** Unsent bytes past which tree-wide publications to the registrar are dropped (counted). */
  queueBytes: number;
  log: Logger;
}

const FIRST_RETRY_MS = 100;
const CALL_TIMEOUT_MS = 5_000;

export class RegistrarClient implements HubLink {
  readonly id = `registrar-${randomUUID()}`;
  readonly face = 'hub-link';
  #closeListeners: ((reason: string) => void)[] = [];
  readonly #fed: Federation;
  readonly #registry: Registry;
  readonly #o: RegistrarClientOptions;
  #conn: RpcConnection | null = null;
  #registered = false;
  #retryMs = FIRST_RETRY_MS;
  #retryTimer: NodeJS.Timeout | null = null;
  #monitor: NodeJS.Timeout | null = null;
  #stopped = false;
  #lastError = '';

  constructor(federation: Federation, registry: Registry, options: RegistrarClientOptions) {
    this.#fed = federation;
    this.#registry = registry;
    this.#o = options;
  }

  get open(): boolean {
    return this.#registered && !!this.#conn?.open;
  }

  get backlog(): Backlog {
    return { messages: this.#conn?.pendingCount ?? 0, bytes: this.#conn?.bufferedAmount ?? 0 };
  }

  /** Why the last attempt failed ('' while registered). */
  get lastError(): string {
    return this.#lastError;
  }

  start(): void {
    void this.#connect();
    this.#monitor = setInterval(() => void this.#check(Math.min(CALL_TIMEOUT_MS, this.#o.monitorMs)), this.#o.monitorMs);
    this.#monitor.unref();
  }

  /** Stops the monitor; with `deregister`, removes this hub from the registrar first. */
  async stop(deregister: boolean): Promise<void> {
    this.#stopped = true;
    if (this.#monitor) clearInterval(this.#monitor);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    const conn = this.#conn;
    if (deregister && this.open && conn) {
      await conn.call('hub.deregister', {}, 2_000).catch((err: unknown) => this.#o.log.warn({ err }, 'could not deregister from the registrar'));
      await this.#fed.deregistered().catch(() => {});
    }
    this.#registered = false;
    this.#fed.registrarDown(this);
    await conn?.close(1001, 'hub shutting down');
  }

  // HubLink: the registrar's record is bound to this link; tree-wide traffic goes through it.
  async call(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    const conn = this.#conn;
    if (!conn || !this.open) throw new MusterError('HUB_UNREACHABLE', 'The registrar is not connected');
    try {
      return await conn.call(method, params, timeoutMs);
    } catch (err) {
      throw asPeerError(err);
    }
  }

  /** Publications and interest go to the registrar as notifications; past the link's bound they are dropped. */
  deliver(out: Outbound): boolean {
    const conn = this.#conn;
    if (!conn || !this.open || out.type === 'bus') return false;
    if (out.type === 'tree-publish' && conn.bufferedAmount > this.#o.queueBytes) return false;
    const n = notificationOf(out);
    conn.notify(n.method, n.params);
    return true;
  }

  request(): Promise<BusPayload> {
    return Promise.reject(new MusterError('NOT_CONNECTED', 'The registrar is a hub: ask its members with hub/name'));
  }

  close(reason: string): void {
    this.#conn?.abort(reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.#closeListeners.push(listener);
  }

  async #connect(): Promise<void> {
    this.#retryTimer = null;
    if (this.#stopped) return;
    let conn: RpcConnection | null = null;
    try {
      const factory = await defaultWebSocketFactory();
      const opened = await RpcConnection.open(factory, socketUrl(this.#o.url), {
        notification: (method, params) => this.#notification(method, params),
        request: (method, params) => this.#request(method, params),
        closed: (reason) => this.#down(opened, reason),
      }, CALL_TIMEOUT_MS);
      conn = opened;
      if (this.#stopped) { await conn.close(); return; }
      this.#conn = conn;
      await this.#register(conn);
    } catch (err) {
      this.#failed(err, conn);
    }
  }

  /** hub.register, in the federation's queue: the descendant list is taken when the call is made. */
  async #register(conn: RpcConnection): Promise<void> {
    await this.#fed.registerUp(this, this.#o.token, async (params) => {
      const hello = validate(HubHello, await conn.call('hub.register', { ...params, version: VERSION }, CALL_TIMEOUT_MS), 'hub.register result');
      this.#registered = true;
      this.#retryMs = FIRST_RETRY_MS;
      this.#lastError = '';
      return hello;
    });
  }

  /** A refused or failed attempt on `conn` (null: it never opened): log it (once per distinct reason) and try again later. */
  #failed(err: unknown, conn: RpcConnection | null): void {
    const text = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    if (text !== this.#lastError) this.#o.log.warn({ registrar: this.#o.url, code, err: text }, 'registering with the registrar failed; retrying');
    this.#lastError = text;
    // A registration waits its turn in the federation's queue: its link may have dropped meanwhile,
    // and the drop already set off the next attempt, which must not be aborted here.
    if (conn !== null && this.#conn !== conn) return;
    this.#conn = null;
    this.#registered = false;
    if (conn) conn.abort('registration failed');
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped || this.#retryTimer) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, this.#o.monitorMs);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }

  #down(conn: RpcConnection, reason: string): void {
    if (this.#conn !== conn) return;
    const was = this.#registered;
    this.#conn = null;
    this.#registered = false;
    this.#fed.registrarDown(this);
    this.#registry.connectionClosed(this);
    const listeners = this.#closeListeners;
    this.#closeListeners = [];
    for (const l of listeners) l(reason);
    if (was) this.#o.log.warn({ registrar: this.#o.url, reason }, 'lost the registrar; retrying');
    this.#retry();
  }

  /** The connection monitor's check now (admin.checkLinks); a link that is down waiting for its retry is tried at once. */
  async checkNow(timeoutMs: number): Promise<LinkCheck> {
    if (!this.#stopped && !this.#conn && this.#retryTimer) {
      clearTimeout(this.#retryTimer);
      await this.#connect();
    }
    return this.#check(timeoutMs);
  }

  /** The connection monitor: is this hub still known there? If not, register again. */
  async #check(timeoutMs: number): Promise<LinkCheck> {
    const conn = this.#conn;
    const base = { hubId: this.#fed.registrarId, role: 'registrar' as const, address: this.#o.url };
    if (this.#stopped || !conn || !this.#registered) return { ...base, status: 'suspect', error: this.#lastError || 'not connected: retrying' };
    const start = performance.now();
    const rtt = () => Math.round((performance.now() - start) * 10) / 10;
    try {
      const r = await conn.call('hub.check', { hubId: this.#fed.hubId, instance: this.#fed.instance }, timeoutMs);
      const rttMs = rtt();
      if ((r as { known?: unknown }).known === true) {
        await this.#fed.keepRegistrarRecord(this).catch(() => {});
        return { ...base, status: 'ok', rttMs };
      }
      this.#o.log.warn({ registrar: this.#o.url }, 'the registrar lost this hub; registering again');
      await this.#register(conn);
      return { ...base, status: 'ok', rttMs, note: 'the registrar had lost this hub: registered again' };
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (err instanceof TimeoutError && err.rpcCode === undefined) {
        conn.abort('the registrar stopped answering');
        return { ...base, status: 'lost', error: `no answer to hub.check within ${timeoutMs} ms: link dropped, registering again` };
      }
      if (this.#conn === conn) this.#failed(err, conn);
      return { ...base, status: 'lost', error: text };
    }
  }

  #notification(method: string, params: unknown): void {
    try {
      if (method === 'hub.interest') this.#fed.declareInterest(this, validate(InterestParams, params, 'hub.interest').scopes);
      else if (method === 'hub.publish') this.#fed.published(this, validate(HubPublish, params, 'hub.publish'));
    } catch (err) {
      this.#o.log.debug({ err, method }, 'bad notification from the registrar');
    }
  }

  async #request(method: string, params: unknown): Promise<unknown> {
    if (method === 'hub.ping') return this.#fed.hello();
    if (method === 'hub.forward') {
      const p = validate(ForwardParams, params, 'hub.forward');
      return this.#fed.forward(p.to, p.op, p.params, this, p.hops);
    }
    if (method === 'hub.tree') return this.#fed.tree(true);
    throw new MusterError('METHOD_NOT_FOUND', `No method ${method} on a child hub`);
  }
}

/**
 * The registrar's answer as the federation reads every link's: its own error as a PeerError
 * (its code kept), a link that did not answer as HUB_UNREACHABLE.
 */
function asPeerError(err: unknown): Error {
  if (err instanceof ConnectionClosedError || (err instanceof TimeoutError && err.rpcCode === undefined)) {
    return new MusterError('HUB_UNREACHABLE', `The registrar did not answer: ${err.message}`);
  }
  if (err instanceof MusterClientError && isErrorCode(err.code)) {
    return new PeerError({ code: err.rpcCode ?? -32000, message: err.message, data: { code: err.code, details: err.details } });
  }
  return new MusterError('HUB_UNREACHABLE', `The registrar did not answer: ${err instanceof Error ? err.message : String(err)}`);
}
