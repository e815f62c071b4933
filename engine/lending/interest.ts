// Per-account interest for history reports (L14): derived on demand from shares and index changes.

import type { Amount, Ratio } from "../fixed/index.ts";
import { lentAmount, owedAmount, type HourAccrual } from "./pool.ts";

/** L14 interest types. Values are stable (journal / wire). */
export const InterestKind = {
  EntryFee: 0,
  Borrow: 1,
  Lend: 2,
  UnrealizedPositivePnl: 3,
  UnrealizedNegativePnl: 4,
} as const;
export type InterestKind = (typeof InterestKind)[keyof typeof InterestKind];

/** True for the kinds the account pays (its balance goes down); the others it earns. */
export function interestIsPaid(kind: InterestKind): boolean {
  return (
    kind === InterestKind.EntryFee || kind === InterestKind.Borrow || kind === InterestKind.UnrealizedNegativePnl
  );
}

/** One interest history entry; reusable. amount ≥ 0, its direction given by kind (interestIsPaid). */
export class InterestRecord {
  account = 0;
  asset = 0;
  kind: InterestKind = InterestKind.Borrow;
  /** Asset units. */
  amount: Amount = 0n;
  /** The APR applied. */
  rate: Ratio = 0n;
  /** The hour mark charged (Borrow, Lend, PnL kinds) or the borrow time (EntryFee), ms since epoch. */
  timeMs = 0;

  set(account: number, asset: number, kind: InterestKind, amount: Amount, rate: Ratio, timeMs: number): this {
    this.account = account;
    this.asset = asset;
    this.kind = kind;
    this.amount = amount;
    this.rate = rate;
    this.timeMs = timeMs;
    return this;
  }
}

/**
 * What a borrow position paid at the hour mark described by accrual: its owed amount after minus before, each
 * rounded up as the position reads them. Summed over the hours, it is exactly the growth of the debt.
 */
export function borrowInterestForHour(borrowShares: bigint, accrual: HourAccrual): Amount {
  return owedAmount(borrowShares, accrual.borrowIndexAfter) - owedAmount(borrowShares, accrual.borrowIndexBefore);
}

/** What a lend position earned at the hour mark: its lent amount after minus before, each rounded down. */
export function lendInterestForHour(lendShares: bigint, accrual: HourAccrual): Amount {
  return lentAmount(lendShares, accrual.lendIndexAfter) - lentAmount(lendShares, accrual.lendIndexBefore);
}
