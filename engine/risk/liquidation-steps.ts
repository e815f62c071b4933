// Q2 book liquidation, the executor of one risk shard (engine/liquidation/book-step.ts and borrow-step.ts hold the
// rules). Phase 0 of batch B (decision D3 in engine/pipeline/engine.ts): for each liquidating account of this shard, in
// account-id order (the batches take turns when more than ENGINE_ORDERS_PER_BATCH_MAX wait), one engine command with
// seq 0 and orderId = engineOrderId(B, shards, shard, i):
//   - the account still has resting orders: a CancelAll over every market (matching ends them with DoneReason
//     Liquidation; their holds come back in R2), and its first step waits for the next batch, when Q1 has judged the
//     account without them (Q2: "first all open orders are cancelled; if MMR is still ≥ 100%");
//   - else one IOC step on the position or borrow with the largest maintenance margin (a smaller one when the largest
//     cannot take a step): LiquidatePositionOnBook reduces a perpetual position (reduce-only), CollateralConversion buys
//     the owed asset with the account's USDC or sells the largest collateral for USDC; at most
//     liquidationStepFraction of it, limit at the slippage bound. Its funds are held here, as R1 holds an order's;
//   - below ACMF, or stalled: the backstop's takeover or bankruptcy (Q3/Q4, liquidation-transfers.ts decideBeyondBook)
//     instead of a step, when either can happen;
//   - nothing can be stepped: the account's stall is recorded (LiquidationBook.stalled: the hand-over point to the
//     backstop, Q3, and bankruptcy, Q4, the next batch — else the step is retried every batch).
// R2 (post-trade.ts) charges each liquidation fill 1% of its notional in USDC into this shard's insurance slice (D4),
// through the P6 waterfall, repays the borrow of what the fill brought in, and records progress; phase 5 (Q1) lets the
// account out at liquidationExitMmr.
import { PRICE_SCALE, quoteAmount, Rounding, type Price } from "../fixed/index.ts";
import {
  BookStepKind,
  BookStepPlan,
  BorrowStepInputs,
  CollateralHolding,
  ENGINE_ORDERS_PER_BATCH_MAX,
  engineOrderId,
  firstServedIndex,
  LiquidationItem,
  LiquidationItemKind,
  liquidationFee,
  NoStepReason,
  pickLargestMaintenanceMargin,
  planBorrowStep,
  planPositionStep,
} from "../liquidation/index.ts";
import {
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  MarketKind,
  OrderFlag,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type ExchangeConfig,
  type MarketConfig,
} from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { addPerpOpen } from "./funds.ts";
import type { AccountMargin } from "./margin/index.ts";
import type { RiskState } from "./state.ts";
import { decideBeyondBook } from "./liquidation-transfers.ts";

/** Where phase 0 hands its engine commands (the caller queues a copy for matching, as forwardToMatching does). */
export interface EngineCommandOut {
  forward(cmd: CommandRecord): void;
}

/** The asset liquidation converts into (USDC: the asset named so, else the first market's quote) and, per asset, its
 * spot market against it (−1: none); derived from the config once per shard. */
export class ConversionMarkets {
  readonly quoteAsset: number;
  readonly spotMarket: number[];

  constructor(config: ExchangeConfig) {
    const usdc = config.assets.findIndex((a) => a.symbol === "USDC");
    this.quoteAsset = usdc >= 0 ? usdc : (config.markets[0]?.quoteAsset ?? 0);
    this.spotMarket = config.assets.map(() => -1);
    for (const m of config.markets) {
      if (m.kind === MarketKind.Spot && m.quoteAsset === this.quoteAsset && this.spotMarket[m.baseAsset] === -1) this.spotMarket[m.baseAsset] = m.id;
    }
  }
}

/** Reused records of phase 0 (one shard's thread is the only caller). */
class StepScratch {
  readonly items: LiquidationItem[] = [];
  readonly holdings: CollateralHolding[] = [];
  readonly borrow = new BorrowStepInputs();
  readonly plan = new BookStepPlan();
  readonly cmd = new CommandRecord();
  conversions: ConversionMarkets | null = null;
  config: ExchangeConfig | null = null;
}
const scratch = new StepScratch();

function conversionsOf(s: RiskState): ConversionMarkets {
  if (scratch.config !== s.config) {
    scratch.config = s.config;
    scratch.conversions = new ConversionMarkets(s.config);
  }
  return scratch.conversions!;
}

/** Phase 0 of batch `batch` (see the module comment): this shard's engine commands, forwarded to `out` in order;
 * returns how many went out (the batch's next engine command index). */
export function createEngineOrders(s: RiskState, batch: number, out: EngineCommandOut): number {
  const book = s.liquidation;
  if (book.liquidating.size === 0) return 0;
  const ids = book.liquidatingSorted();
  const first = firstServedIndex(batch, ids.length, ENGINE_ORDERS_PER_BATCH_MAX);
  let i = 0;
  for (let k = 0; k < ids.length && i < ENGINE_ORDERS_PER_BATCH_MAX; k++) {
    const account = s.accounts.get(ids[(first + k) % ids.length]!);
    if (account === undefined) continue;
    // Q4 across shards: reserved as another shard's ADL counterparty this batch (adl-across-shards.ts): no step, no
    // takeover (with one shard a counterparty is never liquidating, so this never happens there).
    if (book.adlUsed.size !== 0 && book.adlUsed.has(account.id)) continue;
    s.pools.sync(account);
    if (account.openOrders > 0) {
      forwardCancelAll(account.id, out);
      i++;
    } else if (decideBeyondBook(s, account, account.syncedMargin(), out)) {
      i++; // Q3 takeover or Q4 bankruptcy (liquidation-transfers.ts): no book step this batch
    } else if (placeStep(s, account, engineOrderId(batch, s.shardCount, s.shardIndex, i), out)) {
      i++;
    }
  }
  return i;
}

/** Q2's first action: every resting order of the account, over every market (matching: DoneReason Liquidation). */
function forwardCancelAll(account: number, out: EngineCommandOut): void {
  const cmd = scratch.cmd;
  cmd.clear();
  cmd.kind = CommandKind.CancelAll;
  cmd.seq = 0;
  cmd.account = account;
  cmd.market = ALL_MARKETS;
  out.forward(cmd);
}

/**
 * D3: `cmd` made the engine-originated IOC limit order of `plan` (seq 0, id `orderId`, self-trade: reject the taker)
 * for `account` — a Q2 step's or P6 (3)'s conversion (settlement-conversions.ts). Returns it.
 */
export function engineIocOrder(cmd: CommandRecord, orderId: number, account: number, plan: BookStepPlan): CommandRecord {
  cmd.clear();
  cmd.kind = CommandKind.PlaceOrder;
  cmd.seq = 0;
  cmd.orderId = orderId;
  cmd.account = account;
  cmd.market = plan.market;
  cmd.side = plan.side;
  cmd.orderType = OrderType.Limit;
  cmd.tif = TimeInForce.IOC;
  cmd.stp = SelfTradePrevention.RejectTaker;
  cmd.price = plan.limitPrice;
  cmd.quantity = plan.quantity;
  return cmd;
}

/** One step for the account (or its stall recorded); true when a command went out. */
function placeStep(s: RiskState, account: Account, orderId: number, out: EngineCommandOut): boolean {
  const plan = planAccountStep(s, account, account.syncedMargin(), scratch.plan);
  if (plan.kind === BookStepKind.None) {
    s.liquidation.recordNoProgress(account.id, plan.reason);
    return false;
  }
  const cmd = engineIocOrder(scratch.cmd, orderId, account.id, plan);
  if (plan.kind === BookStepKind.LiquidatePositionOnBook) {
    cmd.flags = OrderFlag.ReduceOnly;
    cmd.positionQuantity = s.perpsOf(account).positions[plan.market]!.netQuantity;
  }
  holdStep(s, account, orderId, plan);
  out.forward(cmd);
  return true;
}

/**
 * Q2: the step of the position or borrow with the largest maintenance margin that can take one (the next largest when
 * it cannot); None with the reason of the largest when none can.
 */
export function planAccountStep(s: RiskState, account: Account, margin: AccountMargin, out: BookStepPlan): BookStepPlan {
  const count = collectItems(s, account, margin);
  const items = scratch.items;
  let firstReason: number = NoStepReason.NothingToLiquidate;
  for (let tries = 0; tries < count; tries++) {
    const best = pickLargestMaintenanceMargin(items, count);
    if (best < 0) break;
    const item = items[best]!;
    if (item.kind === LiquidationItemKind.Position) planPosition(s, item, out);
    else planBorrow(s, account, margin, item.id, out);
    if (out.kind !== BookStepKind.None) return out;
    if (tries === 0) firstReason = out.reason;
    item.quantity = 0n; // not steppable: the next largest
  }
  out.kind = BookStepKind.None;
  out.reason = firstReason as BookStepPlan["reason"];
  return out;
}

/** The account's perpetual positions and borrows as items (scratch.items); returns their count. */
function collectItems(s: RiskState, account: Account, margin: AccountMargin): number {
  const ctx = s.marginContext;
  let n = 0;
  const perps = account.perps;
  if (perps !== null) {
    for (let m = 0; m < ctx.marketCount; m++) {
      const q = perps.positions[m]!.netQuantity;
      if (q !== 0n) n = addItem(n, LiquidationItemKind.Position, m, q, margin.positionMaintenanceMarginUsd(m));
    }
  }
  for (let a = 0; a < ctx.assetCount; a++) {
    const owed = account.borrowed[a]!;
    if (owed > 0n) n = addItem(n, LiquidationItemKind.Borrow, a, owed, margin.assetMaintenanceMarginUsd(a));
  }
  return n;
}

function addItem(n: number, kind: LiquidationItemKind, id: number, quantity: bigint, mmUsd: bigint): number {
  const items = scratch.items;
  if (items.length === n) items.push(new LiquidationItem());
  const item = items[n]!;
  item.kind = kind;
  item.id = id;
  item.quantity = quantity;
  item.maintenanceMarginUsd = mmUsd;
  return n + 1;
}

function planPosition(s: RiskState, item: LiquidationItem, out: BookStepPlan): void {
  const market = s.config.markets[item.id]!;
  const mark = s.marginContext.marketMark[item.id]!;
  // No mark, no bound: a sell's bound would clamp to the market's min price (a market order in all but name).
  if (mark <= 0n) setNoPrice(out);
  else planPositionStep(item.id, item.quantity, mark, market, s.liquidationParams, out, s.marginContext.marketBaseDecimals[item.id]!, s.marginContext.assetDecimals[market.quoteAsset]!);
}

function setNoPrice(out: BookStepPlan): void {
  out.kind = BookStepKind.None;
  out.reason = NoStepReason.NoPriceWithinBound;
}

/** A spot market's mark in its quote: base USD mark / quote USD mark (floor). */
function spotMark(s: RiskState, market: MarketConfig): Price {
  const marks = s.marginContext.assetMark;
  const quoteMark = marks[market.quoteAsset]!;
  return quoteMark > 0n ? (marks[market.baseAsset]! * PRICE_SCALE) / quoteMark : 0n;
}

/** Q2 for the borrow of `owed`: CollateralConversion inputs from the account, then planBorrowStep. */
function planBorrow(s: RiskState, account: Account, margin: AccountMargin, owed: number, out: BookStepPlan): void {
  const conv = conversionsOf(s);
  const ctx = s.marginContext;
  const inp = scratch.borrow;
  const quote = conv.quoteAsset;
  inp.owedAsset = owed;
  inp.owedQuantity = account.borrowed[owed]!;
  inp.owedDecimals = ctx.assetDecimals[owed]!;
  inp.owedMarket = conv.spotMarket[owed]!;
  inp.quoteAsset = quote;
  inp.quoteDecimals = ctx.assetDecimals[quote]!;
  inp.quoteAvailable = account.available[quote]!;
  if (owed !== quote) {
    const market = inp.owedMarket < 0 ? null : s.config.markets[inp.owedMarket]!;
    const mark = market === null ? 0n : spotMark(s, market);
    if (market === null || mark <= 0n) return setNoPrice(out);
    inp.owedGrid = market;
    inp.owedMark = mark;
  }
  const holdings = scratch.holdings;
  let n = 0;
  for (let a = 0; a < ctx.assetCount; a++) {
    const m = conv.spotMarket[a]!;
    const available = account.available[a]!;
    if (a === quote || a === owed || m < 0 || available <= 0n || s.marginContext.assetMark[a]! <= 0n) continue;
    if (holdings.length === n) holdings.push(new CollateralHolding());
    const h = holdings[n++]!;
    const market = s.config.markets[m]!;
    h.asset = a;
    h.market = m;
    h.quantity = available;
    h.decimals = ctx.assetDecimals[a]!;
    h.collateralValueUsd = margin.assetCollateralValueUsd(a);
    h.mark = spotMark(s, market);
    h.grid = market;
  }
  planBorrowStep(inp, holdings, n, s.liquidationParams, out);
}

/** The step's hold, as R1 takes an order's (funds.takeHold / takePerpHold), without the checks: the plan fits. */
function holdStep(s: RiskState, account: Account, orderId: number, plan: BookStepPlan): void {
  const market = s.config.markets[plan.market]!;
  const hold = s.holds.add(orderId).begin(orderId, account, plan.market, plan.side);
  account.openOrders++;
  if (plan.kind === BookStepKind.LiquidatePositionOnBook) {
    hold.asset = market.quoteAsset;
    hold.inflowAsset = market.quoteAsset;
    hold.perp = true;
    addPerpOpen(s, account, hold, plan.quantity);
    return;
  }
  let asset = market.baseAsset;
  let amount = plan.quantity;
  if (plan.side === Side.Buy) {
    // The cost at the limit and its 1% fee (R2 takes the fee from what the fills left of the hold).
    asset = market.quoteAsset;
    const ctx = s.marginContext;
    const cost = quoteAmount(plan.quantity, plan.limitPrice, ctx.assetDecimals[market.baseAsset]!, ctx.assetDecimals[asset]!, Rounding.Up);
    amount = cost + liquidationFee(cost, s.liquidationParams.liquidationFee);
    if (amount > account.available[asset]!) amount = account.available[asset]!;
  }
  hold.asset = asset;
  hold.inflowAsset = plan.side === Side.Buy ? market.baseAsset : market.quoteAsset;
  hold.remaining = amount;
  account.subAvailable(asset, amount);
  account.addLocked(asset, plan.side, amount);
  account.markChanged(asset);
}
