/** What `muster hub` prints once it listens: where to reach it and where its data is. */
import { resolve } from 'node:path';
import type { HubConfig } from '../config.js';

/** A Redis URL without its credentials, which must not reach a terminal or a log. */
function redisWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis';
  }
}

export function hubBanner(url: string, config: HubConfig): string {
  const data = config.cluster
    ? `redis (cluster) at ${redisWhere(config.cluster)}, key prefix ${config.clusterPrefix}`
    : `${resolve(config.dataDir)} (SQLite)`;
  // The first line is a contract: tests and scripts wait for it (/listening on (\S+)/).
  return [
    `muster hub listening on ${url}`,
    `  data:      ${data}`,
    `  info:      ${url}/v1/info`,
    `  dashboard: ${url}/`,
  ].join('\n') + '\n';
}
