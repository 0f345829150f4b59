/**
 * One RSB TCP socket, either side: frames in (decoded and checked, then handed on), frames out
 * (coalesced: the frames owed in one event-loop turn leave in one write), a bounded outbound
 * queue, and every way the stream can end, each with its reason. A refused frame ends only this
 * socket.
 */
import type { Socket } from 'node:net';
import { FrameReader, PREFIX_BYTES, type FrameSink } from './framing.js';
import { decodeNotification, isRefusal, type Notification } from './notification.js';

export interface SocketLimits {
  /** Largest Notification accepted, in bytes (the length prefix is checked before reading). */
  maxFrameBytes: number;
  /** A partial frame followed by this much silence ends the connection. */
  idleMs: number;
  /** Frames and bytes a receiver may have queued (including the kernel's unsent bytes). */
  queueMessages: number;
  queueBytes: number;
  /** Past the bound: lose the frame, or the connection. */
  slowPolicy: 'drop' | 'disconnect';
}

/** How a stream ended, each with a stable code for logs and the error counter. */
export const END = {
  clean: { code: null, text: 'closed by the peer' },
  zeroLength: { code: null, text: 'zero-length frame (the end of the connection, as RSB\'s Common Lisp client sends it)' },
  reset: { code: null, text: 'reset by the peer' },
  tooLarge: { code: 'PAYLOAD_TOO_LARGE', text: 'length prefix past the frame limit' },
  garbage: { code: 'INVALID_REQUEST', text: 'not a protobuf Notification' },
  missingRequired: { code: 'INVALID_REQUEST', text: 'Notification missing a required field' },
  badScope: { code: 'INVALID_SCOPE', text: 'scope is not a valid scope' },
  badHandshake: { code: 'INVALID_REQUEST', text: 'handshake was not 4 zero bytes' },
  idle: { code: 'REQUEST_TIMEOUT', text: 'half a frame, then silence past the idle timeout' },
  slow: { code: 'SLOW_CONSUMER', text: 'slow consumer: outbound queue full' },
  closedByHub: { code: null, text: 'closed by the hub' },
} as const;
export type EndKind = keyof typeof END;

export interface SocketHandlers {
  /** A checked Notification; `frame` is exactly the bytes read (prefix included). */
  frame(frame: Buffer, n: Notification): void;
  /** Once, when the socket is gone: how it ended and the detail. */
  ended(kind: EndKind, detail: string): void;
}

/** Merge small frames into one write; past this, frames are handed to the kernel as they are. */
const CONCAT_MAX_BYTES = 256 * 1024;

const dirty: RsbSocket[] = [];
let flushScheduled = false;
function flushDirty(): void {
  flushScheduled = false;
  for (const s of dirty.splice(0)) s.flush();
}

export class RsbSocket {
  readonly remote: string;
  readonly #socket: Socket;
  readonly #limits: SocketLimits;
  readonly #reader: FrameReader;
  #handlers: SocketHandlers | null = null;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Frames handed to the socket whose write has not completed. */
  #inflight = 0;
  #dirty = false;
  #ended: EndKind | null = null;
  #endDetail = '';

  constructor(socket: Socket, limits: SocketLimits) {
    this.#socket = socket;
    this.#limits = limits;
    this.#reader = new FrameReader(limits.maxFrameBytes);
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(limits.idleMs);
    socket.on('timeout', () => {
      // Quiet listeners may stay for hours; only a frame left half-sent is cut off.
      if (this.#reader.partialBytes > 0) this.end('idle', `${this.#reader.partialBytes} bytes of a frame, then ${limits.idleMs} ms of silence`);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#ended === null) { this.#ended = 'reset'; this.#endDetail = err.code ?? err.message; }
    });
    socket.on('end', () => { if (this.#ended === null) this.#ended = 'clean'; });
    socket.on('close', () => {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#reader.stop();
      const kind = this.#ended ?? 'reset';
      this.#ended = kind;
      this.#handlers?.ended(kind, this.#endDetail);
      this.#handlers = null;
    });
  }

  /** Starts reading; `preamble` bytes (after a client's handshake) are read first. */
  start(handlers: SocketHandlers, preamble?: Buffer): void {
    this.#handlers = handlers;
    const sink: FrameSink = {
      frame: (frame) => this.#onFrame(frame),
      end: () => this.end('zeroLength'),
      tooLarge: (length) => this.end('tooLarge', `${length} bytes announced, at most ${this.#limits.maxFrameBytes}`),
    };
    if (preamble?.length) this.#reader.push(preamble, sink);
    this.#socket.on('data', (chunk: Buffer) => this.#reader.push(chunk, sink));
  }

  get open(): boolean {
    return this.#ended === null && !this.#socket.destroyed;
  }

  get backlog(): { messages: number; bytes: number } {
    return { messages: this.#pending.length + this.#inflight, bytes: this.#pendingBytes + this.#socket.writableLength };
  }

  /** Queues a frame for this turn's write; false when the bound refused it (the policy applied). */
  queue(frame: Buffer): boolean {
    if (!this.open) return false;
    const l = this.#limits;
    const messages = this.#pending.length + this.#inflight;
    const bytes = this.#pendingBytes + this.#socket.writableLength;
    if (messages >= l.queueMessages || bytes + frame.length > l.queueBytes) {
      if (l.slowPolicy === 'disconnect') this.end('slow', `${messages} frames, ${bytes} bytes unsent`);
      return false;
    }
    this.#pending.push(frame);
    this.#pendingBytes += frame.length;
    if (!this.#dirty) {
      this.#dirty = true;
      dirty.push(this);
      if (!flushScheduled) { flushScheduled = true; setImmediate(flushDirty); }
    }
    return true;
  }

  /** Writes this turn's frames: one write when they are small, else handed over as they are. */
  flush(): void {
    this.#dirty = false;
    const frames = this.#pending;
    if (!frames.length || !this.open) return;
    const n = frames.length;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inflight += n;
    const done = () => { this.#inflight -= n; };
    if (n === 1) this.#socket.write(frames[0]!, done);
    else if (bytes <= CONCAT_MAX_BYTES) this.#socket.write(Buffer.concat(frames, bytes), done);
    else {
      this.#socket.cork();
      for (let i = 0; i < n - 1; i++) this.#socket.write(frames[i]!);
      this.#socket.write(frames[n - 1]!, done);
      this.#socket.uncork();
    }
  }

  /** Writes bytes now, ahead of nothing queued this turn (the handshake). */
  writeNow(bytes: Buffer): void {
    if (this.open) this.#socket.write(bytes);
  }

  /** Ends the stream for a reason: what is queued is flushed for a clean end, dropped otherwise. */
  end(kind: EndKind, detail = ''): void {
    if (this.#ended !== null) return;
    this.#ended = kind;
    this.#endDetail = detail;
    this.#reader.stop();
    if (kind === 'closedByHub' || kind === 'zeroLength' || kind === 'clean') {
      this.flush();
      this.#socket.end();
      // A peer that never reads would hold the socket open: cut it after a grace.
      setTimeout(() => this.#socket.destroy(), 2_000).unref();
    } else this.#socket.destroy();
  }

  #onFrame(frame: Buffer): void {
    const d = decodeNotification(frame, PREFIX_BYTES);
    if (isRefusal(d)) { this.end(d.kind === 'garbage' ? 'garbage' : 'missingRequired', d.detail); return; }
    this.#handlers?.frame(frame, d);
  }
}
