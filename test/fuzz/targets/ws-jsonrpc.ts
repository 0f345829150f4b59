/**
 * Socket target: JSON-RPC text frames on /v1/ws. Seeds are one valid request per method the hub
 * lists in rpc.discover (params built from each method's schema, pointing at this target's
 * fixtures), mutated; plus arbitrary text. Each frame is followed by a sentinel request; every
 * answer must be well-formed JSON-RPC with a catalogued code, and every request it owes (other
 * than those that wait on a member or a timer) must be answered.
 */
import fc from 'fast-check';
import { ADMIN_TOKEN } from '../hub.js';
import { mapIter, materialize, seedCaseArb, showSeedCase, truncations, type SeedCase } from '../cases.js';
import { hintsFor, rpcSeeds, type MethodDoc } from '../corpus.js';
import { safeToSend, showBytes } from '../mutate.js';
import { defineTarget, ok } from '../types.js';
import { registerOn, transportMayClose, verdict, WsSessions, type Member } from '../ws-session.js';

type Case = { readonly seeded: SeedCase } | { readonly text: string };

/** The hub's default maxMessageBytes (the fuzz hub runs with defaults). */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Methods whose answer waits on a member, a component or a timer: not owed within the case. */
const SLOW = new Set(['bus.request', 'control.configure', 'control.stop', 'control.configureGroup', 'control.stopGroup', 'hub.forward', 'hub.tree', 'hub.register']);

/** The ids a frame's well-formed requests are owed answers for. */
export function owedIds(bytes: Buffer): (string | number)[] {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return [];
  }
  const list = Array.isArray(v) ? (v.length >= 1 && v.length <= 100 ? v : []) : [v];
  const out: (string | number)[] = [];
  for (const m of list) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const { jsonrpc, id, method } = m as { jsonrpc?: unknown; id?: unknown; method?: unknown };
    if (jsonrpc !== '2.0' || typeof method !== 'string' || method.length === 0 || method.length > 128 || SLOW.has(method)) continue;
    if ('result' in m || 'error' in m) continue;
    if ((typeof id === 'string' && id.length <= 128 && !id.startsWith('fz-')) || (typeof id === 'number' && Number.isFinite(id))) out.push(id);
  }
  return out;
}

interface Fixtures { sender: Member; seeds: Buffer[]; methods: string[] }

export default defineTarget<Case>({
  name: 'ws-jsonrpc',
  kind: 'socket',
  weight: 3,
  async setup(env) {
    const hub = env.hub!;
    let token: string | undefined;
    let gen = 0;
    let docs: MethodDoc[] = [];
    const sessions = new WsSessions<Fixtures>(hub, async (live, peer) => {
      if (live.generation !== gen) { token = undefined; gen = live.generation; docs = []; }
      if (docs.length === 0) docs = ((await peer.call('rpc.discover', {}))?.result as { methods: MethodDoc[] }).methods;
      // A session member (the sender of bus calls, a component for lifecycle calls); its token keeps its name across reconnects.
      const sender = await registerOn(peer, { name: 'fz-ws', type: 'fuzz', liveness: 'session', roles: ['component'], ...(token ? { token } : {}) });
      token = sender.token;
      await peer.call('register', { name: 'fz-victim', type: 'fuzz', exclusive: true });
      const seeds = rpcSeeds(docs, hintsFor(sender));
      return { sender, seeds: seeds.map((s) => Buffer.from(s.text)), methods: seeds.map((s) => s.method) };
    }, (n) => (n % 2 ? '' : `?token=${ADMIN_TOKEN}`));
    const sent = new WeakMap<Case, { bytes: Buffer; label: string }>();
    const first = await sessions.get();
    const arbitrary: fc.Arbitrary<Case> = fc.oneof(
      { weight: 12, arbitrary: seedCaseArb().map((seeded): Case => ({ seeded })) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((text): Case => ({ text })) },
    );
    return {
      arbitrary,
      sweep: () => mapIter(truncations(first.fixtures.seeds, env.seed), (seeded): Case => ({ seeded })),
      async run(c) {
        const s = await sessions.get();
        const { seeds, methods } = s.fixtures;
        const bytes = 'text' in c ? Buffer.from(c.text) : materialize(seeds, c.seeded);
        const label = 'text' in c ? 'text' : methods[c.seeded.seed % methods.length];
        sent.set(c, { bytes, label });
        if (!safeToSend(bytes)) return ok('skipped');
        const end = await s.peer.exchange(bytes, false, 5000);
        // A frame over maxMessageBytes is refused unread: its PAYLOAD_TOO_LARGE answer has id null.
        const owed = end === 'answered' && bytes.length <= MAX_MESSAGE_BYTES ? owedIds(bytes) : [];
        const open = await s.peer.awaitAnswers(owed, 3000);
        const report = s.peer.take();
        // One error with id null answers a frame refused whole (too deep to read, say): nothing more is owed.
        return verdict(s.live, s.peer, end, report, label, report.wholeFrameRefusals ? [] : open, transportMayClose(bytes, false));
      },
      show(c) {
        const x = sent.get(c);
        if (!x) return JSON.stringify(c).slice(0, 500);
        return 'text' in c ? `text frame on /v1/ws: ${showBytes(x.bytes)}` : `text frame on /v1/ws: ${showSeedCase(c.seeded, x.label, x.bytes)}`;
      },
      close: () => sessions.close(),
    };
  },
});
