/** Who may hold which role. */
import { MusterError } from '../../errors.js';
import type { RegisterParams } from '../../schemas/member.js';
import type { Member } from './member.js';

/** The controller role is granted only with the admin token (or kept by a member that has it). */
export function assertRoles(roles: RegisterParams['roles'], admin: boolean, existing?: Member): void {
  if (!roles?.includes('controller') || admin) return;
  const had = existing?.roles.includes('controller');
  if (!had) throw new MusterError('FORBIDDEN', 'Only the admin token may register a member with the controller role');
}
