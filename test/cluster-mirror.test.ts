/**
 * A hub's mirror of the shared store, and another hub's put of a member this hub is removing: fed
 * while the removal is on its way, it is held back (in the store's order the removal comes
 * after it), then dropped once the removal is made, or applied if the store refuses the removal
 * (the member's client resumed it at the other hub meanwhile, and the removal names the hub that
 * held it: NO_SUCH_MEMBER). Applied too soon, the member would come back at this hub and then be
 * removed from the store; dropped when refused, this hub would lack a member the store and every
 * other hub have. A removal whose try timed out (counted refused) but that Redis ran late takes
 * out the member applied again meanwhile when it comes back. The whole path, through Redis, is in
 * test/cluster-partition.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toStored } from '../src/core/registry/member.js';
import { HUB, member, mirrorSetup } from './support/mirror.js';

describe('cluster - a put of a member this hub is removing', () => {
  test('held back while the removal is on its way, applied once the store refuses it', () => {
    const { index, mirror } = mirrorSetup();
    const { here, removal } = removing();
    index.delete(here);
    mirror.sent(removal);
    const resumed = { ...toStored(here), attachedTo: 'other' };
    mirror.apply({ puts: [{ member: resumed }], deletes: [], events: [] }, []);
    assert.equal(index.find(here.id), undefined, 'not back while the removal may still be made');
    mirror.refused(removal);
    assert.equal(index.find(here.id)?.attachedTo, 'other', 'back, held by the hub its client resumed it at');
  });

  test('held back while the removal is on its way, dropped once the store made it', () => {
    const { index, mirror } = mirrorSetup();
    const { here, removal } = removing();
    index.delete(here);
    mirror.sent(removal);
    mirror.apply({ puts: [{ member: { ...toStored(here), address: 'changed:1' } }], deletes: [], events: [] }, []);
    mirror.settled(removal);
    assert.equal(index.find(here.id), undefined);
    // Nothing held back for later: a refusal of another change of it applies nothing.
    mirror.refused({ puts: [], deletes: [here.id], events: [] });
    assert.equal(index.find(here.id), undefined);
  });

  test('a removal that timed out, then ran in Redis after all: the member applied again meanwhile goes when it comes back', () => {
    const { index, mirror, removed } = mirrorSetup();
    const { here, removal } = removing();
    index.delete(here);
    mirror.sent(removal);
    // Another hub's change of it, older than the removal in the store's order.
    mirror.apply({ puts: [{ member: { ...toStored(here), address: 'changed:1' } }], deletes: [], events: [] }, []);
    // The try timed out (STORE_UNAVAILABLE): counted refused, so what it held back stands.
    mirror.refused(removal);
    assert.equal(index.find(here.id)?.address, 'changed:1');
    // Redis ran it late: it comes back through the feed.
    mirror.settled(removal, []);
    assert.equal(index.find(here.id), undefined, 'no member left here that Redis and the other hubs no longer have');
    assert.deepEqual(removed, [['cam', 'unregistered']]);
  });

  test('a change that removes a member and puts one of the same id keeps the one it puts', () => {
    const { index, mirror } = mirrorSetup();
    const { here } = removing();
    index.add(here);
    const change = { puts: [{ member: toStored(here) }], deletes: [here.id], events: [] };
    mirror.sent(change);
    mirror.settled(change, []);
    assert.equal(index.find(here.id), here);
  });

  function removing() {
    const here = member('1', 'cam', HUB);
    return { here, removal: { puts: [], deletes: [here.id], events: [] } };
  }
});
