/**
 * RSB's socket framing: a uint32 little-endian length, then that many bytes of Notification.
 * Pure: chunks of a TCP stream in, whole frames out. A frame that lies within one chunk is a view
 * of it (no copy), prefix included, so the hub can forward exactly the bytes it read.
 */

/** The 4 zero bytes a bus server sends on accept, in one write. */
export const HANDSHAKE = Buffer.alloc(4);
export const PREFIX_BYTES = 4;

/** Where a reader's frames go, in order. */
export interface FrameSink {
  /** A whole frame, prefix included: the Notification's bytes start at offset 4. */
  frame(frame: Buffer): void;
  /** A zero-length frame: RSB's Common Lisp client reads it as the end of the connection. */
  end(): void;
  /** A length prefix past the limit. */
  tooLarge(length: number): void;
}

export class FrameReader {
  readonly #maxBody: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #stopped = false;

  constructor(maxBodyBytes: number) {
    this.#maxBody = maxBodyBytes;
  }

  /** Bytes of an unfinished frame held (a half frame waits here until the idle timeout). */
  get partialBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Feeds a chunk; hands each whole frame to the sink, in order. After `end` or `tooLarge` the
   * reader stops: the stream is over. No allocation per frame but its view.
   */
  push(chunk: Buffer, sink: FrameSink): void {
    if (this.#stopped) return;
    let buf = chunk;
    if (this.#pendingBytes) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      // A big frame arrives in many chunks: join them once, when the frame is whole.
      if (this.#pendingBytes >= PREFIX_BYTES) {
        const head = this.#pending[0]!.length >= PREFIX_BYTES ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
        const length = head.readUInt32LE(0);
        if (length > 0 && length <= this.#maxBody && this.#pendingBytes < PREFIX_BYTES + length) return;
      } else return;
      buf = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let pos = 0;
    while (buf.length - pos >= PREFIX_BYTES) {
      const length = buf.readUInt32LE(pos);
      if (length === 0) { this.#stop(); sink.end(); return; }
      if (length > this.#maxBody) { this.#stop(); sink.tooLarge(length); return; }
      const end = pos + PREFIX_BYTES + length;
      if (end > buf.length) break;
      sink.frame(buf.subarray(pos, end));
      if (this.#stopped) return;
      pos = end;
    }
    if (pos < buf.length) {
      // Copied: holding a view would keep the whole chunk alive for the sake of a few bytes.
      const rest = Buffer.from(buf.subarray(pos));
      this.#pending = [rest];
      this.#pendingBytes = rest.length;
    }
  }

  /** Stops reading (the connection is being closed for another reason). */
  stop(): void {
    this.#stop();
  }

  #stop(): void {
    this.#stopped = true;
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}
