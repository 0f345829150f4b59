/**
 * Messages between hubs of a tree (JSON-RPC `hub.*` over the parent's /v1/ws), and the tree view.
 * A child calls hub.register / hub.update / hub.check / hub.deregister / hub.forward /
 * hub.interest on its registrar; the registrar calls hub.ping / hub.forward / hub.tree and
 * sends hub.interest / hub.publish down the same connection.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ListParams, Meta, Token } from './member.js';

export const HUB_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
export const HubId = Type.String({ pattern: HUB_ID_PATTERN, description: 'Hub id: 1-64 characters of [A-Za-z0-9._-], unique in the tree' });

/** One hub below the sender, and the hub it is registered with. */
export const HubEdge = Type.Object({ hubId: HubId, parent: HubId }, { additionalProperties: false });
export type HubEdge = Static<typeof HubEdge>;

const Descendants = Type.Array(HubEdge, { maxItems: 10_000, description: 'Every hub below the sender, direct or indirect' });
const Poa = Type.Array(Type.String({ maxLength: 512 }), { maxItems: 16, description: 'Points of access: URLs the hub answers on' });
const Instance = Type.String({ minLength: 1, maxLength: 64, description: 'Random id of one run of a hub process' });

export const HubRegisterParams = Type.Object({
  hubId: HubId,
  token: Token,
  instance: Instance,
  poa: Poa,
  descendants: Descendants,
  meta: Type.Optional(Meta),
  version: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });
export type HubRegisterParams = Static<typeof HubRegisterParams>;

export const HubHello = Type.Object({ hubId: HubId, instance: Instance, poa: Poa });
export type HubHello = Static<typeof HubHello>;

export const HubUpdateParams = Type.Object({ descendants: Descendants }, { additionalProperties: false });
export const HubCheckParams = Type.Object({ hubId: HubId, instance: Instance }, { additionalProperties: false });
export const HubCheckResult = Type.Object({ known: Type.Boolean({ description: 'False when the registrar has no record of this run of the hub: register again' }) });
export const Ok = Type.Object({ ok: Type.Literal(true) });

export const InterestParams = Type.Object({
  scopes: Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 10_000, description: 'Tree-wide scopes the sender wants publications on (replaces the previous set)' }),
}, { additionalProperties: false });
export type InterestParams = Static<typeof InterestParams>;

/** A publication travelling between hubs; `from` is the publisher's hub/name. */
export const HubPublish = Type.Object({
  from: Type.String({ maxLength: 129 }),
  scope: Type.String({ maxLength: 1024 }),
  seq: Type.Integer(),
  created: Type.Number(),
  sent: Type.Number(),
  received: Type.Number(),
  data: Type.Optional(Type.Unknown()),
  bytes: Type.Optional(Type.String()),
}, { additionalProperties: false });
export type HubPublish = Static<typeof HubPublish>;

/** Operations one hub asks another to run on its own members (forwarded hop by hop). */
export const FORWARD_OPS = ['get', 'list', 'send', 'request', 'configure', 'stop', 'tree'] as const;
export type ForwardOp = (typeof FORWARD_OPS)[number];

export const ForwardParams = Type.Object({
  to: HubId,
  op: Type.Union(FORWARD_OPS.map((o) => Type.Literal(o))),
  params: Type.Record(Type.String(), Type.Unknown()),
  hops: Type.Integer({ minimum: 0, maximum: 64, description: 'Hops so far; a forward past 64 hops is refused (no loops)' }),
}, { additionalProperties: false });
export type ForwardParams = Static<typeof ForwardParams>;

export const TreeListParams = Type.Composite([ListParams, Type.Object({
  hub: Type.Optional(HubId),
  subtree: Type.Optional(Type.Boolean({ description: 'Also every hub below `hub` (or below this hub)' })),
})], { additionalProperties: false });
export type TreeListParams = Static<typeof TreeListParams>;

export interface TreeNode {
  hubId: string;
  status: 'up' | 'suspect' | 'unreachable';
  poa: string[];
  members: { total: number; alive: number; suspect: number; gone: number } | null;
  children: TreeNode[];
}
export const TreeNode = Type.Recursive((This) => Type.Object({
  hubId: Type.String(),
  status: Type.Union([Type.Literal('up'), Type.Literal('suspect'), Type.Literal('unreachable')], { description: 'up: answered now; suspect: its link is down, within the grace period; unreachable: did not answer' }),
  poa: Type.Array(Type.String()),
  members: Type.Union([Type.Object({ total: Type.Integer(), alive: Type.Integer(), suspect: Type.Integer(), gone: Type.Integer() }), Type.Null()]),
  children: Type.Array(This),
}), { $id: 'TreeNode' });
