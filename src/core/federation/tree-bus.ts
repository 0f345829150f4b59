/**
 * The bus across the tree, as the relay's adapter. Publications on tree-wide scopes go to the
 * neighbour hubs whose interest covers them, never back on the link they came from, so each hub
 * gets one once; each neighbour is told (only when it changes) what this hub's subscribers and
 * its other neighbours want. Messages and requests to `hub/name` are forwarded calls
 * (forwarding.ts), handed over as `direct`.
 *
 * In a cluster, the cluster's other hubs are one more neighbour, for what crosses between their
 * children and this hub's: they get the publications that come from below this hub (what this
 * hub's own members publish reaches them through the relay's cluster adapter, and each of them
 * has its own link up), and this hub passes what they send on to its children only. Children
 * are asked for what the others want; the others are told what the children want.
 */
import { BusMessage, BusPayload, payloadOf } from '../bus/message.js';
import type { Relay } from '../bus/relay.js';
import { parseScope, type Scope } from '../bus/scope.js';
import type { BusAdapter, BusRequest, HubLink, SendResult, Siblings } from '../ports.js';
import type { HubPublish } from '../../schemas/federation.js';
import { Interest } from './interest.js';

export interface TreeBusOptions {
  hubId: string;
  relay: Relay;
  /** Scopes (with everything below them) whose publications cross hubs. */
  treeScopes: string[];
  /** Where `hub/name` sends and requests go. */
  direct: Pick<BusAdapter, 'reaches' | 'send' | 'request'>;
  /** True for the link to this hub's registrar (the others are its children's). */
  isRegistrar: (link: HubLink) => boolean;
}

/** The cluster's other hubs, as one neighbour in the interest table. */
const CLUSTER = { cluster: true } as const;
type Neighbour = HubLink | typeof CLUSTER;
const isLink = (n: Neighbour): n is HubLink => n !== CLUSTER;

export class TreeBus implements BusAdapter {
  readonly name = 'federation';
  readonly #hubId: string;
  readonly #relay: Relay;
  readonly #direct: Pick<BusAdapter, 'reaches' | 'send' | 'request'>;
  readonly #interest: Interest<Neighbour>;
  readonly #isRegistrar: (link: HubLink) => boolean;
  /** Cluster mode: the cluster's other hubs. */
  #cluster: Siblings | null = null;
  #toldCluster = '';
  /** The neighbours: the registrar's link and the children's. */
  readonly #links: HubLink[] = [];
  /** Interest last told to each neighbour, to tell only changes. */
  readonly #told = new Map<HubLink, string>();
  #push: NodeJS.Immediate | null = null;
  #dropped = 0;
  #closed = false;

  constructor(o: TreeBusOptions) {
    this.#hubId = o.hubId;
    this.#relay = o.relay;
    this.#direct = o.direct;
    this.#isRegistrar = o.isRegistrar;
    this.#interest = new Interest(o.treeScopes);
  }

  /** Cluster mode: publications cross between this hub's children and the other hubs of the cluster. */
  joinCluster(siblings: Siblings): void {
    this.#cluster = siblings;
    siblings.onWanted(() => {
      this.#interest.declare(CLUSTER, siblings.wanted());
      this.#schedule();
    });
  }

  /**
   * A tree-wide publication another hub of the cluster sent here: on to this hub's children that
   * want it, as `named` gives it to them (called only when one does: most publications have no
   * child to go to, and cost nothing more here).
   */
  fromCluster(m: BusMessage, scope: Scope, named: (m: BusMessage) => BusMessage | null): void {
    if (!this.#interest.wanted(scope)) return;
    let out: { type: 'tree-publish'; message: BusMessage } | null = null;
    for (const l of this.#interest.linksFor(scope, CLUSTER)) {
      if (!isLink(l) || this.#isRegistrar(l) || !l.open) continue;
      if (!out) {
        const message = named(m);
        if (!message) return;
        out = { type: 'tree-publish', message };
      }
      if (!l.deliver(out)) this.#dropped++;
    }
  }

  /** Tree-wide publications not passed to a neighbour because its link was backed up. */
  get dropped(): number {
    return this.#dropped;
  }

  close(): void {
    this.#closed = true;
    if (this.#push) clearImmediate(this.#push);
  }

  // ---- BusAdapter: what the relay hands over ------------------------------------------

  wants(scope: Scope): boolean {
    return this.#interest.wanted(scope);
  }

  published(m: BusMessage): void {
    // Other hubs see the publisher as hub/name, so they can answer it.
    this.#spread(m.from.includes('/') ? m : m.withSender(`${this.#hubId}/${m.from}`), parseScope(m.scope!), null);
  }

  interest(scope: Scope, delta: 1 | -1): void {
    if (this.#interest.localChanged(scope, delta)) this.#schedule();
  }

  reaches(hubId: string): boolean {
    return this.#direct.reaches(hubId);
  }

  send(hubId: string, name: string, m: BusMessage): Promise<SendResult> {
    return this.#direct.send(hubId, name, m);
  }

  request(hubId: string, name: string, req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    return this.#direct.request(hubId, name, req, timeoutMs);
  }

  // ---- Neighbours ---------------------------------------------------------------------

  /** hub.interest from a neighbour: the tree-wide scopes it wants from this hub. */
  declared(link: HubLink, scopes: string[]): void {
    this.#interest.declare(link, scopes);
    this.#schedule();
  }

  /**
   * hub.publish from a neighbour: to this hub's subscribers, and on to the other neighbours that
   * want it; not at all when it is a copy that came the long way round (its hub is nearer through
   * the cluster), which the nearer way brings here and passes on.
   */
  received(link: HubLink, p: HubPublish): void {
    if (this.#relay.arrivedFarther(p.from, this)) return;
    const scope = parseScope(p.scope);
    const message = new BusMessage('publish', p.from, scope.text, null, p.seq, p.created, p.sent, p.received, payloadOf(p));
    this.#relay.publishRemote(message, scope, this);
    this.#spread(message, scope, link);
  }

  /** A neighbour's link is up: it learns at once what this side wants. */
  addLink(link: HubLink): void {
    if (!this.#links.includes(link)) this.#links.push(link);
    this.#told.delete(link);
    this.#tell(link);
    this.#schedule();
  }

  /** A neighbour's link is gone: what it asked for no longer counts. */
  removeLink(link: HubLink): void {
    const i = this.#links.indexOf(link);
    if (i >= 0) this.#links.splice(i, 1);
    this.#told.delete(link);
    this.#interest.forget(link);
    this.#schedule();
  }

  /** One hub.publish, encoded once, to every neighbour that wants it except `from` (and to the cluster only what came from below). */
  #spread(m: BusMessage, scope: Scope, from: HubLink | null): void {
    const links = this.#interest.linksFor(scope, from);
    if (links.length === 0) return;
    const out = { type: 'tree-publish', message: m } as const;
    for (const l of links) {
      if (!isLink(l)) {
        if (from !== null && !this.#isRegistrar(from)) this.#cluster?.passOn(m);
        continue;
      }
      if (!l.open) continue;
      // Bounded like any receiver: a slow link loses publications (counted), never the hub's memory.
      if (!l.deliver(out)) this.#dropped++;
    }
  }

  /** Interest changes of one turn are told together. */
  #schedule(): void {
    if (this.#push || this.#closed) return;
    this.#push = setImmediate(() => {
      this.#push = null;
      for (const l of this.#links) this.#tell(l);
      this.#tellCluster();
    });
  }

  /** The other hubs of the cluster learn what this hub's children want (its own subscribers' they learn through the relay). */
  #tellCluster(): void {
    if (!this.#cluster) return;
    const scopes = this.#interest.wantedFrom(CLUSTER, this.#links.filter((l) => !this.#isRegistrar(l)), false);
    const key = scopes.join(' ');
    if (key === this.#toldCluster) return;
    this.#toldCluster = key;
    this.#cluster.wantBelow(scopes);
  }

  /** A neighbour is asked for what this hub's subscribers and other neighbours want; the registrar not for what the cluster wants (each hub of it asks its own). */
  #tell(link: HubLink): void {
    if (!link.open) return;
    const others: Neighbour[] = this.#cluster && !this.#isRegistrar(link) ? [...this.#links, CLUSTER] : this.#links;
    const scopes = this.#interest.wantedFrom(link, others);
    const key = scopes.join(' ');
    if (this.#told.get(link) === key) return;
    this.#told.set(link, key);
    link.deliver({ type: 'interest', scopes });
  }
}
