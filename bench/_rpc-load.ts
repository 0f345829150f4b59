/**
 * Bench support: a pipelined JSON-RPC load generator over one WebSocket. It keeps `window`
 * frames in flight (each frame one request, or a batch of `perFrame` requests) and counts
 * replies without parsing them on the hot path; error replies are counted by a byte scan.
 */
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';

export async function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return ws;
}

export function close(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => { ws.terminate(); resolve(); }, 2_000);
    ws.once('close', () => { clearTimeout(timer); resolve(); });
    ws.close();
  });
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string | null;
  ms: number;
  perSecond: number;
}

export interface LoadOptions {
  /** Frames to send in all. */
  frames: number;
  /** Requests per frame (1: single messages; >1: JSON-RPC batches). */
  perFrame: number;
  /** Frames in flight. */
  window: number;
  /** Stop after this long even if not done. */
  maxMs: number;
  /** The text of frame i. */
  frame(i: number): string;
  /** When given, each answer's wait (ms since its frame was sent) goes here: answers come in the order sent. */
  waits?: number[];
}

/** Sends frames with a window in flight; resolves when all are answered or maxMs passed. */
export function pipeline(ws: WebSocket, o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve) => {
    let sent = 0;
    let answered = 0;
    let errors = 0;
    let firstError: string | null = null;
    let finished = false;
    const t0 = performance.now();
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      ws.off('message', onMessage);
      const ms = performance.now() - t0;
      const requests = answered * o.perFrame;
      resolve({ requests, errors, firstError, ms: round(ms), perSecond: Math.round(requests / (ms / 1000)) });
    };
    // Send times of the frames in flight, by frame number modulo the window.
    const sentAt = o.waits ? new Float64Array(o.window) : null;
    const onMessage = (data: Buffer) => {
      if (sentAt) o.waits!.push(performance.now() - sentAt[answered % o.window]!);
      if (data.includes('"error"')) {
        errors++;
        firstError ??= data.toString().slice(0, 300);
      }
      answered++;
      if (answered >= o.frames) return finish();
      while (sent < o.frames && sent - answered < o.window) send(o.frame(sent++));
    };
    // Frames sent while handling one read go out in one write (as the hub does for its replies):
    // otherwise the generator, not the hub, is the bottleneck. `_socket` is ws's TCP socket.
    const raw = (ws as unknown as { _socket?: Duplex })._socket;
    let corked = false;
    const uncork = () => { corked = false; raw!.uncork(); };
    const send = (text: string) => {
      if (sentAt) sentAt[(sent - 1) % o.window] = performance.now();
      if (raw && !corked) { corked = true; raw.cork(); process.nextTick(uncork); }
      ws.send(text);
    };
    ws.on('message', onMessage);
    const timer = setTimeout(finish, o.maxMs);
    while (sent < o.frames && sent < o.window) send(o.frame(sent++));
  });
}

/** Frame i as a batch of `n` requests built by `one(k)` for k = i*n .. i*n+n-1. */
export function batchOf(n: number, one: (k: number) => string): (i: number) => string {
  if (n === 1) return one;
  return (i) => {
    const parts: string[] = new Array(n);
    for (let j = 0; j < n; j++) parts[j] = one(i * n + j);
    return `[${parts.join(',')}]`;
  };
}

/** Sends one frame and resolves with the parsed reply (for setup steps that need the results). */
export function callOnce(ws: WebSocket, text: string, timeoutMs = 60_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.off('message', onMessage); reject(new Error('no reply in time')); }, timeoutMs);
    const onMessage = (data: Buffer) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(JSON.parse(data.toString()));
    };
    ws.on('message', onMessage);
    ws.send(text);
  });
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
