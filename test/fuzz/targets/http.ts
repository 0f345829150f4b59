/**
 * Socket target: the HTTP API. Seeds are one request per route of /v1/openapi.json (bodies from
 * the route's schema, path params pointing at this target's member), then mutated: method, a
 * path segment, query parameters, Content-Type, Authorization, JSON operations on the body, and
 * (rarely) byte operations on the whole request. A well-formed request must be answered 2xx or
 * {"error": {code, message}} with a catalogued code and its status; a request broken at the HTTP
 * level may instead be refused by the HTTP parser (400, 413, 414, 431, 505: muster never saw it).
 */
import fc from 'fast-check';
import { Report, checkHttpAnswer } from '../check.js';
import { hintsFor, httpSeeds, type RouteSeed } from '../corpus.js';
import { ADMIN_TOKEN, type Live } from '../hub.js';
import { applyByteOps, applyJsonOps, byteOpArb, describeByteOp, describeJsonOp, jsonOpArb, safeToSend, showBytes, type ByteOp, type JsonOp } from '../mutate.js';
import { encodeRequest, rawHttp, type HttpAnswer } from '../raw-http.js';
import { defineTarget, fault, ok, type Outcome } from '../types.js';
import { blur, crashOutcome, diedWithin, type Member } from '../ws-session.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const SEGMENTS = ['', '%', '%00', '%2F', '..', '.', '%2e%2e', 'a'.repeat(2000), '%C0%AF', '%C3%A9', '__proto__', 'constructor', 'fz-http',
  'fuzz-hub%2Ffz-http', 'elsewhere%2Fx', '%FF', '%25', 'x%20y', encodeURIComponent('\u{1f600}'), '%E2%80%AE'];
const QUERY_KEYS = ['type', 'status', 'prefix', 'state', 'limit', 'after', 'meta.k', 'meta.', 'hub', 'subtree', 'since', '__proto__', 'x', ''];
const QUERY_VALUES = ['', 'alive', 'gone', '0', '-1', '1000', '1001', '99999999999', '1e3', 'true', 'nan', 'fz-', '%00', '%FF', 'a'.repeat(300), '%E2%80%AE'];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', '', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1',
  'multipart/form-data; boundary=x', 'application/json, text/plain', 'APPLICATION/JSON'];

interface Case {
  readonly seed: number;
  readonly method: string | null;
  readonly segment: { readonly at: number; readonly value: string } | null;
  readonly query: readonly (readonly [string, string])[];
  readonly contentType: number;
  /** 0 the member's token, 1 none, 2 admin, then malformed ones. */
  readonly auth: number;
  readonly json: readonly JsonOp[];
  readonly raw: readonly ByteOp[];
}

const segmentValue = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...SEGMENTS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent) });
const queryPart = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...QUERY_VALUES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent) });

const arbitrary: fc.Arbitrary<Case> = fc.record({
  seed: fc.nat({ max: 1000 }),
  method: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
  segment: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ at: fc.nat({ max: 8 }), value: segmentValue }) }),
  query: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), queryPart), { maxLength: 3 }) }),
  contentType: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: CONTENT_TYPES.length - 1 }) }),
  auth: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 6 }) }),
  json: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(jsonOpArb(), { minLength: 1, maxLength: 3 }) }),
  raw: fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteOpArb(), { minLength: 1, maxLength: 3 }) }),
});

/** Past this size a request may still be in flight when the hub answers and closes (see judge). */
const EARLY_ANSWER_BYTES = 64 * 1024;

/** Statuses Node's HTTP parser answers by itself for requests it cannot read. */
const PARSER_REFUSALS = new Set([400, 413, 414, 431, 505]);

interface Built { bytes: Buffer; label: string; wellFormed: boolean; method: string }

function build(c: Case, seeds: readonly RouteSeed[], member: Member): Built {
  const seed = seeds[c.seed % seeds.length];
  const method = c.method ?? seed.method;
  const parts = seed.path.split('/');
  if (c.segment) parts[1 + (c.segment.at % (parts.length - 1))] = c.segment.value;
  const query = c.query.length ? `?${c.query.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&')}` : '';
  const auths = [`Bearer ${member.token}`, null, `Bearer ${ADMIN_TOKEN}`, 'Bearer ', 'Basic YTpi', `Bearer ${'x'.repeat(10_000)}`, `bearer   ${member.token}  `];
  const auth = auths[c.auth % auths.length];
  const ct = CONTENT_TYPES[c.contentType % CONTENT_TYPES.length];
  const hasBody = seed.body !== null || c.json.length > 0 || ['POST', 'PUT', 'PATCH'].includes(method);
  const body = hasBody ? Buffer.from(applyJsonOps(JSON.stringify(seed.body ?? {}), c.json)) : null;
  const headers: [string, string][] = [];
  if (ct && body) headers.push(['Content-Type', ct]);
  if (auth) headers.push(['Authorization', auth]);
  let bytes = encodeRequest({ method, target: parts.join('/') + query, headers, body });
  if (c.raw.length) bytes = applyByteOps(bytes, c.raw);
  return { bytes, label: seed.route, wellFormed: c.raw.length === 0, method };
}

async function judge(live: Live, a: HttpAnswer, b: Built): Promise<Outcome> {
  if (a.end !== 'answered' && (await diedWithin(live, 300))) return crashOutcome(live);
  if (a.end === 'timeout') {
    // Incomplete requests (a lying Content-Length) wait for bytes that never come: only a hub that no longer serves is a hang.
    const health = await fetch(`${live.url}/healthz`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
    if (health === 200) return ok('http:no-answer');
    return fault('hang', `${b.label}: the hub stopped answering HTTP`, `no answer in 5 s and /healthz gave ${health}`);
  }
  if (a.end === 'closed' || a.status === 0) {
    // A request refused before its body is read (413, 404, ...) is answered and closed while we still write: the reset loses the answer.
    if (b.bytes.length > EARLY_ANSWER_BYTES) return ok('http:reset-large-body');
    return b.wellFormed ? fault('malformed', `${b.label}: connection closed without an answer`, '') : ok('http:closed');
  }
  const r = new Report();
  if (b.method === 'HEAD' || a.status === 304) r.codes.push(a.status < 400 ? 'ok' : `head:${a.status}`);
  else checkHttpAnswer(a.status, a.headers['content-type'] ?? '', a.body, r);
  if (r.problems.length && !b.wellFormed && PARSER_REFUSALS.has(a.status)) return ok(`http-refused:${a.status}`);
  if (r.uncatalogued.length) return fault('uncatalogued', `${b.label}: ${r.uncatalogued[0]}`, r.problems.join('\n'), r.codes);
  if (r.problems.length) return fault('malformed', `${b.label}: ${blur(r.problems[0])}`, r.problems.join('\n'), r.codes);
  if (r.codes.includes('INTERNAL')) return fault('internal', `${b.label} answered INTERNAL`, `${a.body.slice(0, 500)}\nhub log: ${live.takeErrors().join('\n').slice(0, 3000)}`, r.codes);
  return ok(...r.codes);
}

export default defineTarget<Case>({
  name: 'http',
  kind: 'socket',
  weight: 2,
  async setup(env) {
    const hub = env.hub!;
    let state: { live: Live; seeds: RouteSeed[]; member: Member } | null = null;
    const session = async () => {
      const live = await hub.live();
      if (state?.live === live) {
        return state;
      }
      const res = await fetch(`${live.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fz-http', type: 'fuzz', liveness: { kind: 'ttl', ttlMs: 3_600_000 } }) });
      const member = (await res.json()) as Member;
      await fetch(`${live.url}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fz-victim', type: 'fuzz' }) });
      const doc = (await (await fetch(`${live.url}/v1/openapi.json`)).json()) as Parameters<typeof httpSeeds>[0];
      const hints = {
        ...hintsFor(member), 'path.name': member.name, 'path.id': member.id, 'DELETE path.id': 'fz-victim',
        'POST /v1/members.name': 'fz-new', 'POST /v1/members.liveness': { kind: 'ttl', ttlMs: 5000 }, timeoutMs: 500, from: member.name,
      };
      state = { live, seeds: httpSeeds(doc, hints, (p) => p === '/v1/events'), member };
      return state;
    };
    await session();
    const built = new WeakMap<Case, Built>();
    const plain: Omit<Case, 'seed' | 'raw'> = { method: null, segment: null, query: [], contentType: 0, auth: 0, json: [] };
    return {
      arbitrary,
      // Every truncation of every route's request (sent half-closed: the hub sees the end of the stream).
      sweep: function* () {
        const seeds = state!.seeds;
        for (let i = 0; i < seeds.length; i++) {
          const seed = (env.seed + i) % seeds.length;
          const len = build({ ...plain, seed, raw: [] }, seeds, state!.member).bytes.length;
          for (let at = 0; at < len; at++) yield { ...plain, seed, raw: [{ op: 'truncate' as const, at }] };
        }
      },
      async run(c) {
        const s = await session();
        const b = build(c, s.seeds, s.member);
        built.set(c, b);
        if (!safeToSend(b.bytes)) return ok('skipped');
        return judge(s.live, await rawHttp(s.live.url, b.bytes, 5000, !b.wellFormed), b);
      },
      show(c) {
        const b = built.get(c);
        const ops = [...c.json.map(describeJsonOp), ...c.raw.map(describeByteOp)];
        return `HTTP ${b?.label ?? `seed ${c.seed}`}${ops.length ? `, then ${ops.join('; ')}` : ''}\n  request: ${b ? showBytes(b.bytes) : '?'}`;
      },
    };
  },
});
