// The SPSC ring over one SharedArrayBuffer: creation/attachment, batched claim/publish and read/release.
//
// Sequences are Int32 counters that wrap around 2^32; the number of records in flight is
// `(producerSequence - consumerSequence) | 0`, exact because it never exceeds capacity ≤ 2^30. Only the producer
// stores producerSequence and only the consumer stores consumerSequence (single writer); each side keeps a local
// copy of its own sequence and a cached copy of the other's, refreshed only when the cache says "full"/"empty".
// Record bytes are written with plain typed-array stores and made visible by the seq-cst Atomics.store of the
// sequence in publish()/release(): a reader that Atomics.loads the new sequence sees every byte written before it.

import {
  CAPACITY_MAX,
  CAPACITY_MIN,
  DATA_OFFSET_BYTES,
  RECORD_BYTES_MAX,
  RECORD_BYTES_MIN,
  RING_DATA_BYTES_MAX,
  RING_MAGIC,
  RING_VERSION,
  Word,
} from "./layout.ts";

export interface RingCreateOptions {
  /**
   * First sequence number (default 0). Any Int32 value works; tests start near 2^31 to drive the counters
   * through the signed and unsigned wrap-around points.
   */
  readonly startSequence?: number;
}

/** What a thread posts to another so that it can attach to the same ring (structured-clone safe). */
export interface RingHandle {
  readonly kind: "crossbook.ring";
  readonly name: string;
  readonly sab: SharedArrayBuffer;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

export class RingBuffer {
  readonly sab: SharedArrayBuffer;
  readonly recordBytes: number;
  readonly capacity: number;
  /** capacity - 1: slot index = sequence & mask. */
  readonly mask: number;
  /** Byte offset of slot 0 in `sab`. */
  readonly dataOffset: number;

  /** Views over the whole SAB; index them with `slotOffset(i) + fieldOffset` >> 2 (i32/u32) or >> 3 (f64/i64). */
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly i64: BigInt64Array;
  readonly u8: Uint8Array;
  readonly view: DataView;

  // Producer-side state (used only by the thread that produces).
  private producerNext: number;
  private consumerSequenceCached: number;
  private claimed = 0;

  // Consumer-side state (used only by the thread that consumes).
  private consumerNext: number;
  private producerSequenceCached: number;

  private constructor(sab: SharedArrayBuffer, recordBytes: number, capacity: number) {
    this.sab = sab;
    this.recordBytes = recordBytes;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.dataOffset = DATA_OFFSET_BYTES;
    this.i32 = new Int32Array(sab);
    this.u32 = new Uint32Array(sab);
    this.f64 = new Float64Array(sab);
    this.i64 = new BigInt64Array(sab);
    this.u8 = new Uint8Array(sab);
    this.view = new DataView(sab);
    const producerSequence = Atomics.load(this.i32, Word.producerSequence);
    const consumerSequence = Atomics.load(this.i32, Word.consumerSequence);
    this.producerNext = producerSequence;
    this.consumerSequenceCached = consumerSequence;
    this.consumerNext = consumerSequence;
    this.producerSequenceCached = producerSequence;
  }

  /** Bytes of the SharedArrayBuffer for a ring of this shape (header included). */
  static bytesFor(recordBytes: number, capacity: number): number {
    if (!Number.isInteger(recordBytes) || recordBytes < RECORD_BYTES_MIN || recordBytes > RECORD_BYTES_MAX || recordBytes % 8 !== 0) {
      throw new RangeError(
        `ring recordBytes must be a multiple of 8 in [${RECORD_BYTES_MIN}, ${RECORD_BYTES_MAX}], got ${recordBytes}`,
      );
    }
    if (!Number.isInteger(capacity) || capacity < CAPACITY_MIN || capacity > CAPACITY_MAX || !isPowerOfTwo(capacity)) {
      throw new RangeError(`ring capacity must be a power of two in [${CAPACITY_MIN}, 2^30], got ${capacity}`);
    }
    const dataBytes = recordBytes * capacity;
    if (dataBytes > RING_DATA_BYTES_MAX) {
      throw new RangeError(
        `ring data region ${recordBytes} B × ${capacity} slots = ${dataBytes} B exceeds ${RING_DATA_BYTES_MAX} B`,
      );
    }
    return DATA_OFFSET_BYTES + dataBytes;
  }

  /** Allocates a new, empty ring. Setup only. */
  static create(recordBytes: number, capacity: number, options?: RingCreateOptions): RingBuffer {
    const bytes = RingBuffer.bytesFor(recordBytes, capacity);
    const start = options?.startSequence ?? 0;
    if (!Number.isInteger(start) || start < -(2 ** 31) || start > 2 ** 32 - 1) {
      throw new RangeError(`ring startSequence must be a 32-bit integer, got ${start}`);
    }
    const sab = new SharedArrayBuffer(bytes);
    const i32 = new Int32Array(sab);
    i32[Word.magic] = RING_MAGIC;
    i32[Word.version] = RING_VERSION;
    i32[Word.recordBytes] = recordBytes;
    i32[Word.capacity] = capacity;
    i32[Word.producerSequence] = start | 0;
    // The Atomics.store publishes the header (and the zeroed slots) to whoever attaches after a postMessage.
    Atomics.store(i32, Word.consumerSequence, start | 0);
    return new RingBuffer(sab, recordBytes, capacity);
  }

  /** Attaches to a ring created elsewhere (e.g. a SAB received through workerData). Setup only. */
  static attach(source: SharedArrayBuffer | RingHandle): RingBuffer {
    const sab = source instanceof SharedArrayBuffer ? source : source?.sab;
    if (!(sab instanceof SharedArrayBuffer)) {
      throw new TypeError("RingBuffer.attach needs a SharedArrayBuffer or a RingHandle");
    }
    if (sab.byteLength < DATA_OFFSET_BYTES) {
      throw new RangeError(`not a ring: ${sab.byteLength} B is smaller than the ${DATA_OFFSET_BYTES} B header`);
    }
    const i32 = new Int32Array(sab);
    if (Atomics.load(i32, Word.magic) !== RING_MAGIC) throw new RangeError("not a ring: bad magic word");
    const version = Atomics.load(i32, Word.version);
    if (version !== RING_VERSION) throw new RangeError(`ring version ${version}, this code reads ${RING_VERSION}`);
    const recordBytes = Atomics.load(i32, Word.recordBytes);
    const capacity = Atomics.load(i32, Word.capacity);
    const bytes = RingBuffer.bytesFor(recordBytes, capacity);
    if (bytes !== sab.byteLength) {
      throw new RangeError(`ring header says ${bytes} B (${recordBytes} B × ${capacity}) but the buffer is ${sab.byteLength} B`);
    }
    return new RingBuffer(sab, recordBytes, capacity);
  }

  // ---- producer ----

  /**
   * Claims up to `n` free slots for writing and returns how many were claimed (0 when the ring is full).
   * A new claim replaces an unpublished one (claimed slots are invisible to the consumer until publish).
   */
  tryClaim(n: number): number {
    if (!(n > 0)) {
      this.claimed = 0;
      return 0;
    }
    const next = this.producerNext;
    let free = this.capacity - ((next - this.consumerSequenceCached) | 0);
    if (free < n) {
      this.consumerSequenceCached = Atomics.load(this.i32, Word.consumerSequence);
      free = this.capacity - ((next - this.consumerSequenceCached) | 0);
    }
    this.claimed = n < free ? n : free;
    return this.claimed;
  }

  /** Byte offset of claimed slot `i` (0 ≤ i < claimed count). */
  slotOffset(i: number): number {
    return this.dataOffset + ((this.producerNext + i) & this.mask) * this.recordBytes;
  }

  /**
   * Makes the first `n` claimed slots visible to the consumer with one store, and wakes the consumer only if
   * it has parked (and `wake`: a producer that publishes part of a batch may leave a parked consumer asleep until
   * its batch end, which publishes with a wake). Unpublished claimed slots are dropped.
   */
  publish(n: number, wake = true): void {
    if (!(n >= 0 && n <= this.claimed)) {
      throw new RangeError(`ring publish(${n}) but ${this.claimed} slots are claimed`);
    }
    this.claimed = 0;
    if (n === 0) return;
    const next = (this.producerNext + n) | 0;
    this.producerNext = next;
    Atomics.store(this.i32, Word.producerSequence, next);
    // Dekker pairing with the consumer's park: store sequence, then load flag (see wait.ts).
    if (wake && Atomics.load(this.i32, Word.consumerParked) !== 0) Atomics.notify(this.i32, Word.producerSequence, 1);
  }

  /** Free slots as the producer sees them now (reloads the consumer's sequence). */
  freeSlots(): number {
    this.consumerSequenceCached = Atomics.load(this.i32, Word.consumerSequence);
    return this.capacity - ((this.producerNext - this.consumerSequenceCached) | 0);
  }

  // ---- consumer ----

  /** Records published and not yet released (reloads the producer's sequence). */
  available(): number {
    this.producerSequenceCached = Atomics.load(this.i32, Word.producerSequence);
    return (this.producerSequenceCached - this.consumerNext) | 0;
  }

  /** Byte offset of available record `i` (0 ≤ i < available()). */
  readOffset(i: number): number {
    return this.dataOffset + ((this.consumerNext + i) & this.mask) * this.recordBytes;
  }

  /** Returns the first `n` read records' slots to the producer with one store; wakes it only if parked. */
  release(n: number): void {
    if (!(n >= 0 && n <= ((this.producerSequenceCached - this.consumerNext) | 0))) {
      throw new RangeError(
        `ring release(${n}) but ${(this.producerSequenceCached - this.consumerNext) | 0} records were available`,
      );
    }
    if (n === 0) return;
    const next = (this.consumerNext + n) | 0;
    this.consumerNext = next;
    Atomics.store(this.i32, Word.consumerSequence, next);
    if (Atomics.load(this.i32, Word.producerParked) !== 0) Atomics.notify(this.i32, Word.consumerSequence, 1);
  }

  // ---- both ----

  /** The producer's published sequence (wraps at 2^32; compare with `(a - b) | 0`). */
  producerSequence(): number {
    return Atomics.load(this.i32, Word.producerSequence);
  }

  /** The consumer's released sequence (wraps at 2^32; compare with `(a - b) | 0`). */
  consumerSequence(): number {
    return Atomics.load(this.i32, Word.consumerSequence);
  }

  /** Marks the ring closed and wakes both sides; a consumer drains what was published, then waits return false. */
  close(): void {
    Atomics.store(this.i32, Word.closed, 1);
    Atomics.notify(this.i32, Word.producerSequence);
    Atomics.notify(this.i32, Word.consumerSequence);
  }

  isClosed(): boolean {
    return Atomics.load(this.i32, Word.closed) !== 0;
  }

  /** A structured-clone-safe description to post to another thread (postMessage / workerData). */
  handle(name: string): RingHandle {
    return { kind: "crossbook.ring", name, sab: this.sab };
  }
}
