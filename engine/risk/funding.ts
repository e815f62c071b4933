// P4 at a funding interval end (engine.ts decision D2(b), amended by P3): the FundingRate event from the market's
// matching shard reaches every risk shard in phase 3, and each shard pays and charges its OWN accounts' positions
// (D4: no shard writes another's accounts) — in account-id order, each payment = fundingPayment(rate, quantity, mark)
// (longs pay shorts when the rate is positive; payers round up, receivers round down). A payer is debited through the
// P6 waterfall, a receiver credited through P7; each step is a Settlement row (reason Funding), then the account's
// USDC Balance and its Position (cumulativeFundingPayment, breakEvenPrice). The shard's net of the roundings
// (Σ debits − Σ credits) goes to its own slice of the insurance fund, so over all shards funding creates no money:
// Σ payments over every position of a market is ≥ 0 and is exactly the sum of the slices' gains.
import { FUNDING_HISTORY_ENTRIES_MAX, InsuranceReason, MarketKind, type EventRecord, type EventSink } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { FundingLog } from "./histories.ts";
import { applyFundingPayment, fundingPayment } from "../perps/index.ts";
import { creditUsdc, debitUsdc } from "./funds.ts";
import { creditInsurance } from "./insurance.ts";
import { publishBalance, publishPosition, publishSettlementRows } from "./replies.ts";
import { positionReport } from "./queries.ts";
import { SettlementReason, type RiskState } from "./state.ts";

/** P4: the interval end joins the market's funding-rate history (every shard; QueryFundingRateHistory). */
export function recordFundingRate(s: RiskState, e: EventRecord): void {
  const log = s.fundingRates[e.market];
  if (log !== undefined && s.config.markets[e.market]!.kind === MarketKind.Perpetual) log.add(e.timeMs, e.fundingRate, e.meanPremium, e.fundingSamples, e.markPrice);
}

/** P4: the payment joins the account's funding history (QueryFundingHistory), at the interval end's time. */
function recordFundingPayment(s: RiskState, account: Account, e: EventRecord, quantity: bigint, payment: bigint): void {
  const perps = s.perpsOf(account);
  const log = perps.funding ?? (perps.funding = new FundingLog(FUNDING_HISTORY_ENTRIES_MAX));
  log.add(e.timeMs, e.market, quantity, e.fundingRate, e.markPrice, payment);
}

function byAccountId(a: number, b: number): number {
  return a - b;
}

/**
 * P4: pays the interval's funding of market e.market at e.fundingRate and e.markPrice (0 = the market had no mark:
 * nothing is paid) to and from this shard's positions. Events carry seq 0 (engine-originated, D3).
 */
export function payFunding(s: RiskState, e: EventRecord, sink: EventSink): void {
  const m = e.market;
  const mark = e.markPrice;
  const rate = e.fundingRate;
  const market = s.config.markets[m];
  if (market === undefined || market.kind !== MarketKind.Perpetual || mark <= 0n || rate === 0n) return;
  const holders = s.perpHolders[m]!;
  if (holders.size === 0) return;
  const ids = s.fundingAccounts;
  ids.length = 0;
  for (const id of holders) ids.push(id);
  ids.sort(byAccountId);
  const usdc = market.quoteAsset;
  const baseDecimals = s.marginContext.marketBaseDecimals[m]!;
  const quoteDecimals = s.marginContext.assetDecimals[usdc]!;
  let net = 0n;
  for (let i = 0; i < ids.length; i++) {
    const account = s.accounts.get(ids[i]!)!;
    s.pools.sync(account);
    const pos = s.perpsOf(account).positions[m]!;
    const payment = fundingPayment(rate, pos.netQuantity, mark, baseDecimals, quoteDecimals);
    if (payment === 0n) continue;
    applyFundingPayment(pos, payment);
    recordFundingPayment(s, account, e, pos.netQuantity, payment);
    if (payment > 0n) debitUsdc(s, account, usdc, m, SettlementReason.Funding, payment);
    else creditUsdc(s, account, usdc, m, SettlementReason.Funding, -payment);
    net += payment;
    publishSettlementRows(s, 0, sink);
    publishBalance(s, 0, account, usdc, sink);
    publishPosition(s, 0, positionReport(s, account.id, m), sink);
  }
  creditInsurance(s, usdc, InsuranceReason.FundingRemainder, net);
}
