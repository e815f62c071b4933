// Public face of engine/liquidation: the pure rules of SPEC Q (and C9), wired by engine/risk (Q1's trigger, Q2's book steps).
//
// A pure folder: it imports only engine/fixed and engine/model; no state, no sink, no clock. Margin formulas that live
// in engine/risk/margin (C1's haircut weight, C5's MMF) come in as parameters (BandFormulas), as in
// engine/perps/liquidation-price.ts. Units: USD amounts and prices at PRICE_DECIMALS (1e-9), ratios at RATIO_DECIMALS
// (1e18 = 1), quantities in each asset's own units, quote amounts (fees, payouts) in the quote asset's units.
//
// - params.ts: the Q parameters and defaults (exit MMR 98%, step 10%, slippage 5%, fee 1%, ACMF divisor 2 and
//   offset 1%), checkLiquidationParams.
// - trigger.ts (Q1, C9): isLiquidatable, canExitLiquidation, nextLiquidationStatus (hysteresis).
// - safe-band.ts (Q1's index): PriceSlot, slotSurplusUsd / slotSurplusLowerBoundUsd, splitSurplusBudget, safeBand,
//   mayBecomeLiquidatable, firstIndexAbove / firstIndexAtOrAbove over sorted band edges.
// - book-step.ts (Q2): pickLargestMaintenanceMargin, liquidationStepQuantity, minNotionalQuantity (O2),
//   liquidationLimitPrice, liquidationFee,
//   planPositionStep (LiquidatePositionOnBook).
// - borrow-step.ts (Q2): planBorrowStep (CollateralConversion: buy the owed asset, or sell the largest collateral).
// - engine-orders.ts (D3): engine order ids, ENGINE_ORDERS_PER_BATCH_MAX, which liquidating accounts a batch serves.
// - backstop.ts (Q3): autoCloseMarginFraction, isBelowAutoCloseMarginFraction, chooseLiquidationStage,
//   planBackstopTakeover (LiquidatePositionOnBackstop, all or nothing within the backstop's limit).
// - bankruptcy.ts (Q4): planInsuranceCover, bankruptcyPrice, rankAdlCandidates, allocateAdl (LiquidatePositionOnAdl),
//   planLenderPayout (USD value at the liquidation price, pro rata, in USDC).
// - lender-adl.ts (Q5): rankLenderAdlBorrowers, planLenderAdl.

export {
  ACMF_DIVISOR_DEFAULT,
  ACMF_OFFSET_DEFAULT,
  BACKSTOP_ACCOUNT_NONE,
  checkLiquidationConfig,
  checkLiquidationParams,
  LIQUIDATION_CONFIG_DEFAULT,
  LIQUIDATION_EXIT_MMR_DEFAULT,
  LIQUIDATION_FEE_DEFAULT,
  LIQUIDATION_MAX_SLIPPAGE_DEFAULT,
  LIQUIDATION_PARAMS_DEFAULT,
  LIQUIDATION_STEP_FRACTION_DEFAULT,
  type LiquidationParams,
} from "./params.ts";
export { canExitLiquidation, isLiquidatable, LiquidationStatus, nextLiquidationStatus } from "./trigger.ts";
export {
  bandSearchEvaluations,
  firstIndexAbove,
  firstIndexAtOrAbove,
  mayBecomeLiquidatable,
  PriceSlot,
  SafeBand,
  safeBand,
  safeBandFrom,
  slotSurplusLowerBoundUsd,
  slotSurplusUsd,
  splitSurplusBudget,
  type BandFormulas,
  type BandGrid,
} from "./safe-band.ts";
export {
  BookStepKind,
  BookStepPlan,
  LiquidationItem,
  LiquidationItemKind,
  liquidationFee,
  liquidationLimitPrice,
  liquidationStepQuantity,
  minNotionalQuantity,
  NoStepReason,
  pickLargestMaintenanceMargin,
  planPositionStep,
  type StepGrid,
} from "./book-step.ts";
export { BorrowStepInputs, CollateralHolding, planBorrowStep } from "./borrow-step.ts";
export { ENGINE_ORDER_ID_BASE, ENGINE_ORDERS_PER_BATCH_MAX, engineOrderId, firstServedIndex, isEngineOrderId } from "./engine-orders.ts";
export {
  autoCloseMarginFraction,
  BackstopPlan,
  chooseLiquidationStage,
  isBelowAutoCloseMarginFraction,
  LiquidationStage,
  planBackstopTakeover,
  TakeoverAsset,
  TakeoverPosition,
} from "./backstop.ts";
export {
  AdlCandidate,
  allocateAdl,
  BankruptcyPriceInputs,
  BankruptcyPriceResult,
  bankruptcyPrice,
  InsuranceCover,
  LenderPayout,
  planInsuranceCover,
  planLenderPayout,
  planLenderPayoutByShares,
  rankAdlCandidates,
  usdToQuoteUnitsUp,
} from "./bankruptcy.ts";
export { AdlBorrower, LenderAdlPlan, planLenderAdl, rankLenderAdlBorrowers } from "./lender-adl.ts";
