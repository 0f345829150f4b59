/**
 * The import graph of src/, read from the sources (static imports, `import type`, re-exports and
 * dynamic `import()`), for the architecture test: which file imports which, and which packages.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

export interface ImportGraph {
  /** Repo-relative file -> repo-relative files it imports (src only). */
  files: Map<string, Set<string>>;
  /** Repo-relative file -> packages and node builtins it imports. */
  packages: Map<string, Set<string>>;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Comments are dropped first so that examples in them are not read as imports. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function importGraph(root: string, srcDir = 'src'): ImportGraph {
  const files = new Map<string, Set<string>>();
  const packages = new Map<string, Set<string>>();
  for (const abs of walk(join(root, srcDir))) {
    const file = relative(root, abs);
    const internal = new Set<string>();
    const external = new Set<string>();
    for (const m of code(readFileSync(abs, 'utf8')).matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.')) internal.add(normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
      else external.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
    files.set(file, internal);
    packages.set(file, external);
  }
  return { files, packages };
}

/** Import cycles (strongly connected components of more than one file, or a file importing itself). */
export function cycles(files: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of files.get(v) ?? []) {
      if (!files.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || files.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of files.keys()) if (!idx.has(v)) visit(v);
  return out;
}
