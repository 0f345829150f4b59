/** How a plantimager device is told from other members: `meta.face`. Small on purpose: the hub reads it without loading the face. */
import type { Member } from '../../core/registry/member.js';

export const FACE_LABEL = 'plantimager';

export function isDevice(m: Pick<Member, 'meta'>): boolean {
  return m.meta.face === FACE_LABEL;
}
