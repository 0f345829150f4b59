/**
 * The face's HTTP side: XML-RPC calls POSTed to /RPC2 or / (Python's client posts to /RPC2 when
 * the URL has no path), a plain-text page for GET, and a fault (with HTTP 200, as XML-RPC
 * requires) for everything else: another method, path or content type, a body past the size
 * limit, input that is not XML-RPC, an unknown method, wrong params. The socket stays usable after
 * a fault, except after an oversized body (answered, then closed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { toMusterError, type ErrorCode } from '../../errors.js';
import { decodeCall, type DecodeLimits } from './decode.js';
import { encodeResponse } from './encode.js';
import { faultFor } from './faults.js';
import { peerIp } from './listen.js';
import type { MethodDef } from './methods.js';

export interface RpcServerDeps {
  readonly methods: ReadonlyMap<string, MethodDef>;
  readonly limits: DecodeLimits;
  readonly log: Logger;
  /** Counted per answered fault, by code. */
  readonly onFault: (code: ErrorCode) => void;
  readonly onRequest: () => void;
  /** The GET page's text. */
  readonly page: () => string;
}

const RPC_PATHS: ReadonlySet<string> = new Set(['/', '/RPC2']);
const XML_TYPE = /^\s*(text|application)\/xml\s*(;|$)/i;
/** Past the limit the body is still read (and dropped) up to this many times it, so the client sees the fault. */
const DRAIN_FACTOR = 4;

export class RpcServer {
  readonly #deps: RpcServerDeps;

  constructor(deps: RpcServerDeps) {
    this.#deps = deps;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#deps.onRequest();
    if (req.method === 'GET' || req.method === 'HEAD') {
      const text = this.#deps.page();
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'GET' ? text : undefined);
      return;
    }
    if (req.method !== 'POST') return this.#fault(res, 'INVALID_REQUEST', `XML-RPC calls are POSTed, not sent with ${String(req.method).slice(0, 16)}`);
    const path = (req.url ?? '/').split('?')[0]!;
    if (!RPC_PATHS.has(path)) return this.#fault(res, 'INVALID_REQUEST', 'POST XML-RPC calls to /RPC2 or /');
    const type = req.headers['content-type'];
    if (type !== undefined && !XML_TYPE.test(type)) return this.#fault(res, 'INVALID_REQUEST', `Content-Type must be text/xml, not ${JSON.stringify(type.slice(0, 60))}`);
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return this.#fault(res, 'INVALID_REQUEST', 'Content-Encoding is not supported');
    const max = this.#deps.limits.maxBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max * DRAIN_FACTOR) return this.#tooLarge(req, res, true);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (size > max * DRAIN_FACTOR) this.#tooLarge(req, res, true);
    });
    req.once('end', () => {
      if (res.headersSent) return;
      if (size > max) return this.#tooLarge(req, res, false);
      void this.#call(Buffer.concat(chunks, size), type, peerIp(req.socket.remoteAddress), res);
    });
    req.once('error', () => { /* the client went away; nothing to answer */ });
  };

  /** The HTTP parser's own errors (malformed request, headers too large, too slow), as a fault too; then closed. */
  readonly clientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'INVALID_REQUEST';
    this.#deps.onFault(code);
    const xml = faultFor(code, code === 'INVALID_REQUEST' ? 'Malformed HTTP request' : code === 'REQUEST_TIMEOUT' ? 'The request was not received in time' : 'The request headers are too large');
    if (socket.writable) socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(xml)}\r\nConnection: close\r\n\r\n${xml}`);
    socket.destroy();
  };

  async #call(body: Buffer, contentType: string | undefined, ip: string, res: ServerResponse): Promise<void> {
    const decoded = decodeCall(body, contentType, this.#deps.limits);
    if (!decoded.ok) return this.#fault(res, decoded.code, decoded.message);
    const { method, params } = decoded.call;
    const def = this.#deps.methods.get(method);
    if (!def) return this.#fault(res, 'METHOD_NOT_FOUND', `No method ${JSON.stringify(method.slice(0, 80))}`);
    try {
      const result = def.run(params, { ip });
      const xml = encodeResponse(result instanceof Promise ? await result : result);
      if (res.destroyed) return;
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(xml) });
      res.end(xml);
    } catch (err) {
      const e = toMusterError(err);
      if (e.code === 'INTERNAL') this.#deps.log.error({ err, method }, 'call failed');
      this.#fault(res, e.code, e.message);
    }
  }

  #fault(res: ServerResponse, code: ErrorCode, message: string, close = false): void {
    this.#deps.onFault(code);
    if (res.headersSent || res.destroyed) return;
    const xml = faultFor(code, message);
    const headers: Record<string, string | number> = { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(xml) };
    if (close) headers.Connection = 'close';
    res.writeHead(200, headers);
    res.end(xml);
  }

  /** Answers PAYLOAD_TOO_LARGE and closes; `now`: without reading further (the client may lose the answer to the reset). */
  #tooLarge(req: IncomingMessage, res: ServerResponse, now: boolean): void {
    if (res.headersSent) return;
    this.#fault(res, 'PAYLOAD_TOO_LARGE', `Bodies are limited to ${this.#deps.limits.maxBytes} bytes`, true);
    if (now) res.once('finish', () => req.socket.destroy());
  }
}
