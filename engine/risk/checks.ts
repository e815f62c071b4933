// Read-only risk checks (SPEC S1–S4, C8, C10, A5, L7–L15): each returns a RejectCode (None = accepted) and leaves
// what it decided in a plan record passed to it (an OrderPlan, a PoolAction), which the handler hands to the apply
// step in funds.ts. No sink, no balance changes: only the scratch records (state.changes, the plans) and the lazily
// synced margin state are written.
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
//   account as if all its open orders and the new action filled, and a cancel never takes room away; with open spot
//   orders on both sides, also with one side's orders filled and the other's cancelled (margin/corners.ts). Exact
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
import { PRICE_DECIMALS, quoteAmount, Rounding } from "../fixed/index.ts";
import { reduceOnlyFillCap } from "../perps/index.ts";
import {
  AccountSetting,
  OrderFlag,
  OrderType,
  PRICE_SCALE,
  RejectCode,
  Side,
  SPOT_MARGIN_FLAGS,
  type CommandRecord,
  type MarketConfig,
} from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { entryFee as entryFeeOf, type PoolAction } from "../lending/index.ts";
import { feeAmount, spotTradeChanges, type AccountMargin, type MarginChanges } from "./margin/index.ts";
import { ceilProductByPow10 } from "./order-cost.ts";
import { OrderDetail, type OrderPlan, type RiskState } from "./state.ts";

/**
 * The whole pre-trade check of one spot order (S1, S2, C8, A3): fills `plan` (the asset and amount to hold, what
 * to redeem and may borrow, the proceeds credited while it rests). `flags` are the order's spot-margin flags.
 */
export function checkOrder(s: RiskState, cmd: CommandRecord, market: MarketConfig, account: Account, flags: number, plan: OrderPlan): RejectCode {
  plan.reset(cmd.side === Side.Buy ? market.baseAsset : market.quoteAsset);
  const costCode = orderCost(s, cmd, market, account, flags, plan);
  if (costCode !== RejectCode.None) return costCode;
  const asset = plan.asset;
  const need = plan.need;
  if (flags !== 0 && !account.isOn(AccountSetting.MarginEnabled)) return RejectCode.InvalidSetting;
  const available = account.available[asset]!;
  const lent = account.lent[asset]!;
  // What the order may spend of its own units; one sum (a fresh bigint) only when something is lent.
  const own = lent === 0n ? available : available + lent;
  if ((flags & OrderFlag.AutoBorrow) === 0 && own < need) return RejectCode.InsufficientBalance;
  // C8, judged as the account would stand after all its open orders and this one fill (C4: open orders are
  // exposure from the moment they rest). Exact shortcut: an account that owes nothing and whose open orders cannot
  // borrow has no exposure, and an order funded by its own units (available or lent) leaves it none — IMR 0 before
  // and after (C7), which is what the full evaluation would find. Such an order's proceeds are not credited while
  // it rests (its hold does not need them).
  // Q1: a liquidating account may place only orders that reduce its risk (C8's "only reduces risk").
  const liquidating = s.liquidation.isLiquidating(account.id);
  if (liquidating || !(account.hasNoBorrows() && need <= own)) {
    const margin = account.syncedMargin();
    const repays = receiveRepays(account, flags);
    plan.inflowRepays = repays;
    const changes = orderChanges(s, cmd, market, account, need, repays, plan);
    if (liquidating && !margin.isRiskReducing(changes)) return RejectCode.AccountLiquidating;
    if (!margin.wouldPassInitialMargin(changes)) return RejectCode.InsufficientMargin;
    // The proceeds credited while the order rests: all of them when the fill would not raise the available equity,
    // else the most that does not (see AccountMargin.lastChangesRaiseAvailableEquity).
    plan.inflowCredit = margin.lastChangesRaiseAvailableEquity() ? creditUpToNeutral(s, margin, repays, plan) : plan.inflow;
  }
  return need > available ? orderFundingCode(s, account, asset, need, plan) : RejectCode.None;
}

/**
 * P1, C4, C5, C8: the pre-trade check of one perpetual order. It holds no asset (plan.asset is the settlement asset,
 * plan.need the base quantity it may fill, counted as open-order exposure while it rests); C8 judges the account
 * after its full fill at its limit price (market orders: at the market's mark) with the taker fee paid in USDC
 * (S5: spent from the balance or borrowed, P6), valued at the market's sqrt IMF (C5) with every open order (C4). A
 * reduceOnly order is judged by the part it may fill (|position|; it only shrinks it) and opens nothing. An order
 * whose opening part would take the market's open interest above openInterestLimit is refused (P1).
 */
export function checkPerpOrder(s: RiskState, cmd: CommandRecord, market: MarketConfig, account: Account, plan: OrderPlan): RejectCode {
  plan.reset(market.quoteAsset);
  plan.asset = market.quoteAsset;
  if (cmd.quantity < 0n || cmd.quoteQuantity < 0n || cmd.price < 0n) return invalid(plan, OrderDetail.NegativeField);
  if (cmd.quantity === 0n || cmd.quoteQuantity !== 0n) return invalid(plan, OrderDetail.PerpNeedsQuantity);
  if (cmd.orderType === OrderType.Limit && cmd.price === 0n) return invalid(plan, OrderDetail.LimitNeedsPriceAndQuantity);
  const m = market.id;
  const position = account.perps === null ? 0n : account.perps.positions[m]!.netQuantity;
  const reducible = reduceOnlyFillCap(position, cmd.side as Side, cmd.quantity);
  const reduceOnly = (cmd.flags & OrderFlag.ReduceOnly) !== 0;
  const fills = reduceOnly ? reducible : cmd.quantity;
  plan.need = fills;
  const opening = fills - reducible;
  if (market.openInterestLimit > 0n && opening > 0n && s.openInterest[m]! + opening > market.openInterestLimit) {
    plan.detail = OrderDetail.OpenInterestLimit;
    return RejectCode.OpenInterestLimit;
  }
  if (fills === 0n) return RejectCode.None;
  const price = cmd.orderType === OrderType.Limit ? cmd.price : s.marginContext.marketMark[m]!;
  return perpFillPassesMargin(s, market, account, cmd.side as Side, fills, price) ? RejectCode.None : RejectCode.InsufficientMargin;
}

/**
 * C8 for a perpetual order's full fill of `fills` at `price` with the taker fee in USDC (S5): the account with that
 * position change and fee, every open order counted (C4), at the market's sqrt IMF (C5). QueryMaxOrder bisects it.
 * Exact shortcut: a certificate in doubles that it passes (margin/fill-bound.ts: bounds of net equity and initial
 * margin after, with a margin over the doubles' errors) answers true without the bigint evaluation; it never refuses.
 */
export function perpFillPassesMargin(s: RiskState, market: MarketConfig, account: Account, side: Side, fills: bigint, price: bigint): boolean {
  const m = market.id;
  const feeBps = s.takerBpsOfAccount(account);
  const qtyDelta = side === Side.Buy ? fills : -fills;
  const margin = account.syncedMarginExceptPerp(m);
  // C4/C8: a resting order is credited nothing — a fill better than the mark (a sell above it, a buy below it) is
  // valued at the mark, so the gain it would bring cannot pay for the order's own margin (the account would be at
  // MMR ≥ 100% while it rests). The fee is the real price's.
  const mark = s.marginContext.marketMark[m]!;
  const valuePrice = mark === 0n ? price : side === Side.Buy ? (price > mark ? price : mark) : price < mark ? price : mark;
  if (valuePrice !== price) return perpFillPassesMarginAt(s, market, account, margin, feeBps, qtyDelta, fills, price, valuePrice);
  // Exact shortcut: a certificate in doubles that it passes (AccountMargin.perpFillSurelyPasses); else the full check.
  const perps = account.perps;
  if (perps === null ? margin.perpFillSurelyPasses(m, market.quoteAsset, 0n, 0n, 0n, 0n, qtyDelta, price, feeBps)
    : margin.perpFillSurelyPasses(m, market.quoteAsset, perps.positions[m]!.netQuantity, perps.positions[m]!.costBasis, perps.openBuy[m]!, perps.openSell[m]!, qtyDelta, price, feeBps)) {
    return true;
  }
  return perpFillPassesMarginAt(s, market, account, margin, feeBps, qtyDelta, fills, price, price);
}

/** perpFillPassesMargin's bigint evaluation: the fee at `price`, the position change valued at `valuePrice`. */
function perpFillPassesMarginAt(s: RiskState, market: MarketConfig, account: Account, margin: AccountMargin, feeBps: number, qtyDelta: bigint, fills: bigint, price: bigint, valuePrice: bigint): boolean {
  const m = market.id;
  const quote = s.config.assets[market.quoteAsset]!;
  const notional = quoteAmount(fills, price, s.marginContext.marketBaseDecimals[m]!, quote.decimals, Rounding.Up);
  const fee = feeAmount(notional, feeBps);
  if (account.perpPending(m)) {
    // The order's market changed since the margin state last heard (the previous order's hold, a fill): valued from
    // its inputs now, without the sync's valuation of the slot in between (exact: AccountMargin.passesPerpFillFromInputs).
    const perps = account.perps!;
    const pos = perps.positions[m]!;
    const changes = perpFillChanges(s, m, qtyDelta, valuePrice, market.quoteAsset, fee);
    if (margin.passesPerpFillFromInputs(changes, m, pos.netQuantity, pos.costBasis, perps.openBuy[m]!, perps.openSell[m]!)) return true;
    account.syncedMargin();
  }
  return margin.wouldPassInitialMargin(perpFillChanges(s, m, qtyDelta, valuePrice, market.quoteAsset, fee));
}

/** C8's changes of a perpetual order's full fill: `qtyDelta` (signed) at `price`, the fee in the quote asset. */
function perpFillChanges(s: RiskState, m: number, qtyDelta: bigint, price: bigint, quoteAsset: number, fee: bigint): MarginChanges {
  const changes = s.changes.clear().addPositionFill(m, qtyDelta, price);
  if (fee > 0n) changes.addAsset(quoteAsset, -fee);
  return changes;
}

/** S4 / L11 then S2: the lent units of the spent asset fund the order first (redeemed now), then it borrows the rest. */
function orderFundingCode(s: RiskState, account: Account, asset: number, need: bigint, plan: OrderPlan): RejectCode {
  const available = account.available[asset]!;
  const lent = account.lent[asset]!;
  const redeem = need - available < lent ? need - available : lent;
  const short = need - available - redeem;
  if (short > 0n) {
    const code = s.pools.checkReservation(asset, redeem > 0n ? short + redeem + 1n : short);
    if (code !== RejectCode.None) return code === RejectCode.NoLiquidity ? RejectCode.BorrowUnavailable : code;
  }
  if (redeem > 0n) {
    const code = s.pools.checkRedeem(account, asset, redeem === lent ? 0n : redeem, plan.redeemPlan);
    if (code !== RejectCode.None) return code;
    plan.redeem = redeem;
  }
  plan.borrow = short;
  return RejectCode.None;
}

/**
 * S1: what a spot order spends and so holds — quote for a buy (at its limit price, rounded up, so every fill at
 * that price or better is covered), base for a sell. Fills plan.asset and plan.need (and plan.quoteCap for a market
 * buy by base quantity); a refusal says which field in plan.detail.
 */
function orderCost(s: RiskState, cmd: CommandRecord, market: MarketConfig, account: Account, flags: number, plan: OrderPlan): RejectCode {
  const base = s.config.assets[market.baseAsset]!;
  const quote = s.config.assets[market.quoteAsset]!;
  plan.asset = cmd.side === Side.Buy ? quote.id : base.id;
  if (cmd.quantity < 0n || cmd.quoteQuantity < 0n || cmd.price < 0n) return invalid(plan, OrderDetail.NegativeField);
  if (cmd.side !== Side.Buy) {
    if (cmd.quantity === 0n) return invalid(plan, OrderDetail.SellNeedsQuantity);
    plan.need = cmd.quantity;
    return RejectCode.None;
  }
  if (cmd.orderType === OrderType.Limit) {
    if (cmd.quantity === 0n || cmd.price === 0n) return invalid(plan, OrderDetail.LimitNeedsPriceAndQuantity);
    // Certified in doubles where it can be (order-cost.ts), else the bigint division: the same exact ceiling.
    const cost = ceilProductByPow10(cmd.quantity, cmd.price, base.decimals + PRICE_DECIMALS - quote.decimals);
    plan.need = cost >= 0 ? BigInt(cost) : quoteAmount(cmd.quantity, cmd.price, base.decimals, quote.decimals, Rounding.Up);
  } else if (cmd.quantity === 0n) {
    if (cmd.quoteQuantity === 0n) return invalid(plan, OrderDetail.MarketBuyNeedsQuantity);
    plan.need = cmd.quoteQuantity;
  } else {
    // A market buy by base quantity cannot know its cost: it may spend up to the whole available quote (and,
    // with borrowing, what it may borrow), and matching stops at that cap (quoteQuantity) or at the quantity.
    const units = spendable(s, account, quote.id, flags);
    const need = cmd.quoteQuantity !== 0n && cmd.quoteQuantity < units ? cmd.quoteQuantity : units;
    if (need === 0n) {
      plan.detail = OrderDetail.MarketBuyNothingSpendable;
      return RejectCode.InsufficientBalance;
    }
    plan.quoteCap = need;
    plan.need = need;
  }
  return RejectCode.None;
}

function invalid(plan: OrderPlan, detail: OrderDetail): RejectCode {
  plan.detail = detail;
  return RejectCode.InvalidQuantity;
}

/**
 * C8/C10: the net-balance effect of the order's full fill with the account's taker fee — limit orders at their
 * price; market orders at the marks (a sell of its quantity; a buy spends its quote budget `spend` on what that
 * buys, at most its quantity). Leaves the full-fill proceeds in plan.inflow.
 */
function orderChanges(s: RiskState, cmd: CommandRecord, market: MarketConfig, account: Account, spend: bigint, repays: boolean, plan: OrderPlan): MarginChanges {
  const feeBps = s.takerBpsOf(account.id);
  const ctx = s.marginContext;
  const changes = s.changes;
  if (cmd.orderType === OrderType.Limit || cmd.side === Side.Sell) {
    const price = cmd.orderType === OrderType.Limit ? cmd.price : referencePrice(s, market);
    spotTradeChanges(changes, ctx, market.id, cmd.side as Side, cmd.quantity, price, feeBps, repays);
    // The received asset's entry (base is the first, quote the second): its flow or its held units.
    const i = cmd.side === Side.Buy ? 0 : 1;
    plan.inflow = repays ? changes.assetDeltas[i]! : changes.assetHeldIn[i]!;
    return changes;
  }
  const price = referencePrice(s, market);
  let quantity = (spend * ctx.marketQuoteDivisor[market.id]!) / (price * ctx.marketQuoteMultiplier[market.id]!);
  if (cmd.quantity !== 0n && quantity > cmd.quantity) quantity = cmd.quantity;
  const received = quantity - feeAmount(quantity, feeBps);
  plan.inflow = received;
  changes.clear().addAsset(market.quoteAsset, -spend);
  changes.borrowsAtFill = true;
  changes.orderSide = Side.Buy;
  return repays ? changes.addAsset(market.baseAsset, received) : changes.addHeld(market.baseAsset, received);
}

/**
 * The largest part of the checked order's proceeds (plan.inflow) whose credit leaves the account's available
 * equity no higher than before the order (bisection over the same changes with the proceeds cut): an order that
 * improves the account is credited only what offsets what it takes, so cancelling it never takes away room.
 */
function creditUpToNeutral(s: RiskState, margin: AccountMargin, repays: boolean, plan: OrderPlan): bigint {
  const changes = s.changes;
  let i = 0;
  while (changes.assets[i] !== plan.inflowAsset) i++;
  const credits = repays ? changes.assetDeltas : changes.assetHeldIn;
  let lo = 0n;
  let hi = plan.inflow;
  while (lo < hi) {
    const mid = hi - ((hi - lo) >> 1n);
    credits[i] = mid;
    margin.passesInitialMarginAfter(changes);
    if (margin.lastChangesRaiseAvailableEquity()) hi = mid - 1n;
    else lo = mid;
  }
  credits[i] = plan.inflow;
  return lo;
}

/** S3, L10: do an order's proceeds repay a borrow of the asset it receives (margin flags, or auto-lend on)? */
export function receiveRepays(account: Account, flags: number): boolean {
  return (flags & SPOT_MARGIN_FLAGS) !== 0 || account.isOn(AccountSetting.AutoLend);
}

/** Quote per base implied by the USD marks (PRICE_DECIMALS, ≥ 1). */
function referencePrice(s: RiskState, market: MarketConfig): bigint {
  const ctx = s.marginContext;
  const price = (ctx.assetMark[market.baseAsset]! * PRICE_SCALE) / ctx.assetMark[market.quoteAsset]!;
  return price > 0n ? price : 1n;
}

/**
 * What an order with `flags` may spend of `asset` now: the available balance, the lent units it would redeem (S4,
 * what the pool lets go now: all of them, or with K > 1 up to the shard's batch budget) and, with autoBorrow, what
 * the pool can still promise to lend (S2, L7, L8, L13).
 */
export function spendable(s: RiskState, account: Account, asset: number, flags: number): bigint {
  let units = account.available[asset]!;
  const lent = account.lent[asset]!;
  if (lent > 0n) units += s.pools.redeemable(account, asset);
  if ((flags & OrderFlag.AutoBorrow) !== 0) {
    const reservable = s.pools.reservableUnits(asset);
    units += lent > 0n ? (reservable > lent + 1n ? reservable - lent - 1n : 0n) : reservable;
  }
  return units;
}

/** C8 for an outflow of `amount` units of `asset` (withdrawal, outgoing transfer); the same exact shortcut. */
function passesOutflow(s: RiskState, account: Account, asset: number, amount: bigint): boolean {
  if (account.hasNoBorrows() && amount <= account.available[asset]!) return true;
  return account.syncedMargin().wouldPassInitialMargin(s.changes.clear().addAsset(asset, -amount));
}

/**
 * The whole withdrawal check (A5, C8, L7, L9, L11, L15): RejectCode.None = accepted. `poolPlan` is scratch (funds
 * .takeOutflow plans its own movements again). Flags AutoBorrow: a margin withdrawal.
 */
export function withdrawalCode(s: RiskState, account: Account, a: number, amount: bigint, flags: number, poolPlan: PoolAction): RejectCode {
  const available = account.available[a]!;
  const lent = account.lent[a]!;
  if ((flags & OrderFlag.AutoBorrow) === 0 && available + lent < amount) return RejectCode.InsufficientBalance;
  const redeem = amount <= available ? 0n : amount - available < lent ? amount - available : lent;
  const short = amount - available - redeem;
  const fee = short > 0n ? entryFeeOf(short, s.pools.pools[a]!.hourBorrowRate, s.pools.msToNext(a, s.nowMs)) : 0n;
  if (!passesOutflow(s, account, a, amount + fee)) return RejectCode.InsufficientMargin;
  if (redeem > 0n) {
    const code = s.pools.checkRedeem(account, a, redeem === lent ? 0n : redeem, poolPlan);
    if (code !== RejectCode.None) return code;
  }
  if (short > 0n) {
    // L15: a position that lends is redeemed in full first; judge the borrow as after it.
    const code = redeem > 0n ? s.pools.checkReservation(a, short + poolPlan.amount + 1n) : s.pools.checkBorrow(account, a, short, s.nowMs, poolPlan);
    if (code !== RejectCode.None) return code === RejectCode.NoLiquidity ? RejectCode.BorrowUnavailable : code;
  }
  return RejectCode.None;
}

/** The whole manual-borrow check (L8, L9, L15, C8); the borrow is planned in `poolPlan` (for pools.applyBorrow). */
export function borrowCode(s: RiskState, account: Account, asset: number, amount: bigint, poolPlan: PoolAction): RejectCode {
  if (account.isOn(AccountSetting.AutoLend)) return RejectCode.AutoLendOn;
  const code = s.pools.checkBorrow(account, asset, amount, s.nowMs, poolPlan);
  if (code !== RejectCode.None) return code;
  // C8: the borrowed units are held (collateral, C1/C2) and owed with the entry fee (liability and position, C3/C4);
  // spending or withdrawing them later is judged then. So the most is about net equity × the asset's max borrow
  // leverage (seed 002).
  const changes = s.changes.clear().addHoldings(asset, amount, amount + poolPlan.entryFee);
  if (!account.syncedMargin().wouldPassInitialMargin(changes)) return RejectCode.InsufficientMargin;
  return RejectCode.None;
}

/** Largest x in [0, hi] with accepts(x), for a check that accepts every amount up to some bound (bisection). */
export function largestAccepted(hi: bigint, accepts: (x: bigint) => boolean): bigint {
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
