/**
 * The hub process's backstop. Every promise chain in the hub handles its own rejections; one that
 * slips through is a bug, and Node's default (exit) would drop every session for it. The hub
 * process logs it with its stack and keeps serving. Only the `muster hub` command installs this:
 * a program that embeds a Hub keeps its own policy, and tests still fail on a stray rejection.
 */
import type { Logger } from 'pino';

export function keepServingOnUnhandledRejections(log: Logger, counted: () => void): void {
  process.on('unhandledRejection', (reason) => {
    counted();
    log.error({ err: reason }, 'unhandled promise rejection (a bug in muster; please report it); the hub keeps serving');
  });
}
