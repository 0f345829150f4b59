/**
 * Builds the dashboard: one esbuild step bundling src/dashboard (Preact, htm, uPlot and the
 * SDK) into dist/www with content-hashed names, and the page that loads them. Run by
 * `npm run build` and by `npm ci` (the `prepare` script); the hub serves dist/www at `/`.
 *
 *   node --import tsx src/dashboard/build.ts [OUT_DIR]
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const DEFAULT_OUT = fileURLToPath(new URL('../../dist/www/', import.meta.url));

export interface BuiltDashboard {
  readonly dir: string;
  readonly files: readonly string[];
  /** The page's JavaScript, as sent (gzip). */
  readonly jsGzipBytes: number;
  readonly jsBytes: number;
  readonly cssGzipBytes: number;
}

const page = (js: string, css: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>muster</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/${css}">
<script type="module" src="/ui/${js}"></script>
</head>
<body>
<div id="app"><header><span class="brand">muster</span></header><main><p class="muted">loading the dashboard…</p></main></div>
</body>
</html>
`;

/**
 * Builds into a fresh folder beside `outDir`, then leaves `outDir` as it is when it already holds
 * the same files (the usual case: every dashboard test process builds, and hubs in other
 * processes read `outDir` as they start) or else swaps the new folder in. `outDir` is never
 * emptied in place, so a hub starting meanwhile reads a whole bundle.
 */
export async function buildDashboard(outDir = DEFAULT_OUT): Promise<BuiltDashboard> {
  const out = outDir.replace(/\/+$/, '');
  mkdirSync(dirname(out), { recursive: true });
  const fresh = mkdtempSync(`${out}.build-`);
  try {
    const r = await build({
      entryPoints: [join(HERE, 'main.ts'), join(HERE, 'style.css')],
      bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022',
      outdir: fresh, entryNames: '[name]-[hash]', metafile: true, legalComments: 'none', logLevel: 'warning',
    });
    const files = readdirSync(fresh);
    const js = files.find((f) => f.startsWith('main-') && f.endsWith('.js'));
    const css = files.find((f) => f.startsWith('style-') && f.endsWith('.css'));
    if (!js || !css) throw new Error(`dashboard build wrote ${files.join(', ')}`);
    writeFileSync(join(fresh, 'index.html'), page(js, css));
    if (!sameFiles(fresh, out)) swapIn(fresh, out);
    const jsText = Object.keys(r.metafile.outputs).filter((o) => o.endsWith('.js')).map((o) => basename(o));
    let jsBytes = 0;
    let jsGzipBytes = 0;
    for (const f of jsText) {
      const body = readFileSync(join(out, f));
      jsBytes += body.length;
      jsGzipBytes += gzipSync(body, { level: 9 }).length;
    }
    const cssBody = readFileSync(join(out, css));
    return { dir: outDir, files: readdirSync(out), jsBytes, jsGzipBytes, cssGzipBytes: gzipSync(cssBody, { level: 9 }).length };
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}

/** True when `dir` holds exactly the files of `built`, byte for byte. */
function sameFiles(built: string, dir: string): boolean {
  if (!existsSync(dir)) return false;
  const names = readdirSync(built).sort();
  const there = readdirSync(dir).sort();
  return names.length === there.length && names.every((n, i) => n === there[i] && readFileSync(join(built, n)).equals(readFileSync(join(dir, n))));
}

/**
 * Two renames: `out` is missing only between them, never half written. A build in another process
 * may swap at the same time; whichever lands first stays (both built the same sources).
 */
function swapIn(fresh: string, out: string): void {
  const old = mkdtempSync(join(dirname(out), '.www-old-'));
  try {
    try {
      renameSync(out, join(old, 'www'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      renameSync(fresh, out);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? DEFAULT_OUT;
  buildDashboard(out).then((b) => {
    process.stdout.write(`dashboard: ${b.files.join(', ')} in ${b.dir} (JavaScript ${(b.jsGzipBytes / 1024).toFixed(1)} KiB gzipped)\n`);
  }, (err: unknown) => {
    process.stderr.write(`dashboard build failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
