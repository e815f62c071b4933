// Q4: bankruptcy — the insurance fund's cover, the bankruptcy price, the perpetual ADL ranking and allocation, and the
// USDC payout to the lenders of a borrow that cannot be repaid in kind. Plans only: the desk in engine/settlement
// moves the money between accounts as commands (issue 11's rule), and records every loss beyond the fund.
//
// - Cover: the fund pays min(fund, deficit); the rest is socialized (Drift: if_payment = min(loss,
//   max_insurance_withdraw), then the remaining loss is socialized, programs/drift/src/controller/liquidation.rs
//   resolve_perp_bankruptcy).
// - Bankruptcy price of a position (dYdX v4, protocol/x/clob/keeper/liquidations.go GetBankruptcyPriceInQuoteQuantums:
//   quote = −DNNV − TNC × |DMMR| / TMMR): the price at which closing the position takes the account's equity share of
//   that position, E × MM_pos / MM_total, to exactly zero: p = mark − E × s × unit / q. With one position (s = 1) it
//   is the price at which the account's whole equity, position included, is zero. Rounded so the account is not left
//   below zero (a long's sell price up, a short's buy price down — dYdX rounds the quote toward +∞ for the same
//   reason); a price below 0 is clamped to 0 and what even 0 does not cover is reported (uncoveredUsd).
// - ADL ranking: opposing positions, highest (profit % × leverage) first, profit % = uPnL / |entry value|, leverage =
//   notional / net equity; mark and unit are common to one market, so the score compares as
//   (q × mark − cost) × |q| / (|cost| × E), cross-multiplied (exact). Ties: lower account id. Opposing positions of
//   accounts with equity ≤ 0 (or no cost basis) come last, by account id. (dYdX v4 walks offsetting subaccounts from a
//   pseudo-random start, protocol/x/clob/keeper/deleveraging.go; the SPEC's ranking is Bybit's-style and
//   deterministic.) Allocation takes min(|position|, remaining) down the ranking, as dYdX's
//   OffsetSubaccountPerpetualPosition does.
// - Lenders (seed 004: the bankrupt borrower of 1 BTC at $100,000 pays the lender $100,000 rather than 1 BTC): the USD
//   value of the unrepaid borrow at the liquidation price, in quote units rounded down, pro rata to the lent amounts,
//   each rounded down; the remainder (Σ never exceeds the total) is recorded, so no rounding creates money. The pool's
//   lent claims drop by the written-off quantity through its lend index (Drift socializes a spot bankruptcy through the
//   cumulative deposit interest the same way).

import { divRound, pow10, PRICE_SCALE, quoteAmount, Rounding, type Amount, type Price } from "../fixed/index.ts";

/** The insurance fund's part of a deficit; a reused record. Same units in and out (the fund's asset, USDC). */
export class InsuranceCover {
  fundPays: Amount = 0n;
  /** Beyond the fund: socialized (perp ADL, lenders' payout), recorded as a loss. */
  remaining: Amount = 0n;
}

/** Q4: the fund covers first: pays min(fund, deficit). Negative inputs count as 0. */
export function planInsuranceCover(deficit: Amount, fundBalance: Amount, out: InsuranceCover): InsuranceCover {
  const d = deficit > 0n ? deficit : 0n;
  const f = fundBalance > 0n ? fundBalance : 0n;
  out.fundPays = d < f ? d : f;
  out.remaining = d - out.fundPays;
  return out;
}

/** A USD amount (PRICE_DECIMALS) in quote units, rounded up: what a payer must hand over to cover it. */
export function usdToQuoteUnitsUp(usd: bigint, quoteDecimals: number): Amount {
  return divRound(usd * pow10(quoteDecimals), PRICE_SCALE, Rounding.Up);
}

/** Inputs of the bankruptcy price; a reused record. USD at PRICE_DECIMALS. */
export class BankruptcyPriceInputs {
  /** The position to close, signed base units. */
  quantity: Amount = 0n;
  baseDecimals = 0;
  mark: Price = 0n;
  /** The account's net value at the mark with the position (after any insurance fund cover), usually < 0. */
  netEquityUsd = 0n;
  /** This position's and the account's maintenance margin; the share of the equity the close absorbs. */
  positionMaintenanceMarginUsd = 0n;
  totalMaintenanceMarginUsd = 0n;
}

export class BankruptcyPriceResult {
  price: Price = 0n;
  /** What the close at `price` leaves uncovered (> 0 only when the price was clamped at 0), rounded up. */
  uncoveredUsd = 0n;
}

/** Q4: the bankruptcy price of closing inp.quantity (see the module comment). */
export function bankruptcyPrice(inp: BankruptcyPriceInputs, out: BankruptcyPriceResult): BankruptcyPriceResult {
  const q = inp.quantity;
  if (q === 0n) throw new RangeError("bankruptcyPrice: quantity must not be 0");
  const unit = pow10(inp.baseDecimals);
  const shared = inp.totalMaintenanceMarginUsd > 0n && inp.positionMaintenanceMarginUsd < inp.totalMaintenanceMarginUsd;
  const sNum = shared ? inp.positionMaintenanceMarginUsd : 1n;
  const sDen = shared ? inp.totalMaintenanceMarginUsd : 1n;
  // p = (mark × sDen × q − E × sNum × unit) / (sDen × q)
  const num = inp.mark * sDen * q - inp.netEquityUsd * sNum * unit;
  const den = sDen * q;
  let price = q > 0n ? divRound(num, den, Rounding.Up) : divRound(-num, -den, Rounding.Down);
  if (price < 0n) price = 0n;
  // Equity share left after the close at price, × sDen × unit: E × sNum × unit + q × (price − mark) × sDen.
  const left = inp.netEquityUsd * sNum * unit + q * (price - inp.mark) * sDen;
  out.price = price;
  out.uncoveredUsd = left < 0n ? divRound(-left, sDen * unit, Rounding.Up) : 0n;
  return out;
}

/** An account holding a position in the bankrupt position's market; a reused record. */
export class AdlCandidate {
  account = 0;
  quantity: Amount = 0n;
  costBasis = 0n;
  netEquityUsd = 0n;
}

function eligible(c: AdlCandidate): boolean {
  return c.netEquityUsd > 0n && c.costBasis !== 0n;
}

/** > 0 when a ranks before b (higher profit % × leverage), < 0 after; ties by account id. */
function compareAdl(a: AdlCandidate, b: AdlCandidate, mark: Price): number {
  const ea = eligible(a);
  const eb = eligible(b);
  if (ea !== eb) return ea ? 1 : -1;
  if (ea) {
    const absQa = a.quantity < 0n ? -a.quantity : a.quantity;
    const absQb = b.quantity < 0n ? -b.quantity : b.quantity;
    const absCa = a.costBasis < 0n ? -a.costBasis : a.costBasis;
    const absCb = b.costBasis < 0n ? -b.costBasis : b.costBasis;
    const left = (a.quantity * mark - a.costBasis) * absQa * (absCb * b.netEquityUsd);
    const right = (b.quantity * mark - b.costBasis) * absQb * (absCa * a.netEquityUsd);
    if (left !== right) return left > right ? 1 : -1;
  }
  return b.account - a.account;
}

/**
 * Q4: ranks the candidates opposing a bankrupt position of sign(bankruptQuantity) into order[0, n) and returns n
 * (candidates on the same side or flat are left out).
 */
export function rankAdlCandidates(
  candidates: readonly AdlCandidate[],
  count: number,
  bankruptQuantity: Amount,
  mark: Price,
  order: Int32Array,
): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const q = candidates[i]!.quantity;
    if (bankruptQuantity > 0n ? q < 0n : q > 0n) order[n++] = i;
  }
  order.subarray(0, n).sort((i, j) => compareAdl(candidates[j]!, candidates[i]!, mark));
  return n;
}

/** Q4: allocates |quantityToClose| down the ranking: closeQuantity[k] for order[k]; returns the total allocated. */
export function allocateAdl(
  candidates: readonly AdlCandidate[],
  order: Int32Array,
  rankedCount: number,
  quantityToClose: Amount,
  closeQuantity: bigint[],
): Amount {
  let remaining = quantityToClose < 0n ? -quantityToClose : quantityToClose;
  let total = 0n;
  for (let k = 0; k < rankedCount; k++) {
    const q = candidates[order[k]!]!.quantity;
    const absQ = q < 0n ? -q : q;
    const take = absQ < remaining ? absQ : remaining;
    closeQuantity[k] = take;
    remaining -= take;
    total += take;
  }
  return total;
}

/** The lenders' payout of an unrepaid borrow; a reused record (quote units). */
export class LenderPayout {
  totalQuote: Amount = 0n;
  /** totalQuote − Σ payouts: kept by the payer and recorded. */
  remainderQuote: Amount = 0n;
}

/**
 * Q4: the lenders of an unrepayable borrow are paid its USD value at the liquidation price, pro rata to lent[i], in
 * quote units (payouts[i]), every rounding down.
 */
export function planLenderPayout(
  borrowQuantity: Amount,
  liquidationPrice: Price,
  borrowDecimals: number,
  quoteDecimals: number,
  lent: readonly bigint[],
  count: number,
  payouts: bigint[],
  out: LenderPayout,
): LenderPayout {
  const value = quoteAmount(borrowQuantity, liquidationPrice, borrowDecimals, quoteDecimals, Rounding.Down);
  const total = borrowQuantity > 0n ? value : 0n;
  let lentSum = 0n;
  for (let i = 0; i < count; i++) lentSum += lent[i]! > 0n ? lent[i]! : 0n;
  let paid = 0n;
  for (let i = 0; i < count; i++) {
    const share = lent[i]! > 0n ? lent[i]! : 0n;
    payouts[i] = lentSum === 0n ? 0n : (total * share) / lentSum;
    paid += payouts[i]!;
  }
  out.totalQuote = total;
  out.remainderQuote = total - paid;
  return out;
}

/**
 * Q4 across risk shards: one shard's part of a lender payout of `totalQuote`, pro rata to lend shares (the exact
 * measure of a lent claim: every claim is shares × lend index): payouts[i] = floor(totalQuote × shares[i] /
 * poolShares), so Σ over every shard's lenders never exceeds totalQuote (Σ shares[i] = poolShares). Returns this
 * shard's Σ.
 */
export function planLenderPayoutByShares(
  totalQuote: Amount,
  shares: readonly bigint[],
  count: number,
  poolShares: bigint,
  payouts: bigint[],
): Amount {
  let paid = 0n;
  for (let i = 0; i < count; i++) {
    const share = shares[i]! > 0n ? shares[i]! : 0n;
    payouts[i] = poolShares <= 0n || totalQuote <= 0n ? 0n : (totalQuote * share) / poolShares;
    paid += payouts[i]!;
  }
  return paid;
}
