// P4 at a funding interval end (engine.ts decisions D2(b), P3, P5S): the FundingRate event from the market's matching
// shard reaches every risk shard in phase 3 and starts the interval's payments there; each shard pays and charges its
// OWN accounts' positions (D4: no shard writes another's accounts) from phase 3b on, at most the batch's holder-visit
// budget a batch, in account-id order from a cursor (passes.ts), each payment = fundingPayment(rate, quantity, mark)
// at the interval end's rate and mark (longs pay shorts when the rate is positive; payers round up, receivers round
// down). A holder the cursor has not reached pays before a fill changes its position (payFundingBeforeFill). A payer
// is debited through the P6 waterfall, a receiver credited through P7; each step is a Settlement row (reason
// Funding), then the account's USDC Balance and its Position (cumulativeFundingPayment, breakEvenPrice). The shard's
// net of each part (Σ debits − Σ credits) goes to its own slice of the insurance fund, so over all shards funding
// creates no money: once an interval is paid, Σ payments over every position of a market is ≥ 0 and is exactly the
// sum of the slices' gains.
import { FUNDING_HISTORY_ENTRIES_MAX, InsuranceReason, MarketKind, type EventRecord, type EventSink } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { FundingLog } from "./histories.ts";
import { applyFundingPayment, fundingPayment } from "../perps/index.ts";
import { creditUsdc, debitUsdc } from "./funds.ts";
import { creditInsurance } from "./insurance.ts";
import { publishBalance, publishPosition, publishSettlementRows } from "./replies.ts";
import { positionReportInto } from "./queries.ts";
import { SettlementReason, type RiskState } from "./state.ts";
import type { PendingFunding } from "./passes.ts";

/** P4: the interval end joins the market's funding-rate history (every shard; QueryFundingRateHistory). */
export function recordFundingRate(s: RiskState, e: EventRecord): void {
  const log = s.fundingRates[e.market];
  if (log !== undefined && s.config.markets[e.market]!.kind === MarketKind.Perpetual) log.add(e.timeMs, e.fundingRate, e.meanPremium, e.fundingSamples, e.markPrice);
}

/** P4: the payment joins the account's funding history (QueryFundingHistory), at the interval end's time. */
function recordFundingPayment(s: RiskState, account: Account, m: number, f: PendingFunding, quantity: bigint, payment: bigint): void {
  const perps = s.perpsOf(account);
  const log = perps.funding ?? (perps.funding = new FundingLog(FUNDING_HISTORY_ENTRIES_MAX));
  log.add(f.timeMs, m, quantity, f.rate, f.mark, payment);
}

/**
 * Phase 3 (R2, D2(b)): the FundingRate event of market e.market (rate, mark; mark 0 = the market had no mark, rate 0:
 * nothing to pay) starts this shard's payments of the interval (P5S: made by advanceFunding from phase 3b on). An
 * interval end that finds the previous one still unpaid pays what is left of it first, whatever the budget.
 */
export function startFunding(s: RiskState, e: EventRecord, sink: EventSink): void {
  const m = e.market;
  const market = s.config.markets[m];
  if (market === undefined || market.kind !== MarketKind.Perpetual || e.markPrice <= 0n || e.fundingRate === 0n) return;
  const f = s.passes.funding[m]!;
  if (f.active) payHolders(s, m, f, Number.MAX_SAFE_INTEGER, sink);
  if (s.perpHolders[m]!.size !== 0) f.start(e.timeMs, e.fundingRate, e.markPrice);
}

/** Phase 3b (P5S): pending payments, markets in id order, at most `budget` holder visits; returns the visits spent. */
export function advanceFunding(s: RiskState, budget: number, sink: EventSink): number {
  const funding = s.passes.funding;
  let spent = 0;
  for (let m = 0; m < funding.length && spent < budget; m++) {
    const f = funding[m]!;
    if (f.active) spent += payHolders(s, m, f, budget - spent, sink);
  }
  return spent;
}

/**
 * P4: pays the interval of market m to and from this shard's holders from the cursor (account-id order), at most
 * `budget` visits, at the interval end's rate and mark. The net of the roundings (Σ debits − Σ credits of the part)
 * goes to the shard's insurance slice. Ends the pending interval when the cursor passes the last holder.
 */
function payHolders(s: RiskState, m: number, f: PendingFunding, budget: number, sink: EventSink): number {
  const holders = s.perpHolders[m]!;
  let spent = 0;
  let net = 0n;
  for (;;) {
    const id = holders.ceiling(f.cursorId);
    if (id < 0) {
      f.finish();
      break;
    }
    if (spent === budget) break; // the next holder is known: an interval whose last holder is paid ends in its batch
    f.cursorId = id + 1;
    spent++;
    if (f.paidEarly.delete(id)) continue;
    net += payOne(s, s.accounts.get(id)!, m, f, sink);
  }
  creditInsurance(s, s.config.markets[m]!.quoteAsset, InsuranceReason.FundingRemainder, net);
  return spent;
}

/**
 * P4 for one holder at the interval's rate and mark: the payment (> 0 = the account pays) through P6 / P7, its funding
 * history row, then its Settlement rows, USDC Balance and Position (seq 0, engine-originated, D3). Returns it.
 */
function payOne(s: RiskState, account: Account, m: number, f: PendingFunding, sink: EventSink): bigint {
  s.pools.sync(account);
  const pos = s.perpsOf(account).positions[m]!;
  const usdc = s.config.markets[m]!.quoteAsset;
  const payment = fundingPayment(f.rate, pos.netQuantity, f.mark, s.marginContext.marketBaseDecimals[m]!, s.marginContext.assetDecimals[usdc]!);
  if (payment === 0n) return 0n;
  applyFundingPayment(s.perpsOf(account).ownPosition(m), payment); // pos itself: it has a quantity
  recordFundingPayment(s, account, m, f, pos.netQuantity, payment);
  if (payment > 0n) debitUsdc(s, account, usdc, m, SettlementReason.Funding, payment);
  else creditUsdc(s, account, usdc, m, SettlementReason.Funding, -payment);
  publishSettlementRows(s, 0, sink);
  publishBalance(s, 0, account, usdc, sink);
  publishPosition(s, 0, positionReportInto(s, account.id, m, s.positionOut), sink);
  return payment;
}

/**
 * P4 exactly under P5S: before a fill changes `account`'s position in market m while the market's interval is still
 * being paid and the cursor has not reached the account, the account pays (or receives) the interval's funding on the
 * position it held at the interval end — so a holder cannot close before its turn and skip the payment, and one that
 * opens after the interval end pays nothing for it. Called by R2 before the fill touches the position.
 */
export function payFundingBeforeFill(s: RiskState, account: Account, m: number, sink: EventSink): void {
  const f = s.passes.funding[m];
  if (f === undefined || !f.owes(account.id)) return;
  f.paidEarly.add(account.id);
  if (!s.perpHolders[m]!.has(account.id)) return;
  const net = payOne(s, account, m, f, sink);
  creditInsurance(s, s.config.markets[m]!.quoteAsset, InsuranceReason.FundingRemainder, net);
}

/**
 * P4 under P5S: Σ of the payments this shard's holders still owe for market m's pending interval (> 0: the fund is
 * owed it; the receivers paid first took it from the fund meanwhile). 0 with no interval pending. Not the hot path
 * (the fuzz's Q4 check and operators' reading of the fund).
 */
export function fundingInTransit(s: RiskState, m: number): bigint {
  const f = s.passes.funding[m];
  if (f === undefined || !f.active) return 0n;
  const usdc = s.config.markets[m]!.quoteAsset;
  let sum = 0n;
  for (const id of s.perpHolders[m]!.values()) {
    if (!f.owes(id)) continue;
    const q = s.accounts.get(id)!.perps!.positions[m]!.netQuantity;
    sum += fundingPayment(f.rate, q, f.mark, s.marginContext.marketBaseDecimals[m]!, s.marginContext.assetDecimals[usdc]!);
  }
  return sum;
}

/**
 * Q4 (P5S): the funding this shard's slice of the fund holds for receivers the cursors have not reached — over the
 * pending intervals of the markets quoted in `asset`, max(0, −Σ fundingInTransit): the payers paid ahead of them, so
 * the balance holds their funding. Not the fund's to spend (liquidation-transfers.ts coverBudget); money the fund is
 * still owed (Σ > 0) is not counted, as capital() counts no negative pnlFloat. O(holders) of the pending markets:
 * called at most once a batch, at a cover budget's first use.
 */
export function fundingOwedByFund(s: RiskState, asset: number): bigint {
  let sum = 0n;
  for (let m = 0; m < s.passes.funding.length; m++) {
    if (s.passes.funding[m]!.active && s.config.markets[m]!.quoteAsset === asset) sum += fundingInTransit(s, m);
  }
  return sum < 0n ? -sum : 0n;
}
