/**
 * Tree-wide bus interest: which tree-wide scopes this hub's own subscribers want, and which each
 * neighbour hub asked for. A publication goes only to neighbours whose interest covers its scope,
 * never back where it came from; each hub tells a neighbour the union of what everyone else
 * wants, so interest spreads along the tree and a tree has no loops to follow.
 */
import { SubscriptionTrie } from '../bus/subscriptions.js';
import { parseScope, type Scope } from '../bus/scope.js';

export class Interest<L extends object> {
  /** Scopes (with everything below them) marked tree-wide. */
  readonly #roots: readonly string[];
  /** Interest scope → local subscriptions behind it. */
  readonly #local = new Map<string, number>();
  /** What each neighbour asked for, as subscriptions of that neighbour (routing uses the trie). */
  readonly #declared = new SubscriptionTrie<L>({ maxPerReceiver: 10_000 });
  /** Reused by wanted(): the publish path allocates nothing for it. */
  readonly #scratch: L[] = [];

  constructor(treeScopes: readonly string[]) {
    this.#roots = treeScopes.map((s) => parseScope(s).text);
  }

  isTreeScope(scope: string): boolean {
    for (const r of this.#roots) if (scope.startsWith(r)) return true;
    return false;
  }

  /** A local subscription on `scope` came (+1) or went (-1); true when the set of local interest changed. */
  localChanged(scope: Scope, delta: 1 | -1): boolean {
    let changed = false;
    for (const s of this.#interestOf(scope.text)) {
      const n = (this.#local.get(s) ?? 0) + delta;
      if (n <= 0) changed = this.#local.delete(s) || changed;
      else {
        if (n === 1 && delta === 1) changed = true;
        this.#local.set(s, n);
      }
    }
    return changed;
  }

  /** Replaces what `link` asked for (only tree-wide scopes are taken). */
  declare(link: L, scopes: readonly string[]): void {
    this.#declared.removeReceiver(link);
    for (const text of minimal(scopes.map((s) => parseScope(s).text).filter((s) => this.isTreeScope(s)))) {
      this.#declared.subscribe(link, parseScope(text));
    }
  }

  forget(link: L): void {
    this.#declared.removeReceiver(link);
  }

  /** True when some neighbour wants publications on `scope` (and the scope is tree-wide here). */
  wanted(scope: Scope): boolean {
    if (this.#declared.size === 0 || !this.isTreeScope(scope.text)) return false;
    const any = this.#declared.route(scope, null, this.#scratch).length > 0;
    this.#scratch.length = 0;
    return any;
  }

  /** The neighbours that want `scope`, except `from` (the link it came on). */
  linksFor(scope: Scope, from: L | null, out: L[] = []): L[] {
    if (this.#declared.size === 0) return out;
    return this.#declared.route(scope, from, out);
  }

  /** What to ask `link` for: local interest (unless `withLocal` is false) and what every other neighbour asked this hub for. */
  wantedFrom(link: L, others: Iterable<L>, withLocal = true): string[] {
    const all = withLocal ? [...this.#local.keys()] : [];
    for (const o of others) if (o !== link) for (const s of this.#declared.subscriptionsOf(o)) all.push(s.scope.text);
    return minimal(all);
  }

  /** The tree-wide scopes a subscription on `scope` wants: itself if below a root, else the roots below it. */
  #interestOf(scope: string): string[] {
    const out: string[] = [];
    for (const r of this.#roots) {
      if (scope.startsWith(r)) out.push(scope);
      else if (r.startsWith(scope)) out.push(r);
    }
    return out;
  }
}

/** Sorted scopes with every scope below another one left out. */
function minimal(scopes: string[]): string[] {
  const sorted = [...new Set(scopes)].sort();
  const out: string[] = [];
  for (const s of sorted) if (!out.some((o) => s.startsWith(o))) out.push(s);
  return out;
}
