/**
 * Schemas of lifecycle control (ICCP over muster): the messages a component sends, the commands
 * the hub sends it, and the controller API. Each gives a type, a validator and API docs.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Meta, MemberType, LIMITS } from './member.js';

export const LIFECYCLE_STATES = ['starting', 'ready', 'configuring', 'configured', 'stopping', 'finished', 'failed', 'unresponsive'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];
export const LifecycleState = Type.Union(LIFECYCLE_STATES.map((s) => Type.Literal(s)));

export const ROLES = ['component', 'controller'] as const;
export type Role = (typeof ROLES)[number];
export const Roles = Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), {
  maxItems: 2, uniqueItems: true,
  description: '"component": driven through the lifecycle; "controller": may configure and stop components (needs the admin token to grant)',
});

const TimeoutMs = Type.Integer({ minimum: 10, maximum: 600_000, description: 'How long to wait for the answer, in ms (default: the hub\'s lifecycleTimeoutMs, 10000)' });
const MemberName = Type.String({ minLength: 1, maxLength: LIMITS.nameMax, description: 'Component member name' });
const CallId = Type.String({ minLength: 1, maxLength: 64, description: 'The call id of the command this answers (from lifecycle.configure / lifecycle.stop)' });
/** Which of the session's components sends this; optional when the session has only one. */
const Sender = { name: Type.Optional(MemberName) };

export const Endpoints = Type.Record(
  Type.String({ minLength: 1, maxLength: 64 }),
  Type.Array(Type.String({ maxLength: LIMITS.addressMax }), { maxItems: 32 }),
  { maxProperties: 32, description: 'Channel name -> endpoint addresses' },
);
export type Endpoints = Static<typeof Endpoints>;

export const Config = Type.Record(Type.String({ maxLength: 256 }), Type.Unknown(), { description: 'The configuration object for the component' });

export const OUTCOMES = ['OK', 'ERROR'] as const;
export const Outcome = Type.Union([Type.Literal('OK'), Type.Literal('ERROR')]);
export type Outcome = Static<typeof Outcome>;

// Component -> hub
export const ReadyParams = Type.Object({ ...Sender, endpoints: Type.Optional(Endpoints) }, { additionalProperties: false });
export const ErrorParams = Type.Object({ ...Sender, call: Type.Optional(CallId), text: Type.String({ maxLength: 4096, description: 'Why it could not start, or why the command failed' }) }, { additionalProperties: false });
export const OkParams = Type.Object({ ...Sender, call: Type.Optional(CallId) }, { additionalProperties: false });
export const FinishedParams = Type.Object({
  ...Sender,
  call: Type.Optional(CallId),
  outcome: Type.Union([Type.Literal('OK'), Type.Literal('ERROR'), Type.Literal('UNKNOWN')], { description: 'UNKNOWN counts as OK (as in ICCP)' }),
  details: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 64 })),
}, { additionalProperties: false });
export const MessageAck = Type.Object({ state: LifecycleState });

// Controller API
const Target = Type.String({ minLength: 1, maxLength: 129, description: 'Component member name, or hub/name for one on another hub of the tree' });
export const ConfigureParams = Type.Object({ name: Target, config: Config, timeoutMs: Type.Optional(TimeoutMs) }, { additionalProperties: false });
export const StopParams = Type.Object({ name: Target, timeoutMs: Type.Optional(TimeoutMs) }, { additionalProperties: false });
export const LifecycleParams = Type.Object({ name: MemberName }, { additionalProperties: false });

export const ConfigureResult = Type.Object({
  name: Type.String(),
  ok: Type.Boolean({ description: 'true when the component answered OK' }),
  error: Type.Optional(Type.String({ description: 'The component\'s ERROR text' })),
  state: LifecycleState,
});
export type ConfigureResult = Static<typeof ConfigureResult>;

export const StopResult = Type.Object({
  name: Type.String(),
  outcome: Outcome,
  details: Type.Array(Type.String()),
  state: LifecycleState,
});
export type StopResult = Static<typeof StopResult>;

export const Transition = Type.Object({
  at: Type.Number({ description: 'ms since the epoch' }),
  from: Type.Union([LifecycleState, Type.Null()]),
  to: LifecycleState,
  note: Type.Optional(Type.String()),
});
export type Transition = Static<typeof Transition>;

export const LifecycleRecord = Type.Object({
  name: Type.String(),
  state: LifecycleState,
  endpoints: Endpoints,
  lastError: Type.Union([Type.String(), Type.Null()]),
  since: Type.Number(),
  connected: Type.Boolean({ description: 'Whether the hub can reach the component (it sent READY on a connection still open)' }),
  pending: Type.Union([Type.Object({ call: Type.String(), command: Type.Union([Type.Literal('configure'), Type.Literal('stop')]), deadline: Type.Number() }), Type.Null()]),
  history: Type.Array(Transition, { description: 'The last 50 transitions, oldest first' }),
});
export type LifecycleRecord = Static<typeof LifecycleRecord>;

export const Selector = Type.Object({
  type: Type.Optional(MemberType),
  meta: Type.Optional(Meta),
  prefix: Type.Optional(Type.String({ maxLength: LIMITS.nameMax, description: 'Name prefix' })),
  state: Type.Optional(LifecycleState),
}, { additionalProperties: false, minProperties: 1, description: 'Which components: every given field must match' });
export type Selector = Static<typeof Selector>;

export const GroupConfigureParams = Type.Object({ selector: Selector, config: Config, timeoutMs: Type.Optional(TimeoutMs) }, { additionalProperties: false });
export const GroupStopParams = Type.Object({ selector: Selector, timeoutMs: Type.Optional(TimeoutMs) }, { additionalProperties: false });

const HubError = { code: Type.Optional(Type.String({ description: 'Set when the hub, not the component, failed the call (TIMEOUT, PROTOCOL_ERROR, MEMBER_GONE, INVALID_STATE, NOT_CONNECTED)' })) };
export const GroupConfigureResult = Type.Object({
  members: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean(), error: Type.Optional(Type.String()), state: Type.Optional(LifecycleState), ...HubError })),
});
export type GroupConfigureResult = Static<typeof GroupConfigureResult>;
export const GroupStopResult = Type.Object({
  members: Type.Array(Type.Object({ name: Type.String(), outcome: Type.Optional(Outcome), details: Type.Optional(Type.Array(Type.String())), state: Type.Optional(LifecycleState), error: Type.Optional(Type.String()), ...HubError })),
});
export type GroupStopResult = Static<typeof GroupStopResult>;
