/**
 * Component lifecycle control: Saturnin ICCP's state machine, held by the hub so that controllers
 * drive components across processes and every watcher sees the state. Faces decode messages and
 * hand them here; commands go out through the connection the component sent READY on. Every
 * transition is the table's (lifecycle.ts): this service asks it, then does the I/O (timers,
 * calls, persistence as a `lifecycle` event). None of this is on a hot path. A component has at
 * most one command open at a time, as in ICCP.
 */
import { MusterError } from '../../errors.js';
import type {
  ConfigureResult, Endpoints, GroupConfigureResult, GroupStopResult, LifecycleRecord, LifecycleState, Selector, StopResult,
} from '../../schemas/control.js';
import type { RemovalReason } from '../../schemas/member.js';
import { resultOf, type CallResult, type OpenCall } from './calls.js';
import { Components, HISTORY_LIMIT, stateOf, type Component } from './components.js';
import { Dialects, type DialectRule } from './dialects.js';
import { configureEach, selectComponents, stopEach } from './groups.js';
import { step, type Answer, type Happening, type Kind } from './lifecycle.js';
import { authorizeController, hasRole } from './roles.js';
import type { Connection, ControlAdapter, LifecycleCommand } from '../ports.js';
import type { Caller, Member, Registry } from '../registry/registry.js';
import { ownHistory } from '../registry/member.js';
import { splitAddress } from '../names.js';

export { hasRole, HISTORY_LIMIT };
export type { Answer, CallResult, DialectRule, Kind };

export const DEFAULT_LIFECYCLE_TIMEOUT_MS = 10_000;

/** A command from the hub to one component. */
export type Command = LifecycleCommand;

const LABEL = { configure: 'CONFIGURE', stop: 'STOP' } as const;
const SENT = { configure: 'CONFIGURE sent', stop: 'STOP sent' } as const;

/** A transition the table allows. */
interface Move {
  readonly to: LifecycleState;
  readonly note: string | undefined;
  readonly lastError: string | null | undefined;
}

export interface ControlOptions {
  registry: Registry;
  /** Wait for READY, and default wait for the answer to CONFIGURE and STOP (default 10 s). */
  timeoutMs?: number;
  now?: () => number;
  /** Store failures while persisting a transition (the state in memory stays right). */
  onError?: (err: unknown) => void;
}

export class Control {
  readonly timeoutMs: number;
  readonly #registry: Registry;
  readonly #now: () => number;
  readonly #components: Components;
  readonly #adapters: ControlAdapter[] = [];
  readonly #dialects = new Dialects();
  #nextCall = 1;
  #closed = false;

  constructor(options: ControlOptions) {
    this.#registry = options.registry;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LIFECYCLE_TIMEOUT_MS;
    this.#now = options.now ?? Date.now;
    this.#components = new Components({
      registry: options.registry, now: this.#now, onError: options.onError ?? (() => {}), onLinkClosed: (link) => this.linkClosed(link),
      dialectOf: (m) => this.#dialects.of(m),
    });
    this.#registry.onRegistered((m, again) => this.#registered(m, again));
    this.#registry.onRemoved((m, reason) => this.#removed(m, reason));
  }

  /** After a hub restart: READY waits resume; commands open when it stopped are lost. One scan, at startup. */
  start(): void {
    for (const m of this.#registry.members()) {
      if (!m.lifecycle || !hasRole(m, 'component')) continue;
      const c = this.#components.of(m);
      const move = this.#decide(c, { type: 'hub restarted' });
      if (move) void this.#move(c, move);
      else if (stateOf(c) === 'starting') this.#armReady(c);
    }
  }

  /** Stops every timer; open calls fail with SHUTTING_DOWN. */
  close(): void {
    this.#closed = true;
    for (const c of this.#components.values()) {
      this.#clearReady(c);
      c.calls.take()?.reject?.(new MusterError('SHUTTING_DOWN'));
    }
  }

  /** Configure and stop of components reached through other hubs: installed by the hub (federation). */
  addAdapter(adapter: ControlAdapter): void {
    this.#adapters.push(adapter);
  }

  /** A face's components that follow a real system's rules (ICCP); removed when the face stops. */
  addDialect(rule: DialectRule): () => void {
    this.#dialects.add(rule);
    return () => this.#dialects.remove(rule);
  }

  // ---- Component side -------------------------------------------------------------------

  /** The component a lifecycle message comes from: one registered on this very connection (`name` when it holds several). */
  componentOn(connection: Connection, name: string | undefined): Member {
    return this.#components.on(connection, name);
  }

  /** READY: the component is up and reachable over `link`. */
  ready(member: Member, endpoints: Endpoints, link: Connection): LifecycleState {
    const c = this.#components.sender(member);
    const move = this.#message(c, { type: 'READY' });
    this.#clearReady(c);
    c.readySeen = true;
    this.#components.bind(c, link);
    void this.#move(c, move, { endpoints });
    return move.to;
  }

  /** OK, ERROR or FINISHED from the component: an answer to its call, or (ERROR before READY) its failure to start. */
  answer(member: Member, a: Answer): LifecycleState {
    const c = this.#components.sender(member);
    const call = c.calls.answerable(stateOf(c));
    const move = this.#decide(c, { type: 'answer', answer: a });
    // A row that keeps the state (an ICCP component's unprompted OK): accepted, nothing changes.
    if (!move) return stateOf(c);
    this.#clearReady(c);
    if (call) c.calls.answered(call);
    const done = this.#move(c, move);
    const resolve = call?.resolve;
    if (call && resolve) void done.then(() => resolve(resultOf(c.member.name, call.kind, a, move.to)));
    return move.to;
  }

  /** Its face could not read what the component sent (`reason` says why): a protocol error. */
  badMessage(member: Member, reason: string): never {
    this.#message(this.#components.sender(member), { type: 'bad message', text: reason });
    throw new Error('lifecycle table: a bad message must be refused');
  }

  /** A component sent a message that only goes from the hub (controller) to a component. */
  wrongWay(member: Member, command: Kind): never {
    const c = this.#components.sender(member);
    this.#message(c, { type: command === 'configure' ? 'CONFIGURE from the component' : 'STOP from the component' });
    throw new Error(`lifecycle table: ${LABEL[command]} from a component must be refused`);
  }

  /**
   * For faces that add component members themselves (registry.add): a run starts as register()
   * would start it (again: a new run of a kept member; an open call fails MEMBER_GONE).
   */
  adopt(member: Member, again: boolean): void {
    this.#registered(member, again);
  }

  /** A component that sent READY before is reachable again over `link` (its face's session came back after a hub restart or a reconnect). */
  resume(member: Member, link: Connection): void {
    const c = this.#components.sender(member);
    if (!c.readySeen) return;
    this.#components.bind(c, link);
  }

  /** Its process exited (reported by whoever started it): recorded, and a live run fails. */
  exited(member: Member, text: string): LifecycleState {
    const c = this.#components.sender(member);
    const move = this.#decide(c, { type: 'process exited', text });
    if (!move) return stateOf(c);
    this.#clearReady(c);
    c.calls.forgetLate();
    const open = c.calls.take();
    void this.#move(c, move).then(() => open?.reject?.(new MusterError('MEMBER_GONE', `${c.member.name}: ${move.note}`, { name: c.member.name })));
    return move.to;
  }

  /** The connection a component sent READY on closed: open calls fail with MEMBER_GONE. */
  linkClosed(link: Connection): void {
    for (const c of this.#components.release(link)) {
      const move = this.#decide(c, { type: 'connection lost' });
      c.calls.forgetLate();
      const open = c.calls.take();
      if (!move) continue;
      const gone = () => open?.reject?.(new MusterError('MEMBER_GONE', `${c.member.name}: ${move.note}`, { name: c.member.name }));
      void this.#move(c, move).then(gone);
    }
  }

  // ---- Controller side ------------------------------------------------------------------

  /** Controlling needs the admin token, or a token (or session) of a member with the controller role. */
  authorize(caller: Caller): void {
    authorizeController(this.#registry, caller);
  }

  async configure(name: string, config: Record<string, unknown>, options: { timeoutMs?: number }, caller: Caller): Promise<ConfigureResult> {
    this.authorize(caller);
    return this.command(name, 'configure', config, options.timeoutMs) as Promise<ConfigureResult>;
  }

  async stop(name: string, options: { timeoutMs?: number }, caller: Caller): Promise<StopResult> {
    this.authorize(caller);
    return this.command(name, 'stop', {}, options.timeoutMs) as Promise<StopResult>;
  }

  /**
   * CONFIGURE or STOP to `name` here, or to `hub/name` through the tree. No authority check:
   * callers check it first (configure, stop), or it was checked at the hub the call came from.
   */
  async command(address: string, kind: Kind, config: Record<string, unknown>, timeoutMs: number | undefined): Promise<CallResult> {
    const split = splitAddress(address);
    const name = split.name;
    // A component another hub of the cluster holds is commanded there.
    const hubId = split.hubId ?? this.#registry.find(name)?.attachedTo ?? null;
    if (hubId !== null && hubId !== this.#registry.hubId) {
      const adapter = this.#adapters.find((a) => a.reaches(hubId));
      if (!adapter) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(hubId)}: this hub is not part of a tree`, { hub: hubId });
      return adapter.command(hubId, name, kind, config, timeoutMs) as Promise<CallResult>;
    }
    return this.#command(this.#components.target(name), kind, config, timeoutMs);
  }

  /** Configures every matching component at once; one outcome per member, sorted by name. */
  configureGroup(selector: Selector, config: Record<string, unknown>, options: { timeoutMs?: number }, caller: Caller): Promise<GroupConfigureResult> {
    this.authorize(caller);
    return configureEach(this, selectComponents(this.#registry, selector), config, options, caller);
  }

  stopGroup(selector: Selector, options: { timeoutMs?: number }, caller: Caller): Promise<GroupStopResult> {
    this.authorize(caller);
    return stopEach(this, selectComponents(this.#registry, selector), options, caller);
  }

  /** State, endpoints, last error, open call and history of one component (anyone may read it). */
  lifecycle(name: string): LifecycleRecord {
    const c = this.#components.target(name);
    const lc = c.member.lifecycle!;
    const open = c.calls.open;
    return {
      name: c.member.name, state: lc.state as LifecycleState, endpoints: lc.endpoints, lastError: lc.lastError, since: lc.since,
      connected: c.link !== null,
      pending: open ? { call: open.id, command: open.kind, deadline: open.deadline } : null,
      history: [...c.member.history],
    };
  }

  // ---- Internals ------------------------------------------------------------------------

  #command(c: Component, kind: Kind, config: Record<string, unknown>, timeoutMs: number | undefined): Promise<CallResult> {
    if (this.#closed) throw new MusterError('SHUTTING_DOWN');
    const name = c.member.name;
    const id = `c${this.#nextCall}`;
    const state = stateOf(c);
    const move = this.#decide(c, { type: SENT[kind], call: id });
    if (!move) throw new Error(`lifecycle table: ${LABEL[kind]} sent must move or be refused`);
    const link = c.link;
    if (!link) throw new MusterError('NOT_CONNECTED', `${name} has no open connection to the hub`, { name });
    if (kind === 'configure') this.#dialects.ruleOf(c.member)?.checkConfig?.(config);
    this.#nextCall++;
    const ms = timeoutMs ?? this.#dialects.timeout(c.member, kind, this.timeoutMs);
    return new Promise<CallResult>((resolve, reject) => {
      const open: OpenCall = { id, kind, from: state, deadline: this.#now() + ms, timeoutMs: ms, resolve, reject };
      c.calls.begin(open, (call) => this.#timedOut(c, call));
      void this.#move(c, move);
      link.deliver({ type: 'command', command: kind === 'configure' ? { type: 'configure', name, call: id, config } : { type: 'stop', name, call: id } });
    });
  }

  #timedOut(c: Component, open: OpenCall): void {
    const move = this.#decide(c, { type: 'no answer in time' });
    const reject = c.calls.expire(open);
    if (!move) return;
    const timeout = () => reject?.(new MusterError('TIMEOUT', `${c.member.name}: ${move.note}`, { name: c.member.name, timeoutMs: open.timeoutMs }));
    void this.#move(c, move).then(timeout);
  }

  /** The table's move for a component's own message; refusals and protocol errors are thrown to the sender. */
  #message(c: Component, h: Happening): Move {
    const move = this.#decide(c, h);
    if (!move) throw new Error(`lifecycle table: no row for ${h.type} in state ${stateOf(c)}`);
    return move;
  }

  /** Asks the table. Protocol errors fail the component and throw; refusals throw; null: nothing changes. */
  #decide(c: Component, h: Happening): Move | null {
    const s = step(this.#components.situation(c), h);
    const name = c.member.name;
    switch (s.type) {
      case 'move': return s;
      case 'stay': return null;
      case 'invalid-state': {
        const state = stateOf(c);
        throw new MusterError('INVALID_STATE', `${name} is ${state}; ${LABEL[s.kind]} needs ${s.needs}`, { name, state });
      }
      case 'refused': throw new MusterError('PROTOCOL_ERROR', s.reason, { name, reason: 'failed' });
      case 'protocol-error': this.#protocolError(c, s);
    }
  }

  /** Fails the component, fails any waiting controller call, and throws to the sender. */
  #protocolError(c: Component, fail: { readonly reason: string; readonly to: LifecycleState; readonly note: string }): never {
    const { name } = c.member;
    const { reason } = fail;
    this.#clearReady(c);
    c.calls.forgetLate();
    const open = c.calls.take();
    const done = this.#components.transition(c, fail.to, fail.note, { lastError: fail.note });
    if (open) void done.then(() => open.reject?.(new MusterError('PROTOCOL_ERROR', `${name}: ${reason}`, { name, reason })));
    throw new MusterError('PROTOCOL_ERROR', reason, { name, reason });
  }

  #registered(member: Member, again: boolean): void {
    const old = this.#components.kept(member.id);
    if (old) {
      this.#clearReady(old);
      old.calls.take()?.reject?.(new MusterError('MEMBER_GONE', `${member.name} registered again (a new run) while a command was open`, { name: member.name }));
      this.#components.drop(old);
    }
    if (!hasRole(member, 'component')) return;
    const c = this.#components.of(member);
    c.readySeen = false;
    // A first registration comes from no state, whatever the registry already wrote.
    const s = again ? this.#components.situation(c) : { state: null, readySeen: false, lastError: null, call: null, dialect: this.#dialects.of(member) };
    const move = step(s, { type: again ? 'registered again' : 'registered' });
    if (move.type !== 'move') throw new Error('lifecycle table: registering must start a run');
    if (again || !member.lifecycle) void this.#move(c, move, { endpoints: {} });
    // The registry stored the state with the registration; only the history entry is the service's.
    else ownHistory(member).push({ at: member.lifecycle.since, from: null, to: move.to, note: move.note ?? 'registered' });
    this.#armReady(c);
  }

  #removed(member: Member, reason: RemovalReason): void {
    const c = this.#components.kept(member.id);
    if (!c || c.member !== member) return;
    this.#clearReady(c);
    c.calls.take()?.reject?.(new MusterError('MEMBER_GONE', `${member.name} was removed (${reason}) while a command was open`, { name: member.name, reason }));
    this.#components.drop(c);
  }

  #armReady(c: Component): void {
    this.#clearReady(c);
    const ms = this.#dialects.timeout(c.member, 'ready', this.timeoutMs);
    c.readyTimer = setTimeout(() => {
      c.readyTimer = null;
      if (this.#components.kept(c.member.id) !== c) return;
      const move = this.#decide(c, { type: 'no READY in time', ms });
      if (move) void this.#move(c, move);
    }, ms);
    c.readyTimer.unref();
  }

  #clearReady(c: Component): void {
    if (c.readyTimer) clearTimeout(c.readyTimer);
    c.readyTimer = null;
  }

  #move(c: Component, move: Move, patch: { endpoints?: Endpoints } = {}): Promise<void> {
    return this.#components.transition(c, move.to, move.note, move.lastError === undefined ? patch : { ...patch, lastError: move.lastError });
  }
}
