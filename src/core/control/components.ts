/**
 * The control service's record of each component: the connection it sent READY on, whether READY
 * came in this run, its calls and READY wait, and the persisted state and history it moves
 * through. Writing a transition here is bookkeeping; which transition is the table's.
 */
import { MusterError } from '../../errors.js';
import type { Endpoints, LifecycleState, Transition } from '../../schemas/control.js';
import { Calls } from './calls.js';
import type { Dialect, Situation } from './lifecycle.js';
import { hasRole } from './roles.js';
import type { Connection } from '../ports.js';
import type { Member, Registry } from '../registry/registry.js';
import { ownHistory } from '../registry/member.js';

export const HISTORY_LIMIT = 50;

export interface Component {
  readonly member: Member;
  /** The connection it sent READY on: commands go out through it. */
  link: Connection | null;
  readySeen: boolean;
  readonly calls: Calls;
  readyTimer: NodeJS.Timeout | null;
}

export interface ComponentsOptions {
  registry: Registry;
  now: () => number;
  onError: (err: unknown) => void;
  /** A connection some component sent READY on closed. */
  onLinkClosed: (link: Connection) => void;
  /** Whose rules the component follows. */
  dialectOf: (member: Member) => Dialect;
}

export class Components {
  readonly #o: ComponentsOptions;
  readonly #byId = new Map<string, Component>();
  readonly #byLink = new Map<Connection, Set<Component>>();
  readonly #watchedLinks = new WeakSet<Connection>();

  constructor(options: ComponentsOptions) {
    this.#o = options;
  }

  /** The live record of a component member, made on first use (after a restart, from its history). */
  of(member: Member): Component {
    let c = this.#byId.get(member.id);
    if (c && c.member === member) return c;
    c = { member, link: null, readySeen: readySeenIn(member), calls: new Calls(), readyTimer: null };
    this.#byId.set(member.id, c);
    return c;
  }

  /** The component a lifecycle message comes from: one registered on this very connection (`name` when it holds several). */
  on(connection: Connection, name: string | undefined): Member {
    const members = this.#o.registry.connectionMembers(connection);
    if (name !== undefined) {
      const m = this.#o.registry.find(name);
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

  /** The record of a member sending lifecycle messages (FORBIDDEN unless it is a component). */
  sender(member: Member): Component {
    if (!member.lifecycle || !hasRole(member, 'component')) {
      throw new MusterError('FORBIDDEN', `${member.name} is not a component: register with roles ["component"]`, { name: member.name });
    }
    return this.of(member);
  }

  /** The record of the component a controller names. */
  target(name: string): Component {
    const m = this.#o.registry.find(name);
    if (!m) throw new MusterError('NO_SUCH_MEMBER', `No member named ${JSON.stringify(name.slice(0, 80))}`, { name });
    if (!m.lifecycle || !hasRole(m, 'component')) throw new MusterError('INVALID_STATE', `${m.name} is not a component`, { name: m.name, state: null });
    return this.of(m);
  }

  /** The record kept for a member id, which may belong to an older registration. */
  kept(id: string): Component | undefined {
    return this.#byId.get(id);
  }

  values(): IterableIterator<Component> {
    return this.#byId.values();
  }

  drop(c: Component): void {
    this.unbind(c);
    if (this.#byId.get(c.member.id) === c) this.#byId.delete(c.member.id);
  }

  bind(c: Component, link: Connection): void {
    this.unbind(c);
    c.link = link;
    if (!this.#watchedLinks.has(link)) {
      this.#watchedLinks.add(link);
      link.onClose(() => this.#o.onLinkClosed(link));
    }
    let set = this.#byLink.get(link);
    if (!set) this.#byLink.set(link, (set = new Set()));
    set.add(c);
  }

  unbind(c: Component): void {
    if (!c.link) return;
    const set = this.#byLink.get(c.link);
    set?.delete(c);
    if (set?.size === 0) this.#byLink.delete(c.link);
    c.link = null;
  }

  /** The components bound to a closed link, unbound. */
  release(link: Connection): Component[] {
    const set = this.#byLink.get(link);
    this.#byLink.delete(link);
    if (!set) return [];
    for (const c of set) c.link = null;
    return [...set];
  }

  /** What the lifecycle table needs to know of a component. */
  situation(c: Component): Situation {
    const lc = c.member.lifecycle;
    const state = stateOf(c);
    return { state, readySeen: c.readySeen, lastError: lc?.lastError ?? null, call: c.calls.answerable(state), dialect: this.#o.dialectOf(c.member) };
  }

  /** Records and persists one transition; resolves once durable (store failures go to onError). */
  transition(c: Component, to: LifecycleState, note?: string, patch: { endpoints?: Endpoints; lastError?: string | null } = {}): Promise<void> {
    const m = c.member;
    const prev = m.lifecycle;
    const from = (prev?.state ?? null) as LifecycleState | null;
    const at = this.#o.now();
    m.lifecycle = {
      state: to,
      endpoints: patch.endpoints ?? prev?.endpoints ?? {},
      lastError: patch.lastError !== undefined ? patch.lastError : prev?.lastError ?? null,
      since: at,
    };
    const history = ownHistory(m);
    history.push(note ? { at, from, to, note } : { at, from, to });
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
    return this.#o.registry.changed(m, { from: from ?? 'none', to }).catch((err: unknown) => this.#o.onError(err));
  }
}

export function stateOf(c: Component): LifecycleState {
  return (c.member.lifecycle?.state ?? 'starting') as LifecycleState;
}

/** Whether READY came in the current run (since the last entry into `starting`). */
function readySeenIn(m: Member): boolean {
  if (!m.lifecycle || m.lifecycle.state === 'starting') return false;
  const h: readonly Transition[] = m.history;
  for (let i = h.length - 1; i >= 0; i--) {
    if (h[i]!.to === 'ready') return true;
    if (h[i]!.to === 'starting') return false;
  }
  return m.lifecycle.state !== 'unresponsive' && m.lifecycle.state !== 'failed';
}
