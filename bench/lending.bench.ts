// Benchmarks of engine/lending: the hourly interest tick over 20 pools with 100k borrowing positions (L5), and the
// pool part of a borrow and its repayment.

import {
  accrueHour,
  borrow,
  createPool,
  HourAccrual,
  lend,
  LendingPool,
  MS_PER_HOUR,
  newPoolPosition,
  PoolAction,
  repayAll,
  type PoolPosition,
} from "../engine/lending/index.ts";
import { PoolState, RejectCode, type PoolConfig } from "../engine/model/index.ts";
import { resultFromSamplesNs, type BenchDef, type BenchResult } from "./harness.ts";

const ONE = 10n ** 18n;
const POOLS = 20;
const LENT_PER_POOL = 10n ** 15n;

function poolConfig(): PoolConfig {
  return {
    optimalUtilization: (ONE * 8n) / 10n,
    maxUtilization: (ONE * 95n) / 100n,
    throttleUtilizationThreshold: (ONE * 9n) / 10n,
    minRate: 0n,
    optimalRate: ONE / 10n,
    maxRate: (ONE * 15n) / 10n,
    k: 5n * ONE,
    fee: ONE / 10n,
    openBorrowLendLimit: 10n ** 18n,
    state: PoolState.Open,
  };
}

/**
 * 20 pools, each lent 10^15 units and borrowed to U ≈ 85% (above U*, so every tick takes the exp branch of the
 * curve) by positionsTotal / 20 borrowers.
 */
function buildPools(positionsTotal: number): { pools: LendingPool[]; positions: PoolPosition[] } {
  const pools: LendingPool[] = [];
  const positions: PoolPosition[] = [];
  const out = new PoolAction();
  const perPool = Math.max(1, Math.floor(positionsTotal / POOLS));
  const each = (LENT_PER_POOL * 85n) / 100n / BigInt(perPool);
  for (let p = 0; p < POOLS; p++) {
    const pool = createPool(poolConfig());
    if (lend(pool, newPoolPosition(), LENT_PER_POOL, out) !== RejectCode.None) throw new Error("bench: lend refused");
    for (let i = 0; i < perPool; i++) {
      const position = newPoolPosition();
      if (borrow(pool, position, each, 0, out) !== RejectCode.None) throw new Error("bench: borrow refused");
      positions.push(position);
    }
    pools.push(pool);
  }
  return { pools, positions };
}

/** Times `ticks` hour marks (each = accrueHour on every pool) one by one; returns per-tick ns. */
function timeTicks(pools: LendingPool[], ticks: number, firstHour: number): Float64Array {
  const acc = new HourAccrual();
  const samples = new Float64Array(ticks);
  let hour = firstHour;
  for (let t = 0; t < ticks; t++) {
    hour++;
    const start = process.hrtime.bigint();
    for (let p = 0; p < pools.length; p++) {
      if (accrueHour(pools[p]!, hour * MS_PER_HOUR, acc) !== RejectCode.None) throw new Error("bench: accrual refused");
    }
    samples[t] = Number(process.hrtime.bigint() - start);
  }
  return samples;
}

const WARMUP_TICKS = 300;
const TICKS = 2_000;

async function hourlyTick(): Promise<BenchResult> {
  const big = buildPools(100_000);
  const small = buildPools(POOLS);
  timeTicks(big.pools, WARMUP_TICKS, 0);
  timeTicks(small.pools, WARMUP_TICKS, 0);
  const samples = timeTicks(big.pools, TICKS, WARMUP_TICKS);
  const control = resultFromSamplesNs("control", timeTicks(small.pools, TICKS, WARMUP_TICKS), null);
  const result = resultFromSamplesNs("lending.hourly-tick", samples, null);
  const controlUs = ((control.meanNs ?? 0) / 1000).toFixed(1);
  result.notes =
    `one hour mark = accrueHour on ${POOLS} pools (U ≈ 85%, exp branch) with ${big.positions.length} borrowing ` +
    `positions open; O(pools): no position is touched (interest is implied by the indices), the same tick with ` +
    `${small.positions.length} positions took ${controlUs} µs mean; building the positions is setup`;
  return result;
}

// Borrow then repay-all on one position of a pool at U ≈ 50%: the pool's share of a margin order that borrows.
let borrowPool: LendingPool | null = null;
const borrowPosition = newPoolPosition();
const borrowOut = new PoolAction();
let borrowSink = 0n;

export const benchmarks: BenchDef[] = [
  { id: "lending.hourly-tick", kind: "custom", run: hourlyTick },
  {
    id: "lending.borrow-repay",
    kind: "tinybench",
    opsPerCall: 2,
    notes: "checked borrow (entry fee, throttle and maxUtilization checks) + repayAll on one pool; per operation",
    setup: () => {
      const pool = createPool(poolConfig());
      const out = new PoolAction();
      lend(pool, newPoolPosition(), LENT_PER_POOL, out);
      borrow(pool, newPoolPosition(), LENT_PER_POOL / 2n, 0, out);
      accrueHour(pool, MS_PER_HOUR, new HourAccrual()); // indices off 1.0, an hour rate for entry fees
      borrowPool = pool;
    },
    fn: () => {
      const pool = borrowPool!;
      if (borrow(pool, borrowPosition, 1_000_000_000n, 600_000, borrowOut) !== RejectCode.None) {
        throw new Error("bench: borrow refused");
      }
      borrowSink ^= borrowOut.shares;
      if (repayAll(pool, borrowPosition, borrowOut) !== RejectCode.None) throw new Error("bench: repay refused");
      borrowSink ^= borrowOut.amount;
    },
  },
];
