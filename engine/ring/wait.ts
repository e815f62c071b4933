// Wait strategies (Disruptor style, named and swappable) and the park/wake protocol between the two sides.
//
// No lost wake-ups: a waiting side (1) stores its "parked" flag, (2) loads the other side's sequence and
// re-checks, (3) Atomics.wait()s on that sequence word expecting the value it just loaded. The other side
// (a) stores its sequence, (b) loads the flag and notifies only if it is set. All of these are seq-cst, so
// either the waiter's re-check sees the new sequence, or the notifier sees the flag; and a notify that lands
// between (2) and (3) is not lost because Atomics.wait compares the word first and returns "not-equal".
// Every park is also bounded by `parkSliceMs`, so even a bug or a close() racing a park costs at most a slice.
// This box has 2 cores for 4+ threads: spinning only pays for a few µs, after that the other thread is
// probably descheduled and spinning would steal its core, so strategies spin briefly and park.

import { Word } from "./layout.ts";
import type { RingBuffer } from "./ring-buffer.ts";

export interface WaitStrategy {
  readonly name: string;
  /** Busy-poll iterations before parking (0 = park at once). */
  readonly spinIterations: number;
  /** Longest single Atomics.wait in ms; a safety net, wake-ups normally come from notify. */
  readonly parkSliceMs: number;
  /** Consumer side: waits until at least `minCount` records are available. False on timeout or closed ring. */
  waitForData(ring: RingBuffer, minCount: number, timeoutMs: number): boolean;
  /** Producer side: waits until at least `minFree` slots are free. False on timeout or closed ring. */
  waitForSpace(ring: RingBuffer, minFree: number, timeoutMs: number): boolean;
  /** waitForData without blocking the event loop (Atomics.waitAsync), for the main/gateway thread. */
  waitForDataAsync(ring: RingBuffer, minCount: number, timeoutMs: number): Promise<boolean>;
  /** waitForSpace without blocking the event loop. */
  waitForSpaceAsync(ring: RingBuffer, minFree: number, timeoutMs: number): Promise<boolean>;
}

/** Default spin budget: about 5–8 µs of polling on this machine (measured) before parking. */
export const SPIN_ITERATIONS_DEFAULT = 1_000;
/** Default longest park; wake-ups come from notify, this only bounds the cost of a missed one. */
export const PARK_SLICE_MS_DEFAULT = 10;

type WaitAsyncResult =
  | { async: false; value: "not-equal" | "timed-out" }
  | { async: true; value: Promise<"ok" | "timed-out"> };
type WaitAsyncFn = (typedArray: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult;
// ES2024 API, present in Node ≥ 16 but not in the ES2022 lib typings this project compiles against.
const atomicsWaitAsync = (Atomics as unknown as { waitAsync?: WaitAsyncFn }).waitAsync;

function checkCount(ring: RingBuffer, count: number, what: string): void {
  if (!Number.isInteger(count) || count < 1 || count > ring.capacity) {
    throw new RangeError(`${what} must be an integer in [1, ${ring.capacity}], got ${count}`);
  }
}

function checkTimeout(timeoutMs: number): void {
  if (!(timeoutMs >= 0)) throw new RangeError(`timeoutMs must be ≥ 0 (Infinity allowed), got ${timeoutMs}`);
}

function dataReady(ring: RingBuffer, minCount: number, spins: number): boolean {
  if (ring.available() >= minCount) return true;
  for (let i = 0; i < spins; i++) {
    if (ring.available() >= minCount) return true;
  }
  return false;
}

function spaceReady(ring: RingBuffer, minFree: number, spins: number): boolean {
  if (ring.freeSlots() >= minFree) return true;
  for (let i = 0; i < spins; i++) {
    if (ring.freeSlots() >= minFree) return true;
  }
  return false;
}

function parkForData(ring: RingBuffer, minCount: number, timeoutMs: number, sliceMs: number): boolean {
  const i32 = ring.i32;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (ring.isClosed()) return ring.available() >= minCount;
    Atomics.store(i32, Word.consumerParked, 1);
    const seen = Atomics.load(i32, Word.producerSequence);
    const remaining = deadline - performance.now();
    if (((seen - ring.consumerSequence()) | 0) >= minCount || remaining <= 0) {
      Atomics.store(i32, Word.consumerParked, 0);
      return ring.available() >= minCount;
    }
    Atomics.wait(i32, Word.producerSequence, seen, remaining < sliceMs ? remaining : sliceMs);
    Atomics.store(i32, Word.consumerParked, 0);
    if (ring.available() >= minCount) return true;
  }
}

function parkForSpace(ring: RingBuffer, minFree: number, timeoutMs: number, sliceMs: number): boolean {
  const i32 = ring.i32;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (ring.isClosed()) return false;
    Atomics.store(i32, Word.producerParked, 1);
    const seen = Atomics.load(i32, Word.consumerSequence);
    const remaining = deadline - performance.now();
    if (ring.capacity - ((ring.producerSequence() - seen) | 0) >= minFree || remaining <= 0) {
      Atomics.store(i32, Word.producerParked, 0);
      return ring.freeSlots() >= minFree;
    }
    Atomics.wait(i32, Word.consumerSequence, seen, remaining < sliceMs ? remaining : sliceMs);
    Atomics.store(i32, Word.producerParked, 0);
    if (ring.freeSlots() >= minFree) return true;
  }
}

function waitAsyncFn(): WaitAsyncFn {
  if (atomicsWaitAsync === undefined) throw new Error("Atomics.waitAsync is not available in this runtime");
  return atomicsWaitAsync;
}

async function parkForDataAsync(ring: RingBuffer, minCount: number, timeoutMs: number, sliceMs: number): Promise<boolean> {
  const waitAsync = waitAsyncFn();
  const i32 = ring.i32;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (ring.isClosed()) return ring.available() >= minCount;
    Atomics.store(i32, Word.consumerParked, 1);
    const seen = Atomics.load(i32, Word.producerSequence);
    const remaining = deadline - performance.now();
    if (((seen - ring.consumerSequence()) | 0) >= minCount || remaining <= 0) {
      Atomics.store(i32, Word.consumerParked, 0);
      return ring.available() >= minCount;
    }
    const result = waitAsync(i32, Word.producerSequence, seen, remaining < sliceMs ? remaining : sliceMs);
    if (result.async) await result.value;
    Atomics.store(i32, Word.consumerParked, 0);
    if (ring.available() >= minCount) return true;
  }
}

async function parkForSpaceAsync(ring: RingBuffer, minFree: number, timeoutMs: number, sliceMs: number): Promise<boolean> {
  const waitAsync = waitAsyncFn();
  const i32 = ring.i32;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (ring.isClosed()) return false;
    Atomics.store(i32, Word.producerParked, 1);
    const seen = Atomics.load(i32, Word.consumerSequence);
    const remaining = deadline - performance.now();
    if (ring.capacity - ((ring.producerSequence() - seen) | 0) >= minFree || remaining <= 0) {
      Atomics.store(i32, Word.producerParked, 0);
      return ring.freeSlots() >= minFree;
    }
    const result = waitAsync(i32, Word.consumerSequence, seen, remaining < sliceMs ? remaining : sliceMs);
    if (result.async) await result.value;
    Atomics.store(i32, Word.producerParked, 0);
    if (ring.freeSlots() >= minFree) return true;
  }
}

export interface SpinThenParkOptions {
  readonly spinIterations?: number;
  readonly parkSliceMs?: number;
}

/** Spin a bounded number of polls, then park in Atomics.wait (time-sliced). The default for worker threads. */
export class SpinThenParkWait implements WaitStrategy {
  readonly name: string = "spin-then-park";
  readonly spinIterations: number;
  readonly parkSliceMs: number;

  constructor(options?: SpinThenParkOptions) {
    const spinIterations = options?.spinIterations ?? SPIN_ITERATIONS_DEFAULT;
    const parkSliceMs = options?.parkSliceMs ?? PARK_SLICE_MS_DEFAULT;
    if (!Number.isInteger(spinIterations) || spinIterations < 0 || spinIterations > 10_000_000) {
      throw new RangeError(`spinIterations must be an integer in [0, 10^7], got ${spinIterations}`);
    }
    if (!(parkSliceMs > 0 && parkSliceMs <= 1_000)) {
      throw new RangeError(`parkSliceMs must be in (0, 1000], got ${parkSliceMs}`);
    }
    this.spinIterations = spinIterations;
    this.parkSliceMs = parkSliceMs;
  }

  waitForData(ring: RingBuffer, minCount: number, timeoutMs: number): boolean {
    checkCount(ring, minCount, "minCount");
    checkTimeout(timeoutMs);
    if (dataReady(ring, minCount, this.spinIterations)) return true;
    return parkForData(ring, minCount, timeoutMs, this.parkSliceMs);
  }

  waitForSpace(ring: RingBuffer, minFree: number, timeoutMs: number): boolean {
    checkCount(ring, minFree, "minFree");
    checkTimeout(timeoutMs);
    if (spaceReady(ring, minFree, this.spinIterations)) return true;
    return parkForSpace(ring, minFree, timeoutMs, this.parkSliceMs);
  }

  waitForDataAsync(ring: RingBuffer, minCount: number, timeoutMs: number): Promise<boolean> {
    checkCount(ring, minCount, "minCount");
    checkTimeout(timeoutMs);
    if (dataReady(ring, minCount, this.spinIterations)) return Promise.resolve(true);
    return parkForDataAsync(ring, minCount, timeoutMs, this.parkSliceMs);
  }

  waitForSpaceAsync(ring: RingBuffer, minFree: number, timeoutMs: number): Promise<boolean> {
    checkCount(ring, minFree, "minFree");
    checkTimeout(timeoutMs);
    if (spaceReady(ring, minFree, this.spinIterations)) return Promise.resolve(true);
    return parkForSpaceAsync(ring, minFree, timeoutMs, this.parkSliceMs);
  }
}

export interface AdaptiveSpinOptions {
  /** Smallest spin budget (polls) the strategy shrinks to; 0 = park at once once the producer has gone quiet. */
  readonly spinIterationsMin?: number;
  /** Largest spin budget (polls) it grows to while data keeps arriving just after it parks. */
  readonly spinIterationsMax?: number;
  readonly parkSliceMs?: number;
  /** A park that ends within this many ms would have been caught by a longer spin: the budget doubles. */
  readonly shortParkMs?: number;
  /**
   * What a longer park (or a timeout) does to the budget: "halve" (the default) or "floor" — back to the min at once.
   * "floor" is for a consumer fed in bursts at a slower pace (the fused engine worker, fed a journal group at each
   * write's start): with "halve", one short park inside a burst and one long park between bursts cancel out, so the
   * budget stays wherever it was (the max, from start-up) and every burst ends in a full spin that catches nothing.
   */
  readonly afterLongPark?: "halve" | "floor";
}

/** Default floor of the adaptive spin: one poll run of about half a µs before parking. */
export const ADAPTIVE_SPIN_ITERATIONS_MIN_DEFAULT = 100;
/**
 * Default "short park": data that came within 0.1 ms of parking (about what 20,000 polls cover here, wake-up
 * latency included) would have been caught by spinning, so the next spin may be longer.
 */
export const ADAPTIVE_SHORT_PARK_MS_DEFAULT = 0.1;

function checkSpinIterations(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000) throw new RangeError(`${what} must be an integer in [0, 10^7], got ${n}`);
}

/**
 * Spin-then-park whose spin budget follows the producer (one budget for data waits, one for space waits): a park that
 * ends within `shortParkMs` doubles the budget (up to the max: data comes in quick succession, spinning beats a
 * wake-up), a longer park or a timeout halves it (down to the min: the producer is idle or paced by something slow,
 * like an fsync, and spinning would only burn a core the producer's thread may need). A wait satisfied while spinning
 * keeps the budget. So a busy engine spins like a fixed 20,000-poll strategy, and an engine fed a batch a millisecond
 * parks after a few hundred ns instead of ~150 µs per batch. Timing only: what a wait returns is the same as
 * SpinThenParkWait's. For one thread (the budgets are plain fields).
 */
export class AdaptiveSpinThenParkWait implements WaitStrategy {
  readonly name: string = "adaptive-spin-then-park";
  readonly spinIterationsMin: number;
  readonly spinIterationsMax: number;
  readonly parkSliceMs: number;
  readonly shortParkMs: number;
  readonly afterLongPark: "halve" | "floor";
  private dataSpins: number;
  private spaceSpins: number;

  constructor(options?: AdaptiveSpinOptions) {
    const min = options?.spinIterationsMin ?? ADAPTIVE_SPIN_ITERATIONS_MIN_DEFAULT;
    const max = options?.spinIterationsMax ?? SPIN_ITERATIONS_DEFAULT;
    const parkSliceMs = options?.parkSliceMs ?? PARK_SLICE_MS_DEFAULT;
    const shortParkMs = options?.shortParkMs ?? ADAPTIVE_SHORT_PARK_MS_DEFAULT;
    checkSpinIterations(min, "spinIterationsMin");
    checkSpinIterations(max, "spinIterationsMax");
    if (max < min) throw new RangeError(`spinIterationsMax (${max}) must be ≥ spinIterationsMin (${min})`);
    if (!(parkSliceMs > 0 && parkSliceMs <= 1_000)) throw new RangeError(`parkSliceMs must be in (0, 1000], got ${parkSliceMs}`);
    if (!(shortParkMs >= 0 && shortParkMs <= parkSliceMs)) {
      throw new RangeError(`shortParkMs must be in [0, parkSliceMs = ${parkSliceMs}], got ${shortParkMs}`);
    }
    this.spinIterationsMin = min;
    this.spinIterationsMax = max;
    this.parkSliceMs = parkSliceMs;
    this.shortParkMs = shortParkMs;
    this.afterLongPark = options?.afterLongPark ?? "halve";
    this.dataSpins = max;
    this.spaceSpins = max;
  }

  /** The data-side spin budget the next wait uses. */
  get spinIterations(): number {
    return this.dataSpins;
  }

  /** The space-side spin budget the next wait uses. */
  get spaceSpinIterations(): number {
    return this.spaceSpins;
  }

  private adapted(spins: number, parkedAtMs: number, ready: boolean): number {
    if (ready && performance.now() - parkedAtMs <= this.shortParkMs) {
      const grown = spins === 0 ? 1 : spins * 2;
      return grown > this.spinIterationsMax ? this.spinIterationsMax : grown;
    }
    const shrunk = this.afterLongPark === "floor" ? 0 : spins >> 1;
    return shrunk < this.spinIterationsMin ? this.spinIterationsMin : shrunk;
  }

  waitForData(ring: RingBuffer, minCount: number, timeoutMs: number): boolean {
    checkCount(ring, minCount, "minCount");
    checkTimeout(timeoutMs);
    if (dataReady(ring, minCount, this.dataSpins)) return true;
    const parkedAtMs = performance.now();
    const ready = parkForData(ring, minCount, timeoutMs, this.parkSliceMs);
    this.dataSpins = this.adapted(this.dataSpins, parkedAtMs, ready);
    return ready;
  }

  waitForSpace(ring: RingBuffer, minFree: number, timeoutMs: number): boolean {
    checkCount(ring, minFree, "minFree");
    checkTimeout(timeoutMs);
    if (spaceReady(ring, minFree, this.spaceSpins)) return true;
    const parkedAtMs = performance.now();
    const ready = parkForSpace(ring, minFree, timeoutMs, this.parkSliceMs);
    this.spaceSpins = this.adapted(this.spaceSpins, parkedAtMs, ready);
    return ready;
  }

  async waitForDataAsync(ring: RingBuffer, minCount: number, timeoutMs: number): Promise<boolean> {
    checkCount(ring, minCount, "minCount");
    checkTimeout(timeoutMs);
    if (dataReady(ring, minCount, this.dataSpins)) return true;
    const parkedAtMs = performance.now();
    const ready = await parkForDataAsync(ring, minCount, timeoutMs, this.parkSliceMs);
    this.dataSpins = this.adapted(this.dataSpins, parkedAtMs, ready);
    return ready;
  }

  async waitForSpaceAsync(ring: RingBuffer, minFree: number, timeoutMs: number): Promise<boolean> {
    checkCount(ring, minFree, "minFree");
    checkTimeout(timeoutMs);
    if (spaceReady(ring, minFree, this.spaceSpins)) return true;
    const parkedAtMs = performance.now();
    const ready = await parkForSpaceAsync(ring, minFree, timeoutMs, this.parkSliceMs);
    this.spaceSpins = this.adapted(this.spaceSpins, parkedAtMs, ready);
    return ready;
  }
}

/** Park at once (no spinning): lowest CPU, highest wake-up latency. For idle or low-rate rings. */
export class BlockingWait extends SpinThenParkWait {
  override readonly name: string = "blocking";

  constructor(options?: { readonly parkSliceMs?: number }) {
    super({ spinIterations: 0, parkSliceMs: options?.parkSliceMs ?? PARK_SLICE_MS_DEFAULT });
  }
}

/** Consumer: true once at least `minCount` (default 1) records are available, false on timeout or closed ring. */
export function waitForData(ring: RingBuffer, strategy: WaitStrategy, timeoutMs: number, minCount = 1): boolean {
  return strategy.waitForData(ring, minCount, timeoutMs);
}

/** Producer: true once at least `minFree` (default 1) slots are free, false on timeout or closed ring. */
export function waitForSpace(ring: RingBuffer, strategy: WaitStrategy, timeoutMs: number, minFree = 1): boolean {
  return strategy.waitForSpace(ring, minFree, timeoutMs);
}

/** waitForData for the main thread: never blocks the event loop. */
export function waitForDataAsync(ring: RingBuffer, strategy: WaitStrategy, timeoutMs: number, minCount = 1): Promise<boolean> {
  return strategy.waitForDataAsync(ring, minCount, timeoutMs);
}

/** waitForSpace for the main thread: never blocks the event loop. */
export function waitForSpaceAsync(ring: RingBuffer, strategy: WaitStrategy, timeoutMs: number, minFree = 1): Promise<boolean> {
  return strategy.waitForSpaceAsync(ring, minFree, timeoutMs);
}
