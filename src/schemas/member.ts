/** Schemas of the registry's messages: each gives a TypeScript type, a validator and API docs. */
import { Type, type Static } from '@sinclair/typebox';

export const LIMITS = {
  nameMax: 64,
  typeMax: 64,
  addressMax: 512,
  metaKeys: 32,
  metaKeyMax: 64,
  metaValueMax: 256,
  tokenMax: 256,
  listLimitDefault: 100,
  listLimitMax: 1000,
  listOffsetMax: 1_000_000,
} as const;

/** What a list may be sorted by (ties broken by name). */
export const LIST_SORT_KEYS = ['name', 'type', 'status', 'state', 'lastSeen', 'registeredAt', 'received', 'sent'] as const;
export type ListSortKey = (typeof LIST_SORT_KEYS)[number];

export const NAME_PATTERN = '^(?!\\.\\.?$)[A-Za-z0-9._-]{1,64}$';

export const ADDRESS_PATTERN = '^([A-Za-z0-9._-]{1,64}/)?[A-Za-z0-9._-]{1,64}$';
/** A member anywhere in a tree of hubs: `name` (this hub) or `hub/name`. */
export const MemberAddress = Type.String({ pattern: ADDRESS_PATTERN, maxLength: 129, description: 'Member name, or hub/name for a member of another hub in the tree' });
export const Name = Type.String({ pattern: NAME_PATTERN, description: '1-64 characters of [A-Za-z0-9._-]' });
/** No control characters (C0, DEL, C1): members' text ends up on operators' terminals (`muster ls`). */
export const NO_CONTROL_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';

export const MemberType = Type.String({ minLength: 1, maxLength: LIMITS.typeMax, pattern: '^[A-Za-z0-9._/-]+$', description: 'What kind of member this is (device, service, hub, ...)' });
export const Address = Type.String({ maxLength: LIMITS.addressMax, pattern: NO_CONTROL_PATTERN, description: 'Where the member can be reached (no control characters)' });
export const Meta = Type.Record(
  Type.String({ minLength: 1, maxLength: LIMITS.metaKeyMax, pattern: '^[A-Za-z0-9._/-]+$' }),
  Type.String({ maxLength: LIMITS.metaValueMax, pattern: NO_CONTROL_PATTERN }),
  // additionalProperties: false makes the key pattern binding (patternProperties alone lets other keys through).
  { maxProperties: LIMITS.metaKeys, additionalProperties: false, description: 'String labels, at most 32; keys of [A-Za-z0-9._/-]; values without control characters' },
);
export const Token = Type.String({ minLength: 1, maxLength: LIMITS.tokenMax });
export const Id = Type.String({ minLength: 1, maxLength: 64, description: 'Member id (uuid)' });
export const Ms = (description: string, min: number, max: number) => Type.Integer({ minimum: min, maximum: max, description });

export const TtlLiveness = Type.Object({
  kind: Type.Literal('ttl'),
  ttlMs: Type.Optional(Ms('Alive while heartbeats arrive within this many ms (default 20000)', 100, 86_400_000)),
}, { additionalProperties: false });
export const SessionLiveness = Type.Object({
  kind: Type.Literal('session'),
  graceMs: Type.Optional(Ms('After the session drops, suspect for this long before gone (default 10000)', 0, 3_600_000)),
}, { additionalProperties: false });
export const ProbeLiveness = Type.Object({
  kind: Type.Literal('probe'),
  target: Type.String({ pattern: '^(https?|tcp|wss?|xmlrpc)://', maxLength: LIMITS.addressMax, description: 'http(s)://..., tcp://host:port, ws(s)://... or xmlrpc://host:port/path (an XML-RPC ping())' }),
  intervalMs: Type.Optional(Ms('Probe interval (default 5000)', 100, 3_600_000)),
  timeoutMs: Type.Optional(Ms('Probe timeout (default 2000)', 10, 600_000)),
  failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Failures in a row before gone (default 3)' })),
}, { additionalProperties: false });
export const LivenessSpec = Type.Union([TtlLiveness, SessionLiveness, ProbeLiveness]);
export type LivenessSpec = Static<typeof LivenessSpec>;

export const MemberRoles = Type.Array(Type.Union([Type.Literal('component'), Type.Literal('controller')]), {
  maxItems: 2, uniqueItems: true,
  description: '"component": driven through the lifecycle (starts in state starting); "controller": may configure and stop components (granting it needs the admin token)',
});

export const RegisterParams = Type.Object({
  // Checked by the registry so that a bad name answers INVALID_NAME, not INVALID_PARAMS.
  name: Type.Optional(Type.String({ maxLength: 256, description: 'Proposed name: 1-64 characters of [A-Za-z0-9._-]' })),
  type: MemberType,
  address: Type.Optional(Address),
  meta: Type.Optional(Meta),
  liveness: Type.Optional(Type.Union([LivenessSpec, Type.Union([Type.Literal('ttl'), Type.Literal('session')])], { description: 'Liveness spec, or "ttl"/"session" for the defaults' })),
  exclusive: Type.Optional(Type.Boolean({ description: 'Fail with NAME_TAKEN instead of choosing name-1, name-2, ...' })),
  token: Type.Optional(Token),
  newToken: Type.Optional(Type.String({
    minLength: 32, maxLength: LIMITS.tokenMax, pattern: '^[A-Za-z0-9_-]+$',
    description: 'The token the member gets if this call makes one (random, e.g. 32 bytes in base64url); it fixes the member\'s id, so the same call again after a lost answer resumes that member rather than making another',
  })),
  key: Type.Optional(Type.String({ maxLength: LIMITS.tokenMax, description: 'Registration key, when the hub requires one' })),
  roles: Type.Optional(MemberRoles),
}, { additionalProperties: false });
export type RegisterParams = Static<typeof RegisterParams>;

export const RegisterResult = Type.Object({
  id: Id, name: Name, token: Token,
  registeredAt: Type.Number({ description: 'When the hub made the member (ms since the epoch). A resume answers the same; a member made anew (the hub had lost it) another, even with the same id' }),
  ttlMs: Type.Optional(Type.Integer({ description: "A ttl member's ttl: the hub's default when it asked for none (liveness 'ttl')" })),
});
export type RegisterResult = Static<typeof RegisterResult>;

export const UpdateParams = Type.Object({
  address: Type.Optional(Address),
  meta: Type.Optional(Meta),
}, { additionalProperties: false });
export type UpdateParams = Static<typeof UpdateParams>;

export const ProbeStats = Type.Object({
  last: Type.Union([Type.Number(), Type.Null()]),
  min: Type.Union([Type.Number(), Type.Null()]),
  max: Type.Union([Type.Number(), Type.Null()]),
  avg: Type.Union([Type.Number(), Type.Null()]),
  count: Type.Integer(),
  fails: Type.Integer(),
}, { description: 'Probe round trips in ms' });
export type ProbeStats = Static<typeof ProbeStats>;

export const TrafficStats = Type.Object({
  sent: Type.Integer(), sentBytes: Type.Integer(), lastSent: Type.Union([Type.Number(), Type.Null()]),
  received: Type.Integer(), receivedBytes: Type.Integer(), lastReceived: Type.Union([Type.Number(), Type.Null()]),
  dropped: Type.Integer(),
}, { description: 'Messages through the bus' });
export type TrafficStats = Static<typeof TrafficStats>;

export const MemberStatus = Type.Union([Type.Literal('alive'), Type.Literal('suspect'), Type.Literal('gone')]);
export type MemberStatus = Static<typeof MemberStatus>;

export const REMOVAL_REASONS = ['unregistered', 'expired', 'session-lost', 'probe-failed', 'evicted', 'hub-lost'] as const;
export const RemovalReason = Type.Union(REMOVAL_REASONS.map((r) => Type.Literal(r)));
export type RemovalReason = (typeof REMOVAL_REASONS)[number];

export const LifecycleView = Type.Object({
  state: Type.String(),
  endpoints: Type.Record(Type.String(), Type.Array(Type.String())),
  lastError: Type.Union([Type.String(), Type.Null()]),
  since: Type.Number(),
});

/** Roles a member record may show: the registrable ones, and the records hubs keep of each other. */
export const RecordRoles = Type.Array(Type.Union(['component', 'controller', 'registrar', 'registree', 'descendant'].map((r) => Type.Literal(r))), {
  description: 'component / controller (see register); on records of other hubs (type hub): registrar (this hub\'s parent), registree (a child hub), descendant (a hub further below)',
});

export const MemberView = Type.Object({
  id: Id,
  name: Name,
  type: MemberType,
  address: Type.String(),
  meta: Type.Record(Type.String(), Type.String()),
  liveness: LivenessSpec,
  status: MemberStatus,
  registeredAt: Type.Number({ description: 'ms since the epoch' }),
  lastSeen: Type.Number({ description: 'ms since the epoch' }),
  hub: Type.Optional(Type.String({ description: 'Id of the hub the member belongs to' })),
  face: Type.Optional(Type.String({ description: 'The face of the connection it last registered or reconnected on (native, plantimager, hub-link, ...); absent when it never had one (HTTP)' })),
  lifecycle: Type.Optional(LifecycleView),
  roles: Type.Optional(RecordRoles),
  stats: Type.Object({ probe: Type.Optional(ProbeStats), traffic: TrafficStats }),
});
export type MemberView = Static<typeof MemberView>;

export const ListParams = Type.Object({
  type: Type.Optional(MemberType),
  status: Type.Optional(MemberStatus),
  prefix: Type.Optional(Type.String({ maxLength: LIMITS.nameMax, description: 'Name prefix' })),
  meta: Type.Optional(Meta),
  state: Type.Optional(Type.String({ maxLength: 32, description: 'Lifecycle state' })),
  search: Type.Optional(Type.String({ maxLength: LIMITS.nameMax, description: 'Part of the name, in any case' })),
  role: Type.Optional(Type.Union([Type.Literal('component'), Type.Literal('controller')], { description: 'Only members with this role' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listLimitMax })),
  after: Type.Optional(Type.String({ maxLength: LIMITS.nameMax, description: 'Cursor: list names after this one' })),
  sort: Type.Optional(Type.Union(LIST_SORT_KEYS.map((k) => Type.Literal(k)), { description: 'Order of the list (default name); `after` pages by name only' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'Default asc' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.listOffsetMax, description: 'Skip this many members (page by offset, any sort)' })),
}, { additionalProperties: false });
export type ListParams = Static<typeof ListParams>;

export const ListResult = Type.Object({
  members: Type.Array(MemberView),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Cursor for the next page, null at the end' }),
  revision: Type.Integer(),
  total: Type.Optional(Type.Integer({ description: 'Members matching the filters (with `after`: those after it), whatever the page; set by this hub\'s own lists' })),
  unreachable: Type.Optional(Type.Array(Type.String(), { description: 'Hubs of the listed subtree that did not answer' })),
});
export type ListResult = Static<typeof ListResult>;
