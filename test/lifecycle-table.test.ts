/**
 * The lifecycle transition table (src/core/control/lifecycle.ts), row by row: each row of the
 * table is a test named as the row reads (from | event | to), then the protocol errors, then the
 * shape of the table itself (one row per pair, every message answered, every row tested).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EVENTS, ICCP_ROWS, MESSAGES, PHASES, TRANSITIONS, fill, phaseOf, rowFor, step,
  type CallInfo, type EventName, type Happening, type Phase, type Row, type Situation, type Step,
} from '../src/core/control/lifecycle.js';

const CONFIGURE_FROM_READY: CallInfo = { id: 'c1', kind: 'configure', from: 'ready', timeoutMs: 300 };
const CONFIGURE_FROM_CONFIGURED: CallInfo = { ...CONFIGURE_FROM_READY, from: 'configured' };
const STOP_CALL: CallInfo = { id: 'c2', kind: 'stop', from: 'configured', timeoutMs: 500 };

/** A component in each phase, as control.ts would describe it. */
const AT: Record<Phase, Situation> = {
  'none': { state: null, readySeen: false, lastError: null, call: null },
  'starting': { state: 'starting', readySeen: false, lastError: null, call: null },
  'unresponsive before READY': { state: 'unresponsive', readySeen: false, lastError: 'no READY within 300 ms', call: null },
  'ready': { state: 'ready', readySeen: true, lastError: null, call: null },
  'configuring': { state: 'configuring', readySeen: true, lastError: null, call: CONFIGURE_FROM_READY },
  'configured': { state: 'configured', readySeen: true, lastError: 'old trouble', call: null },
  'stopping': { state: 'stopping', readySeen: true, lastError: null, call: STOP_CALL },
  'unresponsive after READY': { state: 'unresponsive', readySeen: true, lastError: 'the hub restarted while configuring', call: null },
  'unresponsive (late CONFIGURE)': { state: 'unresponsive', readySeen: true, lastError: 'no answer to CONFIGURE within 300 ms', call: CONFIGURE_FROM_READY },
  'unresponsive (late STOP)': { state: 'unresponsive', readySeen: true, lastError: 'no answer to STOP within 500 ms', call: STOP_CALL },
  'finished': { state: 'finished', readySeen: true, lastError: null, call: null },
  'failed': { state: 'failed', readySeen: true, lastError: 'protocol error: a second READY', call: null },
};

/** One happening per event of the table. */
const ON: Record<EventName, Happening> = {
  'registered': { type: 'registered' },
  'registered again': { type: 'registered again' },
  'hub restarted': { type: 'hub restarted' },
  'READY': { type: 'READY' },
  'ERROR': { type: 'answer', answer: { type: 'error', text: 'boom' } },
  'OK': { type: 'answer', answer: { type: 'ok' } },
  'FINISHED': { type: 'answer', answer: { type: 'finished', outcome: 'UNKNOWN', details: ['flushed'] } },
  'answer to another call': { type: 'answer', answer: { type: 'ok', call: 'c99' } },
  'CONFIGURE from the component': { type: 'CONFIGURE from the component' },
  'STOP from the component': { type: 'STOP from the component' },
  'CONFIGURE sent': { type: 'CONFIGURE sent', call: 'c7' },
  'STOP sent': { type: 'STOP sent', call: 'c8' },
  'no READY in time': { type: 'no READY in time', ms: 300 },
  'no answer in time': { type: 'no answer in time' },
  'connection lost': { type: 'connection lost' },
  'process exited': { type: 'process exited', text: 'exit code 3' },
  'bad message': { type: 'bad message', text: 'READY takes 3 frames, got 2' },
};

/** Rows the tests below reached: the last test checks it is every row. */
const reached = new Set<Row>();

function run(s: Situation, h: Happening): Step {
  const r = step(s, h);
  if ('row' in r && r.row) reached.add(r.row);
  return r;
}

function moves(from: Phase | Situation, h: Happening, want: { to: string; note?: string; lastError?: string | null }): void {
  const r = run(typeof from === 'string' ? AT[from] : from, h);
  assert.equal(r.type, 'move', `${JSON.stringify(from)} ${h.type}: ${JSON.stringify(r)}`);
  if (r.type !== 'move') return;
  assert.deepEqual({ to: r.to, note: r.note, lastError: r.lastError }, { note: undefined, lastError: undefined, ...want });
}

function protocolError(from: Phase | Situation, h: Happening, reason: string): void {
  const r = run(typeof from === 'string' ? AT[from] : from, h);
  assert.equal(r.type, 'protocol-error', `${JSON.stringify(from)} ${h.type}: ${JSON.stringify(r)}`);
  if (r.type !== 'protocol-error') return;
  assert.deepEqual({ reason: r.reason, to: r.to, note: r.note }, { reason, to: 'failed', note: `protocol error: ${reason}` });
}

function stays(from: Phase, h: Happening, why: string | null): void {
  const r = run(AT[from], h);
  assert.equal(r.type, 'stay', `${from} ${h.type}: ${JSON.stringify(r)}`);
  if (r.type !== 'stay') return;
  assert.equal(r.row && 'stay' in r.row.outcome ? r.row.outcome.stay : null, why);
}

const answer = (a: Extract<Happening, { type: 'answer' }>['answer']): Happening => ({ type: 'answer', answer: a });
const AFTER_READY: Phase[] = ['ready', 'configuring', 'configured', 'stopping', 'unresponsive after READY', 'unresponsive (late CONFIGURE)', 'unresponsive (late STOP)', 'finished'];
const ALIVE: Phase[] = ['starting', 'unresponsive before READY', ...AFTER_READY];

describe('lifecycle table - rows', () => {
  test('(registered with role component) | registered | starting', () => {
    moves('none', ON.registered, { to: 'starting', note: 'registered' });
  });

  test('any | registered again with its token | starting (a new run, lastError cleared)', () => {
    for (const p of PHASES) moves(p, ON['registered again'], { to: 'starting', note: 'registered again: a new run', lastError: null });
  });

  test('starting | READY | ready', () => {
    moves('starting', ON.READY, { to: 'ready' });
  });

  test('unresponsive before READY | READY | ready (late READY)', () => {
    moves('unresponsive before READY', ON.READY, { to: 'ready', note: 'late READY' });
  });

  test('starting / unresponsive before READY | ERROR | failed (could not start)', () => {
    for (const p of ['starting', 'unresponsive before READY'] as const) {
      moves(p, answer({ type: 'error', text: 'port 9000 in use' }), { to: 'failed', note: 'could not start', lastError: 'port 9000 in use' });
    }
  });

  test('starting | no READY in time | unresponsive', () => {
    moves('starting', { type: 'no READY in time', ms: 250 }, { to: 'unresponsive', note: 'no READY within 250 ms', lastError: 'no READY within 250 ms' });
  });

  test('starting | hub restarted | starting (it waits for READY again)', () => {
    stays('starting', ON['hub restarted'], 'it waits for READY again');
  });

  test('starting / unresponsive before READY | OK, FINISHED, an answer naming a call | protocol error: before READY', () => {
    for (const p of ['starting', 'unresponsive before READY'] as const) {
      protocolError(p, ON.OK, 'OK before READY');
      protocolError(p, ON.FINISHED, 'FINISHED before READY');
      protocolError(p, answer({ type: 'error', call: 'c1', text: 'x' }), 'ERROR before READY');
    }
  });

  test('after READY (any phase) | READY | protocol error: a second READY', () => {
    for (const p of AFTER_READY) protocolError(p, ON.READY, 'a second READY');
  });

  test('ready / configured | CONFIGURE sent | configuring', () => {
    for (const p of ['ready', 'configured'] as const) moves(p, { type: 'CONFIGURE sent', call: 'c7' }, { to: 'configuring', note: 'CONFIGURE c7' });
  });

  test('configuring | OK | configured', () => {
    moves('configuring', ON.OK, { to: 'configured', note: 'OK' });
    moves('configuring', answer({ type: 'ok', call: 'c1' }), { to: 'configured', note: 'OK' });
  });

  test('configuring | ERROR | back to ready / configured (lastError set)', () => {
    moves('configuring', answer({ type: 'error', call: 'c1', text: 'rate must be positive' }),
      { to: 'ready', note: 'CONFIGURE failed: rate must be positive', lastError: 'rate must be positive' });
    moves({ ...AT.configuring, call: CONFIGURE_FROM_CONFIGURED }, answer({ type: 'error', text: 'no' }),
      { to: 'configured', note: 'CONFIGURE failed: no', lastError: 'no' });
  });

  test('configuring | FINISHED | protocol error: FINISHED does not answer CONFIGURE', () => {
    protocolError('configuring', ON.FINISHED, 'FINISHED does not answer CONFIGURE');
  });

  test('ready / configured / unresponsive after READY | STOP sent | stopping', () => {
    for (const p of ['ready', 'configured', 'unresponsive after READY', 'unresponsive (late CONFIGURE)', 'unresponsive (late STOP)'] as const) {
      moves(p, { type: 'STOP sent', call: 'c8' }, { to: 'stopping', note: 'STOP c8' });
    }
  });

  test('stopping | FINISHED | finished', () => {
    moves('stopping', answer({ type: 'finished', call: 'c2', outcome: 'UNKNOWN' }), { to: 'finished', note: 'FINISHED OK' });
    moves('stopping', answer({ type: 'finished', outcome: 'OK', details: ['done'] }), { to: 'finished', note: 'FINISHED OK' });
    moves('stopping', answer({ type: 'finished', outcome: 'ERROR', details: ['lost 2 rows', 'disk full'] }),
      { to: 'finished', note: 'FINISHED ERROR', lastError: 'lost 2 rows; disk full' });
    moves('stopping', answer({ type: 'finished', outcome: 'ERROR' }), { to: 'finished', note: 'FINISHED ERROR', lastError: 'finished with outcome ERROR' });
  });

  test('stopping | ERROR | failed', () => {
    moves('stopping', answer({ type: 'error', call: 'c2', text: 'cannot flush' }), { to: 'failed', note: 'STOP failed: cannot flush', lastError: 'cannot flush' });
  });

  test('stopping | OK | protocol error: OK does not answer STOP', () => {
    protocolError('stopping', ON.OK, 'OK does not answer STOP');
  });

  test('configuring / stopping | an answer naming another call | protocol error', () => {
    protocolError('configuring', answer({ type: 'ok', call: 'c99' }), 'OK for call c99, but the open call is c1');
    protocolError('stopping', answer({ type: 'finished', call: 'c1', outcome: 'OK' }), 'FINISHED for call c1, but the open call is c2');
  });

  test('configuring / stopping | no answer in time | unresponsive (a late answer is still applied)', () => {
    const t1 = 'no answer to CONFIGURE within 300 ms';
    moves('configuring', ON['no answer in time'], { to: 'unresponsive', note: t1, lastError: t1 });
    const t2 = 'no answer to STOP within 500 ms';
    moves('stopping', ON['no answer in time'], { to: 'unresponsive', note: t2, lastError: t2 });
  });

  test('configuring / stopping | connection lost | failed (the call fails MEMBER_GONE)', () => {
    moves('configuring', ON['connection lost'], { to: 'failed', note: 'connection lost during CONFIGURE', lastError: 'connection lost during CONFIGURE' });
    moves('stopping', ON['connection lost'], { to: 'failed', note: 'connection lost during STOP', lastError: 'connection lost during STOP' });
  });

  test('configuring / stopping | hub restarted | unresponsive (the open call is lost)', () => {
    // After a restart no call is open: the phase is still configuring / stopping.
    moves({ ...AT.configuring, call: null }, ON['hub restarted'], { to: 'unresponsive', note: 'the hub restarted while configuring', lastError: 'the hub restarted while configuring' });
    moves({ ...AT.stopping, call: null }, ON['hub restarted'], { to: 'unresponsive', note: 'the hub restarted while stopping', lastError: 'the hub restarted while stopping' });
  });

  test('unresponsive (late CONFIGURE) | OK | configured (late answer)', () => {
    moves('unresponsive (late CONFIGURE)', answer({ type: 'ok', call: 'c1' }), { to: 'configured', note: 'late answer to CONFIGURE c1: OK' });
  });

  test('unresponsive (late CONFIGURE) | ERROR | back to ready / configured (late answer)', () => {
    moves('unresponsive (late CONFIGURE)', answer({ type: 'error', text: 'bad' }),
      { to: 'ready', note: 'late answer to CONFIGURE c1: CONFIGURE failed: bad', lastError: 'bad' });
    moves({ ...AT['unresponsive (late CONFIGURE)'], call: CONFIGURE_FROM_CONFIGURED }, answer({ type: 'error', text: 'bad' }),
      { to: 'configured', note: 'late answer to CONFIGURE c1: CONFIGURE failed: bad', lastError: 'bad' });
  });

  test('unresponsive (late CONFIGURE) | FINISHED | protocol error: FINISHED does not answer CONFIGURE', () => {
    protocolError('unresponsive (late CONFIGURE)', ON.FINISHED, 'FINISHED does not answer CONFIGURE');
  });

  test('unresponsive (late STOP) | FINISHED | finished (late answer)', () => {
    moves('unresponsive (late STOP)', answer({ type: 'finished', call: 'c2', outcome: 'OK' }), { to: 'finished', note: 'late answer to STOP c2: FINISHED OK' });
  });

  test('unresponsive (late STOP) | ERROR | failed (late answer)', () => {
    moves('unresponsive (late STOP)', answer({ type: 'error', text: 'stuck' }), { to: 'failed', note: 'late answer to STOP c2: STOP failed: stuck', lastError: 'stuck' });
  });

  test('unresponsive (late STOP) | OK | protocol error: OK does not answer STOP', () => {
    protocolError('unresponsive (late STOP)', ON.OK, 'OK does not answer STOP');
  });

  test('unresponsive (late CONFIGURE / STOP) | connection lost | unresponsive (the late answer can no longer come)', () => {
    stays('unresponsive (late CONFIGURE)', ON['connection lost'], 'the late answer can no longer come');
    stays('unresponsive (late STOP)', ON['connection lost'], 'the late answer can no longer come');
  });

  test('ready / configured / unresponsive after READY / finished | an answer | protocol error: answers nothing', () => {
    for (const p of ['ready', 'configured', 'unresponsive after READY', 'finished'] as const) {
      protocolError(p, ON.OK, 'OK answers nothing: no CONFIGURE or STOP is open');
      protocolError(p, ON.ERROR, 'ERROR answers nothing: no CONFIGURE or STOP is open');
      protocolError(p, ON.FINISHED, 'FINISHED answers nothing: no CONFIGURE or STOP is open');
      protocolError(p, answer({ type: 'finished', call: 'c1', outcome: 'OK' }), 'FINISHED answers nothing: no CONFIGURE or STOP is open');
    }
  });

  test('unresponsive (late CONFIGURE / STOP) | an answer naming another call | protocol error: answers nothing', () => {
    protocolError('unresponsive (late CONFIGURE)', answer({ type: 'ok', call: 'c2' }), 'OK answers nothing: no CONFIGURE or STOP is open');
    protocolError('unresponsive (late STOP)', answer({ type: 'error', call: 'c1', text: 'x' }), 'ERROR answers nothing: no CONFIGURE or STOP is open');
  });

  test('any but failed | CONFIGURE / STOP from the component | protocol error: goes from the hub to a component', () => {
    for (const p of ALIVE) {
      protocolError(p, ON['CONFIGURE from the component'], 'CONFIGURE goes from the hub to a component, never back');
      protocolError(p, ON['STOP from the component'], 'STOP goes from the hub to a component, never back');
    }
  });

  test('failed | any message | failed (refused: the run is over)', () => {
    const labels: Record<(typeof MESSAGES)[number], string> = {
      'READY': 'READY', 'ERROR': 'ERROR', 'OK': 'OK', 'FINISHED': 'FINISHED', 'answer to another call': 'OK',
      'CONFIGURE from the component': 'CONFIGURE', 'STOP from the component': 'STOP', 'bad message': 'a bad message',
    };
    for (const m of MESSAGES) {
      const r = run(AT.failed, ON[m]);
      assert.deepEqual(r.type === 'refused' ? r.reason : r,
        `${labels[m]} from a failed component (protocol error: a second READY); register again to start a new run`);
    }
    const r = run({ ...AT.failed, lastError: null }, ON.OK);
    assert.equal(r.type === 'refused' && r.reason, 'OK from a failed component (failed); register again to start a new run');
  });
});

describe('lifecycle table - protocol errors', () => {
  test('a second READY fails the component, from every phase after READY', () => {
    for (const p of AFTER_READY) protocolError(p, ON.READY, 'a second READY');
  });

  test('OK and FINISHED before READY', () => {
    protocolError('starting', answer({ type: 'ok' }), 'OK before READY');
    protocolError('starting', answer({ type: 'finished', outcome: 'ERROR' }), 'FINISHED before READY');
    protocolError('unresponsive before READY', answer({ type: 'ok', call: 'c1' }), 'OK before READY');
  });

  test('an answer for the wrong call', () => {
    protocolError('configuring', answer({ type: 'error', call: 'c2', text: 'x' }), 'ERROR for call c2, but the open call is c1');
    protocolError('ready', answer({ type: 'ok', call: 'c1' }), 'OK answers nothing: no CONFIGURE or STOP is open');
    protocolError('unresponsive (late STOP)', answer({ type: 'finished', call: 'c1', outcome: 'OK' }), 'FINISHED answers nothing: no CONFIGURE or STOP is open');
  });

  test('FINISHED to CONFIGURE, open or late', () => {
    protocolError('configuring', answer({ type: 'finished', call: 'c1', outcome: 'OK' }), 'FINISHED does not answer CONFIGURE');
    protocolError('unresponsive (late CONFIGURE)', answer({ type: 'finished', call: 'c1', outcome: 'OK' }), 'FINISHED does not answer CONFIGURE');
  });

  test('OK to STOP, open or late', () => {
    protocolError('stopping', answer({ type: 'ok', call: 'c2' }), 'OK does not answer STOP');
    protocolError('unresponsive (late STOP)', answer({ type: 'ok', call: 'c2' }), 'OK does not answer STOP');
  });

  test('messages from a failed component are refused and change nothing', () => {
    for (const m of MESSAGES) assert.equal(run(AT.failed, ON[m]).type, 'refused', m);
  });
});

describe('lifecycle table - commands, timers and no-ops', () => {
  test('a command in any other phase is INVALID_STATE, saying what it needs', () => {
    for (const p of PHASES) {
      const c = step(AT[p], ON['CONFIGURE sent']);
      if (p === 'ready' || p === 'configured') assert.equal(c.type, 'move', p);
      else assert.deepEqual(c, { type: 'invalid-state', kind: 'configure', needs: 'ready or configured' }, p);
      const s = step(AT[p], ON['STOP sent']);
      if (['ready', 'configured', 'unresponsive after READY', 'unresponsive (late CONFIGURE)', 'unresponsive (late STOP)'].includes(p)) assert.equal(s.type, 'move', p);
      else assert.deepEqual(s, { type: 'invalid-state', kind: 'stop', needs: 'ready, configured or unresponsive after READY' }, p);
    }
  });

  test('timers, lost links and restarts change nothing where no row says so', () => {
    for (const p of PHASES) {
      if (p !== 'starting') assert.deepEqual(step(AT[p], ON['no READY in time']), { type: 'stay', row: null }, p);
      if (p !== 'configuring' && p !== 'stopping') {
        assert.deepEqual(step(AT[p], ON['no answer in time']), { type: 'stay', row: null }, p);
        if (p !== 'starting') assert.deepEqual(step(AT[p], ON['hub restarted']), { type: 'stay', row: null }, p);
        if (!p.includes('late')) assert.deepEqual(step(AT[p], ON['connection lost']), { type: 'stay', row: null }, p);
      }
    }
    assert.deepEqual(step(AT.starting, ON.registered), { type: 'stay', row: null });
  });

  test('phases: the state, refined by READY and the late call', () => {
    for (const p of PHASES) assert.equal(phaseOf(AT[p]), p);
  });

  test('fill: facts in, and nothing when a fact is missing', () => {
    assert.equal(fill('{answer} for call {call}', { answer: 'OK', call: 'c1' }), 'OK for call c1');
    assert.equal(fill('{problems}', { problems: undefined }), undefined);
    assert.equal(fill('no facts', {}), 'no facts');
  });
});

describe('lifecycle table - bad messages (legacy faces)', () => {
  test('any phase of a live run | a bad message | protocol error naming the reason', () => {
    for (const p of PHASES.filter((x) => x !== 'none' && x !== 'failed')) protocolError(p, ON['bad message'], 'a bad message: READY takes 3 frames, got 2');
  });

  test('failed | a bad message | refused', () => {
    const r = run(AT.failed, ON['bad message']);
    assert.equal(r.type, 'refused');
  });
});

describe('lifecycle table - process exit (muster launch)', () => {
  test('starting / unresponsive before READY | process exited | failed "its process exited before READY"', () => {
    for (const p of ['starting', 'unresponsive before READY'] as const) {
      moves(p, ON['process exited'], { to: 'failed', note: 'its process exited before READY: exit code 3', lastError: 'its process exited before READY: exit code 3' });
    }
  });

  test('after READY, not finished | process exited | failed, the state named', () => {
    for (const p of ['ready', 'configuring', 'configured', 'stopping', 'unresponsive after READY', 'unresponsive (late CONFIGURE)', 'unresponsive (late STOP)'] as const) {
      const state = AT[p].state!;
      moves(p, ON['process exited'], { to: 'failed', note: `its process exited in state ${state}: exit code 3`, lastError: `its process exited in state ${state}: exit code 3` });
    }
  });

  test('finished / failed | process exited | same state, the exit noted', () => {
    moves('finished', ON['process exited'], { to: 'finished', note: 'its process exited: exit code 3' });
    moves('failed', ON['process exited'], { to: 'failed', note: 'its process exited: exit code 3' });
  });
});

/** The same phase in the ICCP dialect. */
const iccp = (p: Phase): Situation => ({ ...AT[p], dialect: 'iccp' });

describe('lifecycle table - ICCP dialect (real Saturnin components)', () => {
  test('ready / configured / unresponsive after READY | FINISHED unprompted | finished (outcome ERROR sets lastError)', () => {
    for (const p of ['ready', 'configured', 'unresponsive after READY'] as const) {
      moves(iccp(p), answer({ type: 'finished', outcome: 'OK' }), { to: 'finished', note: 'FINISHED OK, unprompted' });
      moves(iccp(p), answer({ type: 'finished', outcome: 'ERROR', details: ['TypeError: x'] }), { to: 'finished', note: 'FINISHED ERROR, unprompted', lastError: 'TypeError: x' });
    }
  });

  test('ready / configured / unresponsive after READY | ERROR unprompted | failed', () => {
    for (const p of ['ready', 'configured', 'unresponsive after READY'] as const) {
      moves(iccp(p), ON.ERROR, { to: 'failed', note: 'ERROR, unprompted: boom', lastError: 'boom' });
    }
  });

  test('ready / configured / unresponsive after READY | OK unprompted | accepted, nothing changes', () => {
    for (const p of ['ready', 'configured', 'unresponsive after READY'] as const) {
      const r = run(iccp(p), ON.OK);
      assert.equal(r.type, 'stay');
    }
  });

  test('finished | OK, FINISHED | accepted; finished | ERROR | failed', () => {
    assert.equal(run(iccp('finished'), ON.OK).type, 'stay');
    assert.equal(run(iccp('finished'), ON.FINISHED).type, 'stay');
    moves(iccp('finished'), ON.ERROR, { to: 'failed', note: 'ERROR after FINISHED: boom', lastError: 'boom' });
  });

  test('ready / configured / unresponsive after READY | connection lost | failed: vanished without FINISHED', () => {
    for (const p of ['ready', 'configured', 'unresponsive after READY'] as const) {
      const text = `connection lost in state ${AT[p].state!}: the component vanished without FINISHED`;
      moves(iccp(p), ON['connection lost'], { to: 'failed', note: text, lastError: text });
    }
  });

  test('everything else is the native table: the stock configure answers ERROR then FINISHED ERROR', () => {
    const back = step(iccp('configuring'), ON.ERROR);
    assert.deepEqual(back.type === 'move' ? back.to : back.type, 'ready');
    moves(iccp('ready'), answer({ type: 'finished', outcome: 'ERROR', details: ['TypeError: config dropped'] }), { to: 'finished', note: 'FINISHED ERROR, unprompted', lastError: 'TypeError: config dropped' });
    protocolError(iccp('ready'), ON.READY, 'a second READY');
    protocolError(iccp('configured'), ON['CONFIGURE from the component'], 'CONFIGURE goes from the hub to a component, never back');
    protocolError(iccp('starting'), ON.OK, 'OK before READY');
  });

  test('native components keep the native rows', () => {
    protocolError('ready', ON.FINISHED, 'FINISHED answers nothing: no CONFIGURE or STOP is open');
    assert.equal(rowFor('ready', 'connection lost'), undefined);
    assert.ok(ICCP_ROWS.includes(rowFor('ready', 'connection lost', 'iccp')!));
  });
});

describe('lifecycle table - shape', () => {
  test('each (phase, event) pair is in at most one ICCP row', () => {
    const seen = new Set<string>();
    for (const r of ICCP_ROWS) for (const p of r.from) for (const e of r.on) {
      assert.ok(!seen.has(`${p} | ${e}`), `${p} | ${e}`);
      seen.add(`${p} | ${e}`);
    }
  });
  test('each (phase, event) pair is in at most one row', () => {
    const seen = new Map<string, number>();
    TRANSITIONS.forEach((r, i) => {
      for (const p of r.from) {
        for (const e of r.on) {
          const key = `${p} | ${e}`;
          assert.ok(!seen.has(key), `${key}: rows ${seen.get(key)} and ${i}`);
          seen.set(key, i);
        }
      }
    });
  });

  test('every message from a component, in every phase a component can be in, has a row', () => {
    const missing = PHASES.filter((p) => p !== 'none').flatMap((p) => MESSAGES.filter((m) => !rowFor(p, m)).map((m) => `${p} | ${m}`));
    assert.deepEqual(missing, []);
  });

  test('rows name only known phases and events', () => {
    for (const r of TRANSITIONS) {
      for (const p of r.from) assert.ok(PHASES.includes(p), p);
      for (const e of r.on) assert.ok(EVENTS.includes(e), e);
    }
  });

  test('every row is tested above', () => {
    const untested = [...TRANSITIONS, ...ICCP_ROWS].filter((r) => !reached.has(r)).map((r) => `${r.from.join(' / ')} | ${r.on.join(', ')}`);
    assert.deepEqual(untested, []);
  });
});
