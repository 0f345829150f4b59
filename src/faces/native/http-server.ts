/**
 * The HTTP server under fastify, with a deadline for every phase a slow client could stretch:
 * headers (and WebSocket upgrades), the whole request, idle keep-alive. Errors the HTTP parser
 * meets before fastify sees a request (a malformed request line, headers too large, a timeout)
 * are answered in the same {"error": {code, message}} envelope as everything else.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { FastifyServerFactory } from 'fastify';
import { MusterError, type ErrorCode } from '../../errors.js';

export interface HttpServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

/** A server factory for fastify's `serverFactory` option. */
export function httpServerFactory(limits: HttpServerLimits, tls: { cert: Buffer; key: Buffer } | null): FastifyServerFactory {
  return (handler) => {
    const options = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // Node checks the two timeouts above on this interval (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    };
    const server: Server = tls ? createHttpsServer({ ...options, ...tls }, handler) : createHttpServer(options, handler);
    server.maxConnections = limits.maxConnections;
    return server;
  };
}

/** fastify's `clientErrorHandler`: errors of the HTTP parser, answered in the envelope, then the socket is closed. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'INVALID_REQUEST';
  const e = code === 'INVALID_REQUEST' ? new MusterError(code, 'Malformed HTTP request') : new MusterError(code);
  const status = e.status;
  const body = JSON.stringify({ error: e.toJSON() });
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };
