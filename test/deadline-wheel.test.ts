/**
 * The deadline wheel that expires ttl members and binary request timeouts: against a model on a
 * clock of the test's own (nothing expires before its deadline, everything expires once within a
 * slot of it, cancelled entries never do), and on the real clock (it fires by itself, and an idle
 * hub is not woken every 10 ms).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DeadlineWheel, type WheelEntry } from '../src/core/deadline-wheel.js';
import { spawnHub, tempDir } from './support/hub.js';
import { RpcPeer } from './support/rpc.js';

class Entry implements WheelEntry {
  deadline = Infinity;
  slot = -1;
  slotIndex = -1;
  constructor(readonly id: number) {}
}

const RES = 10;
const ENTRIES = 8;
type Op =
  | { kind: 'schedule'; entry: number; inMs: number }
  | { kind: 'cancel'; entry: number }
  | { kind: 'advance'; ms: number; budget: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('schedule' as const), entry: fc.nat(ENTRIES - 1), inMs: fc.integer({ min: -30, max: 200 }) }),
  fc.record({ kind: fc.constant('cancel' as const), entry: fc.nat(ENTRIES - 1) }),
  // A budget of 9 or more is no limit here (8 entries): then every due entry must go.
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }), budget: fc.integer({ min: 1, max: 9 }) }),
);

describe('deadline wheel', () => {
  test('expires each scheduled entry once, never before its deadline, within a slot of it (or of when it was scheduled), at most a budget a call', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.array(op, { maxLength: 200 }), (start, ops) => {
      let now = 1_000_000 + start;
      const expired: number[] = [];
      const wheel = new DeadlineWheel<Entry>((e) => expired.push(e.id), { resolutionMs: RES, now: () => now });
      const entries = Array.from({ length: ENTRIES }, (_, i) => new Entry(i));
      // The model: each entry's deadline and when it was last scheduled, while it is on the wheel.
      const live = new Map<number, { deadline: number; at: number }>();
      for (const o of ops) {
        if (o.kind === 'schedule') {
          wheel.schedule(entries[o.entry]!, now + o.inMs);
          live.set(o.entry, { deadline: now + o.inMs, at: now });
        } else if (o.kind === 'cancel') {
          wheel.cancel(entries[o.entry]!);
          live.delete(o.entry);
        } else {
          now += o.ms;
          expired.length = 0;
          const more = wheel.tick(o.budget);
          assert.ok(expired.length <= o.budget, `${expired.length} expired on a budget of ${o.budget}`);
          for (const id of expired) {
            const m = live.get(id);
            assert.ok(m, `entry ${id} expired while not scheduled`);
            assert.ok(m.deadline <= now, `entry ${id} expired at ${now}, before its deadline ${m.deadline}`);
            live.delete(id);
          }
          assert.equal(new Set(expired).size, expired.length, 'an entry expired twice in one tick');
          if (!more) for (const [id, m] of live) assert.ok(Math.max(m.deadline, m.at) + RES > now, `entry ${id} (deadline ${m.deadline}) still waits at ${now}`);
          else assert.equal(expired.length, o.budget, 'work left over before the budget was spent');
        }
      }
      assert.equal(wheel.size, live.size);
    }), { numRuns: 2_000 });
  });

  test('started, it fires by itself at the deadline, re-armed for an earlier one and for entries re-slotted by heartbeats', async () => {
    const fired: { id: number; lateMs: number }[] = [];
    const wheel = new DeadlineWheel<Entry>((e) => fired.push({ id: e.id, lateMs: Date.now() - e.deadline }));
    wheel.start();
    const [a, b, c] = [new Entry(0), new Entry(1), new Entry(2)];
    wheel.schedule(a, Date.now() + 300);
    wheel.schedule(b, Date.now() + 60); // earlier than the timer set for a
    wheel.schedule(c, Date.now() + 60);
    wheel.schedule(c, Date.now() + 150); // later: moved lazily when its first slot comes due
    await new Promise((r) => setTimeout(r, 450));
    wheel.stop();
    assert.deepEqual(fired.map((f) => f.id), [1, 2, 0]);
    for (const f of fired) assert.ok(f.lateMs >= 0 && f.lateMs < 200, `entry ${f.id} fired ${f.lateMs} ms after its deadline`);
  });

  test('a slot of 1,000 due entries expires a budget at a time, the event loop turning in between', async () => {
    let fired = 0;
    const wheel = new DeadlineWheel<Entry>(() => { fired++; }, { budget: 50 });
    wheel.start();
    const at = Date.now() + 30;
    for (let i = 0; i < 1_000; i++) wheel.schedule(new Entry(i), at);
    const seen: number[] = [];
    const deadline = Date.now() + 5_000;
    while (fired < 1_000 && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r));
      seen.push(fired);
    }
    wheel.stop();
    assert.equal(fired, 1_000);
    const steps = seen.map((n, i) => n - (seen[i - 1] ?? 0)).filter((d) => d > 0);
    assert.ok(Math.max(...steps) <= 50, `${Math.max(...steps)} expired in one turn`);
    assert.ok(steps.length >= 20, `expired in ${steps.length} turns`);
  });

  test('an idle hub with members whose deadlines are far off is not woken every few ms', async () => {
    const h = await spawnHub(['--data', tempDir(), '--sync', 'normal']);
    try {
      const p = await RpcPeer.connect(h.wsUrl);
      for (let i = 0; i < 20; i++) await p.ok('register', { name: `idle-${i}`, type: 'svc', liveness: { kind: 'ttl', ttlMs: 600_000 } });
      await p.close();
      await new Promise((r) => setTimeout(r, 300));
      // Voluntary context switches of the hub's main thread: each is a sleep the loop woke from.
      const switches = () => Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${h.pid}/task/${h.pid}/status`, 'utf8'))![1]);
      const before = switches();
      await new Promise((r) => setTimeout(r, 2_000));
      const wakes = switches() - before;
      // A 10 ms timer alone made 200 here; what is left is the event-loop lag sample (every 100 ms) and rare timers.
      assert.ok(wakes < 100, `the idle hub woke ${wakes} times in 2 s`);
    } finally {
      await h.kill();
    }
  });
});
