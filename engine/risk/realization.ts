// P5: the 10-second realization of perpetual PnL at the mark (engine.ts decisions D2(c), P5S).
//
// When a batch's clock crosses a 10 s mark (crossesRealizationMark from the clock at the batch's start to its end),
// each risk shard starts a realization pass over its OWN accounts' positions (D4) — or, while one runs, asks for
// another once it ends. In phase 3b of every batch — after R2, so at the marks of the batch's settlement phase (the
// MarkPrice events of phase 3), and before phase 4's pool merge, so the P6/P7 pool actions (redeem, borrow, repay,
// lend) merge like any — the pass goes on from its cursor for the holder visits the batch's budget leaves after
// funding (P5S): markets in id order, each market's holders (perpHolders, the set funding pays) in account-id order.
// realizePnl moves quantity × (mark − entry) (floor) into USDC — a gain through P7 (creditUsdc: unsettled USDC first,
// then a USDC borrow repaid and the rest lent with autoLend on), a loss through P6 (debitUsdc: balance, redeemed lent
// USDC, a USDC borrow) — and resets the entry to the mark; the size stays and pnlRealized grows. Per realized
// position: its Settlement rows (reason Realization), the USDC Balance, the Position (seq 0, engine-originated).
//
// Where the money comes from (D4: no shard writes another's accounts): this shard's slice of the insurance fund is
// the counterparty of every PnL its accounts realize, here and on fills (post-trade.ts) — it gives what they realize
// and takes what they lose — so a shard's Σ of every USDC balance, fee account and slice included, never changes by
// a realization (X1). Over all shards the slices' sum is −Σ realized PnL = Σ of the positions' exact unrealized PnL
// plus the floor roundings: once every position stands at one mark (a pass at an unchanged mark), its exact
// unrealized PnL is 0 and the fund holds exactly the roundings, ≥ 0 — realization never creates money.
//
// autoRealizePnl (SPEC P5, A3): an account with it on also realizes its POSITIVE PnL at every mark update — each
// MarkPrice of a market reaching the shard (phase 3) realizes the gains of that market's positions of the shard's
// autoRealizePnl accounts (a sorted list kept by settings changes, rebuilt on restore), in account-id order.
import { AccountSetting, InsuranceReason, MarketKind, type EventSink } from "../model/index.ts";
import { crossesRealizationMark, realizePnl, unrealizedPnl } from "../perps/index.ts";
import type { Account } from "./accounts.ts";
import { creditUsdc, debitUsdc } from "./funds.ts";
import { creditInsurance } from "./insurance.ts";
import { publishBalance, publishPosition, publishSettlementRows } from "./replies.ts";
import { positionReportInto } from "./queries.ts";
import { SettlementReason, type RiskState } from "./state.ts";

function byAccountId(a: number, b: number): number {
  return a - b;
}

/**
 * P5 on one position at `mark`: realizes it (all of it, or only a gain when positiveOnly), moves the amount through
 * P7 / P6 and returns it (positive = the account gained; 0 = only the entry moved, by less than one USDC unit of PnL),
 * or null when the position did not change. Rows stay in s.settlementRows.
 */
function realizeOne(s: RiskState, account: Account, m: number, mark: bigint, positiveOnly: boolean): bigint | null {
  const pos = s.perpsOf(account).positions[m]!;
  if (pos.netQuantity === 0n) return null;
  const ctx = s.marginContext;
  const usdc = s.config.markets[m]!.quoteAsset;
  const baseDecimals = ctx.marketBaseDecimals[m]!;
  const quoteDecimals = ctx.assetDecimals[usdc]!;
  if (positiveOnly && unrealizedPnl(pos, mark, baseDecimals, quoteDecimals) <= 0n) return null;
  if (pos.costBasis === pos.netQuantity * mark) return null; // already at the mark: nothing to realize
  s.pools.sync(account);
  const amount = realizePnl(s.perpsOf(account).ownPosition(m), mark, baseDecimals, quoteDecimals); // pos itself: it has a quantity
  account.perpChanged(m);
  if (amount > 0n) creditUsdc(s, account, usdc, m, SettlementReason.Realization, amount);
  else if (amount < 0n) debitUsdc(s, account, usdc, m, SettlementReason.Realization, -amount);
  s.pools.noteOpenPnl(account, s.nowMs); // L14: the realized part of the open position grew
  return amount;
}

/** Publishes what realizeOne did to one position (rows and the USDC Balance when USDC moved, the Position; seq 0). */
function publishRealized(s: RiskState, account: Account, m: number, moved: boolean, sink: EventSink): void {
  if (moved) {
    publishSettlementRows(s, 0, sink);
    publishBalance(s, 0, account, s.config.markets[m]!.quoteAsset, sink);
  }
  publishPosition(s, 0, positionReportInto(s, account.id, m, s.positionOut), sink);
}

/** D4: the shard's insurance slice is the counterparty of what its accounts realized (net > 0 = they gained). */
function settleWithInsurance(s: RiskState, m: number, net: bigint): void {
  creditInsurance(s, s.config.markets[m]!.quoteAsset, InsuranceReason.RealizedPnl, -net);
}

/**
 * Phase 3b (D2(c), P5S): a batch whose clock crossed a 10 s mark starts this shard's realization pass — or, when the
 * last one is still running, asks for another once it ends. Called after R2 and before the pool merge, once per batch.
 */
export function startRealizationAtTick(s: RiskState): void {
  if (!crossesRealizationMark(s.clockAtBatchStartMs, s.nowMs)) return;
  const pass = s.passes.realization;
  if (pass.active) pass.again = true;
  else pass.start();
}

/**
 * Phase 3b (P5S): the pass realizes holders from its cursor — markets in id order, each market's holders in account-id
 * order — at the marks of THIS batch, at most `budget` holder visits. Returns the visits spent. The shard's insurance
 * slice takes the net of each market's part of the batch (D4).
 */
export function advanceRealization(s: RiskState, budget: number, sink: EventSink): number {
  const pass = s.passes.realization;
  const markets = s.config.markets;
  let spent = 0;
  let net = 0n;
  while (pass.active) {
    const m = pass.market;
    if (m === markets.length) {
      if (pass.again) pass.start();
      else pass.active = false;
      continue;
    }
    const mark = s.marginContext.marketMark[m]!;
    const id = markets[m]!.kind === MarketKind.Perpetual && mark > 0n ? s.perpHolders[m]!.ceiling(pass.cursorId) : -1;
    if (id < 0) {
      settleWithInsurance(s, m, net);
      net = 0n;
      pass.market = m + 1;
      pass.cursorId = 0;
      continue;
    }
    if (spent === budget) break; // the next holder is known: a pass whose last holder is done ends in its batch
    pass.cursorId = id + 1;
    spent++;
    const account = s.accounts.get(id)!;
    const amount = realizeOne(s, account, m, mark, false);
    if (amount === null) continue;
    net += amount;
    publishRealized(s, account, m, amount !== 0n, sink);
  }
  if (net !== 0n) settleWithInsurance(s, pass.market, net);
  if (!pass.active) pass.market = 0;
  return spent;
}

/** P5 autoRealizePnl: a mark update of perpetual market m realizes the gains of this shard's autoRealizePnl accounts. */
export function autoRealizeAtMark(s: RiskState, m: number, sink: EventSink): void {
  const ids = s.autoRealizeAccounts;
  if (ids.length === 0) return;
  const mark = s.marginContext.marketMark[m]!;
  if (mark <= 0n) return;
  const holders = s.perpHolders[m]!;
  let net = 0n;
  for (let i = 0; i < ids.length; i++) {
    if (!holders.has(ids[i]!)) continue;
    const account = s.accounts.get(ids[i]!)!;
    const amount = realizeOne(s, account, m, mark, true);
    if (amount === null) continue;
    net += amount;
    publishRealized(s, account, m, amount !== 0n, sink);
  }
  settleWithInsurance(s, m, net);
}

/** A3: keeps the sorted list of the shard's autoRealizePnl accounts after the account's settings changed. */
export function trackAutoRealize(s: RiskState, account: Account): void {
  const ids = s.autoRealizeAccounts;
  const id = account.id;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  const listed = lo < ids.length && ids[lo] === id;
  const on = account.isOn(AccountSetting.AutoRealizePnl);
  if (on && !listed) ids.splice(lo, 0, id);
  else if (!on && listed) ids.splice(lo, 1);
}

/** X7: the autoRealizePnl list is derived from the accounts' settings (not in the snapshot). */
export function rebuildAutoRealize(s: RiskState): void {
  const ids = s.autoRealizeAccounts;
  ids.length = 0;
  // An account still kept as bytes has the default settings: autoRealizePnl off (engine/risk/snapshot.ts).
  for (const a of s.accounts.madeValues()) if (a.isOn(AccountSetting.AutoRealizePnl)) ids.push(a.id);
  ids.sort(byAccountId);
}
