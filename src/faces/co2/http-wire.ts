/**
 * HTTP/1.x on the wire, the little of it XML-RPC needs, for the face's own server and client
 * (http-server.ts, http-client.ts): a message head (start line and header fields) read strictly
 * (CRLF line ends, token names, no control characters, no obsolete line folding, one
 * Content-Length, Transfer-Encoding only as chunked) into the few fields that matter, and a
 * chunked body reader. Anything else about a head is refused as malformed, never guessed at.
 */

/** A head is at most this long (request or status line and fields), as Node's default. */
export const MAX_HEAD_BYTES = 16 * 1024;

export const CRLF2 = Buffer.from('\r\n\r\n');
const BARE_LF2 = Buffer.from('\n\n');

export interface HeadFields {
  /** The start line (request line or status line), as sent. */
  readonly start: string;
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The Connection header's close / keep-alive tokens. */
  readonly close: boolean;
  readonly keepAlive: boolean;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly expect: string | undefined;
  readonly host: boolean;
}

/** Where the head in `buf` ends (the index just past CRLF CRLF), -1 while incomplete, -2 for bare LF line ends. */
export function headEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf(CRLF2, from);
  if (i >= 0) return i + 4;
  return buf.indexOf(BARE_LF2, from) >= 0 ? -2 : -1;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^\d{1,15}$/;

/** Reads the head `text` (latin1, without the final CRLF CRLF); null when malformed. */
export function parseHead(text: string): HeadFields | null {
  let at = text.indexOf('\r\n');
  const start = at < 0 ? text : text.slice(0, at);
  let contentLength = -1;
  let chunked = false;
  let close = false;
  let keepAlive = false;
  let contentType: string | undefined;
  let contentEncoding: string | undefined;
  let expect: string | undefined;
  let host = false;
  while (at >= 0) {
    const from = at + 2;
    at = text.indexOf('\r\n', from);
    const line = at < 0 ? text.slice(from) : text.slice(from, at);
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name) || !FIELD_VALUE.test(line)) return null;
    const value = line.slice(colon + 1).trim();
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') host = true;
        break;
      case 6:
        if (name.toLowerCase() === 'expect') expect ??= value;
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          for (const t of value.toLowerCase().split(',')) {
            const token = t.trim();
            if (token === 'close') close = true;
            else if (token === 'keep-alive') keepAlive = true;
          }
        }
        break;
      case 12:
        if (name.toLowerCase() === 'content-type') contentType ??= value;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (!DIGITS.test(value)) return null;
          const n = Number(value);
          if (contentLength >= 0 && contentLength !== n) return null;
          contentLength = n;
        }
        break;
      case 16:
        if (name.toLowerCase() === 'content-encoding') contentEncoding = contentEncoding === undefined ? value : `${contentEncoding}, ${value}`;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          // Only chunked (last) frames a body here; gzip and friends under it are not supported.
          if (value.toLowerCase() !== 'chunked' || chunked) return null;
          chunked = true;
        }
        break;
    }
  }
  return { start, contentLength, chunked, close, keepAlive, contentType, contentEncoding, expect, host };
}

/** The last head read on a connection and what it said: clients send the same head over and over. */
export class HeadCache {
  #bytes: Buffer | null = null;
  #fields: HeadFields | null = null;

  /** The head in `buf` from `from` to `to` (without the final CRLF CRLF); null when malformed. */
  read(buf: Buffer, from: number, to: number): HeadFields | null {
    const last = this.#bytes;
    if (last !== null && last.length === to - from && buf.compare(last, 0, last.length, from, to) === 0) return this.#fields;
    const fields = parseHead(buf.toString('latin1', from, to));
    if (fields) {
      this.#bytes = Buffer.from(buf.subarray(from, to));
      this.#fields = fields;
    }
    return fields;
  }
}

/**
 * A chunked body, read as it arrives: `push` takes the bytes after the head (or after the last
 * push's end) and says how many it used; `done` once the last chunk and the trailer are read.
 * The data goes to `onData`; a malformed chunk makes `push` return -1.
 */
export class ChunkedReader {
  done = false;
  /** Bytes of the current chunk still to come; -1 while reading a size line, -2 for the CRLF after data. */
  #left = -1;
  #trailer = false;

  constructor(private readonly onData: (chunk: Buffer) => void) {}

  push(buf: Buffer, from: number): number {
    let i = from;
    while (!this.done && i < buf.length) {
      if (this.#left > 0) {
        const n = Math.min(this.#left, buf.length - i);
        this.onData(buf.subarray(i, i + n));
        this.#left -= n;
        i += n;
        if (this.#left === 0) this.#left = -2;
        continue;
      }
      const eol = buf.indexOf('\r\n', i);
      if (eol < 0) return buf.length - i > 1024 ? -1 : i - from;
      const line = buf.toString('latin1', i, eol);
      i = eol + 2;
      if (this.#left === -2) {
        if (line !== '') return -1;
        this.#left = -1;
      } else if (this.#trailer) {
        if (line === '') this.done = true;
        else if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/.test(line)) return -1;
      } else {
        const m = /^([0-9A-Fa-f]{1,8})[ \t]*(;[\t\x20-\x7e\x80-\xff]*)?$/.exec(line);
        if (!m) return -1;
        const size = parseInt(m[1]!, 16);
        if (size === 0) this.#trailer = true;
        else this.#left = size;
      }
    }
    return i - from;
  }
}
