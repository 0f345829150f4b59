/** OpenAPI 3.1 for the HTTP API, built once from the route table and the operations' schemas. */
import type { TSchema } from '@sinclair/typebox';
import { ERRORS } from '../../errors.js';

export interface RouteDoc {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  path?: TSchema;
  query?: TSchema;
  body?: TSchema;
  response?: TSchema;
  status?: number;
  auth?: boolean;
  sse?: boolean;
}

/** TypeBox schemas are JSON Schema plus symbol keys; JSON round-trip drops the symbols. */
const plain = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));

/**
 * The routes name the member segment :id (heartbeat, update, unregister) or :name (get, send,
 * control); OpenAPI 3.1 forbids templates that differ only in parameter names, so the document
 * calls it {member} and says per operation what it takes. The routes themselves are unchanged.
 */
const MEMBER_SEGMENT = /^\/v1\/members\/:([A-Za-z]+)/;
const MEMBER_DOCS: Readonly<Record<string, string>> = {
  id: "The member's id (from its registration)",
  name: "The member's name or id; hub/name (slash written %2F) for a member of another hub of the tree",
};

interface PathParam { name: string; in: 'path' | 'query'; required: boolean; description?: string; schema: unknown }

function pathParams(url: string): PathParam[] {
  const member = MEMBER_SEGMENT.exec(url)?.[1];
  return [...url.matchAll(/:([A-Za-z]+)/g)].map((m, i) => (i === 0 && member
    ? { name: 'member', in: 'path', required: true, description: MEMBER_DOCS[member], schema: { type: 'string' } }
    : { name: m[1]!, in: 'path', required: true, schema: { type: 'string' } }));
}

export function buildOpenApi(routes: RouteDoc[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(MEMBER_SEGMENT, '/v1/members/:member').replace(/:([A-Za-z]+)/g, '{$1}');
    const params = pathParams(r.url);
    if (r.query) {
      const props = (plain(r.query) as { properties?: Record<string, unknown> }).properties ?? {};
      for (const [name, schema] of Object.entries(props)) params.push({ name, in: 'query', required: false, schema });
    }
    const ok = String(r.status ?? 200);
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      parameters: params.length ? params : undefined,
      security: r.auth ? [{ bearer: [] }] : undefined,
      requestBody: r.body ? { required: true, content: { 'application/json': { schema: plain(r.body) } } } : undefined,
      responses: {
        [ok]: r.sse
          ? { description: 'text/event-stream of registry events', content: { 'text/event-stream': { schema: { type: 'string' } } } }
          : { description: 'OK', content: { 'application/json': { schema: r.response ? plain(r.response) : {} } } },
        default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'muster hub API', version },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: "The member's token or the admin token" } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { enum: Object.keys(ERRORS) }, message: { type: 'string' } } } },
        },
      },
    },
  };
}
