/**
 * Hub events: one discriminated union on `type`, each carrying a revision. Member events
 * (added, updated, removed, lifecycle) carry the member; an admin event records an admin's action
 * (who, from where, what) and carries no member, so only watches that ask for it by type get it.
 */
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
/** An event about a member: what a watch gets unless it asks for admin events. */
export const RegistryEvent = Type.Union([AddedEvent, UpdatedEvent, RemovedEvent, LifecycleEvent]);
export type RegistryEvent = Static<typeof RegistryEvent>;
export type RegistryEventType = RegistryEvent['type'];
export const EVENT_TYPES = ['added', 'updated', 'removed', 'lifecycle'] as const;

/** What an admin did (an eviction is a removed event with `by: "admin"` instead). */
export const ADMIN_ACTIONS = ['log-level', 'check-links', 'drain', 'reload', 'snapshot'] as const;
export const AdminAction = Type.Union(ADMIN_ACTIONS.map((a) => Type.Literal(a)));
export type AdminAction = Static<typeof AdminAction>;

/** Where a call came from: the face and the peer's address (as the socket saw it). */
export const CallOrigin = Type.Object({ face: Type.String(), address: Type.String() });
export type CallOrigin = Static<typeof CallOrigin>;

export const AdminEvent = Type.Object({
  type: Type.Literal('admin'), revision: Type.Integer(), at: Type.Number({ description: 'ms since the epoch' }),
  action: AdminAction,
  by: Type.String({ description: 'Who: "admin" (the admin token is one identity)' }),
  from: Type.Optional(CallOrigin),
  detail: Type.Record(Type.String(), Type.Unknown(), { description: 'What the action was and what it found (per action; see docs/operations.md)' }),
});
export type AdminEvent = Static<typeof AdminEvent>;

/** Every event of the log: member events, and admin events for watches that ask for them. */
export const HubEvent = Type.Union([AddedEvent, UpdatedEvent, RemovedEvent, LifecycleEvent, AdminEvent]);
export type HubEvent = Static<typeof HubEvent>;
export type HubEventType = HubEvent['type'];
export const HUB_EVENT_TYPES = [...EVENT_TYPES, 'admin'] as const;

export const WatchFilter = Type.Object({
  types: Type.Optional(Type.Array(Type.Union(HUB_EVENT_TYPES.map((t) => Type.Literal(t))), {
    maxItems: HUB_EVENT_TYPES.length, description: 'Event types to receive (default: every member event; admin events only when listed)',
  })),
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
