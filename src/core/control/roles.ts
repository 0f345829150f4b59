/**
 * The role model of lifecycle control. Roles live in member.roles (persisted with the member):
 * "component" members are driven through the lifecycle; "controller" members may configure and
 * stop any component. Granting "controller" needs the admin token (checked at registration).
 */
import { MusterError } from '../../errors.js';
import type { Role } from '../../schemas/control.js';
import type { Caller, Member, Registry } from '../registry/registry.js';

export function hasRole(member: Member, role: Role): boolean {
  return member.roles.includes(role);
}

/** The admin token, a controller's token, or a connection a controller registered on. */
export function authorizeController(registry: Registry, caller: Caller): void {
  if (registry.isAdmin(caller.token)) return;
  if (caller.token) {
    const m = registry.findByToken(caller.token);
    if (m && hasRole(m, 'controller')) return;
  }
  let onConnection = 0;
  if (caller.connection) {
    for (const m of registry.connectionMembers(caller.connection)) {
      if (hasRole(m, 'controller')) return;
      onConnection++;
    }
  }
  if (!caller.token && onConnection === 0) throw new MusterError('UNAUTHORIZED', 'Controlling components needs the admin token or a controller token');
  throw new MusterError('FORBIDDEN', 'Only the admin token or a member with the controller role may control components');
}
