// engine/lending model test (L5, L7, L13): random accounts lend, redeem, borrow, repay while hours accrue; after every
// step the pool's books are checked against the accounts', to the unit.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RATIO_SCALE } from "../engine/fixed/index.ts";
import {
  accrueHour,
  borrow,
  borrowInterestForHour,
  createPool,
  exchangeShare,
  HourAccrual,
  lend,
  lendInterestForHour,
  lentAmount,
  MS_PER_HOUR,
  newPoolPosition,
  owedAmount,
  PoolAction,
  poolBorrowCapacity,
  redeem,
  redeemAll,
  repay,
  repayAll,
  setPoolState,
  sweepExchangeShare,
  validatePoolState,
  type LendingPool,
  type PoolPosition,
} from "../engine/lending/index.ts";
import { PoolState, RejectCode, type PoolConfig } from "../engine/model/index.ts";

const ONE = RATIO_SCALE;

const configArb = fc
  .record({
    uOptBp: fc.integer({ min: 500, max: 9_500 }),
    rMin: fc.bigInt({ min: 0n, max: ONE / 10n }),
    dOpt: fc.bigInt({ min: 0n, max: ONE / 2n }),
    dMax: fc.bigInt({ min: 0n, max: 10n * ONE }),
    k: fc.bigInt({ min: ONE / 10n, max: 10n * ONE }),
    maxBp: fc.integer({ min: 5_000, max: 10_000 }),
    throttleBelowBp: fc.integer({ min: 0, max: 3_000 }),
    feeBp: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5_000 })),
    limit: fc.oneof(fc.constant(10n ** 30n), fc.bigInt({ min: 1n, max: 10n ** 13n })),
  })
  .map(
    (a): PoolConfig => ({
      optimalUtilization: (BigInt(a.uOptBp) * ONE) / 10_000n,
      maxUtilization: (BigInt(a.maxBp) * ONE) / 10_000n,
      throttleUtilizationThreshold: (BigInt(Math.max(1, a.maxBp - a.throttleBelowBp)) * ONE) / 10_000n,
      minRate: a.rMin,
      optimalRate: a.rMin + a.dOpt,
      maxRate: a.rMin + a.dOpt + a.dMax,
      k: a.k,
      fee: (BigInt(a.feeBp) * ONE) / 10_000n,
      openBorrowLendLimit: a.limit,
      state: PoolState.Open,
    }),
  );

const N_MAX = 10;
const acct = fc.integer({ min: 0, max: N_MAX - 1 });
const perMille = fc.integer({ min: 1, max: 1_100 }); // above 1000: ask for more than there is
const amountArb = fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10n ** 12n }));

type Cmd =
  | { t: "lend"; i: number; amount: bigint }
  | { t: "redeem"; i: number; per: number; all: boolean }
  | { t: "borrow"; i: number; per: number; ms: number }
  | { t: "repay"; i: number; per: number; all: boolean }
  | { t: "hours"; n: number }
  | { t: "sweep" }
  | { t: "state"; s: PoolState };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("lend" as const), i: acct, amount: amountArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("redeem" as const), i: acct, per: perMille, all: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("borrow" as const),
      i: acct,
      per: perMille,
      ms: fc.integer({ min: 0, max: MS_PER_HOUR }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("repay" as const), i: acct, per: perMille, all: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("hours" as const),
      n: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 150 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("sweep" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("state" as const),
      s: fc.constantFrom<PoolState>(PoolState.Open, PoolState.Open, PoolState.RepayOnly, PoolState.Closed),
    }),
  },
);

/** Everything a rejected action must leave as it was. */
function snapshot(pool: LendingPool, p: PoolPosition): string {
  return [
    pool.borrowShares,
    pool.lendShares,
    pool.cash,
    pool.borrowIndex,
    pool.lendIndex,
    pool.entryFeesPending,
    pool.totalBorrowed,
    pool.totalLent,
    p.borrowShares,
    p.lendShares,
  ].join(",");
}

class Model {
  readonly pool: LendingPool;
  readonly positions: PoolPosition[] = [];
  readonly out = new PoolAction();
  readonly acc = new HourAccrual();
  /** Cash flows between accounts and the pool, units. */
  lends = 0n;
  redeems = 0n;
  borrows = 0n;
  repays = 0n;
  swept = 0n;
  /** Entry fees charged since the last hour mark. */
  entryFees = 0n;
  hourMs = 0;

  constructor(readonly config: PoolConfig) {
    this.pool = createPool(config);
    for (let i = 0; i < N_MAX; i++) this.positions.push(newPoolPosition());
  }

  owedSum(): bigint {
    let s = 0n;
    for (const p of this.positions) s += owedAmount(p.borrowShares, this.pool.borrowIndex);
    return s;
  }

  lentSum(): bigint {
    let s = 0n;
    for (const p of this.positions) s += lentAmount(p.lendShares, this.pool.lendIndex);
    return s;
  }

  /**
   * The acting account: mostly one that can act (a lender redeems, a borrower repays, a non-lender borrows, a
   * non-borrower lends), so that most actions reach the pool's own checks; cmd.i ≥ 8 takes any account.
   */
  pick(cmd: Cmd & { i: number }): PoolPosition {
    if (cmd.i >= 8) return this.positions[cmd.i]!;
    const fits = (p: PoolPosition): boolean =>
      cmd.t === "redeem" ? p.lendShares > 0n
      : cmd.t === "repay" ? p.borrowShares > 0n
      : cmd.t === "borrow" ? p.lendShares === 0n
      : p.borrowShares === 0n;
    let n = 0;
    for (const p of this.positions) if (fits(p)) n++;
    if (n === 0) return this.positions[cmd.i]!;
    let k = cmd.i % n;
    for (const p of this.positions) if (fits(p) && k-- === 0) return p;
    return this.positions[cmd.i]!;
  }

  /** U ≥ x, exactly. */
  atOrAbove(x: bigint): boolean {
    const { totalBorrowed: b, totalLent: l } = this.pool;
    return b > 0n && b * ONE >= x * l;
  }

  run(cmd: Cmd): void {
    const { pool, out } = this;
    if (cmd.t === "hours") {
      for (let h = 0; h < cmd.n; h++) this.hour();
      return;
    }
    if (cmd.t === "sweep") {
      this.swept += sweepExchangeShare(pool);
      return;
    }
    if (cmd.t === "state") {
      setPoolState(pool, cmd.s);
      return;
    }
    const p = this.pick(cmd);
    const before = snapshot(pool, p);
    const roundingBefore = pool.exchangeRoundingTotal;
    const throttledBefore = this.atOrAbove(pool.config.throttleUtilizationThreshold);
    let code: RejectCode;
    switch (cmd.t) {
      case "lend":
        code = lend(pool, p, cmd.amount, out);
        if (code === RejectCode.None) this.lends += out.amount;
        break;
      case "redeem": {
        const held = lentAmount(p.lendShares, pool.lendIndex);
        code = cmd.all
          ? redeemAll(pool, p, out)
          : redeem(pool, p, (held * BigInt(cmd.per)) / 1_000n + (held === 0n ? 1n : 0n), out);
        if (code === RejectCode.None) this.redeems += out.amount;
        break;
      }
      case "borrow": {
        const cap = poolBorrowCapacity(pool, cmd.ms);
        code = borrow(pool, p, (cap * BigInt(cmd.per)) / 1_000n + 1n, cmd.ms, out);
        if (code === RejectCode.None) {
          this.borrows += out.amount;
          this.entryFees += out.entryFee;
        }
        break;
      }
      case "repay": {
        const owed = owedAmount(p.borrowShares, pool.borrowIndex);
        code = cmd.all ? repayAll(pool, p, out) : repay(pool, p, (owed * BigInt(cmd.per)) / 1_000n + 1n, out);
        if (code === RejectCode.None) this.repays += out.amount;
        break;
      }
    }
    if (code !== RejectCode.None) {
      expect(snapshot(pool, p)).toBe(before);
      // L7: the throttle codes appear exactly when U was at or above the threshold.
      if (code === RejectCode.BorrowThrottled || code === RejectCode.RedeemThrottled) {
        expect(throttledBefore).toBe(true);
      }
      return;
    }
    // Every action's rounding goes the pool's way (validatePoolState reconciles the total exactly).
    expect(pool.exchangeRoundingTotal >= roundingBefore).toBe(true);
    const isLendSide = cmd.t === "lend" || cmd.t === "redeem";
    const value = isLendSide ? lentAmount(p.lendShares, pool.lendIndex) : owedAmount(p.borrowShares, pool.borrowIndex);
    expect(out.valueAfter).toBe(value);
    if (cmd.t === "borrow" || cmd.t === "redeem") {
      // L7 / L13: an accepted borrow or redemption started below the throttle and ends at or below maxUtilization.
      expect(throttledBefore).toBe(false);
      expect(pool.totalBorrowed * ONE <= pool.config.maxUtilization * pool.totalLent).toBe(true);
    }
    if (cmd.t === "borrow") {
      expect(out.valueAfter - out.valueBefore - out.amount - out.entryFee).toBeLessThanOrEqual(1n);
    }
    if (cmd.t === "repay") expect(out.valueBefore - out.valueAfter).toBeLessThanOrEqual(out.amount);
    if (cmd.t === "redeem" && p.lendShares > 0n) {
      // Burnt shares round up (the pool's way): the position falls by the amount paid, or by one unit more when the
      // floor of its value crosses a unit boundary on the way (found by seed -538588302).
      const fall = out.valueBefore - out.valueAfter;
      expect(fall >= out.amount && fall <= out.amount + 1n).toBe(true);
    }
    if (cmd.t === "lend") expect(out.valueAfter - out.valueBefore).toBeLessThanOrEqual(out.amount);
  }

  hour(): void {
    const { pool, acc } = this;
    const owedBefore = this.owedSum();
    const lentBefore = this.lentSum();
    const borrowedBefore = pool.totalBorrowed;
    const pending = this.entryFees;
    this.entryFees = 0n;
    this.hourMs += MS_PER_HOUR;
    expect(accrueHour(pool, this.hourMs, acc)).toBe(RejectCode.None);
    // Pool level, every hour, exactly: borrowers' interest (and the entry fees) = lenders' + the exchange's.
    expect(acc.entryFees).toBe(pending);
    expect(acc.borrowInterest + acc.entryFees).toBe(acc.lendInterest + acc.exchangeInterest);
    if (pool.lendShares > 0n) {
      expect(acc.lendInterest).toBe(((acc.borrowInterest + pending) * (ONE - pool.config.fee)) / ONE);
    } else {
      expect(acc.lendInterest).toBe(0n);
    }
    // L5 formula: borrowed × r / 8760 within a unit (the index rounds up, the aggregate is a ceiling).
    const y = ONE * 8760n;
    const lo = (borrowedBefore * acc.rate) / y - 1n;
    const hi = (borrowedBefore * acc.rate + y - 1n) / y + 1n;
    expect(acc.borrowInterest >= lo && acc.borrowInterest <= hi).toBe(true);
    // L14: per-position interest for the hour sums to the growth of the positions' values.
    let b = 0n;
    let l = 0n;
    for (const p of this.positions) {
      b += borrowInterestForHour(p.borrowShares, acc);
      l += lendInterestForHour(p.lendShares, acc);
    }
    expect(b).toBe(this.owedSum() - owedBefore);
    expect(l).toBe(this.lentSum() - lentBefore);
  }

  /** The books, after every step. */
  check(): void {
    const { pool } = this;
    expect(validatePoolState(pool)).toBeNull();
    let borrowShares = 0n;
    let lendShares = 0n;
    let borrowers = 0n;
    let lenders = 0n;
    for (const p of this.positions) {
      expect(p.borrowShares === 0n || p.lendShares === 0n).toBe(true); // L15
      borrowShares += p.borrowShares;
      lendShares += p.lendShares;
      if (p.borrowShares > 0n) borrowers++;
      if (p.lendShares > 0n) lenders++;
    }
    expect(pool.borrowShares).toBe(borrowShares);
    expect(pool.lendShares).toBe(lendShares);
    expect(pool.cash).toBe(this.lends - this.redeems - this.borrows + this.repays - this.swept);
    const owed = this.owedSum();
    const lent = this.lentSum();
    // Each position rounds on its own, in the pool's favour, by less than one unit.
    const dustBorrow = owed - pool.totalBorrowed;
    const dustLend = pool.totalLent - lent;
    expect(dustBorrow >= 0n && dustBorrow <= (borrowers > 0n ? borrowers - 1n : 0n)).toBe(true);
    expect(dustLend >= 0n && dustLend <= (lenders > 0n ? lenders - 1n : 0n)).toBe(true);
    // Σ borrower interest = Σ lender interest + exchange share (+ the open positions' rounding), to the unit.
    const borrowerInterest = owed - this.borrows + this.repays;
    const lenderInterest = lent - this.lends + this.redeems;
    const exchange = exchangeShare(pool) + this.swept;
    expect(borrowerInterest).toBe(lenderInterest + exchange + dustBorrow + dustLend);
    // The exchange gets at least its fee share of all interest charged.
    expect(pool.exchangeInterestTotal * ONE >= pool.config.fee * pool.borrowInterestTotal).toBe(true);
    expect(exchangeShare(pool) >= pool.entryFeesPending).toBe(true);
  }

  /** Everyone repays and redeems everything: no rounding is left open, the identity holds with nothing beside it. */
  closeAll(): void {
    const { pool, out } = this;
    setPoolState(pool, PoolState.Open);
    for (const p of this.positions) {
      if (p.borrowShares === 0n) continue;
      expect(repayAll(pool, p, out)).toBe(RejectCode.None);
      this.repays += out.amount;
    }
    for (const p of this.positions) {
      if (p.lendShares === 0n) continue;
      expect(redeemAll(pool, p, out)).toBe(RejectCode.None);
      this.redeems += out.amount;
    }
    this.check();
    expect(pool.borrowShares).toBe(0n);
    expect(pool.lendShares).toBe(0n);
    const borrowerInterest = -this.borrows + this.repays;
    const lenderInterest = -this.lends + this.redeems;
    expect(borrowerInterest).toBe(lenderInterest + exchangeShare(pool) + this.swept);
    expect(pool.cash).toBe(exchangeShare(pool));
  }
}

describe("lending model", () => {
  it("L5: over random lends, redeems, borrows, repays and hours, Σ borrower interest = Σ lender interest + exchange share, exactly", () => {
    fc.assert(
      fc.property(
        configArb,
        amountArb,
        fc.array(cmdArb, { minLength: 1, maxLength: 80, size: "large" }),
        (config, seed, cmds) => {
          const m = new Model(config);
          m.run({ t: "lend", i: 9, amount: seed }); // something to borrow from, most of the time
          m.check();
          for (const cmd of cmds) {
            m.run(cmd);
            m.check();
          }
          m.closeAll();
        },
      ),
      { numRuns: 150 },
    );
  });
});
