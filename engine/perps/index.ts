// Public face of engine/perps: the pure rules of SPEC P (prices and perpetual futures).
//
// A pure folder: it imports only engine/fixed and engine/model; no state beyond small records its callers own, no
// sink, no clock (engine time comes in as an argument). Precisions: prices at PRICE_DECIMALS (1e-9), ratios
// (weights, premiums, rates, multipliers) at RATIO_DECIMALS (1e18 = 1), quantities in base-asset units, PnL, fees
// and funding payments in settlement-asset (USDC) units, margin amounts in USD at PRICE_DECIMALS (as risk/margin).
//
// - sampling.ts: engineSecond, isNextSecond — "once a second of engine time" for P3 and P4 samples;
//   crossesRealizationMark — P5's 10-second marks.
// - median.ts: medianOfThree, medianInPlace (even count → floor mean of the middle pair, as O4's active price).
// - oracle-index.ts (P2): computeIndexPrice(quotes, weights, count, params, previousIndex, nowMs, out) — source
//   price = median{bid, ask, last}, stale sources dropped, clamp to median ± clampBps, weighted mean (half-even),
//   step limit × / ÷ maxPriceUpdateMultiplier; stale with no fresh source. checkSourceQuote / checkIndexParams.
// - oracle-book.ts (P2): OracleBook, the latest quote per configured source and the last index of every asset with an
//   oracle — the replica each risk shard and each matching shard keeps from the journaled OracleQuote commands.
// - mark-price.ts (P3): PremiumEwma + sampleEwma (alpha = 2/301, one sample a second), computeMarkPrice (chain
//   (a)–(e), post-only → index, clamp to index × [0.95, 1.05]), premiumOf (O7, P4).
// - moving-mean.ts (P3 → O6, O7): MovingMean, a 300-slot ring with a running sum.
// - funding.ts (P4): FundingSamples, addFundingSample, meanPremium, fundingInterestComponent, fundingRate,
//   fundingPayment (signed ceiling: payers up, receivers down), settleFundingPayments (remainder → insurance fund).
// - position.ts (P1, P5): PerpPosition (exact cost basis), applyFill, reduceOnlyFillCap, entryPrice, breakEvenPrice,
//   unrealizedPnl, applyFundingPayment, realizePnl (floor; Σ never creates money), openInterestChange.
// - settlement-plan.ts (P6, P7): planUsdcDebit (balance → redeem → borrow → convert), forcedSettlementBorrow,
//   planUsdcCredit (repay → lend → balance).
// - liquidation-price.ts (P8): estimatedLiquidationPrice on the tick grid, with C5's MMF passed in (mmfOf).

export { medianInPlace, medianOfThree } from "./median.ts";
export {
  BPS_SCALE,
  checkIndexParams,
  checkSourceQuote,
  clampToMedian,
  computeIndexPrice,
  INDEX_CLAMP_BPS_DEFAULT,
  INDEX_SOURCES_MAX,
  INDEX_STALE_AFTER_MS_DEFAULT,
  IndexResult,
  isSourceFresh,
  limitPriceStep,
  MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT,
  sourcePrice,
  type IndexParams,
  type IndexSourceQuote,
} from "./oracle-index.ts";
export {
  checkMarkParams,
  computeMarkPrice,
  ewmaPrice,
  MARK_CLAMP_LOWER_DEFAULT,
  MARK_CLAMP_UPPER_DEFAULT,
  MARK_EWMA_EXTRA_DECIMALS,
  MARK_EWMA_SAMPLES,
  MARK_EWMA_STALE_AFTER_MS_DEFAULT,
  MarkInputs,
  MarkResult,
  MarkSource,
  midPrice,
  premiumOf,
  PremiumEwma,
  sampleEwma,
  type MarkParams,
} from "./mark-price.ts";
export { AssetOracle, OracleBook } from "./oracle-book.ts";
export { MovingMean, MOVING_MEAN_SAMPLES_DEFAULT, MOVING_MEAN_SAMPLES_MAX } from "./moving-mean.ts";
export {
  addFundingSample,
  BPS_RATIO,
  checkFundingParams,
  FUNDING_DIVISOR_DEFAULT,
  FUNDING_INTEREST_PER_DAY,
  FUNDING_INTERVAL_HOURS_DEFAULT,
  FUNDING_PREMIUM_CLAMP,
  FUNDING_RATE_LOWER_BPS_DEFAULT,
  FUNDING_RATE_UPPER_BPS_DEFAULT,
  fundingInterestComponent,
  fundingPayment,
  fundingRate,
  FundingSamples,
  FundingSettlement,
  meanPremium,
  settleFundingPayments,
} from "./funding.ts";
export {
  applyFill,
  applyFundingPayment,
  breakEvenPrice,
  entryPrice,
  FillEffect,
  NO_POSITION,
  openInterestChange,
  PerpPosition,
  pnlToSettlementUnits,
  realizePnl,
  reduceOnlyFillCap,
  unrealizedPnl,
  openRealizedPnl,
} from "./position.ts";
export {
  estimatedLiquidationPrice,
  isLiquidatableAtMark,
  LiquidationPriceInputs,
  maintenanceShortfallAtMark,
  LiquidationPriceKind,
  LiquidationPriceResult,
  type PositionMmfFormula,
} from "./liquidation-price.ts";
export {
  forcedSettlementBorrow,
  planUsdcCredit,
  planUsdcDebit,
  UsdcCreditPlan,
  UsdcDebitPlan,
} from "./settlement-plan.ts";
export { crossesRealizationMark, engineSecond, isNextSecond, MS_PER_SECOND, REALIZATION_INTERVAL_MS } from "./sampling.ts";
