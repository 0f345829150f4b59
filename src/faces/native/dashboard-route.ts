/**
 * The dashboard: the hub's own web page, served from the bundle `npm run build` (or `npm ci`)
 * wrote to dist/www. Files are read once when the hub starts, gzipped once, and served from
 * memory: `/` is the page (never cached, so a new build shows at the next load), `/ui/NAME` its
 * hashed assets (cached for good). Nothing is fetched from elsewhere; the page talks to the hub
 * through the same WebSocket API as the SDK.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the bundle is, from the source tree (src/faces/native) or from the compiled one (dist/faces/native). */
const CANDIDATES = ['../../../dist/www/', '../../www/'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Only the page's own origin: scripts, styles, images and the hub's WebSocket. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** A bundle larger than this is not a dashboard: refuse to load it into memory. */
const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;
const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>muster</title>
<p>The dashboard is not built. Run <code>npm run build</code> (or <code>npm ci</code>) in the muster folder and restart the hub.
The API is served as usual: <a href="/v1/info">/v1/info</a>, <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>`;

/** The built files of a folder, by name; empty when there is no build. */
export function loadBundle(dir: string | undefined = CANDIDATES.find((d) => existsSync(join(d, 'index.html')))): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!dir || !existsSync(join(dir, 'index.html'))) return assets;
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const ext = name.slice(name.lastIndexOf('.'));
    if (!FILE_NAME.test(name) || !TYPES[ext] || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    total += body.length;
    if (total > MAX_BUNDLE_BYTES) throw new Error(`dashboard bundle in ${dir} is over ${MAX_BUNDLE_BYTES} bytes`);
    assets.set(name, { type: TYPES[ext], body, gzip: gzipSync(body, { level: 9 }) });
  }
  return assets;
}

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset, cache: string): FastifyReply {
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  void reply.headers({ ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': cache, vary: 'accept-encoding' });
  if (gzip) void reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? asset.gzip : asset.body);
}

/** Mounts `/` and `/ui/:file` on the hub's HTTP port. */
export function mountDashboard(app: FastifyInstance, dir?: string): void {
  const assets = loadBundle(dir);
  const index = assets.get('index.html');
  app.get('/', (req, reply) => {
    if (!index) return reply.code(503).headers({ ...SECURITY_HEADERS, 'content-type': TYPES['.html'] }).send(NOT_BUILT);
    return send(req, reply, index, 'no-cache');
  });
  app.get('/ui/:file', (req, reply) => {
    const name = (req.params as { file: string }).file;
    const asset = name === 'index.html' ? undefined : assets.get(name);
    if (!asset) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No dashboard file ${JSON.stringify(name.slice(0, 80))}` } });
    // Names carry a content hash: a file never changes under its name.
    return send(req, reply, asset, 'public, max-age=31536000, immutable');
  });
}
