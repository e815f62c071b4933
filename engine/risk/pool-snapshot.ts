// The snapshot encodings (X7) of one pool replica and one row of its accrual table; PoolBook.writeSnapshot /
// restoreSnapshot compose them with the shard's pool bookkeeping.
import { HourAccrual, type LendingPool } from "../lending/index.ts";
import { PoolState, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";

/** Every field of a pool but its config (which the exchange config gives). */
export function writePool(w: SnapshotWriter, p: LendingPool): void {
  w.uint(p.state);
  w.big(p.borrowIndex);
  w.big(p.lendIndex);
  w.big(p.borrowShares);
  w.big(p.lendShares);
  w.big(p.totalBorrowed);
  w.big(p.totalLent);
  w.big(p.cash);
  w.big(p.entryFeesPending);
  w.big(p.hourBorrowRate);
  w.int(p.lastAccrualHourMs);
  w.big(p.borrowInterestTotal);
  w.big(p.lendInterestTotal);
  w.big(p.exchangeInterestTotal);
  w.big(p.exchangeRoundingTotal);
  w.big(p.exchangeSwept);
}

export function readPool(r: SnapshotReader, p: LendingPool): void {
  const state = r.uint();
  if (state !== PoolState.Open && state !== PoolState.Closed && state !== PoolState.RepayOnly) r.fail(`pool state ${state} unknown`);
  p.state = state;
  p.borrowIndex = r.big();
  p.lendIndex = r.big();
  p.borrowShares = r.big();
  p.lendShares = r.big();
  p.totalBorrowed = r.big();
  p.totalLent = r.big();
  p.cash = r.big();
  p.entryFeesPending = r.big();
  p.hourBorrowRate = r.big();
  p.lastAccrualHourMs = r.int();
  p.borrowInterestTotal = r.big();
  p.lendInterestTotal = r.big();
  p.exchangeInterestTotal = r.big();
  p.exchangeRoundingTotal = r.big();
  p.exchangeSwept = r.big();
}

export function writeAccrual(w: SnapshotWriter, row: HourAccrual): void {
  w.int(row.hourMs);
  w.big(row.utilization);
  w.big(row.rate);
  w.big(row.borrowIndexBefore);
  w.big(row.borrowIndexAfter);
  w.big(row.lendIndexBefore);
  w.big(row.lendIndexAfter);
  w.big(row.borrowInterest);
  w.big(row.entryFees);
  w.big(row.lendInterest);
  w.big(row.exchangeInterest);
}

export function readAccrual(r: SnapshotReader): HourAccrual {
  const row = new HourAccrual();
  row.hourMs = r.int();
  row.utilization = r.big();
  row.rate = r.big();
  row.borrowIndexBefore = r.big();
  row.borrowIndexAfter = r.big();
  row.lendIndexBefore = r.big();
  row.lendIndexAfter = r.big();
  row.borrowInterest = r.big();
  row.entryFees = r.big();
  row.lendInterest = r.big();
  row.exchangeInterest = r.big();
  return row;
}
