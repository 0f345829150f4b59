/** What every face gets from the hub: the core services, the hub's limits, logs and metrics. */
import type { Logger } from 'pino';
import type { Services } from '../core/operations/operation.js';
import type { Metrics } from '../metrics.js';
import type { OpenStreams } from './open-streams.js';

export interface FaceLimits {
  /** Largest HTTP body or WebSocket message accepted, in bytes. */
  maxMessageBytes: number;
  /** Unsent bytes a watcher may have before it is dropped as a slow consumer. */
  maxWatchQueueBytes: number;
  /** Connections each face takes at once. */
  maxConnections: number;
}

export interface HubContext extends Services {
  /** What /healthz answers: not ok while the hub cannot do its job (a cluster's Redis away). */
  health(): { ok: boolean; reason?: string };
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: FaceLimits;
  /** Streams held open (SSE), closed with a reason when the hub stops. */
  readonly streams: OpenStreams;
  /** A snapshot of the store as gzip bytes (SNAPSHOT_UNSUPPORTED, THROTTLED before any byte). */
  snapshot?(): Promise<AsyncIterable<Uint8Array>>;
}
