// The history queries of perpetuals (P4, P6/P7; histories.ts keeps the rows): an account's settlement rows and funding
// payments, a market's funding rates. Answered by events with the query's seq, oldest first from `timeMs` on, at most
// `historyLimit` (≤ 0 or above the kept maximum = the kept maximum), then CommandAccepted; nothing changes.
import { ALL_MARKETS, EventKind, FUNDING_HISTORY_ENTRIES_MAX, FUNDING_RATE_HISTORY_MAX, isValidClientAccount, MarketKind, SETTLEMENT_HISTORY_ROWS_MAX } from "../model/index.ts";
import type { CommandRecord, EventSink } from "../model/index.ts";
import { accepted, rejectInvalidAccount, rejectUnknownMarket } from "./replies.ts";
import type { RiskState } from "./state.ts";

function limitOf(requested: number, max: number): number {
  return requested <= 0 || requested > max ? max : requested;
}

/** Is cmd.market ALL_MARKETS or a configured market (spot markets have no rows: their answer is empty)? */
function marketOrAll(s: RiskState, market: number): boolean {
  return market === ALL_MARKETS || (market >= 0 && market < s.config.markets.length);
}

/** P6/P7: a Settlement event per kept row of the account (its reason, waterfall step, amount and time). */
export function querySettlementHistory(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  if (!marketOrAll(s, cmd.market)) return rejectUnknownMarket(s, cmd, sink);
  const log = s.accounts.get(cmd.account)?.perps?.settlements ?? null;
  const limit = limitOf(cmd.historyLimit, SETTLEMENT_HISTORY_ROWS_MAX);
  let sent = 0;
  for (let k = 0; log !== null && k < log.length && sent < limit; k++) {
    const i = log.slotOf(k);
    if (log.timeAt(i) < cmd.timeMs || (cmd.market !== ALL_MARKETS && log.marketAt(i) !== cmd.market)) continue;
    const e = s.out;
    e.clear();
    e.kind = EventKind.Settlement;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.market = log.marketAt(i);
    e.asset = log.assetAt(i);
    e.settlementReason = log.reasonStepAt(i) >> 8;
    e.settlementStep = log.reasonStepAt(i) & 255;
    e.settledAmount = log.amountAt(i);
    e.timeMs = log.timeAt(i);
    sink.publish(e);
    sent++;
  }
  accepted(s, cmd, sink);
}

/** P4: a FundingPayment event per kept payment of the account. */
export function queryFundingHistory(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  if (!marketOrAll(s, cmd.market)) return rejectUnknownMarket(s, cmd, sink);
  const log = s.accounts.get(cmd.account)?.perps?.funding ?? null;
  const limit = limitOf(cmd.historyLimit, FUNDING_HISTORY_ENTRIES_MAX);
  let sent = 0;
  for (let k = 0; log !== null && k < log.length && sent < limit; k++) {
    const i = log.slotOf(k);
    if (log.timeMs[i]! < cmd.timeMs || (cmd.market !== ALL_MARKETS && log.market[i] !== cmd.market)) continue;
    const e = s.out;
    e.clear();
    e.kind = EventKind.FundingPayment;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.market = log.market[i]!;
    e.fundingRate = log.rate[i]!;
    e.markPrice = log.mark[i]!;
    e.fundedQuantity = log.quantity[i]!;
    e.fundingPayment = log.payment[i]!;
    e.timeMs = log.timeMs[i]!;
    sink.publish(e);
    sent++;
  }
  accepted(s, cmd, sink);
}

/** P4: a FundingRate event (the query's seq) per kept interval end of a perpetual market. */
export function queryFundingRateHistory(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const market = s.config.markets[cmd.market];
  if (market === undefined || market.kind !== MarketKind.Perpetual) return rejectUnknownMarket(s, cmd, sink);
  const log = s.fundingRates[cmd.market]!;
  const limit = limitOf(cmd.historyLimit, FUNDING_RATE_HISTORY_MAX);
  let sent = 0;
  for (let k = 0; k < log.length && sent < limit; k++) {
    const i = log.slotOf(k);
    if (log.timeMs[i]! < cmd.timeMs) continue;
    const e = s.out;
    e.clear();
    e.kind = EventKind.FundingRate;
    e.seq = cmd.seq;
    e.market = cmd.market;
    e.fundingRate = log.rate[i]!;
    e.meanPremium = log.meanPremium[i]!;
    e.fundingSamples = log.samples[i]!;
    e.markPrice = log.mark[i]!;
    e.timeMs = log.timeMs[i]!;
    sink.publish(e);
    sent++;
  }
  accepted(s, cmd, sink);
}
