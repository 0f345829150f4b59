/** Facts about a hub, as `GET /v1/info` and `system.getProperties` give them. */
import { Type, type Static } from '@sinclair/typebox';

export const FaceInfo = Type.Object({ name: Type.String(), address: Type.String() });

export const HubInfo = Type.Object({
  name: Type.Literal('muster'),
  version: Type.String(),
  hubId: Type.String(),
  hubName: Type.String(),
  startedAt: Type.Number({ description: 'ms since the epoch' }),
  serverTime: Type.Number({ description: 'ms since the epoch' }),
  uptimeMs: Type.Number(),
  host: Type.String(),
  platform: Type.String(),
  node: Type.String(),
  store: Type.String(),
  health: Type.Object({ ok: Type.Boolean(), reason: Type.Optional(Type.String()) }, {
    description: 'What /healthz says: not ok while draining, in a cluster while Redis does not answer, or once a failed write or sync of its file stopped the store (writes refused)',
  }),
  revision: Type.Integer(),
  members: Type.Object({ total: Type.Integer(), alive: Type.Integer(), suspect: Type.Integer(), gone: Type.Integer() }),
  faces: Type.Array(FaceInfo),
  federation: Type.Object({
    registrar: Type.Union([Type.String(), Type.Null()], { description: "Hub id of this hub's registrar (parent); null for a root" }),
    registrarUrl: Type.Union([Type.String(), Type.Null()]),
    connected: Type.Boolean({ description: 'Registered with the registrar now' }),
    lastError: Type.String({ description: 'Why the last registration attempt failed' }),
    children: Type.Integer({ description: 'Hubs registered directly with this one' }),
    descendants: Type.Integer({ description: 'Hubs below this one, direct or indirect' }),
  }),
  config: Type.Record(Type.String(), Type.Unknown(), { description: 'The config in effect (docs/operations.md lists its keys); secrets show as "[redacted]"' }),
  configLoadedAt: Type.Number({ description: 'When the config in effect was loaded: the start, or the last reload that changed it (ms since the epoch)' }),
  cluster: Type.Optional(Type.Object({
    prefix: Type.String({ description: 'The key prefix the cluster uses in Redis' }),
    healthy: Type.Boolean({ description: 'Redis answers and the change stream is read' }),
    hubs: Type.Array(Type.Object({ hubId: Type.String(), url: Type.String(), startedAt: Type.Number() }), { description: 'The hubs sharing the registry now' }),
  }, { description: 'Cluster mode: several hubs sharing one registry and bus through Redis' })),
});
export type HubInfo = Static<typeof HubInfo>;
