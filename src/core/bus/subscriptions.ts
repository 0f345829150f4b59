/**
 * Scoped subscriptions, indexed by scope component (a trie): routing a message walks the
 * scope's components from the root and collects the subscribers at each node, so a publish costs
 * O(depth + receivers), never a scan of every subscription. Receivers are whatever the faces
 * deliver to (sessions); the bus knows nothing of wire formats.
 */
import { MusterError } from '../../errors.js';
import type { Scope } from './scope.js';

export interface Subscription<R> {
  readonly id: number;
  readonly receiver: R;
  readonly scope: Scope;
  /** Deliver the receiver's own publishes back to it. */
  readonly echo: boolean;
}

class ScopeNode<R> {
  readonly children = new Map<string, ScopeNode<R>>();
  readonly subs = new Set<Subscription<R>>();
  constructor(readonly parent: ScopeNode<R> | null, readonly key: string) {}
}

export interface BusLimits {
  /** Subscriptions one receiver may hold. */
  maxPerReceiver: number;
}

export class SubscriptionTrie<R extends object> {
  readonly #root = new ScopeNode<R>(null, '');
  readonly #byReceiver = new Map<R, Map<number, Subscription<R>>>();
  readonly #limits: BusLimits;
  #nextId = 1;
  #count = 0;
  /** Marks receivers already collected by the current route (no Set per publish). */
  #stamp = 0;
  readonly #stamps = new WeakMap<R, number>();

  constructor(limits: BusLimits = { maxPerReceiver: 1000 }) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#count;
  }

  subscribe(receiver: R, scope: Scope, echo = false): Subscription<R> {
    let mine = this.#byReceiver.get(receiver);
    if (!mine) this.#byReceiver.set(receiver, (mine = new Map()));
    if (mine.size >= this.#limits.maxPerReceiver) {
      throw new MusterError('INVALID_REQUEST', `At most ${this.#limits.maxPerReceiver} subscriptions per connection`);
    }
    let node = this.#root;
    for (const part of scope.parts) {
      let next = node.children.get(part);
      if (!next) node.children.set(part, (next = new ScopeNode(node, part)));
      node = next;
    }
    const sub: Subscription<R> = { id: this.#nextId++, receiver, scope, echo };
    node.subs.add(sub);
    mine.set(sub.id, sub);
    this.#count++;
    return sub;
  }

  /** Removes one of the receiver's subscriptions; false when it has no such id. */
  unsubscribe(receiver: R, id: number): boolean {
    const mine = this.#byReceiver.get(receiver);
    const sub = mine?.get(id);
    if (!mine || !sub) return false;
    mine.delete(id);
    if (mine.size === 0) this.#byReceiver.delete(receiver);
    this.#remove(sub);
    return true;
  }

  /** Drops every subscription of a receiver (its connection closed). */
  removeReceiver(receiver: R): void {
    const mine = this.#byReceiver.get(receiver);
    if (!mine) return;
    this.#byReceiver.delete(receiver);
    for (const sub of mine.values()) this.#remove(sub);
  }

  subscriptionsOf(receiver: R): Subscription<R>[] {
    return [...(this.#byReceiver.get(receiver)?.values() ?? [])];
  }

  /**
   * The receivers of a message on `scope`, each once, in subscription order along the path.
   * `sender` is left out unless one of its matching subscriptions asks for echo.
   */
  route(scope: Scope, sender: R | null, out: R[] = []): R[] {
    const stamp = ++this.#stamp;
    let node: ScopeNode<R> | undefined = this.#root;
    let depth = 0;
    const parts = scope.parts;
    while (node) {
      for (const sub of node.subs) {
        const r = sub.receiver;
        if (r === sender && !sub.echo) continue;
        if (this.#stamps.get(r) === stamp) continue;
        this.#stamps.set(r, stamp);
        out.push(r);
      }
      if (depth === parts.length) break;
      node = node.children.get(parts[depth++]!);
    }
    return out;
  }

  #remove(sub: Subscription<R>): void {
    let node: ScopeNode<R> | undefined = this.#root;
    for (const part of sub.scope.parts) node = node?.children.get(part);
    if (!node || !node.subs.delete(sub)) return;
    this.#count--;
    // Prune empty branches so the trie does not keep every scope ever used.
    while (node.parent && node.subs.size === 0 && node.children.size === 0) {
      node.parent.children.delete(node.key);
      node = node.parent;
    }
  }
}
