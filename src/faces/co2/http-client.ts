/**
 * The hub's side of calls to satellites: XML-RPC POSTs over HTTP/1.1 on plain TCP (node:net).
 * A ClientConnection carries calls to one satellite in order, several at once (pipelined) once
 * the satellite has shown it keeps connections alive, one at a time until then and always on a
 * satellite that closes after each answer (SimpleXMLRPCServer's default, HTTP/1.0). Requests
 * written in one turn of the event loop leave in one write. Each call has a deadline, checked by
 * one timer per connection (armed for the oldest call, not per call); a call past it closes the
 * connection, and the calls sent behind it on that connection fail with it. Answers past
 * MAX_ANSWER_BYTES are refused. Content-Length, chunked and read-until-close answers are read.
 * A satellite that answers `Connection: close` with calls still unanswered has not processed
 * them (RFC 9112 9.6): those fail as `unprocessed`, so the caller may send them again.
 */
import { connect, type Socket } from 'node:net';
import { decodeResponse } from './decode.js';
import { ChunkedReader, HeadCache, headEnd, MAX_HEAD_BYTES } from './http-wire.js';
import type { XmlRpcValue } from './values.js';

/** Answers past this are not read (ping, notify and bus answers are small). */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Answers up to this long (head and body) may be matched whole (a satellite's notify answer is a few hundred bytes). */
const MAX_WHOLE_BYTES = 2048;
/** Calls in flight on one connection once the satellite keeps it alive. */
export const MAX_PIPELINE = 64;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/** A satellite's answer: a value or its fault. */
export type XmlRpcAnswer =
  | { readonly ok: true; readonly value: XmlRpcValue }
  | { readonly ok: false; readonly fault: { readonly code: number; readonly message: string } };

export class CallFailed extends Error {
  constructor(readonly reason: 'timeout' | 'http' | 'network' | 'malformed' | 'unprocessed', message: string) {
    super(message);
  }
}

export type CallDone = (err: CallFailed | null, answer: XmlRpcAnswer | null) => void;

/** Parses `xmlrpc://host:port/path` (or http://) into where to POST. */
export function endpointOf(target: string): Endpoint {
  const url = new URL(target);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80), path: url.pathname || '/RPC2' };
}

/** The request head up to the Content-Length value, for every call to `to`. */
export function requestPrefix(to: Endpoint, keepAlive: boolean): string {
  const host = to.host.includes(':') ? `[${to.host}]:${to.port}` : `${to.host}:${to.port}`;
  return `POST ${to.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: muster-co2\r\nContent-Type: text/xml\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\nContent-Length: `;
}

interface Pending {
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly done: CallDone;
}

/** The answer being read. */
interface Reading {
  status: number;
  keepAlive: boolean;
  contentType: string | undefined;
  /** Bytes still to come; -1 chunked, -2 until the connection closes. */
  left: number;
  chunked: ChunkedReader | null;
  parts: Buffer[];
  size: number;
}

export class ClientConnection {
  readonly #socket: Socket;
  readonly #prefix: string;
  readonly #idleMs: number;
  readonly #onClose: (conn: ClientConnection) => void;
  readonly #pending: Pending[] = [];
  #head = 0;
  #out = '';
  #scheduled = false;
  #buf: Buffer | null = null;
  readonly #heads = new HeadCache();
  /** The last answer decoded, by its bytes: a satellite answers every notify alike. */
  #lastBody: Buffer | null = null;
  #lastAnswer: XmlRpcAnswer | null = null;
  /** The last answer's bytes, head and body, when they alone make it (200, kept alive, Content-Length, no charset): met again, it is that answer. */
  #lastWhole: Buffer | null = null;
  /** Set by #settle when the answer just read may become #lastWhole. */
  #wholeOk = false;
  #reading: Reading | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** When #timer fires (performance.now() ms). */
  #timerAt = 0;
  #idleSince = performance.now();
  #closed = false;
  /** Set once the satellite answered keeping the connection alive: calls may then be pipelined. */
  #persistent = false;
  /** The satellite said it closes this connection (or it is for one call): nothing more may be sent on it. */
  #draining = false;
  readonly #oneShot: boolean;
  #sent = 0;

  /** `idleMs`: closed after this long without calls; `keepAlive` false: one call, then closed. */
  constructor(to: Endpoint, opts: { keepAlive: boolean; idleMs: number; onClose?: (conn: ClientConnection) => void }) {
    this.#prefix = requestPrefix(to, opts.keepAlive);
    this.#idleMs = opts.idleMs;
    this.#onClose = opts.onClose ?? (() => {});
    this.#oneShot = !opts.keepAlive;
    this.#socket = connect({ host: to.host, port: to.port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => this.#data(chunk));
    this.#socket.on('end', () => this.#ended());
    this.#socket.on('error', (err) => this.#fail(new CallFailed('network', err.message)));
    this.#socket.on('close', () => this.#fail(new CallFailed('network', 'the connection closed')));
  }

  get inFlight(): number {
    return this.#pending.length - this.#head;
  }

  /** How many more calls may be sent now: none while closing or while a first answer is awaited. */
  get room(): number {
    if (this.#closed || this.#draining) return 0;
    if (this.#oneShot) return this.#sent === 0 ? 1 : 0;
    return this.#persistent ? MAX_PIPELINE - this.inFlight : this.inFlight === 0 ? 1 : 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one call (`body` is `bytes` long in UTF-8); `done` once, with its answer or why it failed. */
  call(body: string, bytes: number, timeoutMs: number, done: CallDone): void {
    if (this.#closed) {
      done(new CallFailed('network', 'the connection is closed'), null);
      return;
    }
    this.#sent++;
    const deadline = performance.now() + timeoutMs;
    this.#pending.push({ deadline, timeoutMs, done });
    this.#out += `${this.#prefix}${bytes}\r\n\r\n${body}`;
    if (!this.#scheduled) {
      this.#scheduled = true;
      flushLater(this);
    }
    if (this.#timer === null || this.#timerAt > deadline) this.#arm(timeoutMs);
  }

  /** Writes what was queued this turn, in one write. */
  flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#out === '') return;
    const out = this.#out;
    this.#out = '';
    this.#socket.write(out);
  }

  destroy(): void {
    this.#fail(new CallFailed('network', 'the connection was closed by the hub'));
  }

  #arm(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    const wait = Math.max(1, Math.ceil(ms));
    this.#timerAt = performance.now() + wait;
    this.#timer = setTimeout(() => this.#tick(), wait);
    this.#timer.unref();
  }

  /** The oldest call past its deadline fails the connection; an idle connection past idleMs closes. */
  #tick(): void {
    this.#timer = null;
    if (this.#closed) return;
    const now = performance.now();
    if (this.inFlight > 0) {
      const head = this.#pending[this.#head]!;
      if (head.deadline <= now + 1) {
        this.#fail(new CallFailed('timeout', `no answer within ${head.timeoutMs} ms`));
        return;
      }
      this.#arm(head.deadline - now);
    } else if (now - this.#idleSince >= this.#idleMs) {
      this.destroy();
    } else {
      this.#arm(this.#idleSince + this.#idleMs - now);
    }
  }

  #data(chunk: Buffer): void {
    if (this.#closed) return;
    let buf = this.#buf === null ? chunk : Buffer.concat([this.#buf, chunk]);
    let at = 0;
    let start = -1;
    while (at < buf.length && !this.#closed) {
      if (this.#reading === null) {
        const whole = this.#lastWhole;
        if (whole !== null && this.inFlight > 0 && buf.length - at >= whole.length && buf.compare(whole, 0, whole.length, at, at + whole.length) === 0) {
          at += whole.length;
          this.#done().done(null, this.#lastAnswer);
          continue;
        }
        start = at;
        const end = headEnd(buf, at);
        if (end === -1 && buf.length - at <= MAX_HEAD_BYTES) break;
        const fields = end > 0 && end - at <= MAX_HEAD_BYTES ? this.#heads.read(buf, at, end - 4) : null;
        const status = fields ? /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(fields.start) : null;
        if (!fields || !status || this.inFlight === 0) {
          this.#fail(new CallFailed('malformed', 'not an HTTP answer'));
          return;
        }
        at = end;
        const code = Number(status[2]);
        if (code >= 100 && code < 200) continue; // an interim answer (100 Continue)
        const http11 = status[1] === '1';
        this.#reading = {
          status: code, contentType: fields.contentType, parts: [], size: 0,
          keepAlive: !fields.close && (http11 || fields.keepAlive) && (fields.chunked || fields.contentLength >= 0),
          left: fields.chunked ? -1 : fields.contentLength >= 0 ? fields.contentLength : -2,
          chunked: fields.chunked ? new ChunkedReader((c) => this.#take(c)) : null,
        };
        if (fields.contentLength > MAX_ANSWER_BYTES) {
          this.#fail(new CallFailed('malformed', `answer over ${MAX_ANSWER_BYTES} bytes`));
          return;
        }
      }
      const r = this.#reading;
      if (r.left === -1) {
        const used = r.chunked!.push(buf, at);
        if (used < 0) {
          this.#fail(new CallFailed('malformed', 'malformed chunked answer'));
          return;
        }
        at += used;
        if (this.#closed) return;
        if (!r.chunked!.done) break;
      } else if (r.left === -2) {
        this.#take(buf.subarray(at));
        at = buf.length;
        break;
      } else {
        const n = Math.min(r.left, buf.length - at);
        if (n > 0) this.#take(buf.subarray(at, at + n));
        if (this.#closed) return;
        r.left -= n;
        at += n;
        if (r.left > 0) break;
      }
      this.#wholeOk = false;
      this.#answered();
      // An answer read whole from this chunk that alone says what it is: the next one like it is matched by its bytes.
      if (this.#wholeOk && start >= 0 && at - start <= MAX_WHOLE_BYTES) this.#lastWhole = Buffer.from(buf.subarray(start, at));
      start = -1;
    }
    buf = at < buf.length ? buf.subarray(at) : Buffer.alloc(0);
    this.#buf = buf.length ? buf : null;
  }

  #take(chunk: Buffer): void {
    const r = this.#reading;
    if (r === null) return;
    r.size += chunk.length;
    if (r.size > MAX_ANSWER_BYTES) this.#fail(new CallFailed('malformed', `answer over ${MAX_ANSWER_BYTES} bytes`));
    else r.parts.push(chunk);
  }

  /** The answer in `#reading` is complete: to its call. */
  #answered(): void {
    const r = this.#reading!;
    this.#reading = null;
    const p = this.#done();
    if (r.keepAlive) this.#persistent = true;
    else this.#draining = true;
    if (r.status !== 200) p.done(new CallFailed('http', `HTTP ${r.status}`), null);
    else this.#settle(p.done, r.parts.length === 1 ? r.parts[0]! : Buffer.concat(r.parts, r.size), r.contentType, r.keepAlive && r.left === 0);
    if (!r.keepAlive) {
      // The rest were sent on a connection the satellite closes: it did not process them.
      for (const rest of this.#pending.splice(this.#head)) rest.done(new CallFailed('unprocessed', 'the satellite closed the connection'), null);
      this.#pending.length = 0;
      this.#head = 0;
      this.#close();
    }
  }

  /** The oldest call in flight, answered: off the list. */
  #done(): Pending {
    const p = this.#pending[this.#head]!;
    this.#pending[this.#head++] = undefined as unknown as Pending;
    if (this.#head === this.#pending.length) {
      this.#pending.length = 0;
      this.#head = 0;
      this.#idleSince = performance.now();
    } else if (this.#head > 1024) {
      this.#pending.splice(0, this.#head);
      this.#head = 0;
    }
    return p;
  }

  /** `repeatable`: the answer's bytes (kept alive, Content-Length framed) may stand for it when sent again. */
  #settle(done: CallDone, body: Buffer, contentType: string | undefined, repeatable: boolean): void {
    // Without a charset in the Content-Type the bytes alone make the answer.
    const bytesSayAll = contentType === undefined || !/charset/i.test(contentType);
    const last = this.#lastBody;
    if (bytesSayAll && last !== null && last.equals(body)) {
      this.#wholeOk = repeatable;
      done(null, this.#lastAnswer);
      return;
    }
    const decoded = decodeResponse(body, contentType);
    const answer: XmlRpcAnswer | null = decoded.ok ? decoded : decoded.fault ? { ok: false, fault: decoded.fault } : null;
    if (answer === null) {
      done(new CallFailed('malformed', (decoded as { message: string }).message), null);
      return;
    }
    if (bytesSayAll) {
      this.#lastBody = body.length <= 1024 ? Buffer.from(body) : null;
      this.#lastAnswer = answer;
    }
    this.#lastWhole = null;
    this.#wholeOk = bytesSayAll && repeatable;
    done(null, answer);
  }

  #ended(): void {
    if (this.#reading?.left === -2) this.#answered(); // an answer read until the connection closes
    this.#fail(new CallFailed('network', 'the satellite closed the connection'));
  }

  /** Fails every call in flight with `err` and closes. */
  #fail(err: CallFailed): void {
    if (this.#closed && this.inFlight === 0) return;
    const pending = this.#pending.splice(this.#head);
    this.#pending.length = 0;
    this.#head = 0;
    this.#close();
    // The oldest gets `err`; those sent behind it fail because the connection is gone.
    for (let i = 0; i < pending.length; i++) {
      pending[i]!.done(i === 0 || err.reason !== 'timeout' ? err : new CallFailed('network', 'the connection closed after an earlier call timed out'), null);
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = null;
    this.#buf = null;
    this.#out = '';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#socket.destroy();
    this.#onClose(this);
  }
}


/** Connections with requests to write, flushed once per turn of the event loop (after its I/O). */
const dirty: ClientConnection[] = [];

function flushLater(conn: ClientConnection): void {
  if (dirty.push(conn) === 1) setImmediate(flushAll);
}

function flushAll(): void {
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

/** One call on a connection of its own, closed after the answer (pings: seconds apart, and satellites often close anyway). */
export function postXmlRpc(to: Endpoint, body: string, timeoutMs: number): Promise<XmlRpcAnswer> {
  return new Promise((resolve, reject) => {
    const conn = new ClientConnection(to, { keepAlive: false, idleMs: timeoutMs });
    conn.call(body, Buffer.byteLength(body), timeoutMs, (err, answer) => {
      conn.destroy();
      if (err) reject(err);
      else resolve(answer!);
    });
  });
}
