/**
 * Long-lived responses a face holds open (SSE streams today): each registers how to close itself
 * with a reason, so a stopping hub ends them instead of waiting for the client to hang up.
 */
export type CloseWithReason = (reason: string) => void;

export class OpenStreams {
  readonly #open = new Set<CloseWithReason>();

  get size(): number {
    return this.#open.size;
  }

  /** Tracks a stream; the returned function forgets it (call it when the stream ends by itself). */
  add(close: CloseWithReason): () => void {
    this.#open.add(close);
    return () => { this.#open.delete(close); };
  }

  closeAll(reason: string): void {
    const all = [...this.#open];
    this.#open.clear();
    for (const close of all) close(reason);
  }
}
