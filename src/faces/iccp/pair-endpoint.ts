/**
 * One bound ZeroMQ PAIR socket: the control channel of one component, as Saturnin's controller
 * binds it (queue limits of 5, immediate mode). A PAIR talks to one peer at a time, so the socket
 * is the session: a session starts with the peer's handshake (or its first message) and ends when
 * the peer disconnects, after the messages it sent last are read. `rearm` closes the socket and
 * binds the same address again, which drops whatever peer holds it (a failed session).
 */
import * as zmq from 'zeromq';
import { isIpv6 } from './bind-spec.js';

/** ZMTP handshake and heartbeats: a vanished peer is noticed even without a TCP reset. */
const HANDSHAKE_MS = 10_000;
const HEARTBEAT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 15_000;
/** Saturnin's own queue limits on the control channel. */
const QUEUE = 5;
/** After a disconnect, messages already read are still the old session's for this long. */
const DRAIN_MS = 25;
const REBIND_TRIES = 40;
const REBIND_WAIT_MS = 25;

export interface EndpointEvents {
  sessionStarted(endpoint: PairEndpoint, session: number): void;
  message(endpoint: PairEndpoint, session: number, frames: Buffer[]): void;
  sessionEnded(endpoint: PairEndpoint, session: number, reason: string): void;
}

export interface PairOptions {
  /** Frames longer than this are read (and refused by the codec) up to 4x; past that libzmq drops the peer. */
  maxFrameBytes: number;
}

export class PairEndpoint {
  readonly name: string;
  /** The address as bound (a `*` port resolved). */
  readonly url: string;
  readonly #events: EndpointEvents;
  readonly #options: PairOptions;
  #socket: zmq.Pair;
  #session = 0;
  #active = false;
  #drain: NodeJS.Timeout | null = null;
  #sendTail: Promise<void> = Promise.resolve();
  #pending = 0;
  #closed = false;

  private constructor(name: string, url: string, socket: zmq.Pair, events: EndpointEvents, options: PairOptions) {
    this.name = name;
    this.url = url;
    this.#socket = socket;
    this.#events = events;
    this.#options = options;
    this.#run(socket);
  }

  /** Binds `address` (a `*` port is picked by the system); rejects when it cannot. */
  static async bind(name: string, address: string, events: EndpointEvents, options: PairOptions): Promise<PairEndpoint> {
    const socket = await bindSocket(address, options);
    return new PairEndpoint(name, socket.lastEndpoint ?? address, socket, events, options);
  }

  get connected(): boolean {
    return this.#active;
  }

  get session(): number {
    return this.#session;
  }

  /** Frames waiting to be written. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Queues one message to the peer of `session`; false when that session is over or the queue is
   * full. Never blocks: a peer that does not read within Saturnin's queue limit loses the message.
   */
  send(session: number, frames: Buffer[], onFailed: (err: Error) => void): boolean {
    if (this.#closed || session !== this.#session || !this.#active || this.#pending >= QUEUE) return false;
    this.#pending++;
    const socket = this.#socket;
    this.#sendTail = this.#sendTail.then(() => socket.send(frames)).then(
      () => { this.#pending--; },
      (err: unknown) => { this.#pending--; if (!socket.closed) onFailed(err as Error); },
    );
    return true;
  }

  /** Ends the current session and binds the address again: the peer holding it is dropped. */
  async rearm(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#end(reason);
    // Closing the socket ends its observer too; closing the observer first stalls other zeromq sockets of the process (zeromq 6).
    this.#socket.close();
    const socket = await bindSocket(this.url, this.#options, REBIND_TRIES);
    if (this.#closed) {
      socket.close();
      return;
    }
    this.#socket = socket;
    this.#sendTail = Promise.resolve();
    this.#pending = 0;
    this.#run(socket);
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#end(reason);
    this.#closed = true;
    this.#socket.close();
  }

  #run(socket: zmq.Pair): void {
    void this.#receive(socket);
    void this.#watch(socket);
  }

  async #receive(socket: zmq.Pair): Promise<void> {
    try {
      for await (const frames of socket) {
        if (socket !== this.#socket) return;
        if (!this.#active) this.#start();
        this.#events.message(this, this.#session, frames);
      }
    } catch {
      // The socket closed under the loop (rearm, stop).
    }
  }

  async #watch(socket: zmq.Pair): Promise<void> {
    try {
      for await (const event of socket.events) {
        if (socket !== this.#socket) return;
        if (event.type === 'handshake') {
          // A new peer while the last one drains: the last one's session is over.
          if (this.#drain) this.#end('the peer disconnected');
          if (!this.#active) this.#start();
        } else if (event.type === 'disconnect' && this.#active && !this.#drain) {
          this.#drain = setTimeout(() => this.#end('the peer disconnected'), DRAIN_MS);
        }
      }
    } catch {
      // The observer ends with the socket.
    }
  }

  #start(): void {
    this.#session++;
    this.#active = true;
    this.#events.sessionStarted(this, this.#session);
  }

  #end(reason: string): void {
    if (this.#drain) clearTimeout(this.#drain);
    this.#drain = null;
    if (!this.#active) return;
    this.#active = false;
    this.#events.sessionEnded(this, this.#session, reason);
  }
}

async function bindSocket(address: string, options: PairOptions, tries = 1): Promise<zmq.Pair> {
  for (let i = 1; ; i++) {
    const socket = new zmq.Pair({
      linger: 0, immediate: true, sendHighWaterMark: QUEUE, receiveHighWaterMark: QUEUE, sendTimeout: 0, ipv6: isIpv6(address),
      maxMessageSize: options.maxFrameBytes * 4 + 1024, handshakeInterval: HANDSHAKE_MS, heartbeatInterval: HEARTBEAT_MS, heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
    });
    try {
      await socket.bind(address);
      return socket;
    } catch (err) {
      socket.close();
      if (i >= tries) throw new Error(`iccp: cannot bind ${address}: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, REBIND_WAIT_MS));
    }
  }
}
