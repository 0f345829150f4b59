/**
 * The store keeps what must survive a restart: members (with token hashes) and the bounded
 * event log. The core keeps the live state in memory and calls commit() for every acknowledged
 * change; commit resolves once the change is durable. Heartbeats never reach the store.
 */
import type { LivenessSpec } from '../schemas/member.js';

export interface StoredMember {
  id: string;
  name: string;
  type: string;
  address: string;
  meta: Record<string, string>;
  liveness: LivenessSpec;
  tokenHash: string;
  registeredAt: number;
  /** Facts other core services keep with the member (roles, lifecycle, hub); opaque to the store. */
  extra: Record<string, unknown>;
}

export interface StoredEvent {
  revision: number;
  /** The event as JSON, encoded once by the core. */
  json: string;
}

export interface StoreSnapshot {
  members: StoredMember[];
  events: StoredEvent[];
  revision: number;
}

export interface StoreChange {
  puts: StoredMember[];
  deletes: string[];
  events: StoredEvent[];
}

export interface Store {
  readonly kind: string;
  /** Loads everything kept; called once before any commit. */
  open(): Promise<StoreSnapshot>;
  /** Resolves when the change is durable. Changes commit in call order. */
  commit(change: StoreChange): Promise<void>;
  close(): Promise<void>;
}
