// P6 and P7: the order in which a USDC debit (PnL, fees, funding, interest) is covered, and where a USDC credit goes —
// plans only: the risk stage moves the money and records each step in the account's settlement history.
//
// P6 debit, in order: the available USDC balance; (1) redeem lent USDC (up to what the pool lets the account redeem
// now, L7/L11 — the caller's number); (2) borrow USDC when autoBorrowSettlements is on, up to the pool's capacity below
// its throttle (the caller's number, 0 while throttled); (3) convert non-USDC collateral through the book
// (CollateralConversion) for the rest. Conversion is asynchronous (an IOC on a book), so the plan says how much USDC
// it must raise; whatever it did not raise becomes a USDC borrow that ignores the throttle (forcedSettlementBorrow) —
// a settlement never fails silently, the margin decides the rest (Q). Redeeming before borrowing keeps L15 (never
// lend and borrow USDC at once). Seed 004/002: a 1 USDC fee on an account holding only BTC is a 1 USDC borrow, no BTC
// sold — step (2) before (3).
//
// P7 credit, in order: repay a USDC borrow (when repayFirst), lend the rest (when lendRest), else the balance. SPEC
// P7: with autoLend on both hold; with it off the caller chooses repayFirst from the account's autoRepayBorrows (A3).

import type { Amount } from "../fixed/index.ts";

/** P6: how a USDC debit is covered; a reused record. Σ of the four fields = the debit. */
export class UsdcDebitPlan {
  /** From the available USDC balance. */
  fromBalance: Amount = 0n;
  /** (1) Redeemed from lent USDC, then paid. */
  redeem: Amount = 0n;
  /** (2) Borrowed under autoBorrowSettlements (below the pool's throttle). */
  borrow: Amount = 0n;
  /** (3) USDC to raise by converting collateral through the book; what it does not raise is a forced borrow. */
  convert: Amount = 0n;
}

function min(a: Amount, b: Amount): Amount {
  return a < b ? a : b;
}

function nonNegative(x: Amount): Amount {
  return x > 0n ? x : 0n;
}

/** P6: plans a USDC debit of amount (≥ 0) for an account. Negative inputs count as 0. */
export function planUsdcDebit(
  amount: Amount,
  availableUsdc: Amount,
  redeemableLentUsdc: Amount,
  autoBorrowSettlements: boolean,
  borrowCapacityUsdc: Amount,
  out: UsdcDebitPlan,
): UsdcDebitPlan {
  let rest = nonNegative(amount);
  out.fromBalance = min(rest, nonNegative(availableUsdc));
  rest -= out.fromBalance;
  out.redeem = min(rest, nonNegative(redeemableLentUsdc));
  rest -= out.redeem;
  out.borrow = autoBorrowSettlements ? min(rest, nonNegative(borrowCapacityUsdc)) : 0n;
  rest -= out.borrow;
  out.convert = rest;
  return out;
}

/** P6: what step (3) left uncovered, borrowed in USDC ignoring the throttle: max(0, needed − raised). */
export function forcedSettlementBorrow(convertNeededUsdc: Amount, convertedUsdc: Amount): Amount {
  return nonNegative(convertNeededUsdc - nonNegative(convertedUsdc));
}

/** P7: where a USDC credit goes; a reused record. Σ of the three fields = the credit. */
export class UsdcCreditPlan {
  repay: Amount = 0n;
  lend: Amount = 0n;
  toBalance: Amount = 0n;
}

/** P7: plans a USDC credit of amount (≥ 0) for an account owing owedUsdc. */
export function planUsdcCredit(
  amount: Amount,
  owedUsdc: Amount,
  repayFirst: boolean,
  lendRest: boolean,
  out: UsdcCreditPlan,
): UsdcCreditPlan {
  const credit = nonNegative(amount);
  out.repay = repayFirst ? min(credit, nonNegative(owedUsdc)) : 0n;
  const rest = credit - out.repay;
  out.lend = lendRest ? rest : 0n;
  out.toBalance = rest - out.lend;
  return out;
}
