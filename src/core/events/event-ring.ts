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
/** Slots made at first: a large retention that never fills costs no more than it holds (the arrays double as it fills). */
const FIRST_SLOTS = 1024;

export class EventRing {
  readonly #capacity: number;
  #revisions: Float64Array;
  #chunks: (Buffer | undefined)[];
  #starts: Int32Array;
  #lengths: Int32Array;
  /** Slot of the oldest kept event: 0 until the ring is full, so the arrays grow only while it is. */
  #head = 0;
  #count = 0;
  #chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #used = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
    const slots = Math.min(this.#capacity, FIRST_SLOTS);
    this.#revisions = new Float64Array(slots);
    this.#chunks = new Array<Buffer | undefined>(slots);
    this.#starts = new Int32Array(slots);
    this.#lengths = new Int32Array(slots);
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
    if (this.#count < this.#capacity) {
      if (this.#count === this.#revisions.length) this.#grow();
      slot = this.#count++;
    } else {
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

  /** Twice the slots (at most the capacity); only while not full, when slot i is the i-th oldest. */
  #grow(): void {
    const slots = Math.min(this.#capacity, this.#revisions.length * 2);
    const revisions = new Float64Array(slots);
    revisions.set(this.#revisions);
    this.#revisions = revisions;
    const starts = new Int32Array(slots);
    starts.set(this.#starts);
    this.#starts = starts;
    const lengths = new Int32Array(slots);
    lengths.set(this.#lengths);
    this.#lengths = lengths;
    this.#chunks.length = slots;
  }

  clear(): void {
    this.#chunks.fill(undefined);
    this.#head = 0;
    this.#count = 0;
    this.#chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.#used = 0;
  }
}
