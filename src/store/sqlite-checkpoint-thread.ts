/**
 * The hub's side of the SQLite checkpoint thread (sqlite-checkpointer.ts): one thread per process,
 * started with the first store and kept for the next (a process that opens stores one after
 * another, as tests and restores do, starts it once). Each request resolves when the thread
 * answers it; a store's messages are answered in the order sent. The thread keeps the process
 * alive only while something is on its way.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FromCheckpointer, ToCheckpointer, CheckpointerOptions } from './sqlite-checkpointer.js';

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The process's checkpoint thread, shared by its stores; a new one once it failed or ended. */
class SharedCheckpointer {
  readonly #worker: Worker;
  /** By store, then by message: what waits for the thread's answer. */
  readonly #waiting = new Map<number, Map<number, Waiting>>();
  #pending = 0;
  /** Stores open on this thread: with none, nothing may keep the process alive. */
  #stores = 0;
  #seq = 0;
  #broken: Error | null = null;

  constructor() {
    this.#worker = startWorker();
    this.#worker.unref();
    this.#worker.on('message', (msg: FromCheckpointer) => {
      // Every message sent gets one answer: counted even when nobody waits for it any more, or the
      // thread would keep the process alive for ever.
      if (--this.#pending === 0) this.#worker.unref();
      const w = this.#waiting.get(msg.store)?.get(msg.seq);
      if (!w) return;
      this.#waiting.get(msg.store)!.delete(msg.seq);
      if (msg.error) w.reject(Object.assign(new Error(msg.error.message), msg.error.code ? { code: msg.error.code } : {}));
      else w.resolve();
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.once('exit', () => this.#fail(new Error('the SQLite checkpoint thread ended')));
  }

  get broken(): boolean {
    return this.#broken !== null;
  }

  /** Sends `build(seq)` for `store`; resolves with the thread's answer to it. */
  send(store: number, build: (seq: number) => ToCheckpointer): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    const seq = ++this.#seq;
    let forStore = this.#waiting.get(store);
    if (!forStore) this.#waiting.set(store, (forStore = new Map()));
    const waiting = forStore;
    return new Promise((resolve, reject) => {
      waiting.set(seq, { resolve, reject });
      if (this.#pending++ === 0) this.#worker.ref();
      this.#worker.postMessage(build(seq));
    });
  }

  opened(): void {
    this.#stores++;
  }

  /** A store closed: its waits are dropped; the last one lets the process go whatever is counted. */
  forget(store: number): void {
    this.#waiting.delete(store);
    if (--this.#stores === 0) this.#worker.unref();
  }

  #fail(err: Error): void {
    this.#broken ??= err;
    this.#worker.unref();
    if (shared === this) shared = null;
    for (const forStore of this.#waiting.values()) for (const w of forStore.values()) w.reject(err);
    this.#waiting.clear();
    this.#pending = 0;
  }
}

let shared: SharedCheckpointer | null = null;
let nextStore = 1;

/** One store's connection in the checkpoint thread. */
export class CheckpointThread {
  readonly #checkpointer: SharedCheckpointer;
  readonly #store = nextStore++;
  readonly #opened: Promise<void>;
  #closed = false;

  constructor(options: CheckpointerOptions) {
    if (!shared || shared.broken) shared = new SharedCheckpointer();
    this.#checkpointer = shared;
    this.#checkpointer.opened();
    this.#opened = this.#checkpointer.send(this.#store, (seq) => ({ kind: 'open', store: this.#store, seq, options }));
    this.#opened.catch(() => {});
  }

  /** The thread ended or failed: nothing sent to it is answered any more (a new CheckpointThread starts another). */
  get ended(): boolean {
    return this.#checkpointer.broken;
  }

  /** Resolves once the WAL is copied into the database file as far as readers allow (synced at the connection's level). */
  async checkpoint(): Promise<void> {
    await this.#opened;
    if (this.#closed) throw new Error('the SQLite store is closed');
    return this.#checkpointer.send(this.#store, (seq) => ({ kind: 'checkpoint', store: this.#store, seq }));
  }

  /** Closes this store's connection after the requests already sent; the thread stays for the process's next store. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#checkpointer.send(this.#store, (seq) => ({ kind: 'close', store: this.#store, seq })).catch(() => {});
    this.#checkpointer.forget(this.#store);
  }
}

/**
 * The compiled build runs sqlite-checkpointer.js directly. Run from the TypeScript sources, the thread
 * needs tsx's loader of its own (a worker does not inherit the one registered at run time), which
 * takes a third of a second to start: the checkout's build of the same file is used instead
 * when it is newer than its source (as bin/muster.js does for the CLI).
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./sqlite-checkpointer.js', here));
  const built = builtWriter(here);
  if (built) return new Worker(built);
  const entry = new URL('./sqlite-checkpointer.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, execArgv: [] });
}

/** dist/store/sqlite-checkpointer.js when it was built after the last change to its source, else null. */
function builtWriter(here: string): URL | null {
  const built = new URL('../../dist/store/sqlite-checkpointer.js', here);
  try {
    return statSync(new URL('./sqlite-checkpointer.ts', here)).mtimeMs <= statSync(built).mtimeMs ? built : null;
  } catch {
    return null;
  }
}
