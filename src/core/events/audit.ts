/**
 * The audit: every admin action is an event in the log (type `admin`), stored and replayed like
 * the others, with who did it (the admin token is one identity: "admin") and where the call came
 * from (face and peer address). Only watches that ask for admin events receive them.
 */
import type { AdminAction } from '../../schemas/event.js';
import type { Caller, Registry } from '../registry/registry.js';

/** Who an admin action is recorded as: the admin token is the only identity that may take one. */
export const ADMIN = 'admin';

export class Audit {
  readonly #registry: Registry;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** Records an admin action; resolves once the event is durable (rejects as the store does). */
  async record(action: AdminAction, detail: Record<string, unknown>, caller: Caller): Promise<void> {
    const from = caller.from;
    // The action logs its own line; the event is the record. `type` first: the log tells admin events from the JSON's head (LoggedEvent.admin).
    await this.#registry.record({ type: 'admin', action, by: ADMIN, ...(from ? { from } : {}), detail });
  }
}
