/**
 * Calls on other hubs, one hop at a time: down through the child that leads to the hub if it is
 * below this one, otherwise up to the registrar, which does the same; so a call climbs to the
 * common ancestor, then descends. Also what a forwarded call runs on arrival, and get, list and
 * tree across the tree. Configure and stop of `hub/name` (the ControlAdapter) and bus sends and
 * requests to it are forwarded calls too.
 */
import { asHubError, MusterError } from '../../errors.js';
import { BusMessage, BusPayload, payloadOf } from '../bus/message.js';
import type { Relay } from '../bus/relay.js';
import type { Control, Kind } from '../control/control.js';
import type { BusRequest, ControlAdapter, HubLink, LifecycleCommand, SendResult, Siblings } from '../ports.js';
import type { Registry } from '../registry/registry.js';
import type { ListResult, MemberView } from '../../schemas/member.js';
import { TreeListParams, type ForwardOp, type ForwardParams, type TreeNode } from '../../schemas/federation.js';
import { validate } from '../../schemas/validate.js';
import type { Child } from './children.js';
import type { HubRecords } from './hub-records.js';
import type { HubTable } from './hub-table.js';

/** Forwards are refused past this many hops: a tree this deep is a loop. */
const MAX_HOPS = 32;
/** How long a hub waits on a neighbour for a lookup, a list or the tree. */
export const QUERY_TIMEOUT_MS = 5_000;
/** Added to a forwarded call's own timeout so the far hub's TIMEOUT arrives before ours. */
const FORWARD_MARGIN_MS = 2_000;

/** The links a call may take, as the federation service knows them now. */
export interface Routes {
  /** A direct child registered here. */
  child(hubId: string): Child | undefined;
  /** The registrar's link; null while it is down, or when there is none. */
  registrar(): HubLink | null;
  /** The registrar's hub id once it accepted this hub (kept while its link is down). */
  registrarId(): string | null;
  /** This hub's points of access. */
  poa(): string[];
  /** Cluster mode: the cluster's other hubs (null on a hub of its own). */
  siblings(): Siblings | null;
}

/** Where a forwarded call came from: a link, another hub of this cluster, or this hub's own caller (null). */
export type ForwardSource = HubLink | 'sibling' | null;

export interface ForwardingOptions {
  hubId: string;
  registry: Registry;
  relay: Relay;
  control: Control;
  table: HubTable;
  records: HubRecords;
  routes: Routes;
  lifecycleTimeoutMs: number;
}

/**
 * Calls the hub at the other end of `link`. The link rejects with a PeerError (that hub's
 * answer) or a MusterError (no answer): the far hub's code is kept, no answer is HUB_UNREACHABLE.
 */
export function callHub(link: HubLink, method: string, params: unknown, timeoutMs: number): Promise<unknown> {
  return link.call(method, params, timeoutMs).catch((err: unknown) => { throw asHubError(err); });
}

export class Forwarding implements ControlAdapter {
  readonly #o: ForwardingOptions;
  readonly #hubId: string;

  constructor(options: ForwardingOptions) {
    this.#o = options;
    this.#hubId = options.hubId;
  }

  /** Every other hub id is worth a try: unknown ones answer NO_SUCH_HUB from the root. */
  reaches(hubId: string): boolean {
    return hubId !== this.#hubId;
  }

  command(hubId: string, name: string, kind: LifecycleCommand['type'], config: Record<string, unknown>, timeoutMs: number | undefined): Promise<unknown> {
    return this.forward(hubId, kind, { name, config, timeoutMs }, null);
  }

  /** A direct message to `hubId/name`; the far hub sees the sender as this hub's `hub/name`. */
  send(hubId: string, name: string, m: BusMessage): Promise<SendResult> {
    return this.forward(hubId, 'send', sendParams(name, m.withSender(`${this.#hubId}/${m.from}`)), null) as Promise<SendResult>;
  }

  /** A request to `hubId/name`, asked as this hub's `hub/name`. */
  async request(hubId: string, name: string, req: BusRequest, timeoutMs: number): Promise<BusPayload> {
    const params = { from: `${this.#hubId}/${req.from}`, to: name, method: req.method, params: req.payload.toJSONValue(), timeoutMs };
    return BusPayload.of(await this.forward(hubId, 'request', params, null));
  }

  /**
   * Runs `op` on hub `to`: here, or through the child leading to it, or through the hub of this
   * cluster that holds it, or through the registrar. `from`: where the call came from.
   */
  async forward(to: string, op: ForwardOp, params: Record<string, unknown>, from: ForwardSource, hops = 0): Promise<unknown> {
    if (to === this.#hubId) return this.#run(op, params, from);
    if (hops >= MAX_HOPS) throw new MusterError('HUB_UNREACHABLE', `Gave up forwarding to ${to} after ${hops} hops`, { hub: to });
    const timeoutMs = (typeof params.timeoutMs === 'number' ? params.timeoutMs : op === 'configure' || op === 'stop' ? this.#o.lifecycleTimeoutMs : QUERY_TIMEOUT_MS) + FORWARD_MARGIN_MS;
    const call: ForwardParams = { to, op, params, hops: hops + 1 };
    const sibling = from === 'sibling' ? null : this.#siblingFor(to);
    if (sibling) return this.#o.routes.siblings()!.forward(sibling, call, timeoutMs);
    return callHub(this.#nextHop(to, from), 'hub.forward', call, timeoutMs);
  }

  /** Cluster mode: the other hub of this cluster that is `to`, or holds the link leading to it. */
  #siblingFor(to: string): string | null {
    const siblings = this.#o.routes.siblings();
    if (!siblings || this.#o.table.via(to) !== undefined) return null;
    if (siblings.has(to)) return to;
    const holder = this.#o.records.heldBy(to);
    return holder !== null && holder !== this.#hubId && siblings.has(holder) ? holder : null;
  }

  /** Cluster mode: the child hubs registered with the cluster's other hubs (none on a hub of its own). */
  #siblingChildren(): string[] {
    const siblings = this.#o.routes.siblings();
    return siblings ? this.#o.records.childrenHeldBy((hub) => hub !== this.#hubId && siblings.has(hub)) : [];
  }

  #nextHop(to: string, from: ForwardSource): HubLink {
    const routes = this.#o.routes;
    const via = this.#o.table.via(to);
    if (via !== undefined) {
      const child = routes.child(via);
      if (!child?.link.open) throw new MusterError('HUB_UNREACHABLE', `Hub ${to} is below ${via}, whose link is down`, { hub: to, via });
      return child.link;
    }
    // Not below this hub: only the registrar may know it (and never back up what came down, nor
    // what another hub of this cluster sent here: that hub has its own way up).
    const registrar = routes.registrar();
    if (routes.registrarId() === null || from === 'sibling' || (from !== null && from === registrar)) throw new MusterError('NO_SUCH_HUB', `No hub ${JSON.stringify(to)} in this tree`, { hub: to });
    if (!registrar?.open) {
      throw new MusterError('HUB_UNREACHABLE', `Hub ${to} is not below this hub and the registrar ${routes.registrarId() ?? ''} cannot be reached`, { hub: to });
    }
    return registrar;
  }

  /**
   * A forwarded operation, run on this hub's own members. Authority was checked at the hub it came
   * from. A hub's own caller (`from` null) sees a cluster as one hub: its tree and subtree lists
   * take in the children of the cluster's other hubs; a hub asked by another sees only its own.
   */
  async #run(op: ForwardOp, p: Record<string, unknown>, from: ForwardSource): Promise<unknown> {
    const { relay, registry, control } = this.#o;
    switch (op) {
      case 'get': return registry.get(str(p, 'name'));
      case 'list': return this.list(validate(TreeListParams, p, 'list'), from !== null);
      case 'tree': return this.tree(from !== null);
      case 'send': return relay.sendRemote(sendMessage(p));
      case 'request': return (await relay.requestRemote(str(p, 'from'), str(p, 'to'), str(p, 'method'), BusPayload.of(p.params), int(p, 'timeoutMs'))).toJSONValue();
      case 'configure':
      case 'stop': {
        const config = (typeof p.config === 'object' && p.config !== null ? p.config : {}) as Record<string, unknown>;
        return control.command(str(p, 'name'), op as Kind, config, typeof p.timeoutMs === 'number' ? p.timeoutMs : undefined);
      }
    }
  }

  /** A member anywhere in the tree, by `name` or `hub/name`. */
  async get(address: string): Promise<MemberView> {
    const slash = address.indexOf('/');
    const hubId = slash < 0 ? this.#hubId : address.slice(0, slash);
    const name = address.slice(slash + 1);
    if (hubId === this.#hubId) return this.#o.registry.get(name);
    return this.forward(hubId, 'get', { name }, null) as Promise<MemberView>;
  }

  /**
   * Members of this hub, of one hub (`hub`), or of a whole subtree (`subtree`). A hub asked by
   * name, or by another hub, lists the members it holds: in a cluster, the others are listed by
   * their own hubs, so each appears once, under the hub that holds it.
   */
  async list(params: TreeListParams, forwarded = false): Promise<ListResult> {
    const { hub, subtree, ...filters } = params;
    if (hub !== undefined && hub !== this.#hubId) return this.forward(hub, 'list', { ...filters, subtree }, null) as Promise<ListResult>;
    const here = this.#o.registry.list(filters, forwarded || hub === this.#hubId);
    if (!subtree) return here;
    const table = this.#o.table;
    const unreachable: string[] = [];
    const children = forwarded ? table.childrenOf(this.#hubId) : [...table.childrenOf(this.#hubId), ...this.#siblingChildren()];
    const below = await Promise.all(children.map((id) =>
      (this.forward(id, 'list', { ...filters, subtree: true }, null) as Promise<ListResult>).catch(() => {
        unreachable.push(...table.subtree(id));
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

  /**
   * This hub and everything below it, each hub asked now (in parallel); silent ones shown
   * unreachable. In a cluster, asked here (not `forwarded` by another hub), the children of the
   * cluster's other hubs are below it too: the cluster is one node of the tree.
   */
  async tree(forwarded = false): Promise<TreeNode> {
    const own = this.#o.table.childrenOf(this.#hubId).map(async (id): Promise<TreeNode> => {
      const child = this.#o.routes.child(id);
      if (!child?.link.open) return this.#knownNode(id, 'suspect');
      return (child.link.call('hub.forward', { to: id, op: 'tree', params: {}, hops: 1 }, QUERY_TIMEOUT_MS) as Promise<TreeNode>)
        .catch(() => this.#knownNode(id, 'unreachable'));
    });
    const theirs = forwarded ? [] : this.#siblingChildren().map((id) =>
      (this.forward(id, 'tree', {}, null) as Promise<TreeNode>).catch(() => this.#knownNode(id, 'unreachable')));
    const children = await Promise.all([...own, ...theirs]);
    children.sort((a, b) => (a.hubId < b.hubId ? -1 : 1));
    return { hubId: this.#hubId, status: 'up', poa: this.#o.routes.poa(), members: this.#o.registry.counts(), children };
  }

  /** What this hub knows of a hub below it without asking it. */
  #knownNode(hubId: string, status: TreeNode['status']): TreeNode {
    const poa = this.#o.routes.child(hubId)?.poa ?? this.#o.records.poaOf(hubId);
    const below = this.#o.table.childrenOf(hubId).map((id) => this.#knownNode(id, status === 'suspect' ? 'unreachable' : status));
    return { hubId, status, poa, members: null, children: below };
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
