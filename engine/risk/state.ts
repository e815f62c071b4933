// The risk shard's state (the bottom layer of engine/risk): its accounts, holds, clientId index, fee account, clock,
// marks, fee volumes, pool replicas, the reused records every command works in, and tiny accessors. Every layer above
// reads and writes this one object; nothing here writes an event or decides a rule.
//
// Layers (each imports only those below it): state → replies (events and reject texts) → checks (read-only, fill a
// plan) and funds (shared money movements) → handlers (account-commands, pre-trade, post-trade, lending-actions,
// queries, invariants, shard-snapshot) → shard (dispatch only).
import type { Ratio } from "../fixed/index.ts";
import { EventKind, EventRecord, MarketKind, RATIO_SCALE, type ExchangeConfig, type FeeTier } from "../model/index.ts";
import { ACCOUNTS_PER_SHARD_MAX, FEE_ACCOUNT, FUNDING_RATE_HISTORY_MAX, INSURANCE_FUND_ACCOUNT, LEVERAGE_LIMIT_MAX, OPEN_ORDERS_PER_ACCOUNT_MAX, userOf } from "../model/index.ts";
import { Account, AccountPerps, riskShardOf } from "./accounts.ts";
import { AccountMap } from "./account-map.ts";
import { ClientIdIndex } from "../collections/index.ts";
import { FundingRateLog } from "./histories.ts";
import { dayOf, VolumeBook } from "./fees.ts";
import { HoldTable } from "./holds.ts";
import { PoolAction, PoolDelta } from "../lending/index.ts";
import { FillEffect, LiquidationPriceInputs, LiquidationPriceResult, openRealizedPnl, UsdcCreditPlan, UsdcDebitPlan } from "../perps/index.ts";
import { AccountMargin, MarginChanges, MarginContext } from "./margin/index.ts";
import { OracleBook } from "../perps/index.ts";
import { LiquidationBook, MARK_MOVED_PRICE } from "./liquidation-book.ts";
import { LiquidationHistory } from "./liquidation-history.ts";
import { InsuranceLedger } from "./insurance.ts";
import { LenderBook } from "./lender-book.ts";
import type { LiquidationParams } from "../liquidation/index.ts";
import { PoolBook } from "./pools.ts";
import { SettlementPasses } from "./passes.ts";
import { SettlementConversions } from "./settlement-conversions.ts";
import { BackstopRelay } from "./backstop-relay.ts";
import { AdlRelay } from "./adl-relay.ts";
import { LenderAdlRelay } from "./adl-lender-relay.ts";
import { SortedIdSet } from "./sorted-ids.ts";

/** Named limits (TigerBeetle: a limit on everything), each with a typed reject. */
export const RISK_LIMITS = {
  openOrdersPerAccountMax: OPEN_ORDERS_PER_ACCOUNT_MAX,
  accountsPerShardMax: ACCOUNTS_PER_SHARD_MAX,
} as const;

/** Upper end of a margin-only max-withdrawal search (every engine amount is an int64). */
export const WITHDRAWAL_SEARCH_MAX = (1n << 62n) - 1n;

/** Which reject text a failed order check means (the code alone does not say which field was wrong). */
export const OrderDetail = {
  None: 0,
  NegativeField: 1,
  LimitNeedsPriceAndQuantity: 2,
  MarketBuyNeedsQuantity: 3,
  MarketBuyNothingSpendable: 4,
  SellNeedsQuantity: 5,
  /** A perpetual order needs a base quantity (a market order by quote quantity only is a spot order). */
  PerpNeedsQuantity: 6,
  /** P1: the order's opening part would raise the market's open interest above its openInterestLimit. */
  OpenInterestLimit: 7,
} as const;
export type OrderDetail = (typeof OrderDetail)[keyof typeof OrderDetail];

/**
 * What the pre-trade check of one order decided (S1, S2, S4, C4), filled by checks.checkOrder and read by
 * funds.takeHold: one record per shard, reset at the start of every check (no allocation per order).
 */
export class OrderPlan {
  /** The asset the order spends and holds, and how much of it (the hold plus what fills may borrow). */
  asset = 0;
  need = 0n;
  /** Lent units of `asset` redeemed at acceptance (S4/L11), and units the fills may borrow (S2). */
  redeem = 0n;
  borrow = 0n;
  /** The pool's plan of that redemption (pools.checkRedeem fills it, pools.applyRedeem commits it). */
  readonly redeemPlan = new PoolAction();
  /** The asset the order receives, its full-fill proceeds after the taker fee, and the part credited while it rests. */
  inflowAsset = 0;
  inflow = 0n;
  inflowCredit = 0n;
  /** Do the proceeds repay a borrow of the received asset (S3, L10)? */
  inflowRepays = false;
  /** A market buy by base quantity: the spend cap matching must stop at (0 = leave the command's). */
  quoteCap = 0n;
  /** The reject text a failed check means (OrderDetail), beside its code. */
  detail: OrderDetail = OrderDetail.None;

  reset(inflowAsset: number): void {
    this.asset = 0;
    this.need = 0n;
    this.redeem = 0n;
    this.borrow = 0n;
    this.inflowAsset = inflowAsset;
    this.inflow = 0n;
    this.inflowCredit = 0n;
    this.inflowRepays = false;
    this.quoteCap = 0n;
    this.detail = OrderDetail.None;
  }
}

/** P6/P7: which step of the USDC waterfall a settlement row records. */
export const SettlementStep = {
  /** Paid from the available USDC balance. */
  FromBalance: 0,
  /** (1) Lent USDC redeemed and paid. */
  RedeemLent: 1,
  /** (2) USDC borrowed under autoBorrowSettlements (the pool below its throttle). */
  Borrow: 2,
  /** What (1)–(2) left, borrowed ignoring the throttle (forcedSettlementBorrow). */
  ForcedBorrow: 3,
  /** What no borrow could cover (the pool had no cash): owed as unsettled USDC (C3), paid from the next credit. */
  Unsettled: 4,
  /** A credit paid unsettled USDC first. */
  PayUnsettled: 5,
  /** P7: a credit repaid a USDC borrow. */
  RepayBorrow: 6,
  /** P7: a credit was lent (autoLend). */
  Lend: 7,
  /** A credit arrived in the available balance. */
  ToBalance: 8,
  /** (3) Collateral sold through the book (CollateralConversion, the batch after the debit): the USDC it raised,
   * which repaid the settlement's borrow (settlement-conversions.ts). */
  Convert: 9,
} as const;
export type SettlementStep = (typeof SettlementStep)[keyof typeof SettlementStep];

/**
 * P6/P7: what a settlement row settles — a trading fee, a fill's realized PnL (RealizedPnl), a funding payment (P4), a
 * liquidation fee (Q2), P5's 10-second realization or autoRealizePnl (Realization), or the insurance fund's cover of a
 * liquidated account's deficit (Q3/Q4, InsuranceCover).
 */
export const SettlementReason = { Fee: 0, RealizedPnl: 1, Funding: 2, LiquidationFee: 3, Realization: 4, InsuranceCover: 5 } as const;
export type SettlementReason = (typeof SettlementReason)[keyof typeof SettlementReason];

/** Most settlement rows one fill writes: per side, a PnL and a fee settlement of at most 4 steps each. */
export const SETTLEMENT_ROWS_MAX = 16;

/**
 * The settlement rows (P6/P7 steps) of the fill being applied, in order: written while the fill moves the money,
 * published after the Fill event (one reused buffer, no allocation per fill).
 */
export class SettlementRows {
  length = 0;
  readonly account = new Array<number>(SETTLEMENT_ROWS_MAX).fill(0);
  readonly market = new Array<number>(SETTLEMENT_ROWS_MAX).fill(0);
  readonly asset = new Array<number>(SETTLEMENT_ROWS_MAX).fill(0);
  readonly reason = new Array<number>(SETTLEMENT_ROWS_MAX).fill(0);
  readonly step = new Array<number>(SETTLEMENT_ROWS_MAX).fill(0);
  readonly amount = new Array<bigint>(SETTLEMENT_ROWS_MAX).fill(0n);

  add(account: number, market: number, asset: number, reason: SettlementReason, step: SettlementStep, amount: bigint): void {
    const i = this.length;
    if (i === SETTLEMENT_ROWS_MAX) throw new Error(`risk invariant: more than ${SETTLEMENT_ROWS_MAX} settlement rows for one fill`);
    this.account[i] = account;
    this.market[i] = market;
    this.asset[i] = asset;
    this.reason[i] = reason;
    this.step[i] = step;
    this.amount[i] = amount;
    this.length = i + 1;
  }
}

/**
 * P1 position reports (engine.ts "P1 position reports (as built)"): the (account, market) pairs R2's fills changed
 * and not yet reported, in the order first changed, each with the seq of its latest fill. Published at the end of
 * R2 (RiskShard.settle), or earlier before R2 applies a mark, a funding rate or a liquidation transfer; empty at every
 * batch boundary, so neither snapshot nor state hash carries it. A pair is listed once: AccountPerps.reportAt[m] is
 * its index + 1 while listed.
 */
export class PendingPositionReports {
  length = 0;
  readonly accounts: Account[] = [];
  readonly markets: number[] = [];
  readonly seqs: number[] = [];

  /** `account`'s position in market m changed by a fill of command `seq`: listed, or its listed seq moved on. */
  note(account: Account, perps: AccountPerps, m: number, seq: number): void {
    const at = perps.reportAt[m]!;
    if (at !== 0) {
      this.seqs[at - 1] = seq;
      return;
    }
    const i = this.length++;
    if (i < this.accounts.length) {
      this.accounts[i] = account;
      this.markets[i] = m;
      this.seqs[i] = seq;
    } else {
      this.accounts.push(account);
      this.markets.push(m);
      this.seqs.push(seq);
    }
    perps.reportAt[m] = i + 1;
  }
}

/** One asset row of a collateral statement (C1, C2): units, USD at PRICE_DECIMALS, weight as a ratio (1e18). */
export interface AssetCollateral {
  readonly asset: number;
  /** available + locked + lent − borrowed. */
  readonly quantity: bigint;
  readonly available: bigint;
  /** Held by open orders: the asset's open-order quantity. */
  readonly locked: bigint;
  readonly lent: bigint;
  readonly borrowed: bigint;
  readonly markUsd: bigint;
  readonly weight: Ratio;
  /** |quantity| × mark, rounded down. */
  readonly notionalUsd: bigint;
  readonly collateralValueUsd: bigint;
  readonly liabilityUsd: bigint;
}

/** The collateral statement of an account (C2–C9, A3, S5). Ratios at 1e18; UNBOUNDED where C7 says so. */
export interface CollateralStatement {
  readonly account: number;
  readonly netEquityUsd: bigint;
  readonly netEquityAvailableUsd: bigint;
  readonly netEquityLockedUsd: bigint;
  readonly collateralValueUsd: bigint;
  readonly liabilityUsd: bigint;
  readonly unrealizedPnlUsd: bigint;
  /** C4: total exposure notional. */
  readonly exposureUsd: bigint;
  readonly imf: Ratio;
  readonly mmf: Ratio;
  readonly marginFraction: Ratio;
  readonly imr: Ratio;
  readonly mmr: Ratio;
  /** C9: MMR ≥ 100%. */
  readonly liquidatable: boolean;
  readonly leverageLimit: number;
  readonly settings: number;
  readonly feeTier: number;
  readonly makerFeeBps: number;
  readonly takerFeeBps: number;
  readonly volume30dUsd: bigint;
  /** Assets with any non-zero balance slot, by asset id. */
  readonly assets: readonly AssetCollateral[];
}

/** P1: what a position reports (prices quote per base and USD amounts at PRICE_DECIMALS, PnL in settlement units,
 * imf/mmf ratios at 1e18; estLiquidationPrice 0 = none). */
export interface PositionReport {
  readonly account: number;
  readonly market: number;
  readonly netQuantity: bigint;
  readonly entryPrice: bigint;
  readonly breakEvenPrice: bigint;
  readonly markPrice: bigint;
  readonly pnlUnrealized: bigint;
  readonly pnlRealized: bigint;
  readonly cumulativeFundingPayment: bigint;
  readonly netExposureQuantity: bigint;
  readonly netExposureNotionalUsd: bigint;
  readonly imf: Ratio;
  readonly mmf: Ratio;
  readonly estLiquidationPrice: bigint;
}

/** A PositionReport whose fields the report writes in place (RiskState.positionOut: the reports R2 and the batch end
 * publish at once, one record for all). */
export class PositionReportRecord implements PositionReport {
  account = 0;
  market = 0;
  netQuantity = 0n;
  entryPrice = 0n;
  breakEvenPrice = 0n;
  markPrice = 0n;
  pnlUnrealized = 0n;
  pnlRealized = 0n;
  cumulativeFundingPayment = 0n;
  netExposureQuantity = 0n;
  netExposureNotionalUsd = 0n;
  imf: Ratio = 0n;
  mmf: Ratio = 0n;
  estLiquidationPrice = 0n;
}

/** A C10 answer: `quantity` is what the real check accepts now; `marginLimit` what the margin check alone allows. */
export interface MaxQuantity {
  readonly quantity: bigint;
  readonly marginLimit: bigint;
}

/** Everything one risk shard owns. Single-threaded: the reused records hold one command's work at a time. */
export class RiskState {
  /** X7: a restored account may be kept as bytes until first read (account-map.ts). */
  readonly accounts = new AccountMap();
  readonly holds = new HoldTable();
  /** Open orders by client id, for cancel-replace by client id. */
  readonly byClientId = new ClientIdIndex(1024);
  readonly assetCount: number;
  /** Exchange fee account balances collected by this shard, per asset. */
  readonly feeAccount: Account;
  /**
   * D4: this shard's slice of the insurance fund, per asset (P4 funding rounding remainders). A slice may go negative
   * (a shard whose own positions only receive); the fund is the sum of the slices.
   */
  readonly insuranceAccount: Account;
  /** Q6/D4: the insurance fund's replicated balance (Σ slices) and history (insurance.ts; creditInsurance writes both). */
  readonly insurance: InsuranceLedger;
  /** Q4/Q5: open bankruptcies, lender payouts in transit and their phase-4 deltas (lender-book.ts). */
  readonly lenders: LenderBook;
  /** Q3 across risk shards: the backstop's replicated headroom and the takeovers' transit (backstop-relay.ts). */
  readonly relay: BackstopRelay;
  /** Q4 ADL across risk shards: the replicated demands and offers (adl-relay.ts). */
  readonly adl: AdlRelay;
  /** Q5 lender ADL across risk shards: the replicated demands and offers (adl-lender-relay.ts). */
  readonly lenderAdl: LenderAdlRelay;
  /** Q6: each own account's liquidation history (liquidation-history.ts). */
  readonly liquidationHistory = new LiquidationHistory();
  /**
   * P4: per perpetual market, this shard's accounts with a non-zero position (kept by post-trade's perp fills, rebuilt on
   * restore): the interval end pays exactly these, without scanning every account — in account-id order, from a
   * cursor (P5S: passes.ts).
   */
  readonly perpHolders: SortedIdSet[];
  /** P4/P5 spread over batches (engine.ts P5S): pending funding per market and the realization pass (passes.ts). */
  readonly passes: SettlementPasses;
  /** P6 (3): the accounts with a settlement borrow to convert through the book, and the batch's conversion orders. */
  readonly conversions = new SettlementConversions();
  /** P4: per market, the funding rates of its interval ends (empty for a spot market; histories.ts). */
  readonly fundingRates: FundingRateLog[];
  /** P5 autoRealizePnl: this shard's accounts with the setting on, sorted by id (realization.ts; rebuilt on restore). */
  readonly autoRealizeAccounts: number[] = [];
  /** The record every event but Balance is written in. */
  readonly out = new EventRecord();
  /** publishBalance's record (kind Balance; every other field stays at its initial zero). */
  readonly balanceOut = Object.assign(new EventRecord(), { kind: EventKind.Balance });
  /** publishSettlementRows's record (kind Settlement; the fields it sets are the only ones that change, so no clear()). */
  readonly settlementOut = Object.assign(new EventRecord(), { kind: EventKind.Settlement });
  /** publishPosition's record (kind Position; likewise). */
  readonly positionEventOut = Object.assign(new EventRecord(), { kind: EventKind.Position });
  /** The report the published Position events are written from (positionReportInto). */
  readonly positionOut = new PositionReportRecord();
  nowMs = 0;
  /** D2(c): the clock at the start of the running batch (nowMs at the last batch end; on restore, nowMs). */
  clockAtBatchStartMs = 0;
  /** Marks and margin constants shared by this shard's accounts (C). */
  readonly marginContext: MarginContext;
  readonly volumes: VolumeBook;
  readonly feeTiers: readonly FeeTier[];
  /** Scratch "what if" of the check being made. */
  readonly changes = new MarginChanges();
  /** The order check's plan (checks.checkOrder fills it, funds.takeHold reads it). */
  readonly order = new OrderPlan();
  /** The pool plan a risk check fills (pools.checkBorrow / checkRedeem) and the matching apply reads. */
  readonly poolPlan = new PoolAction();
  /** A3: highest leverage limit accepted (≤ 50 and ≤ the platform's). */
  readonly leverageLimitMax: number;
  /** SPEC L: this shard's replicas of the pools and its accounts' positions (see pools.ts for the batch rule). */
  readonly pools: PoolBook;
  /** P2: this shard's replica of the oracle's source quotes and indices (oracle-book.ts). */
  readonly oracle: OracleBook;
  /** Q1: the liquidating set, the accounts touched this batch and the safe-band index (liquidation-book.ts). */
  readonly liquidation: LiquidationBook;
  /** SPEC Q's parameters: the exchange config's "liquidation" (defaults: exit MMR 98%, …). */
  readonly liquidationParams: LiquidationParams;
  /**
   * P1 open interest per market (Σ longs, base units): the replica every risk shard keeps — the merged value at the
   * last batch boundary plus this shard's own fills of the batch. Each shard counts only its own accounts' change
   * (longPart after − before); the batch's changes travel with the pool deltas in phase 4 (openInterestDeltas, the
   * `cash` field of one PoolDelta per market after the assets' — see batchDeltas), so every replica agrees at each
   * boundary. Within a batch a shard does not see the others' fills: the limit check is exact with one risk shard and
   * may overshoot by what other shards open in the same batch with several.
   */
  readonly openInterest: bigint[];
  readonly openInterestDeltas: PoolDelta[];
  /** The pool deltas (one per asset), the open-interest deltas (one per market), the insurance deltas (one per
   * asset × InsuranceReason), then the lenders' (one per asset and the open-bankruptcy count), then the backstop
   * relay's (Q3 across shards: status, holdings and outgoing per asset), then the ADL relay's (Q4 across shards: each
   * shard's demand and offer slots): what phase 4 exchanges. */
  readonly batchDeltas: PoolDelta[];
  /** Reused records of the perpetual fill path (P1, P6, P7). */
  readonly fillEffect = new FillEffect();
  readonly debitPlan = new UsdcDebitPlan();
  readonly creditPlan = new UsdcCreditPlan();
  readonly settlementRows = new SettlementRows();
  /** P1: the positions R2's fills changed this batch, reported once each (PendingPositionReports). */
  readonly pendingPositions = new PendingPositionReports();
  /** P8's reused records (positions report). */
  readonly liquidationInputs = new LiquidationPriceInputs();
  readonly liquidationResult = new LiquidationPriceResult();
  /** A client account's margin state, made when first read, at the account's leverage limit then. */
  readonly createMargin = (account: Account): AccountMargin => new AccountMargin(this.marginContext, BigInt(account.leverageLimit) * RATIO_SCALE);

  constructor(
    readonly config: ExchangeConfig,
    readonly shardIndex: number,
    readonly shardCount: number,
  ) {
    this.assetCount = config.assets.length;
    this.feeAccount = new Account(FEE_ACCOUNT, this.assetCount, null, null);
    this.insuranceAccount = new Account(INSURANCE_FUND_ACCOUNT, this.assetCount, null, null);
    this.perpHolders = config.markets.map(() => new SortedIdSet());
    this.passes = new SettlementPasses(config.markets.length);
    this.fundingRates = config.markets.map(() => new FundingRateLog(FUNDING_RATE_HISTORY_MAX));
    this.marginContext = new MarginContext(config);
    this.volumes = new VolumeBook(config.feeTiers);
    this.feeTiers = config.feeTiers;
    const platformMax = Number(config.platformMaxLeverage / RATIO_SCALE);
    this.leverageLimitMax = platformMax < LEVERAGE_LIMIT_MAX ? platformMax : LEVERAGE_LIMIT_MAX;
    this.pools = new PoolBook(config, shardCount);
    this.pools.openPnlOf = (account) => this.openRealizedPnlOf(account);
    this.oracle = new OracleBook(config);
    this.liquidation = new LiquidationBook(this.assetCount);
    this.openInterest = config.markets.map(() => 0n);
    this.openInterestDeltas = config.markets.map(() => new PoolDelta());
    this.liquidationParams = config.liquidation;
    this.insurance = new InsuranceLedger(this.assetCount);
    this.lenders = new LenderBook(this.assetCount);
    this.relay = new BackstopRelay(this.assetCount);
    this.adl = new AdlRelay(shardIndex, shardCount, config.markets.length);
    this.lenderAdl = new LenderAdlRelay(shardIndex, shardCount, this.assetCount);
    this.batchDeltas = [
      ...this.pools.deltas, ...this.openInterestDeltas, ...this.insurance.deltas, ...this.lenders.deltas, ...this.relay.deltas, ...this.adl.deltas,
      ...this.lenderAdl.deltas,
    ];
  }

  /** P1/C4: the account's perpetual state, made on first use. */
  perpsOf(account: Account): AccountPerps {
    return account.perps ?? (account.perps = new AccountPerps(this.config.markets.length));
  }

  /** L14: Σ over the account's open positions of the PnL P5 has realized into USDC while they stayed open. */
  openRealizedPnlOf(account: Account): bigint {
    const perps = account.perps;
    if (perps === null) return 0n;
    const ctx = this.marginContext;
    let sum = 0n;
    for (let m = 0; m < perps.positions.length; m++) {
      const pos = perps.positions[m]!;
      if (pos.netQuantity !== 0n) sum += openRealizedPnl(pos, ctx.marketBaseDecimals[m]!, ctx.assetDecimals[this.config.markets[m]!.quoteAsset]!);
    }
    return sum;
  }

  /** C1: the USD mark of `asset` is now `price`; a perpetual on the asset follows it (quote at par). Accounts
   * revalue lazily (AccountMargin reads marks from the shared context). */
  setAssetMark(asset: number, price: bigint): void {
    this.marginContext.setAssetMark(asset, price);
    this.liquidation.markMoved[asset] |= MARK_MOVED_PRICE; // Q1: the batch end looks up the accounts this move may reach
    for (const m of this.config.markets) {
      if (m.kind === MarketKind.Perpetual && m.baseAsset === asset) this.marginContext.setMarketMark(m.id, price);
    }
  }

  /** Does this shard own `account`? */
  owns(account: number): boolean {
    return riskShardOf(account, this.shardCount) === this.shardIndex;
  }

  /** A client account with the default settings; `persistent` ones share their user's volume record (S5, made on its first fill). */
  newAccount(id: number, persistent: boolean): Account {
    const account = new Account(id, this.assetCount, this.createMargin, persistent ? this.volumes : null);
    if (persistent) account.touchedList = this.liquidation.touched; // Q1: stored accounts report their changes
    return account;
  }

  /** The account, synced to the pools; made (default settings) when new; null when the shard is full. */
  accountOrCreate(id: number): Account | null {
    let account = this.accounts.get(id);
    if (account === undefined) {
      if (this.accounts.size >= RISK_LIMITS.accountsPerShardMax) return null;
      account = this.newAccount(id, true);
      account.poolEpoch = this.pools.epoch;
      this.accounts.set(id, account);
    }
    this.pools.sync(account);
    return account;
  }

  /** The account, synced to the pools, or undefined when never funded. */
  syncedAccount(id: number): Account | undefined {
    const account = this.accounts.get(id);
    if (account !== undefined) this.pools.sync(account);
    return account;
  }

  /** The account as it stands, or a fresh empty one with the default settings (reads of never-seen accounts). */
  accountOrEmpty(id: number): Account {
    const account = this.accounts.get(id) ?? this.newAccount(id, false);
    this.pools.sync(account);
    return account;
  }

  /** S5: the taker fee of the account's user today. */
  takerBpsOf(accountId: number): number {
    return this.feeTiers[this.volumes.tierOf(userOf(accountId), dayOf(this.nowMs))]!.takerBps;
  }

  /** takerBpsOf(account.id), from the account's own volume record when it has one (the book's record of its user: no
   * look-up by user; every perpetual order's C8 check, pipeline.perp-order). */
  takerBpsOfAccount(account: Account): number {
    const u = account.volumeIfRead;
    if (u === null) return this.takerBpsOf(account.id);
    return this.feeTiers[this.volumes.roll(u, dayOf(this.nowMs)).tier]!.takerBps;
  }
}
