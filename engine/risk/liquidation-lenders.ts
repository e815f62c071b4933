// Q4 (the lending half) and Q5, the executor of one risk shard (the rules: engine/liquidation/bankruptcy.ts,
// lender-adl.ts; the cross-shard decision "Q4/Q5 lenders (as built)" in engine/pipeline/engine.ts). Two places:
//
// Phase 0 of batch B (RiskShard.beginBatch, before Q2's steps), in account-id order:
//   1. each shard returns the USDC left in its payout transit (the last payouts' rounding) to its insurance slice;
//   2. every account found bankrupt in an earlier batch is resolved: when the insurance fund can cover its deficit it
//      does (InsuranceCover: the USDC goes to the account, Q2's steps then buy the owed asset back and repay in kind);
//      else each borrow that cannot be repaid in kind is written off (LenderWriteDown): the debt leaves the pool, and the
//      lenders are owed its USD value at the liquidation price (the collateral mark, C1) in USDC, rounded down — paid
//      from the account's own USDC first, then from the shard's insurance slice (the fund; what it did not hold is the
//      socialized loss, recorded on the event, and the fund's balance shows it: never negative without it); what the
//      account still holds that Q2 could not sell goes to the fund in kind;
//   3. a liquidating account with lent collateral gets it redeemed (so Q2 can sell it); when its pool cannot redeem
//      (utilization at the limit), lender ADL (Q5): this shard's borrowers of the asset with free USDC, largest borrow
//      first, close their borrow by paying its USD value (rounded up, never more than the borrow) to the lender;
//   4. a liquidating account with no perpetual position, no lent collateral, no order, nothing Q2 can step and net
//      equity < 0 is bankrupt (Bankrupt): it waits a batch, so that every shard knows (the open count travels with the
//      phase-4 deltas) and refuses withdrawals before any money moves.
// Phase 4 (RiskShard.endBatch, after the pool merge, before interest): every shard applies the batch's Σ write-downs
//   per asset: it pays its own lenders their part of the Σ payout pro rata to their lend shares (rounded down, so Σ
//   over every shard ≤ the payout), out of its transit, then lowers the pool's lend index by the written-off units
//   (LenderPaid per lender) — the same pool on every replica.
import { divRound, pow10, PRICE_SCALE, Rounding, type Price } from "../fixed/index.ts";
import {
  AdlBorrower,
  BookStepKind,
  BookStepPlan,
  InsuranceCover,
  LenderAdlPlan,
  LenderPayout,
  planInsuranceCover,
  planLenderAdl,
  planLenderPayout,
  planLenderPayoutByShares,
  rankLenderAdlBorrowers,
} from "../liquidation/index.ts";
import {
  ALL_ASSETS,
  EventKind,
  InsuranceReason,
  LENDER_LOSS_ENTRIES_MAX,
  RejectCode,
  SocializationKind,
  type CommandRecord,
  type EventSink,
} from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { creditInsurance } from "./insurance.ts";
import { accepted, rejectUnknownAsset } from "./replies.ts";
import { ConversionMarkets, planAccountStep } from "./liquidation-steps.ts";
import { coverBudget } from "./liquidation-transfers.ts";
import { executeReadyLenderAdl } from "./adl-lenders-across-shards.ts";
import type { RiskState } from "./state.ts";

/** Reused records (one shard's thread is the only caller). */
class LenderScratch {
  readonly plan = new BookStepPlan();
  readonly cover = new InsuranceCover();
  readonly payout = new LenderPayout();
  readonly adl = new LenderAdlPlan();
  readonly borrowers: AdlBorrower[] = [];
  order = new Int32Array(16);
  readonly close: bigint[] = [];
  readonly pay: bigint[] = [];
  readonly lenders: Account[] = [];
  readonly shares: bigint[] = [];
  readonly payouts: bigint[] = [];
  readonly claimsBefore: bigint[] = [];
  conversions: ConversionMarkets | null = null;
  config: unknown = null;
}
const scratch = new LenderScratch();

function conversionsOf(s: RiskState): ConversionMarkets {
  if (scratch.config !== s.config) {
    scratch.config = s.config;
    scratch.conversions = new ConversionMarkets(s.config);
  }
  return scratch.conversions!;
}

/** The quote asset lenders are paid in (USDC): the conversions' quote asset. */
export function lenderQuoteAsset(s: RiskState): number {
  return conversionsOf(s).quoteAsset;
}

/** Q4/Q5 phase 0 of the batch (see the module comment). */
export function lenderPhase0(s: RiskState, sink: EventSink): void {
  const book = s.lenders;
  const quote = conversionsOf(s).quoteAsset;
  // Q4: the shard's one cover budget of the batch (liquidation-transfers.ts coverBudget), set here from the fund's
  // capital at the boundary — before this shard's transit returns to its slice (with K > 1 a shard's transit is its
  // part of a payout Σ over the shards, not the fund's to spend twice) — less the ready ADL covers. What the lending
  // half leaves of it is the perpetual half's (createEngineOrders runs after this).
  coverBudget(s);
  // Q5 across shards: the ready demands' legs, before anything else of the batch moves their accounts (their halves'
  // USDC crosses shards through the transits, returned to the slices just below: adl-lenders-across-shards.ts).
  if (s.lenderAdl.ready.length !== 0) executeReadyLenderAdl(s, quote, sink);
  if (book.transitQuote !== 0n) {
    creditInsurance(s, quote, InsuranceReason.LenderPayout, book.transitQuote);
    book.transitQuote = 0n;
  }
  if (book.pending.size !== 0) {
    for (const id of book.pendingSorted()) {
      if (!book.pending.get(id)) continue;
      book.pending.delete(id);
      book.addOpenChange(-1);
      const account = s.accounts.get(id);
      if (account !== undefined) resolveBankruptcy(s, account, quote, sink);
    }
  }
  if (s.liquidation.liquidating.size === 0) return;
  for (const id of s.liquidation.liquidatingSorted()) {
    const account = s.accounts.get(id);
    if (account === undefined || book.pending.has(id)) continue;
    s.pools.sync(account);
    if (account.openOrders > 0) continue;
    if (hasLent(s, account)) redeemCollateral(s, account, quote, sink);
    else if (isBankrupt(s, account)) {
      book.pending.set(id, false);
      book.addOpenChange(1);
      publishSocialization(s, SocializationKind.Bankrupt, account, quote, 0n, 0n, 0n, 0n, 0, sink);
    }
  }
}

function hasLent(s: RiskState, account: Account): boolean {
  for (let a = 0; a < s.assetCount; a++) if (account.lent[a]! > 0n) return true;
  return false;
}

/**
 * Q4: bankrupt = no perpetual position, no lent collateral, a borrow, nothing Q2 can step (no collateral it can sell,
 * or its step filled nothing within the slippage bound: stalled, as the perpetual half counts it — the backstop, which
 * Q3 hands a stalled account to, did not take it) and net equity < 0 (the caller checked orders and lent collateral).
 */
export function isBankrupt(s: RiskState, account: Account): boolean {
  if (account.borrowedAssets === 0) return false;
  const perps = account.perps;
  if (perps !== null) for (const p of perps.positions) if (p.netQuantity !== 0n) return false;
  const margin = account.syncedMargin();
  if (margin.netEquityUsd() >= 0n) return false;
  return s.liquidation.stalled.has(account.id) || planAccountStep(s, account, margin, scratch.plan).kind === BookStepKind.None;
}

/** USD per whole unit of `a` in the quote asset (PRICE_DECIMALS, floor): the collateral marks' ratio (C1). */
export function quotePrice(s: RiskState, a: number, quote: number): Price {
  const marks = s.marginContext.assetMark;
  const q = marks[quote]!;
  return q > 0n ? (marks[a]! * PRICE_SCALE) / q : 0n;
}

/** Resolves a bankruptcy found in an earlier batch (see the module comment, step 2). */
function resolveBankruptcy(s: RiskState, account: Account, quote: number, sink: EventSink): void {
  s.pools.sync(account);
  if (account.openOrders > 0 || hasLent(s, account) || !isBankrupt(s, account)) return; // a deposit came meanwhile
  const ctx = s.marginContext;
  const deficitUsd = -account.syncedMargin().netEquityUsd();
  const quoteMark = ctx.assetMark[quote]! > 0n ? ctx.assetMark[quote]! : PRICE_SCALE;
  const deficit = divRound(deficitUsd * pow10(ctx.assetDecimals[quote]!), quoteMark, Rounding.Up);
  const cover = planInsuranceCover(deficit, s.liquidation.coverBudget, scratch.cover);
  if (cover.remaining === 0n) {
    s.liquidation.coverBudget -= cover.fundPays;
    creditInsurance(s, quote, InsuranceReason.Cover, -cover.fundPays);
    account.addAvailable(quote, cover.fundPays);
    account.markChanged(quote);
    if (account.borrowed[quote]! > 0n) {
      const owed = account.borrowed[quote]!;
      s.pools.repay(account, quote, owed < cover.fundPays ? owed : cover.fundPays, s.nowMs);
    }
    publishSocialization(s, SocializationKind.InsuranceCover, account, quote, 0n, cover.fundPays, 0n, 0n, 0, sink);
    return;
  }
  writeOffBorrows(s, account, quote, sink);
  seizeRemainder(s, account, quote);
}

/**
 * What the written-off account still holds that Q2 could not sell (no spot market, below a market's minimum) goes to
 * the insurance fund in kind (reason LenderPayout), which has just paid its debts: a bankrupt account keeps nothing.
 */
function seizeRemainder(s: RiskState, account: Account, quote: number): void {
  for (let a = 0; a < s.assetCount; a++) {
    const held = account.available[a]!;
    if (a === quote || held <= 0n) continue;
    account.setAvailable(a, 0n);
    account.markChanged(a);
    creditInsurance(s, a, InsuranceReason.LenderPayout, held);
  }
}

/** Q4: every borrow of the account leaves its pool unpaid; its lenders are owed its value in USDC (module step 2). */
function writeOffBorrows(s: RiskState, account: Account, quote: number, sink: EventSink): void {
  const book = s.lenders;
  const ctx = s.marginContext;
  let own = account.available[quote]! > 0n ? account.available[quote]! : 0n;
  for (let a = 0; a < s.assetCount; a++) {
    if (account.borrowed[a]! <= 0n) continue;
    const price = quotePrice(s, a, quote);
    const quantity = s.pools.forgiveBorrow(account, a, s.nowMs);
    // The lenders' total: the borrow's value at the liquidation price, rounded down (planLenderPayout's rule; the
    // split among the lenders is planLenderPayoutByShares at the batch end, over every shard).
    const value = planLenderPayout(quantity, price, ctx.assetDecimals[a]!, ctx.assetDecimals[quote]!, [], 0, [], scratch.payout).totalQuote;
    const fromAccount = own < value ? own : value;
    own -= fromAccount;
    const fromFund = value - fromAccount;
    const covered = fromFund < s.liquidation.coverBudget ? fromFund : s.liquidation.coverBudget;
    s.liquidation.coverBudget -= covered;
    account.subAvailable(quote, fromAccount);
    account.markChanged(quote);
    creditInsurance(s, quote, InsuranceReason.LenderPayout, -fromFund);
    book.transitQuote += value;
    book.addWriteDown(a, quantity, value, fromFund - covered);
    publishSocialization(s, SocializationKind.LenderWriteDown, account, a, quantity, -value, fromFund - covered, ctx.assetMark[a]!, 0, sink);
  }
}

/** Q5 (module step 3): redeem the liquidating account's lent collateral, or lender ADL where its pool cannot. */
function redeemCollateral(s: RiskState, lender: Account, quote: number, sink: EventSink): void {
  for (let a = 0; a < s.assetCount; a++) {
    if (lender.lent[a]! <= 0n) continue;
    // K > 1: what the last batch reserved for this lender out of every shard's budget (adl-lender-relay.ts), first.
    const reserved = s.shardCount > 1 ? s.lenderAdl.redemption(lender.id, a) : null;
    if (reserved !== null) s.pools.redeemReserved(lender, a, reserved.quantity < lender.lent[a]! ? reserved.quantity : lender.lent[a]!, s.nowMs);
    if (lender.lent[a]! <= 0n) continue;
    // All of it, or (K > 1) what this shard's budget lets it redeem this batch: the rest follows in later batches.
    const amount = s.pools.redeemable(lender, a);
    if (amount > 0n && s.pools.checkRedeem(lender, a, amount === lender.lent[a] ? 0n : amount) === RejectCode.None) {
      s.pools.applyRedeem(lender, a, s.nowMs);
      if (lender.lent[a]! <= 0n) continue;
    }
    // Lender ADL only when the pool itself cannot redeem the claim (throttled at its utilization limit, or no cash;
    // K > 1: what is left after the shard's budget's part, which one shard would have matched whole) — not when only
    // a shard's per-batch budget (K > 1) stands in the way: that rest is reserved for the next batch (reserveRest). A
    // closed pool takes no repay either.
    const code = s.pools.poolRedeemCode(lender, a);
    if (code === RejectCode.None) reserveRest(s, lender, a);
    if (code === RejectCode.None || code === RejectCode.PoolClosed) continue;
    // K > 1: a demand of this claim posted or decided (adl-lender-relay.ts) is not matched again meanwhile.
    if (s.shardCount > 1 && s.lenderAdl.waiting(lender.id, a)) continue;
    lenderAdl(s, lender, a, quote, sink);
  }
}

/**
 * K > 1: the lender's claim the pool would take now but its shard's budget did not is posted as a redemption demand:
 * reserved out of every shard's budget for the next batch, redeemed then (adl-lender-relay.ts) — one shard redeems it
 * now. Not while one is pending (the reserved one is redeemed first in this batch).
 */
function reserveRest(s: RiskState, lender: Account, a: number): void {
  if (s.shardCount === 1 || lender.lent[a]! <= 0n || s.lenderAdl.waiting(lender.id, a)) return;
  if (s.pools.poolRedeemCode(lender, a) === RejectCode.None) s.lenderAdl.post(lender.id, a, lender.lent[a]!, true);
}

/** This shard's borrowers of `a` that can pay (not liquidating, free USDC), into scratch.borrowers; returns the count. */
function collectBorrowers(s: RiskState, lender: number, a: number, quote: number): number {
  const list = scratch.borrowers;
  let n = 0;
  const ids = [...s.accounts.keys()].sort((x, y) => x - y); // rare (a stuck lender), so a scan in id order
  for (const id of ids) {
    const b = s.accounts.get(id)!;
    if (id === lender || s.liquidation.isLiquidating(id)) continue;
    s.pools.sync(b);
    if (b.borrowed[a]! <= 0n || b.available[quote]! <= 0n) continue;
    if (list.length === n) list.push(new AdlBorrower());
    const row = list[n++]!;
    row.account = id;
    row.borrowQuantity = b.borrowed[a]!;
    row.freeQuote = b.available[quote]!;
  }
  if (scratch.order.length < n) scratch.order = new Int32Array(n * 2);
  return n;
}

/**
 * Q5: lender ADL of `lender`'s claim on `a` against this shard's borrowers (lender-adl.ts); with K > 1 what they
 * cannot take is posted as a demand to every shard's borrowers (adl-lender-relay.ts, decided two batches later).
 */
function lenderAdl(s: RiskState, lender: Account, a: number, quote: number, sink: EventSink): void {
  const price = quotePrice(s, a, quote);
  if (price <= 0n) return;
  const count = collectBorrowers(s, lender.id, a, quote);
  const ranked = count === 0 ? 0 : rankLenderAdlBorrowers(scratch.borrowers, count, scratch.order);
  const ctx = s.marginContext;
  planLenderAdl(lender.lent[a]!, price, ctx.assetDecimals[a]!, ctx.assetDecimals[quote]!, scratch.borrowers, scratch.order, ranked, scratch.close, scratch.pay, scratch.adl);
  if (s.shardCount > 1 && scratch.adl.unredeemedQuantity > 0n) s.lenderAdl.post(lender.id, a, scratch.adl.unredeemedQuantity);
  for (let k = 0; k < ranked; k++) {
    const q = scratch.close[k]!;
    if (q === 0n) continue;
    const borrower = s.accounts.get(scratch.borrowers[scratch.order[k]!]!.account)!;
    matchLenderAdl(s, lender, borrower, a, quote, q, scratch.pay[k]!);
    publishSocialization(s, SocializationKind.LenderAdl, lender, a, q, scratch.pay[k]!, 0n, ctx.assetMark[a]!, borrower.id, sink);
    publishSocialization(s, SocializationKind.LenderAdl, borrower, a, q, -scratch.pay[k]!, 0n, ctx.assetMark[a]!, lender.id, sink);
  }
}

/**
 * One Q5 match: q units of the lender's claim pass to the borrower, who repays its borrow with them (in kind the pool
 * is repaid q and redeems q: its cash does not move), and `pay` USDC goes from the borrower to the lender.
 */
function matchLenderAdl(s: RiskState, lender: Account, borrower: Account, a: number, quote: number, q: bigint, pay: bigint): void {
  borrower.addAvailable(a, q);
  if (s.pools.repay(borrower, a, q, s.nowMs) !== RejectCode.None) throw new Error(`risk invariant (Q5): account ${borrower.id} cannot repay ${q} of asset ${a}`);
  if (s.pools.redeemForced(lender, a, q, s.nowMs) < 0n) throw new Error(`risk invariant (Q5): account ${lender.id} cannot redeem ${q} of asset ${a}`);
  lender.subAvailable(a, q);
  borrower.subAvailable(quote, pay);
  lender.addAvailable(quote, pay);
  borrower.markChanged(a);
  borrower.markChanged(quote);
  lender.markChanged(a);
  lender.markChanged(quote);
}

/** Q4 phase 4 (module comment): the batch's Σ write-downs, on every shard alike; then the lender book's batch end. */
export function lenderBatchEnd(s: RiskState, sink: EventSink): void {
  const book = s.lenders;
  for (let a = 0; a < s.assetCount; a++) {
    if (book.writeDown[a] === 0n && book.payout[a] === 0n) continue;
    payLenders(s, a, book.payout[a]!);
    s.pools.writeDownLent(a, book.writeDown[a]!);
    for (const lender of scratch.lenders) s.pools.sync(lender);
    publishPaid(s, a, sink);
  }
  book.endBatch(s.nowMs);
}

/** Pays this shard's lenders of `a` their part of `payoutQuote` (planLenderPayoutByShares), out of the transit. */
function payLenders(s: RiskState, a: number, payoutQuote: bigint): void {
  const quote = conversionsOf(s).quoteAsset;
  const lenders = scratch.lenders;
  const shares = scratch.shares;
  const before = scratch.claimsBefore;
  lenders.length = 0;
  shares.length = 0;
  before.length = 0;
  scratch.payouts.length = 0;
  // A scan of this shard's accounts in id order: a write-down is rare, and no index of lenders per asset is kept.
  for (const id of [...s.accounts.keys()].sort((x, y) => x - y)) {
    const account = s.accounts.get(id)!;
    const sh = account.positions[a]!.lendShares;
    if (sh <= 0n) continue;
    s.pools.sync(account);
    lenders.push(account);
    shares.push(sh);
    before.push(account.lent[a]!); // the claim before the write-down (LenderPaid's quantity)
    scratch.payouts.push(0n);
  }
  const paid = planLenderPayoutByShares(payoutQuote, shares, lenders.length, s.pools.pools[a]!.lendShares, scratch.payouts);
  for (let i = 0; i < lenders.length; i++) {
    const l = lenders[i]!;
    l.addAvailable(quote, scratch.payouts[i]!);
    l.markChanged(quote);
  }
  s.lenders.transitQuote -= paid;
}

/** LenderPaid on each paid lender's stream: its USDC and the part of its claim written down. */
function publishPaid(s: RiskState, a: number, sink: EventSink): void {
  const mark = s.marginContext.assetMark[a]!;
  for (let i = 0; i < scratch.lenders.length; i++) {
    const l = scratch.lenders[i]!;
    publishSocialization(s, SocializationKind.LenderPaid, l, a, scratch.claimsBefore[i]! - l.lent[a]!, scratch.payouts[i]!, 0n, mark, 0, sink);
  }
}

/** A Socialization event on the account's stream (seq 0), kept as a row of its liquidation history (Q6). */
export function publishSocialization(
  s: RiskState,
  kind: SocializationKind,
  account: Account,
  asset: number,
  quantity: bigint,
  amountQuote: bigint,
  lossQuote: bigint,
  priceUsd: bigint,
  counterparty: number,
  sink: EventSink,
): void {
  const conv = conversionsOf(s);
  const e = s.out;
  e.clear();
  e.kind = EventKind.Socialization;
  e.account = account.id;
  e.asset = asset;
  e.market = conv.spotMarket[asset]! >= 0 ? conv.spotMarket[asset]! : quoteMarket(s, conv.quoteAsset);
  e.socializationKind = kind;
  e.socializedQuantity = quantity;
  e.socializedAmount = amountQuote;
  e.socializedLoss = lossQuote;
  e.socializationPrice = priceUsd;
  e.counterpartyAccount = counterparty;
  e.netEquityUsd = account.syncedMargin().netEquityUsd();
  e.timeMs = s.nowMs;
  s.liquidationHistory.record(e);
  sink.publish(e);
}

/** A market quoted in the quote asset (the USDC amounts of an asset without a spot market read in its quote). */
function quoteMarket(s: RiskState, quote: number): number {
  for (const m of s.config.markets) if (m.quoteAsset === quote) return m.id;
  return 0;
}

/**
 * QueryLenderLosses (Q4): the exchange's write-downs of `asset` (or ALL_ASSETS) from cmd.timeMs on, oldest first, at
 * most historyLimit (0 = LENDER_LOSS_ENTRIES_MAX): a Socialization event each (LenderWriteDown, account 0, the query's
 * seq), then CommandAccepted. Every shard holds the same rows; account 0's answers.
 */
export function queryLenderLosses(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (cmd.asset !== ALL_ASSETS && (cmd.asset < 0 || cmd.asset >= s.assetCount)) return rejectUnknownAsset(s, cmd, sink);
  const limit = cmd.historyLimit <= 0 || cmd.historyLimit > LENDER_LOSS_ENTRIES_MAX ? LENDER_LOSS_ENTRIES_MAX : cmd.historyLimit;
  const conv = conversionsOf(s);
  let sent = 0;
  for (const row of s.lenders.losses) {
    if (sent >= limit) break;
    if (row.timeMs < cmd.timeMs || (cmd.asset !== ALL_ASSETS && row.asset !== cmd.asset)) continue;
    const e = s.out;
    e.clear();
    e.kind = EventKind.Socialization;
    e.seq = cmd.seq;
    e.asset = row.asset;
    e.market = conv.spotMarket[row.asset]! >= 0 ? conv.spotMarket[row.asset]! : quoteMarket(s, conv.quoteAsset);
    e.socializationKind = SocializationKind.LenderWriteDown;
    e.socializedQuantity = row.quantity;
    e.socializedAmount = -row.payoutQuote;
    e.socializedLoss = row.lossQuote;
    e.timeMs = row.timeMs;
    sink.publish(e);
    sent++;
  }
  accepted(s, cmd, sink);
}
