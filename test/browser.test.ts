import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startHub, type TestHub } from './support/hub.js';
import { CHROMIUM, requirePrerequisites } from './support/prerequisites.js';

const ENTRY = new URL('./fixtures/browser-entry.ts', import.meta.url).pathname;

/** The SDK bundled for browsers, as a page would load it. */
async function bundle(): Promise<{ code: string; inputs: string[]; warnings: string[] }> {
  const r = await build({ entryPoints: [ENTRY], bundle: true, platform: 'browser', format: 'iife', target: 'es2022', write: false, metafile: true, logLevel: 'silent' });
  return { code: r.outputFiles[0]!.text, inputs: Object.keys(r.metafile.inputs), warnings: r.warnings.map((w) => w.text) };
}

describe('browser - the SDK in Chromium', () => {
  let h: TestHub;
  let browser: Browser;
  let page: Page;
  let code: string;

  before(async () => {
    requirePrerequisites('chromium');
    h = await startHub();
    const b = await bundle();
    code = b.code;
    assert.deepEqual(b.inputs.filter((i) => i.includes('node_modules/ws/') || i.includes('node_modules/fastify')), [], 'no Node-only packages in the bundle');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      timeout: 30_000,
    });
    page = await browser.newPage();
    // A page of the hub's own origin, as an app served beside it (or allowed by allowOrigins) is.
    await page.goto(h.url + '/healthz');
    await page.setContent('<!doctype html><title>muster</title>');
    await page.addScriptTag({ content: code });
  });

  after(async () => {
    await browser?.close();
    await h?.stop();
  });

  test('browser - the bundle is small and self-contained', () => {
    assert.ok(code.length < 200_000, `bundle is ${code.length} bytes`);
    assert.doesNotMatch(code, /require\(["']ws["']\)/);
  });

  test('browser - a page connects to a real hub, registers a member and receives a watch event', async () => {
    const reg = await page.evaluate(async (url) => {
      const m = (globalThis as any).muster;
      const c = await m.connect({ url });
      const r = await c.register({ type: 'browser', name: 'tab-1', meta: { ua: 'chromium' } });
      const w = c.watch({ type: 'from-node' });
      await w.ready;
      Object.assign(globalThis, { client: c, watch: w });
      return r as { id: string; name: string; token: string };
    }, h.url);
    assert.equal(reg.name, 'tab-1');

    const m = h.hub.registry.get('tab-1');
    assert.equal(m.id, reg.id);
    assert.equal(m.status, 'alive');
    assert.equal(m.liveness.kind, 'session', 'session liveness by default: alive while the page is connected');
    assert.deepEqual(m.meta, { ua: 'chromium' });

    await h.hub.registry.register({ type: 'from-node', name: 'node-made', liveness: 'ttl' });
    const event = await page.evaluate(async () => {
      const w = (globalThis as any).watch;
      const it = w[Symbol.asyncIterator]();
      const next = await Promise.race([it.next(), new Promise((r) => setTimeout(() => r({ timeout: true }), 5000))]);
      return next as { value?: { type: string; revision: number; member: { name: string } }; timeout?: boolean };
    });
    assert.equal(event.timeout, undefined, 'the event arrived in the page');
    assert.equal(event.value!.type, 'added');
    assert.equal(event.value!.member.name, 'node-made');
    assert.equal(event.value!.revision, h.hub.registry.log.revision);

    const codeSeen = await page.evaluate(async () => {
      const c = (globalThis as any).client;
      try { await c.register({ type: 'browser', name: 'tab-1', exclusive: true }); return 'no error'; } catch (e) {
        return `${(e as Error).name} ${(e as { code: string }).code} ${e instanceof (globalThis as any).muster.MusterClientError}`;
      }
    });
    assert.equal(codeSeen, 'MusterClientError NAME_TAKEN true');

    await page.evaluate(async () => { await (globalThis as any).client.close(); });
    for (let i = 0; i < 100 && h.hub.registry.get('tab-1').status !== 'suspect'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.hub.registry.get('tab-1').status, 'suspect', 'the page closed its connection');
  });

  test('browser - a page of another origin cannot open the hub\'s WebSocket, and nothing it sent arrives', async () => {
    const stranger = await browser.newPage();
    try {
      await stranger.setContent('<!doctype html><title>elsewhere</title>'); // about:blank: origin "null"
      await stranger.addScriptTag({ content: code });
      const outcome = await stranger.evaluate(async (url) => {
        try { await (globalThis as any).muster.connect({ url, reconnect: false }); return 'connected'; } catch (e) { return (e as Error).name; }
      }, h.url);
      assert.equal(outcome, 'ConnectionClosedError');
      assert.equal(h.hub.ws.connections.size, 0, 'no socket was opened');
    } finally {
      await stranger.close();
    }
  });
});
