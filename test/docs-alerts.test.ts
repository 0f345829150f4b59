/**
 * Docs - the alert rules of docs/operations.md name only metrics a hub serves: every `muster_*`
 * name in them is a metric family on the /metrics of a cluster hub (a real hub over a real
 * redis-server) or of a single hub (its SQLite store's), so a renamed metric cannot leave an
 * alert that never fires.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startHub } from './support/hub.js';
import { startRedis } from './support/redis.js';

const OPERATIONS = new URL('../docs/operations.md', import.meta.url);

/** The yaml block under "### Alerts". */
function alertRules(): string {
  const text = readFileSync(OPERATIONS, 'utf8');
  const section = text.slice(text.indexOf('### Alerts'));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'operations.md has a yaml block under ### Alerts');
  return m[1]!;
}

test('docs - every metric the alert rules name is served by a hub', async () => {
  const rules = alertRules();
  const alerts = [...rules.matchAll(/- alert: (\w+)[^\n]*\n\s+expr: (.+)/g)];
  assert.ok(alerts.length >= 5, 'each rule is an alert with an expr');
  const named = new Set([...rules.matchAll(/\bmuster_[a-z0-9_]+/g)].map((x) => x[0]));
  const redis = await startRedis([]);
  const hubs = [await startHub({ cluster: redis.url, hubId: 'alerts' })];
  try {
    hubs.push(await startHub({ hubId: 'alerts-single' }));
    const served = new Set<string>();
    for (const hub of hubs) {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      for (const l of text.split('\n')) if (l.startsWith('# TYPE ')) served.add(l.split(' ')[2]!);
    }
    assert.deepEqual([...named].filter((n) => !served.has(n)), []);
  } finally {
    for (const hub of hubs) await hub.stop();
    await redis.stop();
  }
});
