// Server-side event encoding: engine EventRecords and market-data updates → EventEnvelope frames.
//
// One flatbuffers Builder per thread is reused for every frame, so every encoder here returns a VIEW into the
// builder's buffer that is valid only until the next call of any encoder in this module: hand it to uWS `send`
// (which copies) at once, or `.slice()` it to keep it. Values are written with scale = the asset's decimals
// (PRICE_DECIMALS for prices), so a client prints them without config.
import { Builder } from "flatbuffers";
import {
  AccountSetting,
  EventKind,
  IndexFlag,
  INT64_MAX,
  INT64_MIN,
  MarketKind,
  PRICE_DECIMALS,
  REPORTED_RATIO_DECIMALS,
  REPORTED_RATIO_UNBOUNDED,
  Side,
  type EventRecord,
  type ExchangeConfig,
  type MarketConfig,
} from "../../engine/model/index.ts";
import {
  AccountCollateral,
  AccountSettings,
  AccountSnapshot,
  OpenOrder,
  ResumeDone,
  AssetCollateral,
  Balance,
  BookTicker,
  Clock,
  CommandAccepted,
  CommandRejected,
  Decimal,
  DepthDelta,
  DepthSnapshot,
  Event,
  EventEnvelope,
  Fill,
  IndexPrice,
  Level,
  InterestEntry,
  MaxBorrowQuantity,
  MaxOrderQuantity,
  MaxWithdrawalQuantity,
  OrderAccepted,
  PoolStats,
  RateCurvePoint,
  OrderDone,
  OrderRejected,
  SnapshotTaken,
  Ticker,
  Trade,
} from "../../schemas/index.ts";

const TWO_POW_32 = 4294967296;

/**
 * The runtime writes every 64-bit field with two BigInt.asIntN calls and a shift; a value within ±(2^53 - 1)
 * (every id, time and realistic amount) is split with doubles instead. Same bytes: the high word goes first because
 * the builder writes downwards (space decreases), after addInt64's 8-byte alignment.
 */
class EventBuilder extends Builder {
  override writeInt64(value: bigint): void {
    const n = Number(value);
    if (Number.isSafeInteger(n)) {
      const high = Math.floor(n / TWO_POW_32);
      this.writeInt32(high);
      this.writeInt32(n - high * TWO_POW_32);
      return;
    }
    super.writeInt64(value);
  }
}

const builder = new EventBuilder(1024);

/** Writes a Decimal struct inline (call it as the argument of the table's add function). */
function decimal(value: bigint, scale: number): number {
  // An engine value beyond int64 is a bug upstream; the runtime would truncate it silently.
  if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`wire decimal out of int64 range: ${value}`);
  return Decimal.createDecimal(builder, value, scale);
}

/** USD amounts of the account statement are at PRICE_DECIMALS (a USD value is a price of one unit). */
const USD_DECIMALS = PRICE_DECIMALS;

/** Settings bits as the five wire bools, in schema order (AccountSettings, AccountCollateral). */
function on(settings: number, bit: number): boolean {
  return (settings & bit) !== 0;
}

function marketOf(config: ExchangeConfig, market: number): MarketConfig {
  const m = config.markets[market];
  if (m === undefined) throw new RangeError(`encode: unknown market ${market}`);
  return m;
}

function decimalsOf(config: ExchangeConfig, asset: number): number {
  const a = config.assets[asset];
  if (a === undefined) throw new RangeError(`encode: unknown asset ${asset}`);
  return a.decimals;
}

function finish(type: number, body: number, clientSeq: bigint, seq: number, marketSeq: number): Uint8Array {
  EventEnvelope.startEventEnvelope(builder);
  EventEnvelope.addClientSeq(builder, clientSeq);
  EventEnvelope.addSeq(builder, BigInt(seq));
  EventEnvelope.addMarketSeq(builder, BigInt(marketSeq));
  EventEnvelope.addEventType(builder, type);
  EventEnvelope.addEvent(builder, body);
  builder.finish(EventEnvelope.endEventEnvelope(builder));
  return builder.asUint8Array();
}

/**
 * The asset a fill's fee is charged in for one side of it (S5): the asset received on spot (base for the buyer,
 * quote for the seller), the quote (USDC) on perpetuals.
 */
export function feeAssetOf(m: MarketConfig, side: number): number {
  if (m.kind === MarketKind.Perpetual) return m.quoteAsset;
  return side === Side.Buy ? m.baseAsset : m.quoteAsset;
}

/**
 * Encodes one engine event for the client that caused it (clientSeq = its command's client_seq, 0 otherwise).
 * Envelope seq = e.seq (global sequence of the causing command), market_seq = e.marketSeq.
 * A Fill is addressed to one of its accounts: `asMaker` picks the maker's view (fee = makerFee, is_maker = true,
 * fee asset of the maker's side) instead of the taker's. Returns a view valid until the next encode.
 * Throws only on an impossible record (unknown kind, market or asset; a value beyond int64).
 */
export function encodeEvent(e: EventRecord, clientSeq: bigint, config: ExchangeConfig, asMaker = false): Uint8Array {
  builder.clear();
  switch (e.kind) {
    case EventKind.OrderAccepted: {
      const m = marketOf(config, e.market);
      OrderAccepted.startOrderAccepted(builder);
      OrderAccepted.addAccount(builder, e.account);
      OrderAccepted.addMarket(builder, e.market);
      OrderAccepted.addOrderId(builder, BigInt(e.orderId));
      OrderAccepted.addClientId(builder, e.clientId);
      OrderAccepted.addSide(builder, e.side);
      OrderAccepted.addPrice(builder, decimal(e.price, PRICE_DECIMALS));
      OrderAccepted.addQuantity(builder, decimal(e.quantity, decimalsOf(config, m.baseAsset)));
      return finish(Event.OrderAccepted, OrderAccepted.endOrderAccepted(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.OrderRejected: {
      const message = builder.createString(e.message);
      OrderRejected.startOrderRejected(builder);
      OrderRejected.addAccount(builder, e.account);
      OrderRejected.addMarket(builder, e.market);
      OrderRejected.addOrderId(builder, BigInt(e.orderId));
      OrderRejected.addClientId(builder, e.clientId);
      OrderRejected.addCode(builder, e.code);
      OrderRejected.addMessage(builder, message);
      return finish(Event.OrderRejected, OrderRejected.endOrderRejected(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.Fill: {
      const m = marketOf(config, e.market);
      const side = asMaker ? 1 - e.side : e.side;
      const feeAsset = feeAssetOf(m, side);
      Fill.startFill(builder);
      Fill.addMarket(builder, e.market);
      Fill.addTradeId(builder, BigInt(e.tradeId));
      Fill.addPrice(builder, decimal(e.price, PRICE_DECIMALS));
      Fill.addQuantity(builder, decimal(e.quantity, decimalsOf(config, m.baseAsset)));
      Fill.addQuoteQuantity(builder, decimal(e.quoteQuantity, decimalsOf(config, m.quoteAsset)));
      Fill.addTakerAccount(builder, e.account);
      Fill.addMakerAccount(builder, e.makerAccount);
      Fill.addTakerOrderId(builder, BigInt(e.orderId));
      Fill.addMakerOrderId(builder, BigInt(e.makerOrderId));
      Fill.addTakerClientId(builder, e.clientId);
      Fill.addMakerClientId(builder, e.makerClientId);
      Fill.addTakerSide(builder, e.side);
      Fill.addFee(builder, decimal(asMaker ? e.makerFee : e.takerFee, decimalsOf(config, feeAsset)));
      Fill.addFeeAsset(builder, feeAsset);
      Fill.addIsMaker(builder, asMaker);
      Fill.addTimeMs(builder, BigInt(e.timeMs));
      return finish(Event.Fill, Fill.endFill(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.OrderDone: {
      const m = marketOf(config, e.market);
      const baseDecimals = decimalsOf(config, m.baseAsset);
      OrderDone.startOrderDone(builder);
      OrderDone.addAccount(builder, e.account);
      OrderDone.addMarket(builder, e.market);
      OrderDone.addOrderId(builder, BigInt(e.orderId));
      OrderDone.addClientId(builder, e.clientId);
      OrderDone.addSide(builder, e.side);
      OrderDone.addReason(builder, e.code);
      OrderDone.addFilled(builder, decimal(e.filledQuantity, baseDecimals));
      OrderDone.addRemaining(builder, decimal(e.remainingQuantity, baseDecimals));
      return finish(Event.OrderDone, OrderDone.endOrderDone(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.Balance: {
      const decimals = decimalsOf(config, e.asset);
      Balance.startBalance(builder);
      Balance.addAccount(builder, e.account);
      Balance.addAsset(builder, e.asset);
      Balance.addAvailable(builder, decimal(e.available, decimals));
      Balance.addLocked(builder, decimal(e.locked, decimals));
      // Absent = 0: no bytes for them until lending moves units into the pool slots.
      if (e.lent !== 0n) Balance.addLent(builder, decimal(e.lent, decimals));
      if (e.borrowed !== 0n) Balance.addBorrowed(builder, decimal(e.borrowed, decimals));
      return finish(Event.Balance, Balance.endBalance(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.Clock: {
      Clock.startClock(builder);
      Clock.addTimeMs(builder, BigInt(e.timeMs));
      return finish(Event.Clock, Clock.endClock(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.CommandAccepted: {
      // Commands without an asset (admin, clock) leave asset and amount 0.
      const decimals = e.commandAmount === 0n ? 0 : decimalsOf(config, e.asset);
      CommandAccepted.startCommandAccepted(builder);
      CommandAccepted.addAccount(builder, e.account);
      CommandAccepted.addAsset(builder, e.asset);
      CommandAccepted.addAmount(builder, decimal(e.commandAmount, decimals));
      return finish(Event.CommandAccepted, CommandAccepted.endCommandAccepted(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.CommandRejected: {
      const message = builder.createString(e.message);
      CommandRejected.startCommandRejected(builder);
      CommandRejected.addAccount(builder, e.account);
      CommandRejected.addCode(builder, e.code);
      CommandRejected.addMessage(builder, message);
      return finish(Event.CommandRejected, CommandRejected.endCommandRejected(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.AccountSettings: {
      AccountSettings.startAccountSettings(builder);
      AccountSettings.addAccount(builder, e.account);
      AccountSettings.addLeverageLimit(builder, e.leverageLimit);
      AccountSettings.addAutoLend(builder, on(e.settings, AccountSetting.AutoLend));
      AccountSettings.addAutoRepayBorrows(builder, on(e.settings, AccountSetting.AutoRepayBorrows));
      AccountSettings.addAutoBorrowSettlements(builder, on(e.settings, AccountSetting.AutoBorrowSettlements));
      AccountSettings.addAutoRealizePnl(builder, on(e.settings, AccountSetting.AutoRealizePnl));
      AccountSettings.addMarginEnabled(builder, on(e.settings, AccountSetting.MarginEnabled));
      return finish(Event.AccountSettings, AccountSettings.endAccountSettings(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.AccountCollateral: {
      const b = builder;
      AccountCollateral.startAccountCollateral(b);
      AccountCollateral.addAccount(b, e.account);
      AccountCollateral.addNetEquity(b, decimal(e.netEquityUsd, USD_DECIMALS));
      AccountCollateral.addNetEquityAvailable(b, decimal(e.netEquityUsd - e.netEquityLockedUsd, USD_DECIMALS));
      AccountCollateral.addNetEquityLocked(b, decimal(e.netEquityLockedUsd, USD_DECIMALS));
      AccountCollateral.addCollateralValue(b, decimal(e.collateralValueUsd, USD_DECIMALS));
      AccountCollateral.addBorrowLiability(b, decimal(e.liabilityUsd, USD_DECIMALS));
      AccountCollateral.addUnrealizedPnl(b, decimal(e.pnlUsd, USD_DECIMALS));
      AccountCollateral.addExposureNotional(b, decimal(e.exposureUsd, USD_DECIMALS));
      // Unbounded ratios are left out (C7: a margin fraction without exposure; IMR/MMR with net equity ≤ 0).
      if (e.imf !== REPORTED_RATIO_UNBOUNDED) AccountCollateral.addImf(b, decimal(e.imf, REPORTED_RATIO_DECIMALS));
      if (e.mmf !== REPORTED_RATIO_UNBOUNDED) AccountCollateral.addMmf(b, decimal(e.mmf, REPORTED_RATIO_DECIMALS));
      if (e.marginFraction !== REPORTED_RATIO_UNBOUNDED) {
        AccountCollateral.addMarginFraction(b, decimal(e.marginFraction, REPORTED_RATIO_DECIMALS));
      }
      if (e.imr !== REPORTED_RATIO_UNBOUNDED) AccountCollateral.addImr(b, decimal(e.imr, REPORTED_RATIO_DECIMALS));
      if (e.mmr !== REPORTED_RATIO_UNBOUNDED) AccountCollateral.addMmr(b, decimal(e.mmr, REPORTED_RATIO_DECIMALS));
      // C9: MMR ≥ 100% with exposure (an unbounded MMR has exposure by definition).
      AccountCollateral.addLiquidatable(b, e.mmr === REPORTED_RATIO_UNBOUNDED || e.mmr >= 10n ** BigInt(REPORTED_RATIO_DECIMALS));
      AccountCollateral.addLeverageLimit(b, e.leverageLimit);
      AccountCollateral.addAutoLend(b, on(e.settings, AccountSetting.AutoLend));
      AccountCollateral.addAutoRepayBorrows(b, on(e.settings, AccountSetting.AutoRepayBorrows));
      AccountCollateral.addAutoBorrowSettlements(b, on(e.settings, AccountSetting.AutoBorrowSettlements));
      AccountCollateral.addAutoRealizePnl(b, on(e.settings, AccountSetting.AutoRealizePnl));
      AccountCollateral.addMarginEnabled(b, on(e.settings, AccountSetting.MarginEnabled));
      AccountCollateral.addFeeTier(b, e.feeTier);
      AccountCollateral.addMakerFeeBps(b, Number(e.makerFee));
      AccountCollateral.addTakerFeeBps(b, Number(e.takerFee));
      AccountCollateral.addVolume30d(b, decimal(e.volumeUsd, USD_DECIMALS));
      return finish(Event.AccountCollateral, AccountCollateral.endAccountCollateral(b), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.AssetCollateral: {
      const decimals = decimalsOf(config, e.asset);
      const b = builder;
      AssetCollateral.startAssetCollateral(b);
      AssetCollateral.addAccount(b, e.account);
      AssetCollateral.addAsset(b, e.asset);
      AssetCollateral.addQuantity(b, decimal(e.quantity, decimals));
      AssetCollateral.addAvailable(b, decimal(e.available, decimals));
      AssetCollateral.addOpenOrderQuantity(b, decimal(e.locked, decimals));
      AssetCollateral.addLent(b, decimal(e.lent, decimals));
      AssetCollateral.addBorrowed(b, decimal(e.borrowed, decimals));
      AssetCollateral.addMarkPrice(b, decimal(e.price, PRICE_DECIMALS));
      AssetCollateral.addWeight(b, decimal(e.weight, REPORTED_RATIO_DECIMALS));
      AssetCollateral.addNotional(b, decimal(e.notionalUsd, USD_DECIMALS));
      AssetCollateral.addCollateralValue(b, decimal(e.collateralValueUsd, USD_DECIMALS));
      AssetCollateral.addLiability(b, decimal(e.liabilityUsd, USD_DECIMALS));
      return finish(Event.AssetCollateral, AssetCollateral.endAssetCollateral(b), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.MaxOrderQuantity: {
      const baseDecimals = decimalsOf(config, marketOf(config, e.market).baseAsset);
      MaxOrderQuantity.startMaxOrderQuantity(builder);
      MaxOrderQuantity.addAccount(builder, e.account);
      MaxOrderQuantity.addMarket(builder, e.market);
      MaxOrderQuantity.addSide(builder, e.side);
      MaxOrderQuantity.addPrice(builder, decimal(e.price, PRICE_DECIMALS));
      MaxOrderQuantity.addQuantity(builder, decimal(e.quantity, baseDecimals));
      MaxOrderQuantity.addMarginLimit(builder, decimal(e.marginLimit, baseDecimals));
      return finish(Event.MaxOrderQuantity, MaxOrderQuantity.endMaxOrderQuantity(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.MaxWithdrawalQuantity: {
      const decimals = decimalsOf(config, e.asset);
      MaxWithdrawalQuantity.startMaxWithdrawalQuantity(builder);
      MaxWithdrawalQuantity.addAccount(builder, e.account);
      MaxWithdrawalQuantity.addAsset(builder, e.asset);
      MaxWithdrawalQuantity.addQuantity(builder, decimal(e.quantity, decimals));
      MaxWithdrawalQuantity.addMarginLimit(builder, decimal(e.marginLimit, decimals));
      return finish(Event.MaxWithdrawalQuantity, MaxWithdrawalQuantity.endMaxWithdrawalQuantity(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.PoolStats: {
      const decimals = decimalsOf(config, e.asset);
      const R = REPORTED_RATIO_DECIMALS;
      PoolStats.startPoolStats(builder);
      PoolStats.addAsset(builder, e.asset);
      PoolStats.addState(builder, e.poolState);
      PoolStats.addThrottled(builder, e.throttled !== 0);
      PoolStats.addTotalLent(builder, decimal(e.lent, decimals));
      PoolStats.addTotalBorrowed(builder, decimal(e.borrowed, decimals));
      PoolStats.addFreeLiquidity(builder, decimal(e.freeLiquidity, decimals));
      PoolStats.addReserved(builder, decimal(e.quantity, decimals));
      PoolStats.addOpenBorrowLendLimit(builder, decimal(e.openBorrowLendLimit, decimals));
      PoolStats.addUtilization(builder, decimal(e.utilization, R));
      PoolStats.addBorrowRate(builder, decimal(e.borrowRate, R));
      PoolStats.addLendRate(builder, decimal(e.lendRate, R));
      PoolStats.addLendRateAfterFee(builder, decimal(e.lendRateAfterFee, R));
      PoolStats.addHourBorrowRate(builder, decimal(e.hourBorrowRate, R));
      PoolStats.addOptimalUtilization(builder, decimal(e.optimalUtilization, R));
      PoolStats.addThrottleUtilization(builder, decimal(e.throttleUtilization, R));
      PoolStats.addMaxUtilization(builder, decimal(e.maxUtilization, R));
      PoolStats.addFee(builder, decimal(e.poolFee, R));
      return finish(Event.PoolStats, PoolStats.endPoolStats(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.RateCurvePoint: {
      const R = REPORTED_RATIO_DECIMALS;
      RateCurvePoint.startRateCurvePoint(builder);
      RateCurvePoint.addAsset(builder, e.asset);
      RateCurvePoint.addUtilization(builder, decimal(e.utilization, R));
      RateCurvePoint.addBorrowRate(builder, decimal(e.borrowRate, R));
      RateCurvePoint.addLendRate(builder, decimal(e.lendRate, R));
      RateCurvePoint.addLendRateAfterFee(builder, decimal(e.lendRateAfterFee, R));
      return finish(Event.RateCurvePoint, RateCurvePoint.endRateCurvePoint(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.InterestEntry: {
      InterestEntry.startInterestEntry(builder);
      InterestEntry.addAccount(builder, e.account);
      InterestEntry.addAsset(builder, e.asset);
      InterestEntry.addKind(builder, e.interestKind);
      InterestEntry.addAmount(builder, decimal(e.interest, decimalsOf(config, e.asset)));
      InterestEntry.addRate(builder, decimal(e.borrowRate, REPORTED_RATIO_DECIMALS));
      InterestEntry.addTimeMs(builder, BigInt(e.timeMs));
      return finish(Event.InterestEntry, InterestEntry.endInterestEntry(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.MaxBorrowQuantity: {
      const decimals = decimalsOf(config, e.asset);
      MaxBorrowQuantity.startMaxBorrowQuantity(builder);
      MaxBorrowQuantity.addAccount(builder, e.account);
      MaxBorrowQuantity.addAsset(builder, e.asset);
      MaxBorrowQuantity.addQuantity(builder, decimal(e.quantity, decimals));
      MaxBorrowQuantity.addMarginLimit(builder, decimal(e.marginLimit, decimals));
      MaxBorrowQuantity.addPoolLimit(builder, decimal(e.poolLimit, decimals));
      return finish(Event.MaxBorrowQuantity, MaxBorrowQuantity.endMaxBorrowQuantity(builder), clientSeq, e.seq, e.marketSeq);
    }
    case EventKind.IndexPrice: {
      IndexPrice.startIndexPrice(builder);
      IndexPrice.addAsset(builder, e.asset);
      IndexPrice.addIndex(builder, decimal(e.indexPrice, PRICE_DECIMALS));
      IndexPrice.addStale(builder, (e.indexFlags & IndexFlag.Stale) !== 0);
      IndexPrice.addSourcesUsed(builder, e.sourcesUsed);
      IndexPrice.addStepLimited(builder, (e.indexFlags & IndexFlag.StepLimited) !== 0);
      IndexPrice.addTimeMs(builder, BigInt(e.timeMs));
      return finish(Event.IndexPrice, IndexPrice.endIndexPrice(builder), clientSeq, e.seq, e.marketSeq);
    }
    default:
      throw new RangeError(`encodeEvent: event kind ${e.kind} has no wire form`);
  }
}

// ---------------------------------------------------------------- market data
//
// Market-data frames are not caused by one client's command: their envelope has client_seq = seq = market_seq = 0
// and their ids (update ids, trade id) are inside the event. Inputs are engine units (prices at PRICE_DECIMALS,
// quantities in base-asset units, quote amounts in quote-asset units).

/** Writes `count` levels of a flat [price0, quantity0, price1, quantity1, ...] array as a Level vector, in order. */
function levels(pairs: BigInt64Array, count: number, baseDecimals: number): number {
  if (count < 0 || 2 * count > pairs.length) throw new RangeError(`levels: ${count} levels, ${pairs.length} values`);
  builder.startVector(Level.sizeOf(), count, 8);
  for (let i = count - 1; i >= 0; i--) {
    Level.createLevel(builder, pairs[2 * i]!, PRICE_DECIMALS, pairs[2 * i + 1]!, baseDecimals);
  }
  return builder.endVector();
}

/**
 * Full book of a market. `bids`/`asks` hold `bidCount`/`askCount` levels as [price, quantity] pairs, best first.
 * Returns a view valid until the next encode.
 */
export function encodeDepthSnapshot(
  market: number,
  lastUpdateId: number,
  bids: BigInt64Array,
  bidCount: number,
  asks: BigInt64Array,
  askCount: number,
  config: ExchangeConfig,
): Uint8Array {
  builder.clear();
  const baseDecimals = decimalsOf(config, marketOf(config, market).baseAsset);
  const bidVector = levels(bids, bidCount, baseDecimals);
  const askVector = levels(asks, askCount, baseDecimals);
  DepthSnapshot.startDepthSnapshot(builder);
  DepthSnapshot.addMarket(builder, market);
  DepthSnapshot.addLastUpdateId(builder, BigInt(lastUpdateId));
  DepthSnapshot.addBids(builder, bidVector);
  DepthSnapshot.addAsks(builder, askVector);
  return finish(Event.DepthSnapshot, DepthSnapshot.endDepthSnapshot(builder), 0n, 0, 0);
}

/**
 * Levels changed by updates firstUpdateId..lastUpdateId (quantity 0 = level gone), same pair layout as the
 * snapshot. Returns a view valid until the next encode.
 */
export function encodeDepthDelta(
  market: number,
  firstUpdateId: number,
  lastUpdateId: number,
  bids: BigInt64Array,
  bidCount: number,
  asks: BigInt64Array,
  askCount: number,
  config: ExchangeConfig,
): Uint8Array {
  builder.clear();
  const baseDecimals = decimalsOf(config, marketOf(config, market).baseAsset);
  const bidVector = levels(bids, bidCount, baseDecimals);
  const askVector = levels(asks, askCount, baseDecimals);
  DepthDelta.startDepthDelta(builder);
  DepthDelta.addMarket(builder, market);
  DepthDelta.addFirstUpdateId(builder, BigInt(firstUpdateId));
  DepthDelta.addLastUpdateId(builder, BigInt(lastUpdateId));
  DepthDelta.addBids(builder, bidVector);
  DepthDelta.addAsks(builder, askVector);
  return finish(Event.DepthDelta, DepthDelta.endDepthDelta(builder), 0n, 0, 0);
}

/** A public trade. Returns a view valid until the next encode. */
export function encodeTrade(
  market: number,
  tradeId: number,
  price: bigint,
  quantity: bigint,
  quoteQuantity: bigint,
  takerSide: number,
  timeMs: number,
  config: ExchangeConfig,
): Uint8Array {
  builder.clear();
  const m = marketOf(config, market);
  Trade.startTrade(builder);
  Trade.addMarket(builder, market);
  Trade.addTradeId(builder, BigInt(tradeId));
  Trade.addPrice(builder, decimal(price, PRICE_DECIMALS));
  Trade.addQuantity(builder, decimal(quantity, decimalsOf(config, m.baseAsset)));
  Trade.addQuoteQuantity(builder, decimal(quoteQuantity, decimalsOf(config, m.quoteAsset)));
  Trade.addTakerSide(builder, takerSide);
  Trade.addTimeMs(builder, BigInt(timeMs));
  return finish(Event.Trade, Trade.endTrade(builder), 0n, 0, 0);
}

/** Best bid and offer; an empty side has price 0 and quantity 0. Returns a view valid until the next encode. */
export function encodeBookTicker(
  market: number,
  updateId: number,
  bidPrice: bigint,
  bidQuantity: bigint,
  askPrice: bigint,
  askQuantity: bigint,
  config: ExchangeConfig,
): Uint8Array {
  builder.clear();
  const baseDecimals = decimalsOf(config, marketOf(config, market).baseAsset);
  BookTicker.startBookTicker(builder);
  BookTicker.addMarket(builder, market);
  BookTicker.addUpdateId(builder, BigInt(updateId));
  BookTicker.addBidPrice(builder, decimal(bidPrice, PRICE_DECIMALS));
  BookTicker.addBidQuantity(builder, decimal(bidQuantity, baseDecimals));
  BookTicker.addAskPrice(builder, decimal(askPrice, PRICE_DECIMALS));
  BookTicker.addAskQuantity(builder, decimal(askQuantity, baseDecimals));
  return finish(Event.BookTicker, BookTicker.endBookTicker(builder), 0n, 0, 0);
}

/** 24 h rolling statistics of one market, engine units. */
export interface TickerStats {
  openTimeMs: number;
  closeTimeMs: number;
  /** Prices, PRICE_DECIMALS. */
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
  /** Base-asset units. */
  volume: bigint;
  /** Quote-asset units. */
  quoteVolume: bigint;
  tradeCount: number;
}

/** Returns a view valid until the next encode. */
export function encodeTicker(market: number, t: TickerStats, config: ExchangeConfig): Uint8Array {
  builder.clear();
  const m = marketOf(config, market);
  Ticker.startTicker(builder);
  Ticker.addMarket(builder, market);
  Ticker.addOpenTimeMs(builder, BigInt(t.openTimeMs));
  Ticker.addCloseTimeMs(builder, BigInt(t.closeTimeMs));
  Ticker.addOpen(builder, decimal(t.open, PRICE_DECIMALS));
  Ticker.addHigh(builder, decimal(t.high, PRICE_DECIMALS));
  Ticker.addLow(builder, decimal(t.low, PRICE_DECIMALS));
  Ticker.addClose(builder, decimal(t.close, PRICE_DECIMALS));
  Ticker.addVolume(builder, decimal(t.volume, decimalsOf(config, m.baseAsset)));
  Ticker.addQuoteVolume(builder, decimal(t.quoteVolume, decimalsOf(config, m.quoteAsset)));
  Ticker.addTradeCount(builder, BigInt(t.tradeCount));
  return finish(Event.Ticker, Ticker.endTicker(builder), 0n, 0, 0);
}

/** One resting order of an account snapshot (QueryAccountSnapshot): remaining = the quantity still open. */
export function encodeOpenOrder(
  account: number,
  market: number,
  orderId: number,
  clientId: bigint,
  side: number,
  price: bigint,
  remaining: bigint,
  clientSeq: bigint,
  config: ExchangeConfig,
): Uint8Array {
  builder.clear();
  const m = marketOf(config, market);
  OpenOrder.startOpenOrder(builder);
  OpenOrder.addAccount(builder, account);
  OpenOrder.addMarket(builder, market);
  OpenOrder.addOrderId(builder, BigInt(orderId));
  OpenOrder.addClientId(builder, clientId);
  OpenOrder.addSide(builder, side);
  OpenOrder.addPrice(builder, decimal(price, PRICE_DECIMALS));
  OpenOrder.addRemaining(builder, decimal(remaining, decimalsOf(config, m.baseAsset)));
  return finish(Event.OpenOrder, OpenOrder.endOpenOrder(builder), clientSeq, orderId, 0);
}

/** The end of an account snapshot, valid after command `validAtSeq`. */
export function encodeAccountSnapshot(account: number, validAtSeq: number, balances: number, orders: number, clientSeq: bigint): Uint8Array {
  builder.clear();
  AccountSnapshot.startAccountSnapshot(builder);
  AccountSnapshot.addAccount(builder, account);
  AccountSnapshot.addValidAtSeq(builder, BigInt(validAtSeq));
  AccountSnapshot.addBalances(builder, balances);
  AccountSnapshot.addOrders(builder, orders);
  return finish(Event.AccountSnapshot, AccountSnapshot.endAccountSnapshot(builder), clientSeq, validAtSeq, 0);
}

/** The end of a ResumeAccount answer: how many events were re-sent, and whether the log reached back to fromSeq. */
export function encodeResumeDone(account: number, fromSeq: number, events: number, complete: boolean, clientSeq: bigint): Uint8Array {
  builder.clear();
  ResumeDone.startResumeDone(builder);
  ResumeDone.addAccount(builder, account);
  ResumeDone.addFromSeq(builder, BigInt(fromSeq));
  ResumeDone.addEvents(builder, events);
  ResumeDone.addComplete(builder, complete);
  return finish(Event.ResumeDone, ResumeDone.endResumeDone(builder), clientSeq, 0, 0);
}

/** The answer to an operator's TakeSnapshot (X7). Returns a view valid until the next encode. */
export function encodeSnapshotTaken(clientSeq: bigint, seq: number, batch: number, stateHash: string, bytes: number, file: string): Uint8Array {
  builder.clear();
  const hash = builder.createString(stateHash);
  const name = builder.createString(file);
  SnapshotTaken.startSnapshotTaken(builder);
  SnapshotTaken.addSeq(builder, BigInt(seq));
  SnapshotTaken.addBatch(builder, BigInt(batch));
  SnapshotTaken.addStateHash(builder, hash);
  SnapshotTaken.addBytes(builder, BigInt(bytes));
  SnapshotTaken.addFile(builder, name);
  return finish(Event.SnapshotTaken, SnapshotTaken.endSnapshotTaken(builder), clientSeq, seq, 0);
}
