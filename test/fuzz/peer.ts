/**
 * A WebSocket peer for fuzzing /v1/ws: sends anything (text or binary, valid or not), checks
 * every frame the hub sends (check.ts), answers the hub's own requests (bus.handle, hub.ping, and
 * binary handle records) so nothing waits on it, and knows when the hub has caught up: after a
 * case it sends a sentinel request and waits for its answer, which comes after the answers to
 * everything sent before it that the hub handles synchronously.
 */
import WebSocket from 'ws';
import { encodeAnswerRecord, frameOf, KIND_REPLY } from '../../src/faces/native/bus-binary.js';
import { checkBinaryFrame, checkTextFrame, Report, type HubRequest } from './check.js';

/** A frame to send back: text (possibly not UTF-8, when fuzzing) or binary. */
export interface Answer { readonly data: Buffer | string; readonly binary: boolean }
export type Answerer = (req: HubRequest) => Answer | null;

/** A null result: a text JSON-RPC response, or a binary reply record to a binary handle. */
export function nullAnswer(req: HubRequest): Answer {
  return req.binary
    ? { data: Buffer.from(frameOf([encodeAnswerRecord({ kind: KIND_REPLY, isBytes: false, from: '', where: req.where ?? '', id: Number(req.id), payload: Buffer.from('null') })])), binary: true }
    : { data: `{"jsonrpc":"2.0","id":${JSON.stringify(req.id)},"result":null}`, binary: false };
}

/** By default a member answers every hub request with a null result. */
export const answerNull: Answerer = nullAnswer;

export type ExchangeEnd = 'answered' | 'closed' | 'timeout' | 'died';

let sentinelSeq = 0;

export class FuzzPeer {
  readonly ws: WebSocket;
  /** What the hub sent since the last take(). */
  #report = new Report();
  #waiters = new Map<string, (reply: unknown) => void>();
  readonly #closeWaiters = new Set<(end: ExchangeEnd) => void>();
  closeCode: number | null = null;
  #hubDied = false;
  answerer: Answerer = answerNull;

  private constructor(ws: WebSocket, died: Promise<void>) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onFrame(data, isBinary));
    ws.on('close', (code: number) => {
      this.closeCode = code;
      for (const w of [...this.#closeWaiters]) w(this.#hubDied ? 'died' : 'closed');
    });
    ws.on('error', () => { /* 'close' follows */ });
    void died.then(() => {
      this.#hubDied = true;
      for (const w of [...this.#closeWaiters]) w('died');
    });
  }

  /** Opens a connection; `died` resolves when the hub process exits (waits end at once then). */
  static open(url: string, died: Promise<void>, timeoutMs = 5000): Promise<FuzzPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: 64 * 1024 * 1024 });
      const peer = new FuzzPeer(ws, died);
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('closed before open')));
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The report of everything received since the previous take. */
  take(): Report {
    const r = this.#report;
    this.#report = new Report();
    return r;
  }

  send(data: Buffer | string, binary: boolean): void {
    if (this.open) this.ws.send(data, { binary });
  }

  /** A JSON-RPC call on this connection, for fixtures; resolves with the reply message, or null on close/timeout. */
  call(method: string, params: unknown, timeoutMs = 5000): Promise<Record<string, unknown> | null> {
    const id = `fz-c${++sentinelSeq}`;
    return new Promise((resolve) => {
      const finish = (reply: Record<string, unknown> | null) => { clearTimeout(timer); this.#waiters.delete(id); off(); resolve(reply); };
      const timer = setTimeout(() => finish(null), timeoutMs);
      this.#waiters.set(id, (reply) => finish(reply as Record<string, unknown>));
      const off = this.#onClose(() => finish(null));
      this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }), false);
    });
  }

  /**
   * Sends `data` (if any), then a sentinel request (a cheap synchronous method), and resolves when
   * the sentinel is answered, the connection closes, the hub dies, or the time is up.
   */
  exchange(data: Buffer | string | null, binary: boolean, timeoutMs: number): Promise<ExchangeEnd> {
    if (this.#hubDied) return Promise.resolve('died');
    if (!this.open) return Promise.resolve('closed');
    if (data !== null) this.send(data, binary);
    const id = `fz-s${++sentinelSeq}`;
    return new Promise((resolve) => {
      let done = false;
      const finish = (end: ExchangeEnd) => { if (!done) { done = true; clearTimeout(timer); this.#waiters.delete(id); off(); resolve(end); } };
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      this.#waiters.set(id, () => finish('answered'));
      const off = this.#onClose((end) => finish(end));
      this.send(`{"jsonrpc":"2.0","id":"${id}","method":"unwatch","params":{"watch":0}}`, false);
    });
  }

  /** Waits until every id in `ids` has an answer in the current report, or the time is up; returns the ids still open. */
  async awaitAnswers(ids: readonly (string | number)[], timeoutMs: number): Promise<(string | number)[]> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 10_000; i++) {
      const open = ids.filter((id) => !this.#report.answered.has(id));
      if (open.length === 0 || this.#report.wholeFrameRefusals > 0 || !this.open || this.#hubDied || Date.now() >= deadline) return open;
      await new Promise((r) => setTimeout(r, 5));
    }
    return ids.filter((id) => !this.#report.answered.has(id));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => { this.ws.terminate(); resolve(); }, 1000);
      this.ws.once('close', () => { clearTimeout(timer); resolve(); });
      this.ws.close();
    });
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Calls fn once the connection is closed (at once if it is); returns the unsubscribe. */
  #onClose(fn: (end: ExchangeEnd) => void): () => void {
    if (this.ws.readyState === WebSocket.CLOSED || this.#hubDied) {
      queueMicrotask(() => fn(this.#hubDied ? 'died' : 'closed'));
      return () => {};
    }
    this.#closeWaiters.add(fn);
    return () => this.#closeWaiters.delete(fn);
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    const r = this.#report;
    const before = r.hubRequests.length;
    if (isBinary) checkBinaryFrame(data, r);
    else {
      const text = data.toString('utf8');
      // Fixture calls and sentinels are not the hub's answers to a case: resolve them and keep them out of the report.
      if (text.includes('"fz-')) {
        const own = ownReply(text);
        if (own) {
          const w = this.#waiters.get(own.id);
          if (w) { this.#waiters.delete(own.id); w(own.msg); }
          return;
        }
      }
      checkTextFrame(text, r);
    }
    for (const req of r.hubRequests.slice(before)) {
      const answer = this.answerer(req);
      if (answer !== null) this.send(answer.data, answer.binary);
    }
  }
}

function ownReply(text: string): { id: string; msg: unknown } | null {
  try {
    const m = JSON.parse(text) as unknown;
    if (typeof m === 'object' && m !== null && !Array.isArray(m)) {
      const id = (m as { id?: unknown }).id;
      if (typeof id === 'string' && id.startsWith('fz-')) return { id, msg: m };
    }
  } catch { /* checked by the caller */ }
  return null;
}
