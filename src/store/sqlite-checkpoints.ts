/**
 * A SQLite store's checkpoints, asked of the checkpoint thread (sqlite-checkpoint-thread.ts) every
 * CHECKPOINT_EVERY commits: the WAL copied into the database file, the whole of it, so that the
 * next commit starts the WAL again from its beginning (it stays a few MB). The first step copies
 * and syncs what is there while commits go on: most of the work (7-46 ms at `normal` on the
 * bench's VMs), which held commits would wait out. The second, with commits held, copies the few
 * they wrote meanwhile (commits that never pause would leave the WAL growing without end).
 *
 * A checkpoint that fails (the disk full or failing where the database file grows, the thread
 * gone) is tried again CHECKPOINT_EVERY commits later, on a new thread if the old one ended;
 * meanwhile the WAL grows, commits are still durable. The store is told when checkpoints begin to
 * fail and when one ends again, so that this does not go unseen until the disk is full.
 */
import { statSync } from 'node:fs';
import { CheckpointThread } from './sqlite-checkpoint-thread.js';
import type { CheckpointerOptions } from './sqlite-checkpointer.js';

/** Commits between checkpoints (~2.4 WAL pages each one at a time: under SQLite's 1,000-page default). */
export const CHECKPOINT_EVERY = 256;

export interface CheckpointEvents {
  /** The first failure after checkpoints that ended (or since the store opened), and why. */
  failing?(reason: string): void;
  /** A checkpoint ended after failures (how many). */
  mended?(failures: number): void;
}

export class Checkpoints {
  readonly #options: CheckpointerOptions;
  readonly #events: CheckpointEvents;
  /** Called when a checkpoint is over (commits held by its second step may go on). */
  readonly #over: () => void;
  #thread: CheckpointThread;
  #sinceLast = 0;
  /** Both steps under way: no second checkpoint meanwhile. */
  #running: Promise<void> | null = null;
  /** The second step under way: the store commits nothing meanwhile. */
  #holding: Promise<void> | null = null;
  /** Failures since the last checkpoint that ended. */
  #streak = 0;
  readonly figures = { checkpoints: 0, failures: 0 };

  constructor(options: CheckpointerOptions, over: () => void, events: CheckpointEvents = {}) {
    this.#options = options;
    this.#over = over;
    this.#events = events;
    this.#thread = new CheckpointThread(options);
  }

  /** A checkpoint's first or second step is under way. */
  get running(): Promise<void> | null {
    return this.#running;
  }

  /** The second step is under way: commits wait for it. */
  get holding(): boolean {
    return this.#holding !== null;
  }

  /** Bytes in the WAL file now (0 where it is not there). */
  walBytes(): number {
    try {
      return statSync(`${this.#options.path}-wal`).size;
    } catch {
      return 0;
    }
  }

  /** A commit was made: every CHECKPOINT_EVERY, a checkpoint. */
  committed(): void {
    if (++this.#sinceLast < CHECKPOINT_EVERY || this.#running) return;
    this.#sinceLast = 0;
    if (this.#thread.ended) this.#thread = new CheckpointThread(this.#options);
    this.#running = this.#inSteps(this.#thread).finally(() => {
      this.#running = null;
      this.#over();
    });
  }

  async #inSteps(thread: CheckpointThread): Promise<void> {
    await thread.checkpoint().catch(() => {}); // the second step copies what the first could not
    let failure: unknown = null;
    this.#holding = thread.checkpoint().catch((err: unknown) => { failure = err; });
    await this.#holding;
    this.#holding = null;
    // Only a second step that ended is counted: the WAL then starts again (what the metric says).
    if (failure === null) {
      this.figures.checkpoints++;
      if (this.#streak > 0) this.#events.mended?.(this.#streak);
      this.#streak = 0;
      return;
    }
    this.figures.failures++;
    if (this.#streak++ === 0) this.#events.failing?.(reasonOf(failure));
  }

  close(): Promise<void> {
    return this.#thread.close();
  }
}

function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  return typeof e.code === 'string' && !message.includes(e.code) ? `${message} (${e.code})` : message;
}
