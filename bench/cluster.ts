/**
 * `npm run bench -- cluster`: muster's cluster mode (three hubs sharing one registry and bus
 * through Redis) beside one hub on SQLite, and its bus beside socket.io with
 * @socket.io/redis-adapter (three nodes on the same Redis), all in one run. Every server process
 * (hubs, redis-server, socket.io nodes) is pinned to core 0, this load generator to core 1.
 * Figures: registrations/s, heartbeats/s, expiry lag, fan-out 1→10 across hubs and request/reply
 * across hubs (16 in flight). Each is the median of short rounds, the systems' rounds interleaved.
 */
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { crossHubDriver, fanout10, PAYLOAD, request16, sdkRequest16 } from './_cluster-bus.js';
import { EXPIRY_MEMBERS, EXPIRY_TTL_MS, expiry, heartbeats, registrations, ROUNDS, type Target } from './_cluster-registry.js';
import { HUB_IDS, median, REDIS_ARGS, settle, startRig } from './_cluster-setup.js';
import { socketIoDriver } from './_cluster-socketio.js';
import { musterDriver } from './_bus-drivers.js';
import { pinSelf } from './_hub-process.js';

/** CLUSTER_BENCH_ONLY=registrations,heartbeats runs only those phases (a short run while working on one figure). */
const ONLY = process.env.CLUSTER_BENCH_ONLY?.split(',').map((s) => s.trim());
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? Number((a / b).toFixed(2)) : null);

/** A figure of a report section, by path ("cluster.batch100.median"); NaN when absent. */
function at(section: unknown, path: string): number {
  let v: unknown = section;
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' ? v : NaN;
}

const NOTES = {
  setup: 'Every server process is pinned to core 0 (3 cluster hubs + their redis-server, or the single hub, or 3 socket.io nodes + the same redis-server); the load generator runs on core 1. '
    + 'So the cluster\'s three hubs and Redis share one core: cluster figures show what the shared store costs, not the scale-out a core per hub would give (cpu...ByProcess shows how the work splits). '
    + `Redis runs ${REDIS_ARGS.join(' ')} (every acknowledged write on disk, as the single hub's SQLite with --sync full). Each figure is the median of ${ROUNDS} rounds, the systems' rounds interleaved; runs lists every round.`,
  registrations: 'Durable registrations/s (a reply means the member is in the store): three WebSockets, one per cluster hub (single: the same three, all on the one hub), pipelined with bench/_rpc-load.ts; '
    + 'single = one request per frame (683 in flight per socket), batch100 = JSON-RPC batches of 100 (4 in flight per socket), 2.5 s per round. serverCpuUsPerRequest: CPU of all server processes (hubs and Redis) per registration; cpuUsPerRequestByProcess splits it (each hub applies every registration, its own and the others\'). '
    + 'Cluster CPU is read once the servers are idle again, over the registrations Redis wrote (its XADDs), the requests still in flight at the deadline included; the single hub\'s is over the replies counted (it overstates a little). '
    + 'perCpuSecond: registrations per CPU-second, allProcessesOnOneCore = 1e6 / the sum (what the shared core here allows), corePerProcess = 1e6 / the busiest process\'s share (the pace with a core for each process, read from this run, not measured on such a machine). '
    + 'redisCallsPerRequest: commands Redis ran per registration (INFO commandstats: evalsha is one call of the apply script for the changes a hub made in one turn; the commands it runs inside are counted under their own names).',
  heartbeats: 'Heartbeats/s acknowledged, the same three sockets, each beating 1,000 ttl members registered at its own hub, round-robin; single = one per frame, batch100 = batches of 100 (8 in flight per socket). '
    + 'A cluster hub acknowledges a heartbeat at once and sends Redis a ZADD without waiting for it: storeWritesPerSecond counts the ZADDs Redis ran in the same window (those still queued in a hub, or timed out there, are not).',
  expiryLag: `${EXPIRY_MEMBERS.toLocaleString('en')} ttl members (${EXPIRY_TTL_MS / 1000} s) that never heartbeat, registered at hub a, watched at hub b (single: both on the one hub). `
    + 'Lag = the removed event\'s arrival at the watcher - (lastSeen + ttl); p50/p99 ms per round (bench/registry.ts expiryLag), median of rounds.',
  fanout10: '1 publisher → 10 subscribers, 64-byte binary payloads, bench/_bus-load.ts fanout: at most 4,000 messages ahead of the slowest subscriber, 40,000 messages or 8 s. '
    + 'cluster: publisher on hub a, subscribers alternately on b and c (every message crosses Redis); single: all on the one hub; socket.io: publisher client on node 1 emitting to a room (io.to(room).emit), subscribers alternately on nodes 2 and 3. '
    + 'deliveredPerSec: messages received by all subscribers / s; serverCpuUsPerDelivered: CPU of every server process (hubs or nodes, plus Redis where used) / delivered; complete=false: the 8 s bound ended the round before every message was delivered. '
    + 'generatorCpuPercent: this process\'s share of core 1 (near 100: the client, not the servers, was the limit).',
  request16: 'Request/reply with 16 in flight, requester on hub a, responder on hub b (single: both on the one hub). binary: bench/_bus-drivers.ts binary records as bench/bus.ts request16 (4 s or 100,000); '
    + 'sdk: the SDK over JSON-RPC as bench/federation.ts (4 s). p50/p99: round-trip latency in µs.',
  settleMs: 'Before every sample the bench waits (at most 8 s) until the server processes are idle, so that work left from one sample is not counted in the next: total and longest wait.',
  ratios: 'musterOverSocketIo compares muster\'s cross-hub cluster with socket.io\'s 3 nodes on the same Redis (>1 better for muster in delivered/s, <1 better for muster in CPU per delivered). clusterOverSingle: the cluster\'s figure / the single hub\'s.',
};

export default async function cluster(): Promise<Record<string, unknown>> {
  const pinned = pinSelf(1);
  const started = performance.now();
  const progress = (s: string) => process.stderr.write(`  cluster: ${s} (${Math.round((performance.now() - started) / 1000)} s)\n`);
  const loadBefore = loadavg();
  progress('starting redis-server, 3 cluster hubs, 1 single hub, 3 socket.io nodes');
  const rig = await startRig();
  const report: Record<string, unknown> = {};
  try {
    const { hubs, single } = rig;
    const settled: number[] = [];
    const quiet = async () => settled.push(await settle(rig.allPids));
    const singleTarget: Target = { label: 'single', wsUrls: [single.wsUrl, single.wsUrl, single.wsUrl], pids: [single.pid] };
    const clusterTarget: Target = { label: 'cluster', wsUrls: hubs.map((h) => h.wsUrl), pids: rig.clusterPids, storeWrites: rig.zaddCalls, procs: rig.clusterProcs, commandCalls: rig.commandCalls };

    // A phase that fails is reported as its error; the others still run.
    const phase = async (name: string, work: () => Promise<unknown>) => {
      if (ONLY && !ONLY.includes(name)) return;
      progress(name);
      try {
        report[name] = await work();
      } catch (err) {
        report[name] = { error: (err as Error).message };
      }
    };
    await phase('registrations', () => registrations([singleTarget, clusterTarget], quiet));
    await phase('expiryLag', () => expiry([
      { label: 'single', register: single, watch: single, pids: [single.pid] },
      { label: 'cluster', register: hubs[0]!, watch: hubs[1]!, pids: rig.clusterPids },
    ], quiet));
    const singleDriver = musterDriver(single.pid, single.wsUrl);
    const clusterDriver = crossHubDriver(hubs, HUB_IDS, rig.clusterPids);
    const sio = socketIoDriver(rig.socketIo, rig.redis.child.pid!);
    await phase('fanout10', () => fanout10([singleDriver, clusterDriver, sio], ['single', 'cluster', 'socketIo'], [null, rig.clusterProcs, rig.socketIoProcs], ROUNDS, progress, quiet));
    await phase('request16', async () => ({
      binary: await request16([singleDriver, clusterDriver], ['single', 'cluster'], ROUNDS, progress, quiet),
      sdk: await sdkRequest16([
        { label: 'single', askerUrl: single.url, answererUrl: single.url, pids: [single.pid] },
        { label: 'cluster', askerUrl: hubs[0]!.url, answererUrl: hubs[1]!.url, pids: rig.clusterPids },
      ], ROUNDS, progress, quiet),
    }));
    // Last: a cluster hub may be left with a backlog of heartbeat writes to Redis (see notes.heartbeats).
    await phase('heartbeats', () => heartbeats([singleTarget, clusterTarget], quiet));
    report.settleMs = { total: settled.reduce((a, b) => a + b, 0), max: Math.max(0, ...settled) };
  } finally {
    await rig.stop();
    if (pinned) pinSelf(`0-${cpus().length - 1}`); // benchmarks that run after this one get every core back
  }
  const r = report;
  const best = (s: unknown) => Math.max(at(s, 'single.median'), at(s, 'batch100.median'));
  const clusterRegs = best((r.registrations as Record<string, unknown> | undefined)?.cluster);
  const clusterBeats = at(r.heartbeats, 'cluster.batch100.median');
  const beatWrites = (r.heartbeats as { cluster?: { batch100?: { storeWritesPerSecond?: number[] } } } | undefined)?.cluster?.batch100?.storeWritesPerSecond;
  return {
    setup: {
      servers: 'core 0', loadGenerator: `this process, ${pinned ? 'core 1' : 'not pinned'}`, redis: REDIS_ARGS.join(' '),
      payloadBytes: PAYLOAD, rounds: ROUNDS, seconds: Math.round((performance.now() - started) / 1000), loadavgBefore: loadBefore, loadavgAfter: loadavg(),
    },
    notes: NOTES,
    ...report,
    ratios: {
      musterOverSocketIo: {
        fanout10DeliveredPerSec: ratio(at(r.fanout10, 'cluster.deliveredPerSec'), at(r.fanout10, 'socketIo.deliveredPerSec')),
        fanout10ServerCpuPerDelivered: ratio(at(r.fanout10, 'cluster.serverCpuUsPerDelivered'), at(r.fanout10, 'socketIo.serverCpuUsPerDelivered')),
        singleHubFanout10DeliveredPerSec: ratio(at(r.fanout10, 'single.deliveredPerSec'), at(r.fanout10, 'socketIo.deliveredPerSec')),
      },
      clusterOverSingle: {
        registrationsBatch100: ratio(at(r.registrations, 'cluster.batch100.median'), at(r.registrations, 'single.batch100.median')),
        registrationsSingle: ratio(at(r.registrations, 'cluster.single.median'), at(r.registrations, 'single.single.median')),
        heartbeatsBatch100: ratio(clusterBeats, at(r.heartbeats, 'single.batch100.median')),
        expiryLagP99: ratio(at(r.expiryLag, 'cluster.p99Ms'), at(r.expiryLag, 'single.p99Ms')),
        fanout10DeliveredPerSec: ratio(at(r.fanout10, 'cluster.deliveredPerSec'), at(r.fanout10, 'single.deliveredPerSec')),
        request16Binary: ratio(at(r.request16, 'binary.cluster.roundTripsPerSec'), at(r.request16, 'binary.single.roundTripsPerSec')),
        request16Sdk: ratio(at(r.request16, 'sdk.cluster.roundTripsPerSec'), at(r.request16, 'sdk.single.roundTripsPerSec')),
      },
    },
    targets: {
      clusterRegistrationsPerSecond: {
        target: 10_000, value: clusterRegs, met: clusterRegs >= 10_000,
        perCpuSecondBatch100: (r.registrations as { cluster?: { batch100?: { perCpuSecond?: unknown } } } | undefined)?.cluster?.batch100?.perCpuSecond ?? null,
      },
      clusterHeartbeatsPerSecond: { target: 100_000, value: clusterBeats, met: clusterBeats >= 100_000, redisZaddCallsPerSecond: beatWrites ? median(beatWrites) : null, note: "heartbeats of a turn go to Redis merged into one ZADD XX: this counts ZADD commands, each carrying many heartbeats" },
    },
  };
}
