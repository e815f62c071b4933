// The risk shard: single writer of its accounts' balances, settings, margin state and order holds — pre-trade checks
// (R1) and post-trade settlement of matching results (R2), exchange-core style.
//
// R1 (`preTrade`) sees every command addressed to one of its accounts in sequence order. Commands that only touch
// accounts (deposit, withdraw, transfer, settings, marks, queries) complete here; orders are checked, their funds are
// held, and they are handed on to matching. R2 (`postTrade`) applies what matching reports: fills move money between
// both sides and charge fees, done/reject releases what the order still holds. Money never appears or vanishes:
// every unit moves from one balance to another, fees go to the exchange's fee account (X1).
//
// Layers, each importing only those below it (this file only dispatches): state.ts → replies.ts (events, reject
// texts) → checks.ts (read-only, fill a reused plan; the rules are written out there) and funds.ts (money movements)
// → account-commands, pre-trade, post-trade, funding, lending-actions, queries, invariants, shard-snapshot → shard.ts.
import { CommandKind, EventKind, type CommandRecord, type EventRecord, type EventSink, type ExchangeConfig, type Side, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";
import type { InterestKind, PoolDelta } from "../lending/index.ts";
import type { AccountMargin, MarginContext } from "./margin/index.ts";
import type { PoolBook } from "./pools.ts";
import type { PerpPosition } from "../perps/index.ts";
import { acknowledged, rejectDeleveraging, rejectLiquidating, rejectUnknownCommand } from "./replies.ts";
import { applyLiquidationTransfer, settleTransfers } from "./liquidation-transfers.ts";
import { RiskState, type CollateralStatement, type MaxQuantity, type PositionReport } from "./state.ts";
import { advanceTime, deposit, setMarkPrice, transfer, updateSettings, withdraw } from "./account-commands.ts";
import { cancelOrder, placeOrder, replaceOrder, setMarketState } from "./pre-trade.ts";
import { applyFill, endOrder, publishPendingPositions } from "./post-trade.ts";
import { applyPoolMovement, manualPoolAction, type PoolMovement } from "./lending-actions.ts";
import { applyMarkPrice, oracleQuote } from "./oracle-commands.ts";
import { evaluateLiquidations } from "./liquidation-trigger.ts";
import type { InsuranceRow } from "./insurance.ts";
import { advanceFunding, fundingInTransit, recordFundingRate, startFunding } from "./funding.ts";
import { PASS_VISITS_PER_BATCH_MAX } from "./passes.ts";
import { createEngineOrders, type EngineCommandOut } from "./liquidation-steps.ts";
import { lenderBatchEnd, lenderPhase0, lenderQuoteAsset } from "./liquidation-lenders.ts";
import { advanceRealization, autoRealizeAtMark, startRealizationAtTick } from "./realization.ts";
import * as queries from "./queries.ts";
import { accountIds, stateHash, totals, validateInternalState } from "./invariants.ts";
import { restoreShardSnapshot, writeShardSnapshot } from "./shard-snapshot.ts";
import { relayBackstopStatus, relayBatchEnd, relays } from "./backstop-transit.ts";
import { adlAcrossShards, planReady, publishOffers } from "./adl-across-shards.ts";
import { publishLenderAdl } from "./adl-lenders-across-shards.ts";

/** Q3/Q4: the kinds an account with legs in flight may not send this batch (deposits, cancels and queries pass). */
function refusedInFlight(kind: CommandKind): boolean {
  switch (kind) {
    case CommandKind.PlaceOrder:
    case CommandKind.ReplaceOrder:
    case CommandKind.Withdraw:
    case CommandKind.Transfer:
    case CommandKind.UpdateAccountSettings:
    case CommandKind.Borrow:
    case CommandKind.Repay:
    case CommandKind.Lend:
    case CommandKind.Redeem:
      return true;
    default:
      return false;
  }
}

export class RiskShard {
  private readonly s: RiskState;
  /** Marks and margin constants shared by this shard's accounts (C). */
  readonly marginContext: MarginContext;
  /** SPEC L: this shard's replicas of the pools and its accounts' positions (see pools.ts for the batch rule). */
  readonly pools: PoolBook;

  constructor(
    config: ExchangeConfig,
    readonly shardIndex = 0,
    readonly shardCount = 1,
  ) {
    this.s = new RiskState(config, shardIndex, shardCount);
    this.marginContext = this.s.marginContext;
    this.pools = this.s.pools;
  }

  /** Does this shard own `account`? */
  owns(account: number): boolean {
    return this.s.owns(account);
  }

  get timeMs(): number {
    return this.s.nowMs;
  }

  /**
   * R1: handle one command in sequence order. Returns true when `cmd` must go on to matching (it may have been
   * amended, e.g. a market buy's spend cap); false when it was completed or rejected here.
   */
  preTrade(cmd: CommandRecord, sink: EventSink): boolean {
    const s = this.s;
    // Q3/Q4: an account whose takeover or bankruptcy legs are in flight this batch acts again the next batch.
    if (s.liquidation.inFlight.size !== 0 && s.liquidation.inFlight.has(cmd.account) && refusedInFlight(cmd.kind as CommandKind)) {
      rejectLiquidating(s, cmd, "any change while its takeover or bankruptcy legs are in flight", sink);
      return false;
    }
    // Q4: an ADL counterparty's leg (seq 0) moves its position before this batch's orders execute, so R1 cannot judge
    // them on the position it sees now (a buy that reduced a short would open a long, unchecked): they wait a batch.
    if (s.liquidation.adlUsed.size !== 0 && s.liquidation.adlUsed.has(cmd.account) && refusedInFlight(cmd.kind as CommandKind)) {
      rejectDeleveraging(s, cmd, sink);
      return false;
    }
    return this.dispatch(cmd, cmd.kind as CommandKind, sink);
  }

  /** R1's dispatch by kind (preTrade). */
  private dispatch(cmd: CommandRecord, kind: CommandKind, sink: EventSink): boolean {
    const s = this.s;
    switch (kind) {
      case CommandKind.PlaceOrder:
        return placeOrder(s, cmd, sink);
      case CommandKind.ReplaceOrder:
        return replaceOrder(s, cmd, sink);
      case CommandKind.CancelOrder:
      case CommandKind.CancelAll:
        return cancelOrder(s, cmd, sink);
      case CommandKind.SetMarketState:
        return setMarketState(s, cmd, sink);
      case CommandKind.AdvanceTime:
        return advanceTime(s, cmd, sink);
      case CommandKind.Deposit:
        deposit(s, cmd, sink);
        return false;
      case CommandKind.Withdraw:
        withdraw(s, cmd, sink);
        return false;
      case CommandKind.Transfer:
        transfer(s, cmd, sink);
        return false;
      case CommandKind.UpdateAccountSettings:
        updateSettings(s, cmd, sink);
        return false;
      case CommandKind.SetMarkPrice:
        setMarkPrice(s, cmd, sink);
        return false;
      case CommandKind.OracleQuote:
        return oracleQuote(s, cmd, sink); // a passed quote goes on to every matching shard's replica (engine.ts P3)
      case CommandKind.Borrow:
      case CommandKind.Repay:
      case CommandKind.Lend:
      case CommandKind.Redeem:
        manualPoolAction(s, cmd, sink);
        return false;
      case CommandKind.QueryCollateral:
      case CommandKind.QueryMaxOrder:
      case CommandKind.QueryMaxWithdrawal:
      case CommandKind.QueryPoolStats:
      case CommandKind.QueryRateCurve:
      case CommandKind.QueryInterestHistory:
      case CommandKind.QueryMaxBorrow:
      case CommandKind.QueryPositions:
      case CommandKind.QueryOpenInterest:
      case CommandKind.QueryLiquidationHistory:
      case CommandKind.QueryInsuranceFund:
      case CommandKind.QueryInsuranceHistory:
      case CommandKind.QuerySettlementHistory:
      case CommandKind.QueryFundingHistory:
      case CommandKind.QueryFundingRateHistory:
      case CommandKind.QueryLenderLosses:
        queries.answerQuery(s, kind, cmd, sink);
        return false;
      case CommandKind.RegisterApiKey:
      case CommandKind.RevokeApiKey:
        // X6: the gateway keeps the key registry (from these journaled commands); the engine only acknowledges them.
        acknowledged(s, cmd, sink);
        return false;
      case CommandKind.None:
      case CommandKind.SetOraclePrice:
      case CommandKind.MarketBandInputs:
      case CommandKind.LiquidationTransfer: // Q3/Q4: made in phase 0 only, never taken from a journal
        rejectUnknownCommand(s, cmd, sink);
        return false;
      default:
        return this.unknownCommand(kind, cmd, sink);
    }
  }

  /** Every kind is listed above (`never` here); a number outside CommandKind is refused at run time. */
  private unknownCommand(_kind: never, cmd: CommandRecord, sink: EventSink): false {
    rejectUnknownCommand(this.s, cmd, sink);
    return false;
  }

  /** R2: apply one matching event (fills, done, rejects, acceptances) and pass it on to the client stream. */
  postTrade(e: EventRecord, sink: EventSink): void {
    const s = this.s;
    const kind = e.kind as EventKind;
    switch (kind) {
      case EventKind.Fill:
        applyFill(s, e, sink);
        return;
      case EventKind.LiquidationTransfer:
        publishPendingPositions(s, sink); // P1 position reports: the fills' state before anything else moves it
        applyLiquidationTransfer(s, e, sink); // Q3/Q4: a position leg, like a fill at its price, fee 0
        return;
      case EventKind.OrderDone:
      case EventKind.OrderRejected:
        if (s.owns(e.account)) endOrder(s, e, sink);
        return;
      case EventKind.None:
      case EventKind.OrderAccepted:
      case EventKind.Balance:
      case EventKind.Clock:
      case EventKind.CommandAccepted:
      case EventKind.CommandRejected:
      case EventKind.AccountSettings:
      case EventKind.AccountCollateral:
      case EventKind.AssetCollateral:
      case EventKind.MaxOrderQuantity:
      case EventKind.MaxWithdrawalQuantity:
      case EventKind.PoolStats:
      case EventKind.RateCurvePoint:
      case EventKind.InterestEntry:
      case EventKind.MaxBorrowQuantity:
      case EventKind.IndexPrice:
      case EventKind.LiquidationStarted:
      case EventKind.LiquidationEnded:
      case EventKind.Settlement:
      case EventKind.Position:
      case EventKind.OpenInterest:
      case EventKind.InsuranceFund:
      case EventKind.InsuranceEntry:
      case EventKind.FundingPayment:
      case EventKind.Socialization:
      case EventKind.SocializedLoss:
        if (s.owns(e.account)) sink.publish(e);
        return;
      // P3/P4 from matching's settlement phase (engine.ts decision P3), to every risk shard; shard 0 publishes.
      case EventKind.MarkPrice:
        publishPendingPositions(s, sink); // P1 position reports: at the mark the fills were made under
        applyMarkPrice(s, e, sink);
        autoRealizeAtMark(s, e.market, sink); // P5 autoRealizePnl: gains realized at every mark update
        return;
      case EventKind.FundingRate:
        publishPendingPositions(s, sink); // P1 position reports: before the interval end's payments
        if (s.shardIndex === 0) sink.publish(e);
        recordFundingRate(s, e);
        startFunding(s, e, sink); // P4, D2(b): this shard's own positions pay and receive from phase 3b on (P5S)
        return;
      default:
        this.passOn(kind, e, sink);
    }
  }

  /** Every kind is listed above (`never` here); a number outside EventKind passes on as the others do. */
  private passOn(_kind: never, e: EventRecord, sink: EventSink): void {
    if (this.s.owns(e.account)) sink.publish(e);
  }

  /**
   * Phase 0 of batch `batch` (engine.ts decisions D3 and "Q4/Q5 lenders (as built)"): Q4's bankruptcies and Q5's lender
   * ADL (liquidation-lenders.ts; their events to `sink`), then this shard's engine commands for its liquidating
   * accounts — a CancelAll for one with resting orders, else one IOC book step (liquidation-steps.ts) — then P6 (3)'s
   * collateral conversions (settlement-conversions.ts), handed to `out`.
   */
  beginBatch(batch: number, out: EngineCommandOut, sink: EventSink): void {
    const s = this.s;
    // Q4 ADL across shards: the ready demands' covers and legs, before anything else spends the fund (adl-across-shards.ts).
    if (s.adl.ready.length !== 0) planReady(s);
    // Q4/Q5 first (liquidation-lenders.ts): bankruptcies resolved, lent collateral redeemed or lender ADL, new bankruptcies.
    // Q4: both halves spend one cover budget (engine.ts "Q4 one cover budget (as built)"): the lenders' first.
    const lenderWork = s.liquidation.liquidating.size !== 0 || s.lenders.pending.size !== 0 || s.lenders.transitQuote !== 0n;
    if (lenderWork || s.lenderAdl.ready.length !== 0) lenderPhase0(s, sink);
    const sent = s.liquidation.liquidating.size !== 0 ? createEngineOrders(s, batch, out) : 0;
    // P6 (3): the settlement borrows of the last batch, converted through the book (settlement-conversions.ts).
    if (s.conversions.due.size !== 0) s.conversions.place(s, batch, sent, out);
  }

  /**
   * This batch's own pool deltas, per asset, then its open-interest deltas, per market (P1: the change of Σ longs of
   * its own accounts in PoolDelta.cash), valid until endBatch.
   */
  poolDeltas(): readonly PoolDelta[] {
    return this.s.batchDeltas;
  }

  /** Applies another risk shard's deltas of this batch (shard order, never this shard's own): pools, open interest. */
  applyRemotePoolDeltas(deltas: readonly PoolDelta[]): void {
    const s = this.s;
    s.pools.applyRemote(deltas);
    const assets = s.assetCount;
    for (let m = 0; m < s.openInterest.length; m++) s.openInterest[m] = s.openInterest[m]! + deltas[assets + m]!.cash;
    s.insurance.applyRemote(deltas, assets + s.openInterest.length);
    s.lenders.applyRemote(deltas, assets + s.openInterest.length + s.insurance.deltas.length); // Q4
    const relayFirst = assets + s.openInterest.length + s.insurance.deltas.length + s.lenders.deltas.length;
    s.relay.applyRemote(deltas, relayFirst); // Q3
    s.adl.applyRemote(deltas, relayFirst + s.relay.deltas.length); // Q4 ADL across shards
    s.lenderAdl.applyRemote(deltas, relayFirst + s.relay.deltas.length + s.adl.deltas.length); // Q5 across shards
  }

  /**
   * Phase 3b (engine.ts D2(b)(c) as spread by P5S), after R2 and before the pool merge: a batch whose clock crossed a
   * 10 s mark starts a P5 realization pass; then at most PASS_VISITS_PER_BATCH_MAX holder visits go to pending P4
   * payments (funding.ts) first, the realization pass (realization.ts) with the rest, at the batch's marks. Their pool
   * actions merge in phase 4.
   */
  settle(sink: EventSink): void {
    const s = this.s;
    publishPendingPositions(s, sink); // P1 position reports (as built): R2's fills, one report per position
    startRealizationAtTick(s);
    const funded = advanceFunding(s, PASS_VISITS_PER_BATCH_MAX, sink);
    advanceRealization(s, PASS_VISITS_PER_BATCH_MAX - funded, sink);
    if (s.liquidation.pendingAccounts.length !== 0) settleTransfers(s, sink); // Q3/Q4 covers, takeovers' assets
    if (relays(s)) relayBackstopStatus(s); // Q3 across shards: the backstop's owner reports it for the merge
    if (s.adl.pending.length !== 0) publishOffers(s); // Q4 ADL across shards: this shard's candidates for the demands
    // Q5 across shards, last: the lenders' confirmations and this shard's borrowers (adl-lenders-across-shards.ts).
    if (s.lenderAdl.pending.length !== 0) publishLenderAdl(s, lenderQuoteAsset(s));
  }

  /**
   * Would the next batch change anything here if it held read-only queries alone? Its phase 0 (beginBatch's own
   * tests, D3: an ADL demand ready, liquidating accounts, lenders' work or transit, lender ADL ready, conversions due),
   * a spread P4/P5 pass (P5S), or phase 3b's Q3/Q4 transfers and cross-shard relays and offers (settle). The
   * sequencer leaves such a batch out of the journal only when no shard says so (gateway/sequencer.ts).
   */
  get idleBatchActs(): boolean {
    const s = this.s;
    return (
      s.adl.ready.length !== 0 ||
      s.liquidation.liquidating.size !== 0 ||
      s.lenders.pending.size !== 0 ||
      s.lenders.transitQuote !== 0n ||
      s.lenderAdl.ready.length !== 0 ||
      this.passesPending ||
      s.liquidation.pendingAccounts.length !== 0 ||
      relays(s) ||
      s.adl.pending.length !== 0 ||
      s.lenderAdl.pending.length !== 0
    );
  }

  /** P5S: does this shard have funding payments or a realization pass left (batches must keep coming)? */
  get passesPending(): boolean {
    return this.s.passes.pending || this.s.conversions.due.size !== 0; // P6 (3): a conversion waits for phase 0
  }

  /**
   * The batch end (after the merge): hourly interest for every hour mark the clock crossed (L5); then phase 5 (D2):
   * Q1 re-evaluates the accounts the batch touched and publishes each change of liquidation status to `sink`.
   */
  endBatch(sink: EventSink): void {
    const s = this.s;
    relayBatchEnd(s, sink); // Q3 across shards: the replicated headroom, the backstop's credit (before the payouts)
    if (adlAcrossShards(s)) s.adl.roll(); // Q4 ADL across shards: demands and offers move on a batch
    if (adlAcrossShards(s)) {
      s.lenderAdl.roll(); // Q5 across shards: the lenders' demands, confirmations and offers
      s.lenderAdl.reservedRedemptions(s.pools.redemptionReserved); // ... and the redemptions reserved for the next batch
    }
    lenderBatchEnd(s, sink); // Q4: the batch's write-downs and lender payouts, every shard alike (before interest)
    s.pools.endBatch(s.nowMs);
    for (const d of s.openInterestDeltas) d.cash = 0n;
    s.insurance.endBatch(s.nowMs);
    s.liquidation.endTransfers();
    evaluateLiquidations(s, sink);
    s.clockAtBatchStartMs = s.nowMs; // D2(c): the next batch's 10 s crossing is judged from here
  }

  /** Q6: rows of the account's liquidation history (tests). */
  liquidationHistoryCount(accountId: number): number {
    return this.s.liquidationHistory.count(accountId);
  }

  /** Q6/D4: this shard's replica of the insurance fund's balance of `asset` (Σ of every slice; exact at a boundary). */
  insuranceFund(asset: number): bigint {
    return this.s.insurance.balances[asset]!;
  }

  /** P4/P5S: Σ of the funding payments this shard's holders still owe for market m's pending interval (funding.ts). */
  fundingInTransit(market: number): bigint {
    return fundingInTransit(this.s, market);
  }

  /** Q4: the fund's capital of `asset` — its balance less the realized PnL in transit to open positions. */
  insuranceCapital(asset: number): bigint {
    return this.s.insurance.capital(asset);
  }

  /** Q6/D4: this shard's replica of the insurance fund's history (asset < 0: every asset). */
  insuranceHistory(asset: number, fromMs: number, limit: number): InsuranceRow[] {
    return this.s.insurance.rows(asset, fromMs, limit);
  }

  /** Q4: open bankruptcies (Σ over every shard as of the last boundary): withdrawals wait while any is. */
  openBankruptcies(): number {
    return this.s.lenders.openBankruptcies;
  }

  /** Q3 across shards: the backstop's replicated headroom as of the last boundary (backstop-relay.ts). */
  /** Q4 ADL across shards: the replicated demands and offers as of the last boundary (adl-relay.ts; tests). */
  adlRelayed(): { pending: string[]; ready: string[]; offers: string[] } {
    const adl = this.s.adl;
    return {
      pending: adl.pending.map((d) => `${d.account}:${d.market}:${d.quantity}:${d.deficit}`),
      ready: adl.ready.map((d) => `${d.account}:${d.market}:${d.quantity}:${d.deficit}`),
      offers: adl.offers.map((o) => `${o.account}:${o.market}:${o.quantity}:${o.costBasis}:${o.netEquityUsd}`),
    };
  }

  /** Q5 lender ADL across shards: the replicated demands and offers as of the last boundary (adl-lender-relay.ts; tests). */
  lenderAdlRelayed(): { pending: string[]; ready: string[]; offers: string[] } {
    const r = this.s.lenderAdl;
    return {
      pending: r.pending.map((d) => `${d.account}:${d.asset}:${d.quantity}${d.redeem ? ":redeem" : ""}`),
      ready: r.ready.map((d) => `${d.account}:${d.asset}:${d.quantity}:${d.shares}`),
      offers: r.offers.map((o) => `${o.account}:${o.asset}:${o.borrowQuantity}:${o.freeQuote}`),
    };
  }

  backstopRelayed(): { usedUsd: bigint; liquidating: boolean } {
    return { usedUsd: this.s.relay.usedUsd, liquidating: this.s.relay.liquidating };
  }

  /** Q4: this shard's USDC lender payouts in transit (Σ over the shards: the last payouts' rounding remainder). */
  lenderTransit(): bigint {
    return this.s.lenders.transitQuote;
  }

  /** S5: users of this shard with a fee-volume record (made at a user's first fill: fees.ts). */
  volumeUsers(): number {
    return this.s.volumes.size;
  }

    /** Q1: the liquidating accounts of this shard, in id order. */
  liquidatingAccounts(): number[] {
    return this.s.liquidation.liquidatingSorted();
  }

  /** Q2 → Q3/Q4: the account's book-liquidation stall (batches without a liquidation fill, last NoStepReason), or
   * null when it made progress or is not liquidating. */
  liquidationStall(account: number): { batches: number; reason: number } | null {
    const entry = this.s.liquidation.stalled.get(account);
    return entry === undefined ? null : { batches: entry.batches, reason: entry.reason };
  }

  /** Q1 index: entries for `asset` (tests, bench). */
  liquidationIndexSize(asset: number): number {
    return this.s.liquidation.indexedCount(asset);
  }

  /** Q1 index: how many accounts a move of `asset`'s mark to `mark` would re-evaluate (bench: the lookup alone). */
  liquidationIndexCandidates(asset: number, mark: bigint): number {
    let n = 0;
    this.s.liquidation.forEachOutsideBand(asset, mark, this.s.pools.pools[asset]!.borrowIndex, () => void n++);
    return n;
  }

  /** Q1 index: the accounts (id order) a batch end would re-evaluate for `asset` at `mark` — after a move of its
   * mark (`markMoved`), or after an accrual of its borrow index alone (tests). */
  liquidationIndexVisits(asset: number, mark: bigint, markMoved: boolean): number[] {
    const ids = new Set<number>();
    this.s.liquidation.forEachOutsideBand(asset, mark, this.s.pools.pools[asset]!.borrowIndex, (id) => void ids.add(id), markMoved);
    return [...ids].sort((a, b) => a - b);
  }

  /** X7: the shard's snapshot section (shard-snapshot.ts), at a batch boundary after endBatch. */
  writeSnapshot(w: SnapshotWriter): void {
    writeShardSnapshot(this.s, w);
  }

  /** Restores a fresh shard (same config, index and shard count) from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    restoreShardSnapshot(this.s, r);
  }

  /** Lending test seam (lending-actions.ts): moves slots without a pool. */
  applyPoolMovement(accountId: number, asset: number, movement: PoolMovement, amount: bigint, seq = 0, sink: EventSink | null = null): boolean {
    return applyPoolMovement(this.s, accountId, asset, movement, amount, seq, sink);
  }

  // ---- reads (queries.ts, invariants.ts; off the hot path) ----

  maxOrderQuantity(accountId: number, marketId: number, side: Side, price: bigint, flags: number): MaxQuantity {
    return queries.maxOrderQuantity(this.s, accountId, marketId, side, price, flags);
  }
  maxWithdrawalQuantity(accountId: number, asset: number, flags: number): MaxQuantity {
    return queries.maxWithdrawalQuantity(this.s, accountId, asset, flags);
  }
  maxBorrowQuantity(accountId: number, asset: number): MaxQuantity & { poolLimit: bigint } {
    return queries.maxBorrowQuantity(this.s, accountId, asset);
  }
  interestHistory(accountId: number, asset: number, fromMs: number, limit: number): { asset: number; kind: InterestKind; amount: bigint; rate: bigint; timeMs: number }[] {
    return queries.interestHistory(this.s, accountId, asset, fromMs, limit);
  }
  /** P1: the account's position report in perpetual market `market`. */
  perpPosition(accountId: number, market: number): PositionReport {
    return queries.positionReport(this.s, accountId, market);
  }
  /** P1: the account's raw position (cost basis in base units × PRICE_DECIMALS; X1 model tests), null = none. */
  perpState(accountId: number, market: number): Readonly<PerpPosition> | null {
    return this.s.accounts.get(accountId)?.perps?.positions[market] ?? null;
  }
  /** P1: this shard's replica of the market's open interest (Σ longs, base units; exact at batch boundaries). */
  openInterest(market: number): bigint {
    return this.s.openInterest[market]!;
  }
  /** P6: USDC the account owes unsettled. */
  unsettledUsdc(accountId: number): bigint {
    return this.s.accounts.get(accountId)?.unsettledUsdc ?? 0n;
  }
  collateralStatement(accountId: number): CollateralStatement {
    return queries.collateralStatement(this.s, accountId);
  }
  balance(account: number, asset: number): { available: bigint; locked: bigint } {
    return queries.balance(this.s, account, asset);
  }
  poolBalance(account: number, asset: number): { lent: bigint; borrowed: bigint } {
    return queries.poolBalance(this.s, account, asset);
  }
  positionOf(account: number, asset: number): { lendShares: bigint; borrowShares: bigint } {
    return queries.positionOf(this.s, account, asset);
  }
  /** The margin state of an account, synced (an account never seen: a fresh empty one). */
  accountMargin(account: number): AccountMargin {
    return this.s.accountOrEmpty(account).syncedMargin();
  }
  settingsOf(account: number): { settings: number; leverageLimit: number } {
    return queries.settingsOf(this.s, account);
  }
  feeTierOf(account: number): { tier: number; volumeUsd: bigint } {
    return queries.feeTierOf(this.s, account);
  }
  markOf(asset: number): bigint {
    return this.s.marginContext.assetMark[asset]!;
  }
  feeBalance(asset: number): bigint {
    return this.s.feeAccount.available[asset]!;
  }
  /** D4: this shard's slice of the insurance fund in `asset` (may be negative; the fund is the sum of the slices). */
  insuranceBalance(asset: number): bigint {
    return this.s.insuranceAccount.available[asset]!;
  }
  accountIds(): number[] {
    return accountIds(this.s);
  }
  /** X7: restored holds whose record is not made yet (HoldTable: made on first read; tests). */
  get holdRecordsPending(): number {
    return this.s.holds.recordsPending;
  }
  /** X7: restored accounts still kept as bytes (AccountMap: made on first read; tests). */
  get accountsPending(): number {
    return this.s.accounts.pendingCount;
  }
  totals(): bigint[] {
    return totals(this.s);
  }
  validateInternalState(): void {
    validateInternalState(this.s);
  }
  stateHash(): string {
    return stateHash(this.s);
  }
}
