/**
 * The registry's store: what survives a restart (members with token hashes, the bounded event
 * history) and, when several hubs share it, the one place that decides. A store applies a change
 * atomically, after checking its conditions, hands out revisions, and feeds every applied change,
 * in revision order, to every hub that shares it (a single hub's store feeds just that hub).
 * Heartbeats never reach an embedded store; a shared store keeps deadlines for every hub.
 */
import type { LivenessSpec, MemberStatus } from '../schemas/member.js';
import type { ReadBacklog } from './commit-hold.js';

export interface StoredMember {
  id: string;
  name: string;
  type: string;
  address: string;
  meta: Record<string, string>;
  liveness: LivenessSpec;
  tokenHash: string;
  registeredAt: number;
  /** Facts other core services keep with the member (roles, lifecycle, hub link); opaque to the store. */
  extra: Record<string, unknown>;
  /** The hub whose faces hold the member (cluster mode); absent: this hub. */
  attachedTo?: string;
  /** Status is live state: kept by shared stores (every hub must see it), not by embedded ones. */
  status?: MemberStatus;
}

export interface StoredEvent {
  revision: number;
  /** The event as JSON, with its revision. */
  json: string;
}

/** Where a store's history stands: a revision, within an epoch that changes when the store is wiped. */
export interface Position {
  revision: number;
  epoch: string;
}

export interface StoreSnapshot {
  members: StoredMember[];
  events: StoredEvent[];
  position: Position;
}

/**
 * A store's durable state at one revision, read page by page while the store goes on taking
 * changes (a snapshot). `close` ends the read; the pages stop with it.
 */
export interface StoreExport {
  readonly position: Position;
  readonly memberCount: number;
  readonly eventCount: number;
  members(pageSize: number): AsyncIterable<StoredMember[]>;
  events(pageSize: number): AsyncIterable<StoredEvent[]>;
  close(): void;
}

/** What must still hold when a change is applied; a shared store checks it atomically. */
export interface Conditions {
  /** Names that must be free (a registration's name), unless freed by this change's deletes. */
  namesFree?: string[];
  /** Members that must still exist (an update or removal of someone another hub may have removed). */
  present?: string[];
  /**
   * Members that must not exist yet: a registration whose id its client fixed with `newToken`,
   * whose earlier attempt (its answer lost) may have made the member at another hub of a cluster.
   */
  absent?: string[];
  /** The registry may hold at most this many members after the change. */
  maxMembers?: number;
  /**
   * Members that, while they exist, must still be held by the hub given (their `attachedTo`; null:
   * by none), as when the change was decided: a removal one hub decided while Redis did not take its
   * writes must not remove a member that another hub took since (its client resumed it there). A
   * shared store checks it (NO_SUCH_MEMBER); an embedded store has one hub, and ignores it.
   */
  heldBy?: { id: string; hub: string | null }[];
}

/** The fields of a record a change may write on their own. */
export type MemberField = Exclude<keyof StoredMember, 'id'>;

/**
 * A member written: the whole record (a new member, a registration again), or only `fields`
 * of it (an update of its address, a lifecycle step): a store that several hubs share writes
 * only those, so that hubs changing different fields of one member never undo each other.
 */
export interface Put {
  member: StoredMember;
  fields?: readonly MemberField[];
}

export interface Change {
  puts: Put[];
  deletes: string[];
  /** Events as JSON objects without their revision (`{"type":...}`): the store gives each the next. */
  events: string[];
  conditions?: Conditions;
  /** The hub that made the change (cluster mode), so that it knows its own changes in the feed. */
  origin?: string;
  /**
   * Enough once written: a store that syncs before it acknowledges may acknowledge this change
   * once it is written (it survives a kill of the process, not a power loss), still in revision
   * order. For members whose clients make them again when they are lost (plantimager's devices).
   */
  written?: true;
}

/** A change as applied: its revisions (one per event, increasing) and its events with them. */
export interface Applied {
  change: Change;
  events: StoredEvent[];
}

/**
 * Deadlines several hubs share (cluster mode): a heartbeat at any hub moves a member's deadline
 * where every hub sees it, and the store itself removes members whose deadline passed, once.
 */
export interface SharedDeadlines {
  /** Moves an existing member's deadline to `at` (ms since the epoch); pipelined, fire and forget. */
  touch(id: string, at: number): void;
}

export interface Store {
  readonly kind: string;
  /** Present when several hubs share the store: deadlines live there, not in each hub. */
  readonly deadlines?: SharedDeadlines;
  /** Loads everything kept; called once, before any apply. */
  open(): Promise<StoreSnapshot>;
  /**
   * The frames a face has read and not yet handled (a face that handles a read in slices of the
   * event loop's turns): a store that writes a turn's changes in one commit then holds it for
   * the rest of the burst (commit-hold.ts), so a burst stays one commit and one sync.
   */
  holdCommitsFor?(backlog: ReadBacklog): void;
  /**
   * Applies a change atomically; resolves once it is durable and fed. Rejects with NAME_TAKEN,
   * NO_SUCH_MEMBER or REGISTRY_FULL when a condition fails (nothing applied), or
   * STORE_UNAVAILABLE when the store cannot be reached.
   */
  apply(change: Change): Promise<Applied>;
  /** Every applied change, this hub's and (shared stores) other hubs', in revision order, once durable. */
  feed(listener: (applied: Applied) => void): void;
  /**
   * Shared stores: the store lost its history (wiped) and this hub now follows the new one, from
   * `snapshot` (another epoch; the members the store holds now, which other hubs may still be
   * putting again). The feed goes on from there.
   */
  restarted?(listener: (snapshot: StoreSnapshot) => void): void;
  /**
   * Shared stores: entries of the change stream were trimmed before this hub read them, so the
   * store was loaded whole again, `snapshot` (the same history): what it holds is the truth,
   * those entries' changes included. The feed goes on from there.
   */
  resynced?(listener: (snapshot: StoreSnapshot) => void): void;
  /** Present when the store can give its durable state at one revision without pausing (a snapshot). */
  export?(): Promise<StoreExport>;
  /** Why the store takes no more writes until the hub restarts (a failed write or sync of its file); null while it does. */
  failure?(): string | null;
  /** Embedded stores: what they wrote so far (read at scrape time). */
  figures?(): StoreFigures;
  close(): Promise<void>;
}

/** Changes written, the transactions that wrote them, and the syncs that made them durable (group commit: changes per sync). */
export interface StoreFigures {
  changes: number;
  commits: number;
  syncs: number;
  /** Checkpoints ended: the WAL copied into the database file. */
  checkpoints: number;
  /** Checkpoints that failed (the WAL grows until one ends). */
  checkpointFailures: number;
  /** Bytes in the WAL file now. */
  walBytes: number;
}

/** The event JSON with its revision: `{"revision":N,` + the rest of the draft. */
export function withRevision(draft: string, revision: number): string {
  return `{"revision":${revision},${draft.slice(1)}`;
}
