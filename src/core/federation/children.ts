/**
 * The parent's side of the federation: child hubs that register here with the federation token,
 * their subtrees (routes in the hub table, records in the registry), and the monitor that pings
 * them. A child's link is its connection here. Registrations and updates run in the federation
 * service's queue, one at a time, so uniqueness checks see a settled table.
 */
import type { Logger } from 'pino';
import { MusterError } from '../../errors.js';
import type { LinkCheck } from '../../schemas/admin.js';
import type { HubEdge, HubHello, HubRegisterParams } from '../../schemas/federation.js';
import type { HubLink } from '../ports.js';
import { secretEquals } from '../tokens.js';
import type { HubRecords } from './hub-records.js';
import { HubTable } from './hub-table.js';
import type { TreeBus } from './tree-bus.js';

export interface Child {
  readonly hubId: string;
  /** One run of the child: tells it restarted from a second hub with the same id. */
  readonly instance: string;
  readonly poa: string[];
  readonly link: HubLink;
}

export type ChildRemoval = 'unregistered' | 'hub-lost';

/** What taking children needs of the federation service (the registrar side is its own). */
export interface Upward {
  /** Runs `fn` after every registration queued before it. */
  serially<T>(fn: () => Promise<T>): Promise<T>;
  /** Tells the registrar the new descendant list; rejects with HUB_ID_TAKEN when it refuses it. */
  reportUp(edges: HubEdge[]): Promise<void>;
  registrarId(): string | null;
  hello(): HubHello;
}

export interface ChildrenOptions {
  hubId: string;
  table: HubTable;
  records: HubRecords;
  bus: TreeBus;
  up: Upward;
  log: Logger;
  federationToken?: string;
  federationAllow?: string[];
  monitorMs: number;
}

export class Children {
  readonly #o: ChildrenOptions;
  readonly #byId = new Map<string, Child>();
  readonly #byLink = new WeakMap<HubLink, Child>();
  #monitor: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: ChildrenOptions) {
    this.#o = options;
    options.records.onRegistreeRemoved((hubId, reason) => {
      // Its record is gone (lapsed, deregistered, removed by an admin): its subtree goes with it.
      if (!this.#closed && this.#byId.has(hubId)) this.#drop(hubId, reason === 'unregistered' ? 'unregistered' : 'hub-lost');
    });
  }

  /** The parent half of the connection monitor: every interval each child must answer a ping. */
  start(): void {
    this.#monitor = setInterval(() => void this.checkNow(), this.#o.monitorMs);
    this.#monitor.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#monitor) clearInterval(this.#monitor);
  }

  get count(): number {
    return this.#byId.size;
  }

  get(hubId: string): Child | undefined {
    return this.#byId.get(hubId);
  }

  /** A reloaded config: the token child hubs present and the allow-list, for registrations from now on (children already here stay). */
  setAccess(federationToken: string | undefined, federationAllow: string[] | undefined): void {
    this.#o.federationToken = federationToken;
    this.#o.federationAllow = federationAllow;
  }

  /** hub.register from a child: checks token, allow-list and ids across the tree, then records it. */
  accept(link: HubLink, p: HubRegisterParams): Promise<HubHello> {
    const o = this.#o;
    if (!o.federationToken) throw new MusterError('FORBIDDEN', 'This hub takes no child hubs (no federation token is set)');
    if (!secretEquals(p.token, o.federationToken)) throw new MusterError('UNAUTHORIZED', 'Wrong federation token');
    if (o.federationAllow && !o.federationAllow.includes(p.hubId)) {
      throw new MusterError('FORBIDDEN', `Hub ${p.hubId} has no privilege to register here (not on the federation allow-list)`, { hub: p.hubId });
    }
    return o.up.serially(async () => {
      const existing = this.#byId.get(p.hubId);
      if (existing && existing.link !== link && existing.link.open && existing.instance !== p.instance) {
        // Same id, another run: refused while the first still answers.
        const alive = await existing.link.call('hub.ping', {}, Math.min(2_000, o.monitorMs)).then(() => true, () => false);
        if (alive) throw new MusterError('HUB_ID_TAKEN', `Hub id ${p.hubId} is already registered here (by ${existing.poa.join(' ') || 'another hub'})`, { hub: p.hubId });
        existing.link.close('replaced by a new run of the same hub');
      }
      const edges = HubTable.subtreeOf(p.hubId, o.hubId, p.descendants);
      this.#assertFree(p.hubId, edges);
      await o.up.reportUp(this.#edgesWith(p.hubId, edges));
      const child: Child = { hubId: p.hubId, instance: p.instance, poa: p.poa, link };
      const old = this.#byId.get(p.hubId);
      if (old && old.link !== link) o.bus.removeLink(old.link);
      this.#byId.set(p.hubId, child);
      // Once per link (it stays in #byLink): when it closes, what it asked for stops counting.
      if (!this.#byLink.has(link)) link.onClose(() => this.#linkClosed(link));
      this.#byLink.set(link, child);
      await this.#applySubtree(child, edges);
      o.records.lapseIfClosed(link);
      o.bus.addLink(link);
      o.log.info({ child: p.hubId, descendants: p.descendants.length }, 'child hub registered');
      return o.up.hello();
    });
  }

  /** The child behind a link, for the hub.* calls only registered children may make. */
  of(link: HubLink): Child {
    const c = this.#byLink.get(link);
    if (!c || this.#byId.get(c.hubId) !== c) throw new MusterError('FORBIDDEN', 'Register with hub.register (and the federation token) first');
    return c;
  }

  /** hub.update: the child's descendant list changed. */
  update(child: Child, descendants: HubEdge[]): Promise<void> {
    const o = this.#o;
    return o.up.serially(async () => {
      // Queued behind the child's removal, the update must not bring its records back.
      if (this.#byId.get(child.hubId) !== child) throw new MusterError('FORBIDDEN', `Hub ${child.hubId} is no longer registered here`, { hub: child.hubId });
      const edges = HubTable.subtreeOf(child.hubId, o.hubId, descendants);
      this.#assertFree(child.hubId, edges);
      await o.up.reportUp(this.#edgesWith(child.hubId, edges));
      // Removed while the registrar was asked (a deregister or a lapse does not wait for the queue): nothing to apply.
      if (this.#byId.get(child.hubId) !== child) return;
      await this.#applySubtree(child, edges);
      o.records.lapseIfClosed(child.link);
    });
  }

  /** hub.check: does this hub still hold the record of that run of the child? */
  check(link: HubLink, hubId: string, instance: string): boolean {
    const c = this.#byLink.get(link);
    return !!c && c.hubId === hubId && c.instance === instance && this.#byId.get(hubId) === c && this.#o.records.roleOf(hubId) === 'registree';
  }

  /** hub.deregister, or a child's link gone for good: its subtree leaves at once. */
  async remove(child: Child, reason: ChildRemoval): Promise<void> {
    // Removing the record drops the child (onRegistreeRemoved); without one, drop it here.
    if (this.#o.records.roleOf(child.hubId) === 'registree') await this.#o.records.remove(child.hubId, 'registree', reason);
    else this.#drop(child.hubId, reason);
  }

  /** The child's link closed: its interest goes now; its record turns suspect for the grace period (the registry's timer). */
  #linkClosed(link: HubLink): void {
    const c = this.#byLink.get(link);
    if (!c || this.#byId.get(c.hubId) !== c) return;
    this.#o.bus.removeLink(c.link);
  }

  /** Refuses ids that are taken anywhere this hub can see: itself, other subtrees, its registrar, member names. */
  #assertFree(childId: string, edges: HubEdge[]): void {
    const { table, records, up } = this.#o;
    const clash = new Set(table.conflicts(childId, edges));
    for (const e of edges) {
      if (records.taken(e.hubId, childId, table.via(e.hubId)) || e.hubId === up.registrarId()) clash.add(e.hubId);
    }
    if (clash.size) {
      const hubs = [...clash];
      throw new MusterError('HUB_ID_TAKEN', `Hub id ${hubs.join(', ')} is already used in this tree (by ${this.#o.hubId} or a hub or member it knows)`, { hubs });
    }
  }

  /** Every edge below this hub with `childId`'s subtree replaced by `edges`. */
  #edgesWith(childId: string, edges: HubEdge[]): HubEdge[] {
    const table = this.#o.table;
    return [...table.edges().filter((e) => table.via(e.hubId) !== childId), ...edges];
  }

  /** Routes and records of a child's subtree made to match `edges` (the child first). */
  async #applySubtree(child: Child, edges: HubEdge[]): Promise<void> {
    const { table, records } = this.#o;
    const { removed } = table.set(child.hubId, edges);
    for (const id of removed) await records.remove(id, 'descendant', 'hub-lost');
    for (const e of edges) {
      if (e.hubId === child.hubId) await records.upsert(e.hubId, 'registree', this.#byId.get(child.hubId)?.poa ?? [], { hubId: e.hubId }, child.link);
      else await records.upsert(e.hubId, 'descendant', [], { hubId: e.hubId, parent: e.parent, via: child.hubId }, undefined);
    }
  }

  /** Forgets a child and its subtree: routes at once, records without waiting, then tells the registrar. */
  #drop(childId: string, reason: ChildRemoval): void {
    const { table, records, bus, up, log } = this.#o;
    const child = this.#byId.get(childId);
    if (child) {
      this.#byId.delete(childId);
      // The link stays open: a child whose record went (an admin removed it) learns it from hub.check and registers again.
      bus.removeLink(child.link);
    }
    const ids = table.drop(childId);
    // Not waited for: a removal a cluster's Redis does not take is written again (hub-records.ts).
    for (const id of ids) void records.remove(id, 'descendant', reason).catch(() => {});
    log.info({ child: childId, hubs: ids.length, reason }, 'child hub removed with its subtree');
    void up.serially(() => up.reportUp(table.edges())).catch((err: unknown) => log.warn({ err }, 'could not tell the registrar'));
  }

  /** The monitor's ping timeout: the interval, within 100 ms .. 5 s. */
  get pingTimeoutMs(): number {
    return Math.max(100, Math.min(this.#o.monitorMs, 5_000));
  }

  /** The monitor, each interval or now (admin.checkLinks): a child that does not answer a ping loses its subtree. */
  checkNow(timeoutMs = this.pingTimeoutMs): Promise<LinkCheck[]> {
    return Promise.all([...this.#byId.values()].map((c) => this.#check(c, timeoutMs)));
  }

  async #check(c: Child, timeoutMs: number): Promise<LinkCheck> {
    const base = { hubId: c.hubId, role: 'child' as const, address: c.poa[0] ?? '' };
    // A closed link is the registry's business: the record is suspect until it comes back or its grace ends.
    if (!c.link.open) return { ...base, status: 'suspect', error: 'link closed: kept for the grace period (federationGraceMs)' };
    const start = performance.now();
    try {
      await c.link.call('hub.ping', {}, timeoutMs);
      return { ...base, status: 'ok', rttMs: Math.round((performance.now() - start) * 10) / 10 };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (this.#byId.get(c.hubId) !== c) return { ...base, status: 'lost', error };
      // The link closed while the ping waited (a child that stops closes it; MEMBER_GONE): a closed
      // link, as above, not a silent one. Removing it here would drop the subtree at once, skipping the grace.
      if (!c.link.open) return { ...base, status: 'suspect', error: `link closed during the ping (${error}): kept for the grace period (federationGraceMs)` };
      this.#o.log.warn({ child: c.hubId }, 'child hub stopped answering');
      c.link.close('no answer to hub.ping');
      // Gone here at once; in a cluster, written again until Redis takes it (hub-records.ts).
      await this.remove(c, 'hub-lost').catch(() => {});
      return { ...base, status: 'lost', error };
    }
  }
}
