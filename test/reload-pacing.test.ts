/**
 * When a cluster hub that fell behind the change stream loads the store whole again
 * (cluster/reload-pacing.ts): at once, unless it fell behind again soon after its last load.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RELOAD_CALM_MS, RELOAD_WAIT_MS, ReloadPacing } from '../src/cluster/reload-pacing.js';

describe('cluster - pacing the loads after gaps in the change stream', () => {
  test('the first gap loads at once; gaps soon after a load wait twice as long each time, up to the cap; a calm spell starts again', () => {
    const p = new ReloadPacing();
    let now = 1_000_000;
    assert.equal(p.fellBehind(now), 0);
    assert.equal(p.due(now), true);
    p.loaded(now);
    assert.equal(p.due(now), false);

    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      now += 5_000;
      const wait = p.fellBehind(now);
      waits.push(wait);
      assert.equal(p.due(now + wait - 1), false, 'not before its time');
      // Another gap found while it waits changes nothing.
      assert.equal(p.fellBehind(now + 10), wait - 10);
      now += wait;
      assert.equal(p.due(now), true);
      p.loaded(now);
    }
    assert.deepEqual(waits, [RELOAD_WAIT_MS, 2_000, 4_000, 8_000, 16_000, 32_000, RELOAD_CALM_MS, RELOAD_CALM_MS]);

    now += RELOAD_CALM_MS;
    assert.equal(p.fellBehind(now), 0, 'a minute without a load: at once again');
  });

  test('a load made another way (a new history joined) is no longer wanted', () => {
    const p = new ReloadPacing();
    p.fellBehind(0);
    p.cancel();
    assert.equal(p.wanted, false);
    assert.equal(p.due(1), false);
  });
});
