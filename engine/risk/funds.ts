// The shared money movements of risk (after a check in checks.ts accepted them): outflows, order holds and their
// release, incoming balance (S3, L10, L12) and the open-order terms of C4. No events: the handlers publish.
import { AccountSetting, OrderFlag, RejectCode, Side, SPOT_MARGIN_FLAGS } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import type { OrderHold } from "./holds.ts";
import { planUsdcCredit, planUsdcDebit } from "../perps/index.ts";
import { SettlementStep, type OrderPlan, type RiskState, type SettlementReason } from "./state.ts";

/**
 * Takes `amount` of `a` out of the account after checks.withdrawalCode accepted it: the available balance, then lent
 * units redeemed (L11), then (a margin withdrawal) a borrow of the rest (L9).
 */
export function takeOutflow(s: RiskState, account: Account, a: number, amount: bigint): void {
  const available = account.available[a]!;
  if (amount > available) {
    const plan = s.poolPlan;
    const lent = account.lent[a]!;
    const redeem = amount - available < lent ? amount - available : lent;
    if (redeem > 0n) {
      if (s.pools.checkRedeem(account, a, redeem === lent ? 0n : redeem, plan) !== RejectCode.None) throw new Error("risk invariant: checked redemption refused");
      s.pools.applyRedeem(account, a, s.nowMs, plan);
    }
    const short = amount - account.available[a]!;
    if (short > 0n) {
      // Judged as one action before the redemption (withdrawalCode); the borrow after it takes the checked room.
      if (redeem === 0n && s.pools.checkBorrow(account, a, short, s.nowMs, plan) === RejectCode.None) s.pools.applyBorrow(account, a, s.nowMs, plan);
      else if (s.pools.borrowReserved(account, a, short, s.nowMs, true) < 0n) throw new Error("risk invariant: checked borrow refused");
    }
  }
  account.subAvailable(a, amount);
  account.markChanged(a);
}

/**
 * Holds the funds of the order checks.checkOrder planned in `plan` (S1, S2, S4, C4): redeems plan.redeem lent units,
 * moves the hold from available to locked, reserves what its fills may borrow and credits its proceeds.
 */
export function takeHold(s: RiskState, orderId: number, account: Account, market: number, side: number, clientId: bigint, flags: number, plan: OrderPlan): void {
  const asset = plan.asset;
  if (plan.redeem > 0n) s.pools.applyRedeem(account, asset, s.nowMs, plan.redeemPlan);
  const borrow = plan.borrow;
  const amount = borrow === 0n ? plan.need : plan.need - borrow;
  account.subAvailable(asset, amount);
  account.addLocked(asset, side, amount);
  account.openOrders++;
  const hold = s.holds.add(orderId);
  hold.account = account.id;
  hold.owner = account;
  hold.market = market;
  hold.side = side;
  hold.clientId = clientId;
  hold.flags = flags;
  hold.asset = asset;
  hold.remaining = amount;
  account.markChanged(asset);
  if (borrow > 0n) {
    hold.borrowMax = borrow;
    hold.reserved = s.pools.reservationFor(asset, borrow);
    s.pools.reserve(asset, hold.reserved);
    // C4: what the order may borrow is exposure from now on, not from its fills.
    account.addOpenBorrow(asset, side, borrow);
    account.openBorrowOrders++;
  }
  hold.inflowAsset = plan.inflowAsset;
  hold.inflowRepays = plan.inflowRepays;
  // C4/C8: the check offset the credit against the borrow not yet covered; later borrows are not offset by it.
  if (plan.inflowRepays) account.addRepayCover(plan.inflowAsset, side, plan.inflowCredit);
  creditInflow(account, hold, plan.inflowCredit);
  if (clientId !== 0n) indexClientId(s, hold);
}

/**
 * Cancel and replace by clientId: (account, market, clientId) → the newest held order with that key. A new order takes
 * the key in R1, before matching has judged it; the order it took the key from, if still held, is kept in
 * hold.shadowed, so that when the new one ends first — matching refused it (DuplicateClientId, a replacement's
 * filters or band) — the key returns to the order that still rests (unindexClientId) instead of being lost, and a
 * later Replace by clientId finds the order matching finds, with its hold.
 */
function indexClientId(s: RiskState, hold: OrderHold): void {
  const previous = s.byClientId.get(hold.account, hold.market, hold.clientId);
  hold.shadowed = previous !== 0 && s.holds.get(previous) !== undefined ? previous : 0;
  s.byClientId.set(hold.account, hold.market, hold.clientId, hold.orderId);
}

/** The ending order `hold` leaves the clientId index: its key returns to the order it shadowed (if any), or, when a
 * later order holds the key, it leaves that order's chain of shadowed orders. */
function unindexClientId(s: RiskState, hold: OrderHold): void {
  const head = s.byClientId.get(hold.account, hold.market, hold.clientId);
  if (head === hold.orderId) {
    if (hold.shadowed !== 0 && s.holds.get(hold.shadowed) !== undefined) s.byClientId.set(hold.account, hold.market, hold.clientId, hold.shadowed);
    else s.byClientId.delete(hold.account, hold.market, hold.clientId);
    return;
  }
  // The chain from the head (a few orders of one batch at most): the order that shadows this one takes its place.
  for (let id = head; id !== 0; ) {
    const h = s.holds.get(id);
    if (h === undefined) return;
    if (h.shadowed === hold.orderId) {
      h.shadowed = hold.shadowed;
      return;
    }
    id = h.shadowed;
  }
}

/** The order ended: what it still holds returns to available (incoming balance), its reservation to the pool. */
export function releaseHoldFunds(s: RiskState, hold: OrderHold): Account {
  if (hold.clientId !== 0n) unindexClientId(s, hold);
  const account = hold.owner!;
  s.pools.sync(account);
  account.subLocked(hold.asset, hold.side, hold.remaining);
  account.addAvailable(hold.asset, hold.remaining);
  account.openOrders--;
  if (hold.perp) {
    addPerpOpen(s, account, hold, -hold.perpOpen);
    return account;
  }
  reduceOpenBorrow(account, hold, hold.borrowMax);
  creditInflow(account, hold, -hold.inflowCredit);
  account.markChanged(hold.asset);
  s.pools.release(hold.asset, hold.reserved);
  if (hold.remaining > 0n) incoming(s, account, hold.asset, hold.remaining, 0);
  return account;
}

/**
 * Units of `asset` arrived in the available balance (deposit, transfer, trade proceeds, a released hold). With the
 * account's autoLend on (L10, L12, A4), or a spot-margin order's proceeds (S2 autoBorrowRepay, S3), they repay a
 * debt of the asset first; then autoLend lends every available unit (the order flag autoLend: the proceeds).
 */
export function incoming(s: RiskState, account: Account, asset: number, amount: bigint, orderFlags: number): void {
  const autoLend = account.isOn(AccountSetting.AutoLend);
  if (!autoLend && orderFlags === 0) return;
  const pools = s.pools;
  let left = amount;
  if (account.positions[asset]!.borrowShares > 0n && (autoLend || (orderFlags & SPOT_MARGIN_FLAGS) !== 0)) {
    const owed = account.borrowed[asset]!;
    const available = account.available[asset]!;
    const cap = autoLend ? available : left < available ? left : available;
    if (cap > 0n) {
      const all = cap >= owed;
      if (pools.repay(account, asset, all ? 0n : cap, s.nowMs) === RejectCode.None) left -= all ? owed : cap;
    }
  }
  if (account.positions[asset]!.borrowShares > 0n) return;
  // Q2: a liquidating account's collateral is there to be sold (its lent collateral was redeemed for it): a step's
  // unfilled hold coming back is not lent again (before, redeem and re-lend went round every batch: fuzz seed 3732411254).
  if (s.liquidation.liquidating.size !== 0 && s.liquidation.isLiquidating(account.id)) return;
  let lend = 0n;
  if (autoLend) lend = account.available[asset]!;
  else if ((orderFlags & OrderFlag.AutoLend) !== 0) lend = left < account.available[asset]! ? left : account.available[asset]!;
  lend = pools.lendable(asset, lend);
  if (lend > 0n) pools.lend(account, asset, lend, s.nowMs);
}

/** The order's credited proceeds change by `delta` units (C4: Account.openRepay or openInflow follows). */
export function creditInflow(account: Account, hold: OrderHold, delta: bigint): void {
  if (delta === 0n) return;
  const a = hold.inflowAsset;
  hold.inflowCredit += delta;
  account.addOpenCredit(a, hold.side, hold.inflowRepays, delta);
  account.markChanged(a);
}

/**
 * A3/C4/C8: the account's leverage limit rose. Each open spot order's credited proceeds were neutral at the old limit
 * (checks.creditUpToNeutral); at the higher limit its borrow takes less, so the same credit would give room that
 * cancelling the order takes away (margin/corners.ts). Each is cut to the most that leaves the available equity, at
 * the all-fill state and at the order's own corner, no higher than without the order. Never raised. A walk of the
 * shard's hold slots (a leverage change is rare; no per-account hold list is kept on the hot path).
 */
export function recapOrderCredits(s: RiskState, account: Account): void {
  if (account.openOrders === 0) return;
  const holds = s.holds;
  for (let i = 0; i < holds.slotCount; i++) {
    if (holds.accountAt(i) !== account.id) continue; // another's hold, or a free slot: no restored record made
    const hold = holds.slotAt(i);
    if (hold.owner === account && !hold.perp && hold.inflowCredit > 0n) recapOrderCredit(account, hold);
  }
}

function recapOrderCredit(account: Account, hold: OrderHold): void {
  const fillSell = hold.side === Side.Sell;
  const a = hold.inflowAsset;
  const cover = account.repayCover[a]!;
  const sellCover = account.sellTerms === null ? 0n : account.sellTerms.repayCover[a]!;
  const credit = hold.inflowCredit;
  // The account without the order: its hold back in available, no open borrow, no credit.
  moveOrderTerms(account, hold, -1n);
  creditInflow(account, hold, -credit);
  let margin = account.syncedMargin();
  const allWithout = margin.netEquityAvailableUsd();
  const cornerWithout = margin.cornerNetEquityAvailableUsd(fillSell);
  moveOrderTerms(account, hold, 1n);
  let lo = 0n;
  let hi = credit;
  while (lo < hi) {
    const mid = hi - ((hi - lo) >> 1n);
    setOrderCredit(account, hold, mid, cover, sellCover);
    margin = account.syncedMargin();
    if (margin.netEquityAvailableUsd() > allWithout || margin.cornerNetEquityAvailableUsd(fillSell) > cornerWithout) hi = mid - 1n;
    else lo = mid;
  }
  setOrderCredit(account, hold, lo, cover, sellCover);
}

/** Adds (sign 1n) or takes out (−1n) the order's hold and open borrow from the account's open-order terms. */
function moveOrderTerms(account: Account, hold: OrderHold, sign: bigint): void {
  const asset = hold.asset;
  account.addLocked(asset, hold.side, sign * hold.remaining);
  account.subAvailable(asset, sign * hold.remaining);
  if (hold.borrowMax !== 0n) account.addOpenBorrow(asset, hold.side, sign * hold.borrowMax);
  account.markChanged(asset);
}

/** The order's credit set to `credit`, the repay cover as it was with the old credit, capped to the new one. */
function setOrderCredit(account: Account, hold: OrderHold, credit: bigint, cover: bigint, sellCover: bigint): void {
  creditInflow(account, hold, credit - hold.inflowCredit);
  if (!hold.inflowRepays) return;
  const a = hold.inflowAsset;
  account.setRepayCover(a, cover);
  if (account.sellTerms !== null) account.sellTerms.setRepayCover(a, sellCover);
  account.repayCoverNow(a);
}

/** The order may borrow `units` less at fill time (it borrowed them, or it ended): C4's open-order exposure. */
export function reduceOpenBorrow(account: Account, hold: OrderHold, units: bigint): void {
  if (units === 0n) return;
  hold.borrowMax -= units;
  account.addOpenBorrow(hold.asset, hold.side, -units);
  if (hold.borrowMax === 0n) account.openBorrowOrders--;
  account.markChanged(hold.asset);
}

/**
 * P6: debits `amount` (> 0) units of USDC (`usdc`, the perpetual's settlement asset) from the account: the available
 * balance, then (1) lent USDC redeemed — as much as the debit needs, as a fill's redemption (pools.redeemForced: the
 * debt is owed now; the pool's cash is its only gate), then (2) a borrow under autoBorrowSettlements while the pool is below its
 * throttle; step (3), converting other collateral through the book, needs an engine order (D3), so what (1)–(2) leave
 * is borrowed ignoring the throttle at once (forcedSettlementBorrow of the whole rest) and noted as due: the next
 * batch's phase 0 sells collateral to repay it (settlement-conversions.ts). What even that borrow cannot take (the pool
 * has no cash) is owed as unsettled USDC (C3). Every step is a settlement row.
 */
export function debitUsdc(s: RiskState, account: Account, usdc: number, market: number, reason: SettlementReason, amount: bigint): void {
  const available = account.available[usdc]!;
  if (amount <= available && amount > 0n) {
    // All from the balance: what the plan below gives then (fromBalance = amount; nothing redeemed, borrowed or owed),
    // without planning it twice (a perpetual fill's fee, pipeline.perp-order).
    s.settlementRows.add(account.id, market, usdc, reason, SettlementStep.FromBalance, amount);
    account.setAvailable(usdc, available - amount);
    account.markChanged(usdc);
    return;
  }
  const pools = s.pools;
  const lent = account.lent[usdc]!;
  const autoBorrow = account.isOn(AccountSetting.AutoBorrowSettlements);
  // (1): what the balance lacks, from the lent USDC, as far as the pool's cash goes. Before, only a redemption the
  // utilization gates let whole (or, K > 1, the shard's budget) was taken, and a debit of an account whose USDC was
  // all lent became unsettled USDC beside its lend — differently on 1 and 2 risk shards (test/perp-waterfall-redeem).
  const redeemable = amount > available && lent > 0n ? forcedRedeemable(s, usdc, amount - available, lent) : 0n;
  const rows = s.settlementRows;
  const id = account.id;
  // (1) first, so that (2) sees the pool after it (and L15: a borrow needs the lent USDC redeemed in full).
  const redeem = planUsdcDebit(amount, available, redeemable, false, 0n, s.debitPlan).redeem;
  if (redeem > 0n && pools.redeemForced(account, usdc, redeem, s.nowMs) < 0n) throw new Error("risk invariant: redeemable USDC refused");
  const short = s.debitPlan.convert;
  // L15: lend shares worth less than one unit (a Q4 write-down lowered the lend index under them) are no lend — they
  // leave the pool for nothing (as at a margin fill), so neither the borrow of (2) nor the forced one is barred by them.
  if (short > 0n && account.positions[usdc]!.lendShares > 0n) pools.dropWorthlessLend(account, usdc, s.nowMs);
  // (2) is taken whole or not at all (its gates: throttle L7, utilization, liquidity, L15).
  const borrowable = short > 0n && autoBorrow && account.positions[usdc]!.lendShares === 0n &&
    pools.checkBorrow(account, usdc, short, s.nowMs, s.poolPlan) === RejectCode.None ? short : 0n;
  const plan = planUsdcDebit(amount, available, redeemable, autoBorrow, borrowable, s.debitPlan);
  if (plan.fromBalance > 0n) rows.add(id, market, usdc, reason, SettlementStep.FromBalance, plan.fromBalance);
  if (plan.redeem > 0n) rows.add(id, market, usdc, reason, SettlementStep.RedeemLent, plan.redeem);
  if (plan.borrow > 0n) {
    pools.applyBorrow(account, usdc, s.nowMs, s.poolPlan);
    rows.add(id, market, usdc, reason, SettlementStep.Borrow, plan.borrow);
  }
  let owed = plan.convert;
  if (owed > 0n && account.positions[usdc]!.lendShares === 0n && pools.borrowReserved(account, usdc, owed, s.nowMs, true) >= 0n) {
    rows.add(id, market, usdc, reason, SettlementStep.ForcedBorrow, owed);
    s.conversions.noteDue(id, owed, reason); // (3): the next batch sells collateral for it (settlement-conversions.ts)
    owed = 0n;
  }
  account.subAvailable(usdc, amount - owed);
  if (owed > 0n) {
    account.setUnsettledUsdc(account.unsettledUsdc + owed, s.marginContext.assetMark[usdc]!, s.marginContext.assetUnit[usdc]!);
    rows.add(id, market, usdc, reason, SettlementStep.Unsettled, owed);
  }
  account.markChanged(usdc);
}

/** P6 (1): the units of a forced redemption of up to `want` of the account's `lent` USDC: the pool's cash bounds it. */
function forcedRedeemable(s: RiskState, usdc: number, want: bigint, lent: bigint): bigint {
  const cash = s.pools.pools[usdc]!.cash;
  const most = want < lent ? want : lent;
  return most < cash ? most : cash > 0n ? cash : 0n;
}

/**
 * P7: credits `amount` (> 0) units of USDC: unsettled USDC is paid first; then, with autoLend on (or autoRepayBorrows),
 * a USDC borrow is repaid; with autoLend on the rest is lent; else it stays available. Every step is a settlement row.
 */
export function creditUsdc(s: RiskState, account: Account, usdc: number, market: number, reason: SettlementReason, amount: bigint): void {
  const rows = s.settlementRows;
  const id = account.id;
  let rest = amount;
  if (account.unsettledUsdc > 0n) {
    const paid = rest < account.unsettledUsdc ? rest : account.unsettledUsdc;
    account.setUnsettledUsdc(account.unsettledUsdc - paid, s.marginContext.assetMark[usdc]!, s.marginContext.assetUnit[usdc]!);
    rows.add(id, market, usdc, reason, SettlementStep.PayUnsettled, paid);
    rest -= paid;
    if (rest === 0n) return;
  }
  const autoLend = account.isOn(AccountSetting.AutoLend);
  const owed = account.borrowed[usdc]!;
  const plan = planUsdcCredit(rest, owed, autoLend || account.isOn(AccountSetting.AutoRepayBorrows), autoLend, s.creditPlan);
  account.addAvailable(usdc, rest);
  account.markChanged(usdc);
  let toBalance = plan.toBalance;
  if (plan.repay > 0n) {
    if (s.pools.repay(account, usdc, plan.repay === owed ? 0n : plan.repay, s.nowMs) === RejectCode.None) rows.add(id, market, usdc, reason, SettlementStep.RepayBorrow, plan.repay);
    else toBalance += plan.repay;
  }
  if (plan.lend > 0n) {
    const lendable = s.pools.lendable(usdc, plan.lend);
    const lent = lendable > 0n && s.pools.lend(account, usdc, lendable, s.nowMs) === RejectCode.None ? lendable : 0n;
    if (lent > 0n) rows.add(id, market, usdc, reason, SettlementStep.Lend, lent);
    toBalance += plan.lend - lent;
  }
  if (toBalance > 0n) rows.add(id, market, usdc, reason, SettlementStep.ToBalance, toBalance);
}

/**
 * P1/C4: holds a perpetual order checks.checkPerpOrder accepted: no asset moves; the base quantity it may fill
 * (plan.need) joins the account's open buys or sells of the market, which its margin state values as exposure.
 */
export function takePerpHold(s: RiskState, orderId: number, account: Account, market: number, side: number, clientId: bigint, plan: OrderPlan): void {
  account.openOrders++;
  const hold = s.holds.add(orderId);
  hold.account = account.id;
  hold.owner = account;
  hold.market = market;
  hold.side = side;
  hold.clientId = clientId;
  hold.asset = plan.asset;
  hold.inflowAsset = plan.asset;
  hold.perp = true;
  addPerpOpen(s, account, hold, plan.need);
  if (clientId !== 0n) indexClientId(s, hold);
}

/**
 * A perpetual fill of `quantity` (> 0) takes it off the order's open quantity (at most all of it), as addPerpOpen with
 * the negated amount, without the negation's bigint — and a fill of all of it leaves the literal zero (R2 of every
 * perpetual fill side, pipeline.perp-order).
 */
export function takePerpFill(s: RiskState, account: Account, hold: OrderHold, quantity: bigint): void {
  const open = hold.perpOpen;
  if (open === 0n) return;
  const taken = open < quantity ? open : quantity;
  const perps = s.perpsOf(account);
  hold.perpOpen = taken === open ? 0n : open - taken;
  const side = hold.side === Side.Buy ? perps.openBuy : perps.openSell;
  const m = hold.market;
  const total = side[m]!;
  side[m] = total === taken ? 0n : total - taken;
  account.perpChanged(m);
}

/** The perpetual order's open quantity changes by `delta` (C4: its account's open buys or sells follow). */
export function addPerpOpen(s: RiskState, account: Account, hold: OrderHold, delta: bigint): void {
  if (delta === 0n) return;
  const perps = s.perpsOf(account);
  hold.perpOpen += delta;
  const open = hold.side === Side.Buy ? perps.openBuy : perps.openSell;
  open[hold.market] = open[hold.market]! + delta;
  account.perpChanged(hold.market);
}
