/**
 * A doc's console tour run for real: `$ ` commands in order, in bash, against the hubs and Redis
 * servers the tour itself starts in the background. The doc's ports (7070, 8000, 6379, ...) are
 * mapped onto free ones: in commands the doc's port becomes the real one, in outputs the real one
 * is shown as the doc's again, so a doc shows the ports a reader will see.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnHub, tempDir, type HubProcess } from '../support/hub.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { shellWords } from './cli-commands.js';
import { compareOutput, fillPlaceholders, type TourStep } from './markdown.js';
import { freePort } from '../support/net.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/muster.js');
/** A command or an example on a machine busy with other test runs. */
export const RUN_BOUND_MS = 30_000;

export interface Ran { status: number | null; stdout: string; stderr: string; timedOut: boolean; stopped: boolean }

/** Runs a program in its own process group; `untilLines` stops it once it printed that many lines. */
export function run(command: string, args: string[], env: Record<string, string>, untilLines?: number): Promise<Ran> {
  // The developer's own hub and token stay out of it.
  const { MUSTER_HUB: _hub, MUSTER_TOKEN: _token, MUSTER_ADMIN_TOKEN: _admin, ...inherited } = process.env;
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stopped = false;
    const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
    const timer = setTimeout(() => { timedOut = true; kill(); }, RUN_BOUND_MS);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (untilLines !== undefined && !stopped && stdout.split('\n').length > untilLines) { stopped = true; kill(); }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr, timedOut, stopped }); });
  });
}

/** Face flags whose value may be a port or HOST:PORT, and the port a bare flag listens on. */
const FACE_PORTS: Record<string, number | undefined> = { '--co2': undefined, '--plantimager': 5555, '--rsb': 55555 };

type Job = { kind: 'hub'; hub: HubProcess } | { kind: 'redis'; redis: TestRedis };

export class Tour {
  /** The doc's port -> the real one. */
  readonly #ports = new Map<number, number>();
  /** Background jobs by number, as bash numbers them: one more than the highest still running. */
  readonly #jobs = new Map<number, Job>();
  readonly #env: Record<string, string> = {};
  /** The doc's `--data` folder -> a temporary one (a hub started again on the same folder finds its data). */
  readonly #dataDirs = new Map<string, string>();
  /** Values seen for `WORD…` placeholders. */
  readonly vars = new Map<string, string>();

  /** The URL of the hub the doc calls `127.0.0.1:7070`, if one runs. */
  get hubUrl(): string | undefined {
    const port = this.#ports.get(7070);
    return port === undefined ? undefined : `http://127.0.0.1:${port}`;
  }

  /** Runs one step; returns a description of what went wrong, or null. */
  async step(step: TourStep): Promise<string | null> {
    const words = shellWords(step.command.replace(/\s+#.*$/, ''));
    const background = words.at(-1) === '&';
    if (background) words.pop();
    if (words[0] === 'npx') words.shift();
    if (background && words[0] === 'muster' && words[1] === 'hub') return this.#startHub(words.slice(2));
    if (background && words[0] === 'redis-server') return this.#startRedis(words.slice(1));
    if (background) return `only \`muster hub ... &\` and \`redis-server ... &\` run in the background`;
    // `kill %N; wait`: the hub is gone, and its port free, before the next command.
    const kill = /^kill((?:\s+%\d+)+)(\s*;\s*wait)?$/.exec(step.command.trim());
    if (kill) {
      if (!kill[2]) return 'write `kill %N; wait`: the next hub needs the port free';
      // Hubs before the Redis they use, as `close` does.
      const jobs = kill[1]!.trim().split(/\s+/).map((j) => Number(j.slice(1))).sort((a, b) => Number(this.#jobs.get(a)?.kind === 'redis') - Number(this.#jobs.get(b)?.kind === 'redis'));
      for (const n of jobs) { const problem = await this.#kill(n); if (problem) return problem; }
      return null;
    }
    if (words[0] === 'export' && words.length === 2 && words[1]!.includes('=')) {
      const [key, ...value] = words[1]!.split('=');
      this.#env[key!] = this.#toReal(value.join('='));
      return null;
    }
    return this.#command(step);
  }

  async #command(step: TourStep): Promise<string | null> {
    const command = this.#toReal(fillPlaceholders(step.command, this.vars))
      .replace(/(^|[\s;&|(])(?:npx\s+)?muster(?=\s)/g, `$1${process.execPath} ${BIN}`);
    const streams = /\bmuster\s+(watch|sub)\b|\bcurl\b.*\s-[a-zA-Z]*N\b/.test(step.command);
    if (streams && step.output.length === 0) return 'a command that streams shows what it prints first';
    const env = { ...(this.hubUrl ? { MUSTER_HUB: this.hubUrl } : {}), ...this.#env };
    const r = await run('bash', ['-c', `exec 2>&1\n${command}`], env, streams ? step.output.length : undefined);
    if (r.timedOut) return `did not end within ${RUN_BOUND_MS} ms\n${r.stdout}`;
    if (!streams && r.status !== 0) return `exited with ${r.status}\n${r.stdout}`;
    if (streams && !r.stopped) return `ended before printing the ${step.output.length} lines shown\n${r.stdout}`;
    const printed = this.#toDoc(r.stdout).split('\n');
    const diff = compareOutput(step.output, streams ? printed.slice(0, step.output.length) : printed, { vars: this.vars, ages: true });
    return diff === null ? null : `${diff}\n--- printed:\n${r.stdout}`;
  }

  async #startHub(args: string[]): Promise<string | null> {
    const out: string[] = [];
    let docPort = 7070;
    let dataDir = this.#dataDir('./muster-data');
    const faces: Array<[number, number]> = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const value = args[i + 1];
      if (a === '--port') { docPort = Number(value); i++; continue; }
      if (a === '--data') { dataDir = this.#dataDir(value ?? ''); i++; continue; }
      if (a in FACE_PORTS) {
        const given = value !== undefined && !value.startsWith('-') ? value : undefined;
        if (given !== undefined) i++;
        const port = Number(given?.split(':').at(-1) ?? FACE_PORTS[a]);
        if (!Number.isInteger(port)) return `${a} ${given}: the tour maps only ports`;
        const real = await freePort();
        faces.push([port, real]);
        out.push(a, `127.0.0.1:${real}`);
        continue;
      }
      out.push(this.#toReal(a));
    }
    if (this.#ports.has(docPort)) return `port ${docPort} is taken by an earlier hub of this tour (stop it first: kill %N)`;
    const hub = await spawnHub([...out, '--data', dataDir], { ...this.#env });
    for (const [doc, real] of faces) this.#ports.set(doc, real);
    this.#ports.set(docPort, Number(new URL(hub.url).port));
    this.#jobs.set(this.#nextJob(), { kind: 'hub', hub });
    return null;
  }

  async #startRedis(args: string[]): Promise<string | null> {
    const p = args.indexOf('--port');
    const docPort = p >= 0 ? Number(args[p + 1]) : 6379;
    if (this.#ports.has(docPort)) return `port ${docPort} is taken by an earlier job of this tour`;
    // The test's own server (free port, temporary folder); the doc's other settings are for production.
    const redis = await startRedis();
    this.#ports.set(docPort, redis.port);
    this.#jobs.set(this.#nextJob(), { kind: 'redis', redis });
    return null;
  }

  async #kill(n: number): Promise<string | null> {
    const job = this.#jobs.get(n);
    if (!job) return `no job %${n}`;
    this.#jobs.delete(n);
    await this.#stop(job);
    const real = job.kind === 'hub' ? Number(new URL(job.hub.url).port) : job.redis.port;
    for (const [doc, r] of this.#ports) if (r === real) this.#ports.delete(doc);
    return null;
  }

  async #stop(job: Job): Promise<void> {
    if (job.kind === 'redis') return job.redis.stop();
    await job.hub.kill();
  }

  #nextJob(): number {
    return Math.max(0, ...this.#jobs.keys()) + 1;
  }

  #dataDir(docDir: string): string {
    if (!this.#dataDirs.has(docDir)) this.#dataDirs.set(docDir, tempDir('muster-docs-'));
    return this.#dataDirs.get(docDir)!;
  }

  /** Stops what is still running: hubs first, then Redis. */
  async close(): Promise<void> {
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    await Promise.all(jobs.filter((j) => j.kind === 'hub').map((j) => this.#stop(j)));
    await Promise.all(jobs.filter((j) => j.kind === 'redis').map((j) => this.#stop(j)));
    for (const dir of this.#dataDirs.values()) rmSync(dir, { recursive: true, force: true });
  }

  #toReal(text: string): string {
    return text.replace(/\b(localhost|127\.0\.0\.1):(\d+)\b/g, (m, _host: string, port: string) => {
      const real = this.#ports.get(Number(port));
      return real === undefined ? m : `127.0.0.1:${real}`;
    });
  }

  #toDoc(text: string): string {
    let out = text;
    for (const [doc, real] of this.#ports) out = out.replace(new RegExp(`(127\\.0\\.0\\.1|localhost|\\[::1\\]):${real}\\b`, 'g'), `$1:${doc}`);
    return out;
  }
}
