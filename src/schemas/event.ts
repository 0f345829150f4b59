/** Registry events: one discriminated union on `type`, each carrying a revision. */
import { Type, type Static } from '@sinclair/typebox';
import { Meta, MemberType, MemberView, RemovalReason, LIMITS } from './member.js';

const Base = { revision: Type.Integer(), at: Type.Number({ description: 'ms since the epoch' }), member: MemberView };

export const AddedEvent = Type.Object({ type: Type.Literal('added'), ...Base });
export const UpdatedEvent = Type.Object({ type: Type.Literal('updated'), ...Base });
export const RemovedEvent = Type.Object({
  type: Type.Literal('removed'), ...Base, reason: RemovalReason,
  by: Type.Optional(Type.String({ description: 'Who removed it, when someone did rather than the hub (admin: an admin eviction)' })),
  note: Type.Optional(Type.String({ description: 'Why, in their words (muster evict --reason)' })),
});
export const LifecycleEvent = Type.Object({ type: Type.Literal('lifecycle'), ...Base, from: Type.String(), to: Type.String() });
export const RegistryEvent = Type.Union([AddedEvent, UpdatedEvent, RemovedEvent, LifecycleEvent]);
export type RegistryEvent = Static<typeof RegistryEvent>;
export type RegistryEventType = RegistryEvent['type'];
export const EVENT_TYPES = ['added', 'updated', 'removed', 'lifecycle'] as const;

export const WatchFilter = Type.Object({
  types: Type.Optional(Type.Array(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))), { maxItems: 4, description: 'Event types to receive (default all)' })),
  type: Type.Optional(MemberType),
  name: Type.Optional(Type.String({ maxLength: LIMITS.nameMax })),
  prefix: Type.Optional(Type.String({ maxLength: LIMITS.nameMax })),
  meta: Type.Optional(Meta),
}, { additionalProperties: false });
export type WatchFilter = Static<typeof WatchFilter>;

export const WatchParams = Type.Object({
  filter: Type.Optional(WatchFilter),
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'Replay events after this revision, then stream live' })),
  epoch: Type.Optional(Type.String({ maxLength: 64, description: 'The epoch `since` belongs to (from an earlier watch); another epoch answers COMPACTED' })),
}, { additionalProperties: false });
export type WatchParams = Static<typeof WatchParams>;
