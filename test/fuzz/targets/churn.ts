/**
 * Socket target: interleaved connects and closes. A case is a short script over a few
 * connection slots: open (as admin or not), register a session or ttl member, subscribe, watch,
 * publish, ask another slot's member (bus.request, not awaited), close politely, drop the TCP
 * connection, plus strays: a WebSocket upgrade cut mid-frame, an SSE stream dropped at once, a
 * ZeroMQ client that leaves before its reply. Afterwards every open slot must still be
 * answered, and every request asked on a slot still open must get an answer (a result,
 * MEMBER_GONE, NOT_CONNECTED, TIMEOUT, ...).
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import * as zmq from 'zeromq';
import { Report } from '../check.js';
import { ADMIN_TOKEN, type Live } from '../hub.js';
import { FuzzPeer } from '../peer.js';
import { defineTarget, ok } from '../types.js';
import { crashOutcome, verdict } from '../ws-session.js';

type Action =
  | { readonly a: 'open'; readonly slot: number; readonly admin: boolean }
  | { readonly a: 'register'; readonly slot: number; readonly session: boolean }
  | { readonly a: 'subscribe' | 'watch' | 'publish' | 'close' | 'terminate'; readonly slot: number }
  | { readonly a: 'request'; readonly slot: number; readonly target: number }
  | { readonly a: 'half-frame'; readonly cut: number }
  | { readonly a: 'sse-abort' | 'zmq-drop' }
  | { readonly a: 'pause'; readonly ms: number };

type Case = readonly Action[];

const SLOTS = 4;
const slot = fc.nat({ max: SLOTS - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ a: fc.constant('open' as const), slot, admin: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ a: fc.constant('register' as const), slot, session: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ a: fc.constantFrom('subscribe' as const, 'watch' as const, 'publish' as const, 'close' as const, 'terminate' as const), slot }) },
  { weight: 3, arbitrary: fc.record({ a: fc.constant('request' as const), slot, target: slot }) },
  { weight: 1, arbitrary: fc.record({ a: fc.constant('half-frame' as const), cut: fc.nat({ max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ a: fc.constantFrom('sse-abort' as const, 'zmq-drop' as const) }) },
  { weight: 1, arbitrary: fc.record({ a: fc.constant('pause' as const), ms: fc.nat({ max: 20 }) }) },
);

const UPGRADE = 'GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
/** A masked text frame header claiming 64 KiB, then a few payload bytes: cut anywhere in it. */
const PARTIAL_FRAME = Buffer.from([0x81, 0xfe, 0xff, 0xff, 1, 2, 3, 4, 0x7b, 0x22, 0x6a, 0x73]);

let seq = 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function stray(live: Live, bytes: Buffer, holdMs: number): Promise<void> {
  const { hostname, port } = new URL(live.url);
  return new Promise((resolve) => {
    const s = connect({ host: hostname, port: Number(port) }, () => { s.write(bytes); setTimeout(() => { s.destroy(); resolve(); }, holdMs); });
    s.on('error', () => resolve());
  });
}

async function play(live: Live, script: Case): Promise<{ peers: (FuzzPeer | null)[]; asked: Map<FuzzPeer, string[]> }> {
  const peers: (FuzzPeer | null)[] = Array.from({ length: SLOTS }, () => null);
  const names: (string | null)[] = Array.from({ length: SLOTS }, () => null);
  const asked = new Map<FuzzPeer, string[]>();
  const rpc = (p: FuzzPeer, method: string, params: unknown, id?: string) => p.send(JSON.stringify({ jsonrpc: '2.0', id: id ?? `c${++seq}`, method, params }), false);
  for (const step of script) {
    const p = 'slot' in step ? peers[step.slot] : null;
    switch (step.a) {
      case 'open':
        peers[step.slot]?.terminate();
        peers[step.slot] = await FuzzPeer.open(live.wsUrl + (step.admin ? `?token=${ADMIN_TOKEN}` : ''), live.died).catch(() => null);
        names[step.slot] = null;
        break;
      case 'register':
        if (p) {
          const name = `fz-churn-${step.slot}`;
          rpc(p, 'register', { name, type: 'fuzz-churn', liveness: step.session ? 'session' : { kind: 'ttl', ttlMs: 2000 } });
          names[step.slot] = name;
        }
        break;
      case 'subscribe': if (p) rpc(p, 'bus.subscribe', { scope: '/churn/' }); break;
      case 'watch': if (p) rpc(p, 'watch', { filter: { type: 'fuzz-churn' } }); break;
      case 'publish': if (p) rpc(p, 'bus.publish', { scope: '/churn/a/', data: { n: seq } }); break;
      case 'request': {
        const to = names[step.target];
        if (p && to) {
          const id = `r${++seq}`;
          rpc(p, 'bus.request', { to, method: 'echo', params: {}, timeoutMs: 1000 }, id);
          asked.set(p, [...(asked.get(p) ?? []), id]);
        }
        break;
      }
      case 'close': if (p) { void p.close(); peers[step.slot] = null; } break;
      case 'terminate': if (p) { p.terminate(); peers[step.slot] = null; } break;
      case 'half-frame': await stray(live, Buffer.concat([Buffer.from(UPGRADE), PARTIAL_FRAME.subarray(0, step.cut)]), 5); break;
      case 'sse-abort': await stray(live, Buffer.from('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 2); break;
      case 'zmq-drop': {
        const d = new zmq.Dealer({ linger: 0 });
        d.connect(live.plantimager);
        await d.send(['', '{"event": "CHECK_ALIVE", "payload": {"uuid": "x"}}']).catch(() => undefined);
        d.close();
        break;
      }
      case 'pause': await sleep(step.ms); break;
    }
  }
  return { peers, asked };
}

export default defineTarget<Case>({
  name: 'churn',
  kind: 'socket',
  weight: 1.5,
  async setup(env) {
    const hub = env.hub!;
    return {
      arbitrary: fc.array(action, { minLength: 1, maxLength: 12 }),
      async run(script) {
        const live = await hub.live();
        const { peers, asked } = await play(live, script);
        const report = new Report();
        let outcome = ok();
        try {
          for (const p of peers) {
            if (!p) continue;
            const open = await p.awaitAnswers(asked.get(p) ?? [], 3000);
            const end = await p.exchange(null, false, 5000);
            const r = p.take();
            report.codes.push(...r.codes);
            const o = await verdict(live, p, end, r, 'churn', open);
            if (o.fault) { outcome = o; break; }
          }
        } finally {
          for (const p of peers) p?.terminate();
        }
        if (!outcome.fault && live.dead) return crashOutcome(live);
        return outcome.fault ? outcome : ok(...report.codes);
      },
      show: (script) => `churn script: ${script.map((s) => JSON.stringify(s)).join(' ')}`,
    };
  },
});
