// The risk shard: single writer of its accounts' balances, settings, margin state and order holds — pre-trade checks
// (R1) and post-trade settlement of matching results (R2), exchange-core style.
//
// R1 (`preTrade`) sees every command addressed to one of its accounts in sequence order. Commands that only touch
// accounts (deposit, withdraw, transfer, settings, marks, queries) complete here; orders are checked, their funds are
// held, and they are handed on to matching. R2 (`postTrade`) applies what matching reports: fills move money between
// both sides and charge fees, done/reject releases what the order still holds. Money never appears or vanishes:
// every unit moves from one balance to another, fees go to the exchange's fee account (X1).
//
// ## Checks (SPEC A, C, S)
// - Every order, withdrawal, outgoing transfer and leverage change is a risk-increasing action: C8 refuses it when
//   the account's IMR would be ≥ 100% after it (INSUFFICIENT_MARGIN), unless it only reduces risk. An order is
//   judged by its full fill at its limit price with the taker fee (market orders: at the marks), valued at marks
//   (C10). The margin state is the incremental AccountMargin of each account, told of every change of an asset's
//   available, locked, lent and borrowed units and of its open orders' effect lazily, when next read. C4: an open
//   order is exposure from the moment it rests — what it may borrow at fill time (its hold's borrowMax) is owed, the
//   units it holds count as spent, and its proceeds are credited (all of them, or, for an order whose fill would
//   raise the available equity, only what offsets what it takes: creditUpToNeutral), so every check judges the
//   account as if all its open orders and the new action filled, and a cancel never takes room away. Exact
//   shortcut: an account that owes nothing and whose open orders cannot borrow has no exposure, and an action that
//   spends at most the available balance leaves it none, so C8 passes without evaluating (IMR 0 before and after);
//   the perpetuals issue must add open positions and perp orders to that condition (Account.hasNoBorrows).
// - S1: an order without the spot-margin flags needs, and holds, its full cost; the balance is checked first
//   (INSUFFICIENT_BALANCE), then C8.
// - S2/S3/S4 and SPEC L (pools.ts holds the replicas, the batch rule and the limits): an order with a spot-margin flag
//   needs `marginEnabled` (A3); with `autoBorrow` the margin check comes first (INSUFFICIENT_MARGIN). What an order
//   spends comes from the available balance, then the lent units of that asset (redeemed at acceptance, S4/L11), then —
//   with autoBorrow — a borrow at fill time of exactly the filled shortfall (S2), against pool capacity reserved at
//   acceptance (so a fill never fails a pool gate); the reservation is released as fills borrow and when the order
//   ends. Proceeds repay a debt of the received asset first for margin orders (S3) and with auto-lend on (L10), then
//   auto-lend (setting, or the order's autoLend flag for its proceeds) lends them (L12). Deposits, transfers in and
//   released holds are incoming balance too. Manual borrow / repay / lend / redeem are refused while auto-lend is on
//   (AUTO_LEND_ON, per the seeds). A manual borrow is judged by C8 as kept: the units held (collateral) and owed with
//   the entry fee (liability and position), so its max is about net equity × the asset's max borrow leverage (seed
//   002); spending or withdrawing them is judged when it happens. Its max (L8) and the max withdrawal bisect over the
//   real checks. A transfer out is funded and judged as a plain withdrawal (A2, L11: lent units are redeemed). autoRepayBorrows is
//   kept as a setting for the perpetuals' settlement (P6); incoming-balance repayment follows autoLend (L10).
//   `applyPoolMovement` stays as a test seam that moves slots without a pool.
// - S5: fees by the user's 30-day traded volume tier (VolumeBook), charged in the asset received, rounded up.
// - Queries (collateral statement, max order, max withdrawal) answer with events and change nothing. The max
//   answers run the same check as the real command (the C10 solvers bisect over it), so the max passes and one
//   step more is refused.
import { createHash } from "node:crypto";
import { formatDecimal, quoteAmount, Rounding, type Ratio } from "../fixed/index.ts";
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  ALL_ASSETS,
  CommandKind,
  EventKind,
  EventRecord,
  MarketKind,
  OrderFlag,
  OrderType,
  PRICE_SCALE,
  RATIO_SCALE,
  RejectCode,
  REPORTED_RATIO_UNBOUNDED,
  Side,
  SnapshotTag,
  SPOT_MARGIN_FLAGS,
  type CommandRecord,
  type EventSink,
  type ExchangeConfig,
  type FeeTier,
  type MarketConfig,
  type SnapshotReader,
  type SnapshotWriter,
} from "../model/index.ts";
import {
  Account,
  ACCOUNT_SETTINGS_ALL,
  FEE_ACCOUNT,
  isValidClientAccount,
  LEVERAGE_LIMIT_MAX,
  LEVERAGE_LIMIT_MIN,
  riskShardOf,
  userOf,
} from "./accounts.ts";
import { dayOf, quoteVolumeUsd, VolumeBook } from "./fees.ts";
import {
  borrowInterestForHour,
  InterestKind,
  lendInterestForHour,
  PoolDelta,
  poolStats,
  sampleRateCurve,
  entryFee as entryFeeOf,
  lentAmount as lentAmountOf,
  owedAmount as owedAmountOf,
} from "../lending/index.ts";
import { HoldTable, type OrderHold } from "./holds.ts";
import { PoolBook } from "./pools.ts";
import { restoreAccounts, restoreFeeAccount, restoreHolds, restoreMarks, writeAccounts, writeFeeAccount, writeHolds, writeMarks } from "./snapshot.ts";
import {
  AccountMargin,
  feeAmount,
  MarginChanges,
  MarginContext,
  initialMarginRatio,
  isLiquidatable,
  maintenanceMarginRatio,
  marginFraction,
  maxBorrow,
  maxSpotOrderQuantity,
  maxWithdrawal,
  spotTradeChanges,
  UNBOUNDED,
} from "./margin/index.ts";

/** Named limits (TigerBeetle: a limit on everything), each with a typed reject. */
export const RISK_LIMITS = {
  openOrdersPerAccountMax: 1000,
  accountsPerShardMax: 1_000_000,
} as const;

/** L13/L14 query limits. */
export const RATE_CURVE_POINTS_MAX = 101;
export const INTEREST_HISTORY_ENTRIES_MAX = 1000;

/** Upper end of a margin-only max-withdrawal search (every engine amount is an int64). */
const WITHDRAWAL_SEARCH_MAX = (1n << 62n) - 1n;
const INT64_MAX = (1n << 63n) - 1n;
const RATIO_TO_REPORTED = RATIO_SCALE / PRICE_SCALE;
const PERCENT_HUNDREDTHS = RATIO_SCALE / 10_000n;

/** Lending seam: how units move between an account's available balance and its pool slots (issue 5 drives it). */
export const PoolMovement = {
  /** available += amount, borrowed += amount. */
  Borrow: 0,
  /** available −= amount, borrowed −= amount. */
  Repay: 1,
  /** available −= amount, lent += amount. */
  Lend: 2,
  /** lent −= amount, available += amount. */
  Redeem: 3,
} as const;
export type PoolMovement = (typeof PoolMovement)[keyof typeof PoolMovement];

/** Key of an open order by its client id: (account, market, clientId) packed into one bigint. */
function clientKey(account: number, market: number, clientId: bigint): bigint {
  return (BigInt(account) << 80n) | (BigInt(market) << 64n) | clientId;
}

/** The clientId index key of a hold (its account, market and clientId). */
function holdClientKey(hold: OrderHold): bigint {
  return clientKey(hold.account, hold.market, hold.clientId);
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

/** A C10 answer: `quantity` is what the real check accepts now; `marginLimit` what the margin check alone allows. */
export interface MaxQuantity {
  readonly quantity: bigint;
  readonly marginLimit: bigint;
}

export class RiskShard {
  private readonly accounts = new Map<number, Account>();
  private readonly holds = new HoldTable();
  /** Open orders by client id, for cancel-replace by client id. */
  private readonly byClientId = new Map<bigint, number>();
  private readonly assetCount: number;
  /** Exchange fee account balances collected by this shard, per asset. */
  private readonly feeAccount: Account;
  private readonly out = new EventRecord();
  /** publishBalance's record (kind Balance; every other field stays at its initial zero). */
  private readonly balanceOut = Object.assign(new EventRecord(), { kind: EventKind.Balance });
  private nowMs = 0;
  /** Marks and margin constants shared by this shard's accounts (C). */
  readonly marginContext: MarginContext;
  private readonly volumes: VolumeBook;
  private readonly feeTiers: readonly FeeTier[];
  /** Scratch "what if" of the check being made (one at a time: the shard is single-threaded). */
  private readonly changes = new MarginChanges();
  /** A3: highest leverage limit accepted (≤ 50 and ≤ the platform's). */
  private readonly leverageLimitMax: number;
  /** SPEC L: this shard's replicas of the pools and its accounts' positions (see pools.ts for the batch rule). */
  readonly pools: PoolBook;

  constructor(
    private readonly config: ExchangeConfig,
    readonly shardIndex = 0,
    readonly shardCount = 1,
  ) {
    this.assetCount = config.assets.length;
    this.feeAccount = new Account(FEE_ACCOUNT, this.assetCount, null, null);
    this.marginContext = new MarginContext(config);
    this.volumes = new VolumeBook(config.feeTiers);
    this.feeTiers = config.feeTiers;
    const platformMax = Number(config.platformMaxLeverage / RATIO_SCALE);
    this.leverageLimitMax = platformMax < LEVERAGE_LIMIT_MAX ? platformMax : LEVERAGE_LIMIT_MAX;
    this.pools = new PoolBook(config, shardCount);
  }

  /** Does this shard own `account`? */
  owns(account: number): boolean {
    return riskShardOf(account, this.shardCount) === this.shardIndex;
  }

  get timeMs(): number {
    return this.nowMs;
  }

  /**
   * R1: handle one command in sequence order. Returns true when `cmd` must go on to matching (it may have been
   * amended, e.g. a market buy's spend cap); false when it was completed or rejected here.
   */
  preTrade(cmd: CommandRecord, sink: EventSink): boolean {
    switch (cmd.kind) {
      case CommandKind.Deposit:
        this.deposit(cmd, sink);
        return false;
      case CommandKind.Withdraw:
        this.withdraw(cmd, sink);
        return false;
      case CommandKind.Transfer:
        this.transfer(cmd, sink);
        return false;
      case CommandKind.PlaceOrder:
        return this.placeOrder(cmd, sink);
      case CommandKind.ReplaceOrder:
        return this.replaceOrder(cmd, sink);
      case CommandKind.CancelOrder:
      case CommandKind.CancelAll:
        if (!isValidClientAccount(cmd.account)) {
          this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
          return false;
        }
        return true;
      case CommandKind.AdvanceTime:
        return this.advanceTime(cmd, sink);
      case CommandKind.SetMarketState:
        if (cmd.market >= this.config.markets.length) {
          this.reject(cmd, RejectCode.UnknownMarket, `unknown market ${cmd.market}`, sink);
          return false;
        }
        return true;
      case CommandKind.UpdateAccountSettings:
        this.updateSettings(cmd, sink);
        return false;
      case CommandKind.SetMarkPrice:
        this.setMarkPrice(cmd, sink);
        return false;
      case CommandKind.QueryCollateral:
        this.queryCollateral(cmd, sink);
        return false;
      case CommandKind.QueryMaxOrder:
        this.queryMaxOrder(cmd, sink);
        return false;
      case CommandKind.QueryMaxWithdrawal:
        this.queryMaxWithdrawal(cmd, sink);
        return false;
      case CommandKind.Borrow:
      case CommandKind.Repay:
      case CommandKind.Lend:
      case CommandKind.Redeem:
        this.manualPoolAction(cmd, sink);
        return false;
      case CommandKind.QueryPoolStats:
        this.queryPoolStats(cmd, sink);
        return false;
      case CommandKind.QueryRateCurve:
        this.queryRateCurve(cmd, sink);
        return false;
      case CommandKind.QueryInterestHistory:
        this.queryInterestHistory(cmd, sink);
        return false;
      case CommandKind.QueryMaxBorrow:
        this.queryMaxBorrow(cmd, sink);
        return false;
      case CommandKind.RegisterApiKey:
      case CommandKind.RevokeApiKey:
        // X6: the gateway keeps the API key registry (rebuilt from these journaled commands); the engine's state does
        // not change, it only acknowledges them in sequence.
        this.acknowledged(cmd, sink);
        return false;
      default:
        this.reject(cmd, RejectCode.UnknownCommand, `command kind ${cmd.kind} is not handled by risk`, sink);
        return false;
    }
  }

  /** R2: apply one matching event (fills, done, rejects, acceptances) and pass it on to the client stream. */
  postTrade(e: EventRecord, sink: EventSink): void {
    switch (e.kind) {
      case EventKind.Fill:
        this.applyFill(e, sink);
        return;
      case EventKind.OrderDone:
      case EventKind.OrderRejected:
        if (this.owns(e.account)) {
          const seq = e.seq;
          sink.publish(e);
          this.releaseHold(e.orderId, seq, sink);
        }
        return;
      default:
        if (this.owns(e.account)) sink.publish(e);
        return;
    }
  }

  // ---- commands completed in R1 ----

  private deposit(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.amount <= 0n) {
      this.reject(cmd, RejectCode.InvalidAmount, "deposit amount must be positive", sink);
      return;
    }
    const account = this.accountOrCreate(cmd.account);
    if (account === null) {
      this.reject(cmd, RejectCode.Overloaded, `risk shard holds the maximum of ${RISK_LIMITS.accountsPerShardMax} accounts`, sink);
      return;
    }
    // A4: credited at once; with autoLend on it repays a borrow of the asset first, then the rest is lent (L10, L12).
    account.available[cmd.asset] = account.available[cmd.asset]! + cmd.amount;
    this.noteChange(account, cmd.asset);
    this.incoming(account, cmd.asset, cmd.amount, 0);
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, account, cmd.asset, sink);
  }

  /**
   * A5: a withdrawal takes the available balance, then redeems lent units of the asset (L11), then — with the margin
   * flag (AutoBorrow) — borrows the rest (L9). Plain: the balance first (INSUFFICIENT_BALANCE), then the margin
   * (INSUFFICIENT_MARGIN, the entry fee of a borrow included), then the pool (RedeemThrottled, BorrowThrottled,
   * MaxUtilization, BorrowUnavailable…). Nothing changes on a refusal.
   */
  private withdraw(cmd: CommandRecord, sink: EventSink): void {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return;
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.amount <= 0n) {
      this.reject(cmd, RejectCode.InvalidAmount, "withdrawal amount must be positive", sink);
      return;
    }
    const code = this.withdrawalCode(account, cmd.asset, cmd.amount, cmd.flags);
    if (code !== RejectCode.None) {
      this.reject(cmd, code, this.withdrawalMessage(code, account, cmd.asset, cmd.amount), sink);
      return;
    }
    this.takeOutflow(account, cmd.asset, cmd.amount);
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, account, cmd.asset, sink);
  }

  /**
   * Takes `amount` of `a` out of the account after withdrawalCode accepted it: the available balance, then lent units
   * redeemed (L11), then (a margin withdrawal) a borrow of the rest (L9).
   */
  private takeOutflow(account: Account, a: number, amount: bigint): void {
    const available = account.available[a]!;
    if (amount > available) {
      const lent = account.lent[a]!;
      const redeem = amount - available < lent ? amount - available : lent;
      if (redeem > 0n) {
        if (this.pools.checkRedeem(account, a, redeem === lent ? 0n : redeem) !== RejectCode.None) throw new Error("risk invariant: checked redemption refused");
        this.pools.applyRedeem(account, a, this.nowMs);
      }
      const short = amount - account.available[a]!;
      if (short > 0n) {
        // Judged as one action before the redemption (withdrawalCode); the borrow after it takes the checked room.
        if (redeem === 0n && this.pools.checkBorrow(account, a, short, this.nowMs) === RejectCode.None) this.pools.applyBorrow(account, a, this.nowMs);
        else if (this.pools.borrowReserved(account, a, short, this.nowMs, true) < 0n) throw new Error("risk invariant: checked borrow refused");
      }
    }
    account.available[a] = account.available[a]! - amount;
    this.noteChange(account, a);
  }

  /** The whole withdrawal check (A5, C8, L7, L9, L11, L15) without changing anything: RejectCode.None = accepted. */
  private withdrawalCode(account: Account, a: number, amount: bigint, flags: number): RejectCode {
    const available = account.available[a]!;
    const lent = account.lent[a]!;
    const borrowing = (flags & OrderFlag.AutoBorrow) !== 0;
    if (!borrowing && available + lent < amount) return RejectCode.InsufficientBalance;
    const redeem = amount <= available ? 0n : amount - available < lent ? amount - available : lent;
    const short = amount - available - redeem;
    const fee = short > 0n ? entryFeeOf(short, this.pools.pools[a]!.hourBorrowRate, this.pools.msToNext(a, this.nowMs)) : 0n;
    if (!this.passesOutflow(account, a, amount + fee)) return RejectCode.InsufficientMargin;
    if (redeem > 0n) {
      const code = this.pools.checkRedeem(account, a, redeem === lent ? 0n : redeem);
      if (code !== RejectCode.None) return code;
    }
    if (short > 0n) {
      // L15: a position that lends is redeemed in full first; judge the borrow as after it.
      const code = redeem > 0n ? this.pools.checkReservation(a, short + this.pools.plan.amount + 1n) : this.pools.checkBorrow(account, a, short, this.nowMs);
      if (code !== RejectCode.None) return code === RejectCode.NoLiquidity ? RejectCode.BorrowUnavailable : code;
    }
    return RejectCode.None;
  }

  private withdrawalMessage(code: RejectCode, account: Account, a: number, amount: bigint): string {
    const available = account.available[a]! + account.lent[a]!;
    switch (code) {
      case RejectCode.InsufficientBalance:
        return this.shortfallMessage("withdraw", a, amount, available);
      case RejectCode.InsufficientMargin:
        return this.marginMessage("withdrawal", account);
      default:
        return this.poolMessage(code, "withdraw", a, amount, available);
    }
  }

  /**
   * A2: instant between a user's own accounts; the source is judged and funded as for a plain withdrawal (A5): its
   * available balance, then its lent units redeemed (L11), never a borrow; C8 as for a withdrawal.
   */
  private transfer(cmd: CommandRecord, sink: EventSink): void {
    const from = this.clientAccount(cmd, sink);
    if (from === null) return;
    if (!isValidClientAccount(cmd.account2) || userOf(cmd.account2) !== userOf(cmd.account) || cmd.account2 === cmd.account) {
      this.reject(cmd, RejectCode.InvalidTransfer, `transfers go between two different accounts of the same user (A2)`, sink);
      return;
    }
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.amount <= 0n) {
      this.reject(cmd, RejectCode.InvalidAmount, "transfer amount must be positive", sink);
      return;
    }
    const code = this.withdrawalCode(from, cmd.asset, cmd.amount, 0);
    if (code !== RejectCode.None) {
      const message = code === RejectCode.InsufficientBalance
        ? this.shortfallMessage("transfer", cmd.asset, cmd.amount, from.available[cmd.asset]! + from.lent[cmd.asset]!)
        : code === RejectCode.InsufficientMargin
          ? this.marginMessage("transfer", from)
          : this.poolMessage(code, "transfer", cmd.asset, cmd.amount, from.available[cmd.asset]! + from.lent[cmd.asset]!);
      this.reject(cmd, code, message, sink);
      return;
    }
    const to = this.accountOrCreate(cmd.account2);
    if (to === null) {
      this.reject(cmd, RejectCode.Overloaded, `risk shard holds the maximum of ${RISK_LIMITS.accountsPerShardMax} accounts`, sink);
      return;
    }
    this.takeOutflow(from, cmd.asset, cmd.amount);
    to.available[cmd.asset] = to.available[cmd.asset]! + cmd.amount;
    this.noteChange(to, cmd.asset);
    this.incoming(to, cmd.asset, cmd.amount, 0);
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, from, cmd.asset, sink);
    this.publishBalance(cmd.seq, to, cmd.asset, sink);
  }

  private advanceTime(cmd: CommandRecord, sink: EventSink): boolean {
    if (cmd.timeMs < this.nowMs) {
      if (this.shardIndex === 0) {
        this.reject(cmd, RejectCode.InvalidTime, `time ${cmd.timeMs} is before the engine time ${this.nowMs}`, sink);
      }
      return false;
    }
    this.nowMs = cmd.timeMs;
    if (this.shardIndex === 0) {
      const e = this.out;
      e.clear();
      e.kind = EventKind.Clock;
      e.seq = cmd.seq;
      e.timeMs = cmd.timeMs;
      sink.publish(e);
    }
    return this.shardIndex === 0;
  }

  /**
   * A3: changes the settings named in the mask (flags bits 0–7, values in bits 8–15) and the leverage limit (state,
   * 0 = unchanged). A new leverage limit re-prices the initial margin of every position and is refused when the IMR
   * would be ≥ 100% at it (raising it never is). All or nothing. Accounts come into existence only by a deposit or
   * a transfer (X5): settings of a never-funded account are refused and create nothing.
   */
  private updateSettings(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    const mask = cmd.flags & 0xff;
    const values = (cmd.flags >>> ACCOUNT_SETTING_VALUE_SHIFT) & 0xff;
    if ((mask & ~ACCOUNT_SETTINGS_ALL) !== 0 || (values & ~mask) !== 0 || cmd.flags >>> (2 * ACCOUNT_SETTING_VALUE_SHIFT) !== 0) {
      this.reject(cmd, RejectCode.InvalidSetting, `settings: unknown setting bits in ${cmd.flags}`, sink);
      return;
    }
    const leverage = cmd.leverageLimit;
    if (leverage !== 0 && (!Number.isInteger(leverage) || leverage < LEVERAGE_LIMIT_MIN || leverage > this.leverageLimitMax)) {
      this.reject(cmd, RejectCode.InvalidSetting, `leverageLimit ${leverage} is outside ${LEVERAGE_LIMIT_MIN}..${this.leverageLimitMax} (A3)`, sink);
      return;
    }
    if (mask === 0 && leverage === 0) {
      this.reject(cmd, RejectCode.InvalidSetting, "settings: nothing to change", sink);
      return;
    }
    const account = this.clientAccount(cmd, sink);
    if (account === null) return;
    if (leverage !== 0 && leverage !== account.leverageLimit) {
      const margin = account.syncedMargin();
      const ratio = BigInt(leverage) * RATIO_SCALE;
      if (!margin.wouldPassLeverageLimit(ratio)) {
        this.reject(
          cmd,
          RejectCode.InsufficientMargin,
          `leverageLimit ${leverage}: the initial margin of the open positions would reach the net equity (IMR >= 100%, A3); now IMR ${percent(margin.imr())}`,
          sink,
        );
        return;
      }
      margin.setLeverageLimit(ratio);
      account.leverageLimit = leverage;
    }
    const lendingBefore = account.isOn(AccountSetting.AutoLend);
    account.settings = (account.settings & ~mask) | values;
    const lendsNow = !lendingBefore && account.isOn(AccountSetting.AutoLend);
    this.accepted(cmd, sink);
    const e = this.out;
    e.clear();
    e.kind = EventKind.AccountSettings;
    e.seq = cmd.seq;
    e.account = account.id;
    e.settings = account.settings;
    e.leverageLimit = account.leverageLimit;
    sink.publish(e);
    if (lendsNow) {
      // L12: with auto-lend on, every available balance repays its debt, then is lent at once; each moved balance is
      // published (watchers and GET /balances see it leave available).
      for (let a = 0; a < this.assetCount; a++) {
        if (account.available[a]! <= 0n) continue;
        this.incoming(account, a, account.available[a]!, 0);
        this.noteChange(account, a);
        this.publishBalance(cmd.seq, account, a, sink);
      }
    }
  }

  /**
   * The USD mark of an asset (privileged; C: until the oracle lands, the mark is what this command says). Every
   * risk shard applies it; shard 0 answers. A perpetual on the asset follows it (quote at par). Accounts revalue
   * lazily (AccountMargin reads marks from the shared context).
   */
  private setMarkPrice(cmd: CommandRecord, sink: EventSink): void {
    const speaks = this.shardIndex === 0;
    if (cmd.asset >= this.assetCount) {
      if (speaks) this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.price <= 0n) {
      if (speaks) this.reject(cmd, RejectCode.InvalidPrice, "a mark price must be positive", sink);
      return;
    }
    const ctx = this.marginContext;
    ctx.setAssetMark(cmd.asset, cmd.price);
    for (const m of this.config.markets) {
      if (m.kind === MarketKind.Perpetual && m.baseAsset === cmd.asset) ctx.setMarketMark(m.id, cmd.price);
    }
    if (speaks) {
      const e = this.out;
      e.clear();
      e.kind = EventKind.CommandAccepted;
      e.seq = cmd.seq;
      e.asset = cmd.asset;
      e.price = cmd.price;
      e.code = cmd.kind;
      sink.publish(e);
    }
  }

  // ---- orders ----

  private placeOrder(cmd: CommandRecord, sink: EventSink): boolean {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return false;
    const market = this.config.markets[cmd.market];
    if (market === undefined) {
      this.reject(cmd, RejectCode.UnknownMarket, `unknown market ${cmd.market}`, sink);
      return false;
    }
    if (market.kind !== MarketKind.Spot) {
      this.reject(cmd, RejectCode.MarketStateForbids, `${market.symbol}: perpetual trading is not enabled yet`, sink);
      return false;
    }
    if (account.openOrders >= RISK_LIMITS.openOrdersPerAccountMax) {
      this.reject(cmd, RejectCode.TooManyOpenOrders, `at most ${RISK_LIMITS.openOrdersPerAccountMax} open orders per account`, sink);
      return false;
    }
    const flags = cmd.flags & SPOT_MARGIN_FLAGS;
    const holdAsset = this.checkOrder(cmd, market, account, flags, sink);
    if (holdAsset < 0) return false;
    this.takeHold(cmd.seq, account, cmd.market, cmd.side, cmd.clientId, flags, holdAsset, this.pendingHold, sink);
    return true;
  }

  /**
   * S4/L11 and S2: funds what the checked order needs beyond the available balance — the lent units it redeems now
   * (pendingRedeem, the plan checked last), and the borrow its fills may take (pendingBorrow, reserved in the pool).
   */
  private fundOrder(account: Account, asset: number): void {
    if (this.pendingRedeem > 0n) this.pools.applyRedeem(account, asset, this.nowMs);
  }

  /**
   * Cancel-replace: the replacement is a new order (id = cmd.seq) on the target's side, with the target's margin
   * flags, that holds its own funds and passes the same checks; the target's hold comes back when matching reports
   * it Replaced. So the account needs the new hold on top of the old one for the duration of the batch
   * (pessimistic, never short). An unknown target is matching's to refuse.
   *
   * The new hold publishes no Balance: R2 always publishes one for the same account and asset before the command's
   * events end — the target's release when matching reports it Replaced, or the new hold's release when matching
   * refuses the replacement — so clients see the balance after the command, not the transient double hold.
   */
  private replaceOrder(cmd: CommandRecord, sink: EventSink): boolean {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return false;
    const targetId = (cmd.flags & OrderFlag.ByClientId) !== 0
      ? this.byClientId.get(clientKey(cmd.account, cmd.market, cmd.clientId)) ?? 0
      : cmd.orderId;
    const target = this.holds.get(targetId);
    if (target === undefined || target.account !== cmd.account || target.market !== cmd.market) return true;
    const market = this.config.markets[cmd.market]!;
    cmd.side = target.side;
    cmd.orderType = OrderType.Limit;
    const holdAsset = this.checkOrder(cmd, market, account, target.flags, sink);
    if (holdAsset < 0) return false;
    this.takeHold(cmd.seq, account, cmd.market, target.side, target.clientId, target.flags, holdAsset, this.pendingHold, null);
    return true;
  }

  /** Holds the checked order's funds; `sink` null: publish no Balance (replaceOrder says why). */
  private takeHold(orderId: number, account: Account, market: number, side: number, clientId: bigint, flags: number, asset: number, need: bigint, sink: EventSink | null): void {
    this.fundOrder(account, asset);
    const borrow = this.pendingBorrow;
    const amount = need - borrow;
    account.available[asset] = account.available[asset]! - amount;
    account.locked[asset] = account.locked[asset]! + amount;
    account.openOrders++;
    const hold = this.holds.add(orderId);
    hold.account = account.id;
    hold.owner = account;
    hold.market = market;
    hold.side = side;
    hold.clientId = clientId;
    hold.flags = flags;
    hold.asset = asset;
    hold.remaining = amount;
    this.noteChange(account, asset);
    if (borrow > 0n) {
      hold.borrowMax = borrow;
      hold.reserved = this.pools.reservationFor(asset, borrow);
      this.pools.reserve(asset, hold.reserved);
      // C4: what the order may borrow is exposure from now on, not from its fills.
      account.openBorrow[asset] = account.openBorrow[asset]! + borrow;
      account.openBorrowOrders++;
    }
    hold.inflowAsset = this.pendingInflowAsset;
    hold.inflowRepays = this.pendingInflowRepays;
    this.creditInflow(account, hold, this.pendingInflowCredit);
    if (clientId !== 0n) this.byClientId.set(clientKey(account.id, market, clientId), orderId);
    if (sink !== null) this.publishBalance(orderId, account, asset, sink);
  }

  /** Set by orderCost: how much of the returned asset the order must hold. */
  private pendingHold = 0n;
  /** Set by checkOrder: lent units to redeem now (S4), units the fills may borrow (S2). */
  private pendingRedeem = 0n;
  private pendingBorrow = 0n;
  /** Set by checkOrder: the asset the order receives and the units of its proceeds its hold credits (C4). */
  private pendingInflowAsset = 0;
  private pendingInflowCredit = 0n;
  private pendingInflowRepays = false;
  /** Set by orderChanges: the order's full-fill proceeds after the taker fee (units of pendingInflowAsset). */
  private pendingInflow = 0n;

  /**
   * The whole pre-trade check of one spot order (S1, S2, C8, A3): returns the asset to hold (the amount in
   * pendingHold), or -1 after a reject. `flags` are the order's spot-margin flags.
   */
  private checkOrder(cmd: CommandRecord, market: MarketConfig, account: Account, flags: number, sink: EventSink): number {
    this.pendingRedeem = 0n;
    this.pendingBorrow = 0n;
    this.pendingInflowCredit = 0n;
    this.pendingInflowRepays = false;
    this.pendingInflowAsset = cmd.side === Side.Buy ? market.baseAsset : market.quoteAsset;
    const asset = this.orderCost(cmd, market, account, flags, sink);
    if (asset < 0) return -1;
    const need = this.pendingHold;
    if (flags !== 0 && !account.isOn(AccountSetting.MarginEnabled)) {
      this.reject(cmd, RejectCode.InvalidSetting, `account ${account.id} has spot margin off (A3 marginEnabled): send the order without margin flags`, sink);
      return -1;
    }
    const available = account.available[asset]!;
    const lent = account.lent[asset]!;
    const borrowing = (flags & OrderFlag.AutoBorrow) !== 0;
    const action = cmd.side === Side.Buy ? "buy" : "sell";
    if (!borrowing && available + lent < need) {
      this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage(action, asset, need, available + lent), sink);
      return -1;
    }
    // C8, judged as the account would stand after all its open orders and this one fill (C4: open orders are
    // exposure from the moment they rest). Exact shortcut: an account that owes nothing and whose open orders cannot
    // borrow has no exposure, and an order funded by its own units (available or lent) leaves it none — IMR 0 before
    // and after (C7), which is what the full evaluation would find. Such an order's proceeds are not credited while
    // it rests (its hold does not need them).
    const shortcut = account.hasNoBorrows() && need <= available + lent;
    if (!shortcut) {
      const margin = account.syncedMargin();
      const repays = this.receiveRepays(account, flags);
      this.pendingInflowRepays = repays;
      if (!margin.wouldPassInitialMargin(this.orderChanges(cmd, market, account, need, repays))) {
        this.reject(cmd, RejectCode.InsufficientMargin, this.marginMessage("order", account), sink);
        return -1;
      }
      // The proceeds credited while the order rests: all of them when the fill would not raise the available equity,
      // else the most that does not (see AccountMargin.lastChangesRaiseAvailableEquity).
      this.pendingInflowCredit = margin.lastChangesRaiseAvailableEquity() ? this.creditUpToNeutral(margin, repays) : this.pendingInflow;
    }
    if (need > available) {
      // S4 / L11: the lent units of the spent asset fund the order first (redeemed now), then S2 borrows the rest.
      const redeem = need - available < lent ? need - available : lent;
      const short = need - available - redeem;
      if (short > 0n) {
        const code = this.pools.checkReservation(asset, redeem > 0n ? short + redeem + 1n : short);
        if (code !== RejectCode.None) {
          const reported = code === RejectCode.NoLiquidity ? RejectCode.BorrowUnavailable : code;
          this.reject(cmd, reported, this.poolMessage(reported, action, asset, need, available + lent), sink);
          return -1;
        }
      }
      if (redeem > 0n) {
        const code = this.pools.checkRedeem(account, asset, redeem === lent ? 0n : redeem);
        if (code !== RejectCode.None) {
          this.reject(cmd, code, this.poolMessage(code, action, asset, need, available + lent), sink);
          return -1;
        }
        this.pendingRedeem = redeem;
      }
      this.pendingBorrow = short;
    }
    return asset;
  }

  /**
   * S1: what a spot order spends and so holds — quote for a buy (at its limit price, rounded up, so every fill at
   * that price or better is covered), base for a sell. Returns the asset (amount in pendingHold), -1 after a reject.
   */
  private orderCost(cmd: CommandRecord, market: MarketConfig, account: Account, flags: number, sink: EventSink): number {
    const base = this.config.assets[market.baseAsset]!;
    const quote = this.config.assets[market.quoteAsset]!;
    if (cmd.quantity < 0n || cmd.quoteQuantity < 0n || cmd.price < 0n) {
      this.reject(cmd, RejectCode.InvalidQuantity, "quantities and prices must not be negative", sink);
      return -1;
    }
    if (cmd.side === Side.Buy) {
      if (cmd.orderType === OrderType.Limit) {
        if (cmd.quantity === 0n || cmd.price === 0n) {
          this.reject(cmd, RejectCode.InvalidQuantity, "a limit order needs a positive price and quantity", sink);
          return -1;
        }
        this.pendingHold = quoteAmount(cmd.quantity, cmd.price, base.decimals, quote.decimals, Rounding.Up);
      } else if (cmd.quantity === 0n) {
        if (cmd.quoteQuantity === 0n) {
          this.reject(cmd, RejectCode.InvalidQuantity, "a market buy needs a quantity or a quote quantity", sink);
          return -1;
        }
        this.pendingHold = cmd.quoteQuantity;
      } else {
        // A market buy by base quantity cannot know its cost: it may spend up to the whole available quote (and,
        // with borrowing, what it may borrow), and matching stops at that cap (quoteQuantity) or at the quantity.
        const spendable = this.spendable(account, quote.id, flags);
        const need = cmd.quoteQuantity !== 0n && cmd.quoteQuantity < spendable ? cmd.quoteQuantity : spendable;
        if (need === 0n) {
          this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage("buy", quote.id, 1n, 0n), sink);
          return -1;
        }
        cmd.quoteQuantity = need;
        this.pendingHold = need;
      }
      return quote.id;
    }
    if (cmd.quantity === 0n) {
      this.reject(cmd, RejectCode.InvalidQuantity, "a sell needs a positive base quantity", sink);
      return -1;
    }
    this.pendingHold = cmd.quantity;
    return base.id;
  }

  /**
   * C8/C10: the net-balance effect of the order's full fill with the account's taker fee — limit orders at their
   * price; market orders at the marks (a sell of its quantity; a buy spends its quote budget `spend` on what that
   * buys, at most its quantity).
   */
  private orderChanges(cmd: CommandRecord, market: MarketConfig, account: Account, spend: bigint, repays: boolean): MarginChanges {
    const feeBps = this.takerBpsOf(account.id);
    const ctx = this.marginContext;
    const changes = this.changes;
    if (cmd.orderType === OrderType.Limit || cmd.side === Side.Sell) {
      const price = cmd.orderType === OrderType.Limit ? cmd.price : this.referencePrice(market);
      spotTradeChanges(changes, ctx, market.id, cmd.side as Side, cmd.quantity, price, feeBps, repays);
      // The received asset's entry (base is the first, quote the second): its flow or its held units.
      const i = cmd.side === Side.Buy ? 0 : 1;
      this.pendingInflow = repays ? changes.assetDeltas[i]! : changes.assetHeldIn[i]!;
      return changes;
    }
    const price = this.referencePrice(market);
    let quantity = (spend * ctx.marketQuoteDivisor[market.id]!) / (price * ctx.marketQuoteMultiplier[market.id]!);
    if (cmd.quantity !== 0n && quantity > cmd.quantity) quantity = cmd.quantity;
    const received = quantity - feeAmount(quantity, feeBps);
    this.pendingInflow = received;
    changes.clear().addAsset(market.quoteAsset, -spend);
    changes.borrowsAtFill = true;
    return repays ? changes.addAsset(market.baseAsset, received) : changes.addHeld(market.baseAsset, received);
  }

  /**
   * The largest part of the checked order's proceeds (pendingInflow) whose credit leaves the account's available
   * equity no higher than before the order (bisection over the same changes with the proceeds cut): an order that
   * improves the account is credited only what offsets what it takes, so cancelling it never takes away room.
   */
  private creditUpToNeutral(margin: AccountMargin, repays: boolean): bigint {
    const changes = this.changes;
    const received = this.pendingInflowAsset;
    let i = 0;
    while (changes.assets[i] !== received) i++;
    let lo = 0n;
    let hi = this.pendingInflow;
    const set = (credit: bigint): void => {
      if (repays) changes.assetDeltas[i] = credit;
      else changes.assetHeldIn[i] = credit;
    };
    while (lo < hi) {
      const mid = hi - ((hi - lo) >> 1n);
      set(mid);
      margin.passesInitialMarginAfter(changes);
      if (margin.lastChangesRaiseAvailableEquity()) hi = mid - 1n;
      else lo = mid;
    }
    set(this.pendingInflow);
    return lo;
  }

  /** S3, L10: do an order's proceeds repay a borrow of the asset it receives (margin flags, or auto-lend on)? */
  private receiveRepays(account: Account, flags: number): boolean {
    return (flags & SPOT_MARGIN_FLAGS) !== 0 || account.isOn(AccountSetting.AutoLend);
  }

  /** Quote per base implied by the USD marks (PRICE_DECIMALS, ≥ 1). */
  private referencePrice(market: MarketConfig): bigint {
    const ctx = this.marginContext;
    const price = (ctx.assetMark[market.baseAsset]! * PRICE_SCALE) / ctx.assetMark[market.quoteAsset]!;
    return price > 0n ? price : 1n;
  }

  /**
   * What an order with `flags` may spend of `asset` now: the available balance, the lent units it would redeem (S4,
   * what the pool lets go now: all of them, or with K > 1 up to the shard's batch budget) and, with autoBorrow, what
   * the pool can still promise to lend (S2, L7, L8, L13).
   */
  private spendable(account: Account, asset: number, flags: number): bigint {
    let units = account.available[asset]!;
    const lent = account.lent[asset]!;
    if (lent > 0n) units += this.pools.redeemable(account, asset);
    if ((flags & OrderFlag.AutoBorrow) !== 0) {
      const reservable = this.pools.reservableUnits(asset);
      units += lent > 0n ? (reservable > lent + 1n ? reservable - lent - 1n : 0n) : reservable;
    }
    return units;
  }

  /** C8 for an outflow of `amount` units of `asset` (withdrawal, outgoing transfer); the same exact shortcut. */
  private passesOutflow(account: Account, asset: number, amount: bigint): boolean {
    if (account.hasNoBorrows() && amount <= account.available[asset]!) return true;
    return account.syncedMargin().wouldPassInitialMargin(this.changes.clear().addAsset(asset, -amount));
  }

  /** X1: a fill moves the quote amount from buyer to seller and the base quantity from seller to buyer; each side
   * pays its fee in the asset it receives (S5, its user's 30-day tier), rounded up, into the fee account. */
  private applyFill(e: EventRecord, sink: EventSink): void {
    const market = this.config.markets[e.market]!;
    const takerOwned = this.owns(e.account);
    const makerOwned = this.owns(e.makerAccount);
    if (!takerOwned && !makerOwned) return;
    const day = dayOf(this.nowMs);
    const makerSide = e.side === Side.Buy ? Side.Sell : Side.Buy;
    const taker = takerOwned ? this.accountOfFill(e.account, e.orderId) : null;
    const maker = makerOwned ? this.accountOfFill(e.makerAccount, e.makerOrderId) : null;
    // Both tiers as they stand before this trade counts towards either user's volume.
    const volumes = this.volumes;
    const takerBps = taker !== null ? this.feeTiers[volumes.roll(taker.volume!, day).tier]!.takerBps : 0;
    const makerBps = maker !== null ? this.feeTiers[volumes.roll(maker.volume!, day).tier]!.makerBps : 0;
    if (taker !== null) e.takerFee = this.settleSide(taker, e.orderId, e.side, market, e.quantity, e.quoteQuantity, takerBps);
    if (maker !== null) e.makerFee = this.settleSide(maker, e.makerOrderId, makerSide, market, e.quantity, e.quoteQuantity, makerBps);
    const ctx = this.marginContext;
    const volumeUsd = quoteVolumeUsd(e.quoteQuantity, ctx.assetMark[market.quoteAsset]!, ctx.assetUnit[market.quoteAsset]!);
    if (taker !== null) volumes.add(taker.volume!, day, volumeUsd);
    if (maker !== null) volumes.add(maker.volume!, day, volumeUsd);
    // The record is reused by publishBalance's sink: copy what the balance events need first.
    const seq = e.seq;
    const takerAccount = e.account;
    const makerAccount = e.makerAccount;
    const takerSide = e.side;
    sink.publish(e);
    if (takerOwned) this.publishTradeBalances(seq, takerAccount, takerSide, market, sink);
    if (makerOwned && (makerAccount !== takerAccount || !takerOwned)) this.publishTradeBalances(seq, makerAccount, makerSide, market, sink);
  }

  private publishTradeBalances(seq: number, accountId: number, side: number, market: MarketConfig, sink: EventSink): void {
    const account = this.accounts.get(accountId)!;
    this.publishBalance(seq, account, side === Side.Buy ? market.quoteAsset : market.baseAsset, sink);
    this.publishBalance(seq, account, side === Side.Buy ? market.baseAsset : market.quoteAsset, sink);
  }

  /**
   * One side of a fill: the paid amount leaves the order's hold, the received amount less the fee arrives. S2 hook
   * (lending issue): a margin order that held less than its cost borrows `paid − hold.remaining` here, before the
   * debit; until then every hold covers its fills and the invariant below holds.
   */
  private accountOfFill(accountId: number, orderId: number): Account {
    const account = this.accounts.get(accountId);
    if (account === undefined) throw new Error(`risk invariant: fill for order ${orderId} of unknown account ${accountId}`);
    this.pools.sync(account);
    return account;
  }

  private settleSide(
    account: Account,
    orderId: number,
    side: number,
    market: MarketConfig,
    quantity: bigint,
    quoteAmt: bigint,
    feeBps: number,
  ): bigint {
    const hold = this.holds.get(orderId);
    if (hold === undefined || hold.account !== account.id) {
      throw new Error(`risk invariant: fill for order ${orderId} of account ${account.id} without a hold`);
    }
    const paid = side === Side.Buy ? quoteAmt : quantity;
    const receivedAsset = side === Side.Buy ? market.baseAsset : market.quoteAsset;
    const received = side === Side.Buy ? quantity : quoteAmt;
    const spent = hold.asset;
    if (hold.remaining >= paid) {
      hold.remaining -= paid;
      account.locked[spent] = account.locked[spent]! - paid;
    } else {
      // S2: the fill pays past what the order holds: the shortfall comes from units that arrived since, then from
      // lent units (S4), then it is borrowed, exactly that much, against the capacity reserved at acceptance.
      let short = paid - hold.remaining;
      account.locked[spent] = account.locked[spent]! - hold.remaining;
      hold.remaining = 0n;
      const free = account.available[spent]!;
      const own = free < short ? free : short;
      account.available[spent] = free - own;
      short -= own;
      if (short > 0n && account.positions[spent]!.lendShares > 0n) {
        const lent = account.lent[spent]!;
        const r = this.pools.redeemForced(account, spent, lent < short ? lent : short, this.nowMs);
        if (r > 0n) {
          account.available[spent] = account.available[spent]! - r;
          short -= r;
        }
      }
      if (short > 0n) {
        if (short > hold.borrowMax || this.pools.borrowReserved(account, spent, short, this.nowMs) < 0n) {
          throw new Error(`risk invariant: order ${orderId} pays ${paid} but holds ${paid - short} and may borrow ${hold.borrowMax}`);
        }
        account.available[spent] = account.available[spent]! - short;
        this.reduceOpenBorrow(account, hold, short);
        const used = short + this.pools.plan.entryFee + 1n;
        const release = used < hold.reserved ? used : hold.reserved;
        hold.reserved -= release;
        this.pools.release(spent, release);
      }
    }
    const fee = feeAmount(received, feeBps);
    account.available[receivedAsset] = account.available[receivedAsset]! + received - fee;
    if (hold.inflowCredit > 0n) {
      // The proceeds arrived: as much of their credit leaves the open-order state (C4).
      this.creditInflow(account, hold, received - fee < hold.inflowCredit ? fee - received : -hold.inflowCredit);
    }
    this.feeAccount.available[receivedAsset] = this.feeAccount.available[receivedAsset]! + fee;
    this.noteChange(account, spent);
    this.noteChange(account, receivedAsset);
    this.incoming(account, receivedAsset, received - fee, hold.flags);
    return fee;
  }

  /**
   * Units of `asset` arrived in the available balance (deposit, transfer, trade proceeds, a released hold). With the
   * account's autoLend on (L10, L12, A4), or a spot-margin order's proceeds (S2 autoBorrowRepay, S3), they repay a
   * debt of the asset first; then autoLend lends every available unit (the order flag autoLend: the proceeds).
   */
  private incoming(account: Account, asset: number, amount: bigint, orderFlags: number): void {
    const autoLend = account.isOn(AccountSetting.AutoLend);
    if (!autoLend && orderFlags === 0) return;
    const pools = this.pools;
    let left = amount;
    if (account.positions[asset]!.borrowShares > 0n && (autoLend || (orderFlags & SPOT_MARGIN_FLAGS) !== 0)) {
      const owed = account.borrowed[asset]!;
      const available = account.available[asset]!;
      const cap = autoLend ? available : left < available ? left : available;
      if (cap > 0n) {
        const all = cap >= owed;
        if (pools.repay(account, asset, all ? 0n : cap, this.nowMs) === RejectCode.None) left -= all ? owed : cap;
      }
    }
    if (account.positions[asset]!.borrowShares > 0n) return;
    let lend = 0n;
    if (autoLend) lend = account.available[asset]!;
    else if ((orderFlags & OrderFlag.AutoLend) !== 0) lend = left < account.available[asset]! ? left : account.available[asset]!;
    lend = pools.lendable(asset, lend);
    if (lend > 0n) pools.lend(account, asset, lend, this.nowMs);
  }

  /** The order's credited proceeds change by `delta` units (C4: Account.openRepay or openInflow follows). */
  private creditInflow(account: Account, hold: OrderHold, delta: bigint): void {
    if (delta === 0n) return;
    const a = hold.inflowAsset;
    hold.inflowCredit += delta;
    const open = hold.inflowRepays ? account.openRepay : account.openInflow;
    open[a] = open[a]! + delta;
    account.markChanged(a);
  }

  /** The order may borrow `units` less at fill time (it borrowed them, or it ended): C4's open-order exposure. */
  private reduceOpenBorrow(account: Account, hold: OrderHold, units: bigint): void {
    if (units === 0n) return;
    hold.borrowMax -= units;
    account.openBorrow[hold.asset] = account.openBorrow[hold.asset]! - units;
    if (hold.borrowMax === 0n) account.openBorrowOrders--;
    account.markChanged(hold.asset);
  }

  private releaseHold(orderId: number, seq: number, sink: EventSink): void {
    const hold = this.holds.get(orderId);
    if (hold === undefined) return;
    if (hold.clientId !== 0n) {
      const key = clientKey(hold.account, hold.market, hold.clientId);
      if (this.byClientId.get(key) === orderId) this.byClientId.delete(key);
    }
    const account = hold.owner!;
    this.pools.sync(account);
    account.locked[hold.asset] = account.locked[hold.asset]! - hold.remaining;
    account.available[hold.asset] = account.available[hold.asset]! + hold.remaining;
    account.openOrders--;
    this.reduceOpenBorrow(account, hold, hold.borrowMax);
    this.creditInflow(account, hold, -hold.inflowCredit);
    this.noteChange(account, hold.asset);
    this.pools.release(hold.asset, hold.reserved);
    if (hold.remaining > 0n) this.incoming(account, hold.asset, hold.remaining, 0);
    this.publishBalance(seq, account, hold.asset, sink);
    this.holds.remove(hold);
  }

  // ---- queries (answered by events; nothing changes) ----

  private queryCollateral(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    const s = this.collateralStatement(cmd.account);
    const e = this.out;
    e.clear();
    e.kind = EventKind.AccountCollateral;
    e.seq = cmd.seq;
    e.account = s.account;
    e.netEquityUsd = s.netEquityUsd;
    e.netEquityLockedUsd = s.netEquityLockedUsd;
    e.collateralValueUsd = s.collateralValueUsd;
    e.liabilityUsd = s.liabilityUsd;
    e.exposureUsd = s.exposureUsd;
    e.pnlUsd = s.unrealizedPnlUsd;
    e.volumeUsd = s.volume30dUsd;
    e.imf = reportedRatio(s.imf);
    e.mmf = reportedRatio(s.mmf);
    e.marginFraction = reportedRatio(s.marginFraction);
    e.imr = reportedRatio(s.imr);
    e.mmr = reportedRatio(s.mmr);
    e.settings = s.settings;
    e.leverageLimit = s.leverageLimit;
    e.feeTier = s.feeTier;
    e.makerFee = BigInt(s.makerFeeBps);
    e.takerFee = BigInt(s.takerFeeBps);
    sink.publish(e);
    for (const a of s.assets) {
      e.clear();
      e.kind = EventKind.AssetCollateral;
      e.seq = cmd.seq;
      e.account = s.account;
      e.asset = a.asset;
      e.quantity = a.quantity;
      e.available = a.available;
      e.locked = a.locked;
      e.lent = a.lent;
      e.borrowed = a.borrowed;
      e.price = a.markUsd;
      e.weight = reportedRatio(a.weight);
      e.notionalUsd = a.notionalUsd;
      e.collateralValueUsd = a.collateralValueUsd;
      e.liabilityUsd = a.liabilityUsd;
      sink.publish(e);
    }
  }

  private queryMaxOrder(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    const market = this.config.markets[cmd.market];
    if (market === undefined) {
      this.reject(cmd, RejectCode.UnknownMarket, `unknown market ${cmd.market}`, sink);
      return;
    }
    if (market.kind !== MarketKind.Spot) {
      this.reject(cmd, RejectCode.MarketStateForbids, `${market.symbol}: perpetual trading is not enabled yet`, sink);
      return;
    }
    if (cmd.price <= 0n) {
      this.reject(cmd, RejectCode.InvalidPrice, "a max-order query needs a positive limit price", sink);
      return;
    }
    const max = this.maxOrderQuantity(cmd.account, cmd.market, cmd.side as Side, cmd.price, cmd.flags);
    const e = this.out;
    e.clear();
    e.kind = EventKind.MaxOrderQuantity;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.market = cmd.market;
    e.side = cmd.side;
    e.price = cmd.price;
    e.quantity = max.quantity;
    e.marginLimit = max.marginLimit;
    sink.publish(e);
  }

  private queryMaxWithdrawal(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    const max = this.maxWithdrawalQuantity(cmd.account, cmd.asset, cmd.flags);
    const e = this.out;
    e.clear();
    e.kind = EventKind.MaxWithdrawalQuantity;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.asset = cmd.asset;
    e.quantity = max.quantity;
    e.marginLimit = max.marginLimit;
    sink.publish(e);
  }

  /**
   * C10: the largest quantity (a multiple of the market's step, ≤ its maxQuantity) of a limit order at `price` with
   * the order `flags` that this shard's pre-trade check accepts now; and the margin check's own limit, as if every
   * shortfall could be borrowed (what autoBorrow allows once pools lend, up to their liquidity). Off the hot path.
   */
  maxOrderQuantity(accountId: number, marketId: number, side: Side, price: bigint, flags: number): MaxQuantity {
    const account = this.accounts.get(accountId);
    const market = this.config.markets[marketId]!;
    if (account === undefined || price <= 0n) return { quantity: 0n, marginLimit: 0n };
    this.pools.sync(account);
    const step = market.stepSize;
    const marketMax = (market.maxQuantity / step) * step;
    const feeBps = this.takerBpsOf(accountId);
    // The margin limit as for a margin order (its proceeds repay a borrow of the received asset, S3).
    const query = { market: marketId, side, price, feeBps, stepSize: step, maxQuantity: marketMax, receiveRepays: true };
    const margin = account.syncedMargin();
    const ctx = this.marginContext;
    const marginLimit = maxSpotOrderQuantity(margin, ctx, query);
    if ((flags & SPOT_MARGIN_FLAGS) !== 0 && !account.isOn(AccountSetting.MarginEnabled)) return { quantity: 0n, marginLimit };
    // What the order may spend: the available balance (+ what it may borrow with autoBorrow).
    const asset = side === Side.Buy ? market.quoteAsset : market.baseAsset;
    const spendable = this.spendable(account, asset, flags);
    let funded: bigint;
    if (side === Side.Sell) funded = spendable;
    else {
      // Largest q with ceil(q × price × mult / div) ≤ spendable ⇔ q × price × mult ≤ spendable × div.
      funded = (spendable * ctx.marketQuoteDivisor[marketId]!) / (price * ctx.marketQuoteMultiplier[marketId]!);
    }
    funded = (funded / step) * step;
    const bound = funded < marketMax ? funded : marketMax;
    const repays = this.receiveRepays(account, flags);
    const quantity = repays && bound >= marginLimit ? marginLimit : maxSpotOrderQuantity(margin, ctx, { ...query, maxQuantity: bound, receiveRepays: repays });
    return { quantity, marginLimit };
  }

  /**
   * C10/A5: the largest withdrawal of `asset` the withdraw check accepts now (flags AutoBorrow: a margin withdrawal),
   * and the margin check's own limit (as if the part beyond the balance could be borrowed).
   */
  maxWithdrawalQuantity(accountId: number, asset: number, flags: number): MaxQuantity {
    const account = this.accounts.get(accountId);
    if (account === undefined) return { quantity: 0n, marginLimit: 0n };
    this.pools.sync(account);
    const margin = account.syncedMargin();
    const marginLimit = maxWithdrawal(margin, asset, WITHDRAWAL_SEARCH_MAX);
    const spendable = this.spendable(account, asset, flags);
    const hi = spendable < marginLimit ? spendable : marginLimit;
    const quantity = this.largestAccepted(hi, (x) => this.withdrawalCode(account, asset, x, flags) === RejectCode.None);
    return { quantity, marginLimit };
  }

  /**
   * L8: the largest manual borrow of `asset` the Borrow command accepts now (bounded by the equity and leverage
   * through C8 with the borrow's own IMF tiers, and by the pool: throttle, maxUtilization, liquidity), and the margin
   * check's own limit. Off the hot path.
   */
  maxBorrowQuantity(accountId: number, asset: number): MaxQuantity & { poolLimit: bigint } {
    const account = this.accounts.get(accountId);
    if (account === undefined) return { quantity: 0n, marginLimit: 0n, poolLimit: 0n };
    this.pools.sync(account);
    const marginLimit = maxBorrow(account.syncedMargin(), asset, WITHDRAWAL_SEARCH_MAX);
    const poolLimit = this.largestAccepted(this.pools.room(asset), (x) => this.pools.checkBorrow(account, asset, x, this.nowMs) === RejectCode.None);
    const hi = poolLimit < marginLimit ? poolLimit : marginLimit;
    const quantity = this.largestAccepted(hi, (x) => this.borrowCode(account, asset, x) === RejectCode.None);
    return { quantity, marginLimit, poolLimit };
  }

  /** Largest x in [0, hi] with accepts(x), for a check that accepts every amount up to some bound (bisection). */
  private largestAccepted(hi: bigint, accepts: (x: bigint) => boolean): bigint {
    if (hi <= 0n) return 0n;
    if (accepts(hi)) return hi;
    let lo = 0n;
    let top = hi - 1n;
    while (lo < top) {
      const mid = top - ((top - lo) >> 1n);
      if (accepts(mid)) lo = mid;
      else top = mid - 1n;
    }
    return lo;
  }

  /** The whole manual-borrow check (L8, L9, L15, C8) without changing anything; the plan is left in pools.plan. */
  private borrowCode(account: Account, asset: number, amount: bigint): RejectCode {
    if (account.isOn(AccountSetting.AutoLend)) return RejectCode.AutoLendOn;
    const code = this.pools.checkBorrow(account, asset, amount, this.nowMs);
    if (code !== RejectCode.None) return code;
    // C8: the borrowed units are held (collateral, C1/C2) and owed with the entry fee (liability and position, C3/C4);
    // spending or withdrawing them later is judged then. So the most is about net equity × the asset's max borrow
    // leverage (seed 002).
    const changes = this.changes.clear().addHoldings(asset, amount, amount + this.pools.plan.entryFee);
    if (!account.syncedMargin().wouldPassInitialMargin(changes)) return RejectCode.InsufficientMargin;
    return RejectCode.None;
  }

  // ---- manual pool actions (L9–L11; refused while auto-lend is on, per the seeds) ----

  private manualPoolAction(cmd: CommandRecord, sink: EventSink): void {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return;
    const a = cmd.asset;
    if (a >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${a}`, sink);
      return;
    }
    const wholeAllowed = cmd.kind === CommandKind.Repay || cmd.kind === CommandKind.Redeem;
    if (cmd.amount < 0n || (cmd.amount === 0n && !wholeAllowed)) {
      this.reject(cmd, RejectCode.InvalidAmount, "amount must be positive", sink);
      return;
    }
    const name = cmd.kind === CommandKind.Borrow ? "borrow" : cmd.kind === CommandKind.Repay ? "repay" : cmd.kind === CommandKind.Lend ? "lend" : "redeem";
    if (account.isOn(AccountSetting.AutoLend)) {
      this.reject(cmd, RejectCode.AutoLendOn, `manual ${name} is off while auto-lend is on (it lends every available balance and repays debts by itself): turn auto-lend off, or borrow through a margin order or a margin withdrawal (L9-L12)`, sink);
      return;
    }
    const pools = this.pools;
    let code: RejectCode;
    switch (cmd.kind) {
      case CommandKind.Borrow:
        code = this.borrowCode(account, a, cmd.amount);
        if (code === RejectCode.None) pools.applyBorrow(account, a, this.nowMs);
        break;
      case CommandKind.Repay:
        code = pools.repay(account, a, cmd.amount, this.nowMs);
        break;
      case CommandKind.Lend:
        code = account.available[a]! < cmd.amount ? RejectCode.InsufficientBalance : pools.lend(account, a, cmd.amount, this.nowMs);
        break;
      default:
        code = pools.checkRedeem(account, a, cmd.amount);
        if (code === RejectCode.None) pools.applyRedeem(account, a, this.nowMs);
        break;
    }
    if (code !== RejectCode.None) {
      const message = code === RejectCode.InsufficientMargin
        ? this.marginMessage(name, account)
        : this.poolMessage(code, name, a, cmd.amount, account.available[a]!);
      this.reject(cmd, code, message, sink);
      return;
    }
    this.noteChange(account, a);
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, account, a, sink);
  }

  // ---- pool queries (L8, L13, L14) ----

  private queryPoolStats(cmd: CommandRecord, sink: EventSink): void {
    if (cmd.asset !== ALL_ASSETS && cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    for (let a = 0; a < this.assetCount; a++) {
      if (cmd.asset !== ALL_ASSETS && cmd.asset !== a) continue;
      const st = poolStats(this.pools.pools[a]!);
      const e = this.out;
      e.clear();
      e.kind = EventKind.PoolStats;
      e.seq = cmd.seq;
      e.account = cmd.account;
      e.asset = a;
      e.poolState = st.state;
      e.lent = st.totalLent;
      e.borrowed = st.totalBorrowed;
      e.freeLiquidity = st.freeLiquidity;
      e.openBorrowLendLimit = st.openBorrowLendLimit;
      e.quantity = this.pools.reserved[a]!;
      e.utilization = reportedRatio(st.utilization);
      e.borrowRate = reportedRatio(st.borrowRate);
      e.lendRate = reportedRatio(st.lendRate);
      e.lendRateAfterFee = reportedRatio(st.lendRateAfterFee);
      e.hourBorrowRate = reportedRatio(st.hourBorrowRate);
      e.optimalUtilization = reportedRatio(st.optimalUtilization);
      e.throttleUtilization = reportedRatio(st.throttleUtilizationThreshold);
      e.maxUtilization = reportedRatio(st.maxUtilization);
      e.poolFee = reportedRatio(st.fee);
      e.throttled = st.throttled ? 1 : 0;
      sink.publish(e);
    }
  }

  private queryRateCurve(cmd: CommandRecord, sink: EventSink): void {
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    const n = cmd.curvePoints === 0 ? 11 : cmd.curvePoints;
    if (n < 2 || n > RATE_CURVE_POINTS_MAX) {
      this.reject(cmd, RejectCode.InvalidField, `a rate curve has 2..${RATE_CURVE_POINTS_MAX} points`, sink);
      return;
    }
    const us: bigint[] = [];
    for (let i = 0; i < n; i++) us.push((RATIO_SCALE * BigInt(i)) / BigInt(n - 1));
    for (const p of sampleRateCurve(this.pools.pools[cmd.asset]!.config, us)) {
      const e = this.out;
      e.clear();
      e.kind = EventKind.RateCurvePoint;
      e.seq = cmd.seq;
      e.account = cmd.account;
      e.asset = cmd.asset;
      e.utilization = reportedRatio(p.utilization);
      e.borrowRate = reportedRatio(p.borrowRate);
      e.lendRate = reportedRatio(p.lendRate);
      e.lendRateAfterFee = reportedRatio(p.lendRateAfterFee);
      sink.publish(e);
    }
  }

  /**
   * L14: the interest entries of an account, oldest first, from timeMs on: EntryFee at each borrow, Borrow and Lend
   * at each hour mark charged while the position was open — derived from the position log and the accrual table.
   */
  interestHistory(accountId: number, asset: number, fromMs: number, limit: number): { asset: number; kind: InterestKind; amount: bigint; rate: bigint; timeMs: number }[] {
    const account = this.accounts.get(accountId);
    const out: { asset: number; kind: InterestKind; amount: bigint; rate: bigint; timeMs: number; order: number }[] = [];
    if (account === undefined || account.poolLog === null) return [];
    for (let a = 0; a < this.assetCount; a++) {
      if (asset !== ALL_ASSETS && asset !== a) continue;
      const log = account.poolLog[a];
      if (log === null || log === undefined || log.length === 0) continue;
      for (let k = 0; k < log.length; k++) {
        const entry = log.at(k);
        if (entry.entryFee > 0n && entry.timeMs >= fromMs) out.push({ asset: a, kind: InterestKind.EntryFee, amount: entry.entryFee, rate: entry.rate, timeMs: entry.timeMs, order: entry.stamp * 2 });
      }
      // The accruals after the first logged change; shares in force at accrual n = the last change stamped < n.
      let i = 0;
      for (let n = log.at(0).stamp + 1; n <= this.pools.accruals[a]!; n++) {
        while (i + 1 < log.length && log.at(i + 1).stamp < n) i++;
        const row = this.pools.accrualRow(a, n);
        if (row === null || row.hourMs < fromMs) continue;
        const e = log.at(i);
        if (e.borrowShares > 0n) out.push({ asset: a, kind: InterestKind.Borrow, amount: borrowInterestForHour(e.borrowShares, row), rate: row.rate, timeMs: row.hourMs, order: n * 2 - 1 });
        if (e.lendShares > 0n) out.push({ asset: a, kind: InterestKind.Lend, amount: lendInterestForHour(e.lendShares, row), rate: row.rate, timeMs: row.hourMs, order: n * 2 - 1 });
      }
    }
    out.sort((x, y) => x.timeMs - y.timeMs || x.asset - y.asset || x.order - y.order);
    return out.slice(0, limit).map(({ asset: as, kind, amount, rate, timeMs }) => ({ asset: as, kind, amount, rate, timeMs }));
  }

  private queryInterestHistory(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    if (cmd.asset !== ALL_ASSETS && cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    const limit = cmd.historyLimit <= 0 || cmd.historyLimit > INTEREST_HISTORY_ENTRIES_MAX ? INTEREST_HISTORY_ENTRIES_MAX : cmd.historyLimit;
    for (const h of this.interestHistory(cmd.account, cmd.asset, cmd.timeMs, limit)) {
      const e = this.out;
      e.clear();
      e.kind = EventKind.InterestEntry;
      e.seq = cmd.seq;
      e.account = cmd.account;
      e.asset = h.asset;
      e.interestKind = h.kind;
      e.interest = h.amount;
      e.borrowRate = reportedRatio(h.rate);
      e.timeMs = h.timeMs;
      sink.publish(e);
    }
    this.accepted(cmd, sink);
  }

  private queryMaxBorrow(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    const max = this.maxBorrowQuantity(cmd.account, cmd.asset);
    const e = this.out;
    e.clear();
    e.kind = EventKind.MaxBorrowQuantity;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.asset = cmd.asset;
    e.quantity = max.quantity;
    e.marginLimit = max.marginLimit;
    e.poolLimit = max.poolLimit;
    sink.publish(e);
  }

  // ---- the batch boundary (pools.ts: the replicas and the batch rule) ----

  /** This batch's own pool deltas, per asset (valid until endBatch). */
  poolDeltas(): readonly PoolDelta[] {
    return this.pools.deltas;
  }

  /** Applies another risk shard's pool deltas of this batch (shard order, never this shard's own). */
  applyRemotePoolDeltas(deltas: readonly PoolDelta[]): void {
    this.pools.applyRemote(deltas);
  }

  /** The batch end (after the merge): hourly interest for every hour mark the clock crossed (L5). */
  endBatch(): void {
    this.pools.endBatch(this.nowMs);
  }

  // ---- snapshots (X7; the encodings are in snapshot.ts) ----

  /**
   * Writes everything this shard owns at a batch boundary (after endBatch): the clock, marks, pool replicas, fee
   * volumes, accounts, the fee account, holds and the clientId index — what stateHash covers and what future
   * commands read. A fresh shard restored from it behaves as this one does.
   */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.Risk);
    w.uint(this.shardIndex);
    w.uint(this.shardCount);
    w.uint(this.nowMs);
    writeMarks(w, this.marginContext);
    this.pools.writeSnapshot(w);
    this.volumes.writeSnapshot(w);
    writeAccounts(w, this.accounts, this.pools, this.assetCount);
    writeFeeAccount(w, this.feeAccount, this.assetCount);
    writeHolds(w, this.holds, this.byClientId, holdClientKey);
    w.endSection();
  }

  /** Restores a fresh shard (same config, index and shard count) from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    if (this.accounts.size !== 0 || this.holds.size !== 0) throw new Error(`risk shard ${this.shardIndex}: restore needs a fresh shard`);
    r.beginSection(SnapshotTag.Risk, `risk shard ${this.shardIndex}`);
    const index = r.uint();
    const count = r.uint();
    if (index !== this.shardIndex || count !== this.shardCount) r.fail(`risk shard ${index} of ${count} found where shard ${this.shardIndex} of ${this.shardCount} was expected`);
    this.nowMs = r.uint();
    restoreMarks(r, this.marginContext);
    this.pools.restoreSnapshot(r);
    this.volumes.restoreSnapshot(r);
    restoreAccounts(r, this.accounts, (id) => this.newAccount(id, true), this.pools, this.assetCount);
    restoreFeeAccount(r, this.feeAccount, this.assetCount);
    restoreHolds(r, this.holds, this.byClientId, this.accounts, this.assetCount, holdClientKey);
    r.endSection();
  }

  /** The collateral statement of an account (an account never seen is empty, with the default settings). */
  collateralStatement(accountId: number): CollateralStatement {
    const account = this.accounts.get(accountId) ?? this.newAccount(accountId, false);
    this.pools.sync(account);
    const m = account.syncedMargin();
    const ctx = this.marginContext;
    const assets: AssetCollateral[] = [];
    for (let a = 0; a < this.assetCount; a++) {
      if (account.available[a] === 0n && account.locked[a] === 0n && account.lent[a] === 0n && account.borrowed[a] === 0n) continue;
      const quantity = account.netBalance(a);
      const magnitude = quantity < 0n ? -quantity : quantity;
      assets.push({
        asset: a,
        quantity,
        available: account.available[a]!,
        locked: account.locked[a]!,
        lent: account.lent[a]!,
        borrowed: account.borrowed[a]!,
        markUsd: ctx.assetMark[a]!,
        weight: m.heldWeightRatio(a),
        notionalUsd: (magnitude * ctx.assetMark[a]!) / ctx.assetUnit[a]!,
        collateralValueUsd: m.heldCollateralValueUsd(a),
        liabilityUsd: m.borrowedLiabilityUsd(a),
      });
    }
    const user = userOf(accountId);
    const day = dayOf(this.nowMs);
    const tier = this.volumes.tierOf(user, day);
    // Net equity, collateral and liability as the account stands now (C1–C3); exposure, locked equity and the ratios
    // count its open orders' risk-increasing part from the moment they rest (C4, C6, seed 004: the equity "occupied
    // by positions and open orders").
    const netEquity = m.currentNetEquityUsd();
    const locked = m.netEquityLockedUsd();
    const ten = m.totalExposureNotionalUsd();
    const mm = m.maintenanceMarginUsd();
    return {
      account: accountId,
      netEquityUsd: netEquity,
      netEquityAvailableUsd: netEquity - locked,
      netEquityLockedUsd: locked,
      collateralValueUsd: m.currentCollateralValueUsd(),
      liabilityUsd: m.currentLiabilityUsd(),
      unrealizedPnlUsd: m.totalUnrealizedPnlUsd(),
      exposureUsd: ten,
      imf: m.accountImf(),
      mmf: m.accountMmf(),
      marginFraction: marginFraction(netEquity, ten),
      imr: initialMarginRatio(locked, netEquity, ten),
      mmr: maintenanceMarginRatio(mm, netEquity, ten),
      liquidatable: isLiquidatable(mm, netEquity, ten),
      leverageLimit: account.leverageLimit,
      settings: account.settings,
      feeTier: tier,
      makerFeeBps: this.feeTiers[tier]!.makerBps,
      takerFeeBps: this.feeTiers[tier]!.takerBps,
      volume30dUsd: this.volumes.volumeUsdOf(user, day),
      assets,
    };
  }

  // ---- lending seam ----

  /**
   * Moves `amount` (> 0) units of `asset` between an account's available balance and its pool slots, keeping the
   * margin state in step, and publishes the balance when given a sink. The lending issue drives it from the pools
   * after its own checks (C8, L7, L8); this only refuses what would make a slot negative (returns false, nothing
   * changed). Not reachable from the wire yet.
   */
  applyPoolMovement(accountId: number, asset: number, movement: PoolMovement, amount: bigint, seq = 0, sink: EventSink | null = null): boolean {
    const account = this.accounts.get(accountId);
    if (account === undefined || asset >= this.assetCount || amount <= 0n) return false;
    const a = asset;
    const owedBefore = account.borrowed[a]! > 0n;
    switch (movement) {
      case PoolMovement.Borrow:
        account.borrowed[a] = account.borrowed[a]! + amount;
        account.available[a] = account.available[a]! + amount;
        break;
      case PoolMovement.Repay:
        if (account.available[a]! < amount || account.borrowed[a]! < amount) return false;
        account.available[a] = account.available[a]! - amount;
        account.borrowed[a] = account.borrowed[a]! - amount;
        break;
      case PoolMovement.Lend:
        if (account.available[a]! < amount) return false;
        account.available[a] = account.available[a]! - amount;
        account.lent[a] = account.lent[a]! + amount;
        break;
      case PoolMovement.Redeem:
        if (account.lent[a]! < amount) return false;
        account.lent[a] = account.lent[a]! - amount;
        account.available[a] = account.available[a]! + amount;
        break;
      default:
        return false;
    }
    const owedAfter = account.borrowed[a]! > 0n;
    if (owedAfter !== owedBefore) account.borrowedAssets += owedAfter ? 1 : -1;
    this.noteChange(account, a);
    if (sink !== null) this.publishBalance(seq, account, a, sink);
    return true;
  }

  // ---- helpers ----

  /** The asset's net balance changed: the margin state applies it (one slot, C2–C7 incremental) when next read. */
  private noteChange(account: Account, asset: number): void {
    account.markChanged(asset);
  }

  private takerBpsOf(accountId: number): number {
    return this.feeTiers[this.volumes.tierOf(userOf(accountId), dayOf(this.nowMs))]!.takerBps;
  }

  private clientAccount(cmd: CommandRecord, sink: EventSink): Account | null {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return null;
    }
    const account = this.accounts.get(cmd.account);
    if (account === undefined) {
      this.reject(cmd, RejectCode.InsufficientBalance, `account ${cmd.account} has no balance`, sink);
      return null;
    }
    this.pools.sync(account);
    return account;
  }

  /** A client account's margin state, made when first read, at the account's leverage limit then. */
  private readonly createMargin = (account: Account): AccountMargin => new AccountMargin(this.marginContext, BigInt(account.leverageLimit) * RATIO_SCALE);

  /** A client account with the default settings; `persistent` ones share their user's volume record (S5). */
  private newAccount(id: number, persistent: boolean): Account {
    const volume = persistent ? this.volumes.userVolume(userOf(id)) : null;
    return new Account(id, this.assetCount, this.createMargin, volume);
  }

  private accountOrCreate(id: number): Account | null {
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

  private shortfallMessage(action: string, asset: number, need: bigint, available: bigint): string {
    const a = this.config.assets[asset]!;
    return `insufficient ${a.symbol} to ${action}: needs ${formatDecimal(need, a.decimals)}, available ${formatDecimal(available, a.decimals)}`;
  }

  /** The refusal text of a pool gate (L7, L13, L15, S2). */
  private poolMessage(code: RejectCode, action: string, asset: number, need: bigint, own: bigint): string {
    const a = this.config.assets[asset]!;
    const units = (x: bigint): string => `${formatDecimal(x, a.decimals)} ${a.symbol}`;
    switch (code) {
      case RejectCode.BorrowThrottled:
        return `${action}: the ${a.symbol} pool is at or above its throttle utilization: new borrows are paused until lending or repayments bring it back under (L7)`;
      case RejectCode.RedeemThrottled:
        return `${action}: the ${a.symbol} pool is at or above its throttle utilization: redemptions are paused until lending or repayments bring it back under (L7, L11)`;
      case RejectCode.MaxUtilization:
        return `${action} ${units(need)}: the ${a.symbol} pool would reach its maximum utilization (L13)`;
      case RejectCode.PoolClosed:
        return `${action}: the ${a.symbol} pool does not allow it in its state (L13)`;
      case RejectCode.PoolLendLimit:
        return `lend ${units(need)}: the ${a.symbol} pool would exceed its total lend limit (L13)`;
      case RejectCode.LendRequiresBorrowRepay:
        return `lend ${a.symbol}: the account owes ${a.symbol}; repay it first (L15)`;
      case RejectCode.BorrowRequiresLendRedeem:
        return `borrow ${a.symbol}: the account lends ${a.symbol}; redeem it first (L15)`;
      case RejectCode.BorrowUnavailable:
      case RejectCode.NoLiquidity:
        return `${action} needs ${units(need)}, own ${units(own)}: the ${a.symbol} pool cannot lend the shortfall now (nothing lent, or not enough)`;
      case RejectCode.InsufficientBalance:
        return this.shortfallMessage(action, asset, need, own);
      case RejectCode.InvalidAmount:
        return `${action} ${units(need)}: nothing or less than that to ${action}`;
      default:
        return `${action} ${units(need)} refused`;
    }
  }

  /** C8 refusal text: the IMR the action would leave (the changes are still in the scratch record). */
  private marginMessage(action: string, account: Account): string {
    const after = account.syncedMargin().imrAfter(this.changes);
    return `${action} would leave the initial margin ratio at ${percent(after)} (must stay below 100%, C8)`;
  }

  private reject(cmd: CommandRecord, code: number, message: string, sink: EventSink): void {
    const e = this.out;
    e.clear();
    e.kind = cmd.kind === CommandKind.PlaceOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.market = cmd.market;
    e.orderId = cmd.kind === CommandKind.PlaceOrder ? cmd.seq : cmd.orderId;
    e.clientId = cmd.clientId;
    e.code = code;
    e.message = message;
    sink.publish(e);
  }

  private accepted(cmd: CommandRecord, sink: EventSink): void {
    const e = this.out;
    e.clear();
    e.kind = EventKind.CommandAccepted;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.asset = cmd.asset;
    e.commandAmount = cmd.amount;
    e.code = cmd.kind;
    sink.publish(e);
  }

  /** CommandAccepted for a command that changes no engine state (no asset or amount to echo). */
  private acknowledged(cmd: CommandRecord, sink: EventSink): void {
    const e = this.out;
    e.clear();
    e.kind = EventKind.CommandAccepted;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.code = cmd.kind;
    sink.publish(e);
  }

  private publishBalance(seq: number, account: Account, asset: number, sink: EventSink): void {
    // Its own record, only ever a Balance: the fields set below are the only ones that change, so no clear().
    const e = this.balanceOut;
    e.seq = seq;
    e.account = account.id;
    e.asset = asset;
    e.available = account.available[asset]!;
    e.locked = account.locked[asset]!;
    e.lent = account.lent[asset]!;
    e.borrowed = account.borrowed[asset]!;
    sink.publish(e);
  }

  // ---- reads (off the hot path) ----

  balance(account: number, asset: number): { available: bigint; locked: bigint } {
    const a = this.accounts.get(account);
    if (a !== undefined) this.pools.sync(a);
    return { available: a?.available[asset] ?? 0n, locked: a?.locked[asset] ?? 0n };
  }

  /** Lent and borrowed units of an asset (zero until lending lands). */
  poolBalance(account: number, asset: number): { lent: bigint; borrowed: bigint } {
    const a = this.accounts.get(account);
    if (a !== undefined) this.pools.sync(a);
    return { lent: a?.lent[asset] ?? 0n, borrowed: a?.borrowed[asset] ?? 0n };
  }

  /** The account's pool position in an asset's pool: shares (L5), exact. */
  positionOf(account: number, asset: number): { lendShares: bigint; borrowShares: bigint } {
    const p = this.accounts.get(account)?.positions[asset];
    return { lendShares: p?.lendShares ?? 0n, borrowShares: p?.borrowShares ?? 0n };
  }

  /** The margin state of an account, synced (tests and reports; an account never seen: a fresh empty one). */
  accountMargin(account: number): AccountMargin {
    const a = this.accounts.get(account) ?? this.newAccount(account, false);
    this.pools.sync(a);
    return a.syncedMargin();
  }

  /** A3 settings of an account (the defaults for one never seen). */
  settingsOf(account: number): { settings: number; leverageLimit: number } {
    const a = this.accounts.get(account) ?? this.newAccount(account, false);
    return { settings: a.settings, leverageLimit: a.leverageLimit };
  }

  /** S5: the fee tier index and 30-day volume (USD, PRICE_DECIMALS) of the account's user today. */
  feeTierOf(account: number): { tier: number; volumeUsd: bigint } {
    const day = dayOf(this.nowMs);
    const user = userOf(account);
    return { tier: this.volumes.tierOf(user, day), volumeUsd: this.volumes.volumeUsdOf(user, day) };
  }

  markOf(asset: number): bigint {
    return this.marginContext.assetMark[asset]!;
  }

  feeBalance(asset: number): bigint {
    return this.feeAccount.available[asset]!;
  }

  accountIds(): number[] {
    return [...this.accounts.keys()].sort((a, b) => a - b);
  }

  /** X1: Σ over this shard's accounts (fee account included) of available + locked + lent − borrowed, per asset. */
  totals(): bigint[] {
    const sums = new Array<bigint>(this.assetCount).fill(0n);
    for (const a of this.accounts.values()) {
      this.pools.sync(a);
      for (let i = 0; i < this.assetCount; i++) sums[i] = sums[i]! + a.netBalance(i);
    }
    for (let i = 0; i < this.assetCount; i++) sums[i] = sums[i]! + this.feeAccount.available[i]!;
    return sums;
  }

  /**
   * Throws on any broken invariant (tests call it after every step): X2 no negative available, locked, lent or
   * borrowed; each account's locked = Σ its holds and openOrders = their count; the margin state holds exactly the
   * net balances, its sums equal a recomputation, and its leverage is the setting's.
   */
  validateInternalState(): void {
    const n = this.assetCount;
    const lockedByHolds = new Map<number, bigint[]>();
    const countByHolds = new Map<number, number>();
    const holds = this.holds.sorted();
    for (const h of holds) {
      if (h.remaining < 0n) throw new Error(`risk invariant: order ${h.orderId} holds ${h.remaining}`);
      let sums = lockedByHolds.get(h.account);
      if (sums === undefined) lockedByHolds.set(h.account, (sums = new Array<bigint>(n).fill(0n)));
      sums[h.asset] = sums[h.asset]! + h.remaining;
      countByHolds.set(h.account, (countByHolds.get(h.account) ?? 0) + 1);
    }
    let reservedByHolds = new Array<bigint>(n).fill(0n);
    for (const h of holds) reservedByHolds[h.asset] = reservedByHolds[h.asset]! + h.reserved;
    // C4: each account's open-order borrows and credited proceeds are the sums over its holds.
    const openByHolds = new Map<number, { borrow: bigint[]; inflow: bigint[]; repay: bigint[]; borrowing: number }>();
    for (const h of holds) {
      let o = openByHolds.get(h.account);
      if (o === undefined) openByHolds.set(h.account, (o = { borrow: new Array<bigint>(n).fill(0n), inflow: new Array<bigint>(n).fill(0n), repay: new Array<bigint>(n).fill(0n), borrowing: 0 }));
      if (h.borrowMax < 0n || h.inflowCredit < 0n) throw new Error(`risk invariant: order ${h.orderId} borrowMax ${h.borrowMax}, credit ${h.inflowCredit}`);
      o.borrow[h.asset] = o.borrow[h.asset]! + h.borrowMax;
      const credits = h.inflowRepays ? o.repay : o.inflow;
      credits[h.inflowAsset] = credits[h.inflowAsset]! + h.inflowCredit;
      if (h.borrowMax > 0n) o.borrowing++;
    }
    if (this.shardCount === 1) {
      for (let i = 0; i < n; i++) {
        if (reservedByHolds[i] !== this.pools.reserved[i]) throw new Error(`risk invariant: pool ${i} reserved ${this.pools.reserved[i]}, holds ${reservedByHolds[i]}`);
      }
    }
    reservedByHolds = [];
    for (const a of this.accounts.values()) {
      this.pools.sync(a);
      for (let i = 0; i < n; i++) {
        const pos = a.positions[i]!;
        const pool = this.pools.pools[i]!;
        if (pos.lendShares > 0n && pos.borrowShares > 0n) throw new Error(`risk invariant (L15): account ${a.id} asset ${i} lends and borrows`);
        if (pos.lendShares > 0n || pos.borrowShares > 0n) {
          if (a.lent[i] !== lentAmountOf(pos.lendShares, pool.lendIndex) || a.borrowed[i] !== owedAmountOf(pos.borrowShares, pool.borrowIndex)) {
            throw new Error(`risk invariant: account ${a.id} asset ${i} pool slots do not value its shares`);
          }
        }
        if (a.available[i]! < 0n || a.locked[i]! < 0n || a.lent[i]! < 0n || a.borrowed[i]! < 0n) {
          throw new Error(`risk invariant (X2): account ${a.id} asset ${i}: available ${a.available[i]}, locked ${a.locked[i]}, lent ${a.lent[i]}, borrowed ${a.borrowed[i]}`);
        }
        const open = openByHolds.get(a.id);
        if ((open?.borrow[i] ?? 0n) !== a.openBorrow[i] || (open?.inflow[i] ?? 0n) !== a.openInflow[i] || (open?.repay[i] ?? 0n) !== a.openRepay[i]) {
          throw new Error(`risk invariant (C4): account ${a.id} asset ${i} open-order borrow ${a.openBorrow[i]} / proceeds ${a.openInflow[i]}, holds ${open?.borrow[i] ?? 0n} / ${open?.inflow[i] ?? 0n}`);
        }
        const held = lockedByHolds.get(a.id)?.[i] ?? 0n;
        if (held !== a.locked[i]) throw new Error(`risk invariant: account ${a.id} asset ${i} locked ${a.locked[i]}, holds ${held}`);
        if (a.syncedMargin().assetBalance(i) !== a.netBalance(i)) {
          throw new Error(`risk invariant: account ${a.id} asset ${i} margin balance ${a.syncedMargin().assetBalance(i)}, net ${a.netBalance(i)}`);
        }
      }
      if (a.borrowed.filter((b) => b > 0n).length !== a.borrowedAssets) throw new Error(`risk invariant: account ${a.id} borrowedAssets ${a.borrowedAssets}`);
      if ((openByHolds.get(a.id)?.borrowing ?? 0) !== a.openBorrowOrders) throw new Error(`risk invariant: account ${a.id} openBorrowOrders ${a.openBorrowOrders}`);
      if ((countByHolds.get(a.id) ?? 0) !== a.openOrders) throw new Error(`risk invariant: account ${a.id} openOrders ${a.openOrders}, holds ${countByHolds.get(a.id) ?? 0}`);
      if (a.syncedMargin().leverageLimit !== BigInt(a.leverageLimit) * RATIO_SCALE) throw new Error(`risk invariant: account ${a.id} leverage`);
      a.syncedMargin().validateInternalState();
    }
    for (let i = 0; i < n; i++) if (this.feeAccount.available[i]! < 0n) throw new Error(`risk invariant: fee account asset ${i} negative`);
  }

  /** Deterministic digest of everything this shard owns (replay equality, X4). */
  stateHash(): string {
    const h = createHash("sha256");
    h.update(`risk ${this.shardIndex}/${this.shardCount} t=${this.nowMs}\n`);
    h.update(`marks ${this.marginContext.assetMark.join(",")} ${this.marginContext.marketMark.join(",")}\n`);
    for (const id of this.accountIds()) {
      const a = this.accounts.get(id)!;
      this.pools.sync(a);
      h.update(`a${id} o${a.openOrders} s${a.settings} L${a.leverageLimit} ${a.available.join(",")} ${a.locked.join(",")} ${a.lent.join(",")} ${a.borrowed.join(",")}\n`);
    }
    h.update(`fee ${this.feeAccount.available.join(",")}\n`);
    h.update(this.pools.hashText());
    for (const id of this.accountIds()) {
      const a = this.accounts.get(id)!;
      if (a.poolPositions === 0) continue;
      h.update(`p${id} ${a.positions.map((p) => `${p.lendShares}/${p.borrowShares}`).join(",")}\n`);
    }
    h.update(this.volumes.hashText());
    for (const hold of this.holds.sorted()) {
      h.update(`h${hold.orderId} ${hold.account} ${hold.asset} ${hold.flags} ${hold.remaining} ${hold.borrowMax} ${hold.reserved} ${hold.inflowAsset} ${hold.inflowCredit} ${hold.inflowRepays}\n`);
    }
    return h.digest("hex");
  }
}

/** A ratio (1e18) as reported in events: 1e-9, rounded down, clamped to int64; UNBOUNDED → the sentinel. */
export function reportedRatio(r: Ratio): bigint {
  if (r >= UNBOUNDED) return REPORTED_RATIO_UNBOUNDED;
  let q = r / RATIO_TO_REPORTED;
  if (r < 0n && q * RATIO_TO_REPORTED !== r) q -= 1n;
  if (q > INT64_MAX) return INT64_MAX;
  if (q < -INT64_MAX) return -INT64_MAX;
  return q;
}

/** A ratio as a percentage with two decimals, rounded down ("100.22%"), or "unbounded". */
function percent(r: Ratio): string {
  if (r >= UNBOUNDED) return "unbounded (net equity <= 0)";
  return `${formatDecimal(r / PERCENT_HUNDREDTHS, 2)}%`;
}
