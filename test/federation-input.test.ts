/**
 * Bad input on the hub-to-hub methods gets a stable error code and the hub keeps serving; bad
 * federation config stops a hub at start with a message naming the key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../src/config.js';
import { startHub, type TestHub } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

const FED = 'federation-token-2';
let h: TestHub;
let peer: RpcPeer;

before(async () => {
  h = await startHub({ federationToken: FED });
  peer = await RpcPeer.connect(h.url.replace('http', 'ws') + '/v1/ws');
});
after(async () => {
  peer.ws.close();
  await h.stop();
});

const codeOf = async (method: string, params: unknown) => (await peer.call(method, params)).error?.data?.code;
const good = { hubId: 'child-1', token: FED, instance: 'run-1', poa: ['http://127.0.0.1:1'], descendants: [] };

describe('federation - bad input', () => {
  test('hub.register validates every field', async () => {
    assert.equal(await codeOf('hub.register', { ...good, hubId: 'bad id!' }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.register', { ...good, hubId: 'x'.repeat(65) }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.register', { ...good, token: undefined }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.register', { ...good, descendants: [{ hubId: 'a' }] }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.register', { ...good, poa: 'not-a-list' }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.register', { ...good, extra: 1 }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.register', { ...good, hubId: h.hub.config.hubId }), 'HUB_ID_TAKEN', "the parent's own id");
    assert.equal(await codeOf('hub.register', { ...good, descendants: [{ hubId: 'd', parent: 'child-1' }, { hubId: 'd', parent: 'child-1' }] }), 'HUB_ID_TAKEN', 'an id twice');
  });

  test('hub.* calls before registering are refused; after, bad forwards are refused', async () => {
    assert.equal(await codeOf('hub.update', { descendants: [] }), 'FORBIDDEN');
    assert.equal(await codeOf('hub.interest', { scopes: ['/tree/'] }), 'FORBIDDEN');
    assert.equal(await codeOf('hub.deregister', {}), 'FORBIDDEN');
    assert.deepEqual((await peer.call('hub.check', { hubId: 'child-1', instance: 'run-1' })).result, { known: false });

    const hello = await peer.ok('hub.register', good);
    assert.equal(hello.hubId, h.hub.config.hubId);
    assert.deepEqual((await peer.call('hub.check', { hubId: 'child-1', instance: 'run-1' })).result, { known: true });
    assert.equal(await codeOf('hub.forward', { to: 'x', op: 'drop-tables', params: {}, hops: 0 }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.forward', { to: 'x', op: 'get', params: {}, hops: 65 }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.forward', { to: h.hub.config.hubId, op: 'get', params: { name: 42 }, hops: 1 }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.forward', { to: h.hub.config.hubId, op: 'list', params: { limit: 'all' }, hops: 1 }), 'INVALID_PARAMS');
    assert.equal(await codeOf('hub.forward', { to: 'nowhere', op: 'get', params: { name: 'a' }, hops: 1 }), 'NO_SUCH_HUB');
    assert.equal(await codeOf('hub.forward', { to: h.hub.config.hubId, op: 'get', params: { name: 'nobody' }, hops: 1 }), 'NO_SUCH_MEMBER');
    assert.equal(await codeOf('hub.interest', { scopes: ['no-slash'] }), 'INVALID_SCOPE');
    assert.equal(await codeOf('hub.publish', { from: 'child-1/x', scope: '/tree/', seq: 1, created: 0, sent: 0, received: 0, bytes: '%%%' }), 'INVALID_PARAMS');
    // A child cannot forward a call "to" a hub it claims is below it and loop it back.
    assert.equal(await codeOf('hub.update', { descendants: [{ hubId: 'child-1', parent: 'child-1' }] }), 'HUB_ID_TAKEN');

    // The hub still serves, and the child is still registered.
    assert.equal((await fetch(`${h.url}/v1/members/child-1`)).status, 200);
    await peer.ok('hub.deregister', {});
    assert.equal((await fetch(`${h.url}/v1/members/child-1`)).status, 404);
  });

  test('a registrar without its token, a bad registrar URL or hub id stop the config', () => {
    assert.throws(() => resolveConfig({ flags: { registrar: 'ftp://x' } }), /registrar/);
    assert.throws(() => resolveConfig({ flags: { hubId: 'a/b' } }), /hubId/);
    assert.throws(() => resolveConfig({ flags: { treeScopes: ['tree'] } }), /treeScopes/);
    assert.throws(() => resolveConfig({ env: { MUSTER_FEDERATION_MONITOR_MS: 'soon' } }), /federationMonitorMs/);
    assert.doesNotThrow(() => resolveConfig({ env: { MUSTER_DEREGISTER_ON_STOP: 'false', MUSTER_TREE_SCOPES: '/tree/,/fleet/' } }));
  });
});
