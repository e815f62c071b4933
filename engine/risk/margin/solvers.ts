// C10: the effects of a spot trade on an account's net balances, and the max order / max withdrawal solvers that
// answer with exactly the largest amount the C8 check (AccountMargin.wouldPassInitialMargin) accepts.
//
// Why bisection is exact here: the check passes iff available equity after the action is positive (or the action
// only reduces risk). Each asset's term of available equity — collateral value when held, −(liability + initial
// margin) when borrowed — is increasing and concave in that asset's balance (the weight's √ decay and the IMF's
// √ growth both bend it down). A spot trade moves two balances in opposite directions, linearly in the quantity,
// so available equity is concave in the quantity and the accepted set is an interval that contains 0 (0 always
// passes: an empty change is "not worse"). A withdrawal moves one balance down: monotone. So the boundary found
// by bisection (largest accepted, next refused) is the largest accepted amount. The one exception is an account
// already at IMR ≥ 100% buying back a borrow below the mark: the risk-reducing part and a second accepted
// interval can be separated by refused sizes; the solver then returns the end of one of them (it still passes,
// and one step more is refused).

import { Side } from "../../model/index.ts";
import { AccountMargin, MarginChanges } from "./account.ts";
import type { MarginContext } from "./context.ts";
import { divCeilNonNegative, divFloorNonNegative } from "./formulas.ts";

const BPS = 10_000n;

/** Fee on `received` units at `feeBps`, rounded up (the exchange is owed it) — the risk shard's fill rule (S5). */
export function feeAmount(received: bigint, feeBps: number): bigint {
  if (feeBps === 0) return 0n;
  // Number fast path (issue 12): while received × feeBps ≤ 2^53 − 1 every step below is an exact integer double —
  // the product, its remainder by 10,000 (fmod is exact) and the quotient of an exact multiple — so the result is
  // the bigint path's bit for bit (property test "S5: feeAmount's number path …" in test/perp-shortcuts.test.ts).
  // Number(received) of a bigint past 2^53 rounds to at least 2^53, so the guard sends it to the bigint path.
  const r = Number(received);
  const x = r * feeBps;
  if (r >= 0 && feeBps > 0 && x <= Number.MAX_SAFE_INTEGER && Number.isInteger(feeBps)) {
    const rem = x % 10_000;
    return BigInt((x - rem) / 10_000 + (rem > 0 ? 1 : 0));
  }
  return feeAmountExact(received, feeBps);
}

/** feeAmount's bigint path, for any input (the reference of its number path). */
export function feeAmountExact(received: bigint, feeBps: number): bigint {
  if (feeBps === 0) return 0n;
  return divCeilNonNegative(received * BigInt(feeBps), BPS);
}

/**
 * Writes into `changes` the effects of a fully filled spot trade of `quantity` (≥ 0) base units at `price` (quote per
 * base, PRICE_DECIMALS, ≥ 0), paying `feeBps` in the asset received: a buy receives quantity − fee of base and spends
 * floor(quantity × price) of quote; a sell spends quantity of base and receives proceeds − fee of quote. What it
 * spends comes from the spendable units, then is borrowed; what it receives repays a borrow of that asset first when
 * `receiveRepays` (a margin order, or auto-lend on: S3, L10), else it is held. The quote amount is the trade rule
 * (quoteAmount, Down: one floor — the test proves the precomputed-divisor form equal); partial fills at better prices
 * spend no more.
 */
export function spotTradeChanges(
  changes: MarginChanges,
  ctx: MarginContext,
  market: number,
  side: Side,
  quantity: bigint,
  price: bigint,
  feeBps: number,
  receiveRepays = true,
): MarginChanges {
  const base = ctx.marketBaseAsset[market]!;
  const quote = ctx.marketQuoteAsset[market]!;
  const quoteQty = divFloorNonNegative(quantity * price * ctx.marketQuoteMultiplier[market]!, ctx.marketQuoteDivisor[market]!);
  changes.clear();
  changes.borrowsAtFill = true;
  changes.orderSide = side;
  // Base first, then quote (callers read the entries in that order).
  if (side === Side.Buy) {
    const received = quantity - feeAmount(quantity, feeBps);
    if (receiveRepays) changes.addAsset(base, received);
    else changes.addHeld(base, received);
    changes.addAsset(quote, -quoteQty);
  } else {
    changes.addAsset(base, -quantity);
    const received = quoteQty - feeAmount(quoteQty, feeBps);
    if (receiveRepays) changes.addAsset(quote, received);
    else changes.addHeld(quote, received);
  }
  return changes;
}

const scratch = new MarginChanges();

export interface SpotOrderQuery {
  readonly market: number;
  readonly side: Side;
  /** Limit price (quote per base, PRICE_DECIMALS). */
  readonly price: bigint;
  /** Fee the check assumes (e.g. the account's taker fee). */
  readonly feeBps: number;
  /** Quantities are multiples of this (the market's step size). */
  readonly stepSize: bigint;
  /** Upper end of the search (e.g. the market's maxQuantity, or the balance when borrowing is off). */
  readonly maxQuantity: bigint;
  /** Do the proceeds repay a borrow of the received asset (margin flags or auto-lend: S3, L10)? Default yes. */
  readonly receiveRepays?: boolean;
}

/** Largest k in [0, kMax] with passes(k), given passes(0) and an interval-shaped accepted set. */
function bisect(kMax: bigint, passes: (k: bigint) => boolean): bigint {
  if (kMax <= 0n) return 0n;
  if (passes(kMax)) return kMax;
  let lo = 0n; // passes
  let hi = kMax; // refused
  while (hi - lo > 1n) {
    const mid = (lo + hi) >> 1n;
    if (passes(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * C10: the largest quantity (a multiple of stepSize, ≤ maxQuantity) of a spot order with the margin flags that
 * the account's C8 check accepts, valuing the post-trade composition at marks.
 */
export function maxSpotOrderQuantity(account: AccountMargin, ctx: MarginContext, q: SpotOrderQuery): bigint {
  if (q.stepSize <= 0n) throw new RangeError(`stepSize must be > 0, got ${q.stepSize}`);
  const k = bisect(q.maxQuantity / q.stepSize, (k) =>
    account.wouldPassInitialMargin(spotTradeChanges(scratch, ctx, q.market, q.side, k * q.stepSize, q.price, q.feeBps, q.receiveRepays ?? true)),
  );
  return k * q.stepSize;
}

/** C10: maxSpotOrderQuantity for a buy. */
export function maxSpotBuyQuantity(
  account: AccountMargin,
  ctx: MarginContext,
  market: number,
  price: bigint,
  feeBps: number,
  stepSize: bigint,
  maxQuantity: bigint,
): bigint {
  return maxSpotOrderQuantity(account, ctx, { market, side: Side.Buy, price, feeBps, stepSize, maxQuantity });
}

/** C10: maxSpotOrderQuantity for a sell. */
export function maxSpotSellQuantity(
  account: AccountMargin,
  ctx: MarginContext,
  market: number,
  price: bigint,
  feeBps: number,
  stepSize: bigint,
  maxQuantity: bigint,
): bigint {
  return maxSpotOrderQuantity(account, ctx, { market, side: Side.Sell, price, feeBps, stepSize, maxQuantity });
}

/**
 * L8 (margin part): the largest borrow of `asset` (units, ≤ maxAmount) kept in the account that C8 accepts — the
 * borrowed units are held (collateral, C1/C2) and owed (liability and position, C3/C4), so the answer is about net
 * equity × the asset's max borrow leverage (seed 002). The entry fee is the caller's (the Borrow check adds it).
 */
export function maxBorrow(account: AccountMargin, asset: number, maxAmount: bigint): bigint {
  return bisect(maxAmount, (k) => account.wouldPassInitialMargin(scratch.clear().addHoldings(asset, k, k)));
}

/**
 * C10 / A5: the largest withdrawal of `asset` (units, a multiple of stepUnits, ≤ maxAmount) that C8 accepts.
 * maxAmount is the caller's bound: the available balance without the margin flag, or balance + borrowable with it.
 */
export function maxWithdrawal(account: AccountMargin, asset: number, maxAmount: bigint, stepUnits = 1n): bigint {
  if (stepUnits <= 0n) throw new RangeError(`stepUnits must be > 0, got ${stepUnits}`);
  const k = bisect(maxAmount / stepUnits, (k) =>
    account.wouldPassInitialMargin(scratch.clear().addAsset(asset, -k * stepUnits)),
  );
  return k * stepUnits;
}
