/** Status fan-out: listeners, and async iterables with a bounded backlog (oldest dropped). */
import { AsyncQueue } from './async-queue.js';
import type { ClientStatus } from './types.js';

const MAX_BACKLOG = 256;

export class StatusHub {
  readonly #listeners = new Set<(s: ClientStatus) => void>();
  readonly #queues = new Set<AsyncQueue<ClientStatus>>();

  on(listener: (s: ClientStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  emit(status: ClientStatus): void {
    for (const l of this.#listeners) {
      try { l(status); } catch { /* a listener's bug must not break the client */ }
    }
    for (const q of this.#queues) {
      q.push(status);
      if (q.length > MAX_BACKLOG) q.shift();
    }
  }

  iterable(): AsyncIterable<ClientStatus> {
    return {
      [Symbol.asyncIterator]: () => {
        const q = new AsyncQueue<ClientStatus>();
        this.#queues.add(q);
        return {
          next: () => q.next(),
          return: async () => {
            this.#queues.delete(q);
            q.end();
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  end(): void {
    for (const q of this.#queues) q.end();
    this.#queues.clear();
  }
}
