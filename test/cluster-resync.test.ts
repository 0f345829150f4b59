/**
 * What a hub does with the shared store loaded whole again after it fell behind the change
 * stream (core/registry/rejoin.ts, resync): the store's members are the truth, but a member this
 * hub is writing right now (its registration on its way to the store, after the snapshot was
 * read) stays, and one it is removing does not come back. The whole path, through Redis, is test/cluster-feed-gap.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventLog } from '../src/core/events/event-log.js';
import { toStored } from '../src/core/registry/member.js';
import { resync } from '../src/core/registry/rejoin.js';
import { HUB, member, mirrorSetup } from './support/mirror.js';

function setup() {
  const log = new EventLog(100, { revision: 10, epoch: 'e' });
  return { ...mirrorSetup(), log };
}

describe('cluster - resync after a gap in the change stream', () => {
  test("the store's members are the truth; a registration on its way stays, a removal on its way holds", () => {
    const { index, mirror, log, removed } = setup();
    const kept = member('1', 'kept', 'other');
    const goneElsewhere = member('2', 'gone-elsewhere', 'other');
    const mineRemoved = member('3', 'mine-removed', HUB);
    const onItsWay = member('4', 'on-its-way', HUB);
    const beingRemoved = member('6', 'being-removed', HUB);
    for (const m of [kept, goneElsewhere, mineRemoved, onItsWay]) index.add(m);
    mirror.sent({ puts: [{ member: toStored(onItsWay) }], deletes: [], events: [] });
    // Unregistered here (out of the index at once), its removal not yet in the store when it was read.
    mirror.sent({ puts: [], deletes: [beingRemoved.id], events: [] });
    const changed = { ...toStored(kept), address: 'changed:1' };
    const added = toStored(member('5', 'added-elsewhere', 'other'));
    let dropped = -1;
    log.watch({ filter: {}, deliver: () => {}, restarted: (was) => { dropped = was; } });

    resync({ members: [changed, added, toStored(beingRemoved)], events: [], position: { revision: 50, epoch: 'e' } }, { index, mirror, log });

    assert.deepEqual(removed.sort(), [['gone-elsewhere', 'unregistered'], ['mine-removed', 'unregistered']]);
    assert.equal(index.find('on-its-way'), onItsWay, 'a member this hub is writing stays');
    assert.equal(index.find('kept')?.address, 'changed:1', "another hub's change it never read is in");
    assert.equal(index.find('added-elsewhere')?.name, 'added-elsewhere');
    assert.equal(index.find('being-removed'), undefined, 'a member this hub is removing is not brought back');
    assert.equal(dropped, 10, 'watchers dropped, told the revision they were current to');
    assert.equal(log.revision, 50);
  });
});
