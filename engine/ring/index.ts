// Public face of engine/ring: SPSC ring buffers of fixed-size records over a SharedArrayBuffer, for hot-path
// traffic between worker_threads (DESIGN.md rule 2), with Disruptor-style batched claim/publish and wait strategies.
//
// ## API
//
// ```ts
// class RingBuffer {
//   static create(recordBytes: number, capacity: number, options?: { startSequence?: number }): RingBuffer;
//   static attach(source: SharedArrayBuffer | RingHandle): RingBuffer;   // header carries recordBytes, capacity
//   static bytesFor(recordBytes: number, capacity: number): number;
//   readonly sab: SharedArrayBuffer; readonly recordBytes: number; readonly capacity: number; readonly mask: number;
//   readonly dataOffset: number;                                         // byte offset of slot 0
//   readonly i32: Int32Array; u32: Uint32Array; f64: Float64Array; i64: BigInt64Array; u8: Uint8Array; view: DataView;
//   // producer
//   tryClaim(n: number): number;      // claims up to n free slots; returns how many (0 = full)
//   slotOffset(i: number): number;    // byte offset of claimed slot i
//   publish(n: number): void;         // one Atomics.store for the batch; notify only if the consumer is parked
//   freeSlots(): number;
//   // consumer
//   available(): number;              // records ready to read
//   readOffset(i: number): number;    // byte offset of available record i
//   release(n: number): void;         // one Atomics.store; notify only if the producer is parked
//   // both
//   producerSequence(): number; consumerSequence(): number; close(): void; isClosed(): boolean;
//   handle(name: string): RingHandle;
// }
// interface WaitStrategy { name; spinIterations; parkSliceMs; waitForData; waitForSpace; waitForDataAsync; waitForSpaceAsync }
// class SpinThenParkWait implements WaitStrategy { constructor(options?: { spinIterations?: number; parkSliceMs?: number }) }
// class BlockingWait extends SpinThenParkWait { constructor(options?: { parkSliceMs?: number }) }   // spins 0
// function waitForData(ring, strategy, timeoutMs, minCount = 1): boolean;
// function waitForSpace(ring, strategy, timeoutMs, minFree = 1): boolean;
// function waitForDataAsync(ring, strategy, timeoutMs, minCount = 1): Promise<boolean>;   // Atomics.waitAsync
// function waitForSpaceAsync(ring, strategy, timeoutMs, minFree = 1): Promise<boolean>;
// function postRing(target: { postMessage(m: unknown): void }, ring, name): void;
// function receiveRing(message: unknown): { name, ring } | null;  function isRingHandle(v: unknown): v is RingHandle;
// ```
//
// ## Use
//
// ```ts
// // producer thread                                  // consumer thread
// let n = ring.tryClaim(batch);                        let n = ring.available();
// if (n === 0) { waitForSpace(ring, wait, 50); ... }   if (n === 0) { waitForData(ring, wait, 50); ... }
// for (let i = 0; i < n; i++) {                        for (let i = 0; i < n; i++) {
//   const w = ring.slotOffset(i) >> 2;                   const w = ring.readOffset(i) >> 2;
//   ring.i32[w] = kind; ring.i32[w + 1] = account;       handle(ring.i32[w], ring.i32[w + 1], ...);
//   ring.i64[(ring.slotOffset(i) + 8) >> 3] = qty;     }
// }                                                    ring.release(n);
// ring.publish(n);
// ```
//
// ## Sequences
//
// Producer and consumer sequences are Int32 words that count records and wrap around 2^32 (so a ring lives
// through any number of records). Every comparison is a difference `(a - b) | 0`, which is exact while the two
// are at most 2^31 - 1 apart; they are at most `capacity` ≤ 2^30 apart. The chosen alternative, two 32-bit
// halves, would need two stores per publish or a 64-bit BigInt64 atomic (allocating a bigint on every load).
//
// ## Threads
//
// One thread produces and one consumes; each attaches its own RingBuffer object to the same SAB (the side's
// local cursors live in that object). Records are valid to read between available() and release(); copy out
// what must outlive the release. Limits: recordBytes a multiple of 8 in [8, 65536], capacity a power of two in
// [2, 2^30], data region ≤ 1 GiB; violations throw at create/attach (setup only).

export {
  CAPACITY_MAX,
  CAPACITY_MIN,
  DATA_OFFSET_BYTES,
  HEADER_BLOCK_BYTES,
  RECORD_BYTES_MAX,
  RECORD_BYTES_MIN,
  RING_DATA_BYTES_MAX,
} from "./layout.ts";
export { RingBuffer, type RingCreateOptions, type RingHandle } from "./ring-buffer.ts";
export {
  ADAPTIVE_SHORT_PARK_MS_DEFAULT,
  ADAPTIVE_SPIN_ITERATIONS_MIN_DEFAULT,
  AdaptiveSpinThenParkWait,
  type AdaptiveSpinOptions,
  BlockingWait,
  PARK_SLICE_MS_DEFAULT,
  SPIN_ITERATIONS_DEFAULT,
  SpinThenParkWait,
  type SpinThenParkOptions,
  type WaitStrategy,
  waitForData,
  waitForDataAsync,
  waitForSpace,
  waitForSpaceAsync,
} from "./wait.ts";
export { isRingHandle, type MessageTarget, postRing, receiveRing } from "./transfer.ts";
