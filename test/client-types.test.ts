/**
 * The SDK's types against the operation tables. The compile-time half fails `npm run typecheck`
 * when a method's params or result drift from the table (or when the SDK's own methods stop
 * matching it); the run-time half checks that a real hub's answers fit the result schemas the
 * types come from.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import {
  component, connect, controller, type Bus, type Controller, type Endpoints, type HubMethod, type HubMethods, type ListResult, type MemberStatus,
  type MemberView, type MethodParams, type MethodResult, type MusterClient, type RegisterOptions, type RegisterResult,
  type TreeListParams, type WatchFilter, type EventsFor, type HubEvent, type RegistryEvent,
} from '../src/client/index.js';
import { operationsByName } from '../src/core/operations/index.js';
import { startHub, type TestHub } from './support/hub.js';

// ---- compile time ----

/** True only when X and Y are the same type (not merely assignable). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false;
type Expect<T extends true> = T;
type Result<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

/** What a watch yields: admin events (no member) only when its filter's types may list them. */
export type WatchYields = [
  Expect<Equal<EventsFor<Record<never, never>>, RegistryEvent>>,
  Expect<Equal<EventsFor<{ types: 'admin'[] }>, HubEvent>>,
  Expect<Equal<EventsFor<{ types: ('added' | 'removed')[]; name: string }>, RegistryEvent>>,
  Expect<Equal<EventsFor<WatchFilter>, HubEvent>>,
];

/** The SDK's own methods say what the table says. */
export type SdkMatchesTable = [
  Expect<Equal<Result<MusterClient['register']>, MethodResult<'register'>>>,
  Expect<Equal<RegisterOptions, Omit<MethodParams<'register'>, 'token'>>>,
  Expect<Equal<Result<MusterClient['get']>, MethodResult<'get'>>>,
  Expect<Equal<NonNullable<Parameters<MusterClient['list']>[0]>, MethodParams<'list'>>>,
  Expect<Equal<Result<MusterClient['list']>, MethodResult<'list'>>>,
  Expect<Equal<Result<MusterClient['update']>, MethodResult<'update'>>>,
  Expect<Equal<Parameters<MusterClient['update']>[1], Omit<MethodParams<'update'>, 'id' | 'token'>>>,
  Expect<Equal<Result<MusterClient['heartbeat']>, MethodResult<'heartbeat'>['status']>>,
  Expect<Equal<Result<MusterClient['info']>, MethodResult<'info'>>>,
  Expect<Equal<NonNullable<Parameters<MusterClient['watch']>[0]>, NonNullable<MethodParams<'watch'>['filter']>>>,
  // Bus sends are fire-and-forget (refusals reach flush() and onError); the acknowledged forms are call('bus.publish' | ...).
  Expect<Equal<ReturnType<Bus['publish']>, boolean>>,
  Expect<Equal<ReturnType<Bus['broadcast']>, boolean>>,
  Expect<Equal<ReturnType<Bus['send']>, boolean>>,
  Expect<Equal<Result<Controller['configure']>, MethodResult<'control.configure'>>>,
  Expect<Equal<Result<Controller['stop']>, MethodResult<'control.stop'>>>,
  Expect<Equal<Result<Controller['lifecycle']>, MethodResult<'control.lifecycle'>>>,
  Expect<Equal<Result<Controller['configureGroup']>, MethodResult<'control.configureGroup'>>>,
  Expect<Equal<Result<Controller['stopGroup']>, MethodResult<'control.stopGroup'>>>,
  Expect<Equal<Endpoints, NonNullable<MethodParams<'lifecycle.ready'>['endpoints']>>>,
  // The names the SDK re-exports are the table's types.
  Expect<Equal<RegisterResult, HubMethods['register']['result']>>,
  Expect<Equal<MemberView, HubMethods['get']['result']>>,
  Expect<Equal<ListResult, HubMethods['list']['result']>>,
  Expect<Equal<TreeListParams, HubMethods['list']['params']>>,
  Expect<Equal<MemberStatus, HubMethods['heartbeat']['result']['status']>>,
  Expect<Equal<WatchFilter, NonNullable<HubMethods['watch']['params']['filter']>>>,
  // Every method the SDK relies on is in the table.
  Expect<Equal<'register' | 'get' | 'list' | 'watch' | 'unwatch' | 'bus.subscribe' | 'lifecycle.ready' | 'control.stop' extends HubMethod ? true : false, true>>,
];

/** Typed calls: never run, only compiled. Each @ts-expect-error fails the typecheck when the line stops being an error. */
export async function typedCalls(c: MusterClient, method: string): Promise<void> {
  const reg: RegisterResult = await c.call('register', { type: 'sensor', liveness: { kind: 'ttl', ttlMs: 5000 }, meta: { room: 'b2' } });
  const view: MemberView = await c.call('get', { name: reg.name }, { timeoutMs: 1000 });
  const listed: ListResult = await c.call('list', { type: 'sensor', subtree: true });
  const beat: { status: MemberStatus } = await c.call('heartbeat', { id: reg.id, token: reg.token });
  const opened: { watch: number; revision: number } = await c.call('watch', { filter: { type: 'sensor' }, since: 3 });
  const sent: { seq: number; delivered: number } = await c.call('bus.publish', { scope: '/a/', data: { x: 1 } });
  const sub: { subscription: number; scope: string } = await c.call('bus.subscribe', { scope: '/a/', echo: true });
  const stopped = await c.call('control.stop', { name: 'worker-1', timeoutMs: 500 });
  const outcome: 'OK' | 'ERROR' = stopped.outcome;
  const answer: unknown = await c.call('bus.request', { to: 'calc', method: 'add', params: { a: 1 } });
  // Outside the table: untyped, the caller says what it expects.
  const names = await c.call<string[]>('system.listMethods', {});
  const doc: unknown = await c.call('rpc.discover');
  const dynamic = await c.call<{ state: string }>(method, {});
  void [view, listed, beat, opened, sent, sub, outcome, answer, names, doc, dynamic];

  // @ts-expect-error register needs a type
  await c.call('register', { name: 'x' });
  // @ts-expect-error a liveness the table does not know
  await c.call('register', { type: 'x', liveness: 'forever' });
  // @ts-expect-error get takes { name }, not { id }
  await c.call('get', { id: 'm1' });
  // @ts-expect-error a field the table does not have
  await c.call('get', { name: 'a', verbose: true });
  // @ts-expect-error heartbeat's id is a string
  await c.call('heartbeat', { id: 7 });
  // @ts-expect-error watch's since is a revision number
  await c.call('watch', { since: 'now' });
  // @ts-expect-error publish needs a scope
  await c.call('bus.publish', { data: 1 });
  // @ts-expect-error configure's config is an object
  await c.call('control.configure', { name: 'w', config: 5 });
  // @ts-expect-error params are required for table methods
  await c.call('info');

  // @ts-expect-error get answers a MemberView, not a RegisterResult
  const wrongView: RegisterResult = await c.call('get', { name: 'a' });
  // @ts-expect-error heartbeat answers { status }
  const wrongBeat: MemberStatus = await c.call('heartbeat', { id: 'a' });
  // @ts-expect-error list answers { members, ... }, not an array
  const wrongList: MemberView[] = await c.call('list', {});
  // @ts-expect-error control.stop's outcome is OK or ERROR
  const wrongOutcome: 'UNKNOWN' = (await c.call('control.stop', { name: 'w' })).outcome;
  void [wrongView, wrongBeat, wrongList, wrongOutcome];
}

// ---- run time ----

/** The result schema a table method's answer must fit. */
function fits<M extends HubMethod>(method: M, value: MethodResult<M>): void {
  const schema = operationsByName.get(method)!.result;
  const errors = [...Value.Errors(schema, value)].map((e) => `${e.path} ${e.message}`);
  assert.deepEqual(errors, [], `${method}: ${JSON.stringify(value)}`);
}

describe('client types - a real hub answers what the types say', () => {
  let h: TestHub;
  let c: MusterClient;
  before(async () => {
    h = await startHub();
    c = await connect({ url: h.url });
  });
  after(async () => {
    await c.close();
    await h.stop();
  });

  test('client types - registry methods answer their result schemas', async () => {
    const reg = await c.call('register', { type: 'typed', name: 'typed-a', liveness: { kind: 'ttl', ttlMs: 5000 }, meta: { room: 'b2' } });
    fits('register', reg);
    fits('get', await c.call('get', { name: reg.name }));
    fits('list', await c.call('list', { type: 'typed' }));
    fits('heartbeat', await c.call('heartbeat', { id: reg.id, token: reg.token }));
    fits('update', await c.call('update', { id: reg.id, token: reg.token, address: 'tcp://10.0.0.1:1' }));
    fits('info', await c.call('info', {}));
    const w = await c.call('watch', { filter: { type: 'typed' } });
    fits('watch', w);
    fits('unwatch', await c.call('unwatch', { watch: w.watch }));
    fits('unregister', await c.call('unregister', { id: reg.id, token: reg.token }));
  });

  test('client types - bus and tree methods answer their result schemas; the SDK wrappers return the same', async () => {
    await c.register({ type: 'typed', name: 'typed-bus' });
    const s = await c.call('bus.subscribe', { scope: '/typed/' });
    fits('bus.subscribe', s);
    fits('bus.publish', await c.call('bus.publish', { scope: '/typed/', data: 1 }));
    fits('bus.publish', await c.call('bus.publish', { scope: '/typed/', bytes: 'AQI=' }));
    fits('bus.broadcast', await c.call('bus.broadcast', { data: 'hello' }));
    fits('bus.stats', await c.call('bus.stats', {}));
    fits('bus.unsubscribe', await c.call('bus.unsubscribe', { subscription: s.subscription }));
    fits('hub.tree', await c.call('hub.tree', {}));
  });

  test('client types - lifecycle methods answer their result schemas', async () => {
    const comp = await component(c, { type: 'typed-worker', name: 'typed-w' });
    await comp.ready({ data: ['tcp://10.0.0.5:9000'] });
    assert.equal(comp.state, 'ready', 'the typed ack carried the state');
    fits('control.lifecycle', await controller(c).lifecycle(comp.name));
    fits('control.lifecycle', await c.call('control.lifecycle', { name: comp.name }));
  });
});
