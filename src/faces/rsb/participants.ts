/**
 * RSB links as registry members: each connection is one member (type `rsb`, or `rsb-upstream`
 * for the link to another bus server; address = the peer; session liveness with no grace, since
 * an RSB participant that reconnects is a new participant). It is subscribed to the face's
 * scopes (`/` by default: RSB servers send every event to every client). A clean leave removes it
 * as `unregistered`, a reset or a refusal as `session-lost`.
 */
import { randomUUID } from 'node:crypto';
import type { Relay, Sender } from '../../core/bus/relay.js';
import { parseScope, type Scope } from '../../core/bus/scope.js';
import type { Connection } from '../../core/ports.js';
import type { Member, Registry } from '../../core/registry/registry.js';
import { hashToken, newToken } from '../../core/tokens.js';
import { FACE } from './wire-schema.js';

/** How many taken names are skipped looking for a free `rsb-N`. */
const NAME_TRIES = 1000;

export interface Joined {
  readonly member: Member;
  readonly sender: Sender;
}

export class RsbParticipants {
  readonly #registry: Registry;
  readonly #relay: Relay;
  readonly #scopes: readonly Scope[];
  readonly #writes = new Set<Promise<void>>();
  #next = 0;

  constructor(registry: Registry, relay: Relay, scopes: readonly string[]) {
    this.#registry = registry;
    this.#relay = relay;
    this.#scopes = scopes.map((s) => parseScope(s));
  }

  /** Registers the link's member (usable at once; durable shortly after) and subscribes it; a string says why not. */
  join(connection: Connection, type: string, address: string, onRefused: (why: string) => void,
    options: { graceMs?: number; subscribe?: boolean } = {}): Joined | string {
    const name = this.#freeName(type === FACE ? 'rsb' : type);
    if (name === null) return 'no free rsb-N name';
    const member = this.#registry.createMember({
      id: randomUUID(), name, type, address: address.slice(0, 512), meta: { face: FACE },
      liveness: { kind: 'session', graceMs: options.graceMs ?? 0 }, tokenHash: hashToken(newToken()), registeredAt: Date.now(),
    });
    // add() decides synchronously (name, capacity) and indexes the member before its first await.
    const added = this.#registry.add(member, connection);
    this.#track(added.catch((err: unknown) => onRefused((err as Error).message)));
    if (this.#registry.find(member.id) !== member) return 'registry refused the member';
    if (options.subscribe ?? true) for (const scope of this.#scopes) this.#relay.subscribe(connection, scope, false);
    return { member, sender: this.#relay.senderOf({ connection }) };
  }

  get registry(): Registry {
    return this.#registry;
  }

  /** The link is gone: its member leaves (clean) or is lost. */
  leave(connection: Connection, member: Member | null, clean: boolean): void {
    // In a cluster, written again until Redis takes it: dropped, the member stayed there, alive, at every other hub.
    if (member && clean) this.#track(this.#registry.remove(member, 'unregistered').catch(() => {}));
    this.#registry.connectionClosed(connection);
  }

  /** Registry writes still in flight (the face waits for them when it stops). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }

  #track(p: Promise<void>): void {
    this.#writes.add(p);
    void p.finally(() => this.#writes.delete(p));
  }

  #freeName(base: string): string | null {
    for (let i = 0; i < NAME_TRIES; i++) {
      const name = `${base}-${++this.#next}`;
      if (!this.#registry.names.isTaken(name)) return name;
    }
    return null;
  }
}
