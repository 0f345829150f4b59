/**
 * A hub that is not healthy says so where an operator looks: the dashboard's overview (a real
 * browser, Debian's Chromium) shows a banner with the reason, `muster info` a health line, and
 * `/v1/info` the health `/healthz` answers. Shown with a real hub whose disk fails (EIO injected
 * into its writes by strace): the store stops, and the page says why within its next poll. The
 * card of the hub's facts keeps each label on one line.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { HubInfo } from '../src/client/index.js';
import { launch, type TestBrowser } from './dashboard/browser.js';
import { ensureBundle, eventually } from './dashboard/setup.js';
import { runMuster } from './support/cli.js';
import { spawnHub, tempDir, type HubProcess } from './support/hub.js';
import { requirePrerequisites } from './support/prerequisites.js';
import { failWrites } from './support/strace.js';

let dir: string;
let hub: HubProcess;
let browser: TestBrowser;

before(async () => {
  requirePrerequisites('strace');
  await ensureBundle();
  dir = tempDir('muster-dash-health-');
  hub = await spawnHub(['--data', dir, '--sync', 'full']);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hub?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const fact = (page: Page) => page.locator('[data-fact="health"]').textContent();
const healthLine = async () => {
  const run = await runMuster(['info', '--hub', hub.url]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.split('\n').find((l) => l.startsWith('health'));
};

test('dashboard - a hub whose store stopped (a failing disk) shows why on the overview, in muster info and in /v1/info', { timeout: 90_000 }, async () => {
  const page = await browser.open(hub.url);
  await eventually('the overview says the hub is healthy', async () => (await fact(page)) === 'ok', 20_000);
  assert.equal(await page.locator('[data-health]').count(), 0, 'no banner while healthy');
  // Each label of the hub's facts on one line (a narrow card once stacked them a letter a line).
  const lines = await page.locator('table.facts td:first-child').evaluateAll((cells) => cells.map((c) => {
    const range = document.createRange();
    range.selectNodeContents(c);
    return `${c.textContent} ${new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size}`;
  }));
  assert.ok(lines.length >= 8, lines.join(', '));
  assert.deepEqual(lines.filter((l) => !l.endsWith(' 1')), [], 'labels on more than one line');
  assert.match((await healthLine()) ?? '', /^health\s+ok$/);

  const failing = await failWrites(hub.pid, 'EIO');
  const refused = await fetch(`${hub.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'cam', type: 'camera' }) });
  await failing.detach();
  assert.equal(refused.status, 503);

  const banner = await eventually('the banner', async () => (await page.locator('[data-health]').count()) > 0 && page.locator('[data-health]').textContent(), 10_000);
  assert.match(banner ?? '', /not healthy: The SQLite store stopped committing after a failed write or sync of its file \(SQLITE_IOERR_WRITE\): restart the hub/);
  assert.equal(await fact(page), 'not ok (above)');
  assert.match((await page.locator('[data-fact="health"]').getAttribute('title')) ?? '', /SQLITE_IOERR_WRITE/);
  assert.match((await healthLine()) ?? '', /^health\s+NOT OK: The SQLite store stopped .*\(SQLITE_IOERR_WRITE\)/);
  const info = (await (await fetch(`${hub.url}/v1/info`)).json()) as HubInfo;
  assert.equal(info.health.ok, false);
  assert.equal(info.health.reason, ((await (await fetch(`${hub.url}/healthz`)).json()) as { reason: string }).reason);
  assert.deepEqual(browser.errors, []);
});
