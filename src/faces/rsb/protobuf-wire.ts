/**
 * The protobuf wire format, just what RSB's Notification needs: varints, length-delimited
 * fields, skipping fields of any type. Hand-written rather than a library because the hub reads
 * only routing facts and forwards the client's bytes as they came (a library would decode into
 * objects and re-encode), and because proto2's required fields are checked by the caller, field
 * by field, with a reason for each refusal.
 */

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** Thrown by the reader on bytes that are not protobuf; callers turn it into their refusal. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

const TWO_32 = 2 ** 32;

/** A cursor over one message's bytes (a sub-reader for each nested message). */
export class WireReader {
  pos: number;
  readonly #buf: Uint8Array;
  readonly #end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf;
    this.pos = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.pos >= this.#end;
  }

  /**
   * A varint as a number: exact up to 2^53, which covers µs times and lengths; larger values
   * (and negative int64, ten bytes) lose precision but never throw.
   */
  varint(): number {
    const buf = this.#buf;
    let lo = 0;
    let shift = 0;
    let i = this.pos;
    // The first four bytes fit 28 bits: plain integer arithmetic.
    for (; shift < 28; shift += 7) {
      if (i >= this.#end) throw new WireError('truncated varint');
      const b = buf[i++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) { this.pos = i; return lo; }
    }
    let value = lo;
    let scale = 2 ** 28;
    for (let n = 4; n < 10; n++, scale *= 128) {
      if (i >= this.#end) throw new WireError('truncated varint');
      const b = buf[i++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) { this.pos = i; return value; }
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** A field's key: its number and wire type. */
  key(): { field: number; wire: number } {
    const k = this.varint();
    const field = Math.floor(k / 8);
    if (field === 0 || k >= TWO_32) throw new WireError(`bad field key ${k}`);
    return { field, wire: k & 7 };
  }

  /** The [start, end) of a length-delimited field's bytes; the cursor moves past it. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (len > this.#end - start) throw new WireError('length-delimited field runs past its message');
    this.pos = start + len;
    return [start, start + len];
  }

  /** Skips a field of a type the caller does not read (unknown fields are kept in the forwarded bytes anyway). */
  skip(wire: number): void {
    switch (wire) {
      case WIRE.VARINT: this.varint(); return;
      case WIRE.I64: this.#advance(8); return;
      case WIRE.LEN: this.span(); return;
      case WIRE.I32: this.#advance(4); return;
      default: throw new WireError(`wire type ${wire} is not allowed here`);
    }
  }

  #advance(n: number): void {
    if (this.#end - this.pos < n) throw new WireError('truncated fixed-width field');
    this.pos += n;
  }
}

// ---- writing --------------------------------------------------------------------------

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) { v = Math.floor(v / 128); n++; }
  return n;
}

/** A writer into a buffer sized beforehand (sizes are computed from the same fields). */
export class WireWriter {
  pos: number;
  readonly buf: Buffer;

  constructor(buf: Buffer, start = 0) {
    this.buf = buf;
    this.pos = start;
  }

  varint(v: number): void {
    const buf = this.buf;
    while (v >= 128) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[this.pos++] = v;
  }

  key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, value: Uint8Array): void {
    this.key(field, WIRE.LEN);
    this.varint(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  uint(field: number, value: number): void {
    this.key(field, WIRE.VARINT);
    this.varint(value);
  }
}

/** Bytes a length-delimited field takes: key, length, body. */
export function lenFieldSize(field: number, bodyLength: number): number {
  return varintSize(field * 8) + varintSize(bodyLength) + bodyLength;
}

/** Bytes a varint field takes. */
export function uintFieldSize(field: number, value: number): number {
  return varintSize(field * 8) + varintSize(value);
}
