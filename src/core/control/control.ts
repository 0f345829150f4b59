/**
 * Component lifecycle control: Saturnin ICCP's state machine, held by the hub so that controllers
 * drive components across processes and every watcher sees the state. Pure logic and timers:
 * faces decode messages and hand them here; commands go out through the ComponentLink the face
 * bound at READY. Each transition is persisted with the member (a `lifecycle` event); none of
 * this is on a hot path. A component has at most one command open at a time, as in ICCP.
 */
import { MusterError } from '../../errors.js';
import type {
  ConfigureResult, Endpoints, GroupConfigureResult, GroupStopResult, LifecycleRecord, LifecycleState, Selector, StopResult, Transition,
} from '../../schemas/control.js';
import type { RemovalReason } from '../../schemas/member.js';
import { configureEach, selectComponents, stopEach } from './groups.js';
import { authorizeController, hasRole } from './roles.js';
import type { Connection, ControlAdapter, LifecycleCommand } from '../ports.js';
import type { Caller, Member, Registry } from '../registry/registry.js';
import { splitAddress } from '../names.js';

export { hasRole };

export const HISTORY_LIMIT = 50;
export const DEFAULT_LIFECYCLE_TIMEOUT_MS = 10_000;

/** A command from the hub to one component. */
export type Command = LifecycleCommand;

/** A component's answer to a command (or, for `error` before READY, its failure to start). */
export type Answer =
  | { type: 'ok'; call?: string }
  | { type: 'error'; call?: string; text: string }
  | { type: 'finished'; call?: string; outcome: 'OK' | 'ERROR' | 'UNKNOWN'; details?: string[] };

export type Kind = Command['type'];
export type CallResult = ConfigureResult | StopResult;

const LABEL = { ok: 'OK', error: 'ERROR', finished: 'FINISHED', configure: 'CONFIGURE', stop: 'STOP' } as const;

interface OpenCall {
  readonly call: string;
  readonly kind: Kind;
  /** State to return to when the component answers a CONFIGURE with ERROR. */
  readonly from: LifecycleState;
  readonly deadline: number;
  readonly timeoutMs: number;
  timer: NodeJS.Timeout | null;
  resolve?(result: CallResult): void;
  reject?(err: MusterError): void;
}

interface Component {
  readonly member: Member;
  /** The connection it sent READY on: commands go out through it. */
  link: Connection | null;
  readySeen: boolean;
  open: OpenCall | null;
  /** The call that timed out: its late answer is still taken (unresponsive -> answered state). */
  late: OpenCall | null;
  readyTimer: NodeJS.Timeout | null;
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
  readonly #onError: (err: unknown) => void;
  readonly #components = new Map<string, Component>();
  readonly #byLink = new Map<Connection, Set<Component>>();
  readonly #watchedLinks = new WeakSet<Connection>();
  readonly #adapters: ControlAdapter[] = [];
  #nextCall = 1;
  #closed = false;

  constructor(options: ControlOptions) {
    this.#registry = options.registry;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LIFECYCLE_TIMEOUT_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#registry.onRegistered((m, again) => this.#registered(m, again));
    this.#registry.onRemoved((m, reason) => this.#removed(m, reason));
  }

  /** After a hub restart: READY waits resume; commands open when it stopped are lost. One scan, at startup. */
  start(): void {
    for (const m of this.#registry.members()) {
      if (!m.lifecycle || !hasRole(m, 'component')) continue;
      const c = this.#record(m);
      const state = m.lifecycle.state;
      if (state === 'starting') this.#armReady(c);
      else if (state === 'configuring' || state === 'stopping') {
        const text = `the hub restarted while ${state}`;
        void this.#transition(c, 'unresponsive', text, { lastError: text });
      }
    }
  }

  /** Stops every timer; open calls fail with SHUTTING_DOWN. */
  close(): void {
    this.#closed = true;
    for (const c of this.#components.values()) {
      this.#clearReady(c);
      this.#takeOpen(c)?.reject?.(new MusterError('SHUTTING_DOWN'));
    }
  }

  /** Configure and stop of components reached through other hubs: installed by the hub (federation). */
  addAdapter(adapter: ControlAdapter): void {
    this.#adapters.push(adapter);
  }

  // ---- Component side -------------------------------------------------------------------

  /** The component a lifecycle message comes from: one registered on this very connection (`name` when it holds several). */
  componentOn(connection: Connection, name: string | undefined): Member {
    const members = this.#registry.connectionMembers(connection);
    if (name !== undefined) {
      const m = this.#registry.find(name);
      if (!m || !members.has(m)) throw new MusterError('FORBIDDEN', `${name} is not registered on this connection`, { name });
      return m;
    }
    let found: Member | undefined;
    for (const m of members) {
      if (!hasRole(m, 'component')) continue;
      if (found) throw new MusterError('INVALID_PARAMS', 'This connection holds several components: say which with "name"');
      found = m;
    }
    if (!found) throw new MusterError('FORBIDDEN', 'No component is registered on this connection: register with roles ["component"] first');
    return found;
  }

  /** READY: the component is up and reachable over `link`. */
  ready(member: Member, endpoints: Endpoints, link: Connection): LifecycleState {
    const c = this.#component(member);
    this.#assertAlive(c, 'READY');
    if (c.readySeen) this.#protocolError(c, 'a second READY');
    this.#clearReady(c);
    c.readySeen = true;
    this.#bind(c, link);
    const late = c.member.lifecycle!.state === 'unresponsive';
    void this.#transition(c, 'ready', late ? 'late READY' : undefined, { endpoints });
    return 'ready';
  }

  /** OK, ERROR or FINISHED from the component. */
  answer(member: Member, a: Answer): LifecycleState {
    const c = this.#component(member);
    const label = LABEL[a.type];
    this.#assertAlive(c, label);
    if (!c.readySeen) {
      if (a.type === 'error' && a.call === undefined) {
        this.#clearReady(c);
        void this.#transition(c, 'failed', 'could not start', { lastError: a.text });
        return 'failed';
      }
      this.#protocolError(c, `${label} before READY`);
    }
    const open = c.open;
    if (open) {
      if (a.call !== undefined && a.call !== open.call) this.#protocolError(c, `${label} for call ${a.call}, but the open call is ${open.call}`);
      return this.#settle(c, open, a, false);
    }
    const late = c.late;
    if (late && c.member.lifecycle!.state === 'unresponsive' && (a.call === undefined || a.call === late.call)) {
      return this.#settle(c, late, a, true);
    }
    this.#protocolError(c, `${label} answers nothing: no CONFIGURE or STOP is open`);
  }

  /** A component sent a message that only goes from the hub (controller) to a component. */
  wrongWay(member: Member, command: Kind): never {
    const c = this.#component(member);
    this.#assertAlive(c, LABEL[command]);
    this.#protocolError(c, `${LABEL[command]} goes from the hub to a component, never back`);
  }

  /** The connection a component sent READY on closed: open calls fail with MEMBER_GONE. */
  linkClosed(link: Connection): void {
    const set = this.#byLink.get(link);
    if (!set) return;
    this.#byLink.delete(link);
    for (const c of set) {
      c.link = null;
      c.late = null;
      const open = this.#takeOpen(c);
      if (!open) continue;
      const text = `connection lost during ${LABEL[open.kind]}`;
      void this.#transition(c, 'failed', text, { lastError: text })
        .then(() => open.reject?.(new MusterError('MEMBER_GONE', `${c.member.name}: ${text}`, { name: c.member.name })));
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
    const { hubId, name } = splitAddress(address);
    if (hubId !== null && hubId !== this.#registry.hubId) {
      const adapter = this.#adapters.find((a) => a.reaches(hubId));
      if (!adapter) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(hubId)}: this hub is not part of a tree`, { hub: hubId });
      return adapter.command(hubId, name, kind, config, timeoutMs) as Promise<CallResult>;
    }
    return this.#command(this.#target(name), kind, config, timeoutMs);
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
    const c = this.#target(name);
    const lc = c.member.lifecycle!;
    const open = c.open;
    return {
      name: c.member.name, state: lc.state as LifecycleState, endpoints: lc.endpoints, lastError: lc.lastError, since: lc.since,
      connected: c.link !== null,
      pending: open ? { call: open.call, command: open.kind, deadline: open.deadline } : null,
      history: [...historyOf(c.member)],
    };
  }

  // ---- Internals ------------------------------------------------------------------------

  #command(c: Component, kind: Kind, config: Record<string, unknown>, timeoutMs: number | undefined): Promise<CallResult> {
    if (this.#closed) throw new MusterError('SHUTTING_DOWN');
    const name = c.member.name;
    const state = this.#stateOf(c);
    const allowed = state === 'ready' || state === 'configured' || (kind === 'stop' && state === 'unresponsive' && c.readySeen);
    if (!allowed) {
      const needs = kind === 'configure' ? 'ready or configured' : 'ready, configured or unresponsive after READY';
      throw new MusterError('INVALID_STATE', `${name} is ${state}; ${LABEL[kind]} needs ${needs}`, { name, state });
    }
    const link = c.link;
    if (!link) throw new MusterError('NOT_CONNECTED', `${name} has no open connection to the hub`, { name });
    const ms = timeoutMs ?? this.timeoutMs;
    const call = `c${this.#nextCall++}`;
    return new Promise<CallResult>((resolve, reject) => {
      const open: OpenCall = { call, kind, from: state, deadline: this.#now() + ms, timeoutMs: ms, timer: null, resolve, reject };
      open.timer = setTimeout(() => this.#timedOut(c, open), ms);
      open.timer.unref();
      c.open = open;
      c.late = null;
      void this.#transition(c, kind === 'configure' ? 'configuring' : 'stopping', `${LABEL[kind]} ${call}`);
      link.deliver({ type: 'command', command: kind === 'configure' ? { type: 'configure', name, call, config } : { type: 'stop', name, call } });
    });
  }

  /** Applies an answer to the call it answers (open, or late after a timeout). */
  #settle(c: Component, call: OpenCall, a: Answer, late: boolean): LifecycleState {
    if (call.kind === 'configure' && a.type === 'finished') this.#protocolError(c, 'FINISHED does not answer CONFIGURE');
    if (call.kind === 'stop' && a.type === 'ok') this.#protocolError(c, 'OK does not answer STOP');
    if (late) c.late = null;
    else this.#takeOpen(c);
    const name = c.member.name;
    const prefix = late ? `late answer to ${LABEL[call.kind]} ${call.call}: ` : '';
    let to: LifecycleState;
    let note: string;
    let lastError: string | undefined;
    let result: CallResult;
    if (a.type === 'ok') {
      to = 'configured';
      note = `${prefix}OK`;
      result = { name, ok: true, state: to };
    } else if (a.type === 'error' && call.kind === 'configure') {
      to = call.from === 'configured' ? 'configured' : 'ready';
      lastError = a.text;
      note = `${prefix}CONFIGURE failed: ${a.text}`;
      result = { name, ok: false, error: a.text, state: to };
    } else if (a.type === 'error') {
      to = 'failed';
      lastError = a.text;
      note = `${prefix}STOP failed: ${a.text}`;
      result = { name, outcome: 'ERROR', details: [a.text], state: to };
    } else {
      const outcome = a.outcome === 'ERROR' ? 'ERROR' : 'OK';
      const details = a.details ?? [];
      to = 'finished';
      if (outcome === 'ERROR') lastError = details.join('; ') || 'finished with outcome ERROR';
      note = `${prefix}FINISHED ${outcome}`;
      result = { name, outcome, details, state: to };
    }
    const done = this.#transition(c, to, note, lastError === undefined ? {} : { lastError });
    if (call.resolve) void done.then(() => call.resolve?.(result));
    return to;
  }

  #timedOut(c: Component, open: OpenCall): void {
    if (c.open !== open) return;
    c.open = null;
    open.timer = null;
    c.late = open;
    const text = `no answer to ${LABEL[open.kind]} within ${open.timeoutMs} ms`;
    const reject = open.reject;
    open.resolve = undefined;
    open.reject = undefined;
    void this.#transition(c, 'unresponsive', text, { lastError: text })
      .then(() => reject?.(new MusterError('TIMEOUT', `${c.member.name}: ${text}`, { name: c.member.name, timeoutMs: open.timeoutMs })));
  }

  /** Fails the component, fails any waiting controller call, and throws to the sender. */
  #protocolError(c: Component, reason: string): never {
    const name = c.member.name;
    const text = `protocol error: ${reason}`;
    this.#clearReady(c);
    c.late = null;
    const open = this.#takeOpen(c);
    const done = this.#transition(c, 'failed', text, { lastError: text });
    if (open) void done.then(() => open.reject?.(new MusterError('PROTOCOL_ERROR', `${name}: ${reason}`, { name, reason })));
    throw new MusterError('PROTOCOL_ERROR', reason, { name, reason });
  }

  /** After a protocol error (or a failed start or stop) the run is over: register again for a new one. */
  #assertAlive(c: Component, label: string): void {
    if (this.#stateOf(c) !== 'failed') return;
    const name = c.member.name;
    throw new MusterError('PROTOCOL_ERROR', `${label} from a failed component (${c.member.lifecycle!.lastError ?? 'failed'}); register again to start a new run`, { name, reason: 'failed' });
  }

  #registered(member: Member, again: boolean): void {
    const old = this.#components.get(member.id);
    if (old) {
      this.#clearReady(old);
      this.#unbind(old);
      this.#takeOpen(old)?.reject?.(new MusterError('MEMBER_GONE', `${member.name} registered again (a new run) while a command was open`, { name: member.name }));
      this.#components.delete(member.id);
    }
    if (!hasRole(member, 'component')) return;
    const c = this.#record(member);
    c.readySeen = false;
    if (again || !member.lifecycle) void this.#transition(c, 'starting', again ? 'registered again: a new run' : 'registered', { endpoints: {}, lastError: null });
    else historyOf(member).push({ at: member.lifecycle.since, from: null, to: 'starting', note: 'registered' });
    this.#armReady(c);
  }

  #removed(member: Member, reason: RemovalReason): void {
    const c = this.#components.get(member.id);
    if (!c || c.member !== member) return;
    this.#clearReady(c);
    this.#unbind(c);
    this.#takeOpen(c)?.reject?.(new MusterError('MEMBER_GONE', `${member.name} was removed (${reason}) while a command was open`, { name: member.name, reason }));
    this.#components.delete(member.id);
  }

  #armReady(c: Component): void {
    this.#clearReady(c);
    const ms = this.timeoutMs;
    c.readyTimer = setTimeout(() => {
      c.readyTimer = null;
      if (this.#components.get(c.member.id) !== c || c.readySeen || this.#stateOf(c) !== 'starting') return;
      const text = `no READY within ${ms} ms`;
      void this.#transition(c, 'unresponsive', text, { lastError: text });
    }, ms);
    c.readyTimer.unref();
  }

  #clearReady(c: Component): void {
    if (c.readyTimer) clearTimeout(c.readyTimer);
    c.readyTimer = null;
  }

  #takeOpen(c: Component): OpenCall | null {
    const open = c.open;
    if (!open) return null;
    if (open.timer) clearTimeout(open.timer);
    c.open = null;
    return open;
  }

  #bind(c: Component, link: Connection): void {
    this.#unbind(c);
    c.link = link;
    if (!this.#watchedLinks.has(link)) {
      this.#watchedLinks.add(link);
      link.onClose(() => this.linkClosed(link));
    }
    let set = this.#byLink.get(link);
    if (!set) this.#byLink.set(link, (set = new Set()));
    set.add(c);
  }

  #unbind(c: Component): void {
    if (!c.link) return;
    const set = this.#byLink.get(c.link);
    set?.delete(c);
    if (set?.size === 0) this.#byLink.delete(c.link);
    c.link = null;
  }

  /** The live component record for a member that is a component (FORBIDDEN otherwise). */
  #component(member: Member): Component {
    if (!member.lifecycle || !hasRole(member, 'component')) {
      throw new MusterError('FORBIDDEN', `${member.name} is not a component: register with roles ["component"]`, { name: member.name });
    }
    return this.#record(member);
  }

  #target(name: string): Component {
    const m = this.#registry.find(name);
    if (!m) throw new MusterError('NO_SUCH_MEMBER', `No member named ${JSON.stringify(name.slice(0, 80))}`, { name });
    if (!m.lifecycle || !hasRole(m, 'component')) throw new MusterError('INVALID_STATE', `${m.name} is not a component`, { name: m.name, state: null });
    return this.#record(m);
  }

  #record(member: Member): Component {
    let c = this.#components.get(member.id);
    if (c && c.member === member) return c;
    c = { member, link: null, readySeen: readySeenIn(member), open: null, late: null, readyTimer: null };
    this.#components.set(member.id, c);
    return c;
  }

  #stateOf(c: Component): LifecycleState {
    return (c.member.lifecycle?.state ?? 'starting') as LifecycleState;
  }

  /** Records and persists one transition; resolves once durable (store failures go to onError). */
  #transition(c: Component, to: LifecycleState, note?: string, patch: { endpoints?: Endpoints; lastError?: string | null } = {}): Promise<void> {
    const m = c.member;
    const prev = m.lifecycle;
    const from = (prev?.state ?? null) as LifecycleState | null;
    const at = this.#now();
    m.lifecycle = {
      state: to,
      endpoints: patch.endpoints ?? prev?.endpoints ?? {},
      lastError: patch.lastError !== undefined ? patch.lastError : prev?.lastError ?? null,
      since: at,
    };
    const history = historyOf(m);
    history.push(note ? { at, from, to, note } : { at, from, to });
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
    return this.#registry.changed(m, { from: from ?? 'none', to }).catch((err: unknown) => this.#onError(err));
  }
}

/** The bounded transition history, persisted with the member. */
function historyOf(m: Member): Transition[] {
  return m.history;
}

/** Whether READY came in the current run (since the last entry into `starting`). */
function readySeenIn(m: Member): boolean {
  if (!m.lifecycle || m.lifecycle.state === 'starting') return false;
  const h = historyOf(m);
  for (let i = h.length - 1; i >= 0; i--) {
    if (h[i]!.to === 'ready') return true;
    if (h[i]!.to === 'starting') return false;
  }
  return m.lifecycle.state !== 'unresponsive' && m.lifecycle.state !== 'failed';
}
