/**
 * Valid seed messages, taken from what the hub says about itself: every JSON-RPC method of
 * `rpc.discover` (OpenRPC) and every route of `/v1/openapi.json`, each with params built from its
 * JSON Schema. Values that must refer to something real (a member name, a token, a scope) come
 * from hints the target fills with its fixtures, so most seeds succeed before they are mutated.
 */

export type Schema = {
  type?: string;
  const?: unknown;
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minProperties?: number;
};

import { ADMIN_TOKEN, FEDERATION_TOKEN } from './hub.js';

/** Hints by `method.param` first, then by `param`. */
export type Hints = Record<string, unknown>;

const STRING_CANDIDATES = ['fz-a', 'a', '/fuzz/a/', 'x', 'fuzz', 'A1'];

/** A valid value for a schema (as far as a sample can be): required fields, and optional ones there is a hint for. */
export function exampleOf(schema: Schema, path: string, hints: Hints, depth = 0): unknown {
  const leaf = path.split('.').pop()!;
  if (path in hints) return hints[path];
  if (leaf in hints && depth > 0) return hints[leaf];
  if (depth > 6) return null;
  if (schema.const !== undefined) return schema.const;
  if (schema.anyOf?.length) return exampleOf(schema.anyOf.find((s) => s.type !== 'null') ?? schema.anyOf[0], path, hints, depth);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const method = path.split('.')[0];
      for (const [k, s] of Object.entries(schema.properties ?? {})) {
        const required = schema.required?.includes(k) ?? false;
        if (required || `${method}.${k}` in hints || k in hints) out[k] = exampleOf(s, `${path}.${k}`, hints, depth + 1);
      }
      if (Object.keys(out).length < (schema.minProperties ?? 0)) {
        const [k, s] = Object.entries(schema.properties ?? {})[0] ?? [];
        if (k && s) out[k] = exampleOf(s, `${path}.${k}`, hints, depth + 1);
      }
      return out;
    }
    case 'array':
      return (schema.minItems ?? 0) > 0 && schema.items ? [exampleOf(schema.items, path, hints, depth + 1)] : [];
    case 'string': {
      const min = schema.minLength ?? 0;
      const max = schema.maxLength ?? Infinity;
      const re = schema.pattern ? new RegExp(schema.pattern) : null;
      const fit = STRING_CANDIDATES.find((c) => c.length >= min && c.length <= max && (!re || re.test(c)));
      return fit ?? 'x'.repeat(Math.max(1, min));
    }
    case 'integer':
    case 'number':
      return schema.minimum !== undefined ? schema.minimum : schema.maximum !== undefined && schema.maximum < 1 ? schema.maximum : 1;
    case 'boolean':
      return false;
    default:
      return {};
  }
}

export interface MethodDoc {
  name: string;
  params: { name: string; schema: Schema; required: boolean }[];
}

/**
 * Operations that end the hub by design (an admin's drain stops it once its sessions left): never
 * seeds, or every run would end in "the hub exited".
 */
const ENDS_THE_HUB = { methods: new Set(['admin.drain']), routes: new Set(['/v1/admin/drain']) };

/** One JSON-RPC request per method: `{"jsonrpc":"2.0","id":N,"method":M,"params":{...}}`. */
export function rpcSeeds(methods: readonly MethodDoc[], hints: Hints): { method: string; text: string }[] {
  return methods.filter((m) => !ENDS_THE_HUB.methods.has(m.name)).map((m, i) => {
    const schema: Schema = {
      type: 'object',
      properties: Object.fromEntries(m.params.map((p) => [p.name, p.schema])),
      required: m.params.filter((p) => p.required).map((p) => p.name),
    };
    const params = exampleOf(schema, m.name, hints);
    return { method: m.name, text: JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: m.name, params }) };
  });
}

export interface RouteSeed {
  method: string;
  /** With path params filled in. */
  path: string;
  /** JSON body, or null for none. */
  body: unknown;
  /** For a label: the route as documented. */
  route: string;
}

interface OpenApi {
  paths: Record<string, Record<string, { requestBody?: { content?: { 'application/json'?: { schema?: Schema } } } }>>;
}

/** One request per documented route (SSE excluded: it is its own target), path params from hints. */
export function httpSeeds(doc: OpenApi, hints: Hints, exclude: (path: string) => boolean): RouteSeed[] {
  const out: RouteSeed[] = [];
  for (const [route, methods] of Object.entries(doc.paths)) {
    if (exclude(route) || ENDS_THE_HUB.routes.has(route)) continue;
    for (const [method, op] of Object.entries(methods)) {
      const path = route.replace(/\{(\w+)\}/g, (_m, p: string) => encodeURIComponent(String(hints[`${method.toUpperCase()} path.${p}`] ?? hints[`path.${p}`] ?? 'fz-a')));
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const body = schema ? exampleOf(schema, `${method.toUpperCase()} ${route}`, hints) : null;
      out.push({ method: method.toUpperCase(), path, body, route: `${method.toUpperCase()} ${route}` });
    }
  }
  return out;
}

/** Values that make seeds succeed: the sender's own name and token, a scope, a victim to unregister, the federation token. */
export function hintsFor(sender: { readonly name: string; readonly token: string }): Hints {
  return {
    'register.name': 'fz-new', 'register.type': 'fuzz', 'register.liveness': { kind: 'ttl', ttlMs: 5000 }, 'register.meta': { k: 'v' },
    'register.roles': ['component'], 'register.newToken': 'fz-new-token-0123456789-abcdefghijklmnopqrstu',
    'heartbeat.id': sender.name, 'heartbeat.token': sender.token, 'update.id': sender.name, 'update.token': sender.token, 'update.meta': { k: 'v' },
    'unregister.id': 'fz-victim', 'get.name': sender.name, 'list.prefix': 'fz-', 'list.limit': 10, 'auth.token': ADMIN_TOKEN,
    'watch.filter': { prefix: 'fz-' }, 'unwatch.watch': 1, 'system.methodHelp.name': 'get', 'system.methodSignature.name': 'get',
    scope: '/fuzz/a/', data: { n: 1 }, to: sender.name, from: sender.name, method: 'echo', 'bus.request.params': { x: 1 }, timeoutMs: 1000,
    subscription: 1, 'bus.format.binary': false, 'lifecycle.ready.endpoints': { main: ['tcp://127.0.0.1:1'] }, text: 'e', outcome: 'OK', call: 'c1',
    'control.configure.name': sender.name, 'control.stop.name': sender.name, 'control.lifecycle.name': sender.name, config: { k: 1 },
    selector: { type: 'fuzz' }, 'hub.register.token': FEDERATION_TOKEN, hubId: 'fz-child', instance: 'i-1', poa: ['http://127.0.0.1:9'],
    descendants: [], 'hub.forward.to': 'fuzz-hub', 'hub.forward.params': { name: sender.name }, hops: 0, op: 'get', scopes: ['/tree/a/'],
    'hub.publish.from': 'fz-child/x', 'hub.publish.scope': '/tree/a/', seq: 1, created: 1, sent: 1, received: 1,
  };
}
