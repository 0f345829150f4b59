/**
 * The HTTP API (JSON), built from the operation tables: each operation with an HTTP binding is a
 * route whose path parameters, body or query become the operation's params, validated with its
 * schema (compiled once). Beside them: the SSE event stream, /healthz, /metrics and the OpenAPI
 * document made from the same tables. Errors are {"error": {code, message}} with the catalogue's status.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { allOperations, type Operation } from '../../core/operations/index.js';
import type { HttpBinding } from '../../core/operations/operation.js';
import type { Caller } from '../../core/registry/registry.js';
import { MusterError, toMusterError, type ErrorCode } from '../../errors.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../schemas/json-depth.js';
import { validate } from '../../schemas/validate.js';
import type { HubContext } from '../context.js';
import { Readable } from 'node:stream';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { serveEvents } from './sse.js';

/** A route of the face's own (not an operation), with its docs. */
export interface HttpRoute extends RouteDoc {
  handler(req: FastifyRequest, reply: FastifyReply, caller: Caller): Promise<unknown> | unknown;
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? m[1]!.trim() : undefined;
}

/** The JSON object a route takes as its body ({} when there is none). */
export function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined) return {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new MusterError('INVALID_REQUEST', 'The body must be a JSON object');
  return b as Record<string, unknown>;
}

/**
 * Query strings are text: values are decoded by the type the params schema gives them
 * (integers, booleans), and `meta.KEY=VALUE` pairs become the `meta` object.
 */
export function queryParams(schema: TSchema, query: Record<string, unknown>): Record<string, unknown> {
  const props = ((schema as TObject).properties ?? {}) as Record<string, { type?: string }>;
  const out: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) throw new MusterError('INVALID_PARAMS', `query.${k}: given more than once`);
    if (k.startsWith('meta.')) meta[k.slice(5)] = v;
    else if (props[k]?.type === 'integer') out[k] = /^\d{1,9}$/.test(String(v)) ? Number(v) : v;
    else if (props[k]?.type === 'number') out[k] = /^\d{1,15}(\.\d{1,6})?$/.test(String(v)) ? Number(v) : v;
    else if (props[k]?.type === 'boolean') out[k] = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
    else out[k] = v;
  }
  if (Object.keys(meta).length) out.meta = meta;
  return out;
}

/** An operation as a route: params from path (renamed as bound), then body or query; validated; run. */
function operationRoute(hub: HubContext, op: Operation, http: HttpBinding): HttpRoute {
  const from = http.from ?? (http.method === 'GET' || http.method === 'DELETE' ? 'none' : 'body');
  const pathNames = [...http.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
  const without = (names: string[]) => Type.Omit(op.params as TObject, names.map((n) => http.rename?.[n] ?? n));
  return {
    method: http.method, url: http.path, summary: op.summary, status: http.status, auth: http.auth,
    path: pathNames.length ? Type.Object(Object.fromEntries(pathNames.map((n) => [n, Type.String()]))) : undefined,
    body: from === 'body' ? without(pathNames) : undefined,
    query: from === 'query' ? op.params : undefined,
    response: http.wrap ? Type.Object({ [http.wrap]: op.result }) : op.result,
    handler: async (req, reply, caller) => {
      const params: Record<string, unknown> = from === 'body' ? { ...bodyObject(req) } : from === 'query' ? queryParams(op.params, req.query as Record<string, unknown>) : {};
      const path = req.params as Record<string, string>;
      for (const n of pathNames) params[http.rename?.[n] ?? n] = path[n];
      const result = await op.run(hub, validate(op.params, params, from === 'none' ? 'path' : from), caller);
      if (http.status) reply.code(http.status);
      return http.wrap ? { [http.wrap]: result ?? null } : result;
    },
  };
}

/** The face's own routes: the event stream and the hub's health. */
function faceRoutes(hub: HubContext): HttpRoute[] {
  return [
    {
      method: 'GET', url: '/v1/events', summary: 'Server-Sent Events: replay after ?since= (or Last-Event-ID), then live. Filters: types, type, name, prefix, meta.KEY.', sse: true,
      handler: (req, reply) => serveEvents(hub, req, reply),
    },
    {
      method: 'GET', url: '/v1/admin/snapshot', auth: true,
      summary: "Admin: a consistent snapshot of the store (members with token hashes, kept events) as gzip'd JSON lines, taken without pausing the hub",
      handler: async (req, reply, caller) => {
        if (!caller.token) throw new MusterError('UNAUTHORIZED', 'A snapshot needs the admin token');
        if (!hub.registry.isAdmin(caller.token)) throw new MusterError('FORBIDDEN', 'A snapshot needs the admin token');
        if (!hub.snapshot) throw new MusterError('SNAPSHOT_UNSUPPORTED');
        await hub.audit.record('snapshot', {}, caller);
        const bytes = await hub.snapshot();
        hub.log.info({ from: req.ip }, 'snapshot: sending');
        void reply.header('content-type', 'application/gzip').header('cache-control', 'no-store');
        return reply.send(Readable.from(bytes, { objectMode: false }));
      },
    },
    {
      method: 'GET', url: '/healthz', summary: 'Health of the hub: 200 {ok: true}, or 503 {ok: false, reason} (draining; in cluster mode, while Redis does not answer; a SQLite store that takes no writes: stopped by a failed write or sync of its file, or its disk full)',
      response: Type.Object({ ok: Type.Boolean(), reason: Type.Optional(Type.String()) }),
      handler: (_req, reply) => {
        const h = hub.health();
        if (!h.ok) reply.code(503);
        return h;
      },
    },
  ];
}

/** Every route of the HTTP face: the bound operations, then the face's own. */
export function httpRoutes(hub: HubContext): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const o of allOperations) {
    const op = o as Operation;
    if (op.http) routes.push(operationRoute(hub, op, op.http));
  }
  return [...routes, ...faceRoutes(hub)];
}

/**
 * JSON bodies: fastify's own parser (prototype-poisoning checks kept) behind a depth check, and
 * an empty body is no body (a DELETE sent with content-type: application/json is fine).
 */
function mountJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    if (jsonTooDeep(text)) return done(new MusterError('INVALID_PARAMS', `The body is JSON nested deeper than ${MAX_JSON_DEPTH} levels`, { maxDepth: MAX_JSON_DEPTH }), undefined);
    parse(req, text, done);
  });
}

/** Registers routes with uniform error handling, plus /metrics and /v1/openapi.json. */
export function mountHttp(app: FastifyInstance, hub: HubContext, routes: HttpRoute[], version: string): void {
  mountJsonParser(app);
  app.setErrorHandler((err: FastifyError | MusterError, _req, reply) => {
    const e = fromFastifyError(err);
    hub.metrics.errors.inc({ face: 'http', code: e.code });
    if (e.code === 'INTERNAL') hub.log.error({ err }, 'internal error');
    void reply.code(e.status).send({ error: e.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => {
    hub.metrics.errors.inc({ face: 'http', code: 'NOT_FOUND' });
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` } });
  });
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      handler: async (req, reply) => {
        hub.metrics.requests.inc({ face: 'http' });
        return r.handler(req, reply, { token: bearerToken(req), from: { face: 'http', address: req.ip } });
      },
    });
  }
  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', hub.metrics.registry.contentType);
    return hub.metrics.registry.metrics();
  });
  const openapi = buildOpenApi(routes, version);
  app.get('/v1/openapi.json', async () => openapi);
}

/** fastify's own errors, by code, as catalogue errors. */
const FASTIFY_ERRORS: Readonly<Record<string, [ErrorCode, string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'The request body is too large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['INVALID_REQUEST', 'Send JSON with content-type: application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_REQUEST', 'The body is empty but content-type says JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['INVALID_REQUEST', 'Content-Length does not match the body'],
  FST_ERR_BAD_URL: ['INVALID_REQUEST', 'The URL is not validly percent-encoded'],
  FST_ERR_MAX_PARAM_LENGTH: ['INVALID_PARAMS', 'A path parameter is too long'],
};

export function fromFastifyError(err: FastifyError | MusterError): MusterError {
  if (err instanceof MusterError) return err;
  const known = FASTIFY_ERRORS[err.code];
  if (known) return new MusterError(known[0], known[1]);
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new MusterError('PARSE_ERROR', `The body is not valid JSON: ${err.message}`);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new MusterError('INVALID_REQUEST', err.message);
  }
  return toMusterError(err);
}
