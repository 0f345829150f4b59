/**
 * Which dialect of the lifecycle each component follows, and that dialect's own defaults. A face
 * whose components speak a real system's protocol (ICCP) installs its dialect on the control
 * service; every other component is native. Asked on each transition (a predicate, no state), so
 * records restored before the face started get their dialect as soon as it is installed.
 */
import type { Dialect, Kind } from './lifecycle.js';
import type { Member } from '../registry/registry.js';

export interface DialectRule {
  readonly name: Exclude<Dialect, 'native'>;
  /** Whether a member is one of this dialect's components. */
  covers(member: Member): boolean;
  /** Waits that differ from the hub's lifecycleTimeoutMs: for READY, and for the answer to CONFIGURE or STOP. */
  readonly timeouts?: { readonly ready?: number; readonly configure?: number; readonly stop?: number };
  /** Refuses a config this dialect cannot carry (throws INVALID_PARAMS) before anything is sent. */
  checkConfig?(config: Record<string, unknown>): void;
}

export class Dialects {
  readonly #rules: DialectRule[] = [];

  add(rule: DialectRule): void {
    this.#rules.push(rule);
  }

  remove(rule: DialectRule): void {
    const i = this.#rules.indexOf(rule);
    if (i !== -1) this.#rules.splice(i, 1);
  }

  ruleOf(member: Member): DialectRule | undefined {
    return this.#rules.find((r) => r.covers(member));
  }

  of(member: Member): Dialect {
    return this.ruleOf(member)?.name ?? 'native';
  }

  /** How long to wait for READY (`ready`) or the answer to a command, unless the controller said. */
  timeout(member: Member, wait: Kind | 'ready', fallback: number): number {
    return this.ruleOf(member)?.timeouts?.[wait] ?? fallback;
  }
}
