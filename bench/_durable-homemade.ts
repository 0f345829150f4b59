/**
 * The durable bench's fourth side: a registry of one's own (bench/_durable-homemade-server.ts, a
 * `ws` JSON-RPC server over Redis with `appendfsync always`), both processes on core 0 as the
 * hub, driven with the very frames the hub gets. Redis alone, the peer, does less than a
 * registry: this is what a team would run instead of muster.
 */
import { spawn } from 'node:child_process';
import { startRedis } from '../test/support/redis.js';
import { pinPid } from './_cluster-setup.js';

const SERVER = new URL('./_durable-homemade-server.ts', import.meta.url).pathname;

export interface Homemade {
  wsUrl: string;
  /** The JSON-RPC server's pid (Redis's CPU is not in its figures). */
  pid: number;
  stop(): Promise<void>;
}

/** Its Redis with `appendfsync` `fsync` (always beside --sync full, everysec beside normal). */
export async function startHomemade(fsync: 'always' | 'everysec'): Promise<Homemade> {
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', fsync, '--auto-aof-rewrite-percentage', '0']);
  pinPid(redis.child.pid!, 0);
  const child = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', SERVER], {
    env: { ...process.env, HOMEMADE_REDIS_URL: redis.url }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await redis.stop();
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the home-made registry did not start')), 30_000);
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); const m = /listening on (\d+)/.exec(out); if (m) { clearTimeout(timer); resolve(Number(m[1])); } });
      void exited.then(() => { clearTimeout(timer); reject(new Error('the home-made registry exited')); });
    });
    return { wsUrl: `ws://127.0.0.1:${port}/`, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
