// Public face of engine/risk/margin: the pure cross-margin formulas (C1–C9), the per-shard MarginContext (marks,
// config constants), the incremental AccountMargin with its hypothetical checks (C8), and the C10 solvers.
//
// How a risk shard drives it (units: USD and prices at PRICE_DECIMALS, ratios at RATIO_DECIMALS):
// - one `new MarginContext(config)` per shard; on every oracle/mark update `ctx.setAssetMark(asset, usdMark)` and,
//   for perpetuals, `ctx.setMarketMark(market, mark)` — accounts revalue the moved slots lazily, O(1) per write;
// - one `new AccountMargin(ctx, leverageLimitRatio)` per account; after anything that changes an asset's slot
//   (available, locked, lent, borrowed, or the open orders' borrows and credited proceeds: deposit, withdrawal, fill,
//   fee, transfer, borrow, repay, an order resting or ending) `account.setAssetHoldings(asset, available + lent,
//   locked, borrowed, openBorrow, openInflow, openRepay)`; perpetuals: `setPositionCostBasis` / `setPosition` after
//   fills, `setPositionOrders` when open orders change;
// - before a risk-increasing action, describe its effect in a reused MarginChanges and ask
//   `account.wouldPassInitialMargin(changes)` (C8; false → INSUFFICIENT_MARGIN), judged with every open order
//   filled and, with open spot orders of both sides, at the side corners (corners.ts; the per-side terms come from
//   `setAssetSellTerms` before `setAssetHoldings`): a spot order via `spotTradeChanges(changes, ctx, market, side, qty, limitPrice, feeBps, receiveRepays)`,
//   a withdrawal or outgoing transfer via `changes.clear().addAsset(asset, -amount)`, a borrow kept in the account
//   via `addHoldings(asset, amount, amount + fee)`; a leverage change via `wouldPassLeverageLimit`, then
//   `setLeverageLimit`;
// - statements read the account's getters; "max order / max withdrawal" queries call the solvers, which use the
//   same check.
export {
  HAIRCUT_NUMERATOR,
  UNBOUNDED,
  divFloorNonNegative,
  divCeilNonNegative,
  isqrtNear,
  notionalUsd,
  sqrtNotionalUp,
  sqrtNotionalUpNear,
  sqrtMarginTerm,
  sqrtMarginTermFromRoot,
  sqrtTermFlatLimitUsd,
  haircutWeight,
  haircutWeightFromRoot,
  haircutFlatWeight,
  haircutFlatLimitUsd,
  collateralValueUsd,
  borrowLiabilityUsd,
  exposureQuantity,
  inverseLeverage,
  imfFloor,
  positionImf,
  positionMmf,
  marginFractionNear,
  RootHint,
  positionMarginUsd,
  unrealizedPnlUsd,
  netEquityUsd,
  accountImf,
  accountMmf,
  netEquityLockedUsd,
  marginFraction,
  initialMarginRatio,
  maintenanceMarginRatio,
  passesInitialMargin,
  isLiquidatable,
  initialMarginRatioNotWorse,
} from "./formulas.ts";
export { MarginContext } from "./context.ts";
export { AccountMargin, MarginChanges, MARGIN_CHANGES_CAPACITY } from "./account.ts";
export {
  feeAmount,
  feeAmountExact,
  spotTradeChanges,
  maxSpotOrderQuantity,
  maxSpotBuyQuantity,
  maxSpotSellQuantity,
  maxWithdrawal,
  maxBorrow,
  type SpotOrderQuery,
} from "./solvers.ts";
