/** The hub's own counters over time and its members summed up: what the dashboard draws. */
import { Type, type Static } from '@sinclair/typebox';

/** Levels sampled as they are. */
export const GAUGES = ['members', 'alive', 'suspect', 'gone', 'subscriptions', 'watchers'] as const;
/** Totals since the hub started: a chart shows the difference between two samples (a rate). */
export const COUNTERS = [
  'events', 'registrations', 'heartbeats', 'published', 'delivered', 'deliveredBytes', 'dropped', 'throttled',
  'slowDisconnects', 'requests', 'requestErrors', 'watchersDropped',
] as const;
export const SERIES = [...GAUGES, ...COUNTERS] as const;
export type SeriesName = (typeof SERIES)[number];

export const HistoryParams = Type.Object({
  since: Type.Optional(Type.Number({ minimum: 0, description: 'Only samples taken after this time (ms since the epoch)' })),
}, { additionalProperties: false });
export type HistoryParams = Static<typeof HistoryParams>;

export const History = Type.Object({
  intervalMs: Type.Integer({ description: 'Time between samples' }),
  keep: Type.Integer({ description: 'Samples kept (15 minutes at one a second)' }),
  times: Type.Array(Type.Number(), { description: 'When each sample was taken, ms since the epoch, oldest first' }),
  series: Type.Record(Type.String(), Type.Array(Type.Number()), {
    description: `One value per sample. Levels: ${GAUGES.join(', ')}. Totals since the hub started (rates are differences): ${COUNTERS.join(', ')}`,
  }),
});
export type History = Static<typeof History>;

const Counts = Type.Record(Type.String(), Type.Integer());
export const MemberSummary = Type.Object({
  total: Type.Integer(),
  byStatus: Counts,
  byType: Counts,
  byState: Type.Record(Type.String(), Type.Integer(), { description: 'Components by lifecycle state' }),
  byFace: Type.Record(Type.String(), Type.Integer(), { description: 'By the face they came through ("none" for HTTP)' }),
  otherTypes: Type.Integer({ description: 'Members of types past the 100 most common, not in byType' }),
});
export type MemberSummary = Static<typeof MemberSummary>;
