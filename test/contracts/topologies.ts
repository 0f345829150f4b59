/**
 * The topologies the behaviour suites run on: one hub with its embedded SQLite store (in this
 * process), and a cluster of real hub processes sharing a real redis-server started for it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HubConfig } from '../../src/config.js';
import { spawnHub, startHub, tempDir, type HubProcess } from '../support/hub.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import type { Topology, TopologyFactory } from './behaviour-topology.js';

export const singleHub: TopologyFactory = {
  name: 'single',
  async start(config) {
    const h = await startHub(config);
    return {
      hubs: [{ id: h.hub.config.hubId, url: h.url, wsUrl: h.wsUrl }],
      stop: () => h.stop(),
    };
  },
};

export interface ClusterTopology extends Topology {
  readonly redis: TestRedis;
  readonly processes: readonly HubProcess[];
}

/** `n` hub processes (ids c0, c1, ...) on one redis-server; the config goes as a JSON file. */
export async function startCluster(n: number, config: Partial<HubConfig>, env: NodeJS.ProcessEnv = {}): Promise<ClusterTopology> {
  const redis = await startRedis();
  const dir = tempDir('muster-cluster-');
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const ids = Array.from({ length: n }, (_, i) => `c${i}`);
  const processes = await Promise.all(ids.map((id) => spawnHub(
    ['--cluster', redis.url, '--hub-id', id, '--data', join(dir, id), '--config', file],
    { MUSTER_CLUSTER_LEASE_MS: '1000', ...env },
  )));
  return {
    redis, processes,
    hubs: processes.map((p, i) => ({ id: ids[i]!, url: p.url, wsUrl: p.wsUrl })),
    async stop() {
      await Promise.all(processes.map((p) => p.kill('SIGKILL')));
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const clusterOf3: TopologyFactory = {
  name: 'cluster',
  start: (config) => startCluster(3, config),
};
