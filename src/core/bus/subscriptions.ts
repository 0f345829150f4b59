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

/** A receiver's subscriptions, and the mark of the last route that collected it. */
interface ReceiverEntry<R> {
  readonly receiver: R;
  readonly subs: Map<number, Sub<R>>;
  stamp: number;
}

/** A subscription with its receiver's entry: a route marks the receiver with a field write (no Set or WeakMap per publish). */
interface Sub<R> extends Subscription<R> {
  readonly entry: ReceiverEntry<R>;
}

class ScopeNode<R> {
  readonly children = new Map<string, ScopeNode<R>>();
  readonly #subs = new Set<Sub<R>>();
  /** #subs as an array, rebuilt after a change: routes far outnumber subscribes, and an indexed loop makes no iterator. */
  #list: Sub<R>[] | null = null;
  constructor(readonly parent: ScopeNode<R> | null, readonly key: string) {}

  get size(): number {
    return this.#subs.size;
  }

  get list(): readonly Sub<R>[] {
    return (this.#list ??= [...this.#subs]);
  }

  add(sub: Sub<R>): void {
    this.#subs.add(sub);
    this.#list = null;
  }

  delete(sub: Sub<R>): boolean {
    this.#list = null;
    return this.#subs.delete(sub);
  }
}

export interface BusLimits {
  /** Subscriptions one receiver may hold. */
  maxPerReceiver: number;
}

export class SubscriptionTrie<R extends object> {
  readonly #root = new ScopeNode<R>(null, '');
  readonly #byReceiver = new Map<R, ReceiverEntry<R>>();
  readonly #limits: BusLimits;
  #nextId = 1;
  #count = 0;
  /** Marks receivers already collected by the current route (ReceiverEntry.stamp). */
  #stamp = 0;

  constructor(limits: BusLimits = { maxPerReceiver: 1000 }) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#count;
  }

  subscribe(receiver: R, scope: Scope, echo = false): Subscription<R> {
    let entry = this.#byReceiver.get(receiver);
    if (!entry) this.#byReceiver.set(receiver, (entry = { receiver, subs: new Map(), stamp: 0 }));
    const mine = entry.subs;
    if (mine.size >= this.#limits.maxPerReceiver) {
      throw new MusterError('INVALID_REQUEST', `At most ${this.#limits.maxPerReceiver} subscriptions per connection`);
    }
    let node = this.#root;
    for (const part of scope.parts) {
      let next = node.children.get(part);
      if (!next) node.children.set(part, (next = new ScopeNode(node, part)));
      node = next;
    }
    const sub: Sub<R> = { id: this.#nextId++, receiver, scope, echo, entry };
    node.add(sub);
    mine.set(sub.id, sub);
    this.#count++;
    return sub;
  }

  /** Removes one of the receiver's subscriptions; false when it has no such id. */
  unsubscribe(receiver: R, id: number): boolean {
    const mine = this.#byReceiver.get(receiver)?.subs;
    const sub = mine?.get(id);
    if (!mine || !sub) return false;
    mine.delete(id);
    if (mine.size === 0) this.#byReceiver.delete(receiver);
    this.#remove(sub);
    return true;
  }

  /** Drops every subscription of a receiver (its connection closed). */
  removeReceiver(receiver: R): void {
    const mine = this.#byReceiver.get(receiver)?.subs;
    if (!mine) return;
    this.#byReceiver.delete(receiver);
    for (const sub of mine.values()) this.#remove(sub);
  }

  subscriptionsOf(receiver: R): Subscription<R>[] {
    return [...(this.#byReceiver.get(receiver)?.subs.values() ?? [])];
  }

  /**
   * The receivers of a message on `scope`, each once, in subscription order along the path.
   * `sender` is left out unless one of its matching subscriptions asks for echo. A new array per
   * route is cheaper than truncating a reused one (setting an array's length is a builtin call).
   */
  route(scope: Scope, sender: R | null, out: R[] = []): R[] {
    const stamp = ++this.#stamp;
    let node: ScopeNode<R> | undefined = this.#root;
    let depth = 0;
    const parts = scope.parts;
    while (node) {
      const subs = node.list;
      for (let i = 0; i < subs.length; i++) {
        const sub = subs[i]!;
        const entry = sub.entry;
        if (entry.stamp === stamp || (entry.receiver === sender && !sub.echo)) continue;
        entry.stamp = stamp;
        out.push(entry.receiver);
      }
      if (depth === parts.length) break;
      node = node.children.get(parts[depth++]!);
    }
    return out;
  }

  #remove(sub: Sub<R>): void {
    let node: ScopeNode<R> | undefined = this.#root;
    for (const part of sub.scope.parts) node = node?.children.get(part);
    if (!node || !node.delete(sub)) return;
    this.#count--;
    // Prune empty branches so the trie does not keep every scope ever used.
    while (node.parent && node.size === 0 && node.children.size === 0) {
      node.parent.children.delete(node.key);
      node = node.parent;
    }
  }
}
