// A fixed-size ring of the last N samples with a running sum: P3's 5-minute moving means of mark and premium (O6, O7).

import { divRound, Rounding } from "../fixed/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";

/** P3: 5 minutes of one sample per second. */
export const MOVING_MEAN_SAMPLES_DEFAULT = 300;
/** Largest ring a caller may ask for (a bound on memory per market). */
export const MOVING_MEAN_SAMPLES_MAX = 86_400;

/**
 * The mean of the last `capacity` values pushed (fewer until it fills). State the caller owns; allocation-free after
 * construction: push overwrites the oldest slot and keeps the sum exact (bigint), so mean() is one division.
 */
export class MovingMean {
  readonly capacity: number;
  private readonly values: bigint[];
  private next = 0;
  private filled = 0;
  private total = 0n;

  constructor(capacity: number = MOVING_MEAN_SAMPLES_DEFAULT) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MOVING_MEAN_SAMPLES_MAX) {
      throw new RangeError(`MovingMean: capacity must be an integer in [1, ${MOVING_MEAN_SAMPLES_MAX}], got ${capacity}`);
    }
    this.capacity = capacity;
    this.values = new Array<bigint>(capacity).fill(0n);
  }

  /** Adds a sample, dropping the oldest once full. */
  push(value: bigint): void {
    if (this.filled === this.capacity) this.total -= this.values[this.next]!;
    else this.filled++;
    this.values[this.next] = value;
    this.total += value;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
  }

  /** Samples held (≤ capacity). */
  get count(): number {
    return this.filled;
  }

  /** Exact sum of the samples held. */
  get sum(): bigint {
    return this.total;
  }

  /**
   * Mean of the samples held, rounded half-even (a reference level for the bands, neither owed nor paid);
   * 0 when empty — callers check count first (an empty mean means "no band yet").
   */
  mean(): bigint {
    if (this.filled === 0) return 0n;
    return divRound(this.total, BigInt(this.filled), Rounding.HalfEven);
  }

  /** The samples held, oldest first (digests and snapshots; not for the hot path). */
  samples(): bigint[] {
    const out: bigint[] = [];
    const start = this.filled === this.capacity ? this.next : 0;
    for (let i = 0; i < this.filled; i++) out.push(this.values[(start + i) % this.capacity]!);
    return out;
  }

  /** X7: the samples held, oldest first. */
  writeSnapshot(w: SnapshotWriter): void {
    w.uint(this.filled);
    for (const v of this.samples()) w.big(v);
  }

  /** Restores what writeSnapshot wrote into a ring of the same capacity. */
  restoreSnapshot(r: SnapshotReader): void {
    this.clear();
    const count = r.uint();
    if (count > this.capacity) r.fail(`moving mean: ${count} samples in a ring of ${this.capacity}`);
    for (let i = 0; i < count; i++) this.push(r.big());
  }

  clear(): void {
    this.values.fill(0n);
    this.next = 0;
    this.filled = 0;
    this.total = 0n;
  }
}
