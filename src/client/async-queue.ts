/** A small pull queue behind an AsyncIterator: push, fail or end; readers await the next item. */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  #waiter: { resolve(r: IteratorResult<T>): void; reject(err: unknown): void } | null = null;
  #error: unknown = undefined;
  #done = false;
  readonly #onTake: (() => void) | undefined;

  /** `onTake` runs after a reader took an item (flow control hooks in here). */
  constructor(onTake?: () => void) {
    this.#onTake = onTake;
  }

  get length(): number {
    return this.#items.length;
  }

  get done(): boolean {
    return this.#done;
  }

  push(item: T): void {
    if (this.#done) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w.resolve({ value: item, done: false });
    } else this.#items.push(item);
  }

  /** Drops the oldest item (bounded queues that prefer recent items). */
  shift(): T | undefined {
    return this.#items.shift();
  }

  /** Ends the stream after the buffered items; with an error, the reader gets it after them. */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    const w = this.#waiter;
    this.#waiter = null;
    if (w) {
      if (error !== undefined) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      this.#onTake?.();
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) {
      const err = this.#error;
      this.#error = undefined;
      return err !== undefined ? Promise.reject(err) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter) return Promise.reject(new Error('next() called while another next() is waiting'));
    return new Promise((resolve, reject) => { this.#waiter = { resolve, reject }; });
  }
}
