/**
 * What the suite needs beyond `npm ci`: Debian packages, named in README.md ("Tests") in one
 * `apt-get install` line. A test that finds one missing fails at once, naming the package, rather
 * than skipping: a suite that passes with parts left out would hide them, on a laptop as in CI.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
/** Debian's own Python, where python3-zmq and python3-protobuf install (not a pyenv or venv one). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Each prerequisite: how to tell it is there, and the package that brings it. */
const PREREQUISITES = {
  chromium: { pkg: 'chromium', present: () => existsSync(CHROMIUM) },
  'redis-server': { pkg: 'redis-server', present: () => onPath('redis-server') },
  'python3 zmq': { pkg: 'python3-zmq', present: () => imports('zmq') },
  'python3 protobuf': { pkg: 'python3-protobuf', present: () => imports('google.protobuf') },
  protoc: { pkg: 'protobuf-compiler', present: () => onPath('protoc') },
  strace: { pkg: 'strace', present: () => onPath('strace') },
} as const;

export type Prerequisite = keyof typeof PREREQUISITES;

/** The line README.md shows; test/prerequisites.test.ts checks that it is there. */
export const INSTALL_LINE = `apt-get install -y ${Object.values(PREREQUISITES).map((p) => p.pkg).join(' ')}`;

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function imports(module: string): boolean {
  if (!existsSync(SYSTEM_PYTHON)) return false;
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

const known = new Map<Prerequisite, boolean>();

/** The prerequisites of `names` that this machine lacks. */
export function missing(...names: Prerequisite[]): Prerequisite[] {
  return names.filter((n) => {
    if (!known.has(n)) known.set(n, PREREQUISITES[n].present());
    return !known.get(n);
  });
}

/** Throws, naming the packages to install, unless every one of `names` is there. */
export function requirePrerequisites(...names: Prerequisite[]): void {
  const lacking = missing(...names);
  if (lacking.length === 0) return;
  const pkgs = lacking.map((n) => PREREQUISITES[n].pkg).join(' ');
  throw new Error(`${lacking.join(', ')} missing: apt-get install -y ${pkgs} (the whole suite needs: ${INSTALL_LINE}; README.md, "Tests")`);
}

/** The system Python, after checking it has the modules a test's script imports. */
export function systemPython(...modules: Array<'zmq' | 'protobuf'>): string {
  if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} missing: apt-get install -y python3 (README.md, "Tests")`);
  requirePrerequisites(...modules.map((m): Prerequisite => (m === 'zmq' ? 'python3 zmq' : 'python3 protobuf')));
  return SYSTEM_PYTHON;
}
