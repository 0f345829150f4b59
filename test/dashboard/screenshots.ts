/**
 * Takes the screenshots in docs/ (docs/dashboard-*.png) on a small demo fleet: three hubs in a
 * tree, members of a few types, a probed member, components in several states, bus traffic.
 *   npm run build:dashboard && node --import tsx test/dashboard/screenshots.ts [--wait-s 20]
 * Everything runs on 127.0.0.1 and stops by itself.
 */
import { fileURLToPath } from 'node:url';
import { bus, component, connect, type MusterClient } from '../../src/client/index.js';
import { ADMIN_TOKEN, startHub, type TestHub } from '../support/hub.js';
import { launch } from './browser.js';
import { ensureBundle } from './setup.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const FED = 'federation-token-demo';
const fed = { federationToken: FED, federationMonitorMs: 500 };
const waitS = Number(process.argv[process.argv.indexOf('--wait-s') + 1]) || 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await ensureBundle();
const hubs: TestHub[] = [];
const clients: MusterClient[] = [];
const root = await startHub({ hubId: 'greenhouse', ...fed });
hubs.push(root);
const site = await startHub({ hubId: 'bench-north', registrar: root.url, registrarToken: FED, ...fed });
hubs.push(site);
hubs.push(await startHub({ hubId: 'bench-south', registrar: root.url, registrarToken: FED, ...fed }));
hubs.push(await startHub({ hubId: 'cell-7', registrar: site.url, registrarToken: FED, ...fed }));

const reg = root.hub.registry;
for (let i = 0; i < 24; i++) {
  await reg.register({ name: `cam-${i}`, type: 'camera', address: `10.0.4.${10 + i}:8080`, meta: { row: String(i % 4), site: 'greenhouse' } });
}
for (let i = 0; i < 40; i++) await reg.register({ name: `soil-${i}`, type: 'sensor', meta: { row: String(i % 4) }, liveness: { kind: 'ttl', ttlMs: 60_000 } });
await reg.register({ name: 'healthz', type: 'service', address: root.url, liveness: { kind: 'probe', target: `${root.url}/healthz`, intervalMs: 500 } });
for (let i = 0; i < 6; i++) await hubs[3]!.hub.registry.register({ name: `arm-${i}`, type: 'robot-arm' });

// Components in a few states, and a controller's answers.
const workers = await connect({ url: root.url });
clients.push(workers);
for (const name of ['imager-1', 'imager-2', 'imager-3', 'stitcher']) {
  const c = await component(workers, {
    name, type: name.startsWith('imager') ? 'imager' : 'stitcher',
    onConfigure: (config) => { if (config.fail) throw new Error('lens not calibrated'); },
    onStop: () => ({ details: ['flushed 12 frames'] }),
  });
  await c.ready({ frames: [`tcp://10.0.5.${name.length}:9000`] });
}
const admin = await connect({ url: root.url, token: ADMIN_TOKEN });
clients.push(admin);
await admin.call('control.configure', { name: 'imager-2', config: { exposureMs: 20 } });
await admin.call('control.configure', { name: 'imager-3', config: { fail: true } });

// Bus traffic: two subscribers and a publisher.
for (const scope of ['/plant/', '/plant/row-1/']) {
  const c = await connect({ url: root.url });
  clients.push(c);
  await c.register({ type: 'dashboard-demo', name: `listener-${scope.length}` });
  bus(c).subscribe(scope, () => {});
}
const publisher = await connect({ url: root.url });
clients.push(publisher);
await publisher.register({ type: 'publisher', name: 'weather' });
let n = 0;
const traffic = setInterval(() => {
  for (let k = 0; k < 20; k++) bus(publisher).publish(`/plant/row-${k % 3}/`, { n: n++, humidity: 60 + (n % 7) });
}, 100);
// Some churn for the event charts.
const churn = setInterval(() => void reg.register({ name: 'visitor', type: 'tablet', liveness: { kind: 'ttl', ttlMs: 1500 } }).catch(() => {}), 700);

await sleep(waitS * 1000);
const browser = await launch();
const shoot = async (name: string, hash: string, prepare?: (p: import('playwright-core').Page) => Promise<void>) => {
  const page = await browser.open(`${root.url}/${hash}`);
  await page.locator('[data-link="connected"]').waitFor({ timeout: 10_000 });
  if (prepare) await prepare(page);
  await sleep(2500);
  await page.screenshot({ path: `${DOCS}dashboard-${name}.png` });
  await page.close();
  process.stdout.write(`docs/dashboard-${name}.png\n`);
};
await shoot('overview', '#/');
await shoot('members', '#/members?sort=type');
await shoot('member', '#/member/healthz');
const useToken = async (p: import('playwright-core').Page) => {
  await p.fill('input[name="token"]', ADMIN_TOKEN);
  await p.click('form.token button[type="submit"]');
  await p.locator('[data-role="admin"]').waitFor();
};
await shoot('components', '#/components', async (p) => {
  await useToken(p);
  await p.locator('tr[data-name="imager-1"]').waitFor();
  await p.check('input[aria-label="select imager-1"]');
  await p.fill('textarea[name="config"]', '{"exposureMs": 25, "gain": 2}');
  await p.click('button[name="configure-picked"]');
  await p.locator('tr[data-outcome="imager-1"]').waitFor();
});
await shoot('bus', '#/bus', async (p) => {
  await useToken(p);
  await p.fill('input[name="tail-scope"]', '/plant/row-1/');
  await p.click('button[name="tail"]');
});
await shoot('tree', '#/tree');
await shoot('events', '#/events');

clearInterval(traffic);
clearInterval(churn);
await browser.close();
for (const c of clients) await c.close();
for (const h of hubs.reverse()) await h.stop();
