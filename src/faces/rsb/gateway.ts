/**
 * The member `rsb`: how a native member calls an RSB server's method without knowing which RSB
 * participant serves it. `bus.request` (or `muster request`) to `rsb`, method
 * `/server/scope/method`, params as usual: the REQUEST goes to every RSB link, as RSB's own
 * RemoteServer sends it to the whole bus, and the first REPLY naming it answers.
 */
import { randomUUID } from 'node:crypto';
import type { BusPayload } from '../../core/bus/message.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import type { FrameTarget, RsbCalls } from './rpc.js';

export const GATEWAY = { name: 'rsb', type: 'rsb-gateway' } as const;

export class RsbGateway implements Connection {
  readonly id = randomUUID();
  readonly face = 'rsb';
  readonly backlog: Backlog = { messages: 0, bytes: 0 };
  readonly #calls: RsbCalls;
  readonly #targets: () => readonly FrameTarget[];
  #open = true;
  #listeners: ((reason: string) => void)[] = [];

  constructor(calls: RsbCalls, targets: () => readonly FrameTarget[]) {
    this.#calls = calls;
    this.#targets = targets;
  }

  get open(): boolean {
    return this.#open;
  }

  /** Takes no bus messages: it is an address for calls, not a listener (RSB links get publications themselves). */
  deliver(out: Outbound): boolean {
    void out;
    return false;
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
