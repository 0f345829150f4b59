/**
 * A SQLite store's disk that is full (a write of the WAL answered SQLITE_FULL). SQLite rolled the
 * transaction back, so nothing of it is in the file, and the changes it held were decided in the
 * store's book already: they wait, in order, and their write is tried again every RETRY_MS until
 * the disk takes it (space freed), then they are synced and answered as any other. Changes that
 * come meanwhile are refused before the book decides them (STORE_UNAVAILABLE, with a retry hint),
 * so the book never gets ahead of what the file will hold, and memory stays bounded. Redis, whose
 * append-only file write fails the same way, also waits and goes on by itself.
 */
import { MusterError } from '../errors.js';

/** Between a write the full disk refused and the next try. */
export const RETRY_MS = 1_000;

/** Told when the disk is found full, and when it takes the store's writes again (the hub logs both). */
export interface DiskFullEvents {
  waiting?(reason: string): void;
  writing?(): void;
}

export class DiskFull {
  readonly #retry: () => void;
  readonly #events: DiskFullEvents;
  #refusal: MusterError | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(retry: () => void, events: DiskFullEvents = {}) {
    this.#retry = retry;
    this.#events = events;
  }

  /** While the disk is full: what a new change is answered. */
  get refusal(): MusterError | null {
    return this.#refusal;
  }

  /** A write was refused for a full disk: new changes are refused, the held ones tried again in RETRY_MS. */
  refused(): void {
    if (!this.#refusal) {
      this.#refusal = new MusterError('STORE_UNAVAILABLE', 'The disk of the SQLite store is full (SQLITE_FULL): changes already taken wait until it has space and are written then; new ones are refused meanwhile (free space on its disk)', { retryAfterMs: RETRY_MS });
      this.#events.waiting?.(this.#refusal.message);
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.#retry();
    }, RETRY_MS);
  }

  /** A write went through: the disk has space again. */
  wrote(): void {
    if (!this.#refusal) return;
    this.#refusal = null;
    this.#events.writing?.();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
