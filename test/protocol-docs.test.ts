/**
 * docs/protocol.md and the hub say the same: its method index lists exactly the methods
 * system.listMethods answers, with the HTTP route each is bound to, and its notification index
 * exactly what the hub sends unasked (src/schemas/notifications.ts). On a mismatch the expected
 * tables are printed, ready to paste.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { operationsByName } from '../src/core/operations/index.js';
import { NOTIFICATIONS } from '../src/schemas/notifications.js';
import { validate } from '../src/schemas/validate.js';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const DOC = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');

/** Rows `| `name` | binding | ... |` of the table under a heading. */
function tableRows(heading: string): string[][] {
  const section = DOC.split(heading)[1]?.split(/\n##+ /)[0] ?? '';
  return section.split('\n').filter((l) => l.startsWith('| `')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}

let h: TestHub;
let peer: RpcPeer;
before(async () => {
  h = await startHub();
  peer = await RpcPeer.connect(h.wsUrl);
});
after(async () => {
  await peer.close();
  await h.stop();
});

describe('protocol docs', () => {
  test('the method index lists every method system.listMethods answers, with its HTTP route', async () => {
    const methods = await peer.ok<string[]>('system.listMethods', {});
    const expected = methods.map((name) => {
      const http = operationsByName.get(name)?.http;
      return [`\`${name}\``, http ? `\`${http.method} ${http.path.replace(/:([A-Za-z]+)/g, '{$1}')}\`` : '—'];
    });
    const documented = tableRows('### Method index').map((r) => [r[0]!, r[1]!]);
    assert.deepEqual(documented, expected, `expected rows:\n${expected.map((r) => `| ${r[0]} | ${r[1]} | ${operationsByName.get(r[0]!.slice(1, -1))?.summary ?? ''} |`).join('\n')}`);
  });

  test('the notification index lists every notification and request the hub sends', () => {
    const expected = NOTIFICATIONS.map((n) => [`\`${n.method}\``, n.request ? 'request' : 'notification']);
    const documented = tableRows('### Notification index').map((r) => [r[0]!, r[1]!]);
    assert.deepEqual(documented, expected, `expected rows:\n${NOTIFICATIONS.map((n) => `| \`${n.method}\` | ${n.request ? 'request' : 'notification'} | ${n.summary} |`).join('\n')}`);
  });

  test('what the hub sends matches its schema: bus.message, event, bus.handle', async () => {
    const a = await RpcPeer.connect(h.wsUrl);
    const b = await RpcPeer.connect(h.wsUrl);
    try {
      await a.ok('register', { name: 'schema-a', type: 't', liveness: 'session' });
      await b.ok('register', { name: 'schema-b', type: 't', liveness: 'session' });
      await b.ok('watch', { filter: { prefix: 'schema-' } });
      await b.ok('bus.subscribe', { scope: '/schema/' });
      await a.ok('bus.publish', { scope: '/schema/x/', data: { n: 1 } });
      await a.ok('bus.send', { to: 'schema-b', bytes: 'AAEC' });
      await h.hub.registry.register({ name: 'schema-c', type: 't' });
      const asked = a.call('bus.request', { to: 'schema-b', method: 'm', params: [1] });
      const handle = await b.waitFor((n) => n.method === 'bus.handle');
      b.ws.send(JSON.stringify({ jsonrpc: '2.0', id: (handle as unknown as { id: string }).id, result: null }));
      await asked;
      await b.waitFor((n) => n.method === 'event' && n.params.event.member.name === 'schema-c');
      const schemas = new Map(NOTIFICATIONS.map((n) => [n.method, n.params]));
      const seen = new Set<string>();
      for (const n of b.notifications) {
        const schema = schemas.get(n.method);
        assert.ok(schema, `${n.method} has a schema`);
        validate(schema, n.params, n.method);
        seen.add(n.method);
      }
      assert.deepEqual([...seen].sort(), ['bus.handle', 'bus.message', 'event']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
