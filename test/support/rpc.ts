/** A bare JSON-RPC WebSocket peer for protocol tests (the SDK is tested separately). */
import WebSocket from 'ws';

export interface RpcError { code: number; message: string; data?: { code: string; details?: unknown } }
export interface RpcReply { id?: unknown; result?: unknown; error?: RpcError }

export class RpcPeer {
  readonly ws: WebSocket;
  readonly notifications: { method: string; params: any }[] = [];
  readonly #waiting = new Map<unknown, (r: RpcReply) => void>();
  readonly #raw: ((text: string) => void)[] = [];
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      const waiter = this.#raw.shift();
      if (waiter) return waiter(text);
      const msg = JSON.parse(text);
      for (const m of Array.isArray(msg) ? msg : [msg]) {
        if (m.method) { this.notifications.push(m); continue; }
        const w = this.#waiting.get(m.id);
        if (w) { this.#waiting.delete(m.id); w(m); }
      }
    });
  }

  static async connect(url: string): Promise<RpcPeer> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return new RpcPeer(ws);
  }

  /** Sends a request and resolves with the whole reply (result or error). */
  call(method: string, params?: unknown): Promise<RpcReply> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Calls and returns the result, throwing on an error reply. */
  async ok<T = any>(method: string, params?: unknown): Promise<T> {
    const r = await this.call(method, params);
    if (r.error) throw new Error(`${method}: ${r.error.data?.code} ${r.error.message}`);
    return r.result as T;
  }

  /** Sends raw text and resolves with the next frame, whatever it is. */
  raw(text: string | Buffer): Promise<string> {
    return new Promise((resolve) => { this.#raw.push(resolve); this.ws.send(text); });
  }

  async waitFor(pred: (n: { method: string; params: any }) => boolean, timeoutMs = 5000): Promise<{ method: string; params: any }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.notifications.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('notification not seen in time');
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
