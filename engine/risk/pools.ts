// The risk shard's replicas of the money-market pools (SPEC L) and its accounts' pool positions: every borrow, repay,
// lend and redeem of an account goes through here, so the account's lent / borrowed slots always value its shares.
//
// ## Replicas and the batch rule (L7, L13 with several risk shards)
// Every risk shard holds a replica of every pool; all replicas are identical at a batch boundary. Within a batch a
// shard applies its own actions to its replica and records them as additive deltas (PoolDelta). At the batch end the
// deltas of all shards are merged in shard order (applyRemote) so the replicas agree again, and then, if the batch's
// clock crossed hour marks, every replica charges each crossed hour (accrueHour): interest is charged at the end of
// the batch in which the clock crosses the hour (L5). A borrow between an hour mark and that accrual pays no entry
// fee: the accrual charges it the whole hour from the mark (L6; at most a batch's span more than from the borrow).
// One shard (the default) merges nothing.
// Limits: with one shard the live pool checks decide (throttle, maxUtilization), and borrow capacity promised to open
// margin orders (`reserved`, merged like the rest) counts as borrowed. With K > 1 shards, each shard may also use at
// most floor(room / K) per batch for borrows (amount + entry fee + 1) and redemptions (amount + 1) together, where
// room is what the boundary state leaves below the THROTTLE (utilizationRoom): so K shards together never bring U to
// the throttle inside a batch, in whatever order their actions are read — no borrow or redemption ever starts at
// U ≥ throttle, and U never reaches maxUtilization (throttle ≤ max). The price: with K > 1 a single borrow cannot
// cross the throttle (with one shard it may, up to maxUtilization).
// Every redemption counts with K > 1, also in a pool nobody borrows from at the boundary: another shard may borrow
// in the same batch, and this replica cannot see it (a redeem-all beside a borrow would overdraw the cash). The
// price: with K > 1 a lender redeems at most its shard's share per batch, so the last lenders of an idle pool leave
// in parts over several batches (with one shard a pool nobody borrows from may be emptied at once) — except a
// liquidating lender's rest, which is reserved out of every shard's next budgets and redeemed the next batch
// (redemptionReserved, redeemReserved; engine.ts "Q5 lender ADL across shards (as built)").
// Fills of margin orders borrow (and, S4, redeem) against capacity reserved when the order was accepted (S2), so
// they need no gate; they still take the budget.
//
// ## Interest history (L14)
// Hourly accrual is O(pools): positions are valued lazily (sync, by an epoch that every accrual bumps). History is
// derived on demand: each pool keeps a table of its last ACCRUAL_TABLE_HOURS accruals (the indices before/after) and
// each account a log of its last POSITION_LOG_MAX position changes (shares after, stamped with the pool's accrual
// count, entry fee); an hour's interest = the shares in force at that accrual × the index change. Changes between
// two accruals share a stamp: only the last one's shares are ever in force, so a change without an entry fee
// overwrites the last entry of its stamp instead of appending (auto-lend of each 10 s realization would otherwise
// push a month of history out of the log in 43 minutes). The settlement asset's entries also carry the account's
// open realized PnL (perps openRealizedPnl, kept by noteOpenPnl): the part of a USDC lend (borrow) that P5 put there
// (took) while its position is still open earns (pays) its interest as UnrealizedPositivePnl (UnrealizedNegativePnl).
// The EntryFee row is the L6 fee itself. A borrow's debt is its shares at the borrow index rounded up, so above index
// 1.0 it may owe one unit more than amount + fee: that unit is share rounding, the pool's (exchangeRoundingTotal, as
// every rounding of an action is), not interest — so the history sums to the debt less at most one unit per borrow.
import {
  accrueHour,
  applyPoolAction,
  applyPoolDelta,
  checkBorrow,
  checkBorrowReserved,
  checkLend,
  checkRedeem,
  checkRedeemAll,
  checkRedeemForced,
  checkRepay,
  checkRepayAll,
  createPool,
  entryFee,
  forgiveBorrow,
  HourAccrual,
  lentAmount,
  LendingPool,
  MS_PER_HOUR,
  msToNextHour,
  newPoolPosition,
  owedAmount,
  PoolAction,
  PoolActionKind,
  PoolDelta,
  poolUtilization,
  utilizationRoom,
  writeDownLent,
} from "../lending/index.ts";
import { MarketKind, PoolState, RejectCode, SnapshotTag, type ExchangeConfig, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";
import { PositionLog, type Account } from "./accounts.ts";
import { readAccrual, readPool, writeAccrual, writePool } from "./pool-snapshot.ts";

/** PoolBook.takeIndexMoves bits: the borrow index moved (an accrual), the lend index moved (an accrual or Q4). */
export const INDEX_MOVED_BORROW = 1;
export const INDEX_MOVED_LEND = 2;

/** L14: hours of accrual kept per pool for history (31 days). */
export const ACCRUAL_TABLE_HOURS = 24 * 31;
/** L14: position changes kept per account and asset for history. */
export const POSITION_LOG_MAX = 256;
/** Hours one clock step may charge per pool (a journal jumping years ahead is refused work, not a hang). */
export const ACCRUAL_CATCH_UP_HOURS_MAX = 24 * 366 * 5;

const MS_PER_HOUR_N = MS_PER_HOUR;

export class PoolBook {
  readonly pools: LendingPool[];
  /** Borrow capacity promised to open margin orders, per asset (units; global over shards once merged). */
  readonly reserved: bigint[];
  /** This batch's own actions, per asset. */
  readonly deltas: PoolDelta[];
  /** K > 1: units of borrow + redemption this shard may still take in this batch, per asset. */
  readonly budget: bigint[];
  /**
   * K > 1, Q5: units of liquidating lenders' redemptions reserved for the next batch (the relayed redemption demands,
   * set at the batch end before the budgets are dealt): every shard's budget leaves them out, and the lender's shard
   * redeems them outside its budget (redeemReserved), so Σ of the batch's borrows and redemptions stays in the room.
   */
  readonly redemptionReserved: bigint[];
  /** Accruals done per pool (the stamps of the position log). */
  readonly accruals: number[];
  /** Per pool, the last accruals (ring of ACCRUAL_TABLE_HOURS rows, oldest first from `tableStart`). */
  readonly table: HourAccrual[][];
  /** Bumped by every accrual: an account whose poolEpoch differs is revalued before use. */
  epoch = 0;
  /**
   * Q1: per asset, what moved since the trigger last looked (takeIndexMoves): INDEX_MOVED_BORROW (an accrual) and
   * INDEX_MOVED_LEND (an accrual, or a Q4 write-down of the lenders' claims). Set and taken within one batch.
   */
  private readonly indexMoved: Uint8Array;
  readonly plan = new PoolAction();
  /** burnLendShares: the lender's side of a Q5 leg whose account is on another shard (a scratch position). */
  private readonly lendSide = newPoolPosition();
  private readonly accrual = new HourAccrual();
  /**
   * L5: each pool's utilization at the last batch boundary (after its accruals), which prices the hours the next batch's
   * clock crosses: "the APR of the utilization then", at the hour's start, which is before the batch's other commands
   * (the gateway sequences a tick ahead of the commands it precedes) — every replica knows the same. Before, the
   * accrual at the batch end priced the hour after them: a borrow in the batch that crossed the mark doubled another
   * borrower's hour (helper audit). Derived state: set at every batch end and at a restore.
   */
  private readonly boundaryUtilization: bigint[];
  /** L14: the perpetual markets' settlement asset (−1: no perpetual market), whose log carries the open PnL. */
  readonly pnlAsset: number;
  /** L14: the account's open realized PnL now (settlement units); set by the risk state, which knows the positions. */
  openPnlOf: ((account: Account) => bigint) | null = null;

  constructor(
    config: ExchangeConfig,
    readonly shardCount: number,
  ) {
    this.pools = config.assets.map((a) => createPool(a.pool));
    const n = this.pools.length;
    this.reserved = new Array<bigint>(n).fill(0n);
    this.deltas = this.pools.map(() => new PoolDelta());
    this.budget = new Array<bigint>(n).fill(0n);
    this.redemptionReserved = new Array<bigint>(n).fill(0n);
    this.accruals = new Array<number>(n).fill(0);
    this.indexMoved = new Uint8Array(n);
    this.table = this.pools.map(() => []);
    this.boundaryUtilization = this.pools.map((pool) => poolUtilization(pool));
    const perp = config.markets.find((m) => m.kind === MarketKind.Perpetual);
    this.pnlAsset = perp === undefined ? -1 : perp.quoteAsset;
    this.refreshBudgets();
  }

  // ---- valuation ----

  /** Revalues the account's lent / borrowed slots if an accrual happened since it was last valued. */
  sync(account: Account): void {
    if (account.poolEpoch === this.epoch) return;
    account.poolEpoch = this.epoch;
    if (account.poolPositions === 0) return;
    for (let a = 0; a < this.pools.length; a++) {
      const p = account.positions[a]!;
      if (p.lendShares !== 0n || p.borrowShares !== 0n) this.value(account, a);
    }
  }

  /**
   * Sets the asset's lent / borrowed slots from its shares (and the counters that follow them). `applied`: the pool
   * action just applied to the position, whose valueAfter is already the side it changed, from the same shares and
   * index (one long division less per borrow, repay, lend or redemption).
   */
  private value(account: Account, a: number, applied: PoolAction | null = null): void {
    const pool = this.pools[a]!;
    const p = account.positions[a]!;
    const lendSide = applied !== null && (applied.kind === PoolActionKind.Lend || applied.kind === PoolActionKind.Redeem);
    const lent = lendSide ? applied.valueAfter : lentAmount(p.lendShares, pool.lendIndex);
    const owed = applied !== null && !lendSide ? applied.valueAfter : owedAmount(p.borrowShares, pool.borrowIndex);
    if (lent === account.lent[a] && owed === account.borrowed[a]) return;
    const owedBefore = account.borrowed[a]! > 0n;
    account.setLent(a, lent);
    account.setBorrowed(a, owed);
    if (owed > 0n !== owedBefore) account.borrowedAssets += owed > 0n ? 1 : -1;
    account.markChanged(a);
  }

  /**
   * L14: records the position's new shares in its bounded log — in the last entry when it has the same stamp and
   * one of the two charged no entry fee (see the module comment), else in a new one.
   */
  private log(account: Account, a: number, timeMs: number, entryFeeCharged: bigint): void {
    const p = account.positions[a]!;
    let logs = account.poolLog;
    if (logs === null) logs = account.poolLog = new Array<PositionLog | null>(this.pools.length).fill(null);
    let log = logs[a];
    if (log === null || log === undefined) log = logs[a] = new PositionLog(POSITION_LOG_MAX);
    const stamp = this.accruals[a]!;
    const last = log.length > 0 ? log.at(log.length - 1) : null;
    const merge = last !== null && last.stamp === stamp && (entryFeeCharged === 0n || last.entryFee === 0n);
    const e = merge ? last : log.append();
    if (!merge || entryFeeCharged > 0n) {
      e.stamp = stamp;
      e.timeMs = timeMs;
      e.entryFee = entryFeeCharged;
      e.rate = this.pools[a]!.hourBorrowRate;
    }
    e.lendShares = p.lendShares;
    e.borrowShares = p.borrowShares;
    e.openPnl = a === this.pnlAsset && this.openPnlOf !== null ? this.openPnlOf(account) : 0n;
  }

  /**
   * L14: the account's open realized PnL may have changed (a P5 realization, a fill or a transfer of a position):
   * the settlement asset's log holds the new value from the next accrual on. Nothing when the account has no lend
   * or borrow there (no interest until its next change, which logs the value afresh).
   */
  noteOpenPnl(account: Account, timeMs: number): void {
    const a = this.pnlAsset;
    const log = a < 0 || account.poolLog === null ? null : account.poolLog[a];
    if (log === null || log === undefined || log.length === 0 || this.openPnlOf === null) return;
    const last = log.at(log.length - 1);
    if (last.lendShares === 0n && last.borrowShares === 0n) return;
    const openPnl = this.openPnlOf(account);
    if (last.openPnl === openPnl) return;
    const stamp = this.accruals[a]!;
    if (last.stamp === stamp) {
      last.openPnl = openPnl;
      return;
    }
    const e = log.append();
    e.stamp = stamp;
    e.timeMs = timeMs;
    e.lendShares = last.lendShares;
    e.borrowShares = last.borrowShares;
    e.entryFee = 0n;
    e.rate = this.pools[a]!.hourBorrowRate;
    e.openPnl = openPnl;
  }

  // ---- limits ----

  /** Units of borrow/redemption consumption the shard may still take now (reserved capacity counted as borrowed). */
  room(a: number): bigint {
    const pool = this.pools[a]!;
    const live = utilizationRoom(pool, pool.config.maxUtilization, this.reserved[a]!, true);
    if (this.shardCount === 1) return live;
    const b = this.budget[a]!;
    return b < live ? b : live;
  }

  private consume(a: number, units: bigint): void {
    if (this.shardCount > 1) this.budget[a] = this.budget[a]! - units;
  }

  /**
   * K > 1: each shard's share of the room below the throttle at the boundary (see the module comment), less the
   * liquidation redemptions reserved for the next batch (redemptionReserved: Q5, adl-lender-relay.ts).
   */
  refreshBudgets(): void {
    if (this.shardCount === 1) return;
    const k = BigInt(this.shardCount);
    for (let a = 0; a < this.pools.length; a++) {
      const pool = this.pools[a]!;
      const room = utilizationRoom(pool, pool.config.throttleUtilizationThreshold, this.reserved[a]!) - this.redemptionReserved[a]!;
      this.budget[a] = room > 0n ? room / k : 0n;
    }
  }

  /**
   * L6: ms from now to the next hour mark, or 0 while an hour mark has passed that the pool has not charged yet (the
   * accrual at the batch end charges the whole hour from the mark).
   */
  msToNext(a: number, nowMs: number): number {
    const mark = nowMs - (((nowMs % MS_PER_HOUR_N) + MS_PER_HOUR_N) % MS_PER_HOUR_N);
    if (mark > this.pools[a]!.lastAccrualHourMs) return 0;
    return msToNextHour(nowMs);
  }

  /** Units a borrow of `amount` takes from the room: the amount, an entry-fee bound, one unit of share rounding. */
  reservationFor(a: number, amount: bigint): bigint {
    return amount + entryFee(amount, this.pools[a]!.hourBorrowRate, MS_PER_HOUR_N) + 1n;
  }

  /**
   * Checks a borrow of `amount` (its plan in `plan`, for applyBorrow): the pool's own checks (state, L15, throttle L7, maxUtilization
   * L13, liquidity) and the room (reserved capacity, K > 1 budget) → MaxUtilization. With one shard the room is
   * taken by what the pool's total debt grows by exactly (amount + entry fee + share rounding), so a borrow may take
   * U to maxUtilization exactly (L13); with K > 1 by amount + entry fee + 1 (the budgets' unit, see the module).
   */
  checkBorrow(account: Account, a: number, amount: bigint, nowMs: number, plan: PoolAction = this.plan): RejectCode {
    const pool = this.pools[a]!;
    const code = checkBorrow(pool, account.positions[a]!, amount, this.msToNext(a, nowMs), plan);
    if (code !== RejectCode.None) return code;
    const growth = this.shardCount === 1
      ? owedAmount(pool.borrowShares + plan.shares, pool.borrowIndex) - pool.totalBorrowed
      : amount + plan.entryFee + 1n;
    if (growth > this.room(a)) return RejectCode.MaxUtilization;
    return RejectCode.None;
  }

  /** Whether an order may promise a borrow of up to `amount` at fill time (S2): the same gates as a borrow now. */
  checkReservation(a: number, amount: bigint): RejectCode {
    const pool = this.pools[a]!;
    if (pool.state !== PoolState.Open) return RejectCode.PoolClosed;
    if (pool.totalLent === 0n) return RejectCode.NoLiquidity;
    if (this.isThrottled(a)) return RejectCode.BorrowThrottled;
    if (this.reservationFor(a, amount) > this.room(a)) return RejectCode.MaxUtilization;
    return RejectCode.None;
  }

  isThrottled(a: number): boolean {
    const pool = this.pools[a]!;
    const borrowed = pool.totalBorrowed + this.reserved[a]!;
    if (borrowed === 0n) return false;
    return borrowed * 1_000_000_000_000_000_000n >= pool.config.throttleUtilizationThreshold * pool.totalLent;
  }

  /** The most an order may promise to borrow now (0 if the pool refuses any borrow). */
  reservableUnits(a: number): bigint {
    if (this.checkReservation(a, 1n) !== RejectCode.None) return 0n;
    let lo = 1n;
    let hi = this.room(a);
    while (lo < hi) {
      const mid = hi - ((hi - lo) >> 1n);
      if (this.reservationFor(a, mid) <= this.room(a)) lo = mid;
      else hi = mid - 1n;
    }
    return lo;
  }

  reserve(a: number, units: bigint): void {
    this.reserved[a] = this.reserved[a]! + units;
    this.deltas[a]!.reservedBorrow += units;
    this.consume(a, units);
  }

  release(a: number, units: bigint): void {
    if (units === 0n) return;
    this.reserved[a] = this.reserved[a]! - units;
    this.deltas[a]!.reservedBorrow -= units;
  }

  // ---- actions (the caller checked the account side: C8, settings) ----

  private commit(account: Account, a: number, timeMs: number, fee: bigint, plan: PoolAction = this.plan): void {
    const p = account.positions[a]!;
    const wasOpen = p.lendShares !== 0n || p.borrowShares !== 0n;
    applyPoolAction(this.pools[a]!, p, plan);
    this.deltas[a]!.addAction(plan);
    const open = p.lendShares !== 0n || p.borrowShares !== 0n;
    if (open !== wasOpen) account.poolPositions += open ? 1 : -1;
    this.value(account, a, plan);
    this.log(account, a, timeMs, fee);
  }

  /** Applies the borrow checkBorrow planned in `plan`: available += amount, debt += amount + entry fee. Returns the fee. */
  applyBorrow(account: Account, a: number, timeMs: number, plan: PoolAction = this.plan): bigint {
    const cost = plan.amount + plan.entryFee + 1n;
    const fee = plan.entryFee;
    this.commit(account, a, timeMs, fee, plan);
    this.consume(a, cost);
    account.addAvailable(a, plan.amount);
    return fee;
  }

  /** A fill's borrow of `amount` against capacity reserved earlier (S2). Returns the entry fee, or -1 if impossible. */
  borrowReserved(account: Account, a: number, amount: bigint, nowMs: number, consumeRoom = false): bigint {
    const code = checkBorrowReserved(this.pools[a]!, account.positions[a]!, amount, this.msToNext(a, nowMs), this.plan);
    if (code !== RejectCode.None) return -1n;
    const fee = this.plan.entryFee;
    this.commit(account, a, nowMs, fee);
    if (consumeRoom) this.consume(a, amount + this.plan.entryFee + 1n);
    account.addAvailable(a, amount);
    return fee;
  }

  /** Lends `amount` of the account's available balance (L1, L12). */
  lend(account: Account, a: number, amount: bigint, nowMs: number): RejectCode {
    const code = checkLend(this.pools[a]!, account.positions[a]!, amount, this.plan);
    if (code !== RejectCode.None) return code;
    account.subAvailable(a, amount);
    this.commit(account, a, nowMs, 0n);
    return RejectCode.None;
  }

  /** Units of `a` the pool would take as a lend now (openBorrowLendLimit, state): what auto-lend can lend. */
  lendable(a: number, amount: bigint): bigint {
    const pool = this.pools[a]!;
    if (pool.state !== PoolState.Open) return 0n;
    const room = pool.config.openBorrowLendLimit - pool.totalLent;
    if (room <= 0n) return 0n;
    return amount < room ? amount : room;
  }

  /** Checks a redemption of `amount` (0 = all) into available (its plan in `plan`, for applyRedeem), the room included (L7, L11, L13). */
  checkRedeem(account: Account, a: number, amount: bigint, plan: PoolAction = this.plan): RejectCode {
    const pool = this.pools[a]!;
    const p = account.positions[a]!;
    const code = amount === 0n ? checkRedeemAll(pool, p, plan) : checkRedeem(pool, p, amount, plan);
    if (code !== RejectCode.None) return code;
    // One shard with nothing borrowed or promised: no borrow can follow it in the batch, so the pool may empty. With
    // K > 1 another shard may borrow its share of the boundary room in the same batch (this replica cannot see it),
    // so every redemption, a redeem-all of an idle pool included, takes the budget.
    if (plan.amount + 1n > this.room(a) && (this.shardCount > 1 || pool.totalBorrowed + this.reserved[a]! > 0n)) {
      return RejectCode.MaxUtilization;
    }
    return RejectCode.None;
  }

  /**
   * Lent units of the account's `a` a redemption may take now (S4 auto-redeem, the spendable answer): all of them if a
   * redeem-all passes; else, with K > 1, as many as the shard's budget leaves (room − 1, if the pool takes that).
   * Leaves this.plan changed.
   */
  redeemable(account: Account, a: number): bigint {
    const lent = account.lent[a]!;
    if (lent === 0n || this.checkRedeem(account, a, 0n) === RejectCode.None) return lent;
    if (this.shardCount === 1) return 0n;
    const part = this.room(a) - 1n;
    if (part <= 0n) return 0n;
    const amount = part < lent ? part : lent;
    return this.checkRedeem(account, a, amount) === RejectCode.None ? amount : 0n;
  }

  /** Applies the redemption checkRedeem planned in `plan` (K > 1: it takes amount + 1 of the shard's budget). */
  applyRedeem(account: Account, a: number, nowMs: number, plan: PoolAction = this.plan): bigint {
    const amount = plan.amount;
    this.commit(account, a, nowMs, 0n, plan);
    this.consume(a, amount + 1n);
    account.addAvailable(a, amount);
    return amount;
  }

  /**
   * Q5, K > 1: a liquidating lender's redemption of `amount` reserved at the last boundary (redemptionReserved): the
   * pool's own gates (throttle before, maxUtilization after, cash), no shard budget. Returns the code.
   */
  redeemReserved(account: Account, a: number, amount: bigint, nowMs: number): RejectCode {
    const pool = this.pools[a]!;
    const p = account.positions[a]!;
    const code = amount >= account.lent[a]! ? checkRedeemAll(pool, p, this.plan) : checkRedeem(pool, p, amount, this.plan);
    if (code !== RejectCode.None) return code;
    this.commit(account, a, nowMs, 0n);
    account.addAvailable(a, this.plan.amount);
    return RejectCode.None;
  }

  /**
   * A redemption a fill must have (S2, S4: the trade already happened). Returns the units, or -1. Not gated: it
   * replaces part of the order's reserved borrow (the fill's redemptions and borrows together never exceed the
   * order's borrowMax), and that reservation is already inside the room every shard's budget comes from, so the
   * cash it takes is covered. It still takes the budget (K > 1), possibly below zero: the shard's later borrows and
   * redemptions in the batch are refused instead, never the fill.
   */
  redeemForced(account: Account, a: number, amount: bigint, nowMs: number): bigint {
    if (checkRedeemForced(this.pools[a]!, account.positions[a]!, amount, this.plan) !== RejectCode.None) return -1n;
    return this.applyRedeem(account, a, nowMs);
  }

  /**
   * L15 at a margin order's fill: lend shares worth less than one unit (lent 0 — a Q4 write-down lowered the lend
   * index under them) leave the pool for nothing, so the borrow the fill needs is not barred by a claim that cannot be
   * redeemed (a redemption of 0 units is no redemption). A Redeem of the shares with amount 0: a delta like any.
   */
  dropWorthlessLend(account: Account, a: number, timeMs: number): void {
    const p = account.positions[a]!;
    if (p.lendShares === 0n || lentAmount(p.lendShares, this.pools[a]!.lendIndex) !== 0n) return;
    const plan = this.plan;
    plan.reset(PoolActionKind.Redeem);
    plan.shares = p.lendShares;
    this.commit(account, a, timeMs, 0n, plan);
  }

  /** Repays `amount` (0 = the whole debt) from available (L10). */
  repay(account: Account, a: number, amount: bigint, nowMs: number): RejectCode {
    const pool = this.pools[a]!;
    const p = account.positions[a]!;
    const code = amount === 0n ? checkRepayAll(pool, p, this.plan) : checkRepay(pool, p, amount, this.plan);
    if (code !== RejectCode.None) return code;
    if (account.available[a]! < this.plan.amount) return RejectCode.InsufficientBalance;
    account.subAvailable(a, this.plan.amount);
    this.commit(account, a, nowMs, 0n);
    return RejectCode.None;
  }

  // ---- Q4 write-downs, Q5 (liquidation-lenders.ts) ----

  /** Q5: the pool's own answer to redeeming the account's whole claim on `a` now (no shard budget counted). */
  poolRedeemCode(account: Account, a: number): RejectCode {
    return checkRedeemAll(this.pools[a]!, account.positions[a]!, this.plan);
  }

  /** Q4: the bankrupt account's whole debt of `a` leaves the pool unpaid (its shares, as a delta); returns the units. */
  forgiveBorrow(account: Account, a: number, timeMs: number): bigint {
    const p = account.positions[a]!;
    const shares = p.borrowShares;
    const owed = forgiveBorrow(this.pools[a]!, p);
    if (owed === 0n) return 0n;
    this.deltas[a]!.borrowShares -= shares;
    account.poolPositions--; // L15: a borrower has no lend shares, so the position is closed
    this.value(account, a);
    this.log(account, a, timeMs, 0n);
    return owed;
  }

  /**
   * Q5 across risk shards (engine.ts "Q5 lender ADL across shards (as built)"), on the borrower's shard: the lender's
   * half of a leg on the pool alone — `shares` lend shares and `amount` units of cash leave it, as the lender's forced
   * redemption would take them, in THIS shard's delta, beside the borrower's repayment of `amount`: the pair is one
   * delta, so every replica's lent and borrowed totals move together at the merge. The lender's own shares leave it on
   * the lender's shard (releaseLendShares), which changes no total. No budget: the pair leaves the cash as it was and
   * lowers the utilization.
   */
  burnLendShares(a: number, shares: bigint, amount: bigint): void {
    const plan = this.plan;
    plan.reset(PoolActionKind.Redeem);
    plan.shares = shares;
    plan.amount = amount;
    this.lendSide.lendShares = shares;
    this.lendSide.borrowShares = 0n;
    applyPoolAction(this.pools[a]!, this.lendSide, plan);
    this.deltas[a]!.addAction(plan);
  }

  /** Q5 across risk shards, on the lender's shard: `shares` of the account's lend shares leave it (burnLendShares). */
  releaseLendShares(account: Account, a: number, shares: bigint, timeMs: number): void {
    const p = account.positions[a]!;
    if (shares > p.lendShares) throw new Error(`risk invariant (Q5): account ${account.id} holds ${p.lendShares} lend shares of asset ${a}, not ${shares}`);
    p.lendShares -= shares;
    if (p.lendShares === 0n && p.borrowShares === 0n) account.poolPositions--;
    this.value(account, a);
    this.log(account, a, timeMs, 0n);
  }

  /**
   * Q4, at the batch end after the merge, on every replica alike: the lenders' claims on `a` fall by `quantity`
   * (writeDownLent); every account is revalued at its next sync.
   */
  writeDownLent(a: number, quantity: bigint): bigint {
    const fell = writeDownLent(this.pools[a]!, quantity);
    this.epoch++;
    this.indexMoved[a] = this.indexMoved[a]! | INDEX_MOVED_LEND;
    return fell;
  }

  /**
   * Q1: copies into `out` which indices moved per asset since the last call (INDEX_MOVED_* bits) and forgets them:
   * only an account with shares on a moved side is revalued differently.
   */
  takeIndexMoves(out: Uint8Array): void {
    out.set(this.indexMoved);
    this.indexMoved.fill(0);
  }

  /**
   * Q3 takeover (both accounts on this shard): `from`'s whole position in pool `a` — lend and borrow shares — becomes
   * `to`'s. The pool's share totals stay as they are (no delta, nothing to merge); both accounts are revalued and
   * logged (L14).
   */
  moveShares(from: Account, to: Account, a: number, timeMs: number): void {
    const p = from.positions[a]!;
    const lendShares = p.lendShares;
    const borrowShares = p.borrowShares;
    if (lendShares === 0n && borrowShares === 0n) return;
    this.releaseShares(from, a, timeMs);
    this.receiveShares(to, a, lendShares, borrowShares, timeMs);
  }

  /**
   * Q3 across risk shards, the liquidated account's half (engine.ts "Q3 across shards (as built)"): its whole position
   * in pool `a` leaves it (revalued and logged, L14); the shares travel in the phase-4 deltas to the backstop's shard,
   * whose receiveShares gives them to the backstop. The pool's totals do not change on any replica (no pool delta).
   */
  releaseShares(from: Account, a: number, timeMs: number): void {
    const p = from.positions[a]!;
    if (p.lendShares === 0n && p.borrowShares === 0n) return;
    p.lendShares = 0n;
    p.borrowShares = 0n;
    from.poolPositions--;
    this.value(from, a);
    this.log(from, a, timeMs, 0n);
  }

  /** Q3: `to` receives lend and borrow shares of pool `a` that left another account (moveShares, releaseShares). */
  receiveShares(to: Account, a: number, lendShares: bigint, borrowShares: bigint, timeMs: number): void {
    if (lendShares === 0n && borrowShares === 0n) return;
    const q = to.positions[a]!;
    const toWasOpen = q.lendShares !== 0n || q.borrowShares !== 0n;
    q.lendShares += lendShares;
    q.borrowShares += borrowShares;
    if (!toWasOpen) to.poolPositions++;
    this.value(to, a);
    this.log(to, a, timeMs, 0n);
  }

  // ---- the batch boundary ----

  /** True when this batch changed nothing in any replica (the K > 1 exchange may skip it). */
  deltasEmpty(): boolean {
    for (const d of this.deltas) if (!d.isZero()) return false;
    return true;
  }

  /** Applies another shard's deltas for this batch (in shard order; never this shard's own). */
  applyRemote(deltas: readonly PoolDelta[]): void {
    for (let a = 0; a < this.pools.length; a++) {
      const d = deltas[a]!;
      if (d.isZero()) continue;
      applyPoolDelta(this.pools[a]!, d);
      this.reserved[a] = this.reserved[a]! + d.reservedBorrow;
    }
  }

  /**
   * The batch end, after the merge: charges every hour mark the clock crossed (L5), clears the deltas and deals the
   * next batch's budgets. An idle pool (nothing borrowed, no fee pending) jumps to the last mark in one step.
   */
  endBatch(nowMs: number): void {
    const target = nowMs - (((nowMs % MS_PER_HOUR_N) + MS_PER_HOUR_N) % MS_PER_HOUR_N);
    for (let a = 0; a < this.pools.length; a++) {
      const pool = this.pools[a]!;
      this.deltas[a]!.clear();
      if (target <= pool.lastAccrualHourMs) continue;
      let hour = pool.lastAccrualHourMs < 0 || (pool.borrowShares === 0n && pool.entryFeesPending === 0n)
        ? target
        : pool.lastAccrualHourMs + MS_PER_HOUR_N;
      if ((target - hour) / MS_PER_HOUR_N > ACCRUAL_CATCH_UP_HOURS_MAX) hour = target - ACCRUAL_CATCH_UP_HOURS_MAX * MS_PER_HOUR_N;
      for (; hour <= target; hour += MS_PER_HOUR_N) this.accrueOne(a, hour);
    }
    for (let a = 0; a < this.pools.length; a++) this.boundaryUtilization[a] = poolUtilization(this.pools[a]!);
    this.refreshBudgets();
  }

  private accrueOne(a: number, hourMs: number): void {
    const out = this.accrual;
    if (accrueHour(this.pools[a]!, hourMs, out, this.boundaryUtilization[a]!) !== RejectCode.None) return;
    this.accruals[a]!++;
    this.epoch++;
    this.indexMoved[a] = INDEX_MOVED_BORROW | INDEX_MOVED_LEND;
    const row = new HourAccrual();
    Object.assign(row, out);
    const t = this.table[a]!;
    if (t.length >= ACCRUAL_TABLE_HOURS) t.shift();
    t.push(row);
  }

  /** The accrual with number `n` (1-based) if still in the table. */
  accrualRow(a: number, n: number): HourAccrual | null {
    const t = this.table[a]!;
    const first = this.accruals[a]! - t.length + 1;
    if (n < first || n > this.accruals[a]!) return null;
    return t[n - first]!;
  }

  // ---- snapshots (X7) ----

  /**
   * The replicas and this shard's pool bookkeeping at a batch boundary (the deltas are empty there: a snapshot taken
   * inside a batch would lose them, so it is refused). Pool configs come from the exchange config.
   */
  writeSnapshot(w: SnapshotWriter): void {
    if (!this.deltasEmpty()) throw new Error("pool book: a snapshot must be taken at a batch boundary (pool deltas pending)");
    w.beginSection(SnapshotTag.RiskPools);
    w.uint(this.pools.length);
    w.uint(this.epoch);
    for (let a = 0; a < this.pools.length; a++) {
      writePool(w, this.pools[a]!);
      w.big(this.reserved[a]!);
      w.big(this.budget[a]!);
      w.uint(this.accruals[a]!);
      const t = this.table[a]!;
      w.uint(t.length);
      for (const row of t) writeAccrual(w, row);
    }
    w.endSection();
  }

  /** Restores a fresh book (same config and shard count) from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    r.beginSection(SnapshotTag.RiskPools, "pools");
    const n = r.uint();
    if (n !== this.pools.length) r.fail(`the snapshot holds ${n} pools, the config ${this.pools.length} assets`);
    this.epoch = r.uint();
    for (let a = 0; a < n; a++) {
      readPool(r, this.pools[a]!);
      this.boundaryUtilization[a] = poolUtilization(this.pools[a]!); // a snapshot is taken at a boundary
      this.reserved[a] = r.big();
      this.budget[a] = r.big();
      this.accruals[a] = r.uint();
      const rows = r.count(ACCRUAL_TABLE_HOURS, "accrual table rows");
      const t = this.table[a]!;
      t.length = 0;
      for (let i = 0; i < rows; i++) t.push(readAccrual(r));
    }
    r.endSection();
  }

  /** Digest text of the replicas (every shard's is the same at a boundary). */
  hashText(): string {
    let s = "";
    for (let a = 0; a < this.pools.length; a++) {
      const p = this.pools[a]!;
      s += `pool${a} ${p.state} ${p.borrowIndex} ${p.lendIndex} ${p.borrowShares} ${p.lendShares} ${p.cash} ${p.entryFeesPending} ${p.hourBorrowRate} ${p.lastAccrualHourMs} ${p.exchangeInterestTotal} r${this.reserved[a]}\n`;
    }
    return s;
  }
}

export { PoolActionKind };
