/**
 * HTTP over a bare TCP socket, so a fuzz case can send any bytes (a lying Content-Length, a bad
 * request line, a truncated body) and still read whatever comes back. One request per
 * connection. A Server-Sent Events answer is cut after its first event block.
 */
import { connect } from 'node:net';

export interface HttpAnswer {
  readonly end: 'answered' | 'closed' | 'timeout';
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface HttpRequest {
  readonly method: string;
  /** Path and query, already encoded as they go on the request line. */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | null;
}

export function encodeRequest(r: HttpRequest): Buffer {
  const lines = [`${r.method} ${r.target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  if (r.body) lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]);
}

/**
 * Sends the bytes; `halfClose` ends the write side after them (for requests that may be
 * incomplete). A hub that dies closes the socket: the caller tells that from a refusal.
 */
export function rawHttp(url: string, bytes: Buffer, timeoutMs: number, halfClose: boolean): Promise<HttpAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const socket = connect({ host: hostname, port: Number(port) });
    const finish = (end: HttpAnswer['end']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ end, ...parse(Buffer.concat(chunks)) });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes);
      if (halfClose) socket.end();
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      const whole = Buffer.concat(chunks);
      if (complete(whole) || size > 16 * 1024 * 1024) finish('answered');
    });
    socket.on('close', () => finish(chunks.length ? 'answered' : 'closed'));
    socket.on('error', () => { /* 'close' follows */ });
  });
}

function headEnd(b: Buffer): number {
  return b.indexOf('\r\n\r\n');
}

/** A whole answer: by Content-Length, the last chunk, or an event stream's first event block. */
function complete(b: Buffer): boolean {
  const h = headEnd(b);
  if (h < 0) return false;
  const { headers } = parseHead(b.subarray(0, h).toString('latin1'));
  const rest = b.subarray(h + 4);
  if ((headers['content-type'] ?? '').startsWith('text/event-stream')) return rest.includes('\n\n');
  if (headers['content-length'] !== undefined) return rest.length >= Number(headers['content-length']);
  if ((headers['transfer-encoding'] ?? '').includes('chunked')) return rest.includes('\r\n0\r\n\r\n') || rest.subarray(0, 5).toString() === '0\r\n\r\n';
  return false;
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers };
}

function parse(b: Buffer): { status: number; headers: Record<string, string>; body: string } {
  const h = headEnd(b);
  if (h < 0) return { status: 0, headers: {}, body: '' };
  const { status, headers } = parseHead(b.subarray(0, h).toString('latin1'));
  let body = b.subarray(h + 4);
  // Only the first answer: bytes past its length belong to a pipelined second one.
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  else if ((headers['transfer-encoding'] ?? '').includes('chunked')) body = dechunk(body);
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < 100_000 && at < b.length; i++) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) break;
    const n = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(n) || n === 0) break;
    out.push(b.subarray(eol + 2, eol + 2 + n));
    at = eol + 2 + n + 2;
  }
  return Buffer.concat(out);
}
