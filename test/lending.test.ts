// engine/lending: the L3/L4 curve against independent high-precision math, pool gates (L7, L13, L15), entry fee
// (L6), hourly accrual by hand (L5), capacities (L8), stats (L13) and history helpers (L14).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RATIO_SCALE } from "../engine/fixed/index.ts";
import {
  accrueHour,
  borrow,
  borrowInterestForHour,
  borrowRate,
  checkBorrow,
  checkLend,
  checkRedeem,
  createPool,
  entryFee,
  exchangeShare,
  HourAccrual,
  hourlyInterest,
  INDEX_ONE,
  InterestKind,
  interestIsPaid,
  InterestRecord,
  lend,
  lendInterestForHour,
  lendRate,
  lendRateAfterFee,
  lentAmount,
  MS_PER_HOUR,
  msToNextHour,
  newPoolPosition,
  owedAmount,
  PoolAction,
  PoolActionKind,
  poolBorrowCapacity,
  poolRedeemCapacity,
  poolStats,
  redeem,
  redeemAll,
  repay,
  repayAll,
  sampleRateCurve,
  setPoolConfig,
  setPoolState,
  SHARE_ONE,
  sweepExchangeShare,
  utilizationOf,
  validatePoolConfig,
  validatePoolState,
  VALUE_SCALE,
  type LendingPool,
  type PoolPosition,
} from "../engine/lending/index.ts";
import { PoolState, RejectCode, type PoolConfig } from "../engine/model/index.ts";

const ONE = RATIO_SCALE;
const USDC = 1_000_000n; // 6 decimals
/** Ratio from a percentage with up to 2 decimals: pct(12.5) = 0.125. */
function pct(p: number): bigint {
  return (BigInt(Math.round(p * 100)) * ONE) / 10_000n;
}

/** The SPEC L3 defaults with the demo config's thresholds and fee. */
function config(overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    optimalUtilization: pct(80),
    maxUtilization: pct(95),
    throttleUtilizationThreshold: pct(90),
    minRate: 0n,
    optimalRate: pct(10),
    maxRate: pct(150),
    k: 5n * ONE,
    fee: pct(10),
    openBorrowLendLimit: 1_000_000_000n * USDC,
    state: PoolState.Open,
    ...overrides,
  };
}

// ---- Independent reference for the curve: plain Taylor series at 60 digits (no halving, no squaring, no retry).
const P = 10n ** 60n;

/** floor(e^(num/den) × P) within a few units of P, num ≥ 0. */
function expRef(num: bigint, den: bigint): bigint {
  let term = P;
  let sum = P;
  for (let k = 1n; term > 0n; k++) {
    term = (term * num) / (den * k);
    sum += term;
  }
  return sum;
}

/** The real L3 curve × 1e18 × P (so ceil(value / P) is the exactly-rounded-up rate), or null if too close to call. */
function curveRefScaled(c: PoolConfig, u: bigint): bigint {
  const uOpt = c.optimalUtilization;
  if (u <= uOpt) return c.minRate * P + ((c.optimalRate - c.minRate) * u * P) / uOpt;
  const eKx = expRef(c.k * (u - uOpt), ONE * (ONE - uOpt));
  const eK = expRef(c.k, ONE);
  return c.optimalRate * P + ((c.maxRate - c.optimalRate) * (eKx - P) * P) / (eK - P);
}

function ceilDiv(n: bigint, d: bigint): bigint {
  return n % d === 0n ? n / d : n / d + 1n;
}

describe("L3 rate curve", () => {
  const c = config();

  it("L3: validatePoolConfig accepts the defaults and names the field of each broken rule", () => {
    expect(validatePoolConfig(c)).toBeNull();
    const cases: [Partial<PoolConfig>, keyof PoolConfig][] = [
      [{ optimalUtilization: 0n }, "optimalUtilization"],
      [{ optimalUtilization: ONE }, "optimalUtilization"],
      [{ minRate: -1n }, "minRate"],
      [{ minRate: pct(11) }, "minRate"],
      [{ optimalRate: pct(151) }, "optimalRate"],
      [{ k: 0n }, "k"],
      [{ k: 51n * ONE }, "k"],
      [{ throttleUtilizationThreshold: 0n }, "throttleUtilizationThreshold"],
      [{ throttleUtilizationThreshold: pct(96) }, "throttleUtilizationThreshold"],
      [{ maxUtilization: ONE + 1n, throttleUtilizationThreshold: pct(90) }, "maxUtilization"],
      [{ fee: ONE }, "fee"],
      [{ fee: -1n }, "fee"],
      [{ openBorrowLendLimit: -1n }, "openBorrowLendLimit"],
      [{ state: 7 as PoolState }, "state"],
    ];
    for (const [override, field] of cases) {
      const error = validatePoolConfig(config(override));
      expect(error?.field).toBe(field);
      expect(error?.message.startsWith(field)).toBe(true);
    }
    expect(() => createPool(config({ k: 0n }))).toThrow(/k must be greater than 0/);
  });

  it("L3: r_b(0) = r_min, r_b(U*) = r_opt, linear below U*, r_b(1) = r_max, exact", () => {
    const c2 = config({ minRate: pct(2) });
    expect(borrowRate(c2, 0n)).toBe(pct(2));
    expect(borrowRate(c2, pct(80))).toBe(pct(10));
    // 2% + 8% × 0.4/0.8 = 6%; 2% + 8% × 0.3/0.8 = 5%; 0.0000…1 above zero rounds up by one ulp.
    expect(borrowRate(c2, pct(40))).toBe(pct(6));
    expect(borrowRate(c2, pct(30))).toBe(pct(5));
    expect(borrowRate(c2, 1n)).toBe(pct(2) + 1n);
    expect(borrowRate(c, ONE)).toBe(pct(150));
    // Outside [0, 1] the curve is capped.
    expect(borrowRate(c, 2n * ONE)).toBe(pct(150));
    expect(borrowRate(c2, -5n)).toBe(pct(2));
  });

  it("L3: r_b(90%) and r_b(95%) are the real curve rounded up (hand values from e^5 and e^2.5 to 60 digits)", () => {
    // 0.1 + 1.4 × (e^2.5 − 1)/(e^5 − 1) = 0.206201452029740971670628647…
    expect(borrowRate(c, pct(90))).toBe(206_201_452_029_740_972n);
    // x = 0.75: 0.1 + 1.4 × (e^3.75 − 1)/(e^5 − 1) = 0.494330568274700672814347…
    expect(borrowRate(c, pct(95))).toBe(494_330_568_274_700_673n);
    expect(ceilDiv(curveRefScaled(c, pct(90)), P)).toBe(206_201_452_029_740_972n);
    expect(ceilDiv(curveRefScaled(c, pct(95)), P)).toBe(494_330_568_274_700_673n);
  });

  it("L3: at any U and any valid parameters, r_b is the exact ceiling of the real curve, and non-decreasing in U", () => {
    const arb = fc.record({
      uOptBp: fc.integer({ min: 100, max: 9_900 }),
      rMin: fc.bigInt({ min: 0n, max: ONE / 10n }),
      dOpt: fc.bigInt({ min: 0n, max: ONE / 2n }),
      dMax: fc.bigInt({ min: 0n, max: 3n * ONE }),
      k: fc.bigInt({ min: ONE / 10n, max: 10n * ONE }),
      u: fc.bigInt({ min: 0n, max: ONE }),
      du: fc.bigInt({ min: 0n, max: ONE / 10n }),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const cfg = config({
          optimalUtilization: (BigInt(a.uOptBp) * ONE) / 10_000n,
          minRate: a.rMin,
          optimalRate: a.rMin + a.dOpt,
          maxRate: a.rMin + a.dOpt + a.dMax,
          k: a.k,
        });
        const r = borrowRate(cfg, a.u);
        const ref = curveRefScaled(cfg, a.u);
        const rem = ref % P;
        // The reference is good to ~1e-40 of an ulp; skip the (never seen) case of a value that close to the grid.
        if (rem > P / 10n ** 30n && rem < P - P / 10n ** 30n) expect(r).toBe(ceilDiv(ref, P));
        const u2 = a.u + a.du > ONE ? ONE : a.u + a.du;
        expect(borrowRate(cfg, u2) >= r).toBe(true);
        expect(r >= cfg.minRate && r <= cfg.maxRate).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("L4: r_l = r_b × U rounded down; after the fee it is r_b × U × (1 − fee) rounded down", () => {
    expect(lendRate(c, 0n)).toBe(0n);
    expect(lendRate(c, pct(40))).toBe(pct(2)); // 5% × 0.4
    expect(lendRate(c, pct(90))).toBe(185_581_306_826_766_874n); // floor(0.206201452029740972 × 0.9)
    expect(lendRate(c, ONE)).toBe(pct(150));
    expect(lendRateAfterFee(c, pct(40))).toBe(pct(1.8)); // 2% × 0.9
    expect(lendRateAfterFee(c, pct(90))).toBe(167_023_176_144_090_187n); // floor(0.206…972 × 0.9 × 0.9)
  });

  it("L2: utilization = borrowed / lent; nothing lent reads 0 (1 if something is borrowed anyway)", () => {
    expect(utilizationOf(0n, 0n, 0)).toBe(0n);
    expect(utilizationOf(5n, 0n, 0)).toBe(ONE);
    expect(utilizationOf(1n, 3n, 0)).toBe(333_333_333_333_333_333n);
    expect(utilizationOf(1n, 3n, 1)).toBe(333_333_333_333_333_334n);
    expect(utilizationOf(3n, 2n, 0)).toBe(pct(150));
  });

  it("L13: sampleRateCurve gives the borrow and lend APRs at each requested utilization", () => {
    const us = [0n, pct(40), pct(80), pct(90), ONE];
    const points = sampleRateCurve(c, us);
    expect(points.map((p) => p.utilization)).toEqual(us);
    expect(points.map((p) => p.borrowRate)).toEqual([0n, pct(5), pct(10), 206_201_452_029_740_972n, pct(150)]);
    expect(points.map((p) => p.lendRate)).toEqual([0n, pct(2), pct(8), 185_581_306_826_766_874n, pct(150)]);
    expect(points[2]!.lendRateAfterFee).toBe(pct(7.2));
  });
});

// ---------------------------------------------------------------------------------------------------------------

function setup(overrides: Partial<PoolConfig> = {}): {
  pool: LendingPool;
  out: PoolAction;
  acc: HourAccrual;
  pos: () => PoolPosition;
} {
  return { pool: createPool(config(overrides)), out: new PoolAction(), acc: new HourAccrual(), pos: newPoolPosition };
}

describe("pool actions", () => {
  it("L5: positions are stored scaled: at index 1.0 one unit is 10^9 shares; lent/owed read back exactly", () => {
    const { pool, out, pos } = setup();
    const lender = pos();
    expect(lend(pool, lender, 1_000n * USDC, out)).toBe(RejectCode.None);
    expect(out.kind).toBe(PoolActionKind.Lend);
    expect(out.shares).toBe(1_000n * USDC * SHARE_ONE);
    expect(lender.lendShares).toBe(1_000n * USDC * SHARE_ONE);
    expect(lentAmount(lender.lendShares, pool.lendIndex)).toBe(1_000n * USDC);
    const borrower = pos();
    expect(borrow(pool, borrower, 400n * USDC, 0, out)).toBe(RejectCode.None);
    expect(out.entryFee).toBe(0n);
    expect(owedAmount(borrower.borrowShares, pool.borrowIndex)).toBe(400n * USDC);
    expect(pool.totalLent).toBe(1_000n * USDC);
    expect(pool.totalBorrowed).toBe(400n * USDC);
    expect(pool.cash).toBe(600n * USDC);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("L7: while U ≥ the throttle threshold, borrows and redemptions are refused; repay and lend still work", () => {
    const { pool, out, pos } = setup();
    const lender = pos();
    const borrower = pos();
    lend(pool, lender, 1_000n * USDC, out);
    // From U = 0 a borrow may land above the threshold (it only has to stay below maxUtilization).
    expect(borrow(pool, borrower, 900n * USDC, 0, out)).toBe(RejectCode.None);
    expect(poolStats(pool).throttled).toBe(true);
    const other = pos();
    expect(borrow(pool, other, 1n, 0, out)).toBe(RejectCode.BorrowThrottled);
    expect(redeem(pool, lender, 1n, out)).toBe(RejectCode.RedeemThrottled);
    expect(redeemAll(pool, lender, out)).toBe(RejectCode.RedeemThrottled);
    expect(poolBorrowCapacity(pool, 0)).toBe(0n);
    expect(poolRedeemCapacity(pool)).toBe(0n);
    const newLender = pos();
    expect(lend(pool, newLender, 1n * USDC, out)).toBe(RejectCode.None); // U = 900/1001 < 90%: open again
    expect(borrow(pool, other, 900_000n, 0, out)).toBe(RejectCode.None); // 900.9 / 1001 = 90% exactly
    expect(poolStats(pool).utilization).toBe(pct(90));
    expect(borrow(pool, other, 1n, 0, out)).toBe(RejectCode.BorrowThrottled);
    expect(repay(pool, borrower, 100n * USDC, out)).toBe(RejectCode.None);
    expect(poolStats(pool).throttled).toBe(false);
    expect(redeem(pool, newLender, 1n * USDC, out)).toBe(RejectCode.None);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("L13: no borrow or redemption may take U past maxUtilization; one may take it to exactly maxUtilization", () => {
    const { pool, out, pos } = setup();
    const a = pos();
    const c = pos();
    const b = pos();
    lend(pool, a, 1_000n * USDC, out);
    expect(borrow(pool, b, 950n * USDC + 1n, 0, out)).toBe(RejectCode.MaxUtilization);
    expect(poolBorrowCapacity(pool, 0)).toBe(950n * USDC);
    expect(borrow(pool, b, 950n * USDC, 0, out)).toBe(RejectCode.None); // U = 95% exactly
    expect(poolStats(pool).utilization).toBe(pct(95));
    expect(poolBorrowCapacity(pool, 0)).toBe(0n); // throttled now
    repayAll(pool, b, out);
    lend(pool, c, 100n * USDC, out);
    expect(borrow(pool, b, 850n * USDC, 0, out)).toBe(RejectCode.None); // U = 850/1100
    // 850 / (1100 − r) > 95% ⇔ r > 205.263157894…
    expect(redeem(pool, a, 206n * USDC, out)).toBe(RejectCode.MaxUtilization);
    expect(poolRedeemCapacity(pool)).toBe(205_263_157n);
    expect(redeem(pool, a, 205_263_158n, out)).toBe(RejectCode.MaxUtilization);
    expect(redeem(pool, a, 205_263_157n, out)).toBe(RejectCode.None);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("L13: Closed refuses everything; RepayOnly allows only repay and redeem", () => {
    const { pool, out, pos } = setup();
    const lender = pos();
    const borrower = pos();
    lend(pool, lender, 1_000n * USDC, out);
    borrow(pool, borrower, 100n * USDC, 0, out);
    setPoolState(pool, PoolState.Closed);
    expect(lend(pool, pos(), 1n, out)).toBe(RejectCode.PoolClosed);
    expect(borrow(pool, pos(), 1n, 0, out)).toBe(RejectCode.PoolClosed);
    expect(repay(pool, borrower, 1n, out)).toBe(RejectCode.PoolClosed);
    expect(redeem(pool, lender, 1n, out)).toBe(RejectCode.PoolClosed);
    expect(poolBorrowCapacity(pool, 0)).toBe(0n);
    expect(poolRedeemCapacity(pool)).toBe(0n);
    setPoolState(pool, PoolState.RepayOnly);
    expect(lend(pool, pos(), 1n, out)).toBe(RejectCode.PoolClosed);
    expect(borrow(pool, pos(), 1n, 0, out)).toBe(RejectCode.PoolClosed);
    expect(repay(pool, borrower, 1n, out)).toBe(RejectCode.None);
    expect(redeem(pool, lender, 1n, out)).toBe(RejectCode.None);
    expect(poolStats(pool).state).toBe(PoolState.RepayOnly);
  });

  it("L13: openBorrowLendLimit caps the total lent", () => {
    const { pool, out, pos } = setup({ openBorrowLendLimit: 1_000n * USDC });
    const a = pos();
    expect(lend(pool, a, 600n * USDC, out)).toBe(RejectCode.None);
    expect(lend(pool, pos(), 400n * USDC + 1n, out)).toBe(RejectCode.PoolLendLimit);
    expect(lend(pool, pos(), 400n * USDC, out)).toBe(RejectCode.None);
    expect(lend(pool, pos(), 1n, out)).toBe(RejectCode.PoolLendLimit);
    expect(redeem(pool, a, 1n, out)).toBe(RejectCode.None);
    expect(lend(pool, pos(), 1n, out)).toBe(RejectCode.None);
  });

  it("L15-ready: a position never lends and borrows the same asset at once", () => {
    const { pool, out, pos } = setup();
    const a = pos();
    const b = pos();
    lend(pool, a, 1_000n * USDC, out);
    borrow(pool, b, 10n * USDC, 0, out);
    expect(borrow(pool, a, 1n, 0, out)).toBe(RejectCode.BorrowRequiresLendRedeem);
    expect(lend(pool, b, 1n, out)).toBe(RejectCode.LendRequiresBorrowRepay);
    expect(repayAll(pool, b, out)).toBe(RejectCode.None);
    expect(b.borrowShares).toBe(0n);
    expect(lend(pool, b, 1n, out)).toBe(RejectCode.None);
  });

  it("amount checks: non-positive amounts, redeeming more than lent, repaying more than owed", () => {
    const { pool, out, pos } = setup();
    const a = pos();
    const b = pos();
    expect(borrow(pool, b, 1n, 0, out)).toBe(RejectCode.NoLiquidity);
    lend(pool, a, 100n, out);
    borrow(pool, b, 10n, 0, out);
    expect(lend(pool, pos(), 0n, out)).toBe(RejectCode.InvalidAmount);
    expect(borrow(pool, pos(), -1n, 0, out)).toBe(RejectCode.InvalidAmount);
    expect(redeem(pool, a, 0n, out)).toBe(RejectCode.InvalidAmount);
    expect(redeem(pool, a, 101n, out)).toBe(RejectCode.InsufficientBalance);
    expect(redeemAll(pool, pos(), out)).toBe(RejectCode.InsufficientBalance);
    expect(repay(pool, b, 11n, out)).toBe(RejectCode.InvalidAmount);
    expect(repay(pool, b, 0n, out)).toBe(RejectCode.InvalidAmount);
    expect(repayAll(pool, pos(), out)).toBe(RejectCode.InvalidAmount);
    expect(borrow(pool, pos(), 1n, -1, out)).toBe(RejectCode.InvalidTime);
    expect(borrow(pool, pos(), 1n, MS_PER_HOUR + 1, out)).toBe(RejectCode.InvalidTime);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("a check changes nothing; its plan, applied, is exactly the combined action", () => {
    const { pool, out, pos } = setup();
    const a = pos();
    lend(pool, a, 1_000n * USDC, out);
    const before = JSON.stringify(poolStats(pool), (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    const b = pos();
    expect(checkBorrow(pool, b, 5n * USDC, 1234, out)).toBe(RejectCode.None);
    expect(checkLend(pool, a, 5n * USDC, out)).toBe(RejectCode.None);
    expect(checkRedeem(pool, a, 5n * USDC, out)).toBe(RejectCode.None);
    expect(JSON.stringify(poolStats(pool), (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).toBe(
      before,
    );
    expect(b.borrowShares).toBe(0n);
  });
});

describe("L5 / L6 interest", () => {
  /** 1,000 USDC lent, 500 borrowed: U = 50%, r_b = 10% × 0.5/0.8 = 6.25%. */
  function halfUsed() {
    const s = setup();
    const lender = s.pos();
    const borrower = s.pos();
    lend(s.pool, lender, 1_000n * USDC, s.out);
    borrow(s.pool, borrower, 500n * USDC, 0, s.out);
    return { ...s, lender, borrower };
  }

  it("L5: one hour at 6.25% on 500 USDC: index × (1 + r/8760) up, 3,568 units paid, 90% to lenders", () => {
    const { pool, acc, lender, borrower } = halfUsed();
    expect(accrueHour(pool, 10 * MS_PER_HOUR, acc)).toBe(RejectCode.None);
    expect(acc.utilization).toBe(pct(50));
    expect(acc.rate).toBe(pct(6.25));
    // 1e18 × 0.0625 / 8760 = 7 134 703 196 347.03… → rounded up.
    expect(pool.borrowIndex).toBe(INDEX_ONE + 7_134_703_196_348n);
    // 500 USDC × 0.0625 / 8760 = 3 567.35… units → 3 568 (the debt is rounded up).
    expect(acc.borrowInterest).toBe(3_568n);
    expect(owedAmount(borrower.borrowShares, pool.borrowIndex)).toBe(500n * USDC + 3_568n);
    // Lenders: floor(3 568 × 0.9) = 3 211, the exchange keeps 357.
    expect(acc.lendInterest).toBe(3_211n);
    expect(acc.exchangeInterest).toBe(357n);
    expect(lentAmount(lender.lendShares, pool.lendIndex)).toBe(1_000n * USDC + 3_211n);
    expect(exchangeShare(pool)).toBe(357n);
    expect(pool.hourBorrowRate).toBe(pct(6.25));
    expect(borrowInterestForHour(borrower.borrowShares, acc)).toBe(3_568n);
    expect(lendInterestForHour(lender.lendShares, acc)).toBe(3_211n);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("L5: the hour mark must be on the hour and after the previous one", () => {
    const { pool, acc } = halfUsed();
    expect(accrueHour(pool, MS_PER_HOUR + 1, acc)).toBe(RejectCode.InvalidTime);
    expect(accrueHour(pool, 2 * MS_PER_HOUR, acc)).toBe(RejectCode.None);
    expect(accrueHour(pool, 2 * MS_PER_HOUR, acc)).toBe(RejectCode.InvalidTime);
    expect(accrueHour(pool, MS_PER_HOUR, acc)).toBe(RejectCode.InvalidTime);
    expect(accrueHour(pool, 5 * MS_PER_HOUR, acc)).toBe(RejectCode.None);
  });

  it("L6: the entry fee is the interest to the next hour mark, rounded up", () => {
    // 2,000 USDC at 10% from 12:50 to 1:00: 2e9 × 0.1 × (1/6) / 8760 = 3 805.175… → 3 806 (seed 002's example).
    expect(entryFee(2_000n * USDC, pct(10), 10 * 60_000)).toBe(3_806n);
    expect(entryFee(2_000n * USDC, pct(10), 0)).toBe(0n);
    expect(entryFee(2_000n * USDC, pct(10), MS_PER_HOUR)).toBe(hourlyInterest(2_000n * USDC, pct(10), 1));
    expect(entryFee(1n, 1n, 1)).toBe(1n);
    expect(() => entryFee(1n, 1n, MS_PER_HOUR + 1)).toThrow(RangeError);
    expect(msToNextHour(12 * MS_PER_HOUR + 50 * 60_000)).toBe(10 * 60_000);
    expect(msToNextHour(12 * MS_PER_HOUR)).toBe(MS_PER_HOUR);
  });

  it("L6: a margin borrow of 1,000 USDC at 10 min to the mark owes 1,000 USDC plus the exact entry fee; lenders get 90% of it at the mark", () => {
    const { pool, out, acc, pos } = setup();
    const lender = pos();
    const first = pos();
    lend(pool, lender, 10_000n * USDC, out);
    borrow(pool, first, 8_000n * USDC, 0, out); // U = 80% → the next hour is priced at r_opt = 10%
    accrueHour(pool, MS_PER_HOUR, acc);
    expect(pool.hourBorrowRate).toBe(pct(10));
    const b0 = pool.borrowIndex;
    expect(b0).toBe(INDEX_ONE + 11_415_525_114_156n); // 1e18 × 0.1 / 8760 = 11 415 525 114 155.25… up
    lend(pool, pos(), 1_000n * USDC, out); // room below the throttle
    const borrower = pos();
    expect(borrow(pool, borrower, 1_000n * USDC, 10 * 60_000, out)).toBe(RejectCode.None);
    // 1e9 × 0.1 × (1/6) / 8760 = 1 902.587… → 1 903.
    expect(out.entryFee).toBe(1_903n);
    const shares = ceilDiv((1_000n * USDC + 1_903n) * VALUE_SCALE, b0);
    expect(borrower.borrowShares).toBe(shares);
    // Owed = ceil(shares × index): the rounded-up shares make it one unit more than principal + fee here
    // (exactly principal + fee at index 1.0); the action reports it, for the EntryFee history record.
    expect(owedAmount(borrower.borrowShares, b0)).toBe(ceilDiv(shares * b0, VALUE_SCALE));
    expect(owedAmount(borrower.borrowShares, b0)).toBe(1_000n * USDC + 1_903n + 1n);
    expect([out.valueBefore, out.valueAfter]).toEqual([0n, 1_000n * USDC + 1_904n]);
    expect(pool.entryFeesPending).toBe(1_903n);
    const lentBefore = pool.totalLent;
    accrueHour(pool, 2 * MS_PER_HOUR, acc);
    expect(acc.entryFees).toBe(1_903n);
    expect(acc.lendInterest).toBe(((acc.borrowInterest + 1_903n) * 9n) / 10n);
    expect(pool.totalLent - lentBefore).toBe(acc.lendInterest);
    expect(acc.borrowInterest + acc.entryFees).toBe(acc.lendInterest + acc.exchangeInterest);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("L5: partial repay relieves exactly the amount; full repay and redeem close positions; the pool keeps only the exchange share", () => {
    const { pool, out, acc, lender, borrower } = halfUsed();
    for (let h = 1; h <= 30; h++) accrueHour(pool, h * MS_PER_HOUR, acc);
    const owed = owedAmount(borrower.borrowShares, pool.borrowIndex);
    expect(repay(pool, borrower, 123_456_789n, out)).toBe(RejectCode.None);
    expect(owedAmount(borrower.borrowShares, pool.borrowIndex)).toBe(owed - 123_456_789n);
    expect(repayAll(pool, borrower, out)).toBe(RejectCode.None);
    expect(out.amount).toBe(owed - 123_456_789n);
    expect(borrower.borrowShares).toBe(0n);
    const lent = lentAmount(lender.lendShares, pool.lendIndex);
    expect(redeem(pool, lender, 1n * USDC, out)).toBe(RejectCode.None);
    expect(lentAmount(lender.lendShares, pool.lendIndex)).toBe(lent - 1n * USDC);
    expect(redeemAll(pool, lender, out)).toBe(RejectCode.None);
    expect(lender.lendShares).toBe(0n);
    expect(pool.totalLent).toBe(0n);
    expect(pool.totalBorrowed).toBe(0n);
    // Σ borrower interest = Σ lender interest + exchange share, exactly, once everything is closed.
    const borrowerInterest = owed - 500n * USDC;
    const lenderInterest = lent - 1_000n * USDC;
    expect(pool.cash).toBe(borrowerInterest - lenderInterest);
    expect(exchangeShare(pool)).toBe(pool.cash);
    expect(pool.borrowInterestTotal).toBe(borrowerInterest);
    expect(sweepExchangeShare(pool)).toBe(borrowerInterest - lenderInterest);
    expect(pool.cash).toBe(0n);
    expect(validatePoolState(pool)).toBeNull();
  });

  it("L5: accrual is O(1): many positions, one index update; each position's hour interest is its owed growth", () => {
    const { pool, out, acc, pos } = setup();
    lend(pool, pos(), 1_000_000n * USDC, out);
    const borrowers: PoolPosition[] = [];
    for (let i = 1; i <= 200; i++) {
      const b = pos();
      borrow(pool, b, BigInt(i) * 1_234_567n, 0, out);
      borrowers.push(b);
    }
    accrueHour(pool, MS_PER_HOUR, acc);
    let sum = 0n;
    for (const b of borrowers) {
      const x = borrowInterestForHour(b.borrowShares, acc);
      const after = owedAmount(b.borrowShares, acc.borrowIndexAfter);
      expect(x).toBe(after - owedAmount(b.borrowShares, acc.borrowIndexBefore));
      sum += x;
    }
    // Per-position rounding up costs each borrower less than one unit over the aggregate.
    expect(sum >= acc.borrowInterest && sum < acc.borrowInterest + 200n).toBe(true);
  });
});

describe("L8 / L11 capacities", () => {
  const stateArb = fc.record({
    lends: fc.array(fc.bigInt({ min: 1n, max: 10n ** 12n }), { minLength: 1, maxLength: 4 }),
    borrowFracs: fc.array(fc.integer({ min: 1, max: 1_000 }), { maxLength: 4 }),
    hours: fc.integer({ min: 0, max: 5 }),
    ms: fc.integer({ min: 0, max: MS_PER_HOUR }),
    maxBp: fc.integer({ min: 5_000, max: 10_000 }),
    throttleBelowBp: fc.integer({ min: 0, max: 4_000 }),
  });


  it("L8: poolBorrowCapacity passes the borrow check and one unit more does not", () => {
    fc.assert(
      fc.property(stateArb, (a) => {
        const maxU = (BigInt(a.maxBp) * ONE) / 10_000n;
        const thr = (BigInt(Math.max(1, a.maxBp - a.throttleBelowBp)) * ONE) / 10_000n;
        const { pool, out, acc, pos } = setup({ maxUtilization: maxU, throttleUtilizationThreshold: thr });
        for (const x of a.lends) lend(pool, pos(), x, out);
        let h = 0;
        for (const f of a.borrowFracs) {
          const cap = poolBorrowCapacity(pool, a.ms);
          if (cap > 0n) borrow(pool, pos(), 1n + (cap * BigInt(f)) / 1_000n, a.ms, out);
          accrueHour(pool, ++h * MS_PER_HOUR, acc);
        }
        for (let i = 0; i < a.hours; i++) accrueHour(pool, ++h * MS_PER_HOUR, acc);
        const cap = poolBorrowCapacity(pool, a.ms);
        const fresh = pos();
        if (cap > 0n) expect(checkBorrow(pool, fresh, cap, a.ms, out)).toBe(RejectCode.None);
        expect(checkBorrow(pool, fresh, cap + 1n, a.ms, out)).not.toBe(RejectCode.None);
      }),
      { numRuns: 200 },
    );
  });

  it("L11: poolRedeemCapacity passes the redeem check and one unit more does not (for a large enough lender)", () => {
    fc.assert(
      fc.property(stateArb, (a) => {
        const maxU = (BigInt(a.maxBp) * ONE) / 10_000n;
        const thr = (BigInt(Math.max(1, a.maxBp - a.throttleBelowBp)) * ONE) / 10_000n;
        const { pool, out, acc, pos } = setup({ maxUtilization: maxU, throttleUtilizationThreshold: thr });
        const whale = pos();
        lend(pool, whale, 10n ** 13n, out);
        for (const x of a.lends) lend(pool, pos(), x, out);
        let h = 0;
        for (const f of a.borrowFracs) {
          const cap = poolBorrowCapacity(pool, a.ms);
          if (cap > 0n) borrow(pool, pos(), 1n + (cap * BigInt(f)) / 1_000n, a.ms, out);
          accrueHour(pool, ++h * MS_PER_HOUR, acc);
        }
        const cap = poolRedeemCapacity(pool);
        const held = lentAmount(whale.lendShares, pool.lendIndex);
        if (held < cap + 2n) return;
        if (cap > 0n) expect(checkRedeem(pool, whale, cap, out)).toBe(RejectCode.None);
        expect(checkRedeem(pool, whale, cap + 1n, out)).not.toBe(RejectCode.None);
      }),
      { numRuns: 200 },
    );
  });
});

describe("L13 stats, L14 history", () => {
  it("L13: poolStats reports lent, borrowed, utilization, APRs, thresholds and state", () => {
    const { pool, out, pos } = setup();
    lend(pool, pos(), 1_000n * USDC, out);
    borrow(pool, pos(), 400n * USDC, 0, out);
    const s = poolStats(pool);
    expect(s).toMatchObject({
      state: PoolState.Open,
      totalLent: 1_000n * USDC,
      totalBorrowed: 400n * USDC,
      freeLiquidity: 600n * USDC,
      exchangeShare: 0n,
      utilization: pct(40),
      borrowRate: pct(5),
      lendRate: pct(2),
      lendRateAfterFee: pct(1.8),
      hourBorrowRate: 0n,
      optimalUtilization: pct(80),
      throttleUtilizationThreshold: pct(90),
      maxUtilization: pct(95),
      openBorrowLendLimit: 1_000_000_000n * USDC,
      fee: pct(10),
      throttled: false,
      borrowIndex: INDEX_ONE,
      lendIndex: INDEX_ONE,
    });
  });

  it("L13: setPoolConfig validates, then takes the new parameters and state", () => {
    const { pool } = setup();
    expect(setPoolConfig(pool, config({ fee: ONE }))?.field).toBe("fee");
    expect(pool.config.fee).toBe(pct(10));
    expect(setPoolConfig(pool, config({ fee: pct(20), state: PoolState.RepayOnly }))).toBeNull();
    expect(pool.config.fee).toBe(pct(20));
    expect(pool.state).toBe(PoolState.RepayOnly);
  });

  it("L14: interest records carry the type; unrealized PnL earns the lend APR and pays the borrow APR", () => {
    expect(Object.keys(InterestKind)).toEqual([
      "EntryFee",
      "Borrow",
      "Lend",
      "UnrealizedPositivePnl",
      "UnrealizedNegativePnl",
    ]);
    expect(interestIsPaid(InterestKind.EntryFee)).toBe(true);
    expect(interestIsPaid(InterestKind.Borrow)).toBe(true);
    expect(interestIsPaid(InterestKind.Lend)).toBe(false);
    expect(interestIsPaid(InterestKind.UnrealizedPositivePnl)).toBe(false);
    expect(interestIsPaid(InterestKind.UnrealizedNegativePnl)).toBe(true);
    const r = new InterestRecord().set(0x51, 0, InterestKind.EntryFee, 1_903n, pct(10), 1_000);
    expect([r.account, r.asset, r.kind, r.amount, r.rate, r.timeMs]).toEqual([0x51, 0, 0, 1_903n, pct(10), 1_000]);
  });
});
