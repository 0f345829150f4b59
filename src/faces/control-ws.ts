/**
 * Lifecycle control over the WebSocket face. Components speak ICCP's messages as methods of their
 * own (lifecycle.ready / .error / .ok / .finished), so that wrong-order and unsolicited answers
 * are visible to the hub; the hub sends lifecycle.configure / lifecycle.stop as notifications
 * carrying a call id. Controllers use control.*.
 */
import { Type } from '@sinclair/typebox';
import { hasRole, type Answer, type Command, type ComponentLink, type Control } from '../core/control.js';
import type { Member, Registry } from '../core/registry.js';
import { MusterError } from '../errors.js';
import {
  ConfigureParams, ConfigureResult, ErrorParams, FinishedParams, GroupConfigureParams, GroupConfigureResult, GroupStopParams,
  GroupStopResult, LifecycleParams, LifecycleRecord, MessageAck, OkParams, ReadyParams, StopParams, StopResult,
} from '../schemas/control.js';
import { wsMethod, type WsConnection, type WsMethod } from './ws.js';

/** A component's connection as the control core sees it: commands become notifications. */
class WsLink implements ComponentLink {
  readonly #conn: WsConnection;
  constructor(conn: WsConnection) {
    this.#conn = conn;
  }
  deliver(command: Command): void {
    const { type, ...params } = command;
    this.#conn.notify(`lifecycle.${type}`, JSON.stringify(params));
  }
}

const WrongWayParams = Type.Object({ name: Type.Optional(Type.String({ maxLength: 64 })) });

export function controlWsMethods(control: Control, registry: Registry): WsMethod[] {
  const links = new WeakMap<WsConnection, WsLink>();
  const linkOf = (conn: WsConnection): WsLink => {
    let link = links.get(conn);
    if (!link) {
      const l = (link = new WsLink(conn));
      links.set(conn, l);
      conn.onClose(() => control.linkClosed(l));
    }
    return link;
  };

  /** The component a lifecycle message comes from: one registered on this very connection. */
  const senderOf = (conn: WsConnection, name: string | undefined): Member => {
    const members = registry.sessionMembers(conn);
    if (name !== undefined) {
      const m = registry.find(name);
      if (!m || !members.has(m)) throw new MusterError('FORBIDDEN', `${name} is not registered on this connection`, { name });
      return m;
    }
    let found: Member | undefined;
    for (const m of members) {
      if (!hasRole(m, 'component')) continue;
      if (found) throw new MusterError('INVALID_PARAMS', 'This connection holds several components: say which with "name"');
      found = m;
    }
    if (!found) throw new MusterError('FORBIDDEN', 'No component is registered on this connection: register with roles ["component"] first');
    return found;
  };

  const answer = (conn: WsConnection, name: string | undefined, a: Answer) => ({ state: control.answer(senderOf(conn, name), a) });

  const wrongWay = (command: 'configure' | 'stop') => wsMethod({
    name: `lifecycle.${command}`,
    summary: `Hub to component only (ICCP ${command === 'configure' ? 'REQUEST/CONF' : 'STOP'}). A component that sends it fails with a protocol error; controllers call control.${command}.`,
    params: WrongWayParams, result: MessageAck,
    run: (conn, p) => {
      let member: Member;
      try {
        member = senderOf(conn, p.name);
      } catch {
        throw new MusterError('PROTOCOL_ERROR', `lifecycle.${command} goes from the hub to a component; controllers call control.${command}`);
      }
      return control.wrongWay(member, command);
    },
  });

  return [
    // Component -> hub
    wsMethod({
      name: 'lifecycle.ready', summary: 'Component: I am up; here are my endpoints ({channel: [addresses]}). Once per run.',
      params: ReadyParams, result: MessageAck,
      run: (conn, p) => ({ state: control.ready(senderOf(conn, p.name), p.endpoints ?? {}, linkOf(conn)) }),
    }),
    wsMethod({
      name: 'lifecycle.error', summary: 'Component: I could not start (before READY), or the command `call` failed (text says why).',
      params: ErrorParams, result: MessageAck,
      run: (conn, p) => answer(conn, p.name, { type: 'error', call: p.call, text: p.text }),
    }),
    wsMethod({
      name: 'lifecycle.ok', summary: 'Component: the CONFIGURE `call` succeeded.',
      params: OkParams, result: MessageAck,
      run: (conn, p) => answer(conn, p.name, { type: 'ok', call: p.call }),
    }),
    wsMethod({
      name: 'lifecycle.finished', summary: 'Component: STOP `call` done, after my clean-up; outcome OK or ERROR (UNKNOWN counts as OK), with details.',
      params: FinishedParams, result: MessageAck,
      run: (conn, p) => answer(conn, p.name, { type: 'finished', call: p.call, outcome: p.outcome, details: p.details }),
    }),
    wrongWay('configure'),
    wrongWay('stop'),
    // Controller API
    wsMethod({
      name: 'control.configure', summary: 'Controller: send CONFIGURE to a component and wait for OK ({ok: true}) or its ERROR text ({ok: false, error}).',
      params: ConfigureParams, result: ConfigureResult,
      run: (conn, p) => control.configure(p.name, p.config, { timeoutMs: p.timeoutMs }, conn.caller),
    }),
    wsMethod({
      name: 'control.stop', summary: 'Controller: send STOP to a component and wait for FINISHED (outcome and details).',
      params: StopParams, result: StopResult,
      run: (conn, p) => control.stop(p.name, { timeoutMs: p.timeoutMs }, conn.caller),
    }),
    wsMethod({
      name: 'control.lifecycle', summary: "A component's state, endpoints, last error, open command and transition history.",
      params: LifecycleParams, result: LifecycleRecord,
      run: (_conn, p) => control.lifecycle(p.name),
    }),
    wsMethod({
      name: 'control.configureGroup', summary: 'Controller: CONFIGURE every component matching the selector (type, meta, prefix, state); one outcome per member.',
      params: GroupConfigureParams, result: GroupConfigureResult,
      run: (conn, p) => control.configureGroup(p.selector, p.config, { timeoutMs: p.timeoutMs }, conn.caller),
    }),
    wsMethod({
      name: 'control.stopGroup', summary: 'Controller: STOP every component matching the selector; one outcome per member.',
      params: GroupStopParams, result: GroupStopResult,
      run: (conn, p) => control.stopGroup(p.selector, { timeoutMs: p.timeoutMs }, conn.caller),
    }),
  ];
}
