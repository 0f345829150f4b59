/**
 * Socket target: the Saturnin ICCP face. Each case is one session of a raw ZeroMQ PAIR peer on one
 * of a few endpoints the hub handed out (round robin, so a peer has left before the next comes):
 * sometimes a valid READY first, then a mutated message of either direction. ICCP owes the
 * component no answer, so the properties are: the hub stays up, and the session is seen and
 * settled (the endpoint's record moves on: a new session, then its last message or its reason).
 */
import fc from 'fast-check';
import * as zmq from 'zeromq';
import type { Live } from '../hub.js';
import { defineTarget, fault, ok } from '../types.js';
import { crashOutcome, diedWithin } from '../ws-session.js';
import { iccpCaseArb, iccpFrames, showIccpCase, type IccpCase } from './codec-iccp.js';
import { READY } from './iccp-seeds.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const POOL = 6;
const SETTLE_MS = 3000;

interface Case extends IccpCase { readonly readyFirst: boolean }
interface View { name: string; endpoint: string; sessions: number; lastMessage: string | null; lastError: string | null }

async function endpointOf(live: Live, name: string): Promise<View> {
  const res = await fetch(`${live.url}/v1/iccp/endpoints/${name}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`iccp.endpoint ${name}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<View>;
}

async function views(live: Live): Promise<Map<string, View>> {
  const res = await fetch(`${live.url}/v1/iccp/endpoints`);
  return new Map(((await res.json()) as { endpoints: View[] }).endpoints.map((v) => [v.name, v]));
}

export default defineTarget<Case>({
  name: 'iccp',
  kind: 'socket',
  weight: 1,
  async setup(env) {
    const hub = env.hub!;
    let state: { live: Live; endpoints: string[] } | null = null;
    let next = 0;
    const open = async () => {
      const live = await hub.live();
      if (state?.live !== live) state = { live, endpoints: await Promise.all(Array.from({ length: POOL }, async (_, i) => (await endpointOf(live, `fz-iccp-${i}`)).endpoint)) };
      return state;
    };
    await open();
    return {
      arbitrary: fc.record({ c: iccpCaseArb, readyFirst: fc.boolean() }).map(({ c, readyFirst }): Case => ({ ...c, readyFirst })),
      async run(c) {
        const s = await open();
        const i = next++ % POOL;
        const name = `fz-iccp-${i}`;
        const before = (await views(s.live)).get(name);
        const peer = new zmq.Pair({ linger: 0, sendTimeout: 1000 });
        try {
          peer.connect(s.endpoints[i]!);
          if (c.readyFirst) await peer.send([...READY]);
          await peer.send(iccpFrames(c));
          // The hub saw the session, then settled it: its last message or its reason changed (or it stayed quiet a while).
          const deadline = Date.now() + SETTLE_MS;
          let seenAt = 0;
          for (;;) {
            const v = (await views(s.live)).get(name);
            const changed = v && before && (v.lastMessage !== before.lastMessage || v.lastError !== before.lastError);
            if (v && before && v.sessions > before.sessions && !seenAt) seenAt = Date.now();
            if (seenAt && changed) return ok(v!.lastError !== before!.lastError ? 'PROTOCOL_ERROR' : 'accepted');
            if (seenAt && Date.now() - seenAt > 500) return ok('quiet');
            if (Date.now() > deadline) return ok('unobserved');
            await new Promise((r) => setTimeout(r, 10));
          }
        } catch (err) {
          if (await diedWithin(s.live, 300)) return crashOutcome(s.live);
          return fault('hang', 'iccp: the hub did not take the message', (err as Error).message);
        } finally {
          peer.close();
        }
      },
      show: (c) => `ICCP session${c.readyFirst ? ' (READY first)' : ''}: ${showIccpCase(c)}`,
    };
  },
});
