/** The registry's operations: members, their liveness, lookups, watches and the hub's facts. */
import { Type } from '@sinclair/typebox';
import { WatchParams } from '../../schemas/event.js';
import { TreeListParams } from '../../schemas/federation.js';
import { HubInfo } from '../../schemas/hub.js';
import { Address, ListResult, Meta, MemberStatus, MemberView, RegisterParams, RegisterResult, Token } from '../../schemas/member.js';
import { op, readOp } from './operation.js';

const MemberRef = { id: Type.String({ minLength: 1, maxLength: 64, description: 'Member id or name' }), token: Type.Optional(Token) };

export const HeartbeatParams = Type.Object(MemberRef, { additionalProperties: false });
export const UpdateMemberParams = Type.Object({ ...MemberRef, address: Type.Optional(Address), meta: Type.Optional(Meta) }, { additionalProperties: false });
export const UnregisterParams = Type.Object(MemberRef, { additionalProperties: false });
export const GetParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 129, description: 'Member name or id, or hub/name for a member of another hub in the tree' }) }, { additionalProperties: false });
const Ok = Type.Object({ ok: Type.Literal(true) });
/** A heartbeat's answers, shared and frozen: a face encodes each once (ws-face.ts). */
const STATUS_RESULTS: Readonly<Record<MemberStatus, Readonly<{ status: MemberStatus }>>> = Object.freeze({
  alive: Object.freeze({ status: 'alive' }), suspect: Object.freeze({ status: 'suspect' }), gone: Object.freeze({ status: 'gone' }),
});

export const registryOperations = [
  op({
    name: 'register',
    summary: 'Register a member; returns its id, its unique name, its token (shown once) and when the hub made it.',
    params: RegisterParams,
    result: RegisterResult,
    http: { method: 'POST', path: '/v1/members', status: 201 },
    run: (s, p, caller) => s.registry.register(p, caller),
  }),
  op({
    name: 'heartbeat',
    summary: 'Tell the hub a ttl member is alive (no disk write).',
    params: HeartbeatParams,
    result: Type.Object({ status: MemberStatus }),
    http: { method: 'PUT', path: '/v1/members/:id/heartbeat', from: 'none', auth: true },
    run: (s, p, caller) => STATUS_RESULTS[s.registry.heartbeat(p.id, { ...caller, token: p.token ?? caller.token })],
  }),
  op({
    name: 'update',
    summary: "Change a member's address or meta labels.",
    params: UpdateMemberParams,
    result: MemberView,
    http: { method: 'PATCH', path: '/v1/members/:id', auth: true },
    run: (s, p, caller) => s.registry.update(p.id, { address: p.address, meta: p.meta }, { ...caller, token: p.token ?? caller.token }),
  }),
  op({
    name: 'unregister',
    summary: 'Remove a member (reason: unregistered).',
    params: UnregisterParams,
    result: Ok,
    http: { method: 'DELETE', path: '/v1/members/:id', from: 'none', auth: true },
    run: async (s, p, caller) => {
      await s.registry.unregister(p.id, { ...caller, token: p.token ?? caller.token });
      return { ok: true as const };
    },
  }),
  op({
    name: 'get',
    summary: 'One member by name or id.',
    params: GetParams,
    result: MemberView,
    http: { method: 'GET', path: '/v1/members/:name', from: 'none' },
    run: (s, p) => (p.name.includes('/') ? s.federation.get(p.name) : s.registry.get(p.name)),
  }),
  op({
    name: 'list',
    summary: 'Members filtered by type, status, name prefix, meta labels and lifecycle state; paginated by name. `hub` lists another hub of the tree, `subtree` every hub below too. Also: `search` (part of the name), `role`, `sort` and `order`, `offset`; `total` counts every match.',
    params: TreeListParams,
    result: ListResult,
    http: { method: 'GET', path: '/v1/members', from: 'query' },
    run: (s, p) => (p.hub !== undefined || p.subtree ? s.federation.list(p) : s.registry.list(p)),
  }),
  readOp('info', 'Facts about the hub: version, ids, uptime, host, member counts, faces.', HubInfo, '/v1/info', (s) => s.info()),
  op({
    name: 'watch',
    summary: 'Replay events after `since`, then stream them live as `event` notifications (at most 16 watches per connection).',
    params: WatchParams,
    result: Type.Object({ watch: Type.Integer(), revision: Type.Integer(), epoch: Type.String({ description: 'Names the history revisions belong to: pass it back with since' }) }),
    needsConnection: true,
    run: (s, p, caller) => s.watches.open(caller.connection!, p.filter ?? {}, p.since, p.epoch),
  }),
  op({
    name: 'unwatch',
    summary: 'Stop a watch.',
    params: Type.Object({ watch: Type.Integer() }, { additionalProperties: false }),
    result: Type.Object({ ok: Type.Boolean() }),
    needsConnection: true,
    run: (s, p, caller) => ({ ok: s.watches.close(caller.connection!, p.watch) }),
  }),
] as const;
