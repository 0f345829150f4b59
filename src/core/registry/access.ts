/**
 * Who may register, and who may act on a member: the checks the registry makes before it changes
 * anything, and the policy a reload may change (admin token, registration key, member cap) or an
 * admin's drain may close.
 */
import { MusterError } from '../../errors.js';
import type { LivenessSpec, RegisterParams } from '../../schemas/member.js';
import { assertValidName } from '../names.js';
import type { Connection } from '../ports.js';
import { hashToken, sameText, Secret, secretEquals } from '../tokens.js';
import type { Member } from './member.js';

/** A registration key when the hub asks for one (the admin token passes without), a connection for session liveness, a valid name. */
export function assertMayRegister(params: RegisterParams, caller: { connection?: Connection }, liveness: Required<LivenessSpec>, admin: boolean, registrationKey: string | undefined): void {
  if (registrationKey && !admin && !secretEquals(params.key, registrationKey)) {
    throw new MusterError('UNAUTHORIZED', 'This hub requires a registration key (param "key")');
  }
  if (liveness.kind === 'session' && !caller.connection) {
    throw new MusterError('INVALID_PARAMS', 'Session liveness needs a connection (WebSocket); use ttl or probe over HTTP');
  }
  if (params.name !== undefined) assertValidName(params.name);
}

/** The member, if the caller may act on it: its own token, the admin token, or the connection that holds it. */
export function authorizedMember(member: Member | undefined, idOrName: string, caller: { token?: string; connection?: Connection }, admin: Secret): Member {
  // Names are listable anyway; telling a client its member is gone lets it register again.
  if (!member) throw new MusterError('NO_SUCH_MEMBER', `No member ${JSON.stringify(idOrName.slice(0, 80))}`, { name: idOrName });
  if (caller.token) {
    // This runs on every heartbeat: the token the member proved last time is compared, not hashed
    // again (a hash was a tenth of a heartbeat's CPU); a new token hashes once for both checks.
    const known = member.verifiedToken;
    if (known && known.hash === member.tokenHash && sameText(caller.token, known.token)) return member;
    const presented = hashToken(caller.token);
    if (presented === member.tokenHash) {
      member.verifiedToken = { token: caller.token, hash: presented };
      return member;
    }
    if (admin.matchesHash(presented)) return member;
  }
  if (caller.connection && member.connection === caller.connection) return member;
  throw new MusterError('UNAUTHORIZED', 'A valid member token or the admin token is required');
}

/** What the hub's config and its admin decide about registering here. */
export class RegistrationPolicy {
  readonly admin: Secret;
  registrationKey: string | undefined;
  maxMembers: number;
  #draining = false;

  constructor(o: { adminToken?: string; registrationKey?: string; maxMembers?: number }) {
    this.admin = new Secret(o.adminToken || undefined);
    this.registrationKey = o.registrationKey || undefined;
    this.maxMembers = o.maxMembers ?? 100_000;
  }

  /** A reloaded config: who may register, how many, and (when given) a new admin token, the old one kept for its grace. */
  reconfigure(o: { registrationKey?: string; maxMembers: number; adminToken?: { value: string | undefined; graceMs: number } }): void {
    this.registrationKey = o.registrationKey || undefined;
    this.maxMembers = o.maxMembers;
    if (o.adminToken) this.admin.rotate(o.adminToken.value || undefined, o.adminToken.graceMs);
  }

  /** From now on registrations answer DRAINING, on every face: clients go to another hub. */
  drain(): void {
    this.#draining = true;
  }

  assertNotDraining(): void {
    if (this.#draining) throw new MusterError('DRAINING', 'This hub is draining and takes no new registrations: register at another hub');
  }

  /** REGISTRY_FULL when `members` (after what a change removes) leave no room for one more. */
  assertRoom(members: number): void {
    if (members >= this.maxMembers) throw new MusterError('REGISTRY_FULL', `The registry is full (${this.maxMembers} members)`, { max: this.maxMembers });
  }
}
