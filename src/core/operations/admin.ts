/**
 * Admin-only operations: evicting a member, the log level, checking federation links now,
 * draining the hub before a stop, reloading the config. Each needs the admin token and is
 * audited: an eviction is a removed event with `by`, every other action an admin event
 * (core/events/audit.ts).
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { MusterError } from '../../errors.js';
import {
  CheckLinksParams, CheckLinksResult, DrainParams, DrainResult, EvictParams, EvictResult, LINK_STATUSES, LogLevelParams, LogLevelResult,
  ReloadParams, ReloadResult, type LogLevel,
} from '../../schemas/admin.js';
import { ADMIN } from '../events/audit.js';
import { DRAIN_DEFAULT_TIMEOUT_MS } from '../drain.js';
import type { Caller } from '../registry/registry.js';
import { op, type HttpBinding, type Operation, type Services } from './operation.js';

/** An operation only the admin token may call: UNAUTHORIZED without a token, FORBIDDEN with another. */
function adminOp<N extends string, P extends TSchema, R extends TSchema>(
  name: N, summary: string, params: P, result: R, http: HttpBinding, run: (s: Services, p: Static<P>, caller: Caller) => Promise<Static<R>> | Static<R>,
): Operation<P, R, N> {
  return op({
    name, summary: `Admin: ${summary} Admin token only.`, params, result, http: { ...http, auth: true },
    run: (s, p, caller: Caller) => {
      if (!caller.token) throw new MusterError('UNAUTHORIZED', `${name} needs the admin token`);
      if (!s.registry.isAdmin(caller.token)) throw new MusterError('FORBIDDEN', `Only the admin token may call ${name}`);
      return run(s, p, caller);
    },
  });
}

/** pino's order; silent hides everything. */
const VERBOSITY: Readonly<Record<LogLevel, number>> = { trace: 6, debug: 5, info: 4, warn: 3, error: 2, fatal: 1, silent: 0 };

export const adminOperations = [
  adminOp('admin.evict', 'remove a member at once (reason: evicted; the event says by whom and, with `reason`, why). It may register again.',
    EvictParams, EvictResult, { method: 'POST', path: '/v1/members/:name/evict' }, async (s, p) => {
      const member = s.registry.find(p.name);
      if (!member) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(p.name)}`, { name: p.name });
      await s.registry.remove(member, 'evicted', p.reason === undefined ? { by: ADMIN } : { by: ADMIN, note: p.reason });
      s.log.info({ by: ADMIN, name: member.name, id: member.id, reason: p.reason }, `member ${member.name} evicted`);
      return { ok: true as const };
    }),
  adminOp('admin.logLevel', "set this hub's log level at once, until it restarts (the answer says the previous one).",
    LogLevelParams, LogLevelResult, { method: 'PUT', path: '/v1/admin/log-level' }, async (s, p, caller) => {
      const previous = s.log.level as LogLevel;
      await s.audit.record('log-level', { from: previous, to: p.level }, caller);
      // Logged at info under the more verbose of the two levels: it shows unless both hide info.
      const say = () => s.log.info({ by: ADMIN, from: previous, to: p.level }, `log level ${previous} -> ${p.level}`);
      if (VERBOSITY[p.level] > VERBOSITY[previous]) {
        s.log.level = p.level;
        say();
      } else {
        say();
        s.log.level = p.level;
      }
      return { level: p.level, previous };
    }),
  adminOp('admin.checkLinks', "run the federation connection monitor now, both ways: this hub's link to its registrar and each child hub's; answers each link's status and round trip (a child that does not answer is removed with its subtree, as the monitor would).",
    CheckLinksParams, CheckLinksResult, { method: 'POST', path: '/v1/admin/check-links' }, async (s, p, caller) => {
      const links = await s.federation.checkLinks(p.timeoutMs);
      const count = Object.fromEntries(LINK_STATUSES.map((st) => [st, links.filter((l) => l.status === st).length]));
      const notOk = links.filter((l) => l.status !== 'ok').map((l) => ({ hubId: l.hubId, address: l.address, status: l.status }));
      await s.audit.record('check-links', { ...count, notOk }, caller);
      s.log.info({ by: ADMIN, ...count }, `check-links: ${links.length} links, ${count.ok} ok`);
      return { links };
    }),
  adminOp('admin.drain', 'stop taking registrations and sessions (DRAINING, /healthz 503), ask connected clients to move to another hub, then stop once no session member is left or the timeout passed. The answer comes first.',
    DrainParams, DrainResult, { method: 'POST', path: '/v1/admin/drain' }, async (s, p, caller) => {
      // Recorded before it begins: once the hub has stopped it could not be.
      await s.audit.record('drain', { timeoutMs: p.timeoutMs ?? DRAIN_DEFAULT_TIMEOUT_MS, already: s.drain.active }, caller);
      return s.drain.start(p.timeoutMs);
    }),
  adminOp('admin.reload', 'read the config file again and apply what changed, as SIGHUP does; a key that needs a restart (CONFIG_NOT_RELOADABLE) or an invalid file (CONFIG_INVALID) refuses the whole reload. A reload that changed something is an admin event.',
    ReloadParams, ReloadResult, { method: 'POST', path: '/v1/admin/reload', from: 'none' }, (s, _p, caller) => {
      if (!s.reloadConfig) throw new MusterError('CONFIG_NOT_RELOADABLE', 'This hub was started from code, not by `muster hub`: it has no config file to read again');
      return s.reloadConfig(ADMIN, caller);
    }),
] as const;
