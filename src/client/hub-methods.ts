/**
 * The hub's methods as the SDK types them: names, params and results come from the core's
 * operation tables (type-only, so no core code reaches a browser bundle). The one place in the
 * SDK that imports from the core.
 */
import type { HubMethods } from '../core/operations/index.js';
import type { RpcConnection } from './rpc-connection.js';

export type { HubMethods };

/** A method of the hub's operation tables. */
export type HubMethod = keyof HubMethods;
export type MethodParams<M extends HubMethod> = HubMethods[M]['params'];
export type MethodResult<M extends HubMethod> = HubMethods[M]['result'];

/** A name outside the tables (system.*, rpc.discover, bus.format, a newer hub's methods): called untyped. */
export type OtherMethod<M extends string> = Exclude<M, HubMethod>;

/**
 * Methods the hub answers without waiting on another member or a timer of the caller's: a turn's
 * calls of these leave as one JSON-RPC batch (rpc-connection.ts), which the hub answers once all
 * of them are done. A heartbeat batched with a registration waits for its commit (a sync at
 * `--sync full`); a request, a control call or a read is never held so.
 */
export const BATCHED_METHODS: ReadonlySet<string> = new Set<HubMethod>(['register', 'unregister', 'update', 'heartbeat']);

/** One call on one connection, typed from the tables (the hub's handlers are typed by the same schemas). */
export function callHub<M extends HubMethod>(conn: RpcConnection, method: M, params: MethodParams<M>, timeoutMs: number): Promise<MethodResult<M>> {
  return conn.call(method, params, timeoutMs) as Promise<MethodResult<M>>;
}
