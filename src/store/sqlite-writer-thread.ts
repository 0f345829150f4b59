/**
 * The hub's side of the SQLite writer thread (sqlite-writer.ts): starts it, hands it batches and
 * resolves each when the thread answers that it is committed. Batches are answered in the order
 * sent. The thread keeps the process alive only while a commit is on its way.
 */
import { Worker } from 'node:worker_threads';
import type { FromWriter, ToWriter, WriterOptions } from './sqlite-writer.js';
import type { RowBatch } from './sqlite-writes.js';

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class WriterThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  readonly #exited: Promise<void>;
  #seq = 0;
  /** Set once the thread failed or ended: every commit from then on is refused with it. */
  #broken: Error | null = null;

  constructor(options: WriterOptions) {
    this.#worker = startWorker(options);
    this.#worker.unref();
    this.#worker.on('message', (msg: FromWriter) => {
      const w = this.#waiting.get(msg.seq);
      if (!w) return;
      this.#waiting.delete(msg.seq);
      if (this.#waiting.size === 0) this.#worker.unref();
      if (msg.error) w.reject(Object.assign(new Error(msg.error.message), msg.error.code ? { code: msg.error.code } : {}));
      else w.resolve();
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => {
      this.#fail(new Error('the SQLite writer thread ended'));
      resolve();
    }));
  }

  /** Resolves once `batch` is committed; rejects with the reason it was not (nothing of it applied). */
  commit(batch: RowBatch): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject });
      this.#worker.ref();
      this.#post({ kind: 'commit', seq, batch });
    });
  }

  /** Ends the thread after the batches already sent; resolves when it has closed its connection. */
  async close(): Promise<void> {
    if (!this.#broken) {
      this.#worker.ref();
      this.#post({ kind: 'close' });
    }
    await this.#exited;
  }

  #post(msg: ToWriter): void {
    this.#worker.postMessage(msg);
  }

  #fail(err: Error): void {
    this.#broken ??= err;
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }
}

/**
 * The compiled build runs sqlite-writer.js directly. Run from the TypeScript sources, the thread
 * needs tsx's loader of its own (a worker does not inherit the one registered at run time).
 */
function startWorker(workerData: WriterOptions): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./sqlite-writer.js', here), { workerData });
  const entry = new URL('./sqlite-writer.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData, execArgv: [] });
}
