/**
 * The one socket seam: the W3C WebSocket shape, which both browsers and the `ws` package offer.
 * Browsers use the global WebSocket; Node imports `ws` at run time, through a specifier bundlers
 * do not follow, so a browser bundle never contains it.
 */

/** What the client core needs from a WebSocket. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** Browsers deliver binary frames as Blobs unless this is 'arraybuffer' (the SDK sets it). */
  binaryType?: string;
  /** Bytes sent and not yet written to the network. */
  readonly bufferedAmount?: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /**
   * Where the runtime can (Node): holds what is sent for the rest of this event-loop turn, then
   * writes it to the network at once. The SDK calls it before each request.
   */
  coalesce?(): void;
}

/** Makes a socket for a URL (e.g. `(url) => new WebSocket(url)`). */
export type WebSocketFactory = (url: string) => WebSocketLike;

export const OPEN = 1;

type WebSocketCtor = new (url: string) => WebSocketLike;

/** The `ws` package's constructor and the options the SDK gives it. */
type NodeWebSocketCtor = new (url: string, options: NodeSocketOptions) => NodeWebSocket;
/** `ws`'s WebSocket and the TCP socket under it once open (`_socket`: not in its typings, there since ws 1). */
interface NodeWebSocket extends WebSocketLike {
  _socket?: { cork(): void; uncork(): void } | null;
}
interface NodeSocketOptions {
  perMessageDeflate: boolean;
  generateMask(mask: Uint8Array): void;
}

/**
 * In Node the SDK's frames go unmasked (an all-zero masking key, which `ws` then skips on both
 * ends): masking keeps a script in a browser from forging bytes a proxy would misread, which
 * does not apply to a Node process, and it costs a pass over every byte sent and received (nats.js
 * over TCP has no such pass). Compression is not offered: the bus's frames are small and the hub
 * does not take it.
 */
const NODE_SOCKET_OPTIONS: NodeSocketOptions = { perMessageDeflate: false, generateMask: (mask) => { mask.fill(0); } };

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

let nodeCtor: Promise<NodeWebSocketCtor> | undefined;

/** The runtime's default: `ws` in Node, the global WebSocket elsewhere. */
export async function defaultWebSocketFactory(): Promise<WebSocketFactory> {
  const global = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (!isNode() && global) return (url) => new global(url);
  const specifier = 'ws';
  nodeCtor ??= (import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<{ default: NodeWebSocketCtor }>).then((m) => m.default);
  const Ctor = await nodeCtor.catch(() => undefined);
  if (Ctor) return (url) => coalescing(new Ctor(url, NODE_SOCKET_OPTIONS));
  if (global) return (url) => new global(url);
  throw new Error('No WebSocket implementation: install the "ws" package or pass the webSocket option');
}

/**
 * Requests made in one turn leave in one write: the first corks the TCP socket, the next turn
 * uncorks it. Sent one by one, 64 awaited registrations reached the hub in a dozen reads, each
 * read its own commit and sync (the hub's outbound-batch.ts does the same for its replies).
 */
function coalescing(ws: NodeWebSocket): NodeWebSocket {
  let corked = false;
  ws.coalesce = () => {
    const raw = ws._socket;
    if (corked || !raw) return;
    corked = true;
    raw.cork();
    setImmediate(() => {
      corked = false;
      raw.uncork();
    });
  };
  return ws;
}

/** The bytes of a binary message event (a Node Buffer or an ArrayBuffer), or null for text. */
export function messageBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** `http://h:p` → `ws://h:p/v1/ws`; ws URLs are kept; the token goes in `?token=`. */
export function socketUrl(url: string, token?: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`Hub URLs are http(s):// or ws(s)://, not ${u.protocol}`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/ws';
  if (token) u.searchParams.set('token', token);
  return u.toString();
}
