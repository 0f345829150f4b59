/**
 * One operation table per service (registry, bus, control, federation): each operation has a
 * name, a summary, a params schema, a result schema, a handler, and optionally how it is bound
 * to HTTP. The native face serves every operation as a JSON-RPC method and the bound ones as
 * HTTP routes (validated from the params schema); OpenRPC, OpenAPI and the SDK's types come
 * from the same tables, and legacy faces call the same handlers.
 */
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { ReloadResult } from '../../schemas/admin.js';
import type { HubInfo } from '../../schemas/hub.js';
import type { Control } from '../control/control.js';
import type { Drain } from '../drain.js';
import type { Audit } from '../events/audit.js';
import type { Watches } from '../events/watches.js';
import type { Federation } from '../federation/federation.js';
import type { Relay } from '../bus/relay.js';
import type { Caller, Registry } from '../registry/registry.js';
import type { StatsHistory } from '../stats/history.js';
import type { IccpPort } from './iccp-port.js';

/** The core services an operation may use. */
export interface Services {
  readonly registry: Registry;
  readonly bus: Relay;
  readonly control: Control;
  readonly federation: Federation;
  readonly watches: Watches;
  /** The hub's counters over time (stats.history). */
  readonly stats: StatsHistory;
  /** The Saturnin ICCP face's endpoints, when the hub runs it (--iccp). */
  readonly iccp?: IccpPort;
  /** The hub's log; its faces log through children, which follow its level (admin.logLevel). */
  readonly log: Logger;
  /** Records admin actions as events in the log (who, from where, what). */
  readonly audit: Audit;
  /** The hub's drain before a stop (admin.drain); faces refuse new sessions while it is active. */
  readonly drain: Drain;
  info(): HubInfo;
  /** Reads the hub's config again and applies what changed (admin.reload); `by` says who asked, for the log. */
  reloadConfig?(by: string, caller: Caller): Promise<ReloadResult>;
}

export interface HttpBinding {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** fastify-style path; path parameters become params of the same name (or as `rename` says). */
  readonly path: string;
  /** Where the other params come from: the JSON body (default for POST, PUT, PATCH) or the query string. */
  readonly from?: 'body' | 'query' | 'none';
  readonly rename?: Readonly<Record<string, string>>;
  /** Success status (default 200). */
  readonly status?: number;
  /** The HTTP answer is `{[wrap]: result}` (a member's answer can be any JSON value). */
  readonly wrap?: string;
  /** Needs a token (documented in OpenAPI). */
  readonly auth?: boolean;
}

export interface Operation<P extends TSchema = TSchema, R extends TSchema = TSchema, N extends string = string> {
  readonly name: N;
  readonly summary: string;
  readonly params: P;
  readonly result: R;
  /** Only on a connection the hub can reach back (WebSocket): subscriptions, watches, lifecycle messages, hub links. */
  readonly needsConnection?: boolean;
  readonly http?: HttpBinding;
  run(services: Services, params: Static<P>, caller: Caller): Promise<Static<R>> | Static<R>;
}

/** Declares an operation, its params and result typed from its schemas. */
export function op<N extends string, P extends TSchema, R extends TSchema>(o: Operation<P, R, N>): Operation<P, R, N> {
  return o;
}

/** Method name -> params and result types, from operation tables (the SDK's types). */
export type MethodTypes<T extends readonly { name: string; params: TSchema; result: TSchema }[]> = {
  [O in T[number] as O['name']]: { params: Static<O['params']>; result: Static<O['result']> };
};

const NoParams = Type.Object({}, { additionalProperties: false });

/** An operation that takes no params and reads something, bound to `GET path`. */
export function readOp<N extends string, R extends TSchema>(name: N, summary: string, result: R, path: string, run: (s: Services) => Promise<Static<R>> | Static<R>): Operation<TObject, R, N> {
  return op({ name, summary, params: NoParams, result, http: { method: 'GET', path, from: 'none' }, run: (s) => run(s) });
}
