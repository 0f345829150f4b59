/**
 * Federation: hubs in a tree (the remote-CSE model). A hub with a registrar registers there as a
 * member of type `hub`; a hub with a federation token takes child hubs. Each side keeps a record
 * of the other, and a parent keeps one of every hub below it (role descendant), so `muster ls`
 * and watches show the tree. Calls on `hub/name` go up to the common ancestor, then down.
 *
 * The links themselves (the child's client socket, the parent's WebSocket session) are the
 * faces' (registrar-client.ts, federation-ws.ts); this service sees them as HubLinks.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { asHubError, MusterError, toMusterError } from '../../errors.js';
import type { Relay } from '../bus/relay.js';
import { BusMessage, BusPayload, payloadOf } from '../bus/message.js';
import type { CallResult, Control, Kind } from '../control/control.js';
import type { BusAdapter, ControlAdapter, Connection, HubLink } from '../ports.js';
import type { Member, Registry } from '../registry/registry.js';
import { parseScope, type Scope } from '../bus/scope.js';
import { hashToken, newToken, secretEquals } from '../tokens.js';
import type { ListResult, MemberView } from '../../schemas/member.js';
import {
  TreeListParams, type ForwardOp, type ForwardParams, type HubEdge, type HubHello, type HubPublish, type HubRegisterParams, type TreeNode,
} from '../../schemas/federation.js';
import { validate } from '../../schemas/validate.js';
import { HubTable } from './hub-table.js';
import { Interest } from './interest.js';

export type { HubLink };

export interface FederationOptions {
  registry: Registry;
  relay: Relay;
  control: Control;
  log: Logger;
  hubId: string;
  federationToken?: string;
  federationAllow?: string[];
  monitorMs: number;
  graceMs: number;
  treeScopes: string[];
  lifecycleTimeoutMs: number;
}

/** What a record of another hub carries in member.hubLink. */
type HubRole = 'registrar' | 'registree' | 'descendant';

interface Child {
  readonly hubId: string;
  readonly instance: string;
  readonly poa: string[];
  readonly link: HubLink;
  readonly session: Connection;
}

/** Forwards are refused past this many hops: a tree this deep is a loop. */
const MAX_HOPS = 32;
/** How long a hub waits on a neighbour for a lookup, a list or the tree. */
const QUERY_TIMEOUT_MS = 5_000;
/** Added to a forwarded call's own timeout so the far hub's TIMEOUT arrives before ours. */
const FORWARD_MARGIN_MS = 2_000;
const MAX_PENDING_LINK_REGISTRATIONS = 64;

export class Federation {
  readonly hubId: string;
  /** One run of this hub: tells a restarted hub from a second hub with the same id. */
  readonly instance = randomUUID();
  /** The bus across the tree: installed in the relay by the hub. */
  readonly busAdapter: BusAdapter;
  /** Configure and stop across the tree: installed in the control service by the hub. */
  readonly controlAdapter: ControlAdapter;
  /** Tree-wide publications not passed to a neighbour because its link was backed up. */
  dropped = 0;
  readonly #o: FederationOptions;
  readonly #registry: Registry;
  readonly #table: HubTable;
  readonly #interest: Interest<HubLink>;
  readonly #children = new Map<string, Child>();
  readonly #childBySession = new WeakMap<Connection, Child>();
  /** Interest last told to each neighbour, to tell only changes. */
  readonly #told = new Map<HubLink, string>();
  readonly #links: HubLink[] = [];
  #registrar: HubLink | null = null;
  #registrarHello: HubHello | null = null;
  #poa: string[] = [];
  /** Registrations and updates run one at a time, so uniqueness checks see a settled table. */
  #serial: Promise<unknown> = Promise.resolve();
  #pendingSerial = 0;
  #interestPush: NodeJS.Immediate | null = null;
  #monitor: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: FederationOptions) {
    this.#o = options;
    this.hubId = options.hubId;
    this.#registry = options.registry;
    this.#table = new HubTable(options.hubId);
    this.#interest = new Interest(options.treeScopes);
    this.busAdapter = {
      name: 'federation',
      reaches: (hubId) => hubId !== this.hubId,
      send: (hubId, name, m) => this.forward(hubId, 'send', sendParams(name, m), null) as Promise<{ seq: number; delivered: number }>,
      request: async (hubId, name, req, timeoutMs) => BusPayload.of(await this.forward(hubId, 'request', { from: req.from, to: name, method: req.method, params: req.payload.toJSONValue(), timeoutMs }, null)),
      wants: (scope) => this.#interest.wanted(scope),
      // Other hubs see the publisher as hub/name, so they can answer it.
      published: (m) => this.#spread(m.from.includes('/') ? m : m.withSender(`${this.hubId}/${m.from}`), parseScope(m.scope!), null),
      interest: (scope, delta) => {
        if (this.#interest.localChanged(scope, delta)) this.#scheduleInterest();
      },
    };
    this.controlAdapter = {
      reaches: (hubId) => hubId !== this.hubId,
      command: (hubId, name, kind, config, timeoutMs) => this.forward(hubId, kind, { name, config, timeoutMs }, null) as Promise<CallResult>,
    };
    this.#registry.onRemoved((m, reason) => this.#recordRemoved(m, reason));
  }

  /** Starts the parent-side monitor: every interval each child hub must answer a ping. */
  start(poa: string[]): void {
    this.#poa = poa;
    this.#monitor = setInterval(() => void this.#pingChildren(), this.#o.monitorMs);
    this.#monitor.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#monitor) clearInterval(this.#monitor);
    if (this.#interestPush) clearImmediate(this.#interestPush);
  }

  get poa(): string[] {
    return this.#poa;
  }

  hello(): HubHello {
    return { hubId: this.hubId, instance: this.instance, poa: this.#poa };
  }

  // ---- Child side: this hub's registrar ------------------------------------------------

  /**
   * Registers with the registrar: `send` makes the hub.register call. It runs in the serial queue,
   * as accepting a child does, so while it is in flight no child joins or changes unreported: the
   * list it carries is the table when it is sent, and a change made meanwhile outside the queue (a
   * child lost) queues its report behind it, to go on the new link. Without this a hub that joined
   * during the call was never reported upward.
   */
  registerUp(link: HubLink, session: Connection, token: string, send: (p: HubRegisterParams) => Promise<HubHello>): Promise<void> {
    return this.#serially(async () => {
      const hello = await send({ hubId: this.hubId, token, instance: this.instance, poa: this.#poa, descendants: this.#table.edges() });
      await this.#registrarUp(link, session, hello);
    });
  }

  /** The registrar accepted this hub: keep a record of it and tell it what this side's subscribers want. */
  async #registrarUp(link: HubLink, session: Connection, hello: HubHello): Promise<void> {
    this.#registrar = link;
    this.#registrarHello = hello;
    this.#addLink(link);
    const stale = [...this.#registry.members()].filter((m) => m.hubLink === 'registrar' && m.name !== hello.hubId);
    for (const m of stale) await this.#registry.remove(m, 'unregistered');
    await this.#upsertRecord(hello.hubId, 'registrar', hello.poa, { hubId: hello.hubId }, session);
    this.#lapseIfClosed(link, session);
    this.#log().info({ registrar: hello.hubId }, 'registered with the registrar');
  }

  /** The link to the registrar dropped: keep serving; its record stays, suspect, until it is back. */
  registrarDown(link: HubLink): void {
    if (this.#registrar !== link) return;
    this.#registrar = null;
    this.#removeLink(link);
  }

  get registrarId(): string | null {
    return this.#registrarHello?.hubId ?? null;
  }

  get registrarConnected(): boolean {
    return this.#registrar?.open ?? false;
  }

  // ---- Parent side: child hubs ---------------------------------------------------------

  /** hub.register from a child: checks token, allow-list and ids across the tree, then records it. */
  acceptChild(link: HubLink, session: Connection, p: HubRegisterParams): Promise<HubHello> {
    const o = this.#o;
    if (!o.federationToken) throw new MusterError('FORBIDDEN', 'This hub takes no child hubs (no federation token is set)');
    if (!secretEquals(p.token, o.federationToken)) throw new MusterError('UNAUTHORIZED', 'Wrong federation token');
    if (o.federationAllow && !o.federationAllow.includes(p.hubId)) {
      throw new MusterError('FORBIDDEN', `Hub ${p.hubId} has no privilege to register here (not on the federation allow-list)`, { hub: p.hubId });
    }
    return this.#serially(async () => {
      const existing = this.#children.get(p.hubId);
      if (existing && existing.session !== session && existing.link.open && existing.instance !== p.instance) {
        // Same id, another run: refused while the first still answers.
        const alive = await existing.link.call('hub.ping', {}, Math.min(2_000, o.monitorMs)).then(() => true, () => false);
        if (alive) throw new MusterError('HUB_ID_TAKEN', `Hub id ${p.hubId} is already registered here (by ${existing.poa.join(' ') || 'another hub'})`, { hub: p.hubId });
        existing.link.close('replaced by a new run of the same hub');
      }
      const edges = HubTable.subtreeOf(p.hubId, this.hubId, p.descendants);
      this.#assertFree(p.hubId, edges);
      await this.#reportUp(this.#edgesWith(p.hubId, edges));
      const child: Child = { hubId: p.hubId, instance: p.instance, poa: p.poa, link, session };
      const old = this.#children.get(p.hubId);
      if (old && old.link !== link) this.#removeLink(old.link);
      this.#children.set(p.hubId, child);
      this.#childBySession.set(session, child);
      await this.#applySubtree(p.hubId, edges, session);
      this.#lapseIfClosed(link, session);
      this.#addLink(link);
      this.#log().info({ child: p.hubId, descendants: p.descendants.length }, 'child hub registered');
      return this.hello();
    });
  }

  /** The child behind a session, for the hub.* calls only registered children may make. */
  childOf(session: Connection): Child {
    const c = this.#childBySession.get(session);
    if (!c || this.#children.get(c.hubId) !== c) throw new MusterError('FORBIDDEN', 'Register with hub.register (and the federation token) first');
    return c;
  }

  /** hub.update: the child's descendant list changed. */
  updateChild(child: Child, descendants: HubEdge[]): Promise<void> {
    return this.#serially(async () => {
      // Queued behind the child's removal, the update must not bring its records back.
      if (this.#children.get(child.hubId) !== child) throw new MusterError('FORBIDDEN', `Hub ${child.hubId} is no longer registered here`, { hub: child.hubId });
      const edges = HubTable.subtreeOf(child.hubId, this.hubId, descendants);
      this.#assertFree(child.hubId, edges);
      await this.#reportUp(this.#edgesWith(child.hubId, edges));
      await this.#applySubtree(child.hubId, edges, child.session);
      this.#lapseIfClosed(child.link, child.session);
    });
  }

  /** hub.check: does this hub still hold the record of that run of the child? */
  checkChild(session: Connection, hubId: string, instance: string): boolean {
    const c = this.#childBySession.get(session);
    return !!c && c.hubId === hubId && c.instance === instance && this.#children.get(hubId) === c && this.#registry.find(hubId)?.hubLink === 'registree';
  }

  /** hub.deregister, or a child's link gone for good: its subtree leaves at once. */
  async removeChild(child: Child, reason: 'unregistered' | 'hub-lost'): Promise<void> {
    const m = this.#registry.find(child.hubId);
    if (m && m.hubLink === 'registree') await this.#registry.remove(m, reason);
    else this.#dropChild(child.hubId, reason);
  }

  /** The child's connection closed: its record turns suspect for the grace period (the registry's timer). */
  childLinkClosed(session: Connection): void {
    const c = this.#childBySession.get(session);
    if (!c || this.#children.get(c.hubId) !== c) return;
    this.#removeLink(c.link);
  }

  // ---- Forwarding ----------------------------------------------------------------------

  /** Runs `op` on hub `to`: here, or through the child leading to it, or through the registrar. */
  async forward(to: string, op: ForwardOp, params: Record<string, unknown>, from: HubLink | null, hops = 0): Promise<unknown> {
    if (to === this.hubId) return this.#run(op, params);
    if (hops >= MAX_HOPS) throw new MusterError('HUB_UNREACHABLE', `Gave up forwarding to ${to} after ${hops} hops`, { hub: to });
    const next = this.#nextHop(to, from);
    const timeoutMs = (typeof params.timeoutMs === 'number' ? params.timeoutMs : op === 'configure' || op === 'stop' ? this.#o.lifecycleTimeoutMs : QUERY_TIMEOUT_MS) + FORWARD_MARGIN_MS;
    const call: ForwardParams = { to, op, params, hops: hops + 1 };
    return next.call('hub.forward', call, timeoutMs).catch((err: unknown) => { throw asHubError(err); });
  }

  #nextHop(to: string, from: HubLink | null): HubLink {
    const via = this.#table.via(to);
    if (via !== undefined) {
      const child = this.#children.get(via);
      if (!child?.link.open) throw new MusterError('HUB_UNREACHABLE', `Hub ${to} is below ${via}, whose link is down`, { hub: to, via });
      return child.link;
    }
    // Not below this hub: only the registrar may know it (and never back up what came down).
    if (this.#registrarHello === null && this.#registrar === null) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(to)} in this tree`, { hub: to });
    if (from !== null && from === this.#registrar) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(to)} in this tree`, { hub: to });
    if (!this.#registrar?.open) {
      throw new MusterError('HUB_UNREACHABLE', `Hub ${to} is not below this hub and the registrar ${this.registrarId ?? ''} cannot be reached`, { hub: to });
    }
    return this.#registrar;
  }

  /** A forwarded operation, run on this hub's own members. Authority was checked at the hub it came from. */
  async #run(op: ForwardOp, p: Record<string, unknown>): Promise<unknown> {
    const relay = this.#o.relay;
    switch (op) {
      case 'get': return this.#registry.get(str(p, 'name'));
      case 'list': return this.list(validate(TreeListParams, p, 'list'));
      case 'tree': return this.tree();
      case 'send': return relay.sendRemote(sendMessage(p));
      case 'request': return (await relay.requestRemote(str(p, 'from'), str(p, 'to'), str(p, 'method'), BusPayload.of(p.params), int(p, 'timeoutMs'))).toJSONValue();
      case 'configure':
      case 'stop': {
        const config = (typeof p.config === 'object' && p.config !== null ? p.config : {}) as Record<string, unknown>;
        return this.#o.control.command(str(p, 'name'), op as Kind, config, typeof p.timeoutMs === 'number' ? p.timeoutMs : undefined);
      }
    }
  }

  /** A member anywhere in the tree. */
  async get(address: string): Promise<MemberView> {
    const slash = address.indexOf('/');
    const hubId = slash < 0 ? this.hubId : address.slice(0, slash);
    const name = address.slice(slash + 1);
    if (hubId === this.hubId) return this.#registry.get(name);
    return this.forward(hubId, 'get', { name }, null) as Promise<MemberView>;
  }

  /** Members of this hub, of one hub (`hub`), or of a whole subtree (`subtree`). */
  async list(params: TreeListParams): Promise<ListResult> {
    const { hub, subtree, ...filters } = params;
    if (hub !== undefined && hub !== this.hubId) return this.forward(hub, 'list', { ...filters, subtree }, null) as Promise<ListResult>;
    const here = this.#registry.list(filters);
    if (!subtree) return here;
    const unreachable: string[] = [];
    const below = await Promise.all(this.#table.childrenOf(this.hubId).map((id) =>
      (this.forward(id, 'list', { ...filters, subtree: true }, null) as Promise<ListResult>).catch(() => {
        unreachable.push(...this.#table.subtree(id));
        return null;
      })));
    const members = [...here.members];
    for (const r of below) {
      if (!r) continue;
      members.push(...r.members);
      if (r.unreachable) unreachable.push(...r.unreachable);
    }
    members.sort((a, b) => ((a.hub ?? '') + '/' + a.name < (b.hub ?? '') + '/' + b.name ? -1 : 1));
    return { members, next: null, revision: here.revision, ...(unreachable.length ? { unreachable: unreachable.sort() } : {}) };
  }

  /** This hub and everything below it, each hub asked now (in parallel); silent ones shown unreachable. */
  async tree(): Promise<TreeNode> {
    const children = await Promise.all(this.#table.childrenOf(this.hubId).map(async (id): Promise<TreeNode> => {
      const child = this.#children.get(id);
      if (!child?.link.open) return this.#knownNode(id, 'suspect');
      return (child.link.call('hub.forward', { to: id, op: 'tree', params: {}, hops: 1 }, QUERY_TIMEOUT_MS) as Promise<TreeNode>)
        .catch(() => this.#knownNode(id, 'unreachable'));
    }));
    return { hubId: this.hubId, status: 'up', poa: this.#poa, members: this.#registry.counts(), children };
  }

  /** What this hub knows of a hub below it without asking it. */
  #knownNode(hubId: string, status: TreeNode['status']): TreeNode {
    const poa = this.#children.get(hubId)?.poa ?? splitPoa(this.#registry.find(hubId)?.meta.poa);
    return { hubId, status, poa, members: null, children: this.#table.childrenOf(hubId).map((id) => this.#knownNode(id, status === 'suspect' ? 'unreachable' : status)) };
  }

  get childCount(): number {
    return this.#children.size;
  }

  /** Hubs below this one with the child leading to each (for info and the CLI). */
  descendants(): HubEdge[] {
    return this.#table.edges();
  }

  // ---- Bus across hubs -----------------------------------------------------------------

  /** hub.interest from a neighbour: the tree-wide scopes it wants from this hub. */
  declareInterest(link: HubLink, scopes: string[]): void {
    this.#interest.declare(link, scopes);
    this.#scheduleInterest();
  }

  /** hub.publish from a neighbour: to this hub's subscribers, and on to the other neighbours that want it. */
  published(link: HubLink, p: HubPublish): void {
    const scope = parseScope(p.scope);
    const payload = payloadOf(p);
    const message = new BusMessage('publish', p.from, scope.text, null, p.seq, p.created, p.sent, p.received, payload);
    this.#o.relay.publishRemote(message, scope, this.busAdapter);
    this.#spread(message, scope, link);
  }

  /** One hub.publish notification, encoded once, to every neighbour that wants it except `from`. */
  #spread(m: BusMessage, scope: Scope, from: HubLink | null): void {
    const links = this.#interest.linksFor(scope, from);
    if (links.length === 0) return;
    const out = { type: 'tree-publish', message: m } as const;
    for (const l of links) {
      if (!l.open) continue;
      // Bounded like any receiver: a slow link loses publications (counted), never the hub's memory.
      if (!l.deliver(out)) this.dropped++;
    }
  }

  #scheduleInterest(): void {
    if (this.#interestPush || this.#closed) return;
    this.#interestPush = setImmediate(() => {
      this.#interestPush = null;
      for (const l of this.#links) this.#tellInterest(l);
    });
  }

  #tellInterest(link: HubLink): void {
    if (!link.open) return;
    const scopes = this.#interest.wantedFrom(link, this.#links);
    const key = scopes.join(' ');
    if (this.#told.get(link) === key) return;
    this.#told.set(link, key);
    link.deliver({ type: 'interest', scopes });
  }

  #addLink(link: HubLink): void {
    if (!this.#links.includes(link)) this.#links.push(link);
    this.#told.delete(link);
    this.#tellInterest(link);
    this.#scheduleInterest();
  }

  #removeLink(link: HubLink): void {
    const i = this.#links.indexOf(link);
    if (i >= 0) this.#links.splice(i, 1);
    this.#told.delete(link);
    this.#interest.forget(link);
    this.#scheduleInterest();
  }

  // ---- Records and the table -----------------------------------------------------------

  /** Refuses ids that are taken anywhere this hub can see: itself, other subtrees, member names. */
  #assertFree(childId: string, edges: HubEdge[]): void {
    const clash = this.#table.conflicts(childId, edges);
    for (const e of edges) {
      const m = this.#registry.find(e.hubId);
      const ours = m && (m.hubLink === 'registree' || m.hubLink === 'descendant') && (this.#table.via(e.hubId) ?? e.hubId) === childId;
      const stale = m && m.hubLink !== null && this.#table.via(e.hubId) === undefined && m.status !== 'alive';
      if (m && !ours && !stale && !clash.includes(e.hubId)) clash.push(e.hubId);
      if (e.hubId === this.registrarId && !clash.includes(e.hubId)) clash.push(e.hubId);
    }
    if (clash.length) {
      throw new MusterError('HUB_ID_TAKEN', `Hub id ${clash.join(', ')} is already used in this tree (by ${this.hubId} or a hub or member it knows)`, { hubs: clash });
    }
  }

  /** Every edge below this hub with `childId`'s subtree replaced by `edges`. */
  #edgesWith(childId: string, edges: HubEdge[]): HubEdge[] {
    return [...this.#table.edges().filter((e) => this.#table.via(e.hubId) !== childId), ...edges];
  }

  /**
   * Tells the registrar the new descendant list and waits: it refuses ids taken elsewhere in the
   * tree (HUB_ID_TAKEN). While it is unreachable this hub goes on; registering again sends all.
   */
  async #reportUp(edges: HubEdge[]): Promise<void> {
    const up = this.#registrar;
    if (!up?.open) return;
    try {
      await up.call('hub.update', { descendants: edges }, QUERY_TIMEOUT_MS).catch((err: unknown) => { throw asHubError(err); });
    } catch (err) {
      const e = toMusterError(err);
      if (e.code !== 'HUB_UNREACHABLE') throw e;
      // No answer on an open link: whether the registrar took the list is unknown (it may refuse it
      // late), so drop the link; registering again sends the whole list.
      if (up.open) up.close('no answer to hub.update');
    }
  }

  /**
   * A link that closed while its hub's records were written left them bound to a dead session,
   * alive for good: let them lapse after the grace period like those of any closed link.
   */
  #lapseIfClosed(link: HubLink, session: Connection): void {
    if (!link.open) this.#registry.connectionClosed(session);
  }

  /** Records and routes of a child's subtree made to match `edges` (the child first). */
  async #applySubtree(childId: string, edges: HubEdge[], session: Connection): Promise<void> {
    const { removed } = this.#table.set(childId, edges);
    for (const id of removed) {
      const m = this.#registry.find(id);
      if (m?.hubLink === 'descendant') await this.#registry.remove(m, 'hub-lost');
    }
    const child = this.#children.get(childId);
    for (const e of edges) {
      const own = e.hubId === childId;
      await this.#upsertRecord(e.hubId, own ? 'registree' : 'descendant', own ? child?.poa ?? [] : [], own ? { hubId: e.hubId } : { hubId: e.hubId, parent: e.parent, via: childId }, own ? session : undefined);
    }
  }

  /** Creates or refreshes the record of another hub (type hub, named by its hub id). */
  async #upsertRecord(hubId: string, role: HubRole, poa: string[], meta: Record<string, string>, session: Connection | undefined): Promise<void> {
    const allMeta = { ...meta, role, ...(poa.length ? { poa: poa.join(' ').slice(0, 256) } : {}) };
    const existing = this.#registry.find(hubId);
    if (existing && existing.hubLink !== null) {
      existing.address = poa[0] ?? existing.address;
      existing.meta = allMeta;
      existing.hubLink = role;
      existing.roles = [role];
      await this.#registry.resume(existing, session);
      return;
    }
    if (existing) throw new MusterError('HUB_ID_TAKEN', `A member named ${hubId} exists on hub ${this.hubId}`, { hub: hubId });
    const now = Date.now();
    const member = this.#registry.createMember({
      id: randomUUID(), name: hubId, type: 'hub', address: poa[0] ?? '', meta: allMeta,
      // A registrar's record waits for it as long as it takes; a child's lapses after the grace.
      liveness: { kind: 'session', graceMs: role === 'registrar' ? 86_400_000 : this.#o.graceMs },
      tokenHash: hashToken(newToken()), registeredAt: now, hubLink: role, roles: [role],
    }, now);
    await this.#registry.add(member, session);
  }

  /** A record left the registry: a child's takes its subtree with it; the registrar's is forgotten. */
  #recordRemoved(m: Member, reason: string): void {
    if (this.#closed) return;
    if (m.hubLink === 'registree' && this.#children.has(m.name)) {
      this.#dropChild(m.name, reason === 'unregistered' ? 'unregistered' : 'hub-lost');
    }
  }

  #dropChild(childId: string, reason: 'unregistered' | 'hub-lost'): void {
    const child = this.#children.get(childId);
    if (child) {
      this.#children.delete(childId);
      // The link stays open: a child whose record went (an admin removed it) learns it from hub.check and registers again.
      this.#removeLink(child.link);
    }
    const ids = this.#table.drop(childId);
    for (const id of ids) {
      const r = this.#registry.find(id);
      if (r && r.hubLink === 'descendant') void this.#registry.remove(r, reason).catch(() => {});
    }
    this.#log().info({ child: childId, hubs: ids.length, reason }, 'child hub removed with its subtree');
    void this.#serially(() => this.#reportUp(this.#table.edges())).catch((err: unknown) => this.#log().warn({ err }, 'could not tell the registrar'));
  }

  /** The monitor: a child that does not answer a ping within the interval loses its subtree. */
  async #pingChildren(): Promise<void> {
    await Promise.all([...this.#children.values()].map(async (c) => {
      if (!c.link.open) return;
      try {
        await c.link.call('hub.ping', {}, Math.max(100, Math.min(this.#o.monitorMs, 5_000)));
      } catch {
        if (this.#children.get(c.hubId) !== c) return;
        this.#log().warn({ child: c.hubId }, 'child hub stopped answering');
        c.link.close('no answer to hub.ping');
        await this.removeChild(c, 'hub-lost').catch(() => {});
      }
    }));
  }

  #serially<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#pendingSerial >= MAX_PENDING_LINK_REGISTRATIONS) return Promise.reject(new MusterError('THROTTLED', 'Too many hub registrations at once', { retryAfterMs: 1000 }));
    this.#pendingSerial++;
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => {}).finally(() => { this.#pendingSerial--; });
    return run;
  }

  #log(): Logger {
    return this.#o.log;
  }
}

function str(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw new MusterError('INVALID_PARAMS', `Forwarded call: "${key}" must be a string`);
  return v;
}

function int(p: Record<string, unknown>, key: string): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new MusterError('INVALID_PARAMS', `Forwarded call: "${key}" must be a positive integer`);
  return v;
}

function splitPoa(text: string | undefined): string[] {
  return text ? text.split(' ').filter(Boolean) : [];
}

/** A direct message as forwarded params: hub/name sender, its sequence number and times. */
function sendParams(name: string, m: BusMessage): Record<string, unknown> {
  const payload = m.payload.isBytes ? { bytes: m.payload.base64 } : { data: JSON.parse(m.payload.jsonText) as unknown };
  return { from: m.from, to: name, seq: m.seq, created: m.created, sent: m.sent, received: m.received, ...payload };
}

function sendMessage(p: Record<string, unknown>): BusMessage {
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : 0);
  const payload = payloadOf({ data: p.data, bytes: typeof p.bytes === 'string' ? p.bytes : undefined });
  const to = str(p, 'to');
  return new BusMessage('send', str(p, 'from'), null, to, num('seq'), num('created'), num('sent'), num('received'), payload);
}
