/**
 * The federation's operations. A child hub calls hub.register (with the federation token) and
 * then, on the same connection, hub.update, hub.check, hub.forward, hub.interest, hub.publish and
 * hub.deregister; the parent uses that connection to call the child (hub.ping, hub.forward,
 * hub.tree) and to notify it (hub.interest, hub.publish).
 */
import { Type } from '@sinclair/typebox';
import { MusterError } from '../../errors.js';
import {
  ForwardParams, HubCheckParams, HubCheckResult, HubHello, HubPublish, HubRegisterParams, HubUpdateParams, InterestParams, Ok, TreeNode,
} from '../../schemas/federation.js';
import type { Connection, HubLink } from '../ports.js';
import type { Caller } from '../registry/registry.js';
import { op, readOp, type Services } from './operation.js';

/** The link of a registered child hub: the calls only registered children may make. */
function childLink(s: Services, caller: Caller): HubLink {
  const link = linkOf(caller);
  s.federation.childOf(link);
  return link;
}

const OK = { ok: true as const };

/** The caller's connection as a hub link: only connections the hub can call back can be one. */
function linkOf(caller: Caller): HubLink {
  const c: Connection | undefined = caller.connection;
  if (!c || typeof (c as Partial<HubLink>).call !== 'function') throw new MusterError('FORBIDDEN', 'Hub links are WebSocket connections');
  return c as HubLink;
}

export const federationOperations = [
  op({
    name: 'hub.register',
    summary: 'Child hub: register here with the federation token, its points of access and its descendant hubs.',
    params: HubRegisterParams,
    result: HubHello,
    needsConnection: true,
    run: (s, p, caller) => s.federation.acceptChild(linkOf(caller), p),
  }),
  op({
    name: 'hub.update',
    summary: 'Child hub: its descendant list changed (refused with HUB_ID_TAKEN if an id is used elsewhere in the tree).',
    params: HubUpdateParams,
    result: Ok,
    needsConnection: true,
    run: async (s, p, caller) => {
      await s.federation.updateChild(s.federation.childOf(linkOf(caller)), p.descendants);
      return { ok: true as const };
    },
  }),
  op({
    name: 'hub.check',
    summary: "Child hub's connection monitor: does this hub still hold its record? (known: false means register again)",
    params: HubCheckParams,
    result: HubCheckResult,
    needsConnection: true,
    run: (s, p, caller) => ({ known: s.federation.checkChild(linkOf(caller), p.hubId, p.instance) }),
  }),
  op({
    name: 'hub.deregister',
    summary: 'Child hub: leave; its record and everything below it are removed at once.',
    params: Type.Object({}, { additionalProperties: false }),
    result: Ok,
    needsConnection: true,
    run: async (s, _p, caller) => {
      await s.federation.removeChild(s.federation.childOf(linkOf(caller)), 'unregistered');
      return { ok: true as const };
    },
  }),
  op({
    name: 'hub.forward',
    summary: 'Child hub: run an operation (get, list, send, request, configure, stop, tree) on hub `to`, forwarded along the tree.',
    params: ForwardParams,
    result: Type.Unknown(),
    needsConnection: true,
    run: (s, p, caller) => {
      const link = childLink(s, caller);
      return s.federation.forward(p.to, p.op, p.params, link, p.hops);
    },
  }),
  op({
    name: 'hub.interest',
    summary: 'Child hub: the tree-wide scopes it wants publications on (replaces its previous set).',
    params: InterestParams,
    result: Ok,
    needsConnection: true,
    run: (s, p, caller) => (s.federation.declareInterest(childLink(s, caller), p.scopes), OK),
  }),
  op({
    name: 'hub.publish',
    summary: 'Child hub: a publication on a tree-wide scope (a notification).',
    params: HubPublish,
    result: Ok,
    needsConnection: true,
    run: (s, p, caller) => (s.federation.published(childLink(s, caller), p), OK),
  }),
  readOp('hub.tree', 'This hub and every hub below it, each asked now: status (up, suspect, unreachable), points of access and member counts.', TreeNode, '/v1/tree', (s) => s.federation.tree()),
] as const;
