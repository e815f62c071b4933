// Q3 backstop takeover and Q4 perpetual bankruptcy (insurance cover, then ADL), the executor of one risk shard
// (engine/liquidation/backstop.ts and bankruptcy.ts hold the rules; engine/pipeline/engine.ts "Q3/Q4 (as built)" the
// decision). Three places in a batch:
//   - phase 0 (beginBatch, for each liquidating account of the shard without resting orders, before its book step):
//     chooseLiquidationStage from the boundary state. Below ACMF, or stalled on the book (LiquidationBook.stalled),
//     the backstop takes the account over when it can (the backstop is not liquidating itself, the takeover's
//     exposure fits its limit left — K > 1: this shard's budget of the replicated headroom, engine.ts "Q3 across
//     shards (as built)" — and the fund covers any deficit of what moves); else an
//     account with negative net equity and nothing the engine can liquidate (no exposure left, or stalled on the book)
//     is bankrupt (Q4): the insurance fund covers min(fund, deficit), and what the fund
//     cannot cover is closed by ADL — each perpetual position at its bankruptcy price against the opposing positions,
//     highest profit % × leverage first (K > 1: of every shard, decided two batches later from the replicated demands
//     and offers, adl-across-shards.ts; engine.ts "Q4 ADL across shards (as built)"). Position legs go out as LiquidationTransfer commands (seq 0) to the
//     market's matching shard (decision RO); the account joins inFlight, so R1 refuses its commands this batch.
//   - R2 (applyLiquidationTransfer): the matching shard's LiquidationTransfer event moves the position of each side
//     this shard owns like a fill at the leg's price, fee 0 (post-trade.ts changePosition: PnL realized against the
//     shard's insurance slice, D4); an ADL leg also publishes its SocializedLoss.
//   - phase 3b (settleTransfers, RiskShard.settle): each pending cover not paid yet (the fund's slice pays the account
//     in USDC through the P7 waterfall; an account with legs is paid in R2 just before its first one) and then each
//     takeover's asset legs — collateral, lent and borrowed pool shares, unsettled USDC — move inside this shard when
//     both accounts are on it, else out into its transit slice for the backstop's shard (backstop-transit.ts), after
//     every position leg of the batch was applied.
// Every leg is on the account's stream, in its liquidation history and (without the accounts) on the public
// liquidation stream. Nothing is in flight at a boundary (LiquidationBook.endTransfers; the relay's transit is 0 again
// after phase 4); the replicated headroom (backstop-relay.ts) is the one new item of the snapshot.
import { quoteAmount, Rounding } from "../fixed/index.ts";
import {
  AdlCandidate,
  allocateAdl,
  BACKSTOP_ACCOUNT_NONE,
  BackstopPlan,
  BankruptcyPriceInputs,
  BankruptcyPriceResult,
  bankruptcyPrice,
  chooseLiquidationStage,
  LiquidationStage,
  planBackstopTakeover,
  rankAdlCandidates,
  TakeoverAsset,
  TakeoverPosition,
  usdToQuoteUnitsUp,
} from "../liquidation/index.ts";
import {
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  EventKind,
  InsuranceReason,
  LiquidationStep,
  Side,
  type EventRecord,
  type EventSink,
} from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { creditUsdc } from "./funds.ts";
import { fundingOwedByFund, payFundingBeforeFill } from "./funding.ts";
import { creditInsurance } from "./insurance.ts";
import type { AccountMargin } from "./margin/index.ts";
import { changePosition } from "./post-trade.ts";
import { adlAcrossShards, postDemands } from "./adl-across-shards.ts";
import { backstopBudgetUsd, netOwnClaim, publishAssetLeg, relays, releaseToBackstop, usdcOf } from "./backstop-transit.ts";
import { publishBalance, publishPosition, publishSettlementRows } from "./replies.ts";
import { positionReportInto } from "./queries.ts";
import { SettlementReason, type RiskState } from "./state.ts";

/** Where phase 0 hands its engine commands (liquidation-steps.ts's EngineCommandOut). */
interface CommandOut {
  forward(cmd: CommandRecord): void;
}

/** Reused records (one shard's thread is the only caller). */
class TransferScratch {
  readonly positions: TakeoverPosition[] = [];
  readonly assets: TakeoverAsset[] = [];
  readonly plan = new BackstopPlan();
  readonly cmd = new CommandRecord();
  readonly priceIn = new BankruptcyPriceInputs();
  readonly priceOut = new BankruptcyPriceResult();
  readonly candidates: AdlCandidate[] = [];
  order = new Int32Array(64);
  readonly closes: bigint[] = [];
}
const scratch = new TransferScratch();

/**
 * Phase 0 for one liquidating account without resting orders (see the module comment): true when it was handed to
 * the backstop or to bankruptcy this batch (no book step then), false when the book goes on.
 */
export function decideBeyondBook(s: RiskState, account: Account, margin: AccountMargin, out: CommandOut): boolean {
  const book = s.liquidation;
  if (book.inFlight.has(account.id) || book.adlUsed.has(account.id)) return false;
  // A borrower's bankruptcy found by the lending half of Q4 (liquidation-lenders.ts, earlier in phase 0) is resolved
  // there, with its own cover: never a second cover here.
  if (s.lenders.pending.has(account.id)) return false;
  // Q4 across shards: a posted ADL demand waits for its offers (adl-across-shards.ts) — no book step meanwhile.
  if (s.adl.pending.length !== 0 && s.adl.waiting(account.id)) return true;
  const equityUsd = margin.netEquityUsd();
  const stalled = book.stalled.has(account.id);
  const stage = chooseLiquidationStage(equityUsd, margin.maintenanceMarginUsd(), margin.totalExposureNotionalUsd(), !stalled, s.liquidationParams);
  if (stage === LiquidationStage.Book || stage === LiquidationStage.None) return false;
  if (stage === LiquidationStage.Backstop && takeOver(s, account, out)) return true;
  // Q4: bankrupt = negative equity and nothing the engine can liquidate — no exposure left, or the book could not
  // step (stalled) and the backstop did not take it. Below ACMF with a book that still steps, the book goes on.
  // The perpetual half only: an account without a position is the lending half's (liquidation-lenders.ts isBankrupt).
  const nothingToLiquidate = stage === LiquidationStage.Bankrupt || stalled;
  return equityUsd < 0n && nothingToLiquidate && hasPosition(account) && declareBankrupt(s, account, margin, equityUsd, out);
}

/**
 * Phase 0: what covers may still spend this batch — ONE budget per shard and batch, shared by both halves of Q4 (the
 * lending half's covers and write-downs, liquidation-lenders.ts, then the perpetual half's covers and takeovers here;
 * engine.ts "Q4 one cover budget (as built)"). Set at its first use: the fund's capital at the boundary less the ready
 * ADL covers (adl-across-shards.ts planReady, which sets it itself when it runs), K > 1: floor(· / K) a shard. Capital
 * is the balance less the realized PnL in transit (InsuranceLedger.pnlFloat), which the open positions' winners are
 * owed when they close (fuzz seed 3270706892: a cover of 2,032.65 USDC from a fund whose 2,859.44 was all in transit).
 * Each half lowers it by what it spends, so the shards' covers of a batch together never exceed the fund.
 */
export function coverBudget(s: RiskState): bigint {
  const book = s.liquidation;
  if (book.coverBudget < 0n) {
    const usdc = usdcOf(s);
    const fund = s.insurance.capital(usdc) - s.adl.coverReserved;
    // P5S: less the funding this shard's slice holds for receivers still to be paid this interval (phase 3b pays them
    // after phase 0's covers: fuzz seed 2217169274 step 4912, a cover of 349.15 USDC of which 55.90 was theirs).
    const share = (fund > 0n ? fund / BigInt(s.shardCount) : 0n) - fundingOwedByFund(s, usdc);
    book.coverBudget = share > 0n ? share : 0n;
  }
  return book.coverBudget;
}

/**
 * Q3: the takeover of `account` by the backstop, if it can happen now (see the module comment). With K > 1 risk
 * shards the backstop may be on any shard: its headroom is the relay's replica (backstop-relay.ts), of which each
 * shard's takeovers may use floor((limit − used) / K) per batch, and a backstop that was liquidating takes nothing.
 */
function takeOver(s: RiskState, account: Account, out: CommandOut): boolean {
  const backstopId = s.config.liquidation.backstopAccount;
  const book = s.liquidation;
  if (backstopId === BACKSTOP_ACCOUNT_NONE || backstopId === account.id) return false;
  const own = s.owns(backstopId);
  if (!own && !relays(s)) return false;
  if (own && (book.isLiquidating(backstopId) || book.inFlight.has(backstopId))) return false;
  if (s.shardCount > 1 && s.relay.liquidating) return false;
  const leftUsd = backstopLimitLeftUsd(s, backstopId);
  if (leftUsd === null) return false;
  if (!everyPositionMarked(s, account)) return false; // a position moves at its mark: none, no takeover
  const plan = planAccountTakeover(s, account, leftUsd > 0n ? leftUsd : 0n);
  if (!plan.accepted) return false;
  const cover = usdToQuoteUnitsUp(plan.deficitUsd, s.marginContext.assetDecimals[usdcOf(s)]!);
  const budget = coverBudget(s);
  if (cover > budget) return false;
  book.coverBudget = budget - cover;
  book.backstopTakenUsd += plan.exposureNotionalUsd;
  // K > 1, the backstop elsewhere: its shard measures its exposure at the end of phase 3b, after the position legs of
  // R2 but before the other legs arrive (phase 4): the next boundary's headroom adds those legs' liabilities (C6's
  // TEN is subadditive over net balances and positions, so the sum bounds the backstop's exposure from above).
  if (!own) s.relay.status.borrowShares += plan.liabilitiesUsd;
  const perps = account.perps;
  if (perps !== null) {
    for (let m = 0; m < perps.positions.length; m++) {
      const q = perps.positions[m]!.netQuantity;
      const mark = s.marginContext.marketMark[m]!;
      if (q !== 0n) forwardLeg(out, LiquidationStep.OnBackstop, account.id, backstopId, m, q, mark, mark);
    }
  }
  book.inFlight.add(account.id);
  book.pendingAccounts.push(account.id);
  book.pendingBackstops.push(backstopId);
  book.pendingCovers.push(cover);
  return true;
}

/**
 * Q3: the exposure notional the backstop may still take this batch from this shard's takeovers: with one shard its
 * limit less its exposure now and this batch's takeovers; with K > 1 this shard's budget of the relay's headroom less
 * its takeovers of the batch. Null when the backstop's own shard cannot store it.
 */
function backstopLimitLeftUsd(s: RiskState, backstopId: number): bigint | null {
  const book = s.liquidation;
  if (s.shardCount > 1) return backstopBudgetUsd(s) - book.backstopTakenUsd;
  const backstop = s.accountOrCreate(backstopId);
  if (backstop === null) return null;
  const usedUsd = backstop.syncedMargin().totalExposureNotionalUsd() + book.backstopTakenUsd;
  return s.config.liquidation.backstopLimitUsd - usedUsd;
}

function hasPosition(account: Account): boolean {
  const perps = account.perps;
  if (perps === null) return false;
  for (let m = 0; m < perps.positions.length; m++) if (perps.positions[m]!.netQuantity !== 0n) return true;
  return false;
}

function everyPositionMarked(s: RiskState, account: Account): boolean {
  const perps = account.perps;
  if (perps === null) return true;
  for (let m = 0; m < perps.positions.length; m++) {
    if (perps.positions[m]!.netQuantity !== 0n && s.marginContext.marketMark[m]! <= 0n) return false;
  }
  return true;
}

/** Q3: planBackstopTakeover over everything that moves: positions at the mark, each asset's net (pools included). */
function planAccountTakeover(s: RiskState, account: Account, limitLeftUsd: bigint): BackstopPlan {
  const ctx = s.marginContext;
  let np = 0;
  const perps = account.perps;
  if (perps !== null) {
    for (let m = 0; m < perps.positions.length; m++) {
      const pos = perps.positions[m]!;
      if (pos.netQuantity === 0n) continue;
      if (scratch.positions.length === np) scratch.positions.push(new TakeoverPosition());
      const t = scratch.positions[np++]!;
      t.market = m;
      t.quantity = pos.netQuantity;
      t.costBasis = pos.costBasis;
      t.baseDecimals = ctx.marketBaseDecimals[m]!;
      t.mark = ctx.marketMark[m]!;
    }
  }
  const usdc = usdcOf(s);
  let na = 0;
  for (let a = 0; a < s.assetCount; a++) {
    let net = account.available[a]! + account.locked[a]! + account.lent[a]! - account.borrowed[a]!;
    if (a === usdc) net -= account.unsettledUsdc;
    if (net === 0n) continue;
    if (scratch.assets.length === na) scratch.assets.push(new TakeoverAsset());
    const t = scratch.assets[na++]!;
    t.asset = a;
    t.netQuantity = net;
    t.decimals = ctx.assetDecimals[a]!;
    t.mark = ctx.assetMark[a]!;
  }
  return planBackstopTakeover(scratch.positions, np, scratch.assets, na, limitLeftUsd, scratch.plan);
}

/** One position leg to the market's matching shard: `quantity` (signed: the giver's position) at `price`. */
function forwardLeg(out: CommandOut, step: number, from: number, to: number, market: number, quantity: bigint, price: bigint, mark: bigint): void {
  const cmd = scratch.cmd;
  cmd.clear();
  cmd.kind = CommandKind.LiquidationTransfer;
  cmd.seq = 0;
  cmd.account = from;
  cmd.account2 = to;
  cmd.market = market;
  cmd.side = quantity > 0n ? Side.Sell : Side.Buy;
  cmd.quantity = quantity > 0n ? quantity : -quantity;
  cmd.price = price;
  cmd.liquidationStep = step;
  cmd.legMarkPrice = mark;
  out.forward(cmd);
}

/**
 * Q4: the fund covers min(budget, deficit) (paid in phase 3b); beyond it each perpetual position is closed by ADL at
 * its bankruptcy price (from the equity after the cover). False when neither happens (nothing to do this batch).
 */
function declareBankrupt(s: RiskState, account: Account, margin: AccountMargin, equityUsd: bigint, out: CommandOut): boolean {
  const usdc = usdcOf(s);
  const ctx = s.marginContext;
  const deficit = usdToQuoteUnitsUp(-equityUsd, ctx.assetDecimals[usdc]!);
  let cover: bigint;
  if (adlAcrossShards(s)) {
    // K > 1 (engine.ts "Q4 ADL across shards (as built)"): a deficit the shard's budget covers is covered now; else
    // the account posts its demand and waits, and two batches later takes the cover and the legs the allocation kept.
    const reserved = s.adl.covers.get(account.id);
    if (reserved === undefined) {
      const budget = coverBudget(s);
      if (deficit > budget) return postDemands(s, account, deficit);
      cover = deficit;
      s.liquidation.coverBudget = budget - cover;
    } else {
      cover = deficit < reserved ? deficit : reserved;
      s.adl.covers.delete(account.id); // one decision per batch
    }
  } else {
    const budget = coverBudget(s);
    cover = deficit < budget ? deficit : budget;
    s.liquidation.coverBudget = budget - cover;
  }
  let legs = 0;
  if (cover < deficit) {
    const afterCoverUsd = equityUsd + (cover * ctx.assetMark[usdc]!) / ctx.assetUnit[usdc]!;
    const perps = account.perps;
    if (perps !== null) {
      for (let m = 0; m < perps.positions.length; m++) {
        if (perps.positions[m]!.netQuantity !== 0n) legs += deleverage(s, account, margin, m, afterCoverUsd, out);
      }
    }
  }
  if (cover === 0n && legs === 0) return false;
  const book = s.liquidation;
  book.inFlight.add(account.id);
  if (cover > 0n) {
    book.pendingAccounts.push(account.id);
    book.pendingBackstops.push(BACKSTOP_ACCOUNT_NONE);
    book.pendingCovers.push(cover);
  }
  return true;
}

/** Q4 ADL of the account's position in market m at its bankruptcy price; returns the legs sent. */
function deleverage(s: RiskState, account: Account, margin: AccountMargin, m: number, equityUsd: bigint, out: CommandOut): number {
  const ctx = s.marginContext;
  const q = account.perps!.positions[m]!.netQuantity;
  const mark = ctx.marketMark[m]!;
  if (mark <= 0n) return 0;
  const inp = scratch.priceIn;
  inp.quantity = q;
  inp.baseDecimals = ctx.marketBaseDecimals[m]!;
  inp.mark = mark;
  inp.netEquityUsd = equityUsd;
  inp.positionMaintenanceMarginUsd = margin.positionMaintenanceMarginUsd(m);
  inp.totalMaintenanceMarginUsd = margin.maintenanceMarginUsd();
  const price = bankruptcyPrice(inp, scratch.priceOut).price;
  if (price <= 0n) return 0; // nothing but a zero price would cover it: left for the lenders' half of Q4
  if (adlAcrossShards(s)) return allocatedLegs(s, account.id, m, q, price, mark, out);
  const n = collectCandidates(s, account.id, m);
  if (scratch.order.length < n) scratch.order = new Int32Array(n * 2);
  const ranked = rankAdlCandidates(scratch.candidates, n, q, mark, scratch.order);
  allocateAdl(scratch.candidates, scratch.order, ranked, q, scratch.closes);
  let legs = 0;
  for (let k = 0; k < ranked; k++) {
    const take = scratch.closes[k]!;
    if (take === 0n) continue;
    const other = scratch.candidates[scratch.order[k]!]!.account;
    forwardLeg(out, LiquidationStep.OnAdl, account.id, other, m, q > 0n ? take : -take, price, mark);
    s.liquidation.adlUsed.add(other);
    const key = adlKey(other, m);
    s.liquidation.adlTaken.set(key, (s.liquidation.adlTaken.get(key) ?? 0n) + take);
    legs++;
  }
  return legs;
}

/**
 * Q4 across shards: the legs the allocation of this phase 0 kept for the account's position q in market m
 * (adl-across-shards.ts planReady), at its bankruptcy price, never more than |q| in all; returns the legs sent.
 */
function allocatedLegs(s: RiskState, id: number, m: number, q: bigint, price: bigint, mark: bigint, out: CommandOut): number {
  const adl = s.adl;
  let left = q < 0n ? -q : q;
  let legs = 0;
  for (let i = 0; i < adl.legAccount.length && left > 0n; i++) {
    const leg = adl.legQuantity[i]!;
    // A leg for the other side than the position now (it could only shrink, never flip, while liquidating) is not sent.
    if (adl.legAccount[i] !== id || adl.legMarket[i] !== m || leg > 0n !== q > 0n) continue;
    const size = leg < 0n ? -leg : leg;
    const take = size < left ? size : left;
    left -= take;
    forwardLeg(out, LiquidationStep.OnAdl, id, adl.legCounterparty[i]!, m, q > 0n ? take : -take, price, mark);
    legs++;
  }
  return legs;
}

/** Q4: the key of a counterparty's position in market m in LiquidationBook.adlTaken. */
function adlKey(account: number, m: number): number {
  return account * 65_536 + m;
}

/**
 * Q4: this shard's holders in market m that ADL may reduce (not the bankrupt account, not liquidating, not in flight
 * this batch), into scratch.candidates, each with what this batch's earlier legs left of its position (its cost basis
 * in proportion); returns their count. One risk shard only: with several, the candidates are every shard's offers
 * (adl-across-shards.ts, the same ranking and allocation).
 */
function collectCandidates(s: RiskState, bankrupt: number, m: number): number {
  const book = s.liquidation;
  let n = 0;
  for (const id of s.perpHolders[m]!) {
    if (id === bankrupt || book.isLiquidating(id) || book.inFlight.has(id)) continue;
    const holder = s.syncedAccount(id);
    if (holder === undefined) continue;
    const pos = holder.perps!.positions[m]!;
    const taken = book.adlTaken.get(adlKey(id, m)) ?? 0n;
    const size = pos.netQuantity < 0n ? -pos.netQuantity : pos.netQuantity;
    if (size <= taken) continue; // its whole position already goes to earlier legs of the batch
    if (scratch.candidates.length === n) scratch.candidates.push(new AdlCandidate());
    const c = scratch.candidates[n++]!;
    c.account = id;
    c.quantity = taken === 0n ? pos.netQuantity : pos.netQuantity < 0n ? -(size - taken) : size - taken;
    c.costBasis = taken === 0n ? pos.costBasis : (pos.costBasis * (size - taken)) / size;
    c.netEquityUsd = holder.syncedMargin().netEquityUsd();
  }
  return n;
}

/**
 * R2 of a LiquidationTransfer (a position leg from the market's matching shard): each side this shard owns takes it
 * like a fill at the leg's price, fee 0; then the event, an ADL leg's SocializedLoss, the Settlement rows, and each
 * side's USDC Balance and Position.
 */
export function applyLiquidationTransfer(s: RiskState, e: EventRecord, sink: EventSink): void {
  const fromOwned = s.owns(e.account);
  const toOwned = s.owns(e.makerAccount);
  if (!fromOwned && !toOwned) return;
  const market = s.config.markets[e.market]!;
  const from = fromOwned ? s.syncedAccount(e.account) : undefined;
  const to = toOwned ? s.accountOrCreate(e.makerAccount) : null;
  if ((fromOwned && from === undefined) || (toOwned && to === null)) {
    throw new Error(`risk invariant: liquidation leg ${e.account} → ${e.makerAccount} without its accounts`);
  }
  // The fund's cover of this account, decided in phase 0, is paid before its first leg (a loss the leg realizes then
  // meets the covered balance rather than a new USDC borrow and its entry fee).
  if (from !== undefined) payPendingCover(s, from, sink);
  // P4 under P5S: an interval end still being paid pays both sides first, on the positions they held at it (as a fill).
  if (from !== undefined) payFundingBeforeFill(s, from, market.id, sink);
  if (to !== null && to !== from) payFundingBeforeFill(s, to, market.id, sink);
  if (from !== undefined) changePosition(s, from, e.side, market, e.quantity, e.price, 0n);
  if (to !== null) changePosition(s, to, e.side === Side.Buy ? Side.Sell : Side.Buy, market, e.quantity, e.price, 0n);
  const step = e.liquidationStep;
  const quantity = e.quantity;
  const price = e.price;
  const mark = e.legMarkPrice;
  const fromSide = e.side;
  if (from !== undefined) {
    s.liquidationHistory.record(e); // Q6: a row of the liquidated account's history
    s.liquidation.recordProgress(from.id);
  }
  // Once, by the liquidated account's shard (K > 1: the other side's shard applies it silently; the gateway shows the
  // one event to both accounts' watchers, the makerAccount's as a fill's maker).
  if (from !== undefined) sink.publish(e);
  if (from !== undefined && step === LiquidationStep.OnAdl) publishSocializedLoss(s, from.id, market.id, fromSide, quantity, price, mark, sink);
  publishSettlementRows(s, 0, sink);
  if (from !== undefined) publishLegAccount(s, from, market.id, sink);
  if (to !== null) publishLegAccount(s, to, market.id, sink);
}

function publishLegAccount(s: RiskState, account: Account, m: number, sink: EventSink): void {
  publishBalance(s, 0, account, s.config.markets[m]!.quoteAsset, sink);
  publishPosition(s, 0, positionReportInto(s, account.id, m, s.positionOut), sink);
}

/** Q4: the loss an ADL leg socializes — what its counterparty gave up against the mark, quote units rounded up. */
function publishSocializedLoss(s: RiskState, account: number, m: number, side: number, quantity: bigint, price: bigint, mark: bigint, sink: EventSink): void {
  const market = s.config.markets[m]!;
  const ctx = s.marginContext;
  // The giver sells a long above the mark (or buys back a short below it): the counterparty pays the difference.
  const gap = side === Side.Sell ? price - mark : mark - price;
  const e = s.out;
  e.clear();
  e.kind = EventKind.SocializedLoss;
  e.account = account;
  e.market = m;
  e.asset = market.quoteAsset;
  e.liquidationStep = LiquidationStep.OnAdl;
  e.quantity = side === Side.Sell ? quantity : -quantity;
  e.price = price;
  e.legMarkPrice = mark;
  e.adlLoss = gap > 0n ? quoteAmount(quantity, gap, ctx.marketBaseDecimals[m]!, ctx.assetDecimals[market.quoteAsset]!, Rounding.Up) : 0n;
  e.insuranceBalance = s.insurance.balances[market.quoteAsset]!;
  e.timeMs = s.nowMs;
  s.liquidationHistory.record(e);
  sink.publish(e);
}

/**
 * Phase 3b: the batch's covers and takeovers in the order phase 0 decided them — the fund's cover into the account
 * (USDC, the P7 waterfall), then a takeover's asset legs to the backstop (collateral, pool shares, unsettled USDC).
 */
export function settleTransfers(s: RiskState, sink: EventSink): void {
  const book = s.liquidation;
  const n = book.pendingAccounts.length;
  for (let i = 0; i < n; i++) {
    const account = s.syncedAccount(book.pendingAccounts[i]!);
    if (account === undefined) throw new Error(`risk invariant: pending liquidation of unknown account ${book.pendingAccounts[i]}`);
    payPendingCover(s, account, sink);
    const backstopId = book.pendingBackstops[i]!;
    if (backstopId === BACKSTOP_ACCOUNT_NONE) continue;
    if (s.owns(backstopId)) moveAssets(s, account, s.accountOrCreate(backstopId)!, sink);
    else releaseToBackstop(s, account, backstopId, sink); // K > 1: the backstop's shard credits it after the merge
  }
  book.pendingAccounts.length = book.pendingBackstops.length = book.pendingCovers.length = 0;
}

/** Q4/Q3: the cover phase 0 decided for the account (if not paid yet this batch): the insurance fund (this shard's
 * slice, D4) pays it in USDC. */
function payPendingCover(s: RiskState, account: Account, sink: EventSink): void {
  const book = s.liquidation;
  const i = book.pendingAccounts.indexOf(account.id);
  if (i < 0 || book.pendingCovers[i]! === 0n) return;
  const cover = book.pendingCovers[i]!;
  book.pendingCovers[i] = 0n;
  const usdc = usdcOf(s);
  creditInsurance(s, usdc, InsuranceReason.Cover, -cover);
  creditUsdc(s, account, usdc, ALL_MARKETS, SettlementReason.InsuranceCover, cover);
  publishSettlementRows(s, 0, sink);
  publishBalance(s, 0, account, usdc, sink);
}

/** Q3: every asset of `from` — available, lent and borrowed shares, unsettled USDC — goes to the backstop. */
function moveAssets(s: RiskState, from: Account, backstop: Account, sink: EventSink): void {
  const usdc = usdcOf(s);
  for (let a = 0; a < s.assetCount; a++) {
    const available = from.available[a]!;
    const owed = from.borrowed[a]!;
    const borrowShares = from.positions[a]!.borrowShares;
    const lent = from.lent[a]!;
    const unsettled = a === usdc ? from.unsettledUsdc : 0n;
    if (available === 0n && lent === 0n && borrowShares === 0n && unsettled === 0n) continue;
    if (from.locked[a]! !== 0n) throw new Error(`risk invariant: takeover of account ${from.id} with ${from.locked[a]} of asset ${a} held`);
    from.setAvailable(a, 0n);
    backstop.addAvailable(a, available);
    s.pools.moveShares(from, backstop, a, s.nowMs);
    const q = backstop.positions[a]!;
    if (q.lendShares !== 0n && q.borrowShares !== 0n) netOwnClaim(s, backstop, a);
    if (unsettled > 0n) {
      const ctx = s.marginContext;
      from.setUnsettledUsdc(0n, ctx.assetMark[usdc]!, ctx.assetUnit[usdc]!);
      backstop.setUnsettledUsdc(backstop.unsettledUsdc + unsettled, ctx.assetMark[usdc]!, ctx.assetUnit[usdc]!);
    }
    from.markChanged(a);
    backstop.markChanged(a);
    publishAssetLeg(s, from.id, backstop.id, a, available + lent - unsettled, borrowShares, owed, sink);
    publishBalance(s, 0, from, a, sink);
    publishBalance(s, 0, backstop, a, sink);
  }
  s.liquidation.recordProgress(from.id);
}
