/**
 * JSON-RPC methods of the WebSocket face itself, beside the services' operations: presenting a
 * token, choosing the bus's binary format, and the API describing itself (system.*, OpenRPC).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MusterError } from '../../errors.js';
import { HubInfo } from '../../schemas/hub.js';
import { Token } from '../../schemas/member.js';
import { NOTIFICATIONS } from '../../schemas/notifications.js';
import type { HubContext } from '../context.js';
import type { WsConnection } from './ws-connection.js';

/** A JSON-RPC method of the WebSocket face. */
export interface WsMethod<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly name: string;
  readonly summary: string;
  readonly params: P;
  readonly result: R;
  run(conn: WsConnection, params: Static<P>): Promise<Static<R>> | Static<R>;
}

export function wsMethod<P extends TSchema, R extends TSchema>(m: WsMethod<P, R>): WsMethod<P, R> {
  return m;
}

/** `{name}` or, as many JSON-RPC clients send it, `[name]`. */
export const MethodName = Type.Object({ name: Type.String({ maxLength: 128 }) });

/** TypeBox schemas are JSON Schema plus symbol keys; a JSON round trip drops the symbols. */
export const plain = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));

export function faceMethods(hub: HubContext, methods: () => ReadonlyMap<string, WsMethod>): WsMethod[] {
  const find = (name: string): WsMethod => {
    const m = methods().get(name);
    if (!m) throw new MusterError('METHOD_NOT_FOUND', `No method ${JSON.stringify(name.slice(0, 80))}`);
    return m;
  };
  return [
    wsMethod({
      name: 'auth', summary: 'Present a token (admin or member) for the rest of this connection.',
      params: Type.Object({ token: Token }, { additionalProperties: false }), result: Type.Object({ admin: Type.Boolean() }),
      run: (conn, p) => { conn.token = p.token; return { admin: hub.registry.isAdmin(p.token) }; },
    }),
    wsMethod({
      name: 'bus.format', summary: 'binary: true makes bus deliveries to this connection binary frames (the bus binary format) instead of bus.message notifications.',
      params: Type.Object({ binary: Type.Boolean() }, { additionalProperties: false }), result: Type.Object({ binary: Type.Boolean() }),
      run: (conn, p) => { conn.setBusBinary(p.binary); return { binary: conn.busBinary }; },
    }),
    wsMethod({
      name: 'system.getProperties', summary: 'Facts about the hub (same as info).', params: Type.Object({}), result: HubInfo,
      run: () => hub.info(),
    }),
    wsMethod({
      name: 'system.listMethods', summary: 'Names of every method.', params: Type.Object({}), result: Type.Array(Type.String()),
      run: () => [...methods().keys()].sort(),
    }),
    wsMethod({
      name: 'system.methodHelp', summary: "A method's description. Params: {name} or [name].", params: MethodName, result: Type.String(),
      run: (_c, p) => find(p.name).summary,
    }),
    wsMethod({
      name: 'system.methodSignature', summary: "A method's params and result as JSON Schema. Params: {name} or [name].", params: MethodName,
      result: Type.Object({ params: Type.Unknown(), result: Type.Unknown() }),
      run: (_c, p) => { const m = find(p.name); return { params: plain(m.params), result: plain(m.result) }; },
    }),
    wsMethod({
      name: 'rpc.discover', summary: 'This API as an OpenRPC document (hub-to-client notifications under x-notifications).', params: Type.Object({}), result: Type.Unknown(),
      run: () => openRpc(hub.info().version, [...methods().values()]),
    }),
  ];
}

function openRpc(version: string, methods: WsMethod[]): unknown {
  return {
    openrpc: '1.2.6',
    info: { title: 'muster hub WebSocket API', version, description: 'JSON-RPC 2.0 at /v1/ws. Errors carry muster codes in error.data.code.' },
    methods: methods.map((m) => {
      const params = plain(m.params) as { properties?: Record<string, unknown>; required?: string[] };
      return {
        name: m.name,
        summary: m.summary,
        paramStructure: 'by-name',
        params: Object.entries(params.properties ?? {}).map(([name, schema]) => ({ name, schema, required: (params.required ?? []).includes(name) })),
        result: { name: 'result', schema: plain(m.result) },
      };
    }),
    'x-notifications': NOTIFICATIONS.map((n) => ({ name: n.method, summary: n.summary, params: plain(n.params) })),
  };
}
