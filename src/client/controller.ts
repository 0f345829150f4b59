/**
 * The controller side of lifecycle control. The client must hold the admin token or a controller
 * member's token (connect({ token })), or have registered a controller member on this connection.
 *
 *   const ctl = controller(client);
 *   const r = await ctl.configure('worker-1', { rate: 5 });   // { ok: true } or { ok: false, error }
 *   const s = await ctl.stop('worker-1');                      // { outcome, details }
 */
import type {
  ConfigureResult, GroupConfigureResult, GroupStopResult, LifecycleRecord, Selector, StopResult,
} from '../schemas/control.js';
import type { MusterClient } from './types.js';

export interface ControlCallOptions {
  /** How long the hub waits for the component's answer (default: the hub's lifecycleTimeoutMs, 10 s). */
  timeoutMs?: number;
}

export interface Controller {
  /** CONFIGURE: `{ok: true}`, or `{ok: false, error}` with the component's text. TIMEOUT, PROTOCOL_ERROR, MEMBER_GONE throw. */
  configure(name: string, config: Record<string, unknown>, options?: ControlCallOptions): Promise<ConfigureResult>;
  /** STOP: the outcome and details the component finished with. */
  stop(name: string, options?: ControlCallOptions): Promise<StopResult>;
  /** State, endpoints, last error, open command and transition history. */
  lifecycle(name: string): Promise<LifecycleRecord>;
  /** CONFIGURE every component matching the selector; one outcome per member (errors included, never thrown). */
  configureGroup(selector: Selector, config: Record<string, unknown>, options?: ControlCallOptions): Promise<GroupConfigureResult>;
  stopGroup(selector: Selector, options?: ControlCallOptions): Promise<GroupStopResult>;
}

/** The hub answers within timeoutMs; the client waits a little longer so the hub's answer wins. */
const clientWait = (timeoutMs: number | undefined) => ({ timeoutMs: (timeoutMs ?? 60_000) + 5_000 });

const withTimeout = <P extends object>(params: P, timeoutMs: number | undefined): P & { timeoutMs?: number } => (timeoutMs === undefined ? params : { ...params, timeoutMs });

export function controller(client: MusterClient): Controller {
  return {
    configure: (name, config, o = {}) => client.call('control.configure', withTimeout({ name, config }, o.timeoutMs), clientWait(o.timeoutMs)),
    stop: (name, o = {}) => client.call('control.stop', withTimeout({ name }, o.timeoutMs), clientWait(o.timeoutMs)),
    lifecycle: (name) => client.call('control.lifecycle', { name }),
    configureGroup: (selector, config, o = {}) => client.call('control.configureGroup', withTimeout({ selector, config }, o.timeoutMs), clientWait(o.timeoutMs)),
    stopGroup: (selector, o = {}) => client.call('control.stopGroup', withTimeout({ selector }, o.timeoutMs), clientWait(o.timeoutMs)),
  };
}
