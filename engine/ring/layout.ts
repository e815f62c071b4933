// Byte layout of a ring's SharedArrayBuffer header and the limits every ring is checked against.
//
// Each word that one thread writes and the other polls sits alone on its own 128-byte block: 64 bytes is one
// cache line, and the second line keeps x86's adjacent-line prefetcher from pairing it with a neighbour (the
// Disruptor pads the same way). The metadata block is written once at creation and read-only afterwards.

/** Bytes between two contended header words (two 64-byte cache lines). */
export const HEADER_BLOCK_BYTES = 128;
const BLOCK_WORDS = HEADER_BLOCK_BYTES / 4;

/** Int32 word indexes of the header. */
export const Word = {
  /** Block 0 (read-only after create, except `closed`). */
  magic: 0,
  version: 1,
  recordBytes: 2,
  capacity: 3,
  /** 0 = open, 1 = closed: no more records will be published / consumed; waiters return promptly. */
  closed: 4,
  /** Block 1: next sequence the producer will publish (= count of records published), written by the producer. */
  producerSequence: BLOCK_WORDS,
  /** Block 2: next sequence the consumer will read (= count of records released), written by the consumer. */
  consumerSequence: 2 * BLOCK_WORDS,
  /** Block 3: 1 while the consumer is (about to be) parked in Atomics.wait on producerSequence. */
  consumerParked: 3 * BLOCK_WORDS,
  /** Block 4: 1 while the producer is (about to be) parked in Atomics.wait on consumerSequence. */
  producerParked: 4 * BLOCK_WORDS,
} as const;

/** Byte offset of slot 0; a multiple of 128 so records are 8-byte (and cache-line) aligned. */
export const DATA_OFFSET_BYTES = 5 * HEADER_BLOCK_BYTES;

/** "RING" in ASCII, so attaching to a buffer that is not a ring fails loudly. */
export const RING_MAGIC = 0x52494e47;
export const RING_VERSION = 1;

/** Smallest and largest record; records are a multiple of 8 bytes so Float64/BigInt64 fields stay aligned. */
export const RECORD_BYTES_MIN = 8;
export const RECORD_BYTES_MAX = 65_536;
/** Slots: a power of two in [2, 2^30]; 2^30 keeps `(a - b) | 0` on Int32 sequences exact (see index.ts). */
export const CAPACITY_MIN = 2;
export const CAPACITY_MAX = 2 ** 30;
/** Largest data region of one ring (1 GiB); rings are allocated once at start-up. */
export const RING_DATA_BYTES_MAX = 2 ** 30;
