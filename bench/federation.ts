/**
 * `npm run bench -- federation`: what crossing the tree costs. Three hub processes on core 0
 * (root, and leaves a and b registered with it), SDK clients on core 1. Request/reply with 16 in
 * flight and tree-wide publish throughput, each measured within one leaf and from leaf a to
 * leaf b through the root (two hops each way).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bus, connect, type MusterClient } from '../src/client/index.js';
import { BENCH_ADMIN_TOKEN, pinSelf, spawnBenchHub, type BenchHub } from './_hub-process.js';

const FED = 'bench-federation-token';
const PHASE_MS = 4_000;

export async function member(url: string, name: string): Promise<MusterClient> {
  const c = await connect({ url, token: BENCH_ADMIN_TOKEN });
  await c.register({ name, type: 'bench', liveness: 'session' });
  return c;
}

/** Round trips/s and latency percentiles with `inFlight` requests open, for PHASE_MS. */
export async function requests(asker: MusterClient, to: string, inFlight: number): Promise<{ perSec: number; p50Us: number; p99Us: number }> {
  const lat: number[] = [];
  const end = performance.now() + PHASE_MS;
  const worker = async () => {
    while (performance.now() < end && lat.length < 1_000_000) {
      const t = performance.now();
      await bus(asker).request(to, 'echo', 'x'.repeat(64), { timeoutMs: 5000 });
      lat.push((performance.now() - t) * 1000);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSec: Math.round(lat.length / secs), p50Us: Math.round(lat[Math.floor(lat.length * 0.5)]!), p99Us: Math.round(lat[Math.floor(lat.length * 0.99)]!) };
}

/** Publications/s that reach a subscriber, the publisher keeping 256 publishes open. */
async function publications(pub: MusterClient, sub: MusterClient, scope: string): Promise<{ publishedPerSec: number; deliveredPerSec: number; lost: number }> {
  let got = 0;
  const s = bus(sub).subscribe(scope, () => { got++; });
  await s.ready;
  // Interest travels between hubs: wait until a probe arrives.
  for (let i = 0; i < 200 && got === 0; i++) {
    await bus(pub).publish(scope, 'probe');
    await new Promise((r) => setTimeout(r, 10));
  }
  got = 0;
  let sent = 0;
  const end = performance.now() + PHASE_MS;
  const t0 = performance.now();
  const payload = 'x'.repeat(64);
  const worker = async () => {
    while (performance.now() < end) {
      await bus(pub).publish(scope, payload);
      sent++;
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  const pubSecs = (performance.now() - t0) / 1000;
  // Let the last ones arrive (bounded).
  for (let i = 0; i < 100 && got < sent; i++) await new Promise((r) => setTimeout(r, 20));
  const secs = (performance.now() - t0) / 1000;
  s.close();
  return { publishedPerSec: Math.round(sent / pubSecs), deliveredPerSec: Math.round(got / secs), lost: sent - got };
}

export default async function bench(): Promise<Record<string, unknown>> {
  pinSelf(1);
  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-fed-'));
  const hubs: BenchHub[] = [];
  const clients: MusterClient[] = [];
  try {
    // Unlimited senders: the bench measures the hubs, not the default rate limit.
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ busRateLimits: { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } } }));
    const common = ['--federation-token', FED, '--monitor-ms', '1000', '--config', config];
    const root = await spawnBenchHub({ dataDir: join(dir, 'root'), sync: 'normal', extraArgs: ['--hub-id', 'root', ...common] });
    hubs.push(root);
    const leaf = async (id: string) => {
      const h = await spawnBenchHub({ dataDir: join(dir, id), sync: 'normal', extraArgs: ['--hub-id', id, '--registrar', root.url, '--registrar-token', FED, ...common] });
      hubs.push(h);
      return h;
    };
    const a = await leaf('a');
    const b = await leaf('b');
    const asker = await member(a.url, 'asker');
    const nearby = await member(a.url, 'nearby');
    const far = await member(b.url, 'far');
    clients.push(asker, nearby, far);
    for (const c of [nearby, far]) bus(c).onRequest('echo', (p) => p);
    // The tree is up when a cross-tree request answers.
    for (let i = 0; i < 100; i++) {
      if (await bus(asker).request('b/far', 'echo', 1, { timeoutMs: 1000 }).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write('  federation: request/reply\n');
    const localRequests = await requests(asker, 'nearby', 16);
    const treeRequests = await requests(asker, 'b/far', 16);
    process.stderr.write('  federation: publish\n');
    const localPublish = await publications(asker, nearby, '/tree/local-bench/');
    const treePublish = await publications(asker, far, '/tree/far-bench/');
    const ratio = (x: number, y: number) => (y > 0 ? Number((x / y).toFixed(2)) : null);
    return {
      note: 'three hub processes on core 0, SDK clients (JSON-RPC) on core 1; "tree" crosses a → root → b',
      request16: { local: localRequests, tree: treeRequests, treeOverLocal: ratio(treeRequests.perSec, localRequests.perSec) },
      publish: { local: localPublish, tree: treePublish, treeOverLocal: ratio(treePublish.deliveredPerSec, localPublish.deliveredPerSec) },
    };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const h of hubs) await h.kill('SIGTERM').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
