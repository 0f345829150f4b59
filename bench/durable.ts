/**
 * `npm run bench -- durable`: only the durable registrations beside Redis `appendfsync always`
 * (bench/_durable.ts), on a fresh hub with --sync full and then one with --sync normal beside
 * Redis `appendfsync everysec` (like with like). The registry bench runs the full-sync half too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { durableBeside } from './_durable.js';
import { pinSelf, spawnBenchHub } from './_hub-process.js';

export default async function durable(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const root = mkdtempSync(join(tmpdir(), 'muster-bench-durable-'));
  try {
    const report: Record<string, unknown> = {};
    for (const sync of ['full', 'normal'] as const) {
      const hub = await spawnBenchHub({ dataDir: join(root, sync), sync });
      try {
        report[`sync_${sync}`] = await durableBeside(hub, sync === 'full' ? 'always' : 'everysec');
      } finally {
        await hub.kill();
      }
    }
    return report;
  } finally {
    rmSync(root, { recursive: true, force: true });
    if (pinned) pinSelf(`0-${cpus().length - 1}`);
  }
}
