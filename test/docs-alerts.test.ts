/**
 * Docs - the alert rules of docs/operations.md name only metrics a hub serves: every `muster_*`
 * name in them is a metric family on a cluster hub's /metrics (a real hub over a real
 * redis-server), so a renamed metric cannot leave an alert that never fires.
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
  const hub = await startHub({ cluster: redis.url, hubId: 'alerts' });
  try {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    const served = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
    assert.deepEqual([...named].filter((n) => !served.has(n)), []);
  } finally {
    await hub.stop();
    await redis.stop();
  }
});
