/**
 * Socket target: Server-Sent Events at GET /v1/events. Query parameters (filters, since) and the
 * Last-Event-ID header are fuzzed; the answer is an event stream that starts with the hub's
 * comment line, or a JSON error with a catalogued code and its status.
 */
import fc from 'fast-check';
import { Report, checkHttpAnswer } from '../check.js';
import { encodeRequest, rawHttp } from '../raw-http.js';
import { defineTarget, fault, ok } from '../types.js';
import { blur, crashOutcome, diedWithin } from '../ws-session.js';

const KEYS = ['since', 'types', 'type', 'name', 'prefix', 'meta.k', 'meta.', 'meta.__proto__', 'filter', '__proto__', ''];
const VALUES = ['0', '1', '-1', '999999999999999', '9999999999999999', '1e3', 'added', 'added,removed', 'added,,', 'x', '', 'fz-', 'a'.repeat(100),
  '%00', '%FF', '%E2%80%AE', 'alive', 'gone', 'a/b', '*'];

interface Case { readonly query: readonly (readonly [string, string])[]; readonly lastEventId: string | null }

const part = (options: readonly string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...options) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }).map(encodeURIComponent) });
const arbitrary: fc.Arbitrary<Case> = fc.record({
  query: fc.array(fc.tuple(part(KEYS), part(VALUES)), { maxLength: 4 }),
  lastEventId: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('0', '5', '-1', 'abc', '1'.repeat(20), ' 1'), fc.string({ unit: fc.constantFrom('1', 'a', ' ', '-', '\t'), maxLength: 20 })) }),
});

const requestOf = (c: Case): Buffer => encodeRequest({
  method: 'GET',
  target: `/v1/events${c.query.length ? `?${c.query.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`,
  headers: [['Accept', 'text/event-stream'], ...(c.lastEventId !== null ? [['Last-Event-ID', c.lastEventId] as const] : [])],
  body: null,
});

export default defineTarget<Case>({
  name: 'sse',
  kind: 'socket',
  weight: 1,
  async setup(env) {
    const hub = env.hub!;
    return {
      arbitrary,
      async run(c) {
        const live = await hub.live();
        const a = await rawHttp(live.url, requestOf(c), 5000, false);
        if (a.end !== 'answered' && (await diedWithin(live, 300))) return crashOutcome(live);
        if (a.end !== 'answered') return fault(a.end === 'timeout' ? 'hang' : 'malformed', `GET /v1/events: ${a.end}`, `no answer (${a.end})`);
        if ((a.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          if (a.status !== 200 || !a.body.startsWith(': muster events from revision ')) return fault('malformed', 'GET /v1/events: stream start', a.body.slice(0, 200));
          return ok('stream');
        }
        const r = new Report();
        checkHttpAnswer(a.status, a.headers['content-type'] ?? '', a.body, r);
        if (r.uncatalogued.length) return fault('uncatalogued', `GET /v1/events: ${r.uncatalogued[0]}`, r.problems.join('\n'), r.codes);
        if (r.problems.length) return fault('malformed', `GET /v1/events: ${blur(r.problems[0])}`, r.problems.join('\n'), r.codes);
        if (r.codes.includes('INTERNAL')) return fault('internal', 'GET /v1/events answered INTERNAL', a.body.slice(0, 500), r.codes);
        return ok(...r.codes);
      },
      show: (c) => `HTTP request: ${JSON.stringify(requestOf(c).toString('latin1'))}`,
    };
  },
});
