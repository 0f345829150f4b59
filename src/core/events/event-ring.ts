/**
 * The event log's kept events, as bytes outside V8's heap. The log keeps its last 10,000 events
 * for replay: kept as strings and objects, each outlived two young-generation collections and was
 * copied twice (into the survivor space, then into the old generation) before it died there, at
 * every registration. Here an event is its revision in a typed array and its JSON's UTF-8 bytes
 * in a chunk of a few hundred KB, which the collector never copies; a chunk is let go once no slot
 * of the ring refers to it. Replays, rare, decode the JSON again.
 */

/** Bytes a chunk holds; an event longer than that gets a chunk of its own. */
const CHUNK_BYTES = 256 * 1024;
/** UTF-8 takes at most 3 bytes for each UTF-16 unit of a string. */
const MAX_UTF8_PER_UNIT = 3;

export class EventRing {
  readonly #capacity: number;
  readonly #revisions: Float64Array;
  readonly #chunks: (Buffer | undefined)[];
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;
  #head = 0; // slot of the oldest kept event
  #count = 0;
  #chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #used = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
    this.#revisions = new Float64Array(this.#capacity);
    this.#chunks = new Array<Buffer | undefined>(this.#capacity);
    this.#starts = new Int32Array(this.#capacity);
    this.#lengths = new Int32Array(this.#capacity);
  }

  get count(): number {
    return this.#count;
  }

  /** Keeps an event, dropping the oldest when full. */
  push(revision: number, json: string): void {
    const room = json.length * MAX_UTF8_PER_UNIT;
    if (this.#used + room > this.#chunk.length) {
      this.#chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, room));
      this.#used = 0;
    }
    let slot: number;
    if (this.#count < this.#capacity) slot = (this.#head + this.#count++) % this.#capacity;
    else {
      slot = this.#head;
      this.#head = (this.#head + 1) % this.#capacity;
    }
    const length = this.#chunk.write(json, this.#used, 'utf8');
    this.#revisions[slot] = revision;
    this.#chunks[slot] = this.#chunk;
    this.#starts[slot] = this.#used;
    this.#lengths[slot] = length;
    this.#used += length;
  }

  /** The revision of the i-th oldest kept event (i < count). */
  revisionAt(i: number): number {
    return this.#revisions[(this.#head + i) % this.#capacity]!;
  }

  /** The JSON of the i-th oldest kept event (i < count), decoded again. */
  jsonAt(i: number): string {
    const slot = (this.#head + i) % this.#capacity;
    const start = this.#starts[slot]!;
    return this.#chunks[slot]!.toString('utf8', start, start + this.#lengths[slot]!);
  }

  clear(): void {
    this.#chunks.fill(undefined);
    this.#head = 0;
    this.#count = 0;
    this.#chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.#used = 0;
  }
}
