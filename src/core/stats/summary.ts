/** The members summed up by status, type, lifecycle state and face: one pass, asked for, never kept. */
import type { MemberSummary } from '../../schemas/stats.js';
import type { Member } from '../registry/member.js';

/** byType keeps the most common types; a fleet with thousands of types still answers in a bounded size. */
const MAX_TYPES = 100;

export function summarize(members: Iterable<Member>): MemberSummary {
  const byStatus: Record<string, number> = { alive: 0, suspect: 0, gone: 0 };
  const types = new Map<string, number>();
  const byState: Record<string, number> = {};
  const byFace: Record<string, number> = {};
  let total = 0;
  for (const m of members) {
    total++;
    byStatus[m.status] = (byStatus[m.status] ?? 0) + 1;
    types.set(m.type, (types.get(m.type) ?? 0) + 1);
    if (m.lifecycle) byState[m.lifecycle.state] = (byState[m.lifecycle.state] ?? 0) + 1;
    const face = m.face ?? 'none';
    byFace[face] = (byFace[face] ?? 0) + 1;
  }
  const sorted = [...types].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept = sorted.slice(0, MAX_TYPES);
  const otherTypes = sorted.slice(MAX_TYPES).reduce((n, [, c]) => n + c, 0);
  return { total, byStatus, byType: Object.fromEntries(kept), byState, byFace, otherTypes };
}
