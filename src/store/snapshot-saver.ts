/**
 * Snapshots of a running hub's store, as gzip streams: at most `maxOpen` at once (each one a read
 * transaction of its own, so each is consistent), each cut off after `maxMs` (a reader that stalls
 * must not hold a read transaction, and the WAL behind it, for ever; its file then lacks its
 * trailer, which every reader of it detects).
 */
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { MusterError } from '../errors.js';
import { snapshotText } from './snapshot-format.js';
import type { Store } from './store.js';

export interface SnapshotSaverOptions {
  store: Store;
  hubId: string;
  maxOpen?: number;
  maxMs?: number;
}

export class SnapshotSaver {
  readonly #o: Required<SnapshotSaverOptions>;
  #open = 0;

  constructor(options: SnapshotSaverOptions) {
    this.#o = { maxOpen: 2, maxMs: 10 * 60_000, ...options };
  }

  /** Snapshots being sent now. */
  get open(): number {
    return this.#open;
  }

  /** A gzip stream of the store's snapshot; SNAPSHOT_UNSUPPORTED or THROTTLED before any byte. */
  async start(): Promise<Readable> {
    const store = this.#o.store;
    if (!store.export) throw new MusterError('SNAPSHOT_UNSUPPORTED', `The ${store.kind} store cannot give a snapshot yet (see docs/operations.md, Snapshots)`);
    if (this.#open >= this.#o.maxOpen) throw new MusterError('THROTTLED', `${this.#open} snapshots are being saved; at most ${this.#o.maxOpen} at once`, { retryAfterMs: 1000 });
    this.#open++;
    let done = false;
    const finish = () => { if (!done) { done = true; this.#open--; clearTimeout(timer); } };
    const timer = setTimeout(() => gzip.destroy(new Error(`snapshot not read within ${this.#o.maxMs} ms`)), this.#o.maxMs);
    const gzip = createGzip();
    try {
      const exp = await store.export();
      const text = Readable.from(snapshotText(exp, { store: store.kind, hubId: this.#o.hubId }), { objectMode: false });
      pipeline(text, gzip, () => finish());
      gzip.once('close', finish);
      return gzip;
    } catch (err) {
      finish();
      throw err;
    }
  }
}
