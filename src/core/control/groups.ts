/**
 * Group control: every component matching a selector gets the command at once (each with its own
 * timeout), and the answer lists one outcome per member, sorted by name. A scan of the registry
 * per group call, never per event.
 */
import { toMusterError, MusterError } from '../../errors.js';
import type { GroupConfigureResult, GroupStopResult, LifecycleState, Selector } from '../../schemas/control.js';
import { hasRole } from './roles.js';
import type { Caller, Member, Registry } from '../registry/registry.js';

export const GROUP_LIMIT = 10_000;

/** What group control needs of the control service. */
export interface SingleControl {
  configure(name: string, config: Record<string, unknown>, options: { timeoutMs?: number }, caller: Caller): Promise<GroupConfigureResult['members'][number]>;
  stop(name: string, options: { timeoutMs?: number }, caller: Caller): Promise<GroupStopResult['members'][number]>;
}

export function selectComponents(registry: Registry, selector: Selector): Member[] {
  const hits: Member[] = [];
  for (const m of registry.members()) {
    if (!m.lifecycle || !hasRole(m, 'component')) continue;
    if (selector.type !== undefined && m.type !== selector.type) continue;
    if (selector.prefix !== undefined && !m.name.startsWith(selector.prefix)) continue;
    if (selector.state !== undefined && m.lifecycle.state !== selector.state) continue;
    if (selector.meta && !Object.entries(selector.meta).every(([k, v]) => m.meta[k] === v)) continue;
    hits.push(m);
    if (hits.length > GROUP_LIMIT) throw new MusterError('INVALID_PARAMS', `The selector matches more than ${GROUP_LIMIT} components`, { max: GROUP_LIMIT });
  }
  return hits.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const failure = (m: Member, err: unknown) => {
  const e = toMusterError(err);
  return { name: m.name, error: e.message, code: e.code, state: (m.lifecycle?.state ?? undefined) as LifecycleState | undefined };
};

export async function configureEach(control: SingleControl, members: Member[], config: Record<string, unknown>, options: { timeoutMs?: number }, caller: Caller): Promise<GroupConfigureResult> {
  return {
    members: await Promise.all(members.map((m) => control.configure(m.name, config, options, caller).catch((err: unknown) => ({ ...failure(m, err), ok: false })))),
  };
}

export async function stopEach(control: SingleControl, members: Member[], options: { timeoutMs?: number }, caller: Caller): Promise<GroupStopResult> {
  return { members: await Promise.all(members.map((m) => control.stop(m.name, options, caller).catch((err: unknown) => failure(m, err)))) };
}
