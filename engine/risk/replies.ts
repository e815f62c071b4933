// Every event risk writes and every reject text (the layer above state.ts). Each function fills one of the state's
// reused records and publishes it; none decides a rule or changes a balance.
import { formatDecimal, type Ratio } from "../fixed/index.ts";
import {
  CommandKind,
  EventKind,
  IndexFlag,
  PRICE_SCALE,
  RATIO_SCALE,
  RejectCode,
  REPORTED_RATIO_UNBOUNDED,
  Side,
  type CommandRecord,
  type EventRecord,
  type EventSink,
} from "../model/index.ts";
import { INT64_MAX, INT64_MIN, isValidClientAccount, SETTLEMENT_HISTORY_ROWS_MAX } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import type { AssetOracle } from "../perps/index.ts";
import { InterestKind, poolStats, type RateCurvePoint } from "../lending/index.ts";
import { UNBOUNDED, type AccountMargin } from "./margin/index.ts";
import type { InsuranceRow } from "./insurance.ts";
import { OrderDetail, RISK_LIMITS, type CollateralStatement, type OrderPlan, type PositionReport, type RiskState, type SettlementRows } from "./state.ts";
import { SettlementLog } from "./histories.ts";

const RATIO_TO_REPORTED = RATIO_SCALE / PRICE_SCALE;
const PERCENT_HUNDREDTHS = RATIO_SCALE / 10_000n;

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
export function percent(r: Ratio): string {
  if (r >= UNBOUNDED) return "unbounded (net equity <= 0)";
  return `${formatDecimal(r / PERCENT_HUNDREDTHS, 2)}%`;
}

// ---- reject texts ----

export function shortfallMessage(s: RiskState, action: string, asset: number, need: bigint, available: bigint): string {
  const a = s.config.assets[asset]!;
  return `insufficient ${a.symbol} to ${action}: needs ${formatDecimal(need, a.decimals)}, available ${formatDecimal(available, a.decimals)}`;
}

/** The refusal text of a pool gate (L7, L13, L15, S2). */
export function poolMessage(s: RiskState, code: RejectCode, action: string, asset: number, need: bigint, own: bigint): string {
  const a = s.config.assets[asset]!;
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
      return shortfallMessage(s, action, asset, need, own);
    case RejectCode.InvalidAmount:
      return `${action} ${units(need)}: nothing or less than that to ${action}`;
    default:
      return `${action} ${units(need)} refused`;
  }
}

/** C8 refusal text: the IMR the action would leave (the changes are still in the scratch record). */
export function marginMessage(s: RiskState, action: string, account: Account): string {
  const after = account.syncedMargin().imrAfter(s.changes);
  return `${action} would leave the initial margin ratio at ${percent(after)} (must stay below 100%, C8)`;
}

/** The text of a refused withdrawal or outgoing transfer (`action`: "withdraw" or "transfer"). */
export function outflowMessage(s: RiskState, code: RejectCode, action: string, account: Account, a: number, amount: bigint): string {
  const own = account.available[a]! + account.lent[a]!;
  switch (code) {
    case RejectCode.InsufficientBalance:
      return shortfallMessage(s, action, a, amount, own);
    case RejectCode.InsufficientMargin:
      return marginMessage(s, action === "withdraw" ? "withdrawal" : action, account);
    default:
      return poolMessage(s, code, action, a, amount, own);
  }
}

/** The text of a refused order, from its check's code and plan (checks.checkOrder). */
export function orderMessage(s: RiskState, code: RejectCode, cmd: CommandRecord, account: Account, plan: OrderPlan): string {
  const action = cmd.side === Side.Buy ? "buy" : "sell";
  switch (plan.detail) {
    case OrderDetail.NegativeField:
      return "quantities and prices must not be negative";
    case OrderDetail.LimitNeedsPriceAndQuantity:
      return "a limit order needs a positive price and quantity";
    case OrderDetail.MarketBuyNeedsQuantity:
      return "a market buy needs a quantity or a quote quantity";
    case OrderDetail.MarketBuyNothingSpendable:
      return shortfallMessage(s, "buy", plan.asset, 1n, 0n);
    case OrderDetail.SellNeedsQuantity:
      return "a sell needs a positive base quantity";
    case OrderDetail.PerpNeedsQuantity:
      return "a perpetual order needs a positive base quantity (no quote quantity)";
    case OrderDetail.OpenInterestLimit:
      return openInterestMessage(s, cmd.market, plan.need);
  }
  const own = account.available[plan.asset]! + account.lent[plan.asset]!;
  switch (code) {
    case RejectCode.InvalidSetting:
      return `account ${account.id} has spot margin off (A3 marginEnabled): send the order without margin flags`;
    case RejectCode.InsufficientBalance:
      return shortfallMessage(s, action, plan.asset, plan.need, own);
    case RejectCode.InsufficientMargin:
      return marginMessage(s, "order", account);
    case RejectCode.AccountLiquidating:
      return `account ${account.id} is liquidating: only orders that reduce its risk are taken (Q1)`;
    default:
      return poolMessage(s, code, action, plan.asset, plan.need, own);
  }
}

function openInterestMessage(s: RiskState, m: number, quantity: bigint): string {
  const market = s.config.markets[m]!;
  const decimals = s.config.assets[market.baseAsset]!.decimals;
  const oi = formatDecimal(s.openInterest[m]!, decimals);
  return `${market.symbol}: open interest ${oi} + ${formatDecimal(quantity, decimals)} would exceed the openInterestLimit ${formatDecimal(market.openInterestLimit, decimals)} (P1)`;
}

export function manualPoolActionName(kind: number): string {
  return kind === CommandKind.Borrow ? "borrow" : kind === CommandKind.Repay ? "repay" : kind === CommandKind.Lend ? "lend" : "redeem";
}

// ---- rejects ----

export function reject(s: RiskState, cmd: CommandRecord, code: number, message: string, sink: EventSink): void {
  const e = s.out;
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

export function rejectInvalidAccount(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
}

export function rejectNoBalance(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InsufficientBalance, `account ${cmd.account} has no balance`, sink);
}

export function rejectUnknownAsset(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
}

export function rejectUnknownMarket(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.UnknownMarket, `unknown market ${cmd.market}`, sink);
}

export function rejectTooManyOpenOrders(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.TooManyOpenOrders, `at most ${RISK_LIMITS.openOrdersPerAccountMax} open orders per account`, sink);
}

export function rejectShardFull(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.Overloaded, `risk shard holds the maximum of ${RISK_LIMITS.accountsPerShardMax} accounts`, sink);
}

/** `what`: "deposit amount", "withdrawal amount", "transfer amount", "amount". */
export function rejectNonPositiveAmount(s: RiskState, cmd: CommandRecord, what: string, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidAmount, `${what} must be positive`, sink);
}

export function rejectInvalidTransfer(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidTransfer, `transfers go between two different accounts of the same user (A2)`, sink);
}

export function rejectTimeBehind(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidTime, `time ${cmd.timeMs} is before the engine time ${s.nowMs}`, sink);
}

export function rejectSettingBits(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidSetting, `settings: unknown setting bits in ${cmd.flags}`, sink);
}

export function rejectLeverageRange(s: RiskState, cmd: CommandRecord, minimum: number, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidSetting, `leverageLimit ${cmd.leverageLimit} is outside ${minimum}..${s.leverageLimitMax} (A3)`, sink);
}

export function rejectNothingToChange(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidSetting, "settings: nothing to change", sink);
}

export function rejectLeverageMargin(s: RiskState, cmd: CommandRecord, account: Account, sink: EventSink): void {
  const imr = percent(account.syncedMargin().imr());
  const text = `leverageLimit ${cmd.leverageLimit}: the initial margin of the open positions would reach the net equity (IMR >= 100%, A3); now IMR ${imr}`;
  reject(s, cmd, RejectCode.InsufficientMargin, text, sink);
}

export function rejectNonPositiveMark(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidPrice, "a mark price must be positive", sink);
}

export function rejectMaxOrderPrice(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidPrice, "a max-order query needs a positive limit price", sink);
}

export function rejectRateCurvePoints(s: RiskState, cmd: CommandRecord, pointsMax: number, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidField, `a rate curve has 2..${pointsMax} points`, sink);
}

export function rejectAutoLendOn(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const name = manualPoolActionName(cmd.kind);
  const text = `manual ${name} is off while auto-lend is on (it lends every available balance and repays debts by itself): turn auto-lend off, or borrow through a margin order or a margin withdrawal (L9-L12)`;
  reject(s, cmd, RejectCode.AutoLendOn, text, sink);
}

export function rejectUnknownCommand(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.UnknownCommand, `command kind ${cmd.kind} is not handled by risk`, sink);
}

/** The command's client account, synced to the pools; null after a reject (not a client account, never funded). */
export function clientAccount(s: RiskState, cmd: CommandRecord, sink: EventSink): Account | null {
  if (!isValidClientAccount(cmd.account)) {
    rejectInvalidAccount(s, cmd, sink);
    return null;
  }
  const account = s.syncedAccount(cmd.account);
  if (account === undefined) {
    rejectNoBalance(s, cmd, sink);
    return null;
  }
  return account;
}

/** The shard's reused event record, cleared, as an event of `kind` caused by `cmd`. */
function beginEvent(s: RiskState, kind: EventKind, cmd: CommandRecord): EventRecord {
  return outEvent(s, kind, cmd.seq);
}

/** The shard's reused out record, cleared, as an event of `kind` answering command `seq` (0: engine-originated). */
function outEvent(s: RiskState, kind: EventKind, seq: number): EventRecord {
  const e = s.out;
  e.clear();
  e.kind = kind;
  e.seq = seq;
  return e;
}

// ---- acknowledgements and state events ----

export function accepted(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const e = beginEvent(s, EventKind.CommandAccepted, cmd);
  e.account = cmd.account;
  e.asset = cmd.asset;
  e.commandAmount = cmd.amount;
  e.acceptedKind = cmd.kind;
  sink.publish(e);
}

/** CommandAccepted for a command that changes no engine state (no asset or amount to echo). */
export function acknowledged(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const e = beginEvent(s, EventKind.CommandAccepted, cmd);
  e.account = cmd.account;
  e.acceptedKind = cmd.kind;
  sink.publish(e);
}

/** CommandAccepted of a mark price (asset and price echoed). */
export function markAccepted(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const e = beginEvent(s, EventKind.CommandAccepted, cmd);
  e.asset = cmd.asset;
  e.price = cmd.price;
  e.acceptedKind = cmd.kind;
  sink.publish(e);
}

/** P2/C1: an asset's index after an oracle update (its collateral mark unless stale). */
export function publishIndex(s: RiskState, cmd: CommandRecord, oracle: AssetOracle, sink: EventSink): void {
  const e = beginEvent(s, EventKind.IndexPrice, cmd);
  e.asset = cmd.asset;
  e.indexPrice = oracle.index;
  e.indexFlags = (oracle.stale ? IndexFlag.Stale : 0) | (oracle.stepLimited ? IndexFlag.StepLimited : 0);
  e.sourcesUsed = oracle.sourcesUsed;
  e.timeMs = s.nowMs;
  sink.publish(e);
}

export function rejectNoOracle(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidField, `asset ${cmd.asset} has no oracle sources configured`, sink);
}

export function rejectOracleSource(s: RiskState, cmd: CommandRecord, sources: number, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidField, `oracle source ${cmd.oracleSource} of asset ${cmd.asset}: the asset has sources 0..${sources - 1}`, sink);
}

export function rejectOracleFlags(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidField, `oracle quote flags ${cmd.flags}: only Apply (1) is defined`, sink);
}

export function rejectOraclePrices(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.InvalidPrice, "an oracle quote needs bid, ask and last > 0 and bid <= ask", sink);
}

export function rejectOracleTime(s: RiskState, cmd: CommandRecord, aheadMaxMs: number, sink: EventSink): void {
  const text = `oracle quote time ${cmd.sourceTimeMs} must be a non-negative integer (ms) at most ${aheadMaxMs} ms after engine time ${s.nowMs}`;
  reject(s, cmd, RejectCode.InvalidTime, text, sink);
}

/** Q1: an account entered (LiquidationStarted) or left (LiquidationEnded) liquidation at the batch end; seq 0. */
export function publishLiquidationStatus(s: RiskState, kind: EventKind, account: number, margin: AccountMargin, sink: EventSink): void {
  const e = s.out;
  e.clear();
  e.kind = kind;
  e.account = account;
  e.netEquityUsd = margin.netEquityUsd();
  e.exposureUsd = margin.totalExposureNotionalUsd();
  e.mmf = reportedRatio(margin.accountMmf());
  e.mmr = reportedRatio(margin.mmr());
  e.timeMs = s.nowMs;
  s.liquidationHistory.record(e); // Q6: a row of the account's history
  sink.publish(e);
}

/** Q4 (issue 13 item 7): a withdrawal-like command while a bankruptcy is open (dYdX gates withdrawals the same way). */
export function rejectWithdrawalsPaused(s: RiskState, cmd: CommandRecord, what: string, sink: EventSink): void {
  const open = s.lenders.openBankruptcies + (s.lenders.openBankruptcies === 0 ? s.lenders.pending.size : 0);
  reject(s, cmd, RejectCode.WithdrawalsPaused, `${what} waits: ${open} bankrupt account(s) not yet resolved (insurance cover or lender payout, Q4)`, sink);
}

/** Q1: a risk-increasing command of a liquidating account. */
export function rejectLiquidating(s: RiskState, cmd: CommandRecord, what: string, sink: EventSink): void {
  reject(s, cmd, RejectCode.AccountLiquidating, `account ${cmd.account} is liquidating: ${what} refused until it leaves liquidation (MMR <= ${percent(s.liquidationParams.liquidationExitMmr)})`, sink);
}

export function rejectDeleveraging(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  reject(s, cmd, RejectCode.Deleveraging, `account ${cmd.account}'s position is auto-deleveraged (Q4) in this batch: send it again`, sink);
}

export function publishClock(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const e = beginEvent(s, EventKind.Clock, cmd);
  e.timeMs = cmd.timeMs;
  sink.publish(e);
}

export function publishAccountSettings(s: RiskState, seq: number, account: Account, sink: EventSink): void {
  const e = outEvent(s, EventKind.AccountSettings, seq);
  e.account = account.id;
  e.settings = account.settings;
  e.leverageLimit = account.leverageLimit;
  sink.publish(e);
}

export function publishBalance(s: RiskState, seq: number, account: Account, asset: number, sink: EventSink): void {
  // Its own record, only ever a Balance: the fields set below are the only ones that change, so no clear().
  const e = s.balanceOut;
  e.seq = seq;
  e.account = account.id;
  e.asset = asset;
  if (sink.unitColumns !== true || !balanceIntoColumn(e, account, asset)) {
    e.unitsInColumn = false;
    e.available = account.available[asset]!;
    e.locked = account.locked[asset]!;
  }
  e.lent = account.lent[asset]!;
  e.borrowed = account.borrowed[asset]!;
  sink.publish(e);
}

/**
 * Copies the account's available and locked units of `asset` into the Balance's own int64 column (e.units) for a sink
 * that reads it there (EventSink.unitColumns), true when done. A column element copied into a column element is never
 * made a heap bigint (V8 keeps it an int64 word): each branch below stores straight from one typed array, without a
 * value that could be either form. A slot array's bigint already exists and is stored if it fits an int64; one that
 * does not (an account past int64, for good a bigint array) takes the fields (false).
 */
function balanceIntoColumn(e: EventRecord, account: Account, asset: number): boolean {
  const units = e.units;
  const available = account.available;
  if (available instanceof BigInt64Array) {
    units[0] = available[asset]!;
  } else {
    const a = available[asset]!;
    if (a < INT64_MIN || a > INT64_MAX) return false;
    units[0] = a;
  }
  const locked = account.locked;
  if (locked instanceof BigInt64Array) {
    units[1] = locked[asset]!;
  } else {
    const l = locked[asset]!;
    if (l < INT64_MIN || l > INT64_MAX) return false;
    units[1] = l;
  }
  e.unitsInColumn = true;
  return true;
}

/** P6/P7: the settlement rows the fill just wrote (state.settlementRows), one Settlement event each, then cleared. */
export function publishSettlementRows(s: RiskState, seq: number, sink: EventSink): void {
  const rows = s.settlementRows;
  // Its own record, only ever a Settlement: the fields set below are the only ones that change (as publishBalance).
  const e = s.settlementOut;
  let accountId = -1;
  let account: Account | undefined;
  for (let i = 0; i < rows.length; i++) {
    const id = rows.account[i]!;
    e.seq = seq;
    e.account = id;
    e.market = rows.market[i]!;
    e.asset = rows.asset[i]!;
    e.settlementReason = rows.reason[i]!;
    e.settlementStep = rows.step[i]!;
    e.settledAmount = rows.amount[i]!;
    e.timeMs = s.nowMs;
    sink.publish(e);
    // A fill's rows come in runs of one account (its fee, its PnL): one look-up per run.
    if (id !== accountId) {
      accountId = id;
      account = s.accounts.get(id);
    }
    if (account !== undefined) recordSettlementRow(s, account, rows, i);
  }
  rows.length = 0;
}

/** The row joins its account's settlement history (histories.ts; QuerySettlementHistory answers from it). */
function recordSettlementRow(s: RiskState, account: Account, rows: SettlementRows, i: number): void {
  const perps = s.perpsOf(account);
  const log = perps.settlements ?? (perps.settlements = new SettlementLog(SETTLEMENT_HISTORY_ROWS_MAX));
  log.add(s.nowMs, rows.market[i]!, rows.asset[i]!, rows.reason[i]!, rows.step[i]!, rows.amount[i]!);
}

/** P1: one position report as a Position event (after a fill, or as a query answer). */
export function publishPosition(s: RiskState, seq: number, r: PositionReport, sink: EventSink): void {
  // Its own record, only ever a Position: every field but kind is set below (as publishBalance).
  const e = s.positionEventOut;
  e.seq = seq;
  e.account = r.account;
  e.market = r.market;
  e.netQuantity = r.netQuantity;
  e.entryPrice = r.entryPrice;
  e.breakEvenPrice = r.breakEvenPrice;
  e.positionMarkPrice = r.markPrice;
  e.pnlUnrealized = r.pnlUnrealized;
  e.pnlRealized = r.pnlRealized;
  e.cumulativeFundingPayment = r.cumulativeFundingPayment;
  e.netExposureQuantity = r.netExposureQuantity;
  e.positionExposureUsd = r.netExposureNotionalUsd;
  e.imf = reportedRatio(r.imf);
  e.mmf = reportedRatio(r.mmf);
  e.estLiquidationPrice = r.estLiquidationPrice;
  e.timeMs = s.nowMs;
  sink.publish(e);
}

/** P1: a perpetual market's open interest (this shard's replica, exact at the batch boundary). */
export function publishOpenInterest(s: RiskState, seq: number, market: number, sink: EventSink): void {
  const e = outEvent(s, EventKind.OpenInterest, seq);
  e.market = market;
  e.openInterestQuantity = s.openInterest[market]!;
  e.timeMs = s.nowMs;
  sink.publish(e);
}

/** Q6/D4: the insurance fund's balance of `asset` (the replica of Σ slices, exact at the batch boundary). */
export function publishInsuranceFund(s: RiskState, seq: number, asset: number, sink: EventSink): void {
  const e = outEvent(s, EventKind.InsuranceFund, seq);
  e.asset = asset;
  e.insuranceBalance = s.insurance.balances[asset]!;
  e.timeMs = s.nowMs;
  sink.publish(e);
}

/** Q6/D4: one row of the insurance fund's history. */
export function publishInsuranceEntry(s: RiskState, seq: number, row: InsuranceRow, sink: EventSink): void {
  const e = outEvent(s, EventKind.InsuranceEntry, seq);
  e.asset = row.asset;
  e.insuranceReason = row.reason;
  e.insuranceChange = row.change;
  e.insuranceBalance = row.balance;
  e.timeMs = row.timeMs;
  sink.publish(e);
}

// ---- query answers ----

export function publishCollateral(s: RiskState, seq: number, st: CollateralStatement, sink: EventSink): void {
  const e = outEvent(s, EventKind.AccountCollateral, seq);
  e.account = st.account;
  e.netEquityUsd = st.netEquityUsd;
  e.netEquityLockedUsd = st.netEquityLockedUsd;
  e.collateralValueUsd = st.collateralValueUsd;
  e.liabilityUsd = st.liabilityUsd;
  e.exposureUsd = st.exposureUsd;
  e.pnlUsd = st.unrealizedPnlUsd;
  e.volumeUsd = st.volume30dUsd;
  e.imf = reportedRatio(st.imf);
  e.mmf = reportedRatio(st.mmf);
  e.marginFraction = reportedRatio(st.marginFraction);
  e.imr = reportedRatio(st.imr);
  e.mmr = reportedRatio(st.mmr);
  e.settings = st.settings;
  e.leverageLimit = st.leverageLimit;
  e.feeTier = st.feeTier;
  e.makerFeeBps = st.makerFeeBps;
  e.takerFeeBps = st.takerFeeBps;
  sink.publish(e);
  for (const a of st.assets) {
    e.clear();
    e.kind = EventKind.AssetCollateral;
    e.seq = seq;
    e.account = st.account;
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

/** MaxOrderQuantity, MaxWithdrawalQuantity or MaxBorrowQuantity (`poolLimit` only for the last). */
export function publishMaxQuantity(s: RiskState, kind: EventKind, cmd: CommandRecord, quantity: bigint, marginLimit: bigint, poolLimit: bigint, sink: EventSink): void {
  const e = beginEvent(s, kind, cmd);
  e.account = cmd.account;
  if (kind === EventKind.MaxOrderQuantity) {
    e.market = cmd.market;
    e.side = cmd.side;
    e.price = cmd.price;
  } else {
    e.asset = cmd.asset;
  }
  e.quantity = quantity;
  e.marginLimit = marginLimit;
  if (kind === EventKind.MaxBorrowQuantity) e.poolLimit = poolLimit;
  sink.publish(e);
}

export function publishPoolStats(s: RiskState, cmd: CommandRecord, a: number, sink: EventSink): void {
  const st = poolStats(s.pools.pools[a]!);
  const e = beginEvent(s, EventKind.PoolStats, cmd);
  e.account = cmd.account;
  e.asset = a;
  e.poolState = st.state;
  e.lent = st.totalLent;
  e.borrowed = st.totalBorrowed;
  e.freeLiquidity = st.freeLiquidity;
  e.openBorrowLendLimit = st.openBorrowLendLimit;
  e.reservedBorrow = s.pools.reserved[a]!;
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

export function publishRateCurvePoint(s: RiskState, cmd: CommandRecord, p: RateCurvePoint, sink: EventSink): void {
  const e = beginEvent(s, EventKind.RateCurvePoint, cmd);
  e.account = cmd.account;
  e.asset = cmd.asset;
  e.utilization = reportedRatio(p.utilization);
  e.borrowRate = reportedRatio(p.borrowRate);
  e.lendRate = reportedRatio(p.lendRate);
  e.lendRateAfterFee = reportedRatio(p.lendRateAfterFee);
  sink.publish(e);
}

/** One L14 interest entry of an account. */
export interface InterestEntry {
  readonly asset: number;
  readonly kind: InterestKind;
  readonly amount: bigint;
  readonly rate: bigint;
  readonly timeMs: number;
}

export function publishInterestEntry(s: RiskState, cmd: CommandRecord, h: InterestEntry, sink: EventSink): void {
  const e = beginEvent(s, EventKind.InterestEntry, cmd);
  e.account = cmd.account;
  e.asset = h.asset;
  e.interestKind = h.kind;
  e.interest = h.amount;
  e.borrowRate = reportedRatio(h.rate);
  e.timeMs = h.timeMs;
  sink.publish(e);
}
