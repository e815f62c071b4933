// Fixed-size binary layout of the pool deltas risk shards exchange each batch (engine/risk/pools.ts), in the record
// views of engine/model/record-layout.ts.
import type { PoolDelta } from "../lending/index.ts";
import { BATCH_END_KIND, type RecordViews } from "../model/index.ts";

// 96 bytes, signed 128-bit sums as (hi, lo) int64.

export const POOL_DELTA_RECORD_BYTES = 96;
const MASK64 = (1n << 64n) - 1n;

function write128(v: RecordViews, d: number, x: bigint): void {
  v.i64[d] = BigInt.asIntN(64, x >> 64n);
  v.i64[d + 1] = BigInt.asIntN(64, x & MASK64);
}

function read128(v: RecordViews, d: number): bigint {
  return (v.i64[d]! << 64n) | BigInt.asUintN(64, v.i64[d + 1]!);
}

/** One asset's delta of one batch (kind 0, asset), or the end of the shard's deltas for the batch (BATCH_END_KIND). */
export function writePoolDelta(v: RecordViews, byteOffset: number, asset: number, delta: PoolDelta): void {
  const d = byteOffset >> 3;
  v.i32[byteOffset >> 2] = 0;
  v.i32[(byteOffset >> 2) + 1] = asset;
  write128(v, d + 1, delta.lendShares);
  write128(v, d + 3, delta.borrowShares);
  write128(v, d + 5, delta.cash);
  write128(v, d + 7, delta.entryFeesPending);
  write128(v, d + 9, delta.reservedBorrow);
}

export function readPoolDelta(v: RecordViews, byteOffset: number, delta: PoolDelta): number {
  const d = byteOffset >> 3;
  delta.lendShares = read128(v, d + 1);
  delta.borrowShares = read128(v, d + 3);
  delta.cash = read128(v, d + 5);
  delta.entryFeesPending = read128(v, d + 7);
  delta.reservedBorrow = read128(v, d + 9);
  return v.i32[(byteOffset >> 2) + 1]!;
}

export function writePoolDeltaEnd(v: RecordViews, byteOffset: number, batch: number): void {
  v.i32[byteOffset >> 2] = BATCH_END_KIND;
  v.i32[(byteOffset >> 2) + 1] = batch;
}

export function poolDeltaKindAt(v: RecordViews, byteOffset: number): number {
  return v.i32[byteOffset >> 2]!;
}
