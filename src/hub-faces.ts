/**
 * The legacy faces a hub may run, each on its own port: when the config turns it on, how it
 * starts, and which config keys it is built from. The hub starts them from this table, and a
 * reloaded config that changes one of a face's keys stops that face and starts it again.
 * Each face's module is loaded only when it is turned on: a hub starts sooner without them.
 */
import type { HubConfig } from './config.js';
import type { HubContext } from './faces/context.js';
import type { Face } from './faces/face.js';

export interface LegacyFace {
  readonly name: 'plantimager' | 'co2' | 'iccp' | 'rsb';
  /** The config keys it is built from; host and maxConnections, which it also reads, are the hub's. */
  readonly keys: readonly (keyof HubConfig)[];
  wanted(config: HubConfig): boolean;
  start(hub: HubContext, config: HubConfig, startedAt: number): Promise<Face>;
}

export const LEGACY_FACES: readonly LegacyFace[] = [
  {
    name: 'plantimager',
    keys: ['plantimager', 'plantimagerAllow'],
    wanted: (c) => c.plantimager !== undefined,
    async start(hub, c) {
      const { PlantimagerFace } = await import('./faces/plantimager/face.js');
      return PlantimagerFace.start(hub, { listen: c.plantimager!, defaultHost: c.host, allow: c.plantimagerAllow, maxConnections: c.maxConnections });
    },
  },
  {
    name: 'co2',
    keys: ['co2', 'co2MaxSats', 'co2PingIntervalMs', 'co2PingFailures', 'co2TimeoutMs', 'co2NotifyPerSec', 'co2QueueMessages'],
    wanted: (c) => c.co2 !== undefined,
    async start(hub, c, startedAt) {
      const { Co2Face } = await import('./faces/co2/face.js');
      return Co2Face.start(hub, {
        listen: c.co2!, defaultHost: c.host, maxSats: c.co2MaxSats, maxConnections: c.maxConnections,
        ping: { intervalMs: c.co2PingIntervalMs, timeoutMs: c.co2TimeoutMs, failures: c.co2PingFailures },
        link: { queueMessages: c.co2QueueMessages, notifyPerSec: c.co2NotifyPerSec, callTimeoutMs: c.co2TimeoutMs },
        headersTimeoutMs: c.headersTimeoutMs, requestTimeoutMs: c.requestTimeoutMs, idleTimeoutMs: c.idleTimeoutMs,
        startedAt, maintainer: c.hubName,
      });
    },
  },
  {
    name: 'iccp',
    keys: ['iccp', 'iccpEndpoints', 'iccpReadyTimeoutMs', 'iccpFinishedTimeoutMs', 'iccpMaxFrameBytes', 'iccpMaxEndpoints'],
    wanted: (c) => c.iccp !== undefined,
    async start(hub, c) {
      const { IccpFace } = await import('./faces/iccp/face.js');
      return IccpFace.start(hub, {
        bind: c.iccp!, endpoints: c.iccpEndpoints, readyTimeoutMs: c.iccpReadyTimeoutMs, finishedTimeoutMs: c.iccpFinishedTimeoutMs,
        maxFrameBytes: c.iccpMaxFrameBytes, maxEndpoints: c.iccpMaxEndpoints ?? c.maxConnections,
      });
    },
  },
  {
    name: 'rsb',
    keys: ['rsb', 'rsbConnect', 'rsbMaxFrameBytes', 'rsbIdleTimeoutMs', 'rsbScopes'],
    wanted: (c) => c.rsb !== undefined || c.rsbConnect !== undefined,
    async start(hub, c) {
      const { RsbFace } = await import('./faces/rsb/face.js');
      return RsbFace.start(hub, {
        listen: c.rsb, connect: c.rsbConnect, defaultHost: c.host, maxConnections: c.maxConnections, scopes: c.rsbScopes,
        limits: {
          maxFrameBytes: c.rsbMaxFrameBytes, idleMs: c.rsbIdleTimeoutMs,
          queueMessages: c.busQueueMessages, queueBytes: c.busQueueBytes, slowPolicy: c.busSlowPolicy,
        },
      });
    },
  },
];
