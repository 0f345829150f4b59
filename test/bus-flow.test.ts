import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const UNLIMITED = { '*': { messagesPerSec: 0, bytesPerSec: 0, burstSec: 1 } };
const QUEUE_BYTES = 256 * 1024;

const cleanups: (() => Promise<void>)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function hub(policy: 'drop' | 'disconnect'): Promise<TestHub> {
  const h = await startHub({ busRateLimits: UNLIMITED, busQueueBytes: QUEUE_BYTES, busQueueMessages: 5000, busSlowPolicy: policy });
  cleanups.push(() => h.stop());
  return h;
}

async function member(h: TestHub, name: string): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
  // terminate: a peer that stopped reading would never finish a closing handshake.
  cleanups.push(async () => { p.ws.terminate(); await p.close(); });
  await p.ok('register', { name, type: 'svc', liveness: 'session' });
  return p;
}

/** Counts bus.message deliveries without keeping them (batches arrive as JSON arrays). */
function counter(p: RpcPeer): { n: number } {
  const c = { n: 0 };
  p.ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString());
    for (const x of Array.isArray(m) ? m : [m]) if (x.method === 'bus.message') c.n++;
  });
  return c;
}

async function until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const PAYLOAD = 'x'.repeat(1000);
const N = 6000;

/** Publishes N messages of ~1 KB as notifications, yielding to the loop now and then. */
async function flood(pub: RpcPeer, scope: string): Promise<void> {
  for (let i = 0; i < N; i++) {
    pub.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'bus.publish', params: { scope, data: { i, pad: PAYLOAD } } }));
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 3));
  }
}

describe('bus - slow receivers', () => {
  test('one subscriber stops reading: the others get everything, it loses its own messages, counted, and its queue stays bounded', async () => {
    const h = await hub('drop');
    const fast = await Promise.all([1, 2].map((i) => member(h, `fast-${i}`)));
    const slow = await member(h, 'slow');
    for (const p of [...fast, slow]) await p.ok('bus.subscribe', { scope: '/flood/' });
    const counts = fast.map(counter);
    // The slow peer stops reading its socket: the kernel buffers fill, then the hub's queue.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const pub = await member(h, 'flooder');
    const heapBefore = process.memoryUsage().heapUsed;
    let maxOwed = 0;
    const slowConn = [...h.hub.ws.connections].find((c) => h.hub.registry.connectionMembers(c).values().next().value?.name === 'slow')!;
    const probe = setInterval(() => { maxOwed = Math.max(maxOwed, slowConn.backlog.bytes); }, 1);
    try {
      await flood(pub, '/flood/');
      await until(() => counts.every((c) => c.n === N), 'the fast subscribers to receive everything');
    } finally { clearInterval(probe); }
    const slowView = h.hub.registry.get('slow');
    assert.ok(slowView.stats.traffic.dropped > 0, 'the slow receiver lost messages');
    assert.equal(slowView.stats.traffic.received + slowView.stats.traffic.dropped, N);
    for (const i of [1, 2]) assert.equal(h.hub.registry.get(`fast-${i}`).stats.traffic.dropped, 0);
    // Its queue never went past the bound (plus one message), and the heap did not grow by the backlog (6 MB sent).
    assert.ok(maxOwed <= QUEUE_BYTES + 2048, `owed ${maxOwed}`);
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 32 * 1024 * 1024, `heap grew ${grown}`);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    const dropped = Number(/^muster_bus_dropped_total (\d+)/m.exec(metrics)?.[1]);
    assert.equal(dropped, slowView.stats.traffic.dropped);
  });

  test('with policy disconnect the slow receiver is disconnected and the others are not', async () => {
    const h = await hub('disconnect');
    const fast = await member(h, 'fast');
    const slow = await member(h, 'slow');
    for (const p of [fast, slow]) await p.ok('bus.subscribe', { scope: '/flood/' });
    const count = counter(fast);
    const closed = new Promise<number>((resolve) => slow.ws.once('close', (code) => resolve(code)));
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const pub = await member(h, 'flooder');
    await flood(pub, '/flood/');
    await until(() => count.n === N, 'the fast subscriber to receive everything');
    assert.equal(h.hub.bus.totals.slowDisconnects, 1);
    // The paused peer reads its close frame once it reads again.
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    assert.equal(await closed, 1008);
  });
});
