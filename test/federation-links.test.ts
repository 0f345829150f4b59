/**
 * Child hub links at a real parent, the children played by bare JSON-RPC peers: interest a
 * child declares reaches its siblings, and goes away as soon as the child's link closes (not
 * when its record lapses, seconds later); a child whose link closes while the parent's ping waits
 * is kept, suspect, for its grace period like any closed link.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const FED = 'federation-token-links';
let h: TestHub;

before(async () => { h = await startHub({ federationToken: FED, federationGraceMs: 60_000 }); });
after(async () => { await h.stop(); });

async function child(hubId: string, hub: TestHub = h): Promise<RpcPeer> {
  const p = await RpcPeer.connect(hub.wsUrl);
  await p.ok('hub.register', { hubId, token: FED, instance: `run-${hubId}`, poa: [], descendants: [] });
  return p;
}

const interestTold = (p: RpcPeer) => p.notifications.filter((n) => n.method === 'hub.interest').map((n) => n.params.scopes as string[]);

describe('federation - child links', () => {
  test("a child's declared interest is told to its sibling, and withdrawn when the child's link closes", async () => {
    const a = await child('link-a');
    const b = await child('link-b');
    try {
      await a.ok('hub.interest', { scopes: ['/tree/a/'] });
      await b.waitFor((n) => n.method === 'hub.interest' && JSON.stringify(n.params.scopes) === '["/tree/a/"]');
      const told = interestTold(b).length;
      await a.close();
      const deadline = Date.now() + 3_000;
      while (interestTold(b).length === told && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(interestTold(b).slice(told), [[]], 'told once, at once, that nobody below wants /tree/a/ any more');
      // The record of the closed child is still there (suspect) for its grace period.
      assert.equal((await (await fetch(`${h.url}/v1/members/link-a`)).json()).status, 'suspect');
    } finally {
      await b.close();
    }
  });

  test('a child whose link closes while the parent pings it stays, suspect, for its grace period', async () => {
    const monitorMs = 300;
    const parent = await startHub({ hubId: 'pinger', federationToken: FED, federationMonitorMs: monitorMs, federationGraceMs: 60_000 });
    try {
      const c = await child('ping-closer', parent);
      // The close crosses the ping: the parent's call fails MEMBER_GONE on a link that is closed, not silent.
      const pinged = new Promise<void>((resolve) => c.ws.on('message', (d: Buffer) => {
        if (d.toString().includes('"hub.ping"')) { c.ws.close(); resolve(); }
      }));
      await pinged;
      await new Promise((r) => setTimeout(r, monitorMs * 3));
      assert.equal((await (await fetch(`${parent.url}/v1/members/ping-closer`)).json()).status, 'suspect', 'record kept, suspect');
      const tree = await (await fetch(`${parent.url}/v1/tree`)).json();
      assert.deepEqual(tree.children.map((n: { hubId: string; status: string }) => [n.hubId, n.status]), [['ping-closer', 'suspect']]);
    } finally {
      await parent.stop();
    }
  });
});
