// One market's matching: validation and filters (O2), price-time matching (O1), STP (O3), bands (O4–O7), cancel and
// cancel-replace, market states, order events with the market sequence number and market data (O8).
//
// Semantics that the public documentation in index.ts restates (keep both in step):
// - Events go out through ONE reused EventRecord (ShardContext.ev), each stamped with ++marketSeq.
// - A taker's events: OrderAccepted, then per maker [Fill, maker OrderDone if it left the book] or an STP cancel,
//   then the taker's OrderDone unless it rests.
// - Quantities: OrderDone.remainingQuantity = original − filled (0 for a market buy by quote only), filledQuantity = filled.

import {
  type CommandKind,
  DoneReason,
  EventKind,
  MarketKind,
  MarketState,
  OrderFlag,
  OrderType,
  RATIO_SCALE,
  RejectCode,
  SelfTradePrevention,
  Side,
  SnapshotTag,
  TICK_INDEX_MAX,
  TimeInForce,
  type CommandRecord,
  type SnapshotReader,
  type SnapshotWriter,
  type EventRecord,
  type EventSink,
  type ExchangeConfig,
  type MarketConfig,
} from "../model/index.ts";
import { Book, NONE, RestFlag } from "./book.ts";
import type { StateHasher } from "./hash.ts";
import { IdMap } from "../collections/index.ts";
import { NO_TICK } from "./ladder.ts";
import { PerpPositionReplica } from "./perp-positions.ts";
import type { MatchingLimits } from "./limits.ts";
import { TickerWindow, type DepthLevel, type DepthSnapshot, type MarketDataSink } from "./market-data.ts";

const INT32_MIN = -2147483648;
/** Direct-mapped cache of validated limit prices (tick index and the notional's minimum quantity at that price). */
const PRICE_CACHE_BITS = 14;
/** Sentinel open quantity of a market buy limited by quote only. */
const QUOTE_ONLY_QTY = 1n << 62n;
/** Scratch words that expose a bigint's low 32 bits without Number(bigint), a slow runtime conversion (~12 ns). */
const LOW64 = new BigInt64Array(1);
const WORDS32 = new Int32Array(LOW64.buffer);
/** Index of the low 32-bit word of LOW64 (0 on little-endian machines). */
const LOW_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const TICK_INDEX_MAX_BIG = BigInt(TICK_INDEX_MAX);

// Why the taker's matching loop stopped.
const STOP_FILLED = 0;
const STOP_LIMIT = 1;
const STOP_BAND = 2;
const STOP_STP = 3;
const STOP_BUDGET = 4;

/** Shared by the markets of one shard: the reused event record, the sinks, engine time and the current command. */
export class ShardContext {
  readonly ev: EventRecord;
  sink: EventSink;
  md: MarketDataSink | null = null;
  timeMs = 0;
  seq = 0;
  /** The record still holds a Fill's maker fields (and the fees a consumer may have set on it). */
  evFill = false;
  constructor(ev: EventRecord, sink: EventSink) {
    this.ev = ev;
    this.sink = sink;
  }
}

/**
 * One account's resting orders in one book: count, intrusive list, clientId index. The list is in no particular order
 * (a cancel-replace re-keys an order in place); CancelAll sorts the ids it cancels.
 */
class AccountOrders {
  constructor(
    readonly account: number,
    readonly index: number,
  ) {}
  count = 0;
  head = NONE;
  tail = NONE;
  byClientId: Map<bigint, number> | null = null;
}

/** A resting order as reported by bookOrders() (tests, recovery, diagnostics). */
export interface RestingOrder {
  readonly orderId: number;
  readonly account: number;
  readonly side: number;
  readonly price: bigint;
  readonly openQuantity: bigint;
  readonly filledQuantity: bigint;
  readonly originalQuantity: bigint;
  readonly clientId: bigint;
  readonly stp: number;
  readonly postOnly: boolean;
  readonly reduceOnly: boolean;
}

/** A new order's id: its sequence number, or for an engine order (seq 0, engine.ts decision D3) the id it carries. */
function placeIdOf(cmd: CommandRecord): number {
  return cmd.seq !== 0 ? cmd.seq : cmd.orderId;
}

export class Market {
  readonly id: number;
  readonly cfg: MarketConfig;
  readonly isPerp: boolean;
  /** P1/O1: every account's position in this perpetual market, moved by each fill (reduceOnly caps read it). */
  private readonly positions = new PerpPositionReplica();
  readonly book: Book;
  private readonly ctx: ShardContext;
  private readonly limits: MatchingLimits;

  state: number = MarketState.Open;
  marketSeq = 0;
  tradeSeq = 0;
  depthUpdateId = 0;
  /** Last trade price and its tick (0 = no trade yet). */
  lastPrice = 0n;
  lastTick = 0;
  readonly ticker = new TickerWindow();
  /** Scratch for CancelAll: the account's order ids, sorted (grows to the largest account seen). */
  private cancelIds = new Float64Array(64);
  /** Accounts seen in this book: account → index into accountList (records are kept once created). */
  private readonly accountIndex = new IdMap(256);
  private readonly accountList: AccountOrders[] = [];

  // ---- filters and conversions (fixed at construction) ----
  private readonly tickSize: bigint;
  private readonly stepSize: bigint;
  private readonly minQty: bigint;
  private readonly maxQty: bigint;
  private readonly minPrice: bigint;
  private readonly maxPrice: bigint;
  private readonly minNotional: bigint;
  /** q × p ≥ this ⟺ floor(q × p × qMul / qDiv) ≥ minNotional. */
  private readonly notionalProductMin: bigint;
  /** Trade quote amount = floor(q × p × qMul / qDiv) (10^quoteDecimals / (10^baseDecimals × 10^PRICE_DECIMALS), reduced). */
  private readonly qMul: bigint;
  private readonly qDiv: bigint;
  /** RATIO_SCALE × tickSize: price × multiplier / bandDen is a tick index. */
  private readonly bandDen: bigint;
  /** multiplier / bandDen reduced to lowest terms (small operands on the hot path) for the O4 and O5 bands. */
  private readonly pbMaxF: Fraction;
  private readonly pbMinF: Fraction;
  private readonly ibMaxF: Fraction;
  private readonly ibMinF: Fraction;

  // ---- validated-price cache: repeated prices skip the tick division and the notional multiplication ----
  private readonly pcPrice = new BigInt64Array(1 << PRICE_CACHE_BITS);
  private readonly pcTick = new Int32Array(1 << PRICE_CACHE_BITS).fill(-1);
  /** Smallest quantity whose notional at pcPrice meets minNotional (capped at maxQuantity + 1). */
  private readonly pcMinQty = new BigInt64Array(1 << PRICE_CACHE_BITS);
  /** Cache slot of the price last accepted by checkPrice (read by notionalOk). */
  private pcSlot = 0;

  // ---- band inputs (O6, O7): keys bounding the opposite level a taker may reach; INT32_MIN = inactive ----
  hasBandInputs = false;
  meanMark = 0n;
  meanPremium = 0n;
  indexPrice = 0n;
  private readonly meanMarkKey = [INT32_MIN, INT32_MIN];
  private readonly premiumKey = [INT32_MIN, INT32_MIN];

  // ---- price band (O4) cache, keyed on the ticks it was computed from ----
  private pbBid = -1;
  private pbAsk = -1;
  private pbLast = -1;
  private pbMinTick = 0;
  private pbMaxTick = TICK_INDEX_MAX;
  /** The active price the band ticks were computed from (−1 = none yet). */
  private pbActive = -1n;

  // ---- the taker being matched ----
  private tRemaining = 0n;
  private tFilled = 0n;
  private tQuoteLeft = 0n;
  private tQuoteCapped = false;
  private tImpactKey = 0;
  private tMeanMarkKey = 0;
  private tStopKey = 0;
  private tTraded = false;

  // ---- last published best bid/offer ----
  private bboBidTick = NO_TICK;
  private bboAskTick = NO_TICK;
  private bboBidPrice = 0n;
  private bboBidQty = 0n;
  private bboAskPrice = 0n;
  private bboAskQty = 0n;

  constructor(config: ExchangeConfig, cfg: MarketConfig, ctx: ShardContext, limits: MatchingLimits) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.ctx = ctx;
    this.limits = limits;
    this.isPerp = cfg.kind === MarketKind.Perpetual;
    const base = config.assets[cfg.baseAsset];
    const quote = config.assets[cfg.quoteAsset];
    if (base === undefined || quote === undefined) throw new Error(`market ${cfg.symbol}: unknown asset`);
    if (cfg.tickSize <= 0n || cfg.stepSize <= 0n) throw new Error(`market ${cfg.symbol}: tick and step must be > 0`);
    if (cfg.minPrice <= 0n || cfg.maxPrice < cfg.minPrice) throw new Error(`market ${cfg.symbol}: bad price range`);
    if (cfg.maxPrice / cfg.tickSize > BigInt(TICK_INDEX_MAX)) {
      throw new Error(`market ${cfg.symbol}: maxPrice / tickSize exceeds TICK_INDEX_MAX`);
    }
    if (cfg.minQuantity <= 0n || cfg.maxQuantity < cfg.minQuantity) throw new Error(`market ${cfg.symbol}: bad qty range`);
    this.tickSize = cfg.tickSize;
    this.stepSize = cfg.stepSize;
    this.minQty = cfg.minQuantity;
    this.maxQty = cfg.maxQuantity;
    this.minPrice = cfg.minPrice;
    this.maxPrice = cfg.maxPrice;
    this.minNotional = cfg.minNotional;
    let qMul = 10n ** BigInt(quote.decimals);
    let qDiv = 10n ** BigInt(base.decimals + 9);
    while (qMul % 10n === 0n && qDiv % 10n === 0n) {
      qMul /= 10n;
      qDiv /= 10n;
    }
    this.qMul = qMul;
    this.qDiv = qDiv;
    this.notionalProductMin = ceilDiv(cfg.minNotional * qDiv, qMul);
    this.bandDen = RATIO_SCALE * cfg.tickSize;
    this.pbMaxF = reduced(cfg.priceBand.maxMultiplier, this.bandDen);
    this.pbMinF = reduced(cfg.priceBand.minMultiplier, this.bandDen);
    this.ibMaxF = reduced(cfg.impactBand.maxMultiplier, this.bandDen);
    this.ibMinF = reduced(cfg.impactBand.minMultiplier, this.bandDen);
    this.book = new Book(
      limits.initialOrderCapacity,
      limits.maxOrdersPerBook,
      limits.initialLevelCapacity,
      limits.maxLevelsPerSide,
      limits.ladderWindowBits,
    );
  }

  /** Trade quote amount: floor(q × price × 10^quoteDecimals / (10^baseDecimals × 10^PRICE_DECIMALS)). */
  quoteAmount(q: bigint, price: bigint): bigint {
    return (q * price * this.qMul) / this.qDiv;
  }

  // ================================================================ events

  /**
   * Publishes one non-Fill event through the shared record, writing every order-event field it carries, so nothing of
   * an earlier event leaks into it: the Fill-only fields (maker identity, fees, tradeId) are zeroed only when the
   * previous event was a Fill (ctx.evFill), and `asset` and the account-statement fields (lent, netEquityUsd, …) are
   * never written by matching and stay zero. Consumers may set makerFee/takerFee on a Fill (risk does) and must not
   * write anything else. Writing only these fields instead of calling clear() on the 41-field record (or writing all
   * 22 order fields) matters: the stores are a sizeable part of an event's cost.
   */
  private emit(
    kind: EventKind,
    account: number,
    side: number,
    orderId: number,
    clientId: bigint,
    code: number,
    message: string,
    price: bigint,
    quantity: bigint,
    amount: bigint,
    amount2: bigint,
  ): void {
    const ctx = this.ctx;
    const ev = ctx.ev;
    ev.kind = kind;
    ev.seq = ctx.seq;
    ev.marketSeq = ++this.marketSeq;
    ev.account = account;
    ev.market = this.id;
    // CommandAccepted (commandAccepted below) passes its own fields in the side, code and amount2 slots.
    const isCommand = kind === EventKind.CommandAccepted;
    ev.side = isCommand ? 0 : side;
    ev.orderId = orderId;
    ev.clientId = clientId;
    ev.code = isCommand ? 0 : code;
    ev.message = message;
    ev.price = price;
    ev.quantity = quantity;
    // The union fields matching's kinds carry (engine/model/vocabulary.ts): the kind's own get amount/amount2, the
    // others zero, so nothing of an earlier event leaks.
    const isAccepted = kind === EventKind.OrderAccepted;
    const isDone = kind === EventKind.OrderDone;
    ev.openQuantity = isAccepted ? amount : 0n;
    ev.quoteQuantity = isAccepted ? amount2 : 0n;
    ev.remainingQuantity = isDone ? amount : 0n;
    ev.filledQuantity = isDone ? amount2 : 0n;
    ev.commandAmount = isAccepted || isDone ? 0n : amount;
    ev.marketState = isCommand ? side : 0;
    ev.acceptedKind = isCommand ? code : 0;
    ev.canceledOrders = isCommand ? amount2 : 0n;
    if (ctx.evFill) {
      ev.makerAccount = 0;
      ev.makerOrderId = 0;
      ev.makerClientId = 0n;
      ev.makerFee = 0n;
      ev.takerFee = 0n;
      ev.tradeId = 0;
      ctx.evFill = false;
    }
    ev.timeMs = ctx.timeMs;
    ctx.sink.publish(ev);
  }

  /** Publishes a Fill (taker identity, maker identity, price, quantity, quote amount, tradeId; fees 0). */
  private emitFill(
    account: number,
    side: number,
    orderId: number,
    clientId: bigint,
    price: bigint,
    quantity: bigint,
    quote: bigint,
    makerAccount: number,
    makerOrderId: number,
    makerClientId: bigint,
    tradeId: number,
  ): void {
    const ctx = this.ctx;
    const ev = ctx.ev;
    ev.kind = EventKind.Fill;
    ev.seq = ctx.seq;
    ev.marketSeq = ++this.marketSeq;
    ev.account = account;
    ev.market = this.id;
    ev.side = side;
    ev.orderId = orderId;
    ev.clientId = clientId;
    ev.code = 0;
    ev.message = "";
    ev.price = price;
    ev.quantity = quantity;
    ev.quoteQuantity = quote;
    ev.openQuantity = 0n;
    ev.remainingQuantity = 0n;
    ev.filledQuantity = 0n;
    ev.commandAmount = 0n;
    ev.makerAccount = makerAccount;
    ev.makerOrderId = makerOrderId;
    ev.makerClientId = makerClientId;
    ev.makerFee = 0n;
    ev.takerFee = 0n;
    ev.tradeId = tradeId;
    ev.timeMs = ctx.timeMs;
    ctx.evFill = true;
    ctx.sink.publish(ev);
  }

  /** OrderRejected (or CommandRejected) for this market; nothing changed. */
  reject(kind: EventKind, code: number, message: string, orderId: number, account: number, side: number, clientId: bigint): void {
    this.emit(kind, account, side, orderId, clientId, code, message, 0n, 0n, 0n, 0n);
  }

  /** CommandAccepted of a market command: its kind, the market's new state (SetMarketState), orders canceled (CancelAll). */
  commandAccepted(account: number, acceptedKind: CommandKind, marketState: number, canceledOrders: bigint): void {
    this.emit(EventKind.CommandAccepted, account, marketState, 0, 0n, acceptedKind, "", 0n, 0n, 0n, canceledOrders);
  }

  private accepted(
    orderId: number,
    account: number,
    side: number,
    price: bigint,
    quantity: bigint,
    openQty: bigint,
    quoteQty: bigint,
    clientId: bigint,
  ): void {
    this.emit(EventKind.OrderAccepted, account, side, orderId, clientId, 0, "", price, quantity, openQty, quoteQty);
  }

  private done(
    orderId: number,
    account: number,
    side: number,
    price: bigint,
    original: bigint,
    filled: bigint,
    clientId: bigint,
    reason: number,
  ): void {
    // Most orders end unfilled: no subtraction (a fresh bigint) then.
    const unfilled = filled === 0n ? original : original > filled ? original - filled : 0n;
    this.emit(EventKind.OrderDone, account, side, orderId, clientId, reason, "", price, original, unfilled, filled);
  }

  // ================================================================ commands

  handlePlace(cmd: CommandRecord): void {
    if (!this.placeFieldsAllowed(cmd)) return;
    const isLimit = cmd.orderType === OrderType.Limit;
    const tick = this.placeFilterTick(cmd, isLimit);
    if (tick < 0) return;
    const side = cmd.side;
    const tif = cmd.tif;
    const account = cmd.account;
    const clientId = cmd.clientId;
    const orderId = placeIdOf(cmd);
    const acct = this.accountOf(account);
    if (!this.placeHasRoom(cmd, acct, isLimit && tif === TimeInForce.GTC, tick)) return;
    const openQty = this.placeOpenQty(cmd);
    if (openQty < 0n) return;

    // ---- O4 price band (not for the engine's own orders, seq 0: a Q2 step's limit is Q2's mark bound), postOnly ----
    const K = EventKind.OrderRejected;
    if (isLimit && cmd.seq !== 0 && this.outsidePriceBand(tick)) {
      return this.reject(K, RejectCode.PriceBand, "PriceBand: limit price outside the active-price band", orderId, account, side, clientId);
    }
    const limitKey = isLimit ? (side === Side.Buy ? -tick : tick) : INT32_MIN;
    if ((cmd.flags & OrderFlag.PostOnly) !== 0 && this.crosses(side, limitKey)) {
      return this.reject(K, RejectCode.PostOnlyWouldTake, "PostOnlyWouldTake: post-only order would take", orderId, account, side, clientId);
    }

    const price = isLimit ? cmd.price : 0n;
    const qty = cmd.quantity;
    const quoteQty = cmd.quoteQuantity;
    this.accepted(orderId, account, side, price, qty, openQty === QUOTE_ONLY_QTY ? 0n : openQty, quoteQty, clientId);
    this.execute(orderId, account, side, tif, cmd.stp, cmd.flags, clientId, isLimit, tick, price, qty, openQty, quoteQty, acct);
  }

  /** A new order's enumerations and flags are valid and the market state takes it; false after the reject. */
  private placeFieldsAllowed(cmd: CommandRecord): boolean {
    const side = cmd.side;
    const type = cmd.orderType;
    const tif = cmd.tif;
    const stp = cmd.stp;
    const account = cmd.account;
    const clientId = cmd.clientId;
    const orderId = placeIdOf(cmd);
    const K = EventKind.OrderRejected;
    let code: number = RejectCode.InvalidField;
    let why = "";
    const postOnly = (cmd.flags & OrderFlag.PostOnly) !== 0;
    const isLimit = type === OrderType.Limit;
    const st = this.state;
    if ((side !== Side.Buy && side !== Side.Sell) || (type !== OrderType.Limit && type !== OrderType.Market)) why = "InvalidField: side or orderType";
    else if (tif !== TimeInForce.GTC && tif !== TimeInForce.IOC && tif !== TimeInForce.FOK) why = "InvalidField: timeInForce";
    else if (stp < 0 || stp > SelfTradePrevention.Allow || (stp | 0) !== stp) why = "InvalidField: selfTradePrevention";
    else if (postOnly && (!isLimit || tif !== TimeInForce.GTC)) why = "InvalidField: postOnly needs a GTC limit order";
    else {
      code = RejectCode.MarketStateForbids;
      if (st === MarketState.Closed || st === MarketState.CancelOnly) why = "MarketStateForbids: market takes no new orders";
      else if (st === MarketState.PostOnly && !postOnly) why = "MarketStateForbids: market is post-only";
      else if (st === MarketState.LimitOnly && !isLimit) why = "MarketStateForbids: market is limit-only";
    }
    if (why === "") return true;
    this.reject(K, code, why, orderId, account, side, clientId);
    return false;
  }

  /**
   * O2 filters of a new order: the limit price (tick size, bounds), the base or quote quantity (step, bounds), the
   * minimum notional. Returns the limit price's tick (0 for a market order), or −1 after the reject.
   */
  private placeFilterTick(cmd: CommandRecord, isLimit: boolean): number {
    const side = cmd.side;
    const account = cmd.account;
    const clientId = cmd.clientId;
    const orderId = placeIdOf(cmd);
    const K = EventKind.OrderRejected;
    let tick = 0;
    if (isLimit) {
      tick = this.checkPrice(cmd.price, orderId, account, side, clientId);
      if (tick < 0) return -1;
    }
    const qty = cmd.quantity;
    const quoteQty = cmd.quoteQuantity;
    let code: number = RejectCode.InvalidQuantity;
    let why = "";
    if (quoteQty !== 0n && (isLimit || side !== Side.Buy)) {
      code = RejectCode.InvalidField;
      why = "InvalidField: quoteQuantity is for market buys";
    } else if (quoteQty < 0n || qty < 0n) why = "InvalidQuantity: negative quantity";
    else if (qty === 0n && quoteQty === 0n) why = "InvalidQuantity: quantity is zero";
    else if (qty === 0n && cmd.tif === TimeInForce.FOK) {
      code = RejectCode.InvalidField;
      why = "InvalidField: FOK needs a base quantity";
    } else if (qty !== 0n && !this.checkQuantity(qty, orderId, account, side, clientId)) return -1;
    else if (isLimit && qty < this.pcMinQty[this.pcSlot]) {
      code = RejectCode.MinNotional;
      why = "MinNotional: quantity × price below the minimum notional";
    } else if (!isLimit && qty === 0n && quoteQty < this.minNotional) {
      code = RejectCode.MinNotional;
      why = "MinNotional: quote quantity below the minimum notional";
    }
    if (why === "") return tick;
    this.reject(K, code, why, orderId, account, side, clientId);
    return -1;
  }

  /**
   * The order's identity and the limits it would hold: its clientId is not in use by an open order, and an order that
   * may rest finds room (the account's open orders in this market, the book's orders and levels). False after the reject.
   */
  private placeHasRoom(cmd: CommandRecord, acct: AccountOrders | undefined, mayRest: boolean, tick: number): boolean {
    const side = cmd.side;
    const clientId = cmd.clientId;
    let code: number = RejectCode.DuplicateClientId;
    let why = "";
    if (clientId !== 0n && acct !== undefined && acct.byClientId !== null && acct.byClientId.has(clientId)) {
      why = "DuplicateClientId: clientId is in use by an open order";
    } else if (mayRest && acct !== undefined && acct.count >= this.limits.maxOpenOrdersPerAccountMarket) {
      code = RejectCode.TooManyOpenOrders;
      why = "TooManyOpenOrders: open-order limit per account and market";
    } else if (mayRest && (!this.book.hasOrderRoom() || !this.book.canRestAt(side, tick))) {
      code = RejectCode.Overloaded;
      why = "Overloaded: book capacity (orders or price levels)";
    }
    if (why === "") return true;
    this.reject(EventKind.OrderRejected, code, why, placeIdOf(cmd), cmd.account, side, clientId);
    return false;
  }

  /**
   * The base quantity the new order may open (QUOTE_ONLY_QTY for a market buy by quote quantity), capped for a
   * reduceOnly order by the position risk supplied; −1n after the reject.
   */
  private placeOpenQty(cmd: CommandRecord): bigint {
    const qty = cmd.quantity;
    let openQty = qty === 0n ? QUOTE_ONLY_QTY : qty;
    if ((cmd.flags & OrderFlag.ReduceOnly) !== 0) {
      const cap = this.reduceOnlyCap(cmd.side, placeIdOf(cmd), cmd.account, cmd.clientId);
      if (cap < 0n) return -1n;
      if (cap < openQty) openQty = cap;
    }
    return openQty;
  }

  handleCancel(cmd: CommandRecord): void {
    const slot = this.findTarget(cmd);
    if (slot === NONE) {
      return this.reject(EventKind.OrderRejected, RejectCode.UnknownOrder, "UnknownOrder: no such open order", cmd.seq, cmd.account, cmd.side, cmd.clientId);
    }
    this.removeResting(slot, DoneReason.Canceled);
  }

  /** Cancels every open order of `account` in this market (ascending order id) for `reason`; returns how many. */
  cancelAllOf(account: number, reason: DoneReason = DoneReason.CanceledByAll): number {
    const acct = this.accountOf(account);
    if (acct === undefined || acct.count === 0) return 0;
    const book = this.book;
    const n = acct.count;
    if (this.cancelIds.length < n) this.cancelIds = new Float64Array(Math.max(n, this.cancelIds.length * 2));
    const ids = this.cancelIds;
    let k = 0;
    for (let slot = acct.head; slot !== NONE; slot = book.oANext[slot]) ids[k++] = book.oId[slot];
    const sorted = ids.subarray(0, n).sort();
    for (let i = 0; i < n; i++) this.removeResting(book.ids.get(sorted[i]), reason);
    return n;
  }

  handleReplace(cmd: CommandRecord): void {
    const K = EventKind.OrderRejected;
    const orderId = cmd.seq;
    const account = cmd.account;
    const st = this.state;
    if (st === MarketState.Closed || st === MarketState.CancelOnly) {
      return this.reject(K, RejectCode.MarketStateForbids, "MarketStateForbids: market takes no new orders", orderId, account, cmd.side, cmd.clientId);
    }
    const slot = this.findTarget(cmd);
    if (slot === NONE) {
      return this.reject(K, RejectCode.UnknownOrder, "UnknownOrder: no such open order", orderId, account, cmd.side, cmd.clientId);
    }
    const book = this.book;
    const side = book.oSide[slot];
    const clientId = book.oClientId[slot];
    const price = cmd.price;
    const tick = this.checkPrice(price, orderId, account, side, clientId);
    if (tick < 0) return;
    const qty = cmd.quantity;
    if (qty <= 0n) {
      return this.reject(K, RejectCode.InvalidQuantity, "InvalidQuantity: quantity must be > 0", orderId, account, side, clientId);
    }
    if (!this.checkQuantity(qty, orderId, account, side, clientId)) return;
    if (qty < this.pcMinQty[this.pcSlot]) {
      return this.reject(K, RejectCode.MinNotional, "MinNotional: quantity × price below the minimum notional", orderId, account, side, clientId);
    }
    const flags = book.oFlags[slot];
    let openQty = qty;
    if ((flags & RestFlag.ReduceOnly) !== 0) {
      const cap = this.reduceOnlyCap(side, orderId, account, clientId);
      if (cap < 0n) return;
      if (cap < openQty) openQty = cap;
    }
    if (this.outsidePriceBand(tick)) {
      return this.reject(K, RejectCode.PriceBand, "PriceBand: limit price outside the active-price band", orderId, account, side, clientId);
    }
    const limitKey = side === Side.Buy ? -tick : tick;
    if (((flags & RestFlag.PostOnly) !== 0 || st === MarketState.PostOnly) && this.crosses(side, limitKey)) {
      return this.reject(K, RejectCode.PostOnlyWouldTake, "PostOnlyWouldTake: post-only order would take", orderId, account, side, clientId);
    }
    const oldLevel = book.oLevel[slot];
    const keepPriority = book.lTick[oldLevel] === tick && openQty <= book.oQty[slot];
    if (!keepPriority && !book.canRestAt(side, tick)) {
      return this.reject(K, RejectCode.Overloaded, "Overloaded: book capacity (price levels)", orderId, account, side, clientId);
    }
    this.replaceResting(slot, orderId, account, tick, price, qty, openQty, keepPriority);
  }

  /**
   * A checked replace: the old order is done (Replaced) and the new one (id `orderId`) takes its slot — in place when
   * it keeps priority (same level, no larger), at the back of its new level when it does not cross, else through
   * execute() as a new GTC order with the old one's STP mode and flags.
   */
  private replaceResting(slot: number, orderId: number, account: number, tick: number, price: bigint, qty: bigint, openQty: bigint, keepPriority: boolean): void {
    const book = this.book;
    const side = book.oSide[slot];
    const clientId = book.oClientId[slot];
    const flags = book.oFlags[slot];
    const oldLevel = book.oLevel[slot];
    const oldId = book.oId[slot];
    this.done(oldId, account, side, book.lPrice[oldLevel], book.oOrig[slot], book.oFilled[slot], clientId, DoneReason.Replaced);
    if (keepPriority) {
      book.rekey(slot, orderId);
      book.setOpenQty(slot, openQty);
      book.oOrig[slot] = qty;
      book.oFilled[slot] = 0n;
      this.accepted(orderId, account, side, price, qty, openQty, 0n, clientId);
      return;
    }
    const limitKey = side === Side.Buy ? -tick : tick;
    // Most moves do not cross (the old order sits on the mover's own side, so taking it out changes nothing here): the
    // slot itself moves to the back of its new level as the new order, keeping account, clientId, STP mode and flags —
    // the state execute() would reach through dropResting + restNew (which would hand back this very slot).
    if (!this.crosses(side, limitKey)) {
      book.unlink(slot);
      book.oId[slot] = orderId;
      book.oQty[slot] = openQty;
      book.oFilled[slot] = 0n;
      book.oOrig[slot] = qty;
      book.rest(slot, side, tick, price);
      this.accepted(orderId, account, side, price, qty, openQty, 0n, clientId);
      return;
    }
    const stp = book.oStp[slot];
    const cmdFlags = ((flags & RestFlag.PostOnly) !== 0 ? OrderFlag.PostOnly : 0) | ((flags & RestFlag.ReduceOnly) !== 0 ? OrderFlag.ReduceOnly : 0);
    const acct = this.accountList[book.oAcct[slot]];
    this.dropResting(slot, clientId);
    this.accepted(orderId, account, side, price, qty, openQty, 0n, clientId);
    this.execute(orderId, account, side, TimeInForce.GTC, stp, cmdFlags, clientId, true, tick, price, qty, openQty, 0n, acct);
  }

  /** Privileged state change; Closed cancels every resting order (CanceledByAll), bids then asks, best first. */
  setState(state: number): void {
    this.state = state;
    if (state !== MarketState.Closed) return;
    for (let side = 0; side < 2; side++) {
      for (;;) {
        const lvl = this.book.bestLevel(side);
        if (lvl === NONE) break;
        this.removeResting(this.book.lHead[lvl], DoneReason.CanceledByAll);
      }
    }
  }

  /**
   * O6/O7 inputs from settlement: mean mark (PRICE_DECIMALS), mean premium (Ratio) and, optionally, the index price
   * (0 = use the index implied by mean mark and mean premium: meanMark / (1 + meanPremium)). Returns a reject code.
   */
  setBandInputs(meanMark: bigint, meanPremium: bigint, indexPrice: bigint): number {
    if (meanMark <= 0n) return RejectCode.InvalidPrice;
    if (indexPrice < 0n) return RejectCode.InvalidPrice;
    if (RATIO_SCALE + meanPremium <= 0n) return RejectCode.InvalidField;
    this.hasBandInputs = true;
    this.meanMark = meanMark;
    this.meanPremium = meanPremium;
    this.indexPrice = indexPrice;
    const mm = this.cfg.meanMarkBand;
    this.meanMarkKey[Side.Buy] = buyKey(floorDiv(meanMark * mm.maxMultiplier, this.bandDen));
    this.meanMarkKey[Side.Sell] = sellKey(ceilDiv(meanMark * mm.minMultiplier, this.bandDen));
    const tol = this.cfg.premiumTolerance;
    if (this.isPerp && tol !== null) {
      // Fill price P has premium (P − I) / I; buys need it ≤ p̄ + t, sells ≥ p̄ − t.
      const up = RATIO_SCALE + meanPremium + tol;
      const down = RATIO_SCALE + meanPremium - tol;
      let num: bigint;
      let den: bigint;
      if (indexPrice > 0n) {
        num = indexPrice;
        den = this.bandDen;
      } else {
        num = meanMark;
        den = (RATIO_SCALE + meanPremium) * this.tickSize;
      }
      this.premiumKey[Side.Buy] = buyKey(floorDiv(num * up, den));
      this.premiumKey[Side.Sell] = down <= 0n ? INT32_MIN : sellKey(ceilDiv(num * down, den));
    }
    return RejectCode.None;
  }

  // ================================================================ validation helpers

  /**
   * Tick index of a valid limit price, or −1 after publishing the reject. Leaves pcSlot at the price's cache entry,
   * whose pcMinQty is the notional threshold for this price.
   */
  private checkPrice(price: bigint, orderId: number, account: number, side: number, clientId: bigint): number {
    // The price's low 32 bits through the scratch words: only a hash; a hit is confirmed by comparing the bigint.
    LOW64[0] = price;
    const h = Math.imul(WORDS32[LOW_WORD], 0x9e3779b1) >>> (32 - PRICE_CACHE_BITS);
    const cached = this.pcTick[h];
    if (cached >= 0 && this.pcPrice[h] === price) {
      this.pcSlot = h;
      return cached;
    }
    const K = EventKind.OrderRejected;
    if (price <= 0n) {
      this.reject(K, RejectCode.InvalidPrice, "InvalidPrice: price must be > 0", orderId, account, side, clientId);
      return -1;
    }
    const t = price / this.tickSize;
    if (t * this.tickSize !== price) {
      this.reject(K, RejectCode.TickSize, "TickSize: price is not a multiple of the tick size", orderId, account, side, clientId);
      return -1;
    }
    if (price < this.minPrice) {
      this.reject(K, RejectCode.MinPrice, "MinPrice: price below the market minimum", orderId, account, side, clientId);
      return -1;
    }
    if (price > this.maxPrice) {
      this.reject(K, RejectCode.MaxPrice, "MaxPrice: price above the market maximum", orderId, account, side, clientId);
      return -1;
    }
    const tick = int31(t); // minPrice ≤ price ≤ maxPrice keeps the tick within TICK_INDEX_MAX (constructor)
    const minQty = ceilDiv(this.notionalProductMin, price);
    this.pcPrice[h] = price;
    this.pcTick[h] = tick;
    this.pcMinQty[h] = minQty > this.maxQty ? this.maxQty + 1n : minQty;
    this.pcSlot = h;
    return tick;
  }

  private checkQuantity(qty: bigint, orderId: number, account: number, side: number, clientId: bigint): boolean {
    const K = EventKind.OrderRejected;
    if (qty % this.stepSize !== 0n) {
      this.reject(K, RejectCode.StepSize, "StepSize: quantity is not a multiple of the step size", orderId, account, side, clientId);
      return false;
    }
    if (qty < this.minQty) {
      this.reject(K, RejectCode.MinQuantity, "MinQuantity: quantity below the market minimum", orderId, account, side, clientId);
      return false;
    }
    if (qty > this.maxQty) {
      this.reject(K, RejectCode.MaxQuantity, "MaxQuantity: quantity above the market maximum", orderId, account, side, clientId);
      return false;
    }
    return true;
  }

  /**
   * Largest base quantity a reduceOnly order may fill (the part of the account's position it reduces, at this moment,
   * rounded down to the step), or −1 after a reject.
   */
  private reduceOnlyCap(side: number, orderId: number, account: number, clientId: bigint): bigint {
    const K = EventKind.OrderRejected;
    if (!this.isPerp) {
      this.reject(K, RejectCode.InvalidField, "InvalidField: reduceOnly is for perpetual markets", orderId, account, side, clientId);
      return -1n;
    }
    const cap = this.positions.reducible(account, side, this.stepSize);
    if (cap <= 0n) {
      this.reject(K, RejectCode.ReduceOnlyNotReducing, "ReduceOnlyNotReducing: the order would not reduce the position", orderId, account, side, clientId);
      return -1n;
    }
    return cap;
  }

  /** The best price of one side of the book (Side.Buy: best bid, Side.Sell: best ask), 0 when that side is empty. */
  bestPrice(side: number): bigint {
    const level = this.book.bestLevel(side);
    return level === NONE ? 0n : this.book.lPrice[level]!;
  }

  /** O4: active price = median{best bid, best ask, last} (mean of two, the one, or none → no band). */
  private outsidePriceBand(tick: number): boolean {
    const book = this.book;
    const bl = book.bestLevel(Side.Buy);
    const al = book.bestLevel(Side.Sell);
    const bid = bl === NONE ? 0 : book.lTick[bl];
    const ask = al === NONE ? 0 : book.lTick[al];
    if (bid !== this.pbBid || ask !== this.pbAsk || this.lastTick !== this.pbLast) {
      this.pbBid = bid;
      this.pbAsk = ask;
      this.pbLast = this.lastTick;
      const active = activePrice(
        bl === NONE ? 0n : book.lPrice[bl],
        al === NONE ? 0n : book.lPrice[al],
        this.lastPrice,
      );
      // The touch moves far more often than the median does (it is often the last price, which moves only on a
      // trade): the products and divisions are needed only for a new active price.
      if (active === this.pbActive) return tick > this.pbMaxTick || tick < this.pbMinTick;
      this.pbActive = active;
      if (active === 0n) {
        this.pbMinTick = 0;
        this.pbMaxTick = TICK_INDEX_MAX;
      } else {
        this.pbMaxTick = clampTick(floorDiv(active * this.pbMaxF.num, this.pbMaxF.den));
        this.pbMinTick = clampTick(ceilDiv(active * this.pbMinF.num, this.pbMinF.den));
      }
    }
    return tick > this.pbMaxTick || tick < this.pbMinTick;
  }

  /**
   * Whether a taker on `side` would match the best opposite level. limitKey is the smallest opposite-level key the
   * taker accepts: −tick for a buy at tick (ask keys are −tick), tick for a sell, INT32_MIN for a market order.
   */
  private crosses(side: number, limitKey: number): boolean {
    const o = side ^ 1;
    const t = this.book.ladders[o].bestTick;
    return t !== NO_TICK && (o === 0 ? t : -t) >= limitKey;
  }

  private accountOf(account: number): AccountOrders | undefined {
    const i = this.accountIndex.get(account);
    return i < 0 ? undefined : this.accountList[i];
  }

  /** The resting order a cancel/replace addresses (by order id or, with ByClientId, by clientId), if it is the account's. */
  private findTarget(cmd: CommandRecord): number {
    if ((cmd.flags & OrderFlag.ByClientId) !== 0) {
      if (cmd.clientId === 0n) return NONE;
      const acct = this.accountOf(cmd.account);
      if (acct === undefined || acct.byClientId === null) return NONE;
      const s = acct.byClientId.get(cmd.clientId);
      return s === undefined ? NONE : s;
    }
    const s = this.book.ids.get(cmd.orderId);
    return s !== NONE && this.book.oAccount[s] === cmd.account ? s : NONE;
  }

  // ================================================================ execution

  /**
   * Matches an accepted order as a taker, then rests it (GTC limit) or ends it with its OrderDone.
   * openQty is the quantity the book may fill (after the reduceOnly cap; QUOTE_ONLY_QTY for a market buy by quote).
   */
  private execute(
    orderId: number,
    account: number,
    side: number,
    tif: number,
    stp: number,
    flags: number,
    clientId: bigint,
    isLimit: boolean,
    tick: number,
    price: bigint,
    qty: bigint,
    openQty: bigint,
    quoteQty: bigint,
    acct: AccountOrders | undefined,
  ): void {
    const limitKey = isLimit ? (side === Side.Buy ? -tick : tick) : INT32_MIN;
    this.tRemaining = openQty;
    this.tFilled = 0n;
    this.tQuoteCapped = quoteQty > 0n;
    this.tQuoteLeft = quoteQty;
    let stop = STOP_LIMIT;
    if (this.crosses(side, limitKey)) {
      const bandKey = this.bandKey(side);
      if (tif === TimeInForce.FOK && !this.fokFillable(side, account, stp, limitKey, bandKey, openQty, quoteQty)) {
        this.done(orderId, account, side, price, qty, 0n, clientId, DoneReason.FokUnfilled);
        return;
      }
      stop = this.match(side, account, orderId, clientId, stp, limitKey, bandKey);
    } else if (tif === TimeInForce.FOK) {
      this.done(orderId, account, side, price, qty, 0n, clientId, DoneReason.FokUnfilled);
      return;
    }
    const filled = this.tFilled;
    let reason: number;
    switch (stop) {
      case STOP_FILLED:
        reason = openQty < (qty === 0n ? QUOTE_ONLY_QTY : qty) ? DoneReason.ReduceOnlyCapped : DoneReason.Filled;
        break;
      case STOP_STP:
        reason = DoneReason.SelfTradeTaker;
        break;
      case STOP_BAND:
        reason = this.bandReason(this.tStopKey);
        break;
      case STOP_BUDGET:
        reason = qty === 0n && filled > 0n ? DoneReason.Filled : DoneReason.Expired;
        break;
      default:
        if (isLimit && tif === TimeInForce.GTC) {
          this.restNew(orderId, account, side, stp, flags, clientId, tick, price, qty, filled, this.tRemaining, acct);
          return;
        }
        reason = DoneReason.Expired;
    }
    this.done(orderId, account, side, price, qty, filled, clientId, reason);
  }

  /**
   * The combined O5/O6/O7 bound for a taker on `side`, as the smallest opposite-level key it may reach (the tightest
   * of the three). O5 impact band against the best opposite price now; O6 mean-mark and O7 premium bands from the band
   * inputs. The per-band keys stay in tImpactKey / tMeanMarkKey so a stop can name the band (bandReason).
   */
  private bandKey(side: number): number {
    const book = this.book;
    const bestOpp = book.bestLevel(side ^ 1);
    const ik =
      side === Side.Buy
        ? buyKey(floorDiv(book.lPrice[bestOpp] * this.ibMaxF.num, this.ibMaxF.den))
        : sellKey(ceilDiv(book.lPrice[bestOpp] * this.ibMinF.num, this.ibMinF.den));
    const mk = this.meanMarkKey[side];
    const pk = this.premiumKey[side];
    this.tImpactKey = ik;
    this.tMeanMarkKey = mk;
    let key = ik;
    if (mk > key) key = mk;
    if (pk > key) key = pk;
    return key;
  }

  /** The band a stopping level (opposite key) violates, first of impact, mean-mark, premium. */
  private bandReason(key: number): number {
    if (key < this.tImpactKey) return DoneReason.ImpactBand;
    if (key < this.tMeanMarkKey) return DoneReason.MeanMarkBand;
    return DoneReason.PremiumBand;
  }

  /** The price-time matching loop. Mutates tRemaining/tFilled/tQuoteLeft; returns why it stopped. */
  private match(side: number, account: number, orderId: number, clientId: bigint, stp: number, limitKey: number, bandKey: number): number {
    const book = this.book;
    const o = side ^ 1;
    const ladder = book.ladders[o];
    const md = this.ctx.md;
    for (;;) {
      const lvl = ladder.bestLvl;
      if (lvl === NONE) return STOP_LIMIT;
      const key = o === 0 ? ladder.bestTick : -ladder.bestTick;
      if (key < limitKey) return STOP_LIMIT;
      if (key < bandKey) {
        this.tStopKey = key;
        return STOP_BAND;
      }
      const price = book.lPrice[lvl];
      let slot = book.lHead[lvl];
      while (slot !== NONE) {
        const next = book.oNext[slot];
        if (stp !== SelfTradePrevention.Allow && book.oAccount[slot] === account) {
          if (stp === SelfTradePrevention.RejectTaker) return STOP_STP;
          this.removeResting(slot, DoneReason.SelfTradeMaker);
          if (stp === SelfTradePrevention.RejectBoth) return STOP_STP;
          slot = next;
          continue;
        }
        let q = book.oQty[slot];
        if ((book.oFlags[slot] & RestFlag.ReduceOnly) !== 0) {
          // O1 at fill time: a resting reduceOnly maker fills at most what is left of the position it reduces.
          const cap = this.positions.reducible(book.oAccount[slot], o, this.stepSize);
          if (cap <= 0n) {
            this.removeResting(slot, DoneReason.ReduceOnlyCapped);
            slot = next;
            continue;
          }
          if (cap < q) q = cap;
        }
        const remaining = this.tRemaining;
        if (q > remaining) q = remaining;
        if (this.tQuoteCapped) {
          let afford = ((this.tQuoteLeft + 1n) * this.qDiv - 1n) / (price * this.qMul);
          afford -= afford % this.stepSize;
          if (afford < q) q = afford;
          if (q === 0n) return STOP_BUDGET;
        }
        const quote = (q * price * this.qMul) / this.qDiv;
        book.fill(slot, q);
        if (this.isPerp) this.positions.applyFill(account, side, book.oAccount[slot], q);
        this.tRemaining = remaining - q;
        this.tFilled += q;
        if (this.tQuoteCapped) this.tQuoteLeft -= quote;
        const tradeId = ++this.tradeSeq;
        this.lastPrice = price;
        this.lastTick = book.lTick[lvl];
        this.ticker.onTrade(price, q, quote);
        this.tTraded = true;
        this.emitFill(account, side, orderId, clientId, price, q, quote, book.oAccount[slot], book.oId[slot], book.oClientId[slot], tradeId);
        if (md !== null) md.trade(this.id, tradeId, price, q, quote, o, this.ctx.timeMs);
        if (this.tRemaining === 0n) {
          if (book.oQty[slot] === 0n) this.makerFilled(slot);
          return STOP_FILLED;
        }
        // A fill cut by the quote budget or a reduceOnly cap leaves the maker in place: try it again (the budget left,
        // or the cap again, which removes it when nothing is left to reduce).
        if (book.oQty[slot] !== 0n) continue;
        this.makerFilled(slot);
        slot = next;
      }
    }
  }

  private makerFilled(slot: number): void {
    const book = this.book;
    this.removeResting(slot, book.oFilled[slot] < book.oOrig[slot] ? DoneReason.ReduceOnlyCapped : DoneReason.Filled);
  }

  /** Dry run of match() for FOK: would the taker fill openQty completely (STP, bands, quote budget included)? */
  private fokFillable(side: number, account: number, stp: number, limitKey: number, bandKey: number, openQty: bigint, quoteQty: bigint): boolean {
    const book = this.book;
    const o = side ^ 1;
    const ladder = book.ladders[o];
    let remaining = openQty;
    let quoteLeft = quoteQty;
    const capped = quoteQty > 0n;
    this.positions.beginDryRun();
    for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
      const key = o === 0 ? tick : -tick;
      if (key < limitKey || key < bandKey) return false;
      const lvl = ladder.get(tick);
      const price = book.lPrice[lvl];
      for (let slot = book.lHead[lvl]; slot !== NONE; slot = book.oNext[slot]) {
        if (stp !== SelfTradePrevention.Allow && book.oAccount[slot] === account) {
          if (stp === SelfTradePrevention.RejectMaker) continue;
          return false;
        }
        let open = book.oQty[slot];
        if ((book.oFlags[slot] & RestFlag.ReduceOnly) !== 0) open = this.positions.fokReducible(book.oAccount[slot], o, this.stepSize, open);
        while (open > 0n) {
          let q = open < remaining ? open : remaining;
          if (capped) {
            let afford = ((quoteLeft + 1n) * this.qDiv - 1n) / (price * this.qMul);
            afford -= afford % this.stepSize;
            if (afford < q) q = afford;
            if (q === 0n) return false;
            quoteLeft -= (q * price * this.qMul) / this.qDiv;
          }
          open -= q;
          remaining -= q;
          if (remaining === 0n) return true;
        }
      }
    }
    return false;
  }

  private restNew(
    orderId: number,
    account: number,
    side: number,
    stp: number,
    flags: number,
    clientId: bigint,
    tick: number,
    price: bigint,
    qty: bigint,
    filled: bigint,
    open: bigint,
    acct: AccountOrders | undefined,
  ): void {
    const book = this.book;
    const slot = book.allocOrder();
    if (slot === NONE) throw new Error("matching: order storage exhausted after the capacity check");
    book.oId[slot] = orderId;
    book.oAccount[slot] = account;
    book.oClientId[slot] = clientId;
    book.oQty[slot] = open;
    book.oFilled[slot] = filled;
    book.oOrig[slot] = qty;
    book.oStp[slot] = stp;
    book.oFlags[slot] = ((flags & OrderFlag.PostOnly) !== 0 ? RestFlag.PostOnly : 0) | ((flags & OrderFlag.ReduceOnly) !== 0 ? RestFlag.ReduceOnly : 0);
    book.rest(slot, side, tick, price);
    let a = acct;
    if (a === undefined) {
      a = this.accountOf(account);
      if (a === undefined) {
        a = new AccountOrders(account, this.accountList.length);
        this.accountList.push(a);
        this.accountIndex.set(account, a.index);
      }
    }
    book.oAcct[slot] = a.index;
    const tail = a.tail;
    book.oAPrev[slot] = tail;
    book.oANext[slot] = NONE;
    if (tail === NONE) a.head = slot;
    else book.oANext[tail] = slot;
    a.tail = slot;
    a.count++;
    if (clientId !== 0n) {
      if (a.byClientId === null) a.byClientId = new Map();
      a.byClientId.set(clientId, slot);
    }
  }

  /** Takes a resting order out of the book and its account, publishes its OrderDone, frees the slot. */
  private removeResting(slot: number, reason: number): void {
    const book = this.book;
    const account = book.oAccount[slot];
    const clientId = book.oClientId[slot];
    const price = book.lPrice[book.oLevel[slot]];
    const orderId = book.oId[slot];
    const side = book.oSide[slot];
    const original = book.oOrig[slot];
    const filled = book.oFilled[slot];
    this.dropResting(slot, clientId);
    this.done(orderId, account, side, price, original, filled, clientId, reason);
  }

  private dropResting(slot: number, clientId: bigint): void {
    const book = this.book;
    book.unlink(slot);
    const a = this.accountList[book.oAcct[slot]]!;
    const prev = book.oAPrev[slot];
    const next = book.oANext[slot];
    if (prev === NONE) a.head = next;
    else book.oANext[prev] = next;
    if (next === NONE) a.tail = prev;
    else book.oAPrev[next] = prev;
    a.count--;
    if (clientId !== 0n) a.byClientId!.delete(clientId);
    book.releaseOrder(slot);
  }

  // ================================================================ Q3/Q4 legs without the book

  /**
   * Q3/Q4 (engine.ts "Q3/Q4 (as built)", decision RO): a backstop takeover's or a perpetual ADL's leg, decided in
   * phase 0 by the giving account's risk shard from the boundary state — which this replica still is, since seq-0
   * commands come before the batch's journaled ones. The leg moves `quantity` (> 0) from `account` to `account2` as a
   * fill at `price` would (`side` = what `account` does) and is echoed as a LiquidationTransfer event (market sequence
   * 0: not a book event) for both accounts' risk shards, which apply it in R2.
   */
  applyLiquidationTransfer(cmd: CommandRecord): void {
    if (!this.isPerp || cmd.quantity <= 0n) throw new Error(`market ${this.id}: a liquidation position leg needs a perpetual and a quantity > 0`);
    this.positions.applyFill(cmd.account, cmd.side, cmd.account2, cmd.quantity);
    const ctx = this.ctx;
    const ev = ctx.ev;
    ev.clear();
    ev.kind = EventKind.LiquidationTransfer;
    ev.seq = ctx.seq;
    ev.account = cmd.account;
    ev.makerAccount = cmd.account2;
    ev.market = this.id;
    ev.asset = cmd.asset;
    ev.side = cmd.side;
    ev.liquidationStep = cmd.liquidationStep;
    ev.quantity = cmd.quantity;
    ev.price = cmd.price;
    ev.legMarkPrice = cmd.legMarkPrice;
    ev.timeMs = ctx.timeMs;
    ctx.evFill = true; // the next emit clears the maker fields again
    ctx.sink.publish(ev);
  }

  // ================================================================ market data

  beginCommand(): void {
    this.tTraded = false;
    if (this.ctx.md !== null) this.book.beginCommand();
  }

  /** Publishes the command's depth delta, BBO change and ticker (O8). */
  finishCommand(): void {
    const md = this.ctx.md;
    if (md === null) return;
    const book = this.book;
    const time = this.ctx.timeMs;
    const n = book.dCount;
    const bidTick = book.ladders[Side.Buy].bestTick;
    const askTick = book.ladders[Side.Sell].bestTick;
    // The BBO can only have changed if a best tick moved or a changed level sits at a best tick.
    let touchChanged = bidTick !== this.bboBidTick || askTick !== this.bboAskTick;
    if (n > 0 && this.publishDepth(md, n, bidTick, askTick, time)) touchChanged = true;
    if (touchChanged) this.publishBbo(md, bidTick, askTick, time);
    if (this.tTraded) this.publishTicker();
  }

  /** The depth delta of the command's n dirty levels (those whose total changed); true if one sits at the touch. */
  private publishDepth(md: MarketDataSink, n: number, bidTick: number, askTick: number, time: number): boolean {
    const book = this.book;
    const dLvl = book.dLvl;
    const dKey = book.dKey;
    const order = book.dOrder;
    let atTouch = false;
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const lvl = dLvl[i];
      if (lvl === NONE ? book.dBefore[i] === 0n : book.lTotal[lvl] === book.dBefore[i]) continue;
      // Insertion into the publication order (the list is almost always one or two entries).
      const key = dKey[i];
      let j = changed;
      while (j > 0 && dKey[order[j - 1]] > key) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
      changed++;
      if (book.dTick[i] === (book.dSide[i] === Side.Buy ? bidTick : askTick)) atTouch = true;
    }
    book.dCount = 0;
    if (changed === 0) return false;
    const first = this.depthUpdateId + 1;
    this.depthUpdateId += changed;
    md.depthDelta(this.id, first, this.depthUpdateId, time);
    for (let k = 0; k < changed; k++) {
      const i = order[k];
      const lvl = dLvl[i];
      md.depthLevel(this.id, book.dSide[i], book.dPrice[i], lvl === NONE ? 0n : book.lTotal[lvl], first + k);
    }
    return atTouch;
  }

  /** Publishes the best bid/offer if its prices or quantities differ from the last published ones. */
  private publishBbo(md: MarketDataSink, bidTick: number, askTick: number, time: number): void {
    const book = this.book;
    this.bboBidTick = bidTick;
    this.bboAskTick = askTick;
    const bl = book.bestLevel(Side.Buy);
    const al = book.bestLevel(Side.Sell);
    const bp = bl === NONE ? 0n : book.lPrice[bl];
    const bq = bl === NONE ? 0n : book.lTotal[bl];
    const ap = al === NONE ? 0n : book.lPrice[al];
    const aq = al === NONE ? 0n : book.lTotal[al];
    if (bp !== this.bboBidPrice || bq !== this.bboBidQty || ap !== this.bboAskPrice || aq !== this.bboAskQty) {
      this.bboBidPrice = bp;
      this.bboBidQty = bq;
      this.bboAskPrice = ap;
      this.bboAskQty = aq;
      md.bbo(this.id, bp, bq, ap, aq, this.depthUpdateId, time);
    }
  }

  publishTicker(): void {
    const md = this.ctx.md;
    if (md === null) return;
    const t = this.ticker;
    md.ticker(this.id, t.open(), t.highPrice(), t.lowPrice(), t.lastPrice, t.volume, t.quoteVolume, t.tradeCount, this.ctx.timeMs);
  }

  /** Called when a market-data sink is attached: the BBO baseline is the current book. */
  resetMarketDataBaseline(): void {
    const book = this.book;
    const bl = book.bestLevel(Side.Buy);
    const al = book.bestLevel(Side.Sell);
    this.bboBidPrice = bl === NONE ? 0n : book.lPrice[bl];
    this.bboBidQty = bl === NONE ? 0n : book.lTotal[bl];
    this.bboAskPrice = al === NONE ? 0n : book.lPrice[al];
    this.bboAskQty = al === NONE ? 0n : book.lTotal[al];
    this.bboBidTick = book.ladders[Side.Buy].bestTick;
    this.bboAskTick = book.ladders[Side.Sell].bestTick;
    book.dCount = 0;
  }

  depthSnapshot(maxLevels: number): DepthSnapshot {
    const book = this.book;
    const sides: DepthLevel[][] = [[], []];
    for (let side = 0; side < 2; side++) {
      const ladder = book.ladders[side];
      for (let tick = ladder.bestTick, k = 0; tick !== NO_TICK && k < maxLevels; tick = ladder.nextWorse(tick), k++) {
        const lvl = ladder.get(tick);
        sides[side].push({ price: book.lPrice[lvl], quantity: book.lTotal[lvl], orderCount: book.lCount[lvl] });
      }
    }
    return { market: this.id, lastUpdateId: this.depthUpdateId, timeMs: this.ctx.timeMs, bids: sides[0], asks: sides[1] };
  }

  /** Every resting order: bids best→worst, then asks best→worst, FIFO within a level. */
  bookOrders(): RestingOrder[] {
    const book = this.book;
    const out: RestingOrder[] = [];
    for (let side = 0; side < 2; side++) {
      const ladder = book.ladders[side];
      for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
        const lvl = ladder.get(tick);
        for (let s = book.lHead[lvl]; s !== NONE; s = book.oNext[s]) {
          out.push({
            orderId: book.oId[s],
            account: book.oAccount[s],
            side,
            price: book.lPrice[lvl],
            openQuantity: book.oQty[s],
            filledQuantity: book.oFilled[s],
            originalQuantity: book.oOrig[s],
            clientId: book.oClientId[s],
            stp: book.oStp[s],
            postOnly: (book.oFlags[s] & RestFlag.PostOnly) !== 0,
            reduceOnly: (book.oFlags[s] & RestFlag.ReduceOnly) !== 0,
          });
        }
      }
    }
    return out;
  }

  // ================================================================ invariants and hashing

  validate(): void {
    if (this.isPerp && this.positions.netSum() !== 0n) throw new Error(`market ${this.id}: positions sum to ${this.positions.netSum()}, not 0`);
    const label = `market ${this.id}`;
    this.book.validate(label);
    const book = this.book;
    let total = 0;
    for (const a of this.accountList) {
      const account = a.account;
      if (this.accountIndex.get(account) !== a.index) throw new Error(`${label}: account ${account} index broken`);
      let count = 0;
      let prev = NONE;
      let withClientId = 0;
      for (let s = a.head; s !== NONE; s = book.oANext[s]) {
        if (book.oAPrev[s] !== prev) throw new Error(`${label}: account ${account} list prev link broken`);
        if (book.oAccount[s] !== account || book.oAcct[s] !== a.index) {
          throw new Error(`${label}: order ${book.oId[s]} in account ${account}'s list`);
        }
        if (book.ids.get(book.oId[s]) !== s) throw new Error(`${label}: account list holds a non-resting order`);
        const cid = book.oClientId[s];
        if (cid !== 0n) {
          withClientId++;
          if (a.byClientId === null || a.byClientId.get(cid) !== s) {
            throw new Error(`${label}: clientId ${cid} of order ${book.oId[s]} not indexed`);
          }
        }
        prev = s;
        if (++count > book.orderCount) throw new Error(`${label}: cycle in account ${account} list`);
      }
      if (a.tail !== prev) throw new Error(`${label}: account ${account} list tail mismatch`);
      if (a.count !== count) throw new Error(`${label}: account ${account} count ${a.count} != ${count}`);
      if (count > this.limits.maxOpenOrdersPerAccountMarket) throw new Error(`${label}: account ${account} over the open-order limit`);
      const indexed = a.byClientId === null ? 0 : a.byClientId.size;
      if (indexed !== withClientId) throw new Error(`${label}: account ${account} clientId index size ${indexed} != ${withClientId}`);
      total += count;
    }
    if (total !== book.orderCount) throw new Error(`${label}: account lists hold ${total} orders, book ${book.orderCount}`);
  }

  // ================================================================ snapshots (X7)

  /**
   * The market's whole state: counters, state, last trade, band inputs, the ticker window and every resting order,
   * bids then asks, levels best first, each level's FIFO in time order — so a restore re-rests them in exactly the
   * price-time priority they had. Derived structures (account lists, clientId index, caches) are rebuilt.
   */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.Market);
    w.uint(this.id);
    w.uint(this.state);
    w.uint(this.marketSeq);
    w.uint(this.tradeSeq);
    w.uint(this.depthUpdateId);
    w.big(this.lastPrice);
    w.uint(this.lastTick);
    w.bool(this.hasBandInputs);
    w.big(this.meanMark);
    w.big(this.meanPremium);
    w.big(this.indexPrice);
    this.ticker.writeSnapshot(w);
    if (this.isPerp) this.positions.writeSnapshot(w);
    const book = this.book;
    w.uint(book.orderCount);
    for (let side = 0; side < 2; side++) {
      const ladder = book.ladders[side];
      w.uint(ladder.count);
      for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
        const lvl = ladder.get(tick);
        w.uint(tick);
        w.big(book.lPrice[lvl]);
        w.uint(book.lCount[lvl]);
        for (let s = book.lHead[lvl]; s !== NONE; s = book.oNext[s]) {
          w.uint(book.oId[s]);
          w.uint(book.oAccount[s]);
          w.big(book.oClientId[s]);
          w.big(book.oQty[s]);
          w.big(book.oFilled[s]);
          w.big(book.oOrig[s]);
          w.u8(book.oStp[s]);
          w.u8(book.oFlags[s]);
        }
      }
    }
    w.endSection();
  }

  /** Restores a fresh market (no order yet) from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    if (this.book.orderCount !== 0) throw new Error(`market ${this.id}: restore needs a fresh market`);
    r.beginSection(SnapshotTag.Market, `market ${this.id}`);
    const id = r.uint();
    if (id !== this.id) r.fail(`market ${id} found where market ${this.id} was expected`);
    this.state = r.uint();
    this.marketSeq = r.uint();
    this.tradeSeq = r.uint();
    this.depthUpdateId = r.uint();
    this.lastPrice = r.big();
    this.lastTick = r.uint();
    const hasBandInputs = r.bool();
    const meanMark = r.big();
    const meanPremium = r.big();
    const indexPrice = r.big();
    if (hasBandInputs && this.setBandInputs(meanMark, meanPremium, indexPrice) !== RejectCode.None) r.fail(`market ${this.id}: band inputs out of range`);
    this.ticker.restoreSnapshot(r);
    if (this.isPerp) this.positions.restoreSnapshot(r, this.limits.maxPositionsPerMarket, `market ${this.id}`);
    // Restored levels are not depth changes: a market-data sink sees the book as its baseline instead.
    const orders = r.count(this.limits.maxOrdersPerBook, `market ${this.id} orders`);
    this.book.reserveOrders(orders);
    // The resting orders' accounts are at most as many: the account index grows once, not by doublings.
    this.accountIndex.reserve(orders);
    const tracking = this.book.trackDirty;
    this.book.trackDirty = false;
    for (let side = 0; side < 2; side++) this.restoreSide(r, side);
    this.book.trackDirty = tracking;
    if (this.book.orderCount !== orders) r.fail(`market ${this.id}: ${this.book.orderCount} resting orders, the snapshot says ${orders}`);
    r.endSection();
    this.resetMarketDataBaseline();
  }

  private restoreSide(r: SnapshotReader, side: number): void {
    const levels = r.count(this.limits.maxLevelsPerSide, `market ${this.id} levels`);
    for (let l = 0; l < levels; l++) {
      const tick = r.uint();
      if (tick > TICK_INDEX_MAX) r.fail(`market ${this.id}: tick ${tick} out of range`);
      const price = r.big();
      const orders = r.count(this.limits.maxOrdersPerBook, `market ${this.id} level orders`);
      if (orders === 0) r.fail(`market ${this.id}: empty level at tick ${tick}`);
      for (let i = 0; i < orders; i++) {
        const orderId = r.uint();
        const account = r.uint();
        const clientId = r.big();
        const open = r.big();
        const filled = r.big();
        const original = r.big();
        const stp = r.u8();
        const restFlags = r.u8();
        if (!this.book.hasOrderRoom()) r.fail(`market ${this.id}: more resting orders than the book holds`);
        if (this.book.ids.get(orderId) !== NONE) r.fail(`market ${this.id}: order ${orderId} rests twice`);
        const flags = ((restFlags & RestFlag.PostOnly) !== 0 ? OrderFlag.PostOnly : 0) | ((restFlags & RestFlag.ReduceOnly) !== 0 ? OrderFlag.ReduceOnly : 0);
        this.restNew(orderId, account, side, stp, flags, clientId, tick, price, original, filled, open, undefined);
      }
    }
  }

  hashInto(h: StateHasher): void {
    const book = this.book;
    h.num(this.id);
    h.num(this.state);
    h.num(this.marketSeq);
    h.num(this.tradeSeq);
    h.big(this.lastPrice);
    h.num(this.hasBandInputs ? 1 : 0);
    h.big(this.meanMark);
    h.big(this.meanPremium);
    h.big(this.indexPrice);
    for (let side = 0; side < 2; side++) {
      const ladder = book.ladders[side];
      h.num(ladder.count);
      for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
        const lvl = ladder.get(tick);
        h.num(book.lTick[lvl]);
        h.num(book.lCount[lvl]);
        h.big(book.lTotal[lvl]);
        for (let s = book.lHead[lvl]; s !== NONE; s = book.oNext[s]) {
          h.num(book.oId[s]);
          h.num(book.oAccount[s]);
          h.big(book.oClientId[s]);
          h.big(book.oQty[s]);
          h.big(book.oFilled[s]);
          h.big(book.oOrig[s]);
          h.num(book.oStp[s]);
          h.num(book.oFlags[s]);
        }
      }
    }
    this.ticker.hashInto(h);
    if (this.isPerp) this.positions.hashInto(h);
  }
}

// ================================================================ pure helpers

interface Fraction {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b;
  while (y !== 0n) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

/** num / den in lowest terms (den > 0). */
function reduced(num: bigint, den: bigint): Fraction {
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

function clampTick(t: bigint): number {
  if (t < 0n) return -1;
  if (t > TICK_INDEX_MAX_BIG) return TICK_INDEX_MAX + 1;
  return int31(t);
}

/** A bigint known to be in [0, 2^31) as a number: its low word, read through the scratch words (Number(bigint) is a
 * slow runtime call). */
function int31(t: bigint): number {
  LOW64[0] = t;
  return WORDS32[LOW_WORD];
}

/** A buy may reach ask levels with tick ≤ maxTick: minimum ask key −maxTick. */
function buyKey(maxTick: bigint): number {
  return -clampTick(maxTick);
}

/** A sell may reach bid levels with tick ≥ minTick: minimum bid key minTick. */
function sellKey(minTick: bigint): number {
  return clampTick(minTick);
}

/** Median of the present values among bid, ask, last (0n = absent); the floor mean when two are present. */
export function activePrice(bid: bigint, ask: bigint, last: bigint): bigint {
  const present = (bid > 0n ? 1 : 0) + (ask > 0n ? 1 : 0) + (last > 0n ? 1 : 0);
  if (present === 3) {
    const lo = bid < ask ? bid : ask;
    const hi = bid < ask ? ask : bid;
    return last < lo ? lo : last > hi ? hi : last;
  }
  if (present === 2) {
    if (bid === 0n) return (ask + last) / 2n;
    if (ask === 0n) return (bid + last) / 2n;
    return (bid + ask) / 2n;
  }
  if (present === 1) return bid > 0n ? bid : ask > 0n ? ask : last;
  return 0n;
}

