// Q5: ADL for lenders — a liquidated account's lent collateral cannot be redeemed because the pool is at 100%
// utilization, so borrowers of that asset with free collateral are matched: each borrow is closed by moving its USD
// equivalent in the quote asset (USDC) from the borrower, never more than the borrow (seed 004: "按借款的等值 USDC 计算，
// 从借款人的账户中转移不超过原始借款金额的资金" … "借款关闭，出借人成功清算 … 其账户总价值保持不变").
//
// Per borrower, in order (largest borrow first, ties: lower account id, rankLenderAdlBorrowers): close
// q = min(borrow, still needed, what its free quote pays for) of the asset, and move pay = ceil(q × price) quote units
// (rounded up: the borrower owes it, SPEC's rounding rule) from it to the lender. In kind, the pool's borrowed and the
// lender's lent amounts both drop by q; in quote, the borrower pays exactly what the lender receives. So Σ is
// conserved in both assets exactly, the lender receives at least the value of the claim it gives up, and each
// borrower's total value (quote − debt at the mark) changes by q × price − pay, in (−1 quote unit, 0]: unchanged up
// to the rounding of one quote unit.

import { divRound, pow10, PRICE_SCALE, quoteAmount, Rounding, type Amount, type Price } from "../fixed/index.ts";

/** A borrower of the asset; a reused record. freeQuote: the quote units it can pay without breaking its margin. */
export class AdlBorrower {
  account = 0;
  borrowQuantity: Amount = 0n;
  freeQuote: Amount = 0n;
}

/** The totals of a lender ADL; a reused record. */
export class LenderAdlPlan {
  /** Σ closed borrow = the lender's claim redeemed, asset units. */
  redeemedQuantity: Amount = 0n;
  /** Σ paid by the borrowers = received by the lender, quote units. */
  paidQuote: Amount = 0n;
  /** What no borrower could cover. */
  unredeemedQuantity: Amount = 0n;
}

/** Q5: borrowers with a borrow into order[0, n), largest borrow first, ties by account id; returns n. */
export function rankLenderAdlBorrowers(borrowers: readonly AdlBorrower[], count: number, order: Int32Array): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (borrowers[i]!.borrowQuantity > 0n) order[n++] = i;
  order.subarray(0, n).sort((i, j) => {
    const a = borrowers[i]!;
    const b = borrowers[j]!;
    if (a.borrowQuantity !== b.borrowQuantity) return a.borrowQuantity > b.borrowQuantity ? -1 : 1;
    return a.account - b.account;
  });
  return n;
}

/**
 * Q5: matches `needQuantity` of the lender's unredeemable claim against the ranked borrowers: closeQuantity[k] and
 * payQuote[k] for order[k] (see the module comment).
 */
export function planLenderAdl(
  needQuantity: Amount,
  price: Price,
  assetDecimals: number,
  quoteDecimals: number,
  borrowers: readonly AdlBorrower[],
  order: Int32Array,
  rankedCount: number,
  closeQuantity: bigint[],
  payQuote: bigint[],
  out: LenderAdlPlan,
): LenderAdlPlan {
  if (price <= 0n) throw new RangeError("planLenderAdl: price must be positive");
  let remaining = needQuantity > 0n ? needQuantity : 0n;
  let paid = 0n;
  const toQuantity = pow10(assetDecimals) * PRICE_SCALE;
  const perQuote = price * pow10(quoteDecimals);
  for (let k = 0; k < rankedCount; k++) {
    const b = borrowers[order[k]!]!;
    const free = b.freeQuote > 0n ? b.freeQuote : 0n;
    const affordable = divRound(free * toQuantity, perQuote, Rounding.Down);
    let q = b.borrowQuantity < remaining ? b.borrowQuantity : remaining;
    if (affordable < q) q = affordable;
    if (q < 0n) q = 0n;
    closeQuantity[k] = q;
    payQuote[k] = q === 0n ? 0n : quoteAmount(q, price, assetDecimals, quoteDecimals, Rounding.Up);
    remaining -= q;
    paid += payQuote[k]!;
  }
  const need = needQuantity > 0n ? needQuantity : 0n;
  out.redeemedQuantity = need - remaining;
  out.paidQuote = paid;
  out.unredeemedQuantity = remaining;
  return out;
}
