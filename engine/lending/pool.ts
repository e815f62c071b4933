// One asset's money-market pool: scaled positions, lend/redeem/borrow/repay checks and effects, hourly index accrual.

import { divCeil, divRound, RATIO_SCALE, Rounding, type Amount, type Ratio } from "../fixed/index.ts";
import { PoolState, RejectCode, type PoolConfig } from "../model/index.ts";
import {
  borrowRate,
  entryFee,
  HOURS_PER_YEAR,
  isValidMsToNextHour,
  lendRate,
  lendRateAfterFee,
  MS_PER_HOUR,
  utilizationOf,
  validatePoolConfig,
  type PoolConfigError,
} from "./rate.ts";

/** Indices are fixed point with INDEX_DECIMALS; both start at 1.0 and only ever grow. */
export const INDEX_DECIMALS = 18;
export const INDEX_ONE = 10n ** 18n;
/**
 * Shares carry SHARE_DECIMALS more digits than the asset: at index 1.0 one unit is 10^9 shares. Fine shares keep
 * partial repays and redeems exact to the unit (a coarse share could be worth more than the unit repaid).
 * Shares exceed 64 bits for large balances: store them as bigint, not in a BigInt64Array.
 */
export const SHARE_DECIMALS = 9;
export const SHARE_ONE = 10n ** 9n;
/** amount = shares × index / VALUE_SCALE. */
export const VALUE_SCALE = INDEX_ONE * SHARE_ONE;

const { Up } = Rounding;

// ---------------------------------------------------------------------------------------------------------------
// Share ⇄ amount (pure). Lenders round down, borrowers round up: every rounding favours the pool (L5).

/** Units a lend position is worth: floor(shares × lendIndex). */
export function lentAmount(lendShares: bigint, lendIndex: bigint): Amount {
  return (lendShares * lendIndex) / VALUE_SCALE;
}

/** Units a borrow position owes: ceil(shares × borrowIndex). */
export function owedAmount(borrowShares: bigint, borrowIndex: bigint): Amount {
  return divCeil(borrowShares * borrowIndex, VALUE_SCALE);
}

/** Shares bought by lending amount: rounded down, so the lender never gets more than it put in. */
export function lendSharesFor(amount: Amount, lendIndex: bigint): bigint {
  return (amount * VALUE_SCALE) / lendIndex;
}

/** Shares a redemption of amount burns: rounded up. */
export function redeemSharesFor(amount: Amount, lendIndex: bigint): bigint {
  return divCeil(amount * VALUE_SCALE, lendIndex);
}

/** Shares a debt of amount needs: rounded up, so the borrower owes at least amount. */
export function borrowSharesFor(amount: Amount, borrowIndex: bigint): bigint {
  return divCeil(amount * VALUE_SCALE, borrowIndex);
}

/** Shares a partial repayment of amount retires: rounded down, so the borrower is relieved of at most amount. */
export function repaySharesFor(amount: Amount, borrowIndex: bigint): bigint {
  return (amount * VALUE_SCALE) / borrowIndex;
}

// ---------------------------------------------------------------------------------------------------------------
// State

/**
 * One account's position in one pool, kept by the account's owner (the risk shard) beside its balances.
 * At most one side is non-zero (L15: the checks here refuse the other side while one is open).
 */
export interface PoolPosition {
  lendShares: bigint;
  borrowShares: bigint;
}

export function newPoolPosition(): PoolPosition {
  return { lendShares: 0n, borrowShares: 0n };
}

/**
 * Pool state. Mutated only through the functions of this module (one writer: the settlement worker).
 * Amount aggregates are derived from the share totals: totalBorrowed = ceil(borrowShares × borrowIndex),
 * totalLent = floor(lendShares × lendIndex), recomputed after every change.
 */
export class LendingPool {
  config: PoolConfig;
  state: PoolState;
  borrowIndex = INDEX_ONE;
  lendIndex = INDEX_ONE;
  /** Σ over accounts of borrowShares / lendShares, exactly. */
  borrowShares = 0n;
  lendShares = 0n;
  /** Derived, cached: ceil(borrowShares × borrowIndex), floor(lendShares × lendIndex). */
  totalBorrowed: Amount = 0n;
  totalLent: Amount = 0n;
  /** Units the pool holds: lends − redeems − borrows + repays − swept (= totalLent − totalBorrowed + exchangeShare). */
  cash: Amount = 0n;
  /** L6 entry fees charged since the last accrual; lenders get their part of them at the next hour mark. */
  entryFeesPending: Amount = 0n;
  /** APR charged for the current hour, fixed at its start by accrueHour (L5); entry fees use it too (L6). */
  hourBorrowRate: Ratio;
  /** Hour mark of the last accrual (ms since epoch), -1 before the first. */
  lastAccrualHourMs = -1;
  /** Cumulative aggregates since creation, units: borrower interest (hourly + entry fees) = lender + exchange. */
  borrowInterestTotal: Amount = 0n;
  lendInterestTotal: Amount = 0n;
  exchangeInterestTotal: Amount = 0n;
  /**
   * Units the exchange gained from the rounding of actions (shares rounded in the pool's favour, sub-unit
   * remainders burnt on redeem), never negative. Exactly: exchangeShare + exchangeSwept =
   * exchangeInterestTotal + exchangeRoundingTotal + entryFeesPending.
   */
  exchangeRoundingTotal: Amount = 0n;
  /** Units of the exchange share moved out of the pool by sweepExchangeShare. */
  exchangeSwept: Amount = 0n;

  constructor(config: PoolConfig) {
    const error = validatePoolConfig(config);
    if (error !== null) throw new RangeError(`pool config: ${error.message}`);
    this.config = config;
    this.state = config.state;
    this.hourBorrowRate = borrowRate(config, 0n);
  }
}

/** A validated pool at indices 1.0, empty, in config.state. Throws RangeError naming the field on a bad config. */
export function createPool(config: PoolConfig): LendingPool {
  return new LendingPool(config);
}

/** Replaces the parameters (and takes config.state); null on success, else the broken rule and nothing changes. */
export function setPoolConfig(pool: LendingPool, config: PoolConfig): PoolConfigError | null {
  const error = validatePoolConfig(config);
  if (error !== null) return error;
  pool.config = config;
  pool.state = config.state;
  return null;
}

export function setPoolState(pool: LendingPool, state: PoolState): void {
  pool.state = state;
}

function refreshTotals(pool: LendingPool): void {
  pool.totalBorrowed = owedAmount(pool.borrowShares, pool.borrowIndex);
  pool.totalLent = lentAmount(pool.lendShares, pool.lendIndex);
}

/** L2 utilization, rounded up (the rate and the checks read it conservatively). */
export function poolUtilization(pool: LendingPool): Ratio {
  return utilizationOf(pool.totalBorrowed, pool.totalLent, Up);
}

/** Borrow APR at the pool's utilization now (the rate the next hour mark will charge if nothing changes). */
export function poolBorrowRate(pool: LendingPool): Ratio {
  return borrowRate(pool.config, poolUtilization(pool));
}

/**
 * The exchange's share of the pool, units: cash + totalBorrowed − totalLent. It is the pool's fee share plus the
 * rounding of the aggregates; never negative. Part of it may still be owed by borrowers (a receivable), and
 * entryFeesPending of it belongs to lenders until the next hour mark.
 */
export function exchangeShare(pool: LendingPool): Amount {
  return pool.cash + pool.totalBorrowed - pool.totalLent;
}

/** Moves the part of the exchange share that is both the exchange's and held in cash out of the pool; returns it. */
export function sweepExchangeShare(pool: LendingPool): Amount {
  let amount = exchangeShare(pool) - pool.entryFeesPending;
  if (amount > pool.cash) amount = pool.cash;
  if (amount <= 0n) return 0n;
  pool.cash -= amount;
  pool.exchangeSwept += amount;
  return amount;
}

/** L7: U ≥ throttle threshold, compared exactly (borrowed × 1e18 ≥ threshold × lent). */
export function isThrottled(pool: LendingPool): boolean {
  if (pool.totalBorrowed === 0n) return false;
  return pool.totalBorrowed * RATIO_SCALE >= pool.config.throttleUtilizationThreshold * pool.totalLent;
}

/** L13: borrowed / lent would exceed maxUtilization (exact cross-multiplication): a bound U may reach, not pass. */
function aboveMax(pool: LendingPool, borrowed: Amount, lent: Amount): boolean {
  if (borrowed === 0n) return false;
  return borrowed * RATIO_SCALE > pool.config.maxUtilization * lent;
}

// ---------------------------------------------------------------------------------------------------------------
// Actions: check* validates and fills a plan (no state change); applyPoolAction commits a plan; lend/redeem/borrow/
// repay do both. A plan is valid until the pool or the position changes.

export const PoolActionKind = { Lend: 0, Redeem: 1, Borrow: 2, Repay: 3 } as const;
export type PoolActionKind = (typeof PoolActionKind)[keyof typeof PoolActionKind];

/** A reusable plan / result record. */
export class PoolAction {
  kind: PoolActionKind = PoolActionKind.Lend;
  /** Shares the position gains (Lend, Borrow) or gives up (Redeem, Repay). */
  shares = 0n;
  /** Units moving between the account and the pool: into it for Lend/Repay, out of it for Redeem/Borrow. */
  amount: Amount = 0n;
  /** Borrow only: the L6 entry fee, added to the debt. */
  entryFee: Amount = 0n;
  /**
   * The position's value (owed for Borrow/Repay, lent for Lend/Redeem) before and after, in units. After a borrow,
   * valueAfter − valueBefore − amount is what the borrow cost: the entry fee, plus at most one unit of share
   * rounding (none at index 1.0). The EntryFee interest (L14) records the fee; the rounding unit is the pool's.
   */
  valueBefore: Amount = 0n;
  valueAfter: Amount = 0n;

  reset(kind: PoolActionKind): void {
    this.kind = kind;
    this.shares = 0n;
    this.amount = 0n;
    this.entryFee = 0n;
    this.valueBefore = 0n;
    this.valueAfter = 0n;
  }
}

/**
 * Lend amount (L1). Refused: amount ≤ 0, worth no share or adding no unit to the claim (InvalidAmount), pool not Open (PoolClosed), the
 * position owes this asset (LendRequiresBorrowRepay, L15), totalLent + amount above openBorrowLendLimit
 * (PoolLendLimit). Never throttled (L7).
 */
export function checkLend(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  out.reset(PoolActionKind.Lend);
  if (amount <= 0n) return RejectCode.InvalidAmount;
  if (pool.state !== PoolState.Open) return RejectCode.PoolClosed;
  if (position.borrowShares > 0n) return RejectCode.LendRequiresBorrowRepay;
  if (pool.totalLent + amount > pool.config.openBorrowLendLimit) return RejectCode.PoolLendLimit;
  const shares = lendSharesFor(amount, pool.lendIndex);
  if (shares === 0n) return RejectCode.InvalidAmount;
  out.shares = shares;
  out.amount = amount;
  out.valueBefore = lentAmount(position.lendShares, pool.lendIndex);
  out.valueAfter = lentAmount(position.lendShares + shares, pool.lendIndex);
  // L1, L15: a lend that adds no unit to the claim (its shares worth less than one unit at the lend index) would leave
  // its units in the pool for nothing — and, alone, a position worth 0 whose shares bar the account's borrows.
  if (out.valueAfter === out.valueBefore) return RejectCode.InvalidAmount;
  return RejectCode.None;
}

function planRedeem(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  out.reset(PoolActionKind.Redeem);
  if (pool.state === PoolState.Closed) return RejectCode.PoolClosed;
  const held = position.lendShares;
  const value = lentAmount(held, pool.lendIndex);
  if (amount > value) return RejectCode.InsufficientBalance;
  if (isThrottled(pool)) return RejectCode.RedeemThrottled;
  let burn = redeemSharesFor(amount, pool.lendIndex);
  // A remainder worth less than one unit is burnt with it: no invisible positions (they would block L15).
  if (lentAmount(held - burn, pool.lendIndex) === 0n) burn = held;
  const lentAfter = lentAmount(pool.lendShares - burn, pool.lendIndex);
  if (aboveMax(pool, pool.totalBorrowed, lentAfter)) return RejectCode.MaxUtilization;
  if (amount > pool.cash) return RejectCode.NoLiquidity;
  out.shares = burn;
  out.amount = amount;
  out.valueBefore = value;
  out.valueAfter = lentAmount(held - burn, pool.lendIndex);
  return RejectCode.None;
}

/**
 * Redeem amount units of a lend position (L11). Refused: amount ≤ 0 (InvalidAmount), pool Closed (PoolClosed),
 * more than the position is worth (InsufficientBalance), U ≥ throttle (RedeemThrottled, L7), U after >
 * maxUtilization (MaxUtilization, L13), not enough cash (NoLiquidity; unreachable while the exchange share is not
 * swept). Allowed in RepayOnly. Redeeming the whole value, or leaving less than a unit, burns every share.
 */
export function checkRedeem(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  if (amount <= 0n) {
    out.reset(PoolActionKind.Redeem);
    return RejectCode.InvalidAmount;
  }
  return planRedeem(pool, position, amount, out);
}

/** Redeem the whole lend position (out.amount = its value, possibly 0 for a dust position; every share burnt). */
export function checkRedeemAll(pool: LendingPool, position: PoolPosition, out: PoolAction): RejectCode {
  if (position.lendShares === 0n) {
    out.reset(PoolActionKind.Redeem);
    return RejectCode.InsufficientBalance;
  }
  return planRedeem(pool, position, lentAmount(position.lendShares, pool.lendIndex), out);
}

/**
 * Borrow amount units (L1, L9) msToNext ms before the next hour mark; the L6 entry fee at the current hour's rate
 * is added to the debt. Refused: amount ≤ 0 (InvalidAmount), pool not Open (PoolClosed), msToNext outside
 * [0, 1 h] (InvalidTime), the position lends this asset (BorrowRequiresLendRedeem, L15), nothing lent
 * (NoLiquidity), U ≥ throttle (BorrowThrottled, L7), U after > maxUtilization (MaxUtilization, L13: U may reach it, not exceed it).
 * U after = ceil((borrowShares + new shares) × borrowIndex) / totalLent, the entry fee included.
 * Account-level limits (equity, leverage, L8) are the caller's.
 */
export function checkBorrow(
  pool: LendingPool,
  position: PoolPosition,
  amount: Amount,
  msToNext: number,
  out: PoolAction,
): RejectCode {
  out.reset(PoolActionKind.Borrow);
  if (amount <= 0n) return RejectCode.InvalidAmount;
  if (pool.state !== PoolState.Open) return RejectCode.PoolClosed;
  if (!isValidMsToNextHour(msToNext)) return RejectCode.InvalidTime;
  if (position.lendShares > 0n) return RejectCode.BorrowRequiresLendRedeem;
  if (pool.totalLent === 0n) return RejectCode.NoLiquidity;
  if (isThrottled(pool)) return RejectCode.BorrowThrottled;
  const fee = entryFee(amount, pool.hourBorrowRate, msToNext);
  const shares = borrowSharesFor(amount + fee, pool.borrowIndex);
  const borrowedAfter = owedAmount(pool.borrowShares + shares, pool.borrowIndex);
  if (aboveMax(pool, borrowedAfter, pool.totalLent)) return RejectCode.MaxUtilization;
  if (amount > pool.cash) return RejectCode.NoLiquidity;
  out.shares = shares;
  out.amount = amount;
  out.entryFee = fee;
  out.valueBefore = owedAmount(position.borrowShares, pool.borrowIndex);
  out.valueAfter = owedAmount(position.borrowShares + shares, pool.borrowIndex);
  return RejectCode.None;
}

/**
 * Repay amount units of a borrow position (L10). Refused: amount ≤ 0 or above what is owed (InvalidAmount),
 * pool Closed (PoolClosed). Never throttled; allowed in RepayOnly. Repaying exactly what is owed closes it.
 */
export function checkRepay(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  out.reset(PoolActionKind.Repay);
  if (amount <= 0n) return RejectCode.InvalidAmount;
  if (pool.state === PoolState.Closed) return RejectCode.PoolClosed;
  const owed = owedAmount(position.borrowShares, pool.borrowIndex);
  if (amount > owed) return RejectCode.InvalidAmount;
  const shares = amount === owed ? position.borrowShares : repaySharesFor(amount, pool.borrowIndex);
  out.shares = shares;
  out.amount = amount;
  out.valueBefore = owed;
  out.valueAfter = owedAmount(position.borrowShares - shares, pool.borrowIndex);
  return RejectCode.None;
}

/** Repay the whole debt (out.amount = what is owed). */
export function checkRepayAll(pool: LendingPool, position: PoolPosition, out: PoolAction): RejectCode {
  if (position.borrowShares === 0n) {
    out.reset(PoolActionKind.Repay);
    return RejectCode.InvalidAmount;
  }
  return checkRepay(pool, position, owedAmount(position.borrowShares, pool.borrowIndex), out);
}

/** Commits a plan from a check* call that returned None. The caller moves out.amount on the account's balance. */
export function applyPoolAction(pool: LendingPool, position: PoolPosition, plan: PoolAction): void {
  const exchangeBefore = exchangeShare(pool);
  switch (plan.kind) {
    case PoolActionKind.Lend:
      position.lendShares += plan.shares;
      pool.lendShares += plan.shares;
      pool.cash += plan.amount;
      break;
    case PoolActionKind.Redeem:
      position.lendShares -= plan.shares;
      pool.lendShares -= plan.shares;
      pool.cash -= plan.amount;
      break;
    case PoolActionKind.Borrow:
      position.borrowShares += plan.shares;
      pool.borrowShares += plan.shares;
      pool.cash -= plan.amount;
      pool.entryFeesPending += plan.entryFee;
      break;
    case PoolActionKind.Repay:
      position.borrowShares -= plan.shares;
      pool.borrowShares -= plan.shares;
      pool.cash += plan.amount;
      break;
    default: {
      const never: never = plan.kind;
      throw new Error(`applyPoolAction: unknown kind ${never as number}`);
    }
  }
  // Only the side whose shares moved changes its total (the indices do not move here).
  if (plan.kind === PoolActionKind.Lend || plan.kind === PoolActionKind.Redeem) pool.totalLent = lentAmount(pool.lendShares, pool.lendIndex);
  else pool.totalBorrowed = owedAmount(pool.borrowShares, pool.borrowIndex);
  // The entry fee waits in the exchange share for the next mark (lenders' part); the rest of the change is rounding.
  pool.exchangeRoundingTotal += exchangeShare(pool) - exchangeBefore - plan.entryFee;
}

export function lend(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  const code = checkLend(pool, position, amount, out);
  if (code === RejectCode.None) applyPoolAction(pool, position, out);
  return code;
}

export function redeem(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  const code = checkRedeem(pool, position, amount, out);
  if (code === RejectCode.None) applyPoolAction(pool, position, out);
  return code;
}

export function redeemAll(pool: LendingPool, position: PoolPosition, out: PoolAction): RejectCode {
  const code = checkRedeemAll(pool, position, out);
  if (code === RejectCode.None) applyPoolAction(pool, position, out);
  return code;
}

export function borrow(
  pool: LendingPool,
  position: PoolPosition,
  amount: Amount,
  msToNext: number,
  out: PoolAction,
): RejectCode {
  const code = checkBorrow(pool, position, amount, msToNext, out);
  if (code === RejectCode.None) applyPoolAction(pool, position, out);
  return code;
}

export function repay(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  const code = checkRepay(pool, position, amount, out);
  if (code === RejectCode.None) applyPoolAction(pool, position, out);
  return code;
}

export function repayAll(pool: LendingPool, position: PoolPosition, out: PoolAction): RejectCode {
  const code = checkRepayAll(pool, position, out);
  if (code === RejectCode.None) applyPoolAction(pool, position, out);
  return code;
}

// ---------------------------------------------------------------------------------------------------------------
// Capacities (L8 pool part, L11): exact boundaries of the checks above.

/** A monotone acceptance test: true up to some amount, false above it. */
type Fits = (pool: LendingPool, a: Amount, msToNext: number) => boolean;

/** Largest a in [lo, hi] with fits(a), given fits(lo). */
function maxFitting(pool: LendingPool, msToNext: number, lo: Amount, hi: Amount, fits: Fits): Amount {
  while (lo < hi) {
    const mid = hi - ((hi - lo) >> 1n); // upper middle: the loop ends with lo = hi
    if (fits(pool, mid, msToNext)) lo = mid;
    else hi = mid - 1n;
  }
  return lo;
}

/** checkBorrow's pool conditions past the state/throttle gates, for a given amount. */
function borrowFits(pool: LendingPool, a: Amount, msToNext: number): boolean {
  if (a > pool.cash) return false;
  const shares = borrowSharesFor(a + entryFee(a, pool.hourBorrowRate, msToNext), pool.borrowIndex);
  return !aboveMax(pool, owedAmount(pool.borrowShares + shares, pool.borrowIndex), pool.totalLent);
}

/**
 * Most units one borrow can take now, msToNext ms before the next hour mark (entry fee included): checkBorrow
 * accepts this amount and refuses one unit more (for a position without lend shares). 0 when it accepts nothing.
 */
export function poolBorrowCapacity(pool: LendingPool, msToNext: number): Amount {
  if (pool.state !== PoolState.Open || !isValidMsToNextHour(msToNext)) return 0n;
  if (pool.totalLent === 0n || isThrottled(pool)) return 0n;
  // Without fee and share rounding, borrowed + a ≤ maxU × lent bounds a from above.
  const bound = (pool.config.maxUtilization * pool.totalLent) / RATIO_SCALE - pool.totalBorrowed;
  let top = bound < pool.cash ? bound : pool.cash;
  if (top <= 0n) return 0n;
  // Gallop down from the bound (fee and rounding cost only a little, so the answer is near it), then bisect.
  let step = 1n + entryFee(top, pool.hourBorrowRate, msToNext);
  for (;;) {
    const probe = top - step;
    if (probe <= 1n) return borrowFits(pool, 1n, msToNext) ? maxFitting(pool, msToNext, 1n, top, borrowFits) : 0n;
    if (borrowFits(pool, probe, msToNext)) return maxFitting(pool, msToNext, probe, top, borrowFits);
    top = probe - 1n;
    step *= 2n;
  }
}

/** checkRedeem's pool conditions past the state/throttle gates, for a lender holding more than a. */
function redeemFits(pool: LendingPool, a: Amount, _msToNext: number): boolean {
  if (a > pool.cash || a > pool.totalLent) return false;
  const lentAfter = lentAmount(pool.lendShares - redeemSharesFor(a, pool.lendIndex), pool.lendIndex);
  return !aboveMax(pool, pool.totalBorrowed, lentAfter);
}

/**
 * Most units the pool lets one lender redeem now (L7, L11, L13), for a lender holding at least 2 units more:
 * checkRedeem accepts it and refuses one unit more. An account may redeem min(its lent amount, this) (a lender
 * redeeming its whole balance also burns its sub-unit remainder, which the check sees).
 */
export function poolRedeemCapacity(pool: LendingPool): Amount {
  if (pool.state === PoolState.Closed || isThrottled(pool)) return 0n;
  if (!redeemFits(pool, 1n, 0)) return 0n;
  const hi = pool.cash < pool.totalLent ? pool.cash : pool.totalLent;
  return maxFitting(pool, 0, 1n, hi, redeemFits);
}

// ---------------------------------------------------------------------------------------------------------------
// Hourly accrual (L5): O(1) per pool, whatever the number of positions.

/** What one accrueHour did; reusable. borrowInterest + entryFees = lendInterest + exchangeInterest, exactly. */
export class HourAccrual {
  hourMs = 0;
  /** Utilization (rounded up) and APR that priced the hour. */
  utilization: Ratio = 0n;
  rate: Ratio = 0n;
  borrowIndexBefore = INDEX_ONE;
  borrowIndexAfter = INDEX_ONE;
  lendIndexBefore = INDEX_ONE;
  lendIndexAfter = INDEX_ONE;
  /** Units: growth of totalBorrowed over the hour mark. */
  borrowInterest: Amount = 0n;
  /** Units: entry fees charged since the previous mark, shared out now. */
  entryFees: Amount = 0n;
  /** Units: growth of totalLent = floor((borrowInterest + entryFees) × (1 − fee)) (exact below 10^27 shares). */
  lendInterest: Amount = 0n;
  /** Units: the rest, the exchange's (fee share and rounding). */
  exchangeInterest: Amount = 0n;
}

/**
 * Charges the hour that starts at hourMs (a multiple of 1 h, after the previous one; else InvalidTime and nothing
 * changes) at the borrow APR of `utilization` — its start's (L5; the pool's now by default; the engine passes the
 * last batch boundary's, risk/pools.ts boundaryUtilization): borrowIndex × (1 + r/8760) rounded up, so every
 * debt grows by its hour of interest, rounded up per account. The lend index then grows as far as it can while
 * totalLent grows by at most floor((hour's borrower interest + pending entry fees) × (1 − fee)); the exchange keeps
 * the rest. The rate becomes the hour's rate for entry fees (L6). Missed hours are caught up by one call each.
 */
export function accrueHour(pool: LendingPool, hourMs: number, out: HourAccrual, utilization: Ratio = poolUtilization(pool)): RejectCode {
  if (!Number.isSafeInteger(hourMs) || hourMs % MS_PER_HOUR !== 0 || hourMs <= pool.lastAccrualHourMs) {
    return RejectCode.InvalidTime;
  }
  const rate = borrowRate(pool.config, utilization);
  const b0 = pool.borrowIndex;
  const l0 = pool.lendIndex;
  const b1 = b0 + divRound(b0 * rate, RATIO_SCALE * HOURS_PER_YEAR, Up);
  const borrowedBefore = pool.totalBorrowed;
  const lentBefore = pool.totalLent;
  const borrowedAfter = owedAmount(pool.borrowShares, b1);
  const borrowInterest = borrowedAfter - borrowedBefore;
  const entryFees = pool.entryFeesPending;
  const target = ((borrowInterest + entryFees) * (RATIO_SCALE - pool.config.fee)) / RATIO_SCALE;
  let l1 = l0;
  if (pool.lendShares > 0n && target > 0n) {
    // Largest index with floor(lendShares × index) ≤ lentBefore + target.
    const candidate = ((lentBefore + target + 1n) * VALUE_SCALE - 1n) / pool.lendShares;
    if (candidate > l0) l1 = candidate;
  }
  const lentAfter = lentAmount(pool.lendShares, l1);
  const lendInterest = lentAfter - lentBefore;

  pool.borrowIndex = b1;
  pool.lendIndex = l1;
  pool.totalBorrowed = borrowedAfter;
  pool.totalLent = lentAfter;
  pool.entryFeesPending = 0n;
  pool.hourBorrowRate = rate;
  pool.lastAccrualHourMs = hourMs;
  pool.borrowInterestTotal += borrowInterest + entryFees;
  pool.lendInterestTotal += lendInterest;
  pool.exchangeInterestTotal += borrowInterest + entryFees - lendInterest;

  out.hourMs = hourMs;
  out.utilization = utilization;
  out.rate = rate;
  out.borrowIndexBefore = b0;
  out.borrowIndexAfter = b1;
  out.lendIndexBefore = l0;
  out.lendIndexAfter = l1;
  out.borrowInterest = borrowInterest;
  out.entryFees = entryFees;
  out.lendInterest = lendInterest;
  out.exchangeInterest = borrowInterest + entryFees - lendInterest;
  return RejectCode.None;
}

// ---------------------------------------------------------------------------------------------------------------
// Q4 write-downs (engine/liquidation/bankruptcy.ts planLenderPayout; engine/risk/liquidation-lenders.ts)

/**
 * Removes a bankrupt borrower's whole debt from the pool (its shares; no cash comes in): returns the units it owed.
 * The pool's lenders lose the same claim by writeDownLent at the batch end (every replica at once).
 */
export function forgiveBorrow(pool: LendingPool, position: PoolPosition): Amount {
  const shares = position.borrowShares;
  if (shares <= 0n) return 0n;
  const owed = owedAmount(shares, pool.borrowIndex);
  position.borrowShares = 0n;
  pool.borrowShares -= shares;
  refreshTotals(pool);
  pool.exchangeRoundingTotal = exchangeShare(pool) + pool.exchangeSwept - pool.exchangeInterestTotal - pool.entryFeesPending;
  return owed;
}

/**
 * Q4: writes the lenders' claims down by `quantity` units through the lend index (Drift socializes a spot bankruptcy
 * through its cumulative deposit interest the same way): the largest index at which totalLent ≤ totalLent − quantity,
 * at least 1 (so shares keep a price; a pool written down to nothing leaves its lenders worth 0). Every lender loses
 * in proportion to its shares, each rounded down (the pool keeps the rounding: it enters exchangeRoundingTotal, as
 * every action's does). Returns the units totalLent fell by (≥ quantity unless the claims were smaller).
 */
export function writeDownLent(pool: LendingPool, quantity: Amount): Amount {
  if (quantity <= 0n || pool.lendShares === 0n) return 0n;
  const before = pool.totalLent;
  const target = before > quantity ? before - quantity : 0n;
  const index = (target * VALUE_SCALE) / pool.lendShares;
  pool.lendIndex = index > 0n ? index : 1n;
  refreshTotals(pool);
  pool.exchangeRoundingTotal = exchangeShare(pool) + pool.exchangeSwept - pool.exchangeInterestTotal - pool.entryFeesPending;
  return before - pool.totalLent;
}

// ---------------------------------------------------------------------------------------------------------------
// Market stats (L13) and self-check

export interface PoolStats {
  readonly state: PoolState;
  readonly totalLent: Amount;
  readonly totalBorrowed: Amount;
  /** totalLent − totalBorrowed: lenders' money not lent out (negative only if interest outgrew the lent total). */
  readonly freeLiquidity: Amount;
  readonly exchangeShare: Amount;
  /** Rounded up. */
  readonly utilization: Ratio;
  /** APRs at the utilization now. */
  readonly borrowRate: Ratio;
  readonly lendRate: Ratio;
  readonly lendRateAfterFee: Ratio;
  /** APR fixed at the last hour mark, charged for the current hour and by entry fees. */
  readonly hourBorrowRate: Ratio;
  readonly optimalUtilization: Ratio;
  readonly throttleUtilizationThreshold: Ratio;
  readonly maxUtilization: Ratio;
  readonly openBorrowLendLimit: Amount;
  readonly fee: Ratio;
  readonly throttled: boolean;
  readonly borrowIndex: bigint;
  readonly lendIndex: bigint;
}

/** The L13 market-stats view of a pool (a query: allocates its answer). */
export function poolStats(pool: LendingPool): PoolStats {
  const u = poolUtilization(pool);
  const c = pool.config;
  return {
    state: pool.state,
    totalLent: pool.totalLent,
    totalBorrowed: pool.totalBorrowed,
    freeLiquidity: pool.totalLent - pool.totalBorrowed,
    exchangeShare: exchangeShare(pool),
    utilization: u,
    borrowRate: borrowRate(c, u),
    lendRate: lendRate(c, u),
    lendRateAfterFee: lendRateAfterFee(c, u),
    hourBorrowRate: pool.hourBorrowRate,
    optimalUtilization: c.optimalUtilization,
    throttleUtilizationThreshold: c.throttleUtilizationThreshold,
    maxUtilization: c.maxUtilization,
    openBorrowLendLimit: c.openBorrowLendLimit,
    fee: c.fee,
    throttled: isThrottled(pool),
    borrowIndex: pool.borrowIndex,
    lendIndex: pool.lendIndex,
  };
}

/** Checks the pool's invariants; returns the first violation or null. For tests and debug assertions. */
export function validatePoolState(pool: LendingPool): string | null {
  // The lend index only grows but for a Q4 write-down (writeDownLent), which may take it below 1.0, never to 0.
  if (pool.borrowIndex < INDEX_ONE || pool.lendIndex < 1n) return "borrow index below 1.0 or lend index not positive";
  if (pool.borrowShares < 0n || pool.lendShares < 0n) return "negative share total";
  if (pool.cash < 0n) return "negative cash";
  if (pool.totalBorrowed !== owedAmount(pool.borrowShares, pool.borrowIndex)) return "stale totalBorrowed";
  if (pool.totalLent !== lentAmount(pool.lendShares, pool.lendIndex)) return "stale totalLent";
  if (pool.entryFeesPending < 0n) return "negative pending entry fees";
  if (exchangeShare(pool) < pool.entryFeesPending) return "exchange share below pending entry fees (insolvent)";
  if (pool.borrowInterestTotal !== pool.lendInterestTotal + pool.exchangeInterestTotal) {
    return "interest totals do not balance";
  }
  if (pool.exchangeRoundingTotal < 0n) return "negative action rounding (an action favoured an account)";
  const claimed = pool.exchangeInterestTotal + pool.exchangeRoundingTotal + pool.entryFeesPending;
  if (exchangeShare(pool) + pool.exchangeSwept !== claimed) return "exchange share does not reconcile";
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Replicas (several risk shards, one pool): additive deltas merged at batch boundaries.

/**
 * What a replica's own actions changed since the last boundary, as sums: every field is additive, so the replicas of
 * K risk shards become identical again when each applies the other shards' deltas (applyPoolDelta).
 */
export class PoolDelta {
  lendShares = 0n;
  borrowShares = 0n;
  cash: Amount = 0n;
  entryFeesPending: Amount = 0n;
  /** Borrow capacity reserved by open margin orders (the caller's bookkeeping, merged with the rest). */
  reservedBorrow: Amount = 0n;

  clear(): void {
    this.lendShares = 0n;
    this.borrowShares = 0n;
    this.cash = 0n;
    this.entryFeesPending = 0n;
    this.reservedBorrow = 0n;
  }

  isZero(): boolean {
    return this.lendShares === 0n && this.borrowShares === 0n && this.cash === 0n && this.entryFeesPending === 0n && this.reservedBorrow === 0n;
  }

  /** Records what a committed plan changed (call beside applyPoolAction). */
  addAction(plan: PoolAction): void {
    switch (plan.kind) {
      case PoolActionKind.Lend:
        this.lendShares += plan.shares;
        this.cash += plan.amount;
        return;
      case PoolActionKind.Redeem:
        this.lendShares -= plan.shares;
        this.cash -= plan.amount;
        return;
      case PoolActionKind.Borrow:
        this.borrowShares += plan.shares;
        this.cash -= plan.amount;
        this.entryFeesPending += plan.entryFee;
        return;
      case PoolActionKind.Repay:
        this.borrowShares -= plan.shares;
        this.cash += plan.amount;
        return;
    }
  }

  add(o: PoolDelta): void {
    this.lendShares += o.lendShares;
    this.borrowShares += o.borrowShares;
    this.cash += o.cash;
    this.entryFeesPending += o.entryFeesPending;
    this.reservedBorrow += o.reservedBorrow;
  }
}

/**
 * Applies another replica's delta (not reservedBorrow: the caller's). Totals are recomputed from the shares, and the
 * action rounding is re-derived from the exchange-share identity, so every replica that applied the same deltas to
 * the same boundary state holds the same pool, field for field.
 */
export function applyPoolDelta(pool: LendingPool, d: PoolDelta): void {
  pool.lendShares += d.lendShares;
  pool.borrowShares += d.borrowShares;
  pool.cash += d.cash;
  pool.entryFeesPending += d.entryFeesPending;
  refreshTotals(pool);
  pool.exchangeRoundingTotal = exchangeShare(pool) + pool.exchangeSwept - pool.exchangeInterestTotal - pool.entryFeesPending;
}

/**
 * A borrow the caller has already admitted (capacity reserved earlier: a margin order's fill, S2): the plan of
 * checkBorrow without its throttle and utilization gates. Refused only for a bad amount or time, a lend position
 * (L15) or missing cash.
 */
export function checkBorrowReserved(
  pool: LendingPool,
  position: PoolPosition,
  amount: Amount,
  msToNext: number,
  out: PoolAction,
): RejectCode {
  out.reset(PoolActionKind.Borrow);
  if (amount <= 0n) return RejectCode.InvalidAmount;
  if (!isValidMsToNextHour(msToNext)) return RejectCode.InvalidTime;
  if (position.lendShares > 0n) return RejectCode.BorrowRequiresLendRedeem;
  if (amount > pool.cash) return RejectCode.NoLiquidity;
  const fee = entryFee(amount, pool.hourBorrowRate, msToNext);
  const shares = borrowSharesFor(amount + fee, pool.borrowIndex);
  out.shares = shares;
  out.amount = amount;
  out.entryFee = fee;
  out.valueBefore = owedAmount(position.borrowShares, pool.borrowIndex);
  out.valueAfter = owedAmount(position.borrowShares + shares, pool.borrowIndex);
  return RejectCode.None;
}

/**
 * Units of borrow (amount + entry fee + 1 of rounding, summed) and redemption (amount + 1) that may still be taken
 * before borrowed / lent would reach `limit` (a ratio: the throttle) — or, `reachable`, exceed it (maxUtilization, a
 * bound U may reach: L13) — with `reserved` units already promised: the largest X with (totalBorrowed + reserved + X)
 * × 1e18 < limit × totalLent (≤ when reachable), or 0. Taking at most this, in any order and any mix, can never bring
 * U to (past) `limit` (maxU ≤ 1, so a redemption of y lowers limit × lent by ≤ y).
 */
export function utilizationRoom(pool: LendingPool, limit: Ratio, reserved: Amount, reachable = false): Amount {
  const line = reachable ? (limit * pool.totalLent) / RATIO_SCALE : divRound(limit * pool.totalLent, RATIO_SCALE, Up) - 1n;
  const top = line - pool.totalBorrowed - reserved;
  return top > 0n ? top : 0n;
}

/** A redemption the caller must honour whatever the utilization (a fill already made, S2): no throttle/max gates. */
export function checkRedeemForced(pool: LendingPool, position: PoolPosition, amount: Amount, out: PoolAction): RejectCode {
  out.reset(PoolActionKind.Redeem);
  const held = position.lendShares;
  const value = lentAmount(held, pool.lendIndex);
  if (amount <= 0n || amount > value) return RejectCode.InvalidAmount;
  if (amount > pool.cash) return RejectCode.NoLiquidity;
  let burn = redeemSharesFor(amount, pool.lendIndex);
  if (lentAmount(held - burn, pool.lendIndex) === 0n) burn = held;
  out.shares = burn;
  out.amount = amount;
  out.valueBefore = value;
  out.valueAfter = lentAmount(held - burn, pool.lendIndex);
  return RejectCode.None;
}
