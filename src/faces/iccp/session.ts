/**
 * One session on an ICCP endpoint as the core sees it: a Connection that carries lifecycle
 * commands (REQUEST/CONF and STOP frames) and nothing else. Saturnin components have no bus:
 * bus messages are not taken, bus requests answer NOT_CONNECTED.
 */
import { MusterError } from '../../errors.js';
import type { BusPayload } from '../../core/bus/message.js';
import type { Backlog, BusRequest, Connection, Outbound } from '../../core/ports.js';
import { encodeRequest, encodeStop } from './codec.js';
import { toConfigProto } from './config-map.js';
import type { PairEndpoint } from './pair-endpoint.js';

export class IccpSession implements Connection {
  readonly id: string;
  readonly face = 'iccp';
  readonly endpoint: PairEndpoint;
  readonly number: number;
  /** READY came in this session. */
  readySeen = false;
  /** The last message the component sent in this session, as the history quotes it. */
  last: string | null = null;
  readonly #onSendFailed: (session: IccpSession, err: Error) => void;
  readonly #listeners: ((reason: string) => void)[] = [];
  #open = true;

  constructor(endpoint: PairEndpoint, number: number, onSendFailed: (session: IccpSession, err: Error) => void) {
    this.endpoint = endpoint;
    this.number = number;
    this.id = `iccp:${endpoint.name}:${number}`;
    this.#onSendFailed = onSendFailed;
  }

  get open(): boolean {
    return this.#open;
  }

  get backlog(): Backlog {
    return { messages: this.endpoint.pending, bytes: 0 };
  }

  deliver(out: Outbound): boolean {
    if (!this.#open || out.type !== 'command') return false;
    const c = out.command;
    // The config was checked by the dialect before the call opened; this cannot throw for it.
    const frames = c.type === 'configure' ? encodeRequest(toConfigProto(c.config)) : encodeStop();
    const taken = this.endpoint.send(this.number, frames, (err) => this.#onSendFailed(this, err));
    if (!taken) this.#onSendFailed(this, new Error('its control channel is gone or full'));
    return taken;
  }

  request(_req: BusRequest, _timeoutMs: number): Promise<BusPayload> {
    return Promise.reject(new MusterError('NOT_CONNECTED', 'Saturnin components take lifecycle commands only, not bus requests'));
  }

  /** Ends the session: the endpoint drops the peer and waits for a new one. */
  close(reason: string): void {
    if (!this.#open) return;
    void this.endpoint.rearm(reason).catch(() => {});
  }

  onClose(listener: (reason: string) => void): void {
    if (!this.#open) listener('closed');
    else this.#listeners.push(listener);
  }

  /** The endpoint saw the session end. */
  ended(reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    for (const l of this.#listeners.splice(0)) l(reason);
  }
}
