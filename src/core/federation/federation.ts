/**
 * Federation: hubs in a tree (the remote-CSE model). A hub with a registrar registers there as a
 * member of type `hub`; a hub with a federation token takes child hubs. Each side keeps a record
 * of the other, and a parent keeps one of every hub below it (role descendant), so `muster ls`
 * and watches show the tree. Calls on `hub/name` go up to the common ancestor, then down.
 *
 * This service ties the parts together and keeps the registrar side and the queue of
 * registrations: children.ts (child hubs and their monitor), forwarding.ts (calls across the
 * tree), tree-bus.ts (the bus adapter), hub-records.ts (records of other hubs), hub-table.ts
 * (routes). The links themselves are the faces' (registrar-client.ts, the native WebSocket
 * connection); this service sees them as HubLinks.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { MusterError, toMusterError } from '../../errors.js';
import type { BusMessage } from '../bus/message.js';
import type { Relay } from '../bus/relay.js';
import type { Scope } from '../bus/scope.js';
import type { Control } from '../control/control.js';
import type { BusAdapter, ControlAdapter, HubLink, Siblings } from '../ports.js';
import type { Registry } from '../registry/registry.js';
import type { LinkCheck } from '../../schemas/admin.js';
import type { ListResult, MemberView } from '../../schemas/member.js';
import type {
  ForwardOp, HubEdge, HubHello, HubPublish, HubRegisterParams, TreeListParams, TreeNode,
} from '../../schemas/federation.js';
import { Children, type Child, type ChildRemoval } from './children.js';
import { callHub, Forwarding, QUERY_TIMEOUT_MS, type ForwardSource } from './forwarding.js';
import { HubRecords } from './hub-records.js';
import { HubTable } from './hub-table.js';
import { TreeBus } from './tree-bus.js';

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

/** Registrations waiting their turn past this many are refused (THROTTLED). */
const MAX_PENDING_LINK_REGISTRATIONS = 64;

export class Federation {
  readonly hubId: string;
  /** One run of this hub: tells a restarted hub from a second hub with the same id. */
  readonly instance = randomUUID();
  /** The bus across the tree: installed in the relay by the hub. */
  readonly busAdapter: BusAdapter;
  /** Configure and stop across the tree: installed in the control service by the hub. */
  readonly controlAdapter: ControlAdapter;
  readonly #log: Logger;
  readonly #registry: Registry;
  readonly #table: HubTable;
  readonly #records: HubRecords;
  readonly #forwarding: Forwarding;
  readonly #bus: TreeBus;
  readonly #children: Children;
  #registrar: HubLink | null = null;
  /** Cluster mode: the cluster's other hubs, through which the hubs registered with them are reached. */
  #siblings: Siblings | null = null;
  /** The child side of the connection monitor (the face's registrar client), to run it now. */
  #registrarCheck: ((timeoutMs: number) => Promise<LinkCheck>) | null = null;
  #registrarHello: HubHello | null = null;
  #poa: string[] = [];
  /** Registrations and updates run one at a time, so uniqueness checks see a settled table. */
  #serial: Promise<unknown> = Promise.resolve();
  #pendingSerial = 0;

  constructor(o: FederationOptions) {
    this.hubId = o.hubId;
    this.#log = o.log;
    this.#registry = o.registry;
    this.#table = new HubTable(o.hubId);
    this.#records = new HubRecords(o.registry, o.hubId, o.graceMs);
    this.#forwarding = new Forwarding({
      hubId: o.hubId, registry: o.registry, relay: o.relay, control: o.control, table: this.#table, records: this.#records,
      lifecycleTimeoutMs: o.lifecycleTimeoutMs,
      routes: {
        child: (id) => this.#children.get(id), registrar: () => this.#registrar, registrarId: () => this.registrarId, poa: () => this.#poa,
        siblings: () => this.#siblings,
      },
    });
    this.#bus = new TreeBus({ hubId: o.hubId, relay: o.relay, treeScopes: o.treeScopes, direct: this.#forwarding, isRegistrar: (link) => link === this.#registrar });
    this.#children = new Children({
      hubId: o.hubId, table: this.#table, records: this.#records, bus: this.#bus, log: o.log,
      federationToken: o.federationToken, federationAllow: o.federationAllow, monitorMs: o.monitorMs,
      up: { serially: (fn) => this.#serially(fn), reportUp: (edges) => this.#reportUp(edges), registrarId: () => this.registrarId, hello: () => this.hello() },
    });
    this.busAdapter = this.#bus;
    this.controlAdapter = this.#forwarding;
  }

  /** Cluster mode: this hub is one of several sharing a registry; hubs registered with the others are reached through them. */
  joinCluster(siblings: Siblings): void {
    this.#siblings = siblings;
    this.#bus.joinCluster(siblings);
  }

  /** Cluster mode: the hub of this cluster holding the link to hub `hubId` (one registered there, or below one). */
  heldBy(hubId: string): string | null {
    return this.#records.heldBy(hubId);
  }

  /**
   * Cluster mode: a tree-wide publication another hub of the cluster sent here, for this hub's
   * children, which see its publisher as `hub/name` of the cluster hub holding it (a plain name
   * is the cluster's own).
   */
  fromCluster(message: BusMessage, scope: Scope): void {
    this.#bus.fromCluster(message, scope, (m) => {
      if (m.from.includes('/')) return m;
      const holder = this.#registry.find(m.from)?.attachedTo;
      return holder ? m.withSender(`${holder}/${m.from}`) : null;
    });
  }

  /** A reloaded config: the federation token and allow-list child hubs register with from now on. */
  setChildAccess(federationToken: string | undefined, federationAllow: string[] | undefined): void {
    this.#children.setAccess(federationToken, federationAllow);
  }

  /** Starts the parent-side monitor: every interval each child hub must answer a ping. */
  start(poa: string[]): void {
    this.#poa = poa;
    this.#children.start();
  }

  close(): void {
    this.#children.close();
    this.#bus.close();
  }

  get poa(): string[] {
    return this.#poa;
  }

  hello(): HubHello {
    return { hubId: this.hubId, instance: this.instance, poa: this.#poa };
  }

  /** Tree-wide publications not passed to a neighbour because its link was backed up. */
  get dropped(): number {
    return this.#bus.dropped;
  }

  get childCount(): number {
    return this.#children.count;
  }

  /** Hubs below this one with the hub each registered with (for info and the CLI). */
  descendants(): HubEdge[] {
    return this.#table.edges();
  }

  /**
   * Runs the connection monitor now, both ways (admin.checkLinks): this hub's link to its
   * registrar and each child's, doing what the monitor does with what it finds.
   */
  async checkLinks(timeoutMs = this.#children.pingTimeoutMs): Promise<LinkCheck[]> {
    const [up, down] = await Promise.all([this.#registrarCheck?.(timeoutMs), this.#children.checkNow(timeoutMs)]);
    return up ? [up, ...down] : down;
  }

  // ---- Child side: this hub's registrar ------------------------------------------------

  /** The face's registrar client hands over its monitor's check, so that checkLinks runs it. */
  monitorRegistrar(check: (timeoutMs: number) => Promise<LinkCheck>): void {
    this.#registrarCheck = check;
  }

  /**
   * Registers with the registrar over `link`: `send` makes the hub.register call. It runs in the
   * serial queue, as accepting a child does, so while it is in flight no child joins or changes
   * unreported: the list it carries is the table when it is sent, and a change made meanwhile
   * outside the queue (a child lost) queues its report behind it, to go on the new link. Without
   * this a hub that joined during the call was never reported upward.
   */
  registerUp(link: HubLink, token: string, send: (p: HubRegisterParams) => Promise<HubHello>): Promise<void> {
    return this.#serially(async () => {
      const hello = await send({ hubId: this.hubId, token, instance: this.instance, poa: this.#poa, descendants: this.#table.edges() });
      await this.#registrarUp(link, hello);
    });
  }

  /** The registrar accepted this hub: keep a record of it and tell it what this side's subscribers want. */
  async #registrarUp(link: HubLink, hello: HubHello): Promise<void> {
    this.#registrar = link;
    this.#registrarHello = hello;
    this.#bus.addLink(link);
    await this.#records.removeRegistrarsBut(hello.hubId);
    await this.#records.upsert(hello.hubId, 'registrar', hello.poa, { hubId: hello.hubId }, link);
    this.#records.lapseIfClosed(link);
    this.#log.info({ registrar: hello.hubId }, 'registered with the registrar');
  }

  /**
   * The connection monitor, each interval the registrar answers: its record is here and alive. In
   * a cluster the record is one for every hub registered there; the hub that held it may have
   * left (deregistered, removing it) or been lost (leaving it suspect): another takes it over.
   */
  async keepRegistrarRecord(link: HubLink): Promise<void> {
    const hello = this.#registrarHello;
    if (!hello || this.#registrar !== link || !link.open) return;
    const record = this.#records.roleOf(hello.hubId) === 'registrar' ? this.#records.statusOf(hello.hubId) : null;
    if (record === 'alive') return;
    await this.#serially(() => this.#records.upsert(hello.hubId, 'registrar', hello.poa, { hubId: hello.hubId }, link));
  }

  /** The link to the registrar dropped: keep serving; its record stays, suspect, until it is back. */
  registrarDown(link: HubLink): void {
    if (this.#registrar !== link) return;
    this.#registrar = null;
    this.#bus.removeLink(link);
  }

  /** This hub left its registrar (hub.deregister answered): the registrar's record goes too. */
  async deregistered(): Promise<void> {
    const id = this.registrarId;
    if (id !== null) await this.#records.remove(id, 'registrar', 'unregistered');
    // A hub that left (a reload that changed or dropped its registrar) has no registrar until it registers again.
    this.#registrarHello = null;
  }

  get registrarId(): string | null {
    return this.#registrarHello?.hubId ?? null;
  }

  get registrarConnected(): boolean {
    return this.#registrar?.open ?? false;
  }

  /**
   * Tells the registrar the new descendant list and waits: it refuses ids taken elsewhere in the
   * tree (HUB_ID_TAKEN). While it is unreachable this hub goes on; registering again sends all.
   */
  async #reportUp(edges: HubEdge[]): Promise<void> {
    const up = this.#registrar;
    if (!up?.open) return;
    try {
      await callHub(up, 'hub.update', { descendants: edges }, QUERY_TIMEOUT_MS);
    } catch (err) {
      const e = toMusterError(err);
      if (e.code !== 'HUB_UNREACHABLE' && e.code !== 'FORBIDDEN') throw e;
      // No answer on an open link: whether the registrar took the list is unknown (it may refuse it
      // late). FORBIDDEN: the registrar no longer holds this hub on this link (it dropped its
      // record). Either way, drop the link: registering again sends the whole list, at once rather
      // than at the next hub.check.
      if (up.open) up.close(e.code === 'FORBIDDEN' ? 'registrar no longer holds this hub' : 'no answer to hub.update');
    }
  }

  #serially<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#pendingSerial >= MAX_PENDING_LINK_REGISTRATIONS) return Promise.reject(new MusterError('THROTTLED', 'Too many hub registrations at once', { retryAfterMs: 1000 }));
    this.#pendingSerial++;
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => {}).finally(() => { this.#pendingSerial--; });
    return run;
  }

  // ---- Parent side: child hubs (children.ts) --------------------------------------------

  /** hub.register from a child on `link`. */
  acceptChild(link: HubLink, p: HubRegisterParams): Promise<HubHello> {
    return this.#children.accept(link, p);
  }

  /** The child registered on `link`; FORBIDDEN for any other connection. */
  childOf(link: HubLink): Child {
    return this.#children.of(link);
  }

  updateChild(child: Child, descendants: HubEdge[]): Promise<void> {
    return this.#children.update(child, descendants);
  }

  checkChild(link: HubLink, hubId: string, instance: string): boolean {
    return this.#children.check(link, hubId, instance);
  }

  removeChild(child: Child, reason: ChildRemoval): Promise<void> {
    return this.#children.remove(child, reason);
  }

  // ---- Across the tree (forwarding.ts, tree-bus.ts) ---------------------------------------

  /** Runs `op` on hub `to`, here or one hop nearer; `from` is the link the call came on ('sibling': another hub of this cluster). */
  forward(to: string, op: ForwardOp, params: Record<string, unknown>, from: ForwardSource, hops = 0): Promise<unknown> {
    return this.#forwarding.forward(to, op, params, from, hops);
  }

  get(address: string): Promise<MemberView> {
    return this.#forwarding.get(address);
  }

  list(params: TreeListParams): Promise<ListResult> {
    return this.#forwarding.list(params);
  }

  /** The tree below this hub; `forwarded` when another hub asks (a cluster hub then shows only its own children). */
  tree(forwarded = false): Promise<TreeNode> {
    return this.#forwarding.tree(forwarded);
  }

  /** hub.interest from a neighbour. */
  declareInterest(link: HubLink, scopes: string[]): void {
    this.#bus.declared(link, scopes);
  }

  /** hub.publish from a neighbour. */
  published(link: HubLink, p: HubPublish): void {
    this.#bus.received(link, p);
  }
}
