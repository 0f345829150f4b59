/** What every face gets from the hub: the core services and the hub's facts. */
import type { Logger } from 'pino';
import type { Federation } from '../core/federation/federation.js';
import type { Registry } from '../core/registry.js';
import type { HubInfo } from '../schemas/hub.js';
import type { Metrics } from '../metrics.js';
import type { OpenStreams } from './open-streams.js';

export interface FaceLimits {
  /** Largest HTTP body or WebSocket message accepted, in bytes. */
  maxMessageBytes: number;
  /** Events a watcher may have queued before it is dropped as a slow consumer. */
  maxWatchQueueBytes: number;
}

export interface HubContext {
  readonly registry: Registry;
  readonly federation: Federation;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: FaceLimits;
  /** Streams held open (SSE), closed with a reason when the hub stops. */
  readonly streams: OpenStreams;
  info(): HubInfo;
}
