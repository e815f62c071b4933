// P1 and P5: a perpetual position's arithmetic — fills (grow, reduce, cross zero), the reduceOnly cap, entry and
// break-even prices, unrealized PnL, funding on the position, and the 10-second realization at the mark.
//
// Representation. The entry price is not stored rounded: the position keeps its exact cost basis
// costBasis = Σ signed quantity × price over the open part (base units × PRICE_DECIMALS, the sign of netQuantity),
// the same quantity engine/risk/margin's AccountMargin.setPositionCostBasis takes. entryPrice = costBasis / quantity
// is derived for reports. So VWAP growth is exact, a P5 reset is costBasis = quantity × mark (entry = mark exactly),
// and in the raw unit Σ over all accounts of (realized + unrealized) PnL is zero at every step: a trade moves
// quantity × price from one side's cost to the other's.
//
// Settlement units. Realized amounts move in the settlement asset (USDC): raw / 10^(baseDecimals + PRICE_DECIMALS −
// quoteDecimals), rounded DOWN (floor, for both signs): a gain the exchange pays rounds down, a loss it is owed
// rounds up in magnitude. Hence Σ realized ≤ the exact Σ for any set of positions, and once every position of a
// market is realized at one mark (P5) the exact Σ is 0, so Σ realized USDC ≤ 0: realization never creates money;
// the dust (−Σ, under one unit per realization) is the exchange's. Unrealized PnL uses the same floor.
//
// Reduce. Closing c of |q| realizes at the entry: realized = sign(q) × c × price − removed, with the removed cost
// ceil(costBasis × c / |q|) — ceiling for both signs, so the realized raw PnL rounds down and the remainder stays in
// the cost basis, to be realized later (nothing is lost in the raw unit). A full close removes the cost exactly. A
// fill that crosses zero closes the whole position, then opens the rest at the trade price.
//
// Break-even. openCostBasis is the cost basis of the fills that built the position, without P5 resets (the
// trader's average entry); feesPaid and fundingPaid are what the position paid since it opened (a fill that crosses
// zero gives the new position its pro-rata share of the fill's fee, rounded up). breakEvenPrice is the price at
// which closing all of it recovers openCostBasis + fees + funding.

import { divCeil, divFloor, divRound, pow10, PRICE_DECIMALS, Rounding, type Amount, type Price } from "../fixed/index.ts";
import { Side } from "../model/index.ts";

/** One account's position in one perpetual market; state its owner keeps. */
export class PerpPosition {
  /** Base-asset units, long > 0, short < 0. */
  netQuantity: Amount = 0n;
  /** Σ signed quantity × price of the open part since the last realization (base units × PRICE_DECIMALS). */
  costBasis = 0n;
  /** As costBasis, but never reset by P5: the fills that built the position. */
  openCostBasis = 0n;
  /** Cumulative realized PnL (pnlRealized), settlement units, signed. */
  realizedPnl: Amount = 0n;
  /** Fees paid since the position opened, settlement units (≥ 0). */
  feesPaid: Amount = 0n;
  /** Funding paid since the position opened, settlement units, positive = paid. */
  fundingPaid: Amount = 0n;
  /** All-time fees on this market, settlement units. */
  cumulativeFees: Amount = 0n;
  /** All-time funding (cumulativeFundingPayment), settlement units, positive = paid. */
  cumulativeFundingPayment: Amount = 0n;

  clear(): this {
    this.netQuantity = 0n;
    this.costBasis = 0n;
    this.openCostBasis = 0n;
    this.realizedPnl = 0n;
    this.feesPaid = 0n;
    this.fundingPaid = 0n;
    this.cumulativeFees = 0n;
    this.cumulativeFundingPayment = 0n;
    return this;
  }
}

/** The all-zero position every market of an account reads until its first write (AccountPerps.ownPosition): shared
 * and frozen (a write throws). */
export const NO_POSITION: Readonly<PerpPosition> = Object.freeze(new PerpPosition());

/** What one fill did; a reused record. */
export class FillEffect {
  /** Realized by this fill, settlement units (floor); the caller credits it, and debits the fee, in USDC. */
  realizedPnl: Amount = 0n;
  /** Base units closed at the entry, and opened or added at the trade price (both ≥ 0). */
  closedQuantity: Amount = 0n;
  openedQuantity: Amount = 0n;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/** base + PRICE_DECIMALS − quote: the decimal shift from raw (quantity × price) to settlement units. */
function settlementShift(baseDecimals: number, quoteDecimals: number): number {
  return baseDecimals + PRICE_DECIMALS - quoteDecimals;
}

/** Raw PnL (base units × PRICE_DECIMALS) in settlement units, rounded down (floor) for either sign. */
export function pnlToSettlementUnits(raw: bigint, baseDecimals: number, quoteDecimals: number): Amount {
  const shift = settlementShift(baseDecimals, quoteDecimals);
  if (shift <= 0) return raw * pow10(-shift);
  return divFloor(raw, pow10(shift));
}

/** P1 reduceOnly: the part of an order of `quantity` (≥ 0) on `side` that a fill may take now: min(quantity, |q|)
 * when it shrinks the position, else 0. */
export function reduceOnlyFillCap(netQuantity: Amount, side: Side, quantity: Amount): Amount {
  const reducible = side === Side.Buy ? (netQuantity < 0n ? -netQuantity : 0n) : netQuantity > 0n ? netQuantity : 0n;
  return quantity < reducible ? quantity : reducible;
}

function longPart(quantity: Amount): Amount {
  return quantity > 0n ? quantity : 0n;
}

/**
 * P1 open interest (Σ longs = Σ shorts): its change when a buyer whose position was buyerBefore buys quantity (> 0)
 * from a seller whose position was sellerBefore. +quantity when both open, −quantity when both close, in between
 * when one side crosses or only one side grows. An order that would take the market's open interest above its
 * openInterestLimit is refused by the caller with this number.
 */
export function openInterestChange(buyerBefore: Amount, sellerBefore: Amount, quantity: Amount): Amount {
  return (
    longPart(buyerBefore + quantity) - longPart(buyerBefore) + (longPart(sellerBefore - quantity) - longPart(sellerBefore))
  );
}

function openFresh(pos: PerpPosition, quantityDelta: Amount, price: Price, feeShare: Amount): void {
  pos.netQuantity = quantityDelta;
  pos.costBasis = quantityDelta * price;
  pos.openCostBasis = pos.costBasis;
  pos.feesPaid = feeShare;
  pos.fundingPaid = 0n;
}

/**
 * P1: applies a fill of quantityDelta (signed base units, buy > 0, ≠ 0) at price (> 0) paying fee (settlement
 * units, ≥ 0) to pos, and says what it realized. Growing: VWAP through the cost basis. Reducing: realizes at the
 * entry. Crossing zero: closes, then opens the rest at price.
 */
export function applyFill(
  pos: PerpPosition,
  quantityDelta: Amount,
  price: Price,
  fee: Amount,
  baseDecimals: number,
  quoteDecimals: number,
  out: FillEffect,
): FillEffect {
  if (quantityDelta === 0n || price <= 0n || fee < 0n) {
    throw new RangeError(`applyFill: need quantityDelta ≠ 0, price > 0, fee ≥ 0; got ${quantityDelta}, ${price}, ${fee}`);
  }
  const q = pos.netQuantity;
  // A zero fee (a liquidation leg) leaves the fee sums as they are without a bigint made for the sum.
  if (fee !== 0n) pos.cumulativeFees += fee;
  out.realizedPnl = 0n;
  out.closedQuantity = 0n;
  if (q === 0n || q > 0n === quantityDelta > 0n) {
    if (q === 0n) openFresh(pos, quantityDelta, price, fee);
    else {
      const value = quantityDelta * price; // one product for both cost bases
      pos.netQuantity = q + quantityDelta;
      pos.costBasis += value;
      pos.openCostBasis += value;
      if (fee !== 0n) pos.feesPaid += fee;
    }
    out.openedQuantity = quantityDelta < 0n ? -quantityDelta : quantityDelta;
    return out;
  }
  const absQ = abs(q);
  const absD = abs(quantityDelta);
  const closed = absD < absQ ? absD : absQ;
  const full = closed === absQ;
  const removed = full ? pos.costBasis : divCeil(pos.costBasis * closed, absQ);
  const realizedRaw = (q > 0n ? closed : -closed) * price - removed;
  const realized = pnlToSettlementUnits(realizedRaw, baseDecimals, quoteDecimals);
  pos.realizedPnl += realized;
  out.realizedPnl = realized;
  out.closedQuantity = closed;
  out.openedQuantity = absD - closed;
  if (!full) {
    pos.netQuantity = q + quantityDelta;
    pos.costBasis -= removed;
    pos.openCostBasis -= divCeil(pos.openCostBasis * closed, absQ);
    pos.feesPaid += fee;
  } else if (absD === absQ) {
    openFresh(pos, 0n, price, 0n);
  } else {
    const opened = absD - absQ;
    openFresh(pos, quantityDelta > 0n ? opened : -opened, price, divCeil(fee * opened, absD));
  }
  return out;
}

/** P1: entry price = costBasis / quantity, rounded half-even (a report); 0 when flat. */
export function entryPrice(pos: PerpPosition): Price {
  if (pos.netQuantity === 0n) return 0n;
  return divRound(abs(pos.costBasis), abs(pos.netQuantity), Rounding.HalfEven);
}

/**
 * P1: break-even price = (openCostBasis + (feesPaid + fundingPaid) in raw units) / quantity: where closing the whole
 * position recovers its entry and what it paid. Rounded against the holder (a long's up, a short's down), so the
 * position is at least even there. 0 when flat; may be ≤ 0 for a short whose costs exceed its entry value.
 */
export function breakEvenPrice(pos: PerpPosition, baseDecimals: number, quoteDecimals: number): Price {
  const q = pos.netQuantity;
  if (q === 0n) return 0n;
  const shift = baseDecimals + PRICE_DECIMALS - quoteDecimals;
  if (shift >= 0) {
    // The same quotient with quoteUnit cancelled from both sides (no product by it): the same rational, so the same
    // rounding; a position report's (pipeline.perp-order).
    const paid = pos.feesPaid + pos.fundingPaid;
    const numerator = paid === 0n ? pos.openCostBasis : pos.openCostBasis + paid * pow10(shift);
    return q > 0n ? divCeil(numerator, q) : divFloor(-numerator, -q);
  }
  const quoteUnit = pow10(quoteDecimals);
  const numerator = pos.openCostBasis * quoteUnit + (pos.feesPaid + pos.fundingPaid) * pow10(baseDecimals + PRICE_DECIMALS);
  // numerator / (q × quoteUnit): for q < 0 flip both signs; a long rounds up, a short down.
  if (q > 0n) return divCeil(numerator, q * quoteUnit);
  return divFloor(-numerator, -q * quoteUnit);
}

/** P1 / P5: unrealized PnL = quantity × (mark − entry) = (quantity × mark − costBasis), settlement units, floor. */
export function unrealizedPnl(pos: PerpPosition, mark: Price, baseDecimals: number, quoteDecimals: number): Amount {
  return pnlToSettlementUnits(pos.netQuantity * mark - pos.costBasis, baseDecimals, quoteDecimals);
}

/**
 * L14: the PnL of the open quantity that P5 has already moved into USDC while the position stayed open — (costBasis
 * − openCostBasis) in settlement units, floor; positive = a gain. Both bases shrink pro rata as the position is
 * reduced and are 0 once it is flat, so the part that a close realizes leaves it.
 */
export function openRealizedPnl(pos: PerpPosition, baseDecimals: number, quoteDecimals: number): Amount {
  if (pos.netQuantity === 0n) return 0n;
  return pnlToSettlementUnits(pos.costBasis - pos.openCostBasis, baseDecimals, quoteDecimals);
}

/** P4 on a position: records a funding payment (settlement units, positive = paid, from fundingPayment). */
export function applyFundingPayment(pos: PerpPosition, payment: Amount): void {
  pos.fundingPaid += payment;
  pos.cumulativeFundingPayment += payment;
}

/**
 * P5: realizes the position's unrealized PnL at mark into settlement units (floor, see the module comment): the size
 * stays, the entry resets to mark (costBasis = quantity × mark), realizedPnl grows. Returns the amount the caller
 * credits (> 0) or debits (< 0) in USDC.
 */
export function realizePnl(pos: PerpPosition, mark: Price, baseDecimals: number, quoteDecimals: number): Amount {
  const amount = unrealizedPnl(pos, mark, baseDecimals, quoteDecimals);
  pos.costBasis = pos.netQuantity * mark;
  pos.realizedPnl += amount;
  return amount;
}
