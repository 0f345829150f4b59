/**
 * Lifecycle control's operations. Components speak ICCP's messages as methods of their own
 * (lifecycle.ready / .error / .ok / .finished) on the connection they registered on, so that
 * wrong-order and unsolicited answers are visible to the hub; controllers use control.*.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MusterError } from '../../errors.js';
import {
  ConfigureParams, ConfigureResult, ErrorParams, FinishedParams, GroupConfigureParams, GroupConfigureResult, GroupStopParams,
  GroupStopResult, LifecycleParams, LifecycleRecord, MessageAck, OkParams, ReadyParams, StopParams, StopResult,
} from '../../schemas/control.js';
import type { Kind } from '../control/control.js';
import type { Caller } from '../registry/registry.js';
import { op, type Operation, type Services } from './operation.js';

/** A controller's command: bound to `POST path`, needs the admin token or a controller's. */
function controllerOp<N extends string, P extends TSchema, R extends TSchema>(
  name: N, summary: string, params: P, result: R, path: string, run: (s: Services, p: Static<P>, caller: Caller) => Promise<Static<R>>,
): Operation<P, R, N> {
  return op({ name, summary: `${summary} Admin or controller token.`, params, result, http: { method: 'POST', path, auth: true }, run });
}

const WrongWayParams = Type.Object({ name: Type.Optional(Type.String({ maxLength: 64 })) });

/** lifecycle.configure / lifecycle.stop sent by a component: a protocol error, as in ICCP. */
const wrongWay = <K extends Kind>(command: K) => op({
  name: `lifecycle.${command}` as const,
  summary: `Hub to component only (ICCP ${command === 'configure' ? 'REQUEST/CONF' : 'STOP'}). A component that sends it fails with a protocol error; controllers call control.${command}.`,
  params: WrongWayParams,
  result: MessageAck,
  needsConnection: true,
  run: (s, p, caller) => {
    let member;
    try {
      member = s.control.componentOn(caller.connection!, p.name);
    } catch {
      throw new MusterError('PROTOCOL_ERROR', `lifecycle.${command} goes from the hub to a component; controllers call control.${command}`);
    }
    return s.control.wrongWay(member, command);
  },
});

export const controlOperations = [
  // Component -> hub
  op({
    name: 'lifecycle.ready',
    summary: 'Component: I am up; here are my endpoints ({channel: [addresses]}). Once per run.',
    params: ReadyParams,
    result: MessageAck,
    needsConnection: true,
    run: (s, p, caller) => ({ state: s.control.ready(s.control.componentOn(caller.connection!, p.name), p.endpoints ?? {}, caller.connection!) }),
  }),
  op({
    name: 'lifecycle.error',
    summary: 'Component: I could not start (before READY), or the command `call` failed (text says why).',
    params: ErrorParams,
    result: MessageAck,
    needsConnection: true,
    run: (s, p, caller) => ({ state: s.control.answer(s.control.componentOn(caller.connection!, p.name), { type: 'error', call: p.call, text: p.text }) }),
  }),
  op({
    name: 'lifecycle.ok',
    summary: 'Component: the CONFIGURE `call` succeeded.',
    params: OkParams,
    result: MessageAck,
    needsConnection: true,
    run: (s, p, caller) => ({ state: s.control.answer(s.control.componentOn(caller.connection!, p.name), { type: 'ok', call: p.call }) }),
  }),
  op({
    name: 'lifecycle.finished',
    summary: 'Component: STOP `call` done, after my clean-up; outcome OK or ERROR (UNKNOWN counts as OK), with details.',
    params: FinishedParams,
    result: MessageAck,
    needsConnection: true,
    run: (s, p, caller) => ({
      state: s.control.answer(s.control.componentOn(caller.connection!, p.name), { type: 'finished', call: p.call, outcome: p.outcome, details: p.details }),
    }),
  }),
  wrongWay('configure'),
  wrongWay('stop'),
  // Controller API (admin or controller token)
  controllerOp('control.configure', 'Controller: send CONFIGURE to a component and wait for OK ({ok: true}) or its ERROR text ({ok: false, error}).',
    ConfigureParams, ConfigureResult, '/v1/members/:name/configure', (s, p, caller) => s.control.configure(p.name, p.config, p, caller)),
  controllerOp('control.stop', 'Controller: send STOP to a component and wait for FINISHED (outcome and details).',
    StopParams, StopResult, '/v1/members/:name/stop', (s, p, caller) => s.control.stop(p.name, p, caller)),
  op({
    name: 'control.lifecycle',
    summary: "A component's state, endpoints, last error, open command and transition history.",
    params: LifecycleParams,
    result: LifecycleRecord,
    http: { method: 'GET', path: '/v1/members/:name/lifecycle', from: 'none' },
    run: (s, p) => s.control.lifecycle(p.name),
  }),
  controllerOp('control.configureGroup', 'Controller: CONFIGURE every component matching the selector (type, meta, prefix, state); one outcome per member.',
    GroupConfigureParams, GroupConfigureResult, '/v1/control/configure', (s, p, caller) => s.control.configureGroup(p.selector, p.config, p, caller)),
  controllerOp('control.stopGroup', 'Controller: STOP every component matching the selector; one outcome per member.',
    GroupStopParams, GroupStopResult, '/v1/control/stop', (s, p, caller) => s.control.stopGroup(p.selector, p, caller)),
] as const;
