/**
 * RSB events onto the bus: a Notification on `/a/b/` is a publication on `/a/b/` by the member
 * of the connection it came on. The relay does the rest (admission: the member's rate limit;
 * routing: native subscribers of `/a/` and every other RSB link, never the sender; fan-out with
 * each receiver's bound). The frame rides with the payload so RSB receivers get its exact bytes.
 */
import type { Logger } from 'pino';
import type { Relay, Sender } from '../../core/bus/relay.js';
import { parseScope, type Scope } from '../../core/bus/scope.js';
import type { Times } from '../../core/bus/message.js';
import { MusterError } from '../../errors.js';
import { RsbMeta } from './codec.js';
import type { Notification } from './notification.js';
import type { RsbCalls } from './rpc.js';
import { payloadFromRsb } from './wire-schema.js';

export class RsbBridge {
  readonly #relay: Relay;
  readonly #calls: RsbCalls;
  readonly #log: Logger;
  /** Events a sender's rate limit refused (RSB has no way to tell the sender). */
  throttled = 0;

  constructor(relay: Relay, calls: RsbCalls, log: Logger) {
    this.#relay = relay;
    this.#calls = calls;
    this.#log = log;
  }

  /** One event from an RSB link; returns a refusal's detail when its scope is not a scope, else null. */
  inbound(sender: Sender, frame: Buffer, n: Notification): string | null {
    let scope: Scope;
    try {
      scope = parseScope(n.scope);
    } catch {
      return `scope ${JSON.stringify(n.scope.slice(0, 80))}`;
    }
    // A reply to one of the hub's own calls answers it, and travels on like any event.
    this.#calls.observe(n);
    const payload = payloadFromRsb(n.wireSchema, n.data, new RsbMeta(n.wireSchema, frame));
    const times: Times = n.metaData ? { created: n.metaData.createTime, sent: n.metaData.sendTime } : {};
    try {
      this.#relay.publish(sender, scope, payload, times);
    } catch (err) {
      if (err instanceof MusterError && err.code === 'THROTTLED') this.throttled++;
      else this.#log.warn({ err, from: sender.name }, 'RSB event not published');
    }
    return null;
  }
}
