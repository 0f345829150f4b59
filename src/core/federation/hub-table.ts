/**
 * Which hubs are below this one and which child leads to each: the routing table of a tree of
 * hubs. Pure bookkeeping; the federation service keeps the records and the links.
 */
import type { HubEdge } from '../../schemas/federation.js';

export class HubTable {
  readonly selfId: string;
  /** Every hub below this one → the direct child that leads to it (a child leads to itself). */
  readonly #via = new Map<string, string>();
  /** Every hub below this one → the hub it is registered with. */
  readonly #parentOf = new Map<string, string>();

  constructor(selfId: string) {
    this.selfId = selfId;
  }

  get size(): number {
    return this.#via.size;
  }

  /** The direct child that leads to `hubId`, or undefined when it is not below this hub. */
  via(hubId: string): string | undefined {
    return this.#via.get(hubId);
  }

  /** A child's own edge plus its descendants: the subtree it brings. */
  static subtreeOf(childId: string, parentId: string, descendants: readonly HubEdge[]): HubEdge[] {
    return [{ hubId: childId, parent: parentId }, ...descendants];
  }

  /** Hub ids of `edges` that are this hub, repeat within `edges`, or already lead through another child. */
  conflicts(childId: string, edges: readonly HubEdge[]): string[] {
    const seen = new Set<string>();
    const clash: string[] = [];
    for (const e of edges) {
      const owner = this.#via.get(e.hubId);
      if (e.hubId === this.selfId || seen.has(e.hubId) || (owner !== undefined && owner !== childId)) clash.push(e.hubId);
      seen.add(e.hubId);
    }
    return clash;
  }

  /** Replaces a child's subtree; returns the hub ids that left it and the edges that are new. */
  set(childId: string, edges: readonly HubEdge[]): { added: HubEdge[]; removed: string[] } {
    const before = new Set(this.subtree(childId));
    const added: HubEdge[] = [];
    for (const e of edges) {
      if (!before.delete(e.hubId) || this.#parentOf.get(e.hubId) !== e.parent) added.push(e);
      this.#via.set(e.hubId, childId);
      this.#parentOf.set(e.hubId, e.parent);
    }
    for (const id of before) {
      this.#via.delete(id);
      this.#parentOf.delete(id);
    }
    return { added, removed: [...before] };
  }

  /** Forgets a child and everything below it; returns their ids, the child first. */
  drop(childId: string): string[] {
    const ids = this.subtree(childId);
    for (const id of ids) {
      this.#via.delete(id);
      this.#parentOf.delete(id);
    }
    return ids;
  }

  /** Ids of the hubs a child leads to, the child first. */
  subtree(childId: string): string[] {
    const ids: string[] = [];
    if (this.#via.get(childId) === childId) ids.push(childId);
    for (const [id, via] of this.#via) if (via === childId && id !== childId) ids.push(id);
    return ids;
  }

  /** Every hub below this one with its parent: what this hub reports to its registrar. */
  edges(): HubEdge[] {
    return [...this.#parentOf].map(([hubId, parent]) => ({ hubId, parent }));
  }

  /** Direct children of any hub in the table (or of this hub). */
  childrenOf(hubId: string): string[] {
    const out: string[] = [];
    for (const [id, parent] of this.#parentOf) if (parent === hubId) out.push(id);
    return out.sort();
  }

  parentOf(hubId: string): string | undefined {
    return this.#parentOf.get(hubId);
  }
}
