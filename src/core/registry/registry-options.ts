/** What the registry is opened with, and who is asking when a call reaches it. */
import type { CallOrigin } from '../../schemas/event.js';
import type { Store } from '../../store/store.js';
import type { Connection } from '../ports.js';
import type { LivenessDefaults } from './liveness.js';
import type { Member } from './member.js';

/** Who is asking: a presented token (member or admin) and the connection the call came on. */
export interface Caller {
  token?: string;
  connection?: Connection;
  /** Where the call came from (face and peer address), for the audit of admin actions. */
  from?: CallOrigin;
}

export interface RegistryOptions {
  store: Store;
  hubId: string;
  adminToken?: string;
  registrationKey?: string;
  maxMembers?: number;
  eventRetention?: number;
  liveness?: Partial<LivenessDefaults>;
  now?: () => number;
  /** Told about once a second while open() loads many members, so a long start shows it moves. */
  loading?: (loaded: number, total: number, at: number) => void;
  /**
   * Members whose changes are acknowledged once written, without waiting for the store's sync
   * (they survive a kill of the hub, not a power loss): those of a face whose clients register
   * again what the hub lost (plantimager). None by default.
   */
  enoughOnceWritten?: (member: Member) => boolean;
}
