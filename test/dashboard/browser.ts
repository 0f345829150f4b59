/** Chromium for the dashboard tests: Debian's /usr/bin/chromium, a fresh profile, console errors collected. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, requirePrerequisites } from '../support/prerequisites.js';


export interface TestBrowser {
  readonly context: BrowserContext;
  /** Console errors and uncaught page errors, from every page opened. */
  readonly errors: string[];
  open(url: string): Promise<Page>;
  close(): Promise<void>;
}

export async function launch(): Promise<TestBrowser> {
  requirePrerequisites('chromium');
  const profile = mkdtempSync(join(tmpdir(), 'muster-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1360, height: 860 },
    timeout: 30_000,
  });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  };
  context.on('page', watch);
  return {
    context, errors,
    async open(url) {
      const page = await context.newPage();
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
