/**
 * The registry's operations, once, with their schemas. The WebSocket face dispatches JSON-RPC
 * methods to these; the HTTP face maps routes onto them; OpenRPC and OpenAPI are built from them.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Caller } from '../core/registry.js';
import {
  Address, Id, ListResult, Meta, MemberStatus, MemberView, RegisterParams, RegisterResult, Token,
} from '../schemas/member.js';
import { HubInfo } from '../schemas/hub.js';
import { TreeListParams } from '../schemas/federation.js';
import type { HubContext } from './context.js';

export interface Operation<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly name: string;
  readonly summary: string;
  readonly params: P;
  readonly result: R;
  run(hub: HubContext, params: Static<P>, caller: Caller): Promise<Static<R>> | Static<R>;
}

function op<P extends TSchema, R extends TSchema>(o: Operation<P, R>): Operation<P, R> {
  return o;
}

const MemberRef = { id: Type.String({ minLength: 1, maxLength: 64, description: 'Member id or name' }), token: Type.Optional(Token) };

export const HeartbeatParams = Type.Object(MemberRef, { additionalProperties: false });
export const UpdateMemberParams = Type.Object({ ...MemberRef, address: Type.Optional(Address), meta: Type.Optional(Meta) }, { additionalProperties: false });
export const UnregisterParams = Type.Object(MemberRef, { additionalProperties: false });
export const GetParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 129, description: 'Member name or id, or hub/name for a member of another hub in the tree' }) }, { additionalProperties: false });
export const Empty = Type.Object({}, { additionalProperties: false });

export const operations = [
  op({
    name: 'register',
    summary: 'Register a member; returns its id, its unique name and its token (shown once).',
    params: RegisterParams,
    result: RegisterResult,
    run: (hub, p, caller) => hub.registry.register(p, caller),
  }),
  op({
    name: 'heartbeat',
    summary: 'Tell the hub a ttl member is alive (no disk write).',
    params: HeartbeatParams,
    result: Type.Object({ status: MemberStatus }),
    run: (hub, p, caller) => ({ status: hub.registry.heartbeat(p.id, { ...caller, token: p.token ?? caller.token }) }),
  }),
  op({
    name: 'update',
    summary: "Change a member's address or meta labels.",
    params: UpdateMemberParams,
    result: MemberView,
    run: (hub, p, caller) => hub.registry.update(p.id, { address: p.address, meta: p.meta }, { ...caller, token: p.token ?? caller.token }),
  }),
  op({
    name: 'unregister',
    summary: 'Remove a member (reason: unregistered).',
    params: UnregisterParams,
    result: Type.Object({ ok: Type.Literal(true) }),
    run: async (hub, p, caller) => {
      await hub.registry.unregister(p.id, { ...caller, token: p.token ?? caller.token });
      return { ok: true as const };
    },
  }),
  op({
    name: 'get',
    summary: 'One member by name or id.',
    params: GetParams,
    result: MemberView,
    run: (hub, p) => (p.name.includes('/') ? hub.federation.get(p.name) : hub.registry.get(p.name)),
  }),
  op({
    name: 'list',
    summary: 'Members filtered by type, status, name prefix, meta labels and lifecycle state; paginated by name. `hub` lists another hub of the tree, `subtree` every hub below too.',
    params: TreeListParams,
    result: ListResult,
    run: (hub, p) => (p.hub !== undefined || p.subtree ? hub.federation.list(p) : hub.registry.list(p)),
  }),
  op({
    name: 'info',
    summary: 'Facts about the hub: version, ids, uptime, host, member counts, faces.',
    params: Empty,
    result: HubInfo,
    run: (hub) => hub.info(),
  }),
] as const;

export const operationsByName: ReadonlyMap<string, Operation> = new Map(operations.map((o) => [o.name, o as unknown as Operation]));

export { Id };
