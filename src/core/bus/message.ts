/**
 * What travels on the bus: a payload (JSON text or raw bytes, converted only when a receiver needs
 * the other form) inside a message with its sender, where it goes, its sequence number and times.
 * A message is encoded at most once per codec however many receivers it has: each face's codec
 * asks `encoded(codec)` and gets the bytes the first receiver of that codec made.
 */
import { MusterError } from '../../errors.js';
import { copyWords } from './copy-words.js';

export type MessageKind = 'publish' | 'broadcast' | 'send';

/** Microsecond times the sender, its SDK and the hub set. */
export interface Times {
  created?: number;
  sent?: number;
}

/**
 * What a face knows about a payload from its own wire format, carried with it so that the bytes
 * keep their meaning on other faces (RSB: the event's wire schema, such as `.pkg.Message`).
 */
export interface PayloadMeta {
  /** The face the payload came in through. */
  readonly face: string;
  /** What the payload is in its sender's terms (an RSB wire schema). */
  readonly schema: string;
}

/** Payloads up to this long are copied out of their frame four bytes at a time; longer ones through a view. */
const COPY_BY_WORDS_MAX = 256;

export class BusPayload {
  readonly isBytes: boolean;
  readonly size: number;
  /** Set by the face a payload came in through; null for native payloads. */
  readonly meta: PayloadMeta | null;
  #json: string | null;
  #base64: string | null;
  #raw: Uint8Array | null;
  /** The frame the bytes are in, from #start (inFrame): a view of them is made only when asked for. */
  #frame: DataView | null = null;
  #start = 0;

  private constructor(isBytes: boolean, size: number, json: string | null, base64: string | null, raw: Uint8Array | null, meta: PayloadMeta | null = null) {
    this.isBytes = isBytes;
    this.size = size;
    this.#json = json;
    this.#base64 = base64;
    this.#raw = raw;
    this.meta = meta;
  }

  static json(text: string, meta: PayloadMeta | null = null): BusPayload {
    return new BusPayload(false, Buffer.byteLength(text), text, null, null, meta);
  }

  static base64(b64: string): BusPayload {
    const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    return new BusPayload(true, (b64.length / 4) * 3 - pad, null, b64, null);
  }

  /** Raw bytes, or UTF-8 JSON text as bytes (already checked by the caller). */
  static raw(bytes: Uint8Array, isBytes: boolean, meta: PayloadMeta | null = null): BusPayload {
    return new BusPayload(isBytes, bytes.byteLength, null, null, bytes, meta);
  }

  /**
   * Bytes [start, end) of a frame read off the wire, as raw does. No view of them is made unless
   * one is asked for: making a Uint8Array view costs more than copying a short payload (copyTo).
   */
  static inFrame(frame: DataView, start: number, end: number, isBytes: boolean): BusPayload {
    const p = new BusPayload(isBytes, end - start, null, null, null);
    p.#frame = frame;
    p.#start = start;
    return p;
  }

  /** A JSON value as a payload; `{bytes: base64}` stays JSON (use payloadOf for bus params). */
  static of(value: unknown): BusPayload {
    return BusPayload.json(JSON.stringify(value ?? null));
  }

  /** The JSON text of a JSON payload. */
  get jsonText(): string {
    if (this.#json !== null) return this.#json;
    const raw = this.raw;
    return (this.#json = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  }

  get base64(): string {
    if (this.#base64 !== null) return this.#base64;
    const raw = this.raw;
    return (this.#base64 = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64'));
  }

  get raw(): Uint8Array {
    if (this.#raw) return this.#raw;
    const f = this.#frame;
    if (f) this.#raw = new Uint8Array(f.buffer, f.byteOffset + this.#start, this.size);
    else this.#raw = this.isBytes ? Buffer.from(this.#base64!, 'base64') : Buffer.from(this.#json!);
    return this.#raw;
  }

  /** Copies the payload's bytes into `buf` (`view` is a DataView over the same memory) at `at`, for a face encoding a record around them. */
  copyTo(buf: Uint8Array, view: DataView, at: number): void {
    const f = this.#frame;
    if (f !== null && this.size <= COPY_BY_WORDS_MAX) copyWords(f, this.#start, view, at, this.size);
    else buf.set(this.raw, at);
  }

  /** As a JSON value: bytes become `{bytes: base64}`, an empty JSON payload null. */
  toJSONValue(): unknown {
    if (this.isBytes) return { bytes: this.base64 };
    const text = this.jsonText;
    return text.length === 0 ? null : (JSON.parse(text) as unknown);
  }
}

/** Turns a message into one face's wire form; a message remembers what each codec made of it. */
export interface MessageCodec<T> {
  readonly name: string;
  encode(message: BusMessage): T;
}

export class BusMessage {
  readonly type = 'bus' as const;
  // Most messages meet one or two codecs: two inline slots, a map past that.
  #codec0: MessageCodec<unknown> | null = null;
  #value0: unknown = null;
  #codec1: MessageCodec<unknown> | null = null;
  #value1: unknown = null;
  #more: Map<MessageCodec<unknown>, unknown> | null = null;

  constructor(
    readonly kind: MessageKind,
    readonly from: string,
    readonly scope: string | null,
    readonly to: string | null,
    readonly seq: number,
    /** Microseconds since the epoch: set by the sender, its SDK, and the hub. */
    readonly created: number,
    readonly sent: number,
    readonly received: number,
    readonly payload: BusPayload,
  ) {}

  encoded<T>(codec: MessageCodec<T>): T {
    if (this.#codec0 === codec) return this.#value0 as T;
    if (this.#codec1 === codec) return this.#value1 as T;
    if (this.#codec0 === null) {
      this.#codec0 = codec;
      return (this.#value0 = codec.encode(this)) as T;
    }
    if (this.#codec1 === null) {
      this.#codec1 = codec;
      return (this.#value1 = codec.encode(this)) as T;
    }
    const more = (this.#more ??= new Map());
    if (more.has(codec)) return more.get(codec) as T;
    const value = codec.encode(this);
    more.set(codec, value);
    return value;
  }

  /** The same message under another sender name (another hub sees the publisher as hub/name). */
  withSender(from: string): BusMessage {
    return new BusMessage(this.kind, from, this.scope, this.to, this.seq, this.created, this.sent, this.received, this.payload);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Builds the payload of params carrying `data` (any JSON value) or `bytes` (base64). */
export function payloadOf(p: { data?: unknown; bytes?: string }): BusPayload {
  if (p.bytes !== undefined) {
    if (p.data !== undefined) throw new MusterError('INVALID_PARAMS', 'Give data or bytes, not both');
    if (p.bytes.length % 4 !== 0 || !BASE64.test(p.bytes)) throw new MusterError('INVALID_PARAMS', 'params.bytes: not base64');
    return BusPayload.base64(p.bytes);
  }
  return BusPayload.of(p.data);
}

/** Microseconds since the epoch. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
