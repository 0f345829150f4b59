/**
 * The member `rsb`: how a native member calls an RSB server's method without knowing which RSB
 * participant serves it. `bus.request` (or `muster request`) to `rsb`, method
 * `/server/scope/method`, params as usual: the REQUEST goes to every RSB link, as RSB's own
 * RemoteServer sends it to the whole bus, and the first REPLY naming it answers. A `bus.send` to
 * `rsb` reaches every RSB link.
 */
import { randomUUID } from 'node:crypto';
import type { BusPayload } from '../../core/bus/message.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import type { RsbCodec } from './codec.js';
import type { FrameTarget, RsbCalls } from './rpc.js';

export const GATEWAY = { name: 'rsb', type: 'rsb-gateway' } as const;

export class RsbGateway implements Connection {
  readonly id = randomUUID();
  readonly face = 'rsb';
  readonly backlog: Backlog = { messages: 0, bytes: 0 };
  readonly #calls: RsbCalls;
  readonly #codec: RsbCodec;
  readonly #targets: () => readonly FrameTarget[];
  #open = true;
  #listeners: ((reason: string) => void)[] = [];

  constructor(calls: RsbCalls, codec: RsbCodec, targets: () => readonly FrameTarget[]) {
    this.#calls = calls;
    this.#codec = codec;
    this.#targets = targets;
  }

  get open(): boolean {
    return this.#open;
  }

  /**
   * A send to `rsb` goes to every RSB link as an event on `/muster/send/`. A broadcast is taken
   * and not passed on: every RSB link is a connection of its own and gets it itself.
   */
  deliver(out: Outbound): boolean {
    if (out.type !== 'bus' || !this.#open) return false;
    if (out.kind !== 'send') return out.kind === 'broadcast';
    let taken = false;
    for (const t of this.#targets()) if (t.open && t.queueFrame(out.encoded(this.#codec))) taken = true;
    return taken;
  }

  request(req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    return this.#calls.ask(this.#targets(), req.method, req.payload, req.from, timeoutMs);
  }

  close(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l(reason);
  }

  onClose(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }
}
