/**
 * A face that listens on its own port (plantimager, and the CO2, RSB and ICCP faces to come):
 * started by the hub once the core is up, listed in `/v1/info`, stopped before the core.
 */
import type { HubContext } from './context.js';

export interface Face {
  readonly name: string;
  /** Where it listens, as its clients would write it. */
  readonly address: string;
  stop(): Promise<void>;
}

/** Starts a face from the hub's context; rejects when it cannot listen. */
export type FaceStarter = (hub: HubContext) => Promise<Face>;
