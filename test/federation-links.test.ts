/**
 * Child hub links at a real parent, the children played by bare JSON-RPC peers: interest a
 * child declares reaches its siblings, and goes away as soon as the child's link closes (not
 * when its record lapses, seconds later).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const FED = 'federation-token-links';
let h: TestHub;

before(async () => { h = await startHub({ federationToken: FED, federationGraceMs: 60_000 }); });
after(async () => { await h.stop(); });

async function child(hubId: string): Promise<RpcPeer> {
  const p = await RpcPeer.connect(h.wsUrl);
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
});
