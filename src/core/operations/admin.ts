/**
 * Admin-only operations: evicting a member, changing the log level, reloading the config. Each
 * needs the admin token and leaves a trace of who asked: the removed event's `by`, a log line.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { MusterError } from '../../errors.js';
import { EvictParams, EvictResult, LogLevelParams, LogLevelResult, ReloadParams, ReloadResult, type LogLevel } from '../../schemas/admin.js';
import type { Caller } from '../registry/registry.js';
import { op, type HttpBinding, type Operation, type Services } from './operation.js';

/** Who asked, as events and logs name them: the admin token is the only one these take. */
const ADMIN = 'admin';

/** An operation only the admin token may call: UNAUTHORIZED without a token, FORBIDDEN with another. */
function adminOp<N extends string, P extends TSchema, R extends TSchema>(
  name: N, summary: string, params: P, result: R, http: HttpBinding, run: (s: Services, p: Static<P>) => Promise<Static<R>> | Static<R>,
): Operation<P, R, N> {
  return op({
    name, summary: `Admin: ${summary} Admin token only.`, params, result, http: { ...http, auth: true },
    run: (s, p, caller: Caller) => {
      if (!caller.token) throw new MusterError('UNAUTHORIZED', `${name} needs the admin token`);
      if (!s.registry.isAdmin(caller.token)) throw new MusterError('FORBIDDEN', `Only the admin token may call ${name}`);
      return run(s, p);
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
    LogLevelParams, LogLevelResult, { method: 'PUT', path: '/v1/admin/log-level' }, (s, p) => {
      const previous = s.log.level as LogLevel;
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
  adminOp('admin.reload', 'read the config file again and apply what changed, as SIGHUP does; a key that needs a restart (CONFIG_NOT_RELOADABLE) or an invalid file (CONFIG_INVALID) refuses the whole reload.',
    ReloadParams, ReloadResult, { method: 'POST', path: '/v1/admin/reload', from: 'none' }, (s) => {
      if (!s.reloadConfig) throw new MusterError('CONFIG_NOT_RELOADABLE', 'This hub was started from code, not by `muster hub`: it has no config file to read again');
      return s.reloadConfig(ADMIN);
    }),
] as const;
