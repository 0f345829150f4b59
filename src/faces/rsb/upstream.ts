/**
 * `--rsb-connect HOST:PORT`: the hub as a client of an existing RSB bus server (rsb-python's
 * `server=auto` starts one in the first process). The client side of the handshake (read the 4
 * zero bytes, send nothing), then frames both ways, bridged like any RSB link: the server's
 * events are publications of the member `rsb-upstream-N`, so they never go back to it. The link
 * reconnects with backoff; its member stays (suspect while the server is away) and its bus
 * subscriptions with it.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { BusPayload } from '../../core/bus/message.js';
import type { Sender } from '../../core/bus/relay.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import type { Member } from '../../core/registry/registry.js';
import { MusterError } from '../../errors.js';
import type { RsbBridge } from './bridge.js';
import type { RsbCodec } from './codec.js';
import { HANDSHAKE, PREFIX_BYTES } from './framing.js';
import { parseHostPort, type HostPort } from '../host-port.js';
import type { RsbParticipants } from './participants.js';
import type { FrameTarget, RsbCalls } from './rpc.js';
import { RsbSocket, type EndKind, type SocketLimits } from './socket-io.js';

export const UPSTREAM_TYPE = 'rsb-upstream';
const BACKOFF = { firstMs: 250, maxMs: 30_000 } as const;
/** Connecting and reading the handshake must each finish within this. */
const CONNECT_TIMEOUT_MS = 10_000;
/** The member survives this long without its server (the registry's longest session grace). */
const UPSTREAM_GRACE_MS = 3_600_000;

export interface UpstreamDeps {
  limits: SocketLimits;
  codec: RsbCodec;
  calls: RsbCalls;
  bridge: RsbBridge;
  participants: RsbParticipants;
  log: Logger;
  onEnd(kind: EndKind, detail: string): void;
}

export class RsbUpstream implements Connection, FrameTarget {
  readonly id = randomUUID();
  readonly face = 'rsb';
  readonly #target: HostPort;
  readonly #spec: string;
  readonly #deps: UpstreamDeps;
  #io: RsbSocket | null = null;
  #joined: { member: Member; sender: Sender } | null = null;
  #stopped = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #listeners: ((reason: string) => void)[] = [];
  /** Handshakes completed (1 + reconnections). */
  connects = 0;

  constructor(spec: string, deps: UpstreamDeps) {
    this.#spec = spec;
    this.#target = parseHostPort(spec, '127.0.0.1', 'RSB', 55555);
    if (this.#target.host === '') throw new Error(`RSB: ${JSON.stringify(spec)} is not [HOST:]PORT`);
    this.#deps = deps;
  }

  get open(): boolean {
    return this.#io?.open ?? false;
  }

  get backlog(): Backlog {
    return this.#io?.backlog ?? { messages: 0, bytes: 0 };
  }

  start(): void {
    this.#dial();
  }

  deliver(out: Outbound): boolean {
    if (out.type !== 'bus' || !this.#io) return false;
    return this.#io.queue(out.encoded(this.#deps.codec));
  }

  queueFrame(frame: Buffer): boolean {
    return this.#io?.queue(frame) ?? false;
  }

  request(req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    if (!this.open) return Promise.reject(new MusterError('NOT_CONNECTED', `The RSB bus server ${this.#spec} is not connected`));
    return this.#deps.calls.ask([this], req.method, req.payload, req.from, timeoutMs);
  }

  close(reason: string): void {
    void this.stop(reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }

  async stop(reason = 'hub shutting down'): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#io?.end('closedByHub');
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l(reason);
    if (this.#joined) this.#deps.participants.leave(this, this.#joined.member, true);
    await this.#deps.participants.settled();
  }

  #dial(): void {
    if (this.#stopped) return;
    const socket = connect({ host: this.#target.host, port: this.#target.port, noDelay: true });
    let got = Buffer.alloc(0);
    let failed = false;
    const fail = (detail: string, kind: EndKind = 'reset') => {
      if (failed) return;
      failed = true;
      socket.destroy();
      this.#deps.onEnd(kind, detail);
      this.#retry();
    };
    const timer = setTimeout(() => fail(`no handshake within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < PREFIX_BYTES) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onEarlyClose);
      if (!got.subarray(0, PREFIX_BYTES).equals(HANDSHAKE)) { fail(`got ${got.subarray(0, 4).toString('hex')}`, 'badHandshake'); return; }
      this.#connected(socket, got.subarray(PREFIX_BYTES));
    };
    const onError = (err: NodeJS.ErrnoException) => { clearTimeout(timer); fail(err.code ?? err.message); };
    const onEarlyClose = () => { clearTimeout(timer); fail('closed before the handshake'); };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onEarlyClose);
  }

  #connected(socket: Socket, rest: Buffer): void {
    if (this.#stopped) { socket.destroy(); return; }
    const io = new RsbSocket(socket, this.#deps.limits);
    this.#io = io;
    this.#attempt = 0;
    this.connects++;
    const joined = this.#join();
    this.#deps.log.info({ server: this.#spec, member: joined?.member.name }, 'joined the RSB bus server');
    io.start({
      frame: (frame, n) => {
        if (!joined) return;
        const refused = this.#deps.bridge.inbound(joined.sender, frame, n);
        if (refused !== null) io.end('badScope', refused);
      },
      ended: (kind, detail) => {
        if (this.#io === io) this.#io = null;
        this.#deps.calls.closed(this);
        this.#deps.participants.leave(this, null, false);
        if (this.#stopped) return;
        this.#deps.onEnd(kind, detail);
        this.#deps.log.warn({ server: this.#spec, reason: kind, detail }, 'RSB bus server link lost; reconnecting');
        this.#retry();
      },
    }, rest);
  }

  /** The member: registered on the first connect, resumed on the next ones (registered anew if it lapsed meanwhile). */
  #join(): { member: Member; sender: Sender } | null {
    const registry = this.#deps.participants.registry;
    if (this.#joined && registry.find(this.#joined.member.id) === this.#joined.member) {
      void registry.resume(this.#joined.member, this).catch(() => {});
      return this.#joined;
    }
    const j = this.#deps.participants.join(this, UPSTREAM_TYPE, `${this.#target.host}:${this.#target.port}`, () => {}, {
      graceMs: UPSTREAM_GRACE_MS, subscribe: this.#joined === null,
    });
    this.#joined = typeof j === 'string' ? null : j;
    return this.#joined;
  }

  #retry(): void {
    if (this.#stopped || this.#timer) return;
    const delay = Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** this.#attempt++) * (0.75 + Math.random() * 0.5);
    this.#timer = setTimeout(() => { this.#timer = null; this.#dial(); }, delay);
    this.#timer.unref();
  }
}
