/** Who may register, and who may act on a member: the checks the registry makes before it changes anything. */
import { MusterError } from '../../errors.js';
import type { LivenessSpec, RegisterParams } from '../../schemas/member.js';
import { assertValidName } from '../names.js';
import type { Connection } from '../ports.js';
import { hashToken, type Secret, secretEquals } from '../tokens.js';
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
    // One hash of the presented token answers both checks (this runs on every heartbeat).
    const presented = hashToken(caller.token);
    if (presented === member.tokenHash || admin.matchesHash(presented)) return member;
  }
  if (caller.connection && member.connection === caller.connection) return member;
  throw new MusterError('UNAUTHORIZED', 'A valid member token or the admin token is required');
}
