// Q2: one book-liquidation step — which position or borrow, how much, on which side, at which limit — and the 1%
// liquidation fee of a fill. Plans only: the executor sends the IOC (LiquidatePositionOnBook, CollateralConversion)
// and moves the money.
//
// - Which: the position or borrow with the largest maintenance margin (ties: the first in the caller's order, which
//   it keeps by market/asset id so a replay picks the same).
// - How much: floor(|quantity| × liquidationStepFraction) rounded down to the market's step size; at least the
//   market's min quantity (an order below it cannot be placed, so the minimum wins over the fraction for small
//   positions); never more than the position rounded down to the step. A position below the min quantity has no book
//   step: Q3 hands it to the backstop. A collateral sale is also at least the market's min notional at its limit
//   (minNotionalQuantity, O2: matching refuses a smaller limit order, every batch); a holding too small for that has no
//   sale. (Position steps and owed-asset buys do not apply the min notional yet: their planners have no decimals.)
// - Limit: mark × (1 ± liquidationMaxSlippage) with one rounding onto the tick grid toward the mark (a sell's bound up,
//   a buy's down), so the rounded limit is never worse than the bound; clamped into [minPrice, maxPrice] only in the
//   direction that is no worse. Drift prices its liquidation orders the same way, oracle ± a fraction, reduce-only
//   (programs/drift/src/math/liquidation.rs get_liquidation_order_params); dYdX's are IOC takers
//   (protocol/x/clob/types/liquidation_order.go).
// - Borrow: the owed asset is bought on its spot market (CollateralConversion, buy) when the account's available
//   quote (USDC) pays for the step at its limit; otherwise, and always for a USDC borrow, the collateral with the
//   largest collateral value is sold (CollateralConversion, sell) for the quote the step needs (seed 002: "the system
//   will automatically sell off your collateral to repay the borrowed funds"; seed 004: non-USDC collateral is
//   converted to USDC).
// - Fee: ceil(fill notional × liquidationFee), in the fill's quote units, to the insurance fund (seed 002: "A 1% fee
//   is charged for each order-book conversion performed during liquidation"); rounded up, the exchange is owed it.

import { divRound, pow10, RATIO_SCALE, Rounding, type Amount, type Price, type Ratio } from "../fixed/index.ts";
import { Side, type MarketConfig } from "../model/index.ts";
import type { LiquidationParams } from "./params.ts";

/** The market grid a step is placed on (a MarketConfig fits). */
export type StepGrid = Pick<
  MarketConfig,
  "tickSize" | "minPrice" | "maxPrice" | "stepSize" | "minQuantity" | "minNotional"
>;

export const LiquidationItemKind = { Position: 0, Borrow: 1 } as const;
export type LiquidationItemKind = (typeof LiquidationItemKind)[keyof typeof LiquidationItemKind];

/** A position (id = market) or a borrow (id = asset) with its maintenance margin; a reused record. */
export class LiquidationItem {
  kind: LiquidationItemKind = LiquidationItemKind.Position;
  id = 0;
  /** Position: signed base units. Borrow: the owed quantity (> 0). */
  quantity: Amount = 0n;
  /** notional × MMF, USD at PRICE_DECIMALS. */
  maintenanceMarginUsd = 0n;
}

/** Q2: the index of the item with the largest maintenance margin among those with a quantity; −1 if none. */
export function pickLargestMaintenanceMargin(items: readonly LiquidationItem[], count: number): number {
  let best = -1;
  for (let i = 0; i < count; i++) {
    const item = items[i]!;
    if (item.quantity === 0n) continue;
    if (best < 0 || item.maintenanceMarginUsd > items[best]!.maintenanceMarginUsd) best = i;
  }
  return best;
}

/** Q2: the step quantity for |quantity| = absQuantity (see the module comment); 0 when no step can be placed. */
export function liquidationStepQuantity(absQuantity: Amount, stepFraction: Ratio, grid: StepGrid): Amount {
  if (absQuantity <= 0n) return 0n;
  const step = grid.stepSize;
  const most = (absQuantity / step) * step;
  let q = ((absQuantity * stepFraction) / RATIO_SCALE / step) * step;
  if (q < grid.minQuantity) q = divRound(grid.minQuantity, step, Rounding.Up) * step;
  if (q > most) q = most;
  return q >= grid.minQuantity && q > 0n ? q : 0n;
}

/**
 * Q2 with O2: the least quantity on the step grid whose notional at `limit` meets the market's minNotional (matching
 * refuses a limit order below it with MinNotional: floor(q × limit in quote units) ≥ minNotional, as
 * matching/market.ts checks it). 0 when the market has no minimum.
 */
export function minNotionalQuantity(limit: Price, baseDecimals: number, quoteDecimals: number, grid: StepGrid): Amount {
  if (grid.minNotional <= 0n || limit <= 0n) return 0n;
  // q × limit × 10^quoteDecimals / 10^(baseDecimals + PRICE_DECIMALS) ≥ minNotional, PRICE_DECIMALS = 9.
  const product = divRound(grid.minNotional * pow10(baseDecimals + 9), pow10(quoteDecimals), Rounding.Up);
  const q = divRound(product, limit, Rounding.Up);
  return divRound(q, grid.stepSize, Rounding.Up) * grid.stepSize;
}

/** Q2: the limit price of a liquidation order on `side`, or 0 when no grid price within the bound exists. */
export function liquidationLimitPrice(mark: Price, side: Side, maxSlippage: Ratio, grid: StepGrid): Price {
  const tick = grid.tickSize;
  if (side === Side.Buy) {
    let p = divRound(mark * (RATIO_SCALE + maxSlippage), RATIO_SCALE * tick, Rounding.Down) * tick;
    if (p > grid.maxPrice) p = grid.maxPrice;
    return p >= grid.minPrice ? p : 0n;
  }
  let p = divRound(mark * (RATIO_SCALE - maxSlippage), RATIO_SCALE * tick, Rounding.Up) * tick;
  if (p < grid.minPrice) p = grid.minPrice;
  return p <= grid.maxPrice ? p : 0n;
}

/** Q2: the liquidation fee of a fill, ceil(notional × fee), in the notional's units. */
export function liquidationFee(fillNotional: Amount, feeRatio: Ratio): Amount {
  return divRound(fillNotional * feeRatio, RATIO_SCALE, Rounding.Up);
}

export const BookStepKind = { None: 0, LiquidatePositionOnBook: 1, CollateralConversion: 2 } as const;
export type BookStepKind = (typeof BookStepKind)[keyof typeof BookStepKind];

/** Why a plan has no step (kind None). */
export const NoStepReason = {
  None: 0,
  NothingToLiquidate: 1,
  BelowMinQuantity: 2,
  NoPriceWithinBound: 3,
  NoCollateral: 4,
  /** The step was placed but the book filled none of it within the slippage bound (set by the executor). */
  NoFillWithinBound: 5,
} as const;
export type NoStepReason = (typeof NoStepReason)[keyof typeof NoStepReason];

/** One step; a reused record. asset: the collateral sold or the owed asset bought (−1 for a position). */
export class BookStepPlan {
  kind: BookStepKind = BookStepKind.None;
  reason: NoStepReason = NoStepReason.None;
  market = -1;
  asset = -1;
  side: Side = Side.Sell;
  quantity: Amount = 0n;
  limitPrice: Price = 0n;
}

/** Fills `out` as "no step" for `reason`. */
export function setNoStep(out: BookStepPlan, reason: NoStepReason): BookStepPlan {
  out.kind = BookStepKind.None;
  out.reason = reason;
  out.market = -1;
  out.asset = -1;
  out.quantity = 0n;
  out.limitPrice = 0n;
  return out;
}

/** Fills `out` with one step. */
export function setStep(
  out: BookStepPlan,
  kind: BookStepKind,
  market: number,
  asset: number,
  side: Side,
  quantity: Amount,
  limitPrice: Price,
): BookStepPlan {
  out.kind = kind;
  out.reason = NoStepReason.None;
  out.market = market;
  out.asset = asset;
  out.side = side;
  out.quantity = quantity;
  out.limitPrice = limitPrice;
  return out;
}

/** Q2: a step reducing the perpetual position `quantity` (signed) of `market` at its mark. */
export function planPositionStep(
  market: number,
  quantity: Amount,
  mark: Price,
  grid: StepGrid,
  params: LiquidationParams,
  out: BookStepPlan,
  baseDecimals: number,
  quoteDecimals: number,
): BookStepPlan {
  if (quantity === 0n) return setNoStep(out, NoStepReason.NothingToLiquidate);
  const side = quantity > 0n ? Side.Sell : Side.Buy;
  const abs = quantity > 0n ? quantity : -quantity;
  let q = liquidationStepQuantity(abs, params.liquidationStepFraction, grid);
  if (q === 0n) return setNoStep(out, NoStepReason.BelowMinQuantity);
  const limit = liquidationLimitPrice(mark, side, params.liquidationMaxSlippage, grid);
  if (limit === 0n) return setNoStep(out, NoStepReason.NoPriceWithinBound);
  // O2: a step below the market's minNotional at its limit is refused by matching every batch; raise it to the least
  // that meets it, never beyond the position (reduce-only). A position too small for one is no book step (Q3/Q4's).
  const least = minNotionalQuantity(limit, baseDecimals, quoteDecimals, grid);
  if (q < least) q = least;
  if (q > abs) return setNoStep(out, NoStepReason.BelowMinQuantity);
  return setStep(out, BookStepKind.LiquidatePositionOnBook, market, -1, side, q, limit);
}
