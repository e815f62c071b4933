// Queries (SPEC C10, L8, L13, L14, P1 and the collateral statement; the P4/P6 histories in history-queries.ts): answered by events, nothing changes. The max
// answers run the same check as the real command (checks.ts; the C10 solvers bisect over it), so the max passes and
// one step more is refused. Also the reads tests and reports use (off the hot path).
import { ALL_ASSETS, ALL_MARKETS, AccountSetting, CommandKind, EventKind, MarketKind, RATIO_SCALE, RejectCode, Side, SPOT_MARGIN_FLAGS, type CommandRecord, type EventSink, type SqrtMarginFunction } from "../model/index.ts";
import type { Ratio } from "../fixed/index.ts";
import { INSURANCE_HISTORY_ENTRIES_MAX, INTEREST_HISTORY_ENTRIES_MAX, isValidClientAccount, LIQUIDATION_HISTORY_ENTRIES_MAX, RATE_CURVE_POINTS_MAX, userOf } from "../model/index.ts";
import type { Account, AccountPerps, PositionLogEntry } from "./accounts.ts";
import { queryFundingHistory, queryFundingRateHistory, querySettlementHistory } from "./history-queries.ts";
import { dayOf } from "./fees.ts";
import { borrowInterestForHour, HourAccrual, InterestKind, lendInterestForHour, lendRateAfterFee, lentAmount, owedAmount, sampleRateCurve } from "../lending/index.ts";
import {
  AccountMargin,
  exposureQuantity,
  initialMarginRatio,
  isLiquidatable,
  maintenanceMarginRatio,
  marginFraction,
  maxBorrow,
  maxSpotOrderQuantity,
  marginFractionNear,
  maxWithdrawal,
  RootHint,
} from "./margin/index.ts";
import { borrowCode, largestAccepted, perpFillPassesMargin, receiveRepays, spendable, withdrawalCode } from "./checks.ts";
import {
  accepted,
  publishCollateral,
  publishInsuranceEntry,
  publishInsuranceFund,
  publishInterestEntry,
  publishMaxQuantity,
  publishOpenInterest,
  publishPosition,
  publishPoolStats,
  publishRateCurvePoint,
  rejectInvalidAccount,
  rejectMaxOrderPrice,
  rejectRateCurvePoints,
  rejectUnknownAsset,
  rejectUnknownMarket,
  type InterestEntry,
} from "./replies.ts";
import {
  WITHDRAWAL_SEARCH_MAX,
  type AssetCollateral,
  type CollateralStatement,
  type MaxQuantity,
  type PositionReport,
  PositionReportRecord,
  type RiskState,
} from "./state.ts";
import {
  breakEvenPrice,
  entryPrice,
  estimatedLiquidationPrice,
  LiquidationPriceKind,
  PerpPosition,
  reduceOnlyFillCap,
  unrealizedPnl,
} from "../perps/index.ts";
import { queryLenderLosses } from "./liquidation-lenders.ts";

// ---- query commands ----

/** One of the query kinds (shard.ts lists them). */
export function answerQuery(s: RiskState, kind: number, cmd: CommandRecord, sink: EventSink): void {
  switch (kind) {
    case CommandKind.QueryCollateral:
      return queryCollateral(s, cmd, sink);
    case CommandKind.QueryMaxOrder:
      return queryMaxOrder(s, cmd, sink);
    case CommandKind.QueryMaxWithdrawal:
      return queryMaxWithdrawal(s, cmd, sink);
    case CommandKind.QueryPoolStats:
      return queryPoolStats(s, cmd, sink);
    case CommandKind.QueryRateCurve:
      return queryRateCurve(s, cmd, sink);
    case CommandKind.QueryInterestHistory:
      return queryInterestHistory(s, cmd, sink);
    case CommandKind.QueryPositions:
      return queryPositions(s, cmd, sink);
    case CommandKind.QueryOpenInterest:
      return queryOpenInterest(s, cmd, sink);
    case CommandKind.QueryLiquidationHistory:
      return queryLiquidationHistory(s, cmd, sink);
    case CommandKind.QueryLenderLosses:
      return queryLenderLosses(s, cmd, sink); // Q4 (liquidation-lenders.ts)
    case CommandKind.QueryInsuranceFund:
      return queryInsuranceFund(s, cmd, sink);
    case CommandKind.QueryInsuranceHistory:
      return queryInsuranceHistory(s, cmd, sink);
    case CommandKind.QuerySettlementHistory:
      return querySettlementHistory(s, cmd, sink);
    case CommandKind.QueryFundingHistory:
      return queryFundingHistory(s, cmd, sink);
    case CommandKind.QueryFundingRateHistory:
      return queryFundingRateHistory(s, cmd, sink);
    default:
      return queryMaxBorrow(s, cmd, sink);
  }
}

/** The collateral statement, then a Position event per perpetual market with a position or open orders (P1). */
export function queryCollateral(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  publishCollateral(s, cmd.seq, collateralStatement(s, cmd.account), sink);
  for (const m of positionMarkets(s, cmd.account)) publishPosition(s, cmd.seq, positionReportInto(s, cmd.account, m, s.positionOut), sink);
}

/** P1: a Position event per perpetual market with a position or open orders, then CommandAccepted. */
export function queryPositions(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  for (const m of positionMarkets(s, cmd.account)) publishPosition(s, cmd.seq, positionReportInto(s, cmd.account, m, s.positionOut), sink);
  accepted(s, cmd, sink);
}

/** P1: the open interest of one perpetual market, or of every one (ALL_MARKETS); a spot market is refused. */
export function queryOpenInterest(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const markets = s.config.markets;
  if (cmd.market !== ALL_MARKETS && (cmd.market >= markets.length || markets[cmd.market]!.kind !== MarketKind.Perpetual)) {
    return rejectUnknownMarket(s, cmd, sink);
  }
  for (const m of markets) {
    if (m.kind === MarketKind.Perpetual && (cmd.market === ALL_MARKETS || cmd.market === m.id)) publishOpenInterest(s, cmd.seq, m.id, sink);
  }
}

/** Q6: the account's liquidation history from cmd.timeMs on (at most historyLimit rows, 0 = the maximum), oldest first,
 * each row the event as it was published, now with the query's seq; then CommandAccepted. */
export function queryLiquidationHistory(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  const limit = historyLimitOf(cmd, LIQUIDATION_HISTORY_ENTRIES_MAX);
  const seq = cmd.seq;
  s.liquidationHistory.forEachRow(cmd.account, cmd.timeMs, limit, s.out, (e) => {
    e.seq = seq;
    sink.publish(e);
  });
  accepted(s, cmd, sink);
}

/** Q6/D4: the insurance fund's balance of one asset or of every one (ALL_ASSETS). */
export function queryInsuranceFund(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (cmd.asset !== ALL_ASSETS && cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  for (let a = 0; a < s.assetCount; a++) if (cmd.asset === ALL_ASSETS || cmd.asset === a) publishInsuranceFund(s, cmd.seq, a, sink);
}

/** Q6/D4: the insurance fund's history (one asset or ALL_ASSETS) from cmd.timeMs on, oldest first; then CommandAccepted. */
export function queryInsuranceHistory(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (cmd.asset !== ALL_ASSETS && cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  const rows = s.insurance.rows(cmd.asset === ALL_ASSETS ? -1 : cmd.asset, cmd.timeMs, historyLimitOf(cmd, INSURANCE_HISTORY_ENTRIES_MAX));
  for (const row of rows) publishInsuranceEntry(s, cmd.seq, row, sink);
  accepted(s, cmd, sink);
}

/** A history query's row limit: historyLimit, or `max` when it is 0 (or beyond max). */
function historyLimitOf(cmd: CommandRecord, max: number): number {
  return cmd.historyLimit <= 0 || cmd.historyLimit > max ? max : cmd.historyLimit;
}

export function queryMaxOrder(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  const market = s.config.markets[cmd.market];
  if (market === undefined) return rejectUnknownMarket(s, cmd, sink);
  if (cmd.price <= 0n) return rejectMaxOrderPrice(s, cmd, sink);
  const max = market.kind === MarketKind.Spot
    ? maxOrderQuantity(s, cmd.account, cmd.market, cmd.side as Side, cmd.price, cmd.flags)
    : maxPerpOrderQuantity(s, cmd.account, cmd.market, cmd.side as Side, cmd.price);
  publishMaxQuantity(s, EventKind.MaxOrderQuantity, cmd, max.quantity, max.marginLimit, 0n, sink);
}

export function queryMaxWithdrawal(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  if (cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  const max = maxWithdrawalQuantity(s, cmd.account, cmd.asset, cmd.flags);
  publishMaxQuantity(s, EventKind.MaxWithdrawalQuantity, cmd, max.quantity, max.marginLimit, 0n, sink);
}

export function queryMaxBorrow(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  if (cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  const max = maxBorrowQuantity(s, cmd.account, cmd.asset);
  publishMaxQuantity(s, EventKind.MaxBorrowQuantity, cmd, max.quantity, max.marginLimit, max.poolLimit, sink);
}

export function queryPoolStats(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (cmd.asset !== ALL_ASSETS && cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  for (let a = 0; a < s.assetCount; a++) {
    if (cmd.asset !== ALL_ASSETS && cmd.asset !== a) continue;
    publishPoolStats(s, cmd, a, sink);
  }
}

export function queryRateCurve(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  const n = cmd.curvePoints === 0 ? 11 : cmd.curvePoints;
  if (n < 2 || n > RATE_CURVE_POINTS_MAX) return rejectRateCurvePoints(s, cmd, RATE_CURVE_POINTS_MAX, sink);
  const us: bigint[] = [];
  for (let i = 0; i < n; i++) us.push((RATIO_SCALE * BigInt(i)) / BigInt(n - 1));
  for (const p of sampleRateCurve(s.pools.pools[cmd.asset]!.config, us)) publishRateCurvePoint(s, cmd, p, sink);
}

export function queryInterestHistory(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  if (cmd.asset !== ALL_ASSETS && cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  const limit = cmd.historyLimit <= 0 || cmd.historyLimit > INTEREST_HISTORY_ENTRIES_MAX ? INTEREST_HISTORY_ENTRIES_MAX : cmd.historyLimit;
  for (const h of interestHistory(s, cmd.account, cmd.asset, cmd.timeMs, limit)) publishInterestEntry(s, cmd, h, sink);
  accepted(s, cmd, sink);
}

// ---- the answers ----

/**
 * C10: the largest quantity (a multiple of the market's step, ≤ its maxQuantity) of a limit order at `price` with
 * the order `flags` that this shard's pre-trade check accepts now; and the margin check's own limit, as if every
 * shortfall could be borrowed (what autoBorrow allows once pools lend, up to their liquidity). Off the hot path.
 */
export function maxOrderQuantity(s: RiskState, accountId: number, marketId: number, side: Side, price: bigint, flags: number): MaxQuantity {
  const account = s.accounts.get(accountId);
  const market = s.config.markets[marketId]!;
  if (account === undefined || price <= 0n) return { quantity: 0n, marginLimit: 0n };
  s.pools.sync(account);
  const step = market.stepSize;
  const marketMax = (market.maxQuantity / step) * step;
  const feeBps = s.takerBpsOf(accountId);
  // The margin limit as for a margin order (its proceeds repay a borrow of the received asset, S3).
  const query = { market: marketId, side, price, feeBps, stepSize: step, maxQuantity: marketMax, receiveRepays: true };
  const margin = account.syncedMargin();
  const ctx = s.marginContext;
  const marginLimit = maxSpotOrderQuantity(margin, ctx, query);
  if ((flags & SPOT_MARGIN_FLAGS) !== 0 && !account.isOn(AccountSetting.MarginEnabled)) return { quantity: 0n, marginLimit };
  // What the order may spend: the available balance (+ what it may borrow with autoBorrow).
  const asset = side === Side.Buy ? market.quoteAsset : market.baseAsset;
  const units = spendable(s, account, asset, flags);
  let funded: bigint;
  if (side === Side.Sell) funded = units;
  else {
    // Largest q with ceil(q × price × mult / div) ≤ spendable ⇔ q × price × mult ≤ spendable × div.
    funded = (units * ctx.marketQuoteDivisor[marketId]!) / (price * ctx.marketQuoteMultiplier[marketId]!);
  }
  funded = (funded / step) * step;
  const bound = funded < marketMax ? funded : marketMax;
  const repays = receiveRepays(account, flags);
  const quantity = repays && bound >= marginLimit ? marginLimit : maxSpotOrderQuantity(margin, ctx, { ...query, maxQuantity: bound, receiveRepays: repays });
  return { quantity, marginLimit };
}

/**
 * C10 for a perpetual (P1, C4, C5, C8, S5): the largest quantity (a multiple of the step, ≤ maxQuantity) of a limit
 * order at `price` that checkPerpOrder accepts now — its full fill at `price` with the taker fee in USDC, at the
 * market's sqrt IMF, every open order counted — and no further than the market's openInterestLimit lets its opening
 * part go; marginLimit is the margin check's own limit (the open-interest bound left out). The spot-margin flags do
 * not apply (a perpetual order holds nothing). Bisection over the margin check, which accepts every quantity up to
 * its bound (a reducing part only lowers exposure). Off the hot path.
 */
export function maxPerpOrderQuantity(s: RiskState, accountId: number, marketId: number, side: Side, price: bigint): MaxQuantity {
  const account = s.accounts.get(accountId);
  const market = s.config.markets[marketId]!;
  if (account === undefined || price <= 0n) return { quantity: 0n, marginLimit: 0n };
  s.pools.sync(account);
  const step = market.stepSize;
  const steps = market.maxQuantity / step;
  const marginLimit = largestAccepted(steps, (k) => perpFillPassesMargin(s, market, account, side, k * step, price)) * step;
  if (market.openInterestLimit <= 0n) return { quantity: marginLimit, marginLimit };
  // P1: the opening part (beyond what reduces the position) may take the open interest up to the limit, not past it.
  const position = account.perps === null ? 0n : account.perps.positions[marketId]!.netQuantity;
  const reducible = reduceOnlyFillCap(position, side, market.maxQuantity);
  const room = market.openInterestLimit - s.openInterest[marketId]!;
  const oiBound = ((reducible + (room > 0n ? room : 0n)) / step) * step;
  return { quantity: oiBound < marginLimit ? oiBound : marginLimit, marginLimit };
}

/**
 * C10/A5: the largest withdrawal of `asset` the withdraw check accepts now (flags AutoBorrow: a margin withdrawal),
 * and the margin check's own limit (as if the part beyond the balance could be borrowed).
 */
export function maxWithdrawalQuantity(s: RiskState, accountId: number, asset: number, flags: number): MaxQuantity {
  const account = s.syncedAccount(accountId);
  if (account === undefined) return { quantity: 0n, marginLimit: 0n };
  const marginLimit = maxWithdrawal(account.syncedMargin(), asset, WITHDRAWAL_SEARCH_MAX);
  const units = spendable(s, account, asset, flags);
  const hi = units < marginLimit ? units : marginLimit;
  const quantity = largestAccepted(hi, (x) => withdrawalCode(s, account, asset, x, flags, s.poolPlan) === RejectCode.None);
  return { quantity, marginLimit };
}

/**
 * L8: the largest manual borrow of `asset` the Borrow command accepts now (bounded by the equity and leverage
 * through C8 with the borrow's own IMF tiers, and by the pool: throttle, maxUtilization, liquidity), and the margin
 * check's own limit. Off the hot path.
 */
export function maxBorrowQuantity(s: RiskState, accountId: number, asset: number): MaxQuantity & { poolLimit: bigint } {
  const account = s.syncedAccount(accountId);
  if (account === undefined) return { quantity: 0n, marginLimit: 0n, poolLimit: 0n };
  const marginLimit = maxBorrow(account.syncedMargin(), asset, WITHDRAWAL_SEARCH_MAX);
  const plan = s.poolPlan;
  const poolLimit = largestAccepted(s.pools.room(asset), (x) => s.pools.checkBorrow(account, asset, x, s.nowMs, plan) === RejectCode.None);
  const hi = poolLimit < marginLimit ? poolLimit : marginLimit;
  const quantity = largestAccepted(hi, (x) => borrowCode(s, account, asset, x, plan) === RejectCode.None);
  return { quantity, marginLimit, poolLimit };
}

/**
 * L14: one hour mark's interest on a position whose log entry `e` was in force: Borrow (at the borrow APR) and Lend
 * (at the lenders' APR, after the pool fee). On the settlement asset, the part of the lend (borrow) that the
 * account's open positions' realized PnL makes up — min(value, open PnL) — earns (pays) its pro-rata share of the
 * hour, rounded down, as UnrealizedPositivePnl (UnrealizedNegativePnl); the rest stays Lend (Borrow), so the two sum
 * to the hour's interest exactly.
 */
function pushHourInterest(s: RiskState, a: number, e: PositionLogEntry, row: HourAccrual, order: number, out: (InterestEntry & { order: number })[]): void {
  const pnl = a === s.pools.pnlAsset ? e.openPnl : 0n;
  const timeMs = row.hourMs;
  if (e.borrowShares > 0n) {
    const total = borrowInterestForHour(e.borrowShares, row);
    const owed = owedAmount(e.borrowShares, row.borrowIndexBefore);
    const part = pnl < 0n ? (-pnl < owed ? -pnl : owed) : 0n;
    const onPnl = owed > 0n ? (total * part) / owed : 0n;
    if (part < owed) out.push({ asset: a, kind: InterestKind.Borrow, amount: total - onPnl, rate: row.rate, timeMs, order });
    if (part > 0n) out.push({ asset: a, kind: InterestKind.UnrealizedNegativePnl, amount: onPnl, rate: row.rate, timeMs, order });
  }
  if (e.lendShares > 0n) {
    const total = lendInterestForHour(e.lendShares, row);
    const lent = lentAmount(e.lendShares, row.lendIndexBefore);
    const part = pnl > 0n ? (pnl < lent ? pnl : lent) : 0n;
    const onPnl = lent > 0n ? (total * part) / lent : 0n;
    const rate = lendRateAfterFee(s.pools.pools[a]!.config, row.utilization);
    if (part < lent || lent === 0n) out.push({ asset: a, kind: InterestKind.Lend, amount: total - onPnl, rate, timeMs, order });
    if (part > 0n) out.push({ asset: a, kind: InterestKind.UnrealizedPositivePnl, amount: onPnl, rate, timeMs, order });
  }
}

/**
 * L14: the interest entries of an account, oldest first, from timeMs on: EntryFee at each borrow, Borrow and Lend
 * at each hour mark charged while the position was open — derived from the position log and the accrual table.
 */
export function interestHistory(s: RiskState, accountId: number, asset: number, fromMs: number, limit: number): InterestEntry[] {
  const account = s.accounts.get(accountId);
  const out: (InterestEntry & { order: number })[] = [];
  if (account === undefined || account.poolLog === null) return [];
  for (let a = 0; a < s.assetCount; a++) {
    if (asset !== ALL_ASSETS && asset !== a) continue;
    const log = account.poolLog[a];
    if (log === null || log === undefined || log.length === 0) continue;
    for (let k = 0; k < log.length; k++) {
      const entry = log.at(k);
      if (entry.entryFee > 0n && entry.timeMs >= fromMs) out.push({ asset: a, kind: InterestKind.EntryFee, amount: entry.entryFee, rate: entry.rate, timeMs: entry.timeMs, order: entry.stamp * 2 });
    }
    // The accruals after the first logged change; shares in force at accrual n = the last change stamped < n.
    let i = 0;
    for (let n = log.at(0).stamp + 1; n <= s.pools.accruals[a]!; n++) {
      while (i + 1 < log.length && log.at(i + 1).stamp < n) i++;
      const row = s.pools.accrualRow(a, n);
      if (row === null || row.hourMs < fromMs) continue;
      pushHourInterest(s, a, log.at(i), row, n * 2 - 1, out);
    }
  }
  out.sort((x, y) => x.timeMs - y.timeMs || x.asset - y.asset || x.order - y.order);
  return out.slice(0, limit).map(({ asset: as, kind, amount, rate, timeMs }) => ({ asset: as, kind, amount, rate, timeMs }));
}

/** The asset rows of a collateral statement: every asset with a non-zero slot (C1, C2). */
function assetRows(s: RiskState, account: Account, m: AccountMargin): AssetCollateral[] {
  const ctx = s.marginContext;
  const assets: AssetCollateral[] = [];
  for (let a = 0; a < s.assetCount; a++) {
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
  return assets;
}

/** The collateral statement of an account (an account never seen is empty, with the default settings). */
export function collateralStatement(s: RiskState, accountId: number): CollateralStatement {
  const account = s.accountOrEmpty(accountId);
  const m = account.syncedMargin();
  const assets = assetRows(s, account, m);
  const user = userOf(accountId);
  const day = dayOf(s.nowMs);
  const tier = s.volumes.tierOf(user, day);
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
    makerFeeBps: s.feeTiers[tier]!.makerBps,
    takerFeeBps: s.feeTiers[tier]!.takerBps,
    volume30dUsd: s.volumes.volumeUsdOf(user, day),
    assets,
  };
}

/**
 * P1 (and C4, C5, P8): the report of the account's position in perpetual market m, at the mark its margin context
 * holds. estLiquidationPrice is P8's exact grid solution on the margin state's own arithmetic (0 = none; the mark
 * itself when the account is liquidatable already).
 */
export function positionReport(s: RiskState, accountId: number, m: number): PositionReport {
  return positionReportInto(s, accountId, m, new PositionReportRecord());
}

/** positionReport written into `out` (RiskState.positionOut for a report published at once: no record per report). */
export function positionReportInto(s: RiskState, accountId: number, m: number, out: PositionReportRecord): PositionReportRecord {
  return accountPositionReportInto(s, s.accountOrEmpty(accountId), m, out);
}

/** positionReportInto for an account at hand (valued at the pools' indices: PoolBook.sync), without its look-up. */
export function accountPositionReportInto(s: RiskState, account: Account, m: number, out: PositionReportRecord): PositionReportRecord {
  const accountId = account.id;
  const market = s.config.markets[m]!;
  const ctx = s.marginContext;
  const perps = account.perps;
  const pos = perps === null ? EMPTY_POSITION : perps.positions[m]!;
  const openBuy = perps === null ? 0n : perps.openBuy[m]!;
  const openSell = perps === null ? 0n : perps.openSell[m]!;
  const baseDecimals = ctx.marketBaseDecimals[m]!;
  const quoteDecimals = ctx.assetDecimals[market.quoteAsset]!;
  const mark = ctx.marketMark[m]!;
  const margin = account.syncedMargin();
  const exposure = exposureQuantity(pos.netQuantity, openBuy, openSell);
  const notional = exposure === 0n ? 0n : margin.positionNotionalUsd(m);
  out.account = accountId;
  out.market = m;
  out.netQuantity = pos.netQuantity;
  out.entryPrice = entryPrice(pos);
  out.breakEvenPrice = breakEvenPrice(pos, baseDecimals, quoteDecimals);
  out.markPrice = mark;
  out.pnlUnrealized = unrealizedPnl(pos, mark, baseDecimals, quoteDecimals);
  out.pnlRealized = pos.realizedPnl;
  out.cumulativeFundingPayment = pos.cumulativeFundingPayment;
  out.netExposureQuantity = exposure;
  out.netExposureNotionalUsd = notional;
  out.imf = margin.positionImfAt(m, notional);
  out.mmf = margin.positionMmfAt(m, notional);
  out.estLiquidationPrice = liquidationPrice(s, margin, perps, m, pos, exposure);
  return out;
}

const EMPTY_POSITION = new PerpPosition();

/** P8 on the margin state's inputs (see engine/perps/liquidation-price.ts): 0 when no such price exists. */
function liquidationPrice(s: RiskState, margin: AccountMargin, perps: AccountPerps | null, m: number, pos: PerpPosition, exposure: bigint): bigint {
  const market = s.config.markets[m]!;
  const inp = s.liquidationInputs;
  inp.quantity = pos.netQuantity;
  inp.costBasis = pos.costBasis;
  inp.exposureQuantity = exposure;
  inp.baseDecimals = s.marginContext.marketBaseDecimals[m]!;
  inp.mmf = market.mmf!;
  const equity = margin.netEquityUsd();
  const maintenance = margin.maintenanceMarginUsd();
  const upnl = margin.positionUnrealizedPnlUsd(m);
  inp.otherEquityUsd = equity - upnl;
  inp.markUpnl = upnl; // the slot's uPnL at the mark: P8's formula (with markShortfall: a long's far-end bound)
  inp.otherMaintenanceMarginUsd = maintenance - margin.positionMaintenanceMarginUsd(m);
  inp.markShortfall = maintenance - equity; // the shortfall at the mark: this position's own slot is at the mark
  inp.mark = s.marginContext.marketMark[m]!;
  inp.tickSize = market.tickSize;
  inp.minPrice = market.minPrice;
  inp.maxPrice = market.maxPrice;
  P8_MMF.flatLimitUsd = s.marginContext.marketMmfFlatLimitUsd[m]!;
  P8_MMF.hint.root = margin.positionRootHint(m); // a seed only (isqrtNear is exact from any): the first probe is the mark
  // A short's fixed point starts at its last answer (a hint: the answer does not depend on it; perps/liquidation-price.ts).
  const starts = perps === null ? null : perps.p8Start;
  inp.start = starts === null ? 0n : starts[m]!;
  const out = estimatedLiquidationPrice(inp, p8PositionMmf, s.liquidationResult);
  if (perps !== null && out.kind === LiquidationPriceKind.Found && pos.netQuantity < 0n && inp.start !== out.price) {
    (perps.p8Start ??= zeroStarts(perps.openBuy.length))[m] = out.price;
  }
  return out.kind === LiquidationPriceKind.None ? 0n : out.price;
}

function zeroStarts(markets: number): bigint[] {
  return new Array<bigint>(markets).fill(0n);
}

/** P8's MMF formula: positionMmf's value (marginFractionNear with the market's flat limit, set per solve), each root
 * seeded by the solve's previous one — the probes close in on one price, so a root costs one or two divisions. */
const P8_MMF = { flatLimitUsd: 0n, hint: new RootHint() };
function p8PositionMmf(notionalUsd: bigint, mmf: SqrtMarginFunction): Ratio {
  return marginFractionNear(notionalUsd, mmf.factor, mmf.base, P8_MMF.flatLimitUsd, P8_MMF.hint);
}

/** P1: the perpetual markets in which the account has a position or open orders, by market id. */
export function positionMarkets(s: RiskState, accountId: number): number[] {
  const perps = s.accounts.get(accountId)?.perps ?? null;
  const out: number[] = [];
  if (perps !== null) for (let m = 0; m < perps.openBuy.length; m++) if (perps.hasState(m)) out.push(m);
  return out;
}

// ---- reads (tests and reports) ----

export function balance(s: RiskState, account: number, asset: number): { available: bigint; locked: bigint } {
  const a = s.syncedAccount(account);
  return { available: a?.available[asset] ?? 0n, locked: a?.locked[asset] ?? 0n };
}

/** Lent and borrowed units of an asset. */
export function poolBalance(s: RiskState, account: number, asset: number): { lent: bigint; borrowed: bigint } {
  const a = s.syncedAccount(account);
  return { lent: a?.lent[asset] ?? 0n, borrowed: a?.borrowed[asset] ?? 0n };
}

/** The account's pool position in an asset's pool: shares (L5), exact. */
export function positionOf(s: RiskState, account: number, asset: number): { lendShares: bigint; borrowShares: bigint } {
  const p = s.accounts.get(account)?.positions[asset];
  return { lendShares: p?.lendShares ?? 0n, borrowShares: p?.borrowShares ?? 0n };
}

/** A3 settings of an account (the defaults for one never seen). */
export function settingsOf(s: RiskState, account: number): { settings: number; leverageLimit: number } {
  const a = s.accounts.get(account) ?? s.newAccount(account, false);
  return { settings: a.settings, leverageLimit: a.leverageLimit };
}

/** S5: the fee tier index and 30-day volume (USD, PRICE_DECIMALS) of the account's user today. */
export function feeTierOf(s: RiskState, account: number): { tier: number; volumeUsd: bigint } {
  const day = dayOf(s.nowMs);
  const user = userOf(account);
  return { tier: s.volumes.tierOf(user, day), volumeUsd: s.volumes.volumeUsdOf(user, day) };
}
