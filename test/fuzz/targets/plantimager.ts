/**
 * Socket target: the plantimager ZeroMQ face. A DEALER socket plays the device's REQ socket
 * (an empty delimiter frame, then the body), so a missing reply cannot wedge the harness. Seeds
 * are REGISTER / CHECK_ALIVE / UNREGISTER / an unknown event, mutated, sometimes with extra
 * frames or without the delimiter. Every request must get exactly one reply: REGISTER_ACK, ACK,
 * UNSUPPORTED, or ERROR with a catalogued code.
 */
import fc from 'fast-check';
import * as zmq from 'zeromq';
import { Report, checkPlantimagerReply } from '../check.js';
import { materialize, mapIter, seedCaseArb, showSeedCase, truncations, type SeedCase } from '../cases.js';
import type { Live } from '../hub.js';
import { defineTarget, fault, ok } from '../types.js';
import { blur, crashOutcome, diedWithin } from '../ws-session.js';

/** Frames past 1 MiB are not read: libzmq drops the peer (documented); cases stay below. */
const HARD_CAP = 1024 * 1024;

interface Case { readonly seeded: SeedCase; readonly envelope: 'req' | 'extra-frame' | 'no-delimiter' | 'empty' }

function seedsFor(uuid: string): Buffer[] {
  return [
    `{"event": "REGISTER", "payload": {"device_type": "fuzzcam", "addr": "tcp://127.0.0.1:6000", "name": "fz-pi", "overwrite": false}}`,
    `{"event": "CHECK_ALIVE", "payload": {"uuid": "${uuid}", "alive_timeout": 30}}`,
    `{"event": "UNREGISTER", "payload": {"uuid": "00000000-0000-4000-8000-000000000000"}}`,
    `{"event": "LIST_DEVICES", "payload": {}}`,
  ].map((s) => Buffer.from(s));
}

export default defineTarget<Case>({
  name: 'plantimager',
  kind: 'socket',
  weight: 1.5,
  async setup(env) {
    const hub = env.hub!;
    let state: { live: Live; dealer: zmq.Dealer; seeds: Buffer[] } | null = null;
    const open = async (): Promise<NonNullable<typeof state>> => {
      const live = await hub.live();
      if (state?.live === live) return state;
      state?.dealer.close();
      const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 3000, sendTimeout: 3000 });
      dealer.connect(live.plantimager);
      await dealer.send(['', seedsFor('none')[0]]);
      const [, ack] = await dealer.receive();
      const uuid = (JSON.parse(ack.toString()) as { payload: { uuid?: string } }).payload.uuid ?? 'none';
      state = { live, dealer, seeds: seedsFor(uuid) };
      return state;
    };
    const reset = () => { state?.dealer.close(); state = null; };
    const first = await open();
    const bodyOf = (c: Case, seeds: Buffer[]) => materialize(seeds, c.seeded);
    const framesOf = (c: Case, body: Buffer): Buffer[] =>
      c.envelope === 'req' ? [Buffer.alloc(0), body] : c.envelope === 'extra-frame' ? [Buffer.alloc(0), body, Buffer.from('{}')]
        : c.envelope === 'no-delimiter' ? [body] : [Buffer.alloc(0)];
    return {
      arbitrary: fc.record({
        seeded: seedCaseArb({ hugeWeight: 2 }),
        envelope: fc.oneof({ weight: 12, arbitrary: fc.constant('req' as const) }, { weight: 1, arbitrary: fc.constantFrom('extra-frame' as const, 'no-delimiter' as const, 'empty' as const) }),
      }),
      sweep: () => mapIter(truncations(first.seeds, env.seed), (seeded): Case => ({ seeded, envelope: 'req' })),
      async run(c) {
        const s = await open();
        const body = bodyOf(c, s.seeds);
        if (body.length > HARD_CAP) return ok('skipped-oversize');
        try {
          await s.dealer.send(framesOf(c, body));
          const reply = await s.dealer.receive();
          const r = new Report();
          // REQ clients read [delimiter, body]; without a delimiter the reply has none either.
          checkPlantimagerReply(reply[reply.length - 1], r);
          // An empty first frame is a delimiter to the hub, whatever the case meant by it.
          const delimited = c.envelope !== 'no-delimiter' || body.length === 0;
          if (reply.length !== (delimited ? 2 : 1)) r.problems.push(`reply of ${reply.length} frames`);
          if (r.uncatalogued.length) return fault('uncatalogued', `plantimager: ${r.uncatalogued[0]}`, r.problems.join('\n'), r.codes);
          if (r.problems.length) return fault('malformed', `plantimager: ${blur(r.problems[0])}`, `${r.problems.join('\n')}\nreply: ${reply[reply.length - 1].toString().slice(0, 300)}`, r.codes);
          if (r.codes.includes('INTERNAL')) return fault('internal', 'plantimager answered INTERNAL', reply[reply.length - 1].toString().slice(0, 500), r.codes);
          return ok(...r.codes);
        } catch (err) {
          reset();
          if (await diedWithin(s.live, 300)) return crashOutcome(s.live);
          return fault('hang', 'plantimager: no reply', `${(err as Error).message} (a REQ client would be stuck for good)`);
        }
      },
      show: (c) => {
        const seeds = state?.seeds ?? first.seeds;
        const body = bodyOf(c, seeds);
        return `ZeroMQ request (${c.envelope}): ${showSeedCase(c.seeded, `#${c.seeded.seed % seeds.length}`, body)}`;
      },
      async close() { reset(); },
    };
  },
});
