/**
 * One RSB participant's connection to the hub's bus server, as the core sees it (core/ports.ts):
 * its member is bound to it, bus messages are handed to it and leave as RSB frames (the codec
 * encodes each message once for every RSB receiver), and a native member may ask it an RSB
 * method by name (`bus.request` to the member, method `/server/scope/method`).
 */
import { randomUUID } from 'node:crypto';
import type { BusPayload } from '../../core/bus/message.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import { MusterError } from '../../errors.js';
import type { RsbCodec } from './codec.js';
import type { FrameTarget, RsbCalls } from './rpc.js';
import type { RsbSocket } from './socket-io.js';

export class RsbConnection implements Connection, FrameTarget {
  readonly id = randomUUID();
  readonly face = 'rsb';
  readonly #socket: RsbSocket;
  readonly #codec: RsbCodec;
  readonly #calls: RsbCalls;
  #listeners: ((reason: string) => void)[] = [];

  constructor(socket: RsbSocket, codec: RsbCodec, calls: RsbCalls) {
    this.#socket = socket;
    this.#codec = codec;
    this.#calls = calls;
  }

  get remote(): string {
    return this.#socket.remote;
  }

  get open(): boolean {
    return this.#socket.open;
  }

  get backlog(): Backlog {
    return this.#socket.backlog;
  }

  /** Bus messages only: RSB has no frame for watch events, lifecycle commands or throttling notices. */
  deliver(out: Outbound): boolean {
    if (out.type !== 'bus') return false;
    return this.#socket.queue(out.encoded(this.#codec));
  }

  queueFrame(frame: Buffer): boolean {
    return this.#socket.queue(frame);
  }

  request(req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    if (!this.open) return Promise.reject(new MusterError('MEMBER_GONE', 'The RSB participant has disconnected'));
    return this.#calls.ask([this], req.method, req.payload, req.from, timeoutMs);
  }

  close(reason: string): void {
    this.#socket.end('closedByHub', reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Called once by the face when the socket is gone: open calls to it fail, listeners hear why. */
  closed(reason: string): void {
    this.#calls.closed(this);
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l(reason);
  }
}
