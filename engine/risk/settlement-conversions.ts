// P6 step (3): converting non-USDC collateral to USDC through the book (system order type CollateralConversion), as
// built (engine/pipeline/engine.ts "P6 (3) (as built)"). A settlement cannot wait for the book: debitUsdc (funds.ts)
// takes what steps (1)–(2) leave as a USDC borrow that ignores the throttle at once (the settlement never fails) and
// notes it here as due. Phase 0 of the next batch (RiskShard.beginBatch, after the liquidations' engine commands, in
// account-id order, within the batch's ENGINE_ORDERS_PER_BATCH_MAX) sends each account with a due one IOC sale of its
// collateral with the largest collateral value (planBorrowStep with the whole due as its target: never the owed or the
// quote asset, the quantity that raises the due at the limit, at the liquidation slippage bound, O2's minimums) — the
// seeds' "without [auto-borrow] the system may need to convert your collateral to cover settlements" (seed 002).
// The sale pays the account's ordinary taker fee (it is not a liquidation: no 1% fee); its USDC repays the settlement
// borrow (S3, as a margin order's proceeds do) and is a settlement row (step Convert). One attempt per due: what the
// sale does not raise stays a borrow, and the account's margin decides the rest (Q). A liquidating account's due is
// dropped (Q2 converts its collateral itself). The dues are state (snapshot, state hash); the batch's conversion order
// ids are not (IOC: each ends in the batch that placed it).
import {
  BookStepKind,
  BorrowStepInputs,
  CollateralHolding,
  ENGINE_ORDERS_PER_BATCH_MAX,
  engineOrderId,
  planBorrowStep,
  BookStepPlan,
  type LiquidationParams,
} from "../liquidation/index.ts";
import { PRICE_SCALE, RATIO_SCALE } from "../fixed/index.ts";
import {
  CommandRecord,
  MarketKind,
  OrderFlag,
  Side,
  type EventRecord,
  type MarketConfig,
  type SnapshotReader,
  type SnapshotWriter,
} from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { engineIocOrder } from "./liquidation-steps.ts";
import { SettlementStep, type RiskState, type SettlementReason } from "./state.ts";

/** Where phase 0 hands its engine commands (liquidation-steps.ts's EngineCommandOut). */
interface CommandOut {
  forward(cmd: CommandRecord): void;
}

/** The accounts with a settlement borrow to convert, and the batch's conversion orders (see the module comment). */
export class SettlementConversions {
  /** Account id → USDC units still due (> 0), and the settlement reason of the first debit that made it. */
  readonly due = new Map<number, bigint>();
  readonly reason = new Map<number, number>();
  /** Engine order id → account and the due's reason, for the conversion orders placed this batch (each ends in it). */
  readonly orders = new Map<number, number>();
  private readonly orderReasons = new Map<number, number>();
  private readonly inputs = new BorrowStepInputs();
  private readonly plan = new BookStepPlan();
  private readonly holdings: CollateralHolding[] = [];
  private readonly cmd = new CommandRecord();
  private params: LiquidationParams | null = null;
  private paramsOf: LiquidationParams | null = null;
  private usdc = -1;

  /** debitUsdc: `usdc` units of a settlement were borrowed past steps (1)–(2). */
  noteDue(account: number, usdc: bigint, reason: SettlementReason): void {
    const before = this.due.get(account);
    this.due.set(account, (before ?? 0n) + usdc);
    if (before === undefined) this.reason.set(account, reason);
  }

  /** Is `orderId` a conversion order of this batch? */
  isConversion(orderId: number): boolean {
    return this.orders.size !== 0 && this.orders.has(orderId);
  }

  /** The step planner's parameters: the liquidation slippage bound, the whole due as one step. */
  paramsFor(liquidation: LiquidationParams): LiquidationParams {
    if (this.paramsOf !== liquidation) {
      this.paramsOf = liquidation;
      this.params = { ...liquidation, liquidationStepFraction: RATIO_SCALE };
    }
    return this.params!;
  }

  sortedDue(): number[] {
    return [...this.due.keys()].sort((a, b) => a - b);
  }

  hashText(): string {
    if (this.due.size === 0) return "";
    return `conv ${this.sortedDue().map((id) => `${id}:${this.due.get(id)}:${this.reason.get(id)}`).join(",")}\n`;
  }

  write(w: SnapshotWriter): void {
    const ids = this.sortedDue();
    w.uint(ids.length);
    for (const id of ids) {
      w.uint(id);
      w.big(this.due.get(id)!);
      w.uint(this.reason.get(id)!);
    }
  }

  restore(r: SnapshotReader, accountCount: number): void {
    const n = r.count(accountCount, "settlement conversions due");
    for (let i = 0; i < n; i++) {
      const id = r.uint();
      const usdc = r.big();
      const reason = r.uint();
      if (usdc <= 0n) r.fail(`account ${id}: a settlement conversion due of ${usdc}`);
      this.due.set(id, usdc);
      this.reason.set(id, reason);
    }
  }

  /** Phase 0: one conversion order per account due (see the module comment) from index `first` of the batch's engine
   * commands; returns the next free index. */
  place(s: RiskState, batch: number, first: number, out: CommandOut): number {
    let i = first;
    const quote = this.usdcOf(s);
    for (const id of this.sortedDue()) {
      if (i >= ENGINE_ORDERS_PER_BATCH_MAX) break; // the rest wait a batch
      const usdc = this.due.get(id)!;
      const reason = this.reason.get(id)!;
      this.due.delete(id);
      this.reason.delete(id);
      const account = s.accounts.get(id);
      if (account === undefined || s.liquidation.isLiquidating(id)) continue;
      s.pools.sync(account);
      const owed = account.borrowed[quote]!;
      const target = usdc < owed ? usdc : owed;
      if (target <= 0n || !this.planSale(s, account, quote, target)) continue;
      const orderId = engineOrderId(batch, s.shardCount, s.shardIndex, i++);
      this.orders.set(orderId, id);
      this.orderReasons.set(orderId, reason);
      this.forwardSale(s, account, orderId, out);
    }
    return i;
  }

  /** The settlement asset: the asset named USDC, else the first perpetual market's quote (as the covers use). */
  private usdcOf(s: RiskState): number {
    if (this.usdc < 0) {
      const usdc = s.config.assets.findIndex((a) => a.symbol === "USDC");
      this.usdc = usdc >= 0 ? usdc : (s.config.markets.find((m) => m.kind === MarketKind.Perpetual)?.quoteAsset ?? 0);
    }
    return this.usdc;
  }

  /** The sale of the largest collateral raising `target` USDC (this.plan); false when none can take one. */
  private planSale(s: RiskState, account: Account, quote: number, target: bigint): boolean {
    const ctx = s.marginContext;
    const inp = this.inputs;
    inp.owedAsset = quote;
    inp.owedQuantity = target;
    inp.owedDecimals = ctx.assetDecimals[quote]!;
    inp.quoteAsset = quote;
    inp.quoteDecimals = ctx.assetDecimals[quote]!;
    inp.quoteAvailable = 0n;
    const margin = account.syncedMargin();
    let n = 0;
    for (const market of s.config.markets) {
      const a = market.baseAsset;
      if (market.kind !== MarketKind.Spot || market.quoteAsset !== quote || a === quote) continue;
      const available = account.available[a]!;
      const quoteMark = ctx.assetMark[quote]!;
      if (available <= 0n || ctx.assetMark[a]! <= 0n || quoteMark <= 0n || hasEarlierMarket(s, market)) continue;
      if (this.holdings.length === n) this.holdings.push(new CollateralHolding());
      const h = this.holdings[n++]!;
      h.asset = a;
      h.market = market.id;
      h.quantity = available;
      h.decimals = ctx.assetDecimals[a]!;
      h.collateralValueUsd = margin.assetCollateralValueUsd(a);
      h.mark = (ctx.assetMark[a]! * PRICE_SCALE) / quoteMark;
      h.grid = market;
    }
    return planBorrowStep(inp, this.holdings, n, this.paramsFor(s.liquidationParams), this.plan).kind === BookStepKind.CollateralConversion;
  }

  /** The IOC sale as an engine command, its units held as R1 holds an order's (proceeds repay: margin flags). */
  private forwardSale(s: RiskState, account: Account, orderId: number, out: CommandOut): void {
    const plan = this.plan;
    const market = s.config.markets[plan.market]!;
    const hold = s.holds.add(orderId).begin(orderId, account, market.id, Side.Sell);
    hold.flags = OrderFlag.AutoBorrow; // S3: the USDC it raises repays the settlement borrow first
    hold.asset = market.baseAsset;
    hold.inflowAsset = market.quoteAsset;
    hold.remaining = plan.quantity;
    account.openOrders++;
    account.subAvailable(market.baseAsset, plan.quantity);
    account.addLocked(market.baseAsset, Side.Sell, plan.quantity);
    account.markChanged(market.baseAsset);
    const cmd = engineIocOrder(this.cmd, orderId, account.id, plan);
    cmd.flags = OrderFlag.AutoBorrow;
    out.forward(cmd);
  }

  /** R2, a conversion fill settled: `raised` USDC (net of its fee) went to the settlement borrow — a settlement row. */
  recordFill(s: RiskState, e: EventRecord, market: MarketConfig, raised: bigint): void {
    if (raised <= 0n) return;
    const id = this.orders.get(e.orderId)!;
    const reason = this.orderReasons.get(e.orderId)! as SettlementReason;
    s.settlementRows.add(id, market.id, market.quoteAsset, reason, SettlementStep.Convert, raised);
  }

  /** R2, the conversion order ended: its due was taken off at placement (one attempt). */
  endOrder(orderId: number): void {
    if (this.orders.delete(orderId)) this.orderReasons.delete(orderId);
  }
}

/** Only the first spot market of an asset against the quote is used (as ConversionMarkets does for Q2). */
function hasEarlierMarket(s: RiskState, market: MarketConfig): boolean {
  for (const m of s.config.markets) {
    if (m.id >= market.id) return false;
    if (m.kind === MarketKind.Spot && m.baseAsset === market.baseAsset && m.quoteAsset === market.quoteAsset) return true;
  }
  return false;
}
