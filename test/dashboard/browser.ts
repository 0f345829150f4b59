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
      // In front, as a user's tab is. (Once thought the cause of pages stuck at "connecting to the
      // hub…"; that was the page missing its link's opening, see dashboard.test.ts.)
      await page.bringToFront();
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A wait on the page that, if it fails, says what the page showed then (its link state, the start
 * of its text, the console errors): a page that never came live in a full run is otherwise a bare
 * timeout.
 */
export async function seen<T>(page: Page, errors: readonly string[], wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const link = await page.locator('[data-link]').first().getAttribute('data-link', { timeout: 1_000 }).catch(() => 'none');
    const text = (await page.locator('body').innerText({ timeout: 1_000 }).catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
    throw new Error(`${(err as Error).message}\nthe page then: link ${link}; text "${text}"; console ${errors.length ? errors.join(' | ') : 'clean'}`);
  }
}
