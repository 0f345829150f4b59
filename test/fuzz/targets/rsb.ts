/**
 * Socket target: the RSB face. The harness's hub has no RSB port, so this target runs its own
 * `muster hub --rsb` child (stopped by its pid in close). Each case opens a connection, writes
 * mutated RSB frames (seeds: an event, a REQUEST, a REPLY with causes), sometimes in two writes,
 * and sometimes drops the connection at once; then a sentinel event from another connection must
 * reach a listening connection within 3 s (the hub serves on), and the hub must still be running.
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { encodeFrame } from '../../../src/faces/rsb/notification.js';
import { rmSync } from 'node:fs';
import { spawnHub, tempDir, type HubProcess } from '../../support/hub.js';
import { materialize, mapIter, seedCaseArb, showSeedCase, truncations, type SeedCase } from '../cases.js';
import { defineTarget, fault, ok } from '../types.js';
import { RSB_SEEDS } from './codec-rsb.js';

interface Case { readonly seeded: SeedCase; readonly how: 'one-write' | 'two-writes' | 'write-and-drop' }

const SENTINEL_WAIT_MS = 3000;

async function open(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('close', () => reject(new Error('closed before connecting'))); });
  return s;
}

export default defineTarget<Case>({
  name: 'rsb',
  kind: 'socket',
  weight: 1,
  async setup(env) {
    let hub: HubProcess | null = null;
    let port = 0;
    let listener: Socket | null = null;
    let sender: Socket | null = null;
    let got = Buffer.alloc(0);
    let stderr = '';
    let sentinels = 0;
    const dataDir = tempDir('muster-fuzz-rsb-');
    const start = async () => {
      hub = await spawnHub(['--data', dataDir, '--sync', 'normal', '--rsb', '127.0.0.1:0']);
      hub.child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000); });
      const info = await (await fetch(`${hub.url}/v1/info`)).json() as { faces: { name: string; address: string }[] };
      port = Number(info.faces.find((f) => f.name === 'rsb')!.address.split(':').at(-1));
    };
    /** The listening and the sentinel-sending connections, opened again if the hub closed them. */
    const sentinelPair = async () => {
      if (!listener || listener.destroyed) {
        listener = await open(port);
        got = Buffer.alloc(0);
        listener.on('data', (d: Buffer) => { got = Buffer.concat([got, d]).subarray(-4096); });
      }
      if (!sender || sender.destroyed) sender = await open(port);
      return { listener, sender };
    };
    await start();
    return {
      arbitrary: fc.record({
        seeded: seedCaseArb({ hugeWeight: 1, intWidths: [1, 4] }),
        how: fc.constantFrom<Case['how']>('one-write', 'one-write', 'two-writes', 'write-and-drop'),
      }),
      sweep: () => mapIter(truncations(RSB_SEEDS, env.seed), (seeded): Case => ({ seeded, how: 'one-write' })),
      async run(c) {
        if (!hub || hub.child.exitCode !== null) return fault('crash', 'rsb hub exited', stderr.slice(-4000));
        const bytes = materialize(RSB_SEEDS, c.seeded);
        const s = await open(port);
        if (c.how === 'two-writes') { s.write(bytes.subarray(0, bytes.length >> 1)); await new Promise((r) => setTimeout(r, 5)); s.write(bytes.subarray(bytes.length >> 1)); }
        else s.write(bytes);
        if (c.how === 'write-and-drop') s.resetAndDestroy();
        const closed = await new Promise<boolean>((resolve) => { s.once('close', () => resolve(true)); setTimeout(() => resolve(false), 20); });
        s.destroy();
        // The hub serves on: a sentinel event reaches another client.
        const pair = await sentinelPair();
        const marker = `sentinel-${++sentinels}`;
        pair.sender.write(encodeFrame({ eventId: { senderId: Buffer.alloc(16, 0x5e), sequenceNumber: sentinels }, scope: '/fuzz/sentinel/', wireSchema: 'utf-8-string', data: Buffer.from(marker), metaData: { createTime: 1, sendTime: 1 } }));
        const deadline = Date.now() + SENTINEL_WAIT_MS;
        while (!got.includes(marker) && Date.now() < deadline) {
          if (hub.child.exitCode !== null) return fault('crash', 'rsb hub exited', stderr.slice(-4000));
          await new Promise((r) => setTimeout(r, 5));
        }
        if (!got.includes(marker)) return fault('hang', 'rsb: the sentinel event did not arrive', `after ${c.how} of ${bytes.length} bytes`);
        return ok(closed ? 'closed' : 'open');
      },
      show: (c) => `RSB connection (${c.how}): ${showSeedCase(c.seeded, `#${c.seeded.seed % RSB_SEEDS.length}`, materialize(RSB_SEEDS, c.seeded))}`,
      async close() {
        listener?.destroy();
        sender?.destroy();
        await hub?.kill();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});
