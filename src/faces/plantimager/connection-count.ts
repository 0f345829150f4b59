/**
 * The plantimager face's connections, counted from its socket's monitor (accepted, not yet gone),
 * for the cap that ZAP applies to every new one. libzmq accepts a connection before it asks ZAP
 * about it, but the two reach JavaScript on different sockets, in either order: under load a
 * client was asked about before its own accept was counted, and got past the cap. So the k-th
 * question waits until k connections were accepted; briefly, as a connection counted late is
 * better let in than held up. A connection that closes before its handshake (a port scan) is
 * accepted without a question, so the next one may be asked about before its own accept is
 * counted: the cap can then be passed by one, as before.
 */
export class ConnectionCount {
  #open = 0;
  #accepted = 0;
  #asked = 0;
  readonly #waiting: { n: number; wake: () => void }[] = [];

  /** Accepted and not yet gone. */
  get open(): number {
    return this.#open;
  }

  accepted(): void {
    this.#open++;
    this.#accepted++;
    for (let i = this.#waiting.length - 1; i >= 0; i--) {
      if (this.#waiting[i]!.n <= this.#accepted) this.#waiting.splice(i, 1)[0]!.wake();
    }
  }

  gone(): void {
    this.#open = Math.max(0, this.#open - 1);
  }

  /** ZAP asks about a new connection: resolves once that connection's accept is counted, or after `ms`. */
  asked(ms: number): Promise<void> {
    const n = ++this.#asked;
    if (this.#accepted >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { n, wake: () => { clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve();
      }, ms);
      this.#waiting.push(waiter);
    });
  }
}
