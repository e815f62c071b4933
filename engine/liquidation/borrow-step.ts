// Q2 for a borrow: the next CollateralConversion step — buy the owed asset with the account's quote (USDC), or sell
// the collateral with the largest collateral value for the quote the step needs (see book-step.ts for the rules and
// the seeds they follow).

import {
  divRound,
  pow10,
  PRICE_SCALE,
  quoteAmount,
  RATIO_SCALE,
  Rounding,
  type Amount,
  type Price,
} from "../fixed/index.ts";
import { Side } from "../model/index.ts";
import {
  BookStepKind,
  BookStepPlan,
  liquidationLimitPrice,
  liquidationStepQuantity,
  minNotionalQuantity,
  NoStepReason,
  setNoStep,
  setStep,
  type StepGrid,
} from "./book-step.ts";
import type { LiquidationParams } from "./params.ts";

/** A collateral the account may sell: its spot market against the quote asset; a reused record. */
export class CollateralHolding {
  asset = 0;
  /** The spot market asset/quote. */
  market = 0;
  /** Available units (> 0 to be sold). */
  quantity: Amount = 0n;
  decimals = 0;
  /** C1 collateral value, USD at PRICE_DECIMALS: the ranking key (largest first). */
  collateralValueUsd = 0n;
  mark: Price = 0n;
  grid: StepGrid = { tickSize: 1n, minPrice: 1n, maxPrice: 1n, stepSize: 1n, minQuantity: 1n, minNotional: 0n };
}

/** The borrow and the account's quote; a reused record. owedMarket is the spot market owed/quote (unused when the
 * owed asset is the quote itself). */
export class BorrowStepInputs {
  owedAsset = 0;
  owedQuantity: Amount = 0n;
  owedDecimals = 0;
  owedMark: Price = 0n;
  owedMarket = -1;
  owedGrid: StepGrid = { tickSize: 1n, minPrice: 1n, maxPrice: 1n, stepSize: 1n, minQuantity: 1n, minNotional: 0n };
  quoteAsset = 0;
  quoteDecimals = 0;
  quoteAvailable: Amount = 0n;
}

/**
 * The sell quantity of `h` that raises at least `targetQuote` at its sell limit, rounded up to the step, at least the
 * min quantity and the min notional at the limit (O2), at most the holding rounded down to the step; 0 when none fits.
 * Also returns the limit via out.
 */
function sellQuantityFor(
  h: CollateralHolding,
  targetQuote: Amount,
  quoteDecimals: number,
  params: LiquidationParams,
  out: BookStepPlan,
): Amount {
  const limit = liquidationLimitPrice(h.mark, Side.Sell, params.liquidationMaxSlippage, h.grid);
  if (limit === 0n || h.quantity <= 0n) return 0n;
  const step = h.grid.stepSize;
  const raw = divRound(targetQuote * pow10(h.decimals) * PRICE_SCALE, limit * pow10(quoteDecimals), Rounding.Up);
  let q = divRound(raw, step, Rounding.Up) * step;
  if (q < h.grid.minQuantity) q = divRound(h.grid.minQuantity, step, Rounding.Up) * step;
  // O2: a sale below the market's minNotional at the limit would be refused every batch (the account stalled for good).
  const least = minNotionalQuantity(limit, h.decimals, quoteDecimals, h.grid);
  if (q < least) q = least;
  const most = (h.quantity / step) * step;
  if (q > most) q = most;
  if (q < h.grid.minQuantity || q < least || q <= 0n) return 0n;
  out.limitPrice = limit;
  return q;
}

/** Sell the largest-valued collateral (ties: first; never the owed or the quote asset) that can take a step raising
 * targetQuote. */
function planCollateralSale(
  targetQuote: Amount,
  inp: BorrowStepInputs,
  holdings: readonly CollateralHolding[],
  count: number,
  params: LiquidationParams,
  out: BookStepPlan,
): BookStepPlan {
  let best = -1;
  let bestQty = 0n;
  let bestLimit = 0n;
  for (let i = 0; i < count; i++) {
    const h = holdings[i]!;
    if (h.asset === inp.owedAsset || h.asset === inp.quoteAsset) continue;
    if (best >= 0 && h.collateralValueUsd <= holdings[best]!.collateralValueUsd) continue;
    const q = sellQuantityFor(h, targetQuote, inp.quoteDecimals, params, out);
    if (q === 0n) continue;
    best = i;
    bestQty = q;
    bestLimit = out.limitPrice;
  }
  if (best < 0) return setNoStep(out, NoStepReason.NoCollateral);
  const h = holdings[best]!;
  return setStep(out, BookStepKind.CollateralConversion, h.market, h.asset, Side.Sell, bestQty, bestLimit);
}

/** Q2: the next step repaying a borrow (see the module comment of book-step.ts). */
export function planBorrowStep(
  inp: BorrowStepInputs,
  holdings: readonly CollateralHolding[],
  count: number,
  params: LiquidationParams,
  out: BookStepPlan,
): BookStepPlan {
  if (inp.owedQuantity <= 0n) return setNoStep(out, NoStepReason.NothingToLiquidate);
  if (inp.owedAsset === inp.quoteAsset) {
    const target = (inp.owedQuantity * params.liquidationStepFraction) / RATIO_SCALE;
    const targetQuote = target > 0n ? target : 1n;
    return planCollateralSale(targetQuote, inp, holdings, count, params, out);
  }
  let q = liquidationStepQuantity(inp.owedQuantity, params.liquidationStepFraction, inp.owedGrid);
  if (q === 0n) return setNoStep(out, NoStepReason.BelowMinQuantity);
  const limit = liquidationLimitPrice(inp.owedMark, Side.Buy, params.liquidationMaxSlippage, inp.owedGrid);
  if (limit === 0n) return setNoStep(out, NoStepReason.NoPriceWithinBound);
  // O2: a buy below the market's minNotional at its limit is refused by matching every batch; buy the least that meets
  // it (what exceeds the borrow is held as collateral).
  const least = minNotionalQuantity(limit, inp.owedDecimals, inp.quoteDecimals, inp.owedGrid);
  if (q < least) q = least;
  const cost = quoteAmount(q, limit, inp.owedDecimals, inp.quoteDecimals, Rounding.Up);
  if (inp.quoteAvailable >= cost) {
    return setStep(out, BookStepKind.CollateralConversion, inp.owedMarket, inp.owedAsset, Side.Buy, q, limit);
  }
  const shortfall = cost - (inp.quoteAvailable > 0n ? inp.quoteAvailable : 0n);
  return planCollateralSale(shortfall, inp, holdings, count, params, out);
}
