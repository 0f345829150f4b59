/**
 * The face's HTTP/1.x server on plain TCP (node:net), for XML-RPC's one shape of exchange: a
 * request with a small body in, one answer with status 200 out. Keep-alive as HTTP/1.1 and 1.0
 * clients ask (SimpleXMLRPCServer-era clients close after each answer), pipelined requests
 * answered in order, Content-Length and chunked bodies, `Expect: 100-continue`. Limits: heads
 * up to MAX_HEAD_BYTES, bodies up to `maxBodyBytes` (past it the body is read and dropped up to
 * DRAIN_FACTOR times that, so the client sees the refusal; past that the connection is cut),
 * `headersTimeoutMs` for a head (from its first byte, or from the connection's start),
 * `requestTimeoutMs` for a whole request, `idleTimeoutMs` between requests, and the listener's
 * connection cap. One sweep timer checks every connection's deadline: nothing is armed per
 * request. What the server refuses itself goes through `hooks.refusal`, then the connection
 * closes. Node's own HTTP stack does the same with several objects and events per request.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ChunkedReader, HeadCache, headEnd, MAX_HEAD_BYTES, type HeadFields } from './http-wire.js';
import { peerIp } from './listen.js';

export interface RequestHead {
  readonly method: string;
  /** The request target as sent (a path, with its query if any). */
  readonly target: string;
  readonly fields: HeadFields;
  /** The caller's IP address (IPv4-mapped IPv6 as plain IPv4). */
  readonly ip: string;
}

export interface Answer {
  readonly contentType: string;
  readonly body: string;
  /** Close the connection after this answer. */
  readonly close?: boolean;
}

export type RefusalCode = 'INVALID_REQUEST' | 'HEADERS_TOO_LARGE' | 'REQUEST_TIMEOUT' | 'PAYLOAD_TOO_LARGE';

export interface HttpHooks {
  /** A head was read: an answer ends the request there (its body is read and dropped); null reads the body. */
  head(req: RequestHead): Answer | null;
  /** A whole request; `reply` once, now or later. */
  request(req: RequestHead, body: Buffer, reply: (answer: Answer) => void): void;
  /** What the server says when it refuses a request itself (malformed, too large, too slow); the connection closes after it. */
  refusal(code: RefusalCode, message: string): Answer;
}

export interface HttpLimits {
  maxBodyBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

/** Past the body limit the body is still read (and dropped) up to this many times it. */
export const DRAIN_FACTOR = 4;
/** Bytes a busy connection buffers before it stops reading. */
const MAX_BUFFERED = 1024 * 1024;
/** How long a closing connection may still send (read and dropped, so it can read our last answer). */
const CLOSE_GRACE_MS = 1000;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/1\.([01])$/;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

const enum State { Idle, Head, Body, Discard, Busy, Closing }

export class HttpServer {
  readonly server: Server;
  readonly #hooks: HttpHooks;
  readonly #limits: HttpLimits;
  readonly #conns = new Set<Conn>();
  readonly #sweep: NodeJS.Timeout;
  #date = new Date().toUTCString();
  #stopping = false;
  #last: Answer | null = null;
  #lastDate = '';
  #lastText = '';

  constructor(hooks: HttpHooks, limits: HttpLimits) {
    this.#hooks = hooks;
    this.#limits = limits;
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      const conn = new Conn(this, socket);
      this.#conns.add(conn);
      socket.once('close', () => this.#conns.delete(conn));
    });
    this.server.maxConnections = limits.maxConnections;
    const every = Math.max(50, Math.min(1000, Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs, limits.idleTimeoutMs) / 4));
    this.#sweep = setInterval(() => this.#check(), every).unref();
  }

  get hooks(): HttpHooks {
    return this.#hooks;
  }

  get limits(): HttpLimits {
    return this.#limits;
  }

  get date(): string {
    return this.#date;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** An answer as written on a connection kept alive; the last one is kept (most answers of a run are alike: relay.relay's OK). */
  keptAlive(a: Answer): string {
    if (a !== this.#last || this.#lastDate !== this.#date) {
      this.#last = a;
      this.#lastDate = this.#date;
      this.#lastText = answerHead(a, false, this.#date) + a.body;
    }
    return this.#lastText;
  }

  /** Stops accepting, closes idle connections, lets the others finish their request; resolves when all are gone. */
  close(): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.#conns) c.closeIfIdle();
    return closed.finally(() => clearInterval(this.#sweep));
  }

  /** Cuts every connection (after close() waited long enough). */
  destroyAll(): void {
    for (const c of this.#conns) c.socket.destroy();
  }

  #check(): void {
    this.#date = new Date().toUTCString();
    const now = Date.now();
    for (const c of this.#conns) c.check(now);
  }
}

function answerHead(a: Answer, closing: boolean, date: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: ${a.contentType}\r\nContent-Length: ${Buffer.byteLength(a.body)}\r\nDate: ${date}\r\n${closing ? 'Connection: close' : 'Connection: keep-alive'}\r\n\r\n`;
}

/** One client connection: requests parsed from `#buf` one at a time, answered in order. */
class Conn {
  readonly socket: Socket;
  readonly #srv: HttpServer;
  readonly #ip: string;
  #buf: Buffer | null = null;
  readonly #heads = new HeadCache();
  /** The request line of the last head read (the same head object: the same line). */
  #lastFields: HeadFields | null = null;
  #lastLine: RegExpExecArray | null = null;
  #state = State.Head;
  /** When the current state's deadline started (ms). */
  #since = Date.now();
  #req: RequestHead | null = null;
  #keepAlive = false;
  /** Body bytes still to come (Content-Length framing); -1 for chunked. */
  #left = 0;
  #chunked: ChunkedReader | null = null;
  #parts: Buffer[] = [];
  #size = 0;
  #advancing = false;
  #waitingDrain = false;
  #ended = false;

  constructor(srv: HttpServer, socket: Socket) {
    this.#srv = srv;
    this.socket = socket;
    this.#ip = peerIp(socket.remoteAddress);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('end', () => { this.#ended = true; this.#advance(); });
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => {
      if (!this.#waitingDrain) return;
      this.#waitingDrain = false;
      this.#advance();
    });
  }

  closeIfIdle(): void {
    if (this.#state === State.Idle || (this.#state === State.Head && this.#buf === null)) this.socket.destroy();
  }

  check(now: number): void {
    const l = this.#srv.limits;
    const age = now - this.#since;
    switch (this.#state) {
      case State.Idle:
        if (age > l.idleTimeoutMs) this.socket.destroy();
        break;
      case State.Head:
        if (age > l.headersTimeoutMs) this.#refuse('REQUEST_TIMEOUT', 'The request was not received in time');
        break;
      case State.Body:
        if (age > l.requestTimeoutMs) this.#refuse('REQUEST_TIMEOUT', 'The request was not received in time');
        break;
      case State.Discard:
        if (age > l.requestTimeoutMs) this.socket.destroy();
        break;
      case State.Closing:
        if (age > CLOSE_GRACE_MS) this.socket.destroy();
        break;
    }
  }

  #data(chunk: Buffer): void {
    if (this.#state === State.Closing) return; // our last answer is out; what still comes is dropped
    this.#buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#state === State.Busy || this.#waitingDrain) {
      if (this.#buf.length > MAX_BUFFERED) this.socket.pause();
      return;
    }
    this.#advance();
  }

  /** Reads as far as the buffered bytes go; stops at a request being answered. */
  #advance(): void {
    if (this.#advancing) return;
    this.#advancing = true;
    let corked = false;
    try {
      while (this.#state !== State.Busy && this.#state !== State.Closing && !this.#waitingDrain) {
        if (this.#state === State.Idle) {
          if (this.#buf === null) break;
          this.#state = State.Head;
          this.#since = Date.now();
        }
        if (this.#state === State.Head) {
          if (!this.#readHead()) break;
        } else if (!this.#readBody()) {
          break;
        }
        if ((this.#state as State) !== State.Busy && this.#buf !== null && !corked) {
          corked = true; // pipelined requests: their answers leave in one write
          this.socket.cork();
        }
      }
      if (this.#ended && this.#state !== State.Busy && !this.#waitingDrain && this.#state !== State.Closing) {
        // The client is done sending: what could not be read in full never will be.
        if (this.#state === State.Idle || (this.#state === State.Head && this.#buf === null)) this.socket.end();
        else this.socket.destroy();
        this.#state = State.Closing;
      }
    } finally {
      this.#advancing = false;
      if (corked) this.socket.uncork();
    }
    if (this.socket.isPaused() && this.#state !== State.Busy && !this.#waitingDrain) this.socket.resume();
  }

  /** Reads a head from the buffer; false while it is incomplete (or the connection was refused). */
  #readHead(): boolean {
    let buf = this.#buf;
    if (buf === null) return false; // only stray CRLFs so far
    let from = 0;
    while (from + 1 < buf.length && buf[from] === 0x0d && buf[from + 1] === 0x0a) from += 2; // stray CRLFs between requests
    const end = headEnd(buf, from);
    if (end === -2) return this.#refuse('INVALID_REQUEST', 'Malformed HTTP request');
    if (end === -1 || end - from > MAX_HEAD_BYTES) {
      if (buf.length - from > MAX_HEAD_BYTES) return this.#refuse('HEADERS_TOO_LARGE', 'The request headers are too large');
      if (from > 0) this.#buf = buf.length > from ? buf.subarray(from) : null;
      return false;
    }
    const fields = this.#heads.read(buf, from, end - 4);
    const line = fields === null ? null : fields === this.#lastFields ? this.#lastLine : REQUEST_LINE.exec(fields.start);
    this.#lastFields = fields;
    this.#lastLine = line;
    if (!fields || !line || (fields.chunked && fields.contentLength >= 0)) return this.#refuse('INVALID_REQUEST', 'Malformed HTTP request');
    const http11 = line[3] === '1';
    if (http11 && !fields.host) return this.#refuse('INVALID_REQUEST', 'An HTTP/1.1 request needs a Host header');
    buf = buf.subarray(end);
    this.#buf = buf.length ? buf : null;
    this.#keepAlive = !fields.close && (http11 || fields.keepAlive);
    const req: RequestHead = { method: line[1]!, target: line[2]!, fields, ip: this.#ip };
    this.#req = req;
    this.#left = fields.chunked ? -1 : Math.max(0, fields.contentLength);
    this.#chunked = fields.chunked ? new ChunkedReader((c) => this.#take(c)) : null;
    this.#parts = [];
    this.#size = 0;
    const expect = fields.expect?.toLowerCase();
    if (expect !== undefined && expect !== '100-continue') return this.#refuse('INVALID_REQUEST', 'Only "Expect: 100-continue" is understood');
    const early = this.#srv.hooks.head(req);
    if (early) {
      // A client waiting for 100 Continue may never send the body: then the connection closes.
      this.#answer(early, expect !== undefined);
      if (this.#state !== State.Closing) this.#state = State.Discard;
      return true;
    }
    const max = this.#srv.limits.maxBodyBytes;
    if (fields.contentLength > max * DRAIN_FACTOR) return this.#refuse('PAYLOAD_TOO_LARGE', `Bodies are limited to ${max} bytes`);
    if (expect === '100-continue' && http11) this.socket.write(CONTINUE);
    this.#state = State.Body;
    return true;
  }

  /** Body bytes, kept up to the limit; false while more must come (or the connection was refused). */
  #readBody(): boolean {
    const buf = this.#buf;
    if (this.#left >= 0) {
      if (this.#left > 0) {
        if (buf === null) return false;
        const n = Math.min(this.#left, buf.length);
        this.#left -= n;
        this.#buf = n < buf.length ? buf.subarray(n) : null;
        if (!this.#take(n === buf.length ? buf : buf.subarray(0, n))) return false;
        if (this.#left > 0) return false;
      }
    } else {
      if (buf === null) return false;
      const used = this.#chunked!.push(buf, 0);
      if (used < 0) return this.#refuse('INVALID_REQUEST', 'Malformed chunked body');
      this.#buf = used < buf.length ? buf.subarray(used) : null;
      if (this.#state === State.Closing) return false;
      if (!this.#chunked!.done) return false;
    }
    // The whole body is in.
    if (this.#state === State.Discard) {
      this.#next();
      return true;
    }
    const max = this.#srv.limits.maxBodyBytes;
    if (this.#size > max) return this.#refuse('PAYLOAD_TOO_LARGE', `Bodies are limited to ${max} bytes`);
    const parts = this.#parts;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#size);
    this.#parts = [];
    this.#state = State.Busy;
    this.#srv.hooks.request(this.#req!, body, this.#reply);
    return true;
  }

  /** Keeps a piece of the body (up to the limit; dropped past it or when discarding); false once refused. */
  #take(chunk: Buffer): boolean {
    if (this.#state === State.Discard) return true;
    this.#size += chunk.length;
    const max = this.#srv.limits.maxBodyBytes;
    if (this.#size <= max) this.#parts.push(chunk);
    else if (this.#size > max * DRAIN_FACTOR) return this.#refuse('PAYLOAD_TOO_LARGE', `Bodies are limited to ${max} bytes`);
    return true;
  }

  readonly #reply = (answer: Answer): void => {
    if (this.#state !== State.Busy || this.socket.destroyed) return;
    this.#answer(answer, false);
    if (this.#state === State.Busy) this.#next();
    if (!this.#advancing) this.#advance();
  };

  /** Ready for the next request (or waiting for the written answers to drain first). */
  #next(): void {
    this.#state = State.Idle;
    this.#since = Date.now();
    this.#req = null;
    this.#chunked = null;
    if (this.socket.writableNeedDrain) this.#waitingDrain = true;
  }

  /** Writes an answer; closes after it when asked, when the client does not keep alive, or when the server stops. */
  #answer(a: Answer, close: boolean): void {
    const closing = close || a.close === true || !this.#keepAlive || this.#srv.stopping;
    if (this.#req?.method === 'HEAD') this.socket.write(answerHead(a, closing, this.#srv.date));
    else this.socket.write(closing ? answerHead(a, true, this.#srv.date) + a.body : this.#srv.keptAlive(a));
    if (closing) this.#close();
  }

  /** Refuses the request in progress (the server's own fault), then closes; false, to end the read. */
  #refuse(code: RefusalCode, message: string): false {
    if (this.#state === State.Closing || this.socket.destroyed) return false;
    if (this.#state === State.Discard) { // an answer went out already
      this.socket.destroy();
      this.#state = State.Closing;
      return false;
    }
    this.#req = null;
    this.#answer(this.#srv.hooks.refusal(code, message), true);
    return false;
  }

  #close(): void {
    this.#state = State.Closing;
    this.#since = Date.now();
    this.#buf = null;
    this.#parts = [];
    this.socket.end();
    if (this.socket.isPaused()) this.socket.resume();
  }
}
