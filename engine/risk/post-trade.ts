// R2: what matching reports is applied to this shard's accounts — fills move money between both sides and charge
// fees (X1, S5), done/reject releases what the order still holds — and passed on to the client stream.
import { InsuranceReason, MarketKind, Side, type EventRecord, type EventSink, type MarketConfig } from "../model/index.ts";
import { applyFill as applyPositionFill } from "../perps/index.ts";
import type { Account } from "./accounts.ts";
import { dayOf, quoteVolumeUsd } from "./fees.ts";
import type { OrderHold } from "./holds.ts";
import { creditInsurance } from "./insurance.ts";
import { payFundingBeforeFill } from "./funding.ts";
import { feeAmount } from "./margin/index.ts";
import { creditInflow, creditUsdc, debitUsdc, incoming, reduceOpenBorrow, releaseHoldFunds, takePerpFill } from "./funds.ts";
import { publishBalance, publishPosition, publishSettlementRows } from "./replies.ts";
import { accountPositionReportInto } from "./queries.ts";
import { SettlementReason, SettlementStep, type RiskState } from "./state.ts";
import { isEngineOrderId, liquidationFee, NoStepReason } from "../liquidation/index.ts";

/** X1: a fill moves the quote amount from buyer to seller and the base quantity from seller to buyer; each side
 * pays its fee in the asset it receives (S5, its user's 30-day tier), rounded up, into the fee account. */
export function applyFill(s: RiskState, e: EventRecord, sink: EventSink): void {
  const market = s.config.markets[e.market]!;
  if (market.kind === MarketKind.Perpetual) return applyPerpFill(s, e, market, sink);
  const takerOwned = s.owns(e.account);
  const makerOwned = s.owns(e.makerAccount);
  if (!takerOwned && !makerOwned) return;
  const day = dayOf(s.nowMs);
  const makerSide = e.side === Side.Buy ? Side.Sell : Side.Buy;
  const taker = takerOwned ? accountOfFill(s, e.account, e.orderId) : null;
  const maker = makerOwned ? accountOfFill(s, e.makerAccount, e.makerOrderId) : null;
  // Both tiers as they stand before this trade counts towards either user's volume.
  const volumes = s.volumes;
  // Q2: a liquidation step (an engine order, always the taker) pays the liquidation fee instead of the taker fee; P6
  // (3)'s collateral conversion (an engine order too) is an ordinary sale whose USDC repays the settlement borrow.
  const conversion = taker !== null && s.conversions.isConversion(e.orderId);
  const liquidation = taker !== null && isEngineOrderId(e.orderId) && !conversion;
  const takerBps = taker !== null && !liquidation ? s.feeTiers[volumes.roll(taker.volume!, day).tier]!.takerBps : 0;
  const makerBps = maker !== null ? s.feeTiers[volumes.roll(maker.volume!, day).tier]!.makerBps : 0;
  if (taker !== null) e.takerFee = settleSide(s, taker, e.orderId, e.side, market, e.quantity, e.quoteQuantity, takerBps);
  if (maker !== null) e.makerFee = settleSide(s, maker, e.makerOrderId, makerSide, market, e.quantity, e.quoteQuantity, makerBps);
  if (liquidation) settleSpotLiquidationFill(s, taker!, e, market);
  else if (conversion) s.conversions.recordFill(s, e, market, e.quoteQuantity - e.takerFee);
  const ctx = s.marginContext;
  const volumeUsd = quoteVolumeUsd(e.quoteQuantity, ctx.assetMark[market.quoteAsset]!, ctx.assetUnit[market.quoteAsset]!);
  if (taker !== null) volumes.add(taker.volume!, day, volumeUsd);
  if (maker !== null) volumes.add(maker.volume!, day, volumeUsd);
  // The record is reused by publishBalance's sink: copy what the balance events need first.
  const seq = e.seq;
  const takerAccount = e.account;
  const makerAccount = e.makerAccount;
  const takerSide = e.side;
  if (liquidation) s.liquidationHistory.recordFill(e); // Q6: a liquidation fill is a row of the account's history
  sink.publish(e);
  if (s.settlementRows.length !== 0) publishSettlementRows(s, seq, sink);
  if (takerOwned) publishTradeBalances(s, seq, takerAccount, takerSide, market, sink);
  if (makerOwned && (makerAccount !== takerAccount || !takerOwned)) publishTradeBalances(s, seq, makerAccount, makerSide, market, sink);
}

/**
 * P1, S5, P6, P7 (R2 of a perpetual fill): each owned side's position takes the fill (entry VWAP; crossing zero
 * realizes, then opens at the trade price; pnlRealized cumulative), its order's open quantity shrinks, the realized
 * PnL is credited (P7) or debited (P6) in USDC, and its fee — in USDC (S5), by its user's tier — is debited through
 * the P6 waterfall into the fee account. The Fill is published, then each step as a Settlement row, then the sides'
 * USDC balances.
 */
function applyPerpFill(s: RiskState, e: EventRecord, market: MarketConfig, sink: EventSink): void {
  const takerOwned = s.owns(e.account);
  const makerOwned = s.owns(e.makerAccount);
  if (!takerOwned && !makerOwned) return;
  const day = dayOf(s.nowMs);
  const makerSide = e.side === Side.Buy ? Side.Sell : Side.Buy;
  const taker = takerOwned ? accountOfFill(s, e.account, e.orderId) : null;
  const maker = makerOwned ? accountOfFill(s, e.makerAccount, e.makerOrderId) : null;
  const volumes = s.volumes;
  const liquidation = taker !== null && isEngineOrderId(e.orderId);
  const takerBps = taker !== null && !liquidation ? s.feeTiers[volumes.roll(taker.volume!, day).tier]!.takerBps : 0;
  const makerBps = maker !== null ? s.feeTiers[volumes.roll(maker.volume!, day).tier]!.makerBps : 0;
  // P5S: an interval end still being paid pays these sides first, on the positions they held at it (funding.ts).
  if (taker !== null) payFundingBeforeFill(s, taker, market.id, sink);
  if (maker !== null && maker !== taker) payFundingBeforeFill(s, maker, market.id, sink);
  if (taker !== null) e.takerFee = settlePerpSide(s, taker, e.orderId, e.side, market, e, takerBps);
  if (maker !== null) e.makerFee = settlePerpSide(s, maker, e.makerOrderId, makerSide, market, e, makerBps);
  if (liquidation) chargeLiquidationFee(s, taker!, market, liquidationFee(e.quoteQuantity, s.liquidationParams.liquidationFee));
  const ctx = s.marginContext;
  const volumeUsd = quoteVolumeUsd(e.quoteQuantity, ctx.assetMark[market.quoteAsset]!, ctx.assetUnit[market.quoteAsset]!);
  if (taker !== null) volumes.add(taker.volume!, day, volumeUsd);
  if (maker !== null) volumes.add(maker.volume!, day, volumeUsd);
  const seq = e.seq;
  const usdc = market.quoteAsset;
  if (liquidation) s.liquidationHistory.recordFill(e); // Q6: a liquidation fill is a row of the account's history
  sink.publish(e);
  publishSettlementRows(s, seq, sink);
  const m = market.id;
  // P1 position reports (as built): each side's Position is published once per batch (publishPendingPositions).
  const pending = s.pendingPositions;
  if (taker !== null) {
    publishBalance(s, seq, taker, usdc, sink);
    pending.note(taker, taker.perps!, m, seq);
  }
  if (maker !== null && maker !== taker) {
    publishBalance(s, seq, maker, usdc, sink);
    pending.note(maker, maker.perps!, m, seq);
  }
}

/**
 * P1 position reports (engine.ts "P1 position reports (as built)"): one Position event per (account, market) that R2's
 * fills changed since the last call, in the order first changed, carrying the state after its last fill and that
 * fill's seq. RiskShard calls it at the end of R2 and before applying a mark, a funding rate or a liquidation transfer.
 */
export function publishPendingPositions(s: RiskState, sink: EventSink): void {
  const pending = s.pendingPositions;
  const n = pending.length;
  if (n === 0) return;
  const accounts = pending.accounts;
  for (let i = 0; i < n; i++) {
    const account = accounts[i]!;
    const m = pending.markets[i]!;
    account.perps!.reportAt[m] = 0;
    s.pools.sync(account);
    publishPosition(s, pending.seqs[i]!, accountPositionReportInto(s, account, m, s.positionOut), sink);
  }
  pending.length = 0;
}

/** One side of a perpetual fill (see applyPerpFill). Returns the fee, USDC units. */
function settlePerpSide(s: RiskState, account: Account, orderId: number, side: number, market: MarketConfig, e: EventRecord, feeBps: number): bigint {
  const hold = s.holds.get(orderId);
  if (hold === undefined || hold.account !== account.id || !hold.perp) {
    throw new Error(`risk invariant: perpetual fill for order ${orderId} of account ${account.id} without a hold`);
  }
  const quantity = e.quantity;
  takePerpFill(s, account, hold, quantity);
  const fee = feeAmount(e.quoteQuantity, feeBps);
  changePosition(s, account, side, market, quantity, e.price, fee);
  return fee;
}

/**
 * P1, P6, P7: `account`'s position in perpetual `market` takes `quantity` (> 0) on `side` at `price` paying `fee`
 * (USDC units, into the fee account): entry VWAP, realized PnL credited or debited in USDC against this shard's
 * insurance slice (D4), the market's holders and open interest kept. A fill's side (settlePerpSide) and a Q3/Q4
 * liquidation leg without the book (liquidation-transfers.ts, fee 0) both move a position through here.
 */
export function changePosition(s: RiskState, account: Account, side: number, market: MarketConfig, quantity: bigint, price: bigint, fee: bigint): void {
  const m = market.id;
  const pos = s.perpsOf(account).ownPosition(m);
  const before = pos.netQuantity;
  const ctx = s.marginContext;
  const realized = applyPositionFill(pos, side === Side.Buy ? quantity : -quantity, price, fee, ctx.marketBaseDecimals[m]!, ctx.assetDecimals[market.quoteAsset]!, s.fillEffect).realizedPnl;
  if (before === 0n) s.perpHolders[m]!.add(account.id); // P4: the market's holders, for the interval end
  else if (pos.netQuantity === 0n) s.perpHolders[m]!.delete(account.id);
  const oiChange = longPart(pos.netQuantity) - longPart(before);
  if (oiChange !== 0n) {
    s.openInterest[m] = s.openInterest[m]! + oiChange;
    s.openInterestDeltas[m]!.cash += oiChange;
  }
  account.perpChanged(m);
  const usdc = market.quoteAsset;
  if (realized > 0n) creditUsdc(s, account, usdc, m, SettlementReason.RealizedPnl, realized);
  else if (realized < 0n) debitUsdc(s, account, usdc, m, SettlementReason.RealizedPnl, -realized);
  // D4 (realization.ts): the shard's insurance slice is the counterparty of realized PnL, so a fill creates no USDC.
  creditInsurance(s, usdc, InsuranceReason.RealizedPnl, -realized);
  if (fee > 0n) {
    debitUsdc(s, account, usdc, m, SettlementReason.Fee, fee);
    s.feeAccount.addAvailable(usdc, fee);
  }
  s.pools.noteOpenPnl(account, s.nowMs); // L14: a reduced or closed position takes its part of the open PnL with it
}

function longPart(quantity: bigint): bigint {
  return quantity > 0n ? quantity : 0n;
}

function publishTradeBalances(s: RiskState, seq: number, accountId: number, side: number, market: MarketConfig, sink: EventSink): void {
  const account = s.accounts.get(accountId)!;
  publishBalance(s, seq, account, side === Side.Buy ? market.quoteAsset : market.baseAsset, sink);
  publishBalance(s, seq, account, side === Side.Buy ? market.baseAsset : market.quoteAsset, sink);
}

function accountOfFill(s: RiskState, accountId: number, orderId: number): Account {
  const account = s.accounts.get(accountId);
  if (account === undefined) throw new Error(`risk invariant: fill for order ${orderId} of unknown account ${accountId}`);
  s.pools.sync(account);
  return account;
}

/**
 * One side of a fill: the paid amount leaves the order's hold (or, past it, the order's borrow: payPastHold), the
 * received amount less the fee arrives (incoming balance) and the fee goes to the fee account. Returns the fee.
 */
function settleSide(s: RiskState, account: Account, orderId: number, side: number, market: MarketConfig, quantity: bigint, quoteAmt: bigint, feeBps: number): bigint {
  const hold = s.holds.get(orderId);
  if (hold === undefined || hold.account !== account.id) {
    throw new Error(`risk invariant: fill for order ${orderId} of account ${account.id} without a hold`);
  }
  const paid = side === Side.Buy ? quoteAmt : quantity;
  const receivedAsset = side === Side.Buy ? market.baseAsset : market.quoteAsset;
  const received = side === Side.Buy ? quantity : quoteAmt;
  const spent = hold.asset;
  if (hold.remaining >= paid) {
    hold.remaining -= paid;
    account.subLocked(spent, hold.side, paid);
  } else {
    payPastHold(s, account, hold, paid);
  }
  const fee = feeAmount(received, feeBps);
  account.addAvailable(receivedAsset, received - fee);
  if (hold.inflowCredit > 0n) {
    // The proceeds arrived: as much of their credit leaves the open-order state (C4).
    creditInflow(account, hold, received - fee < hold.inflowCredit ? fee - received : -hold.inflowCredit);
  }
  s.feeAccount.addAvailable(receivedAsset, fee);
  account.markChanged(spent);
  account.markChanged(receivedAsset);
  incoming(s, account, receivedAsset, received - fee, hold.flags);
  return fee;
}

/**
 * S2: the fill pays past what the order holds: the shortfall comes from units that arrived since, then from lent
 * units (S4), then it is borrowed, exactly that much, against the capacity reserved at acceptance.
 */
function payPastHold(s: RiskState, account: Account, hold: OrderHold, paid: bigint): void {
  const spent = hold.asset;
  let short = paid - hold.remaining;
  account.subLocked(spent, hold.side, hold.remaining);
  hold.remaining = 0n;
  const free = account.available[spent]!;
  const own = free < short ? free : short;
  account.setAvailable(spent, free - own);
  short -= own;
  if (short > 0n && account.positions[spent]!.lendShares > 0n) {
    const lent = account.lent[spent]!;
    const r = s.pools.redeemForced(account, spent, lent < short ? lent : short, s.nowMs);
    if (r > 0n) {
      account.subAvailable(spent, r);
      short -= r;
    }
  }
  if (short === 0n) return;
  if (account.positions[spent]!.lendShares > 0n) s.pools.dropWorthlessLend(account, spent, s.nowMs); // L15: dust only
  const entryFee = short > hold.borrowMax ? -1n : s.pools.borrowReserved(account, spent, short, s.nowMs);
  if (entryFee < 0n) {
    throw new Error(`risk invariant: order ${hold.orderId} pays ${paid} but holds ${paid - short} and may borrow ${hold.borrowMax}`);
  }
  account.subAvailable(spent, short);
  reduceOpenBorrow(account, hold, short);
  const used = short + entryFee + 1n;
  const release = used < hold.reserved ? used : hold.reserved;
  hold.reserved -= release;
  s.pools.release(spent, release);
}

/** OrderDone / OrderRejected of an owned order: passed on, then its hold is released (and its balance published;
 * a perpetual order held no balance). */
export function endOrder(s: RiskState, e: EventRecord, sink: EventSink): void {
  const seq = e.seq;
  sink.publish(e);
  const hold = s.holds.get(e.orderId);
  if (hold === undefined) return;
  // Q2: a liquidation step that filled nothing (expired within the bound, or refused) is no progress.
  if (s.conversions.isConversion(e.orderId)) s.conversions.endOrder(e.orderId); // P6 (3): one attempt
  else if (isEngineOrderId(e.orderId) && e.filledQuantity === 0n) s.liquidation.recordNoProgress(hold.account, NoStepReason.NoFillWithinBound);
  const account = releaseHoldFunds(s, hold);
  if (!hold.perp) publishBalance(s, seq, account, hold.asset, sink);
  s.holds.remove(hold);
}

/**
 * Q2, D4: `fee` (USDC units, the market's quote) of a liquidation fill, debited through the P6 waterfall (Settlement
 * rows, reason LiquidationFee) into this shard's insurance slice; the account made progress.
 */
function chargeLiquidationFee(s: RiskState, account: Account, market: MarketConfig, fee: bigint): void {
  const usdc = market.quoteAsset;
  if (fee > 0n) {
    debitUsdc(s, account, usdc, market.id, SettlementReason.LiquidationFee, fee);
    creditInsurance(s, usdc, InsuranceReason.LiquidationFee, fee);
  }
  s.liquidation.recordProgress(account.id);
}

/**
 * Q2, a CollateralConversion fill: its fee, ceil(notional × liquidationFee) in USDC — a buy of the owed asset pays it
 * from what the fills left of its hold (any rest through the waterfall), a sale from its proceeds; then what the fill
 * brought in repays the account's borrow of that asset.
 */
function settleSpotLiquidationFill(s: RiskState, account: Account, e: EventRecord, market: MarketConfig): void {
  const hold = s.holds.get(e.orderId)!;
  const usdc = market.quoteAsset;
  let fee = liquidationFee(e.quoteQuantity, s.liquidationParams.liquidationFee);
  if (e.side === Side.Buy && hold.asset === usdc && hold.remaining > 0n && fee > 0n) {
    const fromHold = fee < hold.remaining ? fee : hold.remaining;
    hold.remaining -= fromHold;
    account.addLocked(usdc, hold.side, -fromHold);
    creditInsurance(s, usdc, InsuranceReason.LiquidationFee, fromHold);
    s.settlementRows.add(account.id, market.id, usdc, SettlementReason.LiquidationFee, SettlementStep.FromBalance, fromHold);
    account.markChanged(usdc);
    fee -= fromHold;
  }
  chargeLiquidationFee(s, account, market, fee);
  const received = e.side === Side.Buy ? market.baseAsset : usdc;
  const owed = account.borrowed[received]!;
  const available = account.available[received]!;
  if (owed > 0n && available > 0n) s.pools.repay(account, received, available >= owed ? 0n : available, s.nowMs);
}
