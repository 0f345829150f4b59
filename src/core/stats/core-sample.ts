/** What the history samples each second: the core's plain counters and the member counts. */
import type { Relay } from '../bus/relay.js';
import type { Watches } from '../events/watches.js';
import type { Registry } from '../registry/registry.js';
import type { Sample } from './history.js';

export interface SampledServices {
  readonly registry: Registry;
  readonly bus: Relay;
  readonly watches: Watches;
}

/** Reads every series now: plain numbers (the index keeps the counts by status as members change). */
export function coreSample(s: SampledServices): Sample {
  const c = s.registry.counts();
  const t = s.bus.totals;
  return {
    members: c.total, alive: c.alive, suspect: c.suspect, gone: c.gone, subscriptions: s.bus.trie.size, watchers: s.watches.count,
    events: s.registry.log.revision, registrations: s.registry.counters.registrations, heartbeats: s.registry.counters.heartbeats,
    published: t.published, delivered: t.delivered, deliveredBytes: t.deliveredBytes, dropped: t.dropped, throttled: t.throttled,
    slowDisconnects: t.slowDisconnects, requests: t.requests, requestErrors: t.requestErrors, watchersDropped: s.watches.dropped,
  };
}
