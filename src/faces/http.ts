/**
 * The HTTP API (JSON). Each route decodes path, query and body into an operation's params,
 * validates them with the operation's schema and answers errors as {"error": {code, message}}.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import { MusterError, toMusterError } from '../errors.js';
import type { Caller } from '../core/registry.js';
import { TreeListParams } from '../schemas/federation.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../schemas/json-depth.js';
import { validate } from '../schemas/validate.js';
import type { HubContext } from './context.js';
import { operationsByName, type Operation } from './operations.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { serveEvents } from './sse.js';

/** Routes that other modules (bus, control, federation) add, with their docs. */
export interface HttpRoute extends RouteDoc {
  handler(req: FastifyRequest, reply: FastifyReply, caller: Caller): Promise<unknown> | unknown;
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? m[1]!.trim() : undefined;
}

function callerOf(req: FastifyRequest): Caller {
  return { token: bearerToken(req) };
}

/** The JSON object a route takes as its body ({} when there is none). */
export function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new MusterError('INVALID_REQUEST', 'The body must be a JSON object');
  return b as Record<string, unknown>;
}

/** Query strings are text: numbers and `meta.key=value` labels are decoded here. */
export function listQuery(query: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) throw new MusterError('INVALID_PARAMS', `query.${k}: given more than once`);
    if (k.startsWith('meta.')) meta[k.slice(5)] = v;
    else if (k === 'limit') out.limit = /^\d{1,9}$/.test(String(v)) ? Number(v) : v;
    else if (k === 'subtree') out.subtree = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
    else out[k] = v;
  }
  if (Object.keys(meta).length) out.meta = meta;
  return out;
}

function run(hub: HubContext, name: string, params: unknown, caller: Caller, what: string): Promise<unknown> {
  const op = operationsByName.get(name) as Operation;
  return Promise.resolve(op.run(hub, validate(op.params, params, what), caller));
}

export function registryRoutes(hub: HubContext): HttpRoute[] {
  const ops = (n: string) => operationsByName.get(n)!;
  const IdPath = Type.Object({ id: Type.String() });
  return [
    {
      method: 'POST', url: '/v1/members', summary: ops('register').summary, body: ops('register').params, response: ops('register').result, status: 201,
      handler: async (req, reply, caller) => {
        const result = await run(hub, 'register', bodyObject(req), caller, 'body');
        reply.code(201);
        return result;
      },
    },
    {
      method: 'GET', url: '/v1/members', summary: ops('list').summary, query: TreeListParams, response: ops('list').result,
      handler: (req, _reply, caller) => run(hub, 'list', listQuery(req.query as Record<string, unknown>), caller, 'query'),
    },
    {
      method: 'GET', url: '/v1/members/:name', summary: ops('get').summary, response: ops('get').result,
      handler: (req, _reply, caller) => run(hub, 'get', { name: (req.params as { name: string }).name }, caller, 'path'),
    },
    {
      method: 'PUT', url: '/v1/members/:id/heartbeat', summary: ops('heartbeat').summary, path: IdPath, response: ops('heartbeat').result, auth: true,
      handler: (req, _reply, caller) => run(hub, 'heartbeat', { id: (req.params as { id: string }).id }, caller, 'path'),
    },
    {
      method: 'PATCH', url: '/v1/members/:id', summary: ops('update').summary, path: IdPath, body: Type.Object({ address: Type.Optional(Type.String()), meta: Type.Optional(Type.Record(Type.String(), Type.String())) }), response: ops('update').result, auth: true,
      handler: (req, _reply, caller) => run(hub, 'update', { ...bodyObject(req), id: (req.params as { id: string }).id }, caller, 'body'),
    },
    {
      method: 'DELETE', url: '/v1/members/:id', summary: ops('unregister').summary, path: IdPath, response: ops('unregister').result, auth: true,
      handler: (req, _reply, caller) => run(hub, 'unregister', { id: (req.params as { id: string }).id }, caller, 'path'),
    },
    {
      method: 'GET', url: '/v1/info', summary: ops('info').summary, response: ops('info').result,
      handler: () => hub.info(),
    },
    {
      method: 'GET', url: '/v1/events', summary: 'Server-Sent Events: replay after ?since= (or Last-Event-ID), then live. Filters: types, type, name, prefix, meta.KEY.', sse: true,
      handler: (req, reply) => serveEvents(hub, req, reply),
    },
    {
      method: 'GET', url: '/healthz', summary: 'Liveness of the hub itself', response: Type.Object({ ok: Type.Boolean() }),
      handler: () => ({ ok: true }),
    },
  ];
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
        return r.handler(req, reply, callerOf(req));
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

export function fromFastifyError(err: FastifyError | MusterError): MusterError {
  if (err instanceof MusterError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MusterError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MusterError('INVALID_REQUEST', 'Send JSON with content-type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MusterError('INVALID_REQUEST', 'The body is empty but content-type says JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MusterError('INVALID_REQUEST', 'Content-Length does not match the body');
    case 'FST_ERR_BAD_URL':
      return new MusterError('INVALID_REQUEST', 'The URL is not validly percent-encoded');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new MusterError('INVALID_PARAMS', 'A path parameter is too long');
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new MusterError('PARSE_ERROR', `The body is not valid JSON: ${err.message}`);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new MusterError('INVALID_REQUEST', err.message);
  }
  return toMusterError(err);
}

export type { TSchema };
