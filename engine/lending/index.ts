// Public face of engine/lending: pools, rate curves and interest indices (SPEC L), pure and synchronous.
//
// SCALES. Amounts are asset units (bigint). Ratios and APRs are 1e18 (RATIO_SCALE). Indices are 1e18
// (INDEX_ONE = 1.0; both start there and only grow). A position holds SHARES, SHARE_DECIMALS = 9 digits finer than
// the asset at index 1.0; its value is   lent = floor(lendShares × lendIndex)   owed = ceil(borrowShares × borrowIndex)
// (lentAmount / owedAmount; "× index" means × index / VALUE_SCALE, VALUE_SCALE = 1e27). Shares outgrow 64 bits:
// keep them as bigint.
//
// RATE CURVE (L3, L4). borrowRate(config, U) rounds UP; lendRate = r_b(U) × U rounds DOWN; lendRateAfterFee is
// what lenders really earn (× (1 − fee)). U is capped to [0, 1] for the curve; utilizationOf(borrowed, lent) reads 0
// when nothing is lent. validatePoolConfig names the first bad field. sampleRateCurve draws the curve (L13).
//
// POOL (L1, L2, L13). createPool(config) → LendingPool: share totals, indices, cash, cached totalLent/
// totalBorrowed, state (Open / Closed / RepayOnly), the hour's rate. Each action is check → plan → apply:
//   checkLend / checkRedeem / checkRedeemAll / checkBorrow / checkRepay / checkRepayAll(pool, position, …, out)
//     return a RejectCode (no exceptions) and fill out (a PoolAction: kind, shares, amount, entryFee, and the
//     position's value before/after) without changing anything;
//   applyPoolAction(pool, position, out) commits the plan to the pool totals, the cash and the position;
//   lend / redeem / redeemAll / borrow / repay / repayAll do both.
// A PoolPosition { lendShares, borrowShares } per (account, asset) is all an account needs; its owner keeps it.
// The caller moves out.amount on the account's available balance (into the pool for Lend/Repay, out for
// Redeem/Borrow). Gates: Closed refuses everything (PoolClosed); RepayOnly allows only repay and redeem;
// borrow and redeem are refused while U ≥ throttle (BorrowThrottled / RedeemThrottled, L7) or when U after would
// be > maxUtilization (MaxUtilization, L13: a bound U may reach, not exceed); lend and repay are never throttled; lend is capped by
// openBorrowLendLimit on totalLent (PoolLendLimit); L15 is refused per position
// (LendRequiresBorrowRepay / BorrowRequiresLendRedeem).
// Borrow takes msToNext (ms to the next hour mark, msToNextHour(timeMs)) and adds the L6 entry fee,
// entryFee(amount, hour's rate, msToNext) rounded up, to the debt.
// poolBorrowCapacity(pool, msToNext) / poolRedeemCapacity(pool) are the exact boundaries of those checks (L8, L11).
//
// INTEREST (L5, L6). accrueHour(pool, hourMs, out) charges the hour starting at hourMs at the APR of U now
// (its start), prepaid: borrowIndex × (1 + r/8760) rounded up; the lend index grows so that totalLent grows by
// floor((borrower interest + the entry fees since the last mark) × (1 − fee)); the exchange keeps the rest. O(1) per
// pool: positions are not touched, their interest is implied by the indices. The hour's rate prices the entry fees
// until the next mark, so every risk shard can compute a borrow from (indices, hour's rate) alone.
//
// EXACTNESS. Every rounding favours the pool, and the exchange's share is the residual, tracked in O(1):
//   per hour:  borrowInterest + entryFees = lendInterest + exchangeInterest                 (HourAccrual, exact)
//   always:    cash = totalLent − totalBorrowed + exchangeShare
//              exchangeShare + exchangeSwept = exchangeInterestTotal + exchangeRoundingTotal + entryFeesPending
//              exchangeRoundingTotal ≥ 0 (no action ever rounds in an account's favour), exchangeShare ≥ entryFeesPending
// Per account, owed and lent are rounded one by one (up / down), so Σ owed ≥ totalBorrowed and Σ lent ≤ totalLent
// by less than one unit per open position. That difference is the exchange's as well, and moves into
// exchangeShare when the position is touched; no O(1) accrual can know it sooner (it depends on every position's
// fraction). So, over accounts:  Σ borrower interest = Σ lender interest + exchange share + open-position
// rounding, to the unit at every step, and with nothing beside it once positions are closed (test/lending-model).
// Shares (Σ over accounts = pool.borrowShares / lendShares) reconcile exactly at any time; compare those.
// exchangeShare(pool) reads the exchange's part; sweepExchangeShare(pool) moves what of it is in cash out.
//
// HISTORY (L14). InterestKind, InterestRecord; borrowInterestForHour / lendInterestForHour(shares, HourAccrual)
// give one position's interest at one mark on demand; the PnL kinds split a USDC position's hour by the account's
// open realized PnL (risk/queries.ts pushHourInterest).
// REPLICAS. PoolDelta records a replica's own actions as additive sums; applyPoolDelta merges another replica's, so K
// risk shards holding one replica each agree again at a batch boundary. checkBorrowReserved plans a borrow whose
// capacity was reserved earlier (a margin order's fill); utilizationRoom is the units left below a utilization cap.
//
// poolStats(pool) is the L13 market view; validatePoolState(pool) checks the invariants (tests, debug).

export {
  borrowRate,
  CURVE_K_MAX,
  entryFee,
  HOURS_PER_YEAR,
  hourlyInterest,
  isValidMsToNextHour,
  lendRate,
  lendRateAfterFee,
  MS_PER_HOUR,
  msToNextHour,
  sampleRateCurve,
  utilizationOf,
  validatePoolConfig,
  type PoolConfigError,
  type RateCurvePoint,
} from "./rate.ts";
export {
  accrueHour,
  applyPoolAction,
  applyPoolDelta,
  checkBorrowReserved,
  checkRedeemForced,
  PoolDelta,
  utilizationRoom,
  borrow,
  borrowSharesFor,
  checkBorrow,
  checkLend,
  checkRedeem,
  checkRedeemAll,
  checkRepay,
  checkRepayAll,
  createPool,
  exchangeShare,
  forgiveBorrow,
  writeDownLent,
  HourAccrual,
  INDEX_DECIMALS,
  INDEX_ONE,
  isThrottled,
  lend,
  LendingPool,
  lendSharesFor,
  lentAmount,
  newPoolPosition,
  owedAmount,
  PoolAction,
  PoolActionKind,
  poolBorrowCapacity,
  poolBorrowRate,
  poolRedeemCapacity,
  poolStats,
  poolUtilization,
  redeem,
  redeemAll,
  redeemSharesFor,
  repay,
  repayAll,
  repaySharesFor,
  setPoolConfig,
  setPoolState,
  SHARE_DECIMALS,
  SHARE_ONE,
  sweepExchangeShare,
  validatePoolState,
  VALUE_SCALE,
  type PoolPosition,
  type PoolStats,
} from "./pool.ts";
export {
  borrowInterestForHour,
  InterestKind,
  InterestRecord,
  interestIsPaid,
  lendInterestForHour,
} from "./interest.ts";
