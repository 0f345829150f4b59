/**
 * `muster snapshot save FILE` (admin, from a running hub), `muster snapshot restore FILE --data DIR`
 * or `--cluster URL` (offline, into a SQLite data folder or a cluster's Redis, whatever store the
 * snapshot came from) and `muster snapshot inspect FILE`. Every file is checked
 * whole (docs/operations.md, Snapshots); save keeps a file only once it has passed that check.
 */
import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { restoreIntoCluster } from '../cluster/redis-restore.js';
import { MusterClientError } from '../client/index.js';
import { readSnapshot, type SnapshotSummary } from '../store/snapshot-reader.js';
import { restoreSnapshot } from '../store/snapshot-restore.js';
import { DEFAULT_HUB, hubTarget } from './hub-api.js';
import { print, printJson } from './output.js';
import { downloadSnapshot } from './snapshot-download.js';

function summaryText(s: SnapshotSummary, file: string): string {
  const h = s.header;
  return [
    `file       ${file} (${s.bytes} bytes)`,
    `format     ${h.format} version ${h.version}`,
    `from       hub ${h.hubId}, ${h.store} store`,
    `created    ${new Date(h.created).toISOString()}`,
    `revision   ${h.revision} (epoch ${h.epoch})`,
    `members    ${s.members}`,
    `events     ${s.events}`,
    `sha256     ${s.sha256}`,
  ].join('\n') + '\n';
}

const summaryJson = (s: SnapshotSummary, file: string) => ({ file, bytes: s.bytes, ...s.header, sha256: s.sha256 });

export function snapshotCommands(program: Command): void {
  const snapshot = program.command('snapshot').description('save, restore and inspect snapshots of a hub\'s registry and event log');

  snapshot.command('save')
    .description('write a snapshot of a running hub (admin token) to FILE, without pausing the hub')
    .argument('<file>', 'file to write (replaced only once the snapshot is whole and checked)')
    .option('--hub <url>', `hub URL (or MUSTER_HUB; default ${DEFAULT_HUB})`)
    .option('--token <token>', 'admin token (or MUSTER_TOKEN)')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, f: { hub?: string; token?: string; json?: boolean }) => {
      const hub = hubTarget(f);
      const target = resolve(file);
      const temp = join(dirname(target), `.${basename(target)}.${process.pid}.part`);
      try {
        await downloadSnapshot(hub, temp, { answerMs: 30_000, idleMs: 30_000 });
        const summary = await readSnapshot(temp);
        renameSync(temp, target);
        if (f.json) printJson(summaryJson(summary, target));
        else print(`saved ${summary.members} members and ${summary.events} events at revision ${summary.header.revision} to ${target}\n`);
      } finally {
        rmSync(temp, { force: true });
      }
    });

  snapshot.command('restore')
    .description('rebuild a SQLite data folder (--data) or a cluster\'s Redis (--cluster) from a snapshot, offline: no hub may run on it')
    .argument('<file>', 'snapshot file')
    .option('--data <dir>', 'data folder to create')
    .option('--cluster <url>', 'Redis URL of the cluster to restore into (redis://HOST:PORT)')
    .option('--cluster-prefix <prefix>', 'the cluster\'s key prefix', 'muster')
    .option('--force', 'replace the store DIR (or the prefix) already holds')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, f: { data?: string; cluster?: string; clusterPrefix: string; force?: boolean; json?: boolean }) => {
      if ((f.data === undefined) === (f.cluster === undefined)) throw new MusterClientError('INVALID_PARAMS', 'Give one of --data DIR or --cluster URL');
      const force = f.force === true;
      const summary = f.cluster !== undefined
        ? await restoreIntoCluster(file, { url: f.cluster, prefix: f.clusterPrefix, force })
        : await restoreSnapshot(file, f.data!, { force });
      const into = f.cluster !== undefined ? { cluster: f.cluster.replace(/\/\/[^@/]*@/, '//***@'), clusterPrefix: f.clusterPrefix } : { dataDir: resolve(f.data!) };
      if (f.json) printJson({ ...summaryJson(summary, resolve(file)), ...into });
      else print(`restored ${summary.members} members and ${summary.events} events (revision ${summary.header.revision}) into ${'dataDir' in into ? into.dataDir : `${into.cluster} prefix ${into.clusterPrefix}`}\n`);
    });

  snapshot.command('inspect')
    .description('check a snapshot file whole and print what it holds')
    .argument('<file>', 'snapshot file')
    .option('--json', 'print as JSON')
    .action(async (file: string, f: { json?: boolean }) => {
      const summary = await readSnapshot(file);
      if (f.json) printJson(summaryJson(summary, resolve(file)));
      else print(summaryText(summary, resolve(file)));
    });
}
