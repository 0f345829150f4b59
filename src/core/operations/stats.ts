/** The hub's own statistics, read-only: its counters over the last 15 minutes and its members summed up. */
import { History, HistoryParams, MemberSummary } from '../../schemas/stats.js';
import { summarize } from '../stats/summary.js';
import { op, readOp } from './operation.js';

export const statsOperations = [
  op({
    name: 'stats.history',
    summary: "The hub's counters and member counts, sampled each second over the last 15 minutes (after `since`).",
    params: HistoryParams,
    result: History,
    http: { method: 'GET', path: '/v1/stats/history', from: 'query' },
    run: (s, p) => s.stats.since(p.since),
  }),
  readOp('stats.members', "This hub's members counted by status, type, lifecycle state and face.", MemberSummary, '/v1/stats/members', (s) => summarize(s.registry.members())),
] as const;
