/**
 * `npm run bench -- dashboard`: what the dashboard asks of the hub, per call, at 10,000 and
 * 100,000 members (in process, the registry on a SQLite store): a page of the member list by
 * name (its default), sorted by another column far into the list, searched; the members summed
 * up (stats.members); one sample of the counters (stats.history takes one a second). Median and
 * worst of repeated calls, in ms. The browser side is measured by test/dashboard-scale.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Relay } from '../src/core/bus/relay.js';
import { Watches } from '../src/core/events/watches.js';
import { Registry } from '../src/core/registry/registry.js';
import { coreSample } from '../src/core/stats/core-sample.js';
import { summarize } from '../src/core/stats/summary.js';
import { SqliteStore } from '../src/store/sqlite.js';

const REPEAT = 30;

function timed(fn: () => unknown): { medianMs: number; worstMs: number } {
  const ms: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 100) / 100;
  return { medianMs: r(ms[Math.floor(ms.length / 2)]!), worstMs: r(ms[ms.length - 1]!) };
}

async function at(members: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-dash-'));
  const store = new SqliteStore({ dataDir: dir, eventRetention: 1000, synchronous: 'normal' });
  const registry = await Registry.open({ store, hubId: 'bench', maxMembers: members * 2, eventRetention: 1000 });
  try {
    for (let i = 0; i < members; i += 1000) {
      const batch = [];
      for (let j = i; j < Math.min(members, i + 1000); j++) {
        batch.push(registry.register({ name: `dev-${j}`, type: j % 10 ? 'sensor' : 'camera', meta: { rack: String(j % 40) }, liveness: { kind: 'ttl', ttlMs: 3_600_000 } }));
      }
      await Promise.all(batch);
    }
    const services = { registry, bus: new Relay(registry, { rateLimits: {} }), watches: new Watches(registry.log) };
    return {
      members,
      listPageByName: timed(() => registry.list({ limit: 50 })),
      listByTypeFiltered: timed(() => registry.list({ type: 'camera', limit: 50 })),
      listSortedLastSeenDeep: timed(() => registry.list({ sort: 'lastSeen', order: 'desc', offset: Math.floor(members / 2), limit: 50 })),
      listSearch: timed(() => registry.list({ search: '77', limit: 50 })),
      statsMembers: timed(() => summarize(registry.members())),
      historySample: timed(() => coreSample(services)),
    };
  } finally {
    registry.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function dashboard(): Promise<Record<string, unknown>> {
  return { at10k: await at(10_000), at100k: await at(100_000) };
}
