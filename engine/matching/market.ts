// One market's matching: new orders (through the O2 filters, filters.ts, and the O4 price band, bands.ts), price-time
// matching (O1) within the O5–O7 taker bounds (bands.ts), STP (O3), cancel and cancel-replace, market states, and the
// order book's resting orders per account. Its events are written by order-events.ts, its market data by
// market-data.ts (MarketDataPublisher), its snapshot, hash and invariant check by market-state.ts.
//
// Semantics that the public documentation in index.ts restates (keep both in step):
// - Events go out through ONE reused EventRecord (ShardContext.ev), each stamped with ++marketSeq.
// - A taker's events: OrderAccepted, then per maker [Fill, maker OrderDone if it left the book] or an STP cancel,
//   then the taker's OrderDone unless it rests.
// - Quantities: OrderDone.remainingQuantity = original − filled (0 for a market buy by quote only), filledQuantity = filled.

import {
  DoneReason,
  EventKind,
  LiquidationStep,
  MarketKind,
  MarketState,
  OrderFlag,
  OrderType,
  RejectCode,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type CommandRecord,
  type SnapshotReader,
  type SnapshotWriter,
  type ExchangeConfig,
  type MarketConfig,
} from "../model/index.ts";
import { Book, NONE, RestFlag } from "./book.ts";
import { INT32_MIN, PriceBands } from "./bands.ts";
import { OrderFilters } from "./filters.ts";
import { MarketEvents, ShardContext } from "./order-events.ts";
import type { StateHasher } from "./hash.ts";
import { AccountLists } from "./account-lists.ts";
import { NO_TICK } from "./ladder.ts";
import { PerpPositionReplica } from "./perp-positions.ts";
import type { MatchingLimits } from "./limits.ts";
import { hashMarket, marketBookOrders, marketDepthSnapshot, restoreMarketSnapshot, validateMarket, writeMarketSnapshot } from "./market-state.ts";
import { MarketDataPublisher, TickerWindow, type DepthSnapshot } from "./market-data.ts";

/** Sentinel open quantity of a market buy limited by quote only. */
const QUOTE_ONLY_QTY = 1n << 62n;

// Why the taker's matching loop stopped.
const STOP_FILLED = 0;
const STOP_LIMIT = 1;
const STOP_BAND = 2;
const STOP_STP = 3;
const STOP_BUDGET = 4;
/** P1: the next fill was cut (or would have been) by the market's openInterestLimit. */
const STOP_OPEN_INTEREST = 5;

/**
 * Resting orders of an account in one market up to which its clientIds are found by walking its order list rather
 * than a Map (clientIds are unique among an account's resting orders: placeHasRoom). Most accounts rest a few orders,
 * and a Map each was a quarter of a restored book's heap (X7 restart, engine.ts "X7 restart (as built)").
 */
export const CLIENT_ID_SCAN_MAX = 8;

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
  /** P1/O1: every account's position in this perpetual market, moved by each fill (reduceOnly caps read it).
   * @internal read by market-state.ts */
  readonly positions = new PerpPositionReplica();
  readonly book: Book;
  /** @internal read by market-state.ts */
  readonly ctx: ShardContext;
  /** @internal read by market-state.ts */
  readonly limits: MatchingLimits;

  state: number = MarketState.Open;
  /** Order events of this market, each stamped with the market's sequence number (marketSeq). */
  readonly events: MarketEvents;
  tradeSeq = 0;
  /** Last trade price and its tick (0 = no trade yet). */
  lastPrice = 0n;
  lastTick = 0;
  readonly ticker = new TickerWindow();
  /** Scratch for CancelAll: the account's order ids, sorted (grows to the largest account seen). */
  private cancelIds = new Float64Array(64);
  /** One account's resting orders in this book (account-lists.ts): count, intrusive list, clientId index. A list is
   * in no particular order (a cancel-replace re-keys an order in place); CancelAll sorts the ids it cancels.
   * @internal read by market-state.ts */
  readonly accounts = new AccountLists();

  /** O2: the order filters (tick, step, bounds, minimum notional) and the quote conversion. */
  private readonly filters: OrderFilters;
  // The filters' step and quote conversion, read by the matching loops.
  private readonly stepSize: bigint;
  /** Trade quote amount = floor(q × p × qMul / qDiv) (OrderFilters). */
  private readonly qMul: bigint;
  private readonly qDiv: bigint;
  /** P1: the perpetual market's openInterestLimit, base units (0: none) — enforced at each fill (openInterestCap). */
  private readonly openInterestLimit: bigint;
  /** O4–O7: the price band a new limit order rests within and the bounds a taker may reach. */
  readonly bands: PriceBands;

  // ---- the taker being matched ----
  private tRemaining = 0n;
  private tFilled = 0n;
  private tQuoteLeft = 0n;
  private tQuoteCapped = false;
  private tStopKey = 0;
  private tTraded = false;

  /** O8: the depth deltas, BBO and ticker this market publishes, and what it last published.
   * @internal read by market-state.ts */
  readonly publisher: MarketDataPublisher;

  constructor(config: ExchangeConfig, cfg: MarketConfig, ctx: ShardContext, limits: MatchingLimits) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.ctx = ctx;
    this.limits = limits;
    this.isPerp = cfg.kind === MarketKind.Perpetual;
    const filters = new OrderFilters(config, cfg);
    this.filters = filters;
    this.stepSize = filters.stepSize;
    this.qMul = filters.qMul;
    this.qDiv = filters.qDiv;
    this.openInterestLimit = this.isPerp ? cfg.openInterestLimit : 0n;
    this.bands = new PriceBands(cfg, this.isPerp);
    this.book = new Book(
      limits.initialOrderCapacity,
      limits.maxOrdersPerBook,
      limits.initialLevelCapacity,
      limits.maxLevelsPerSide,
      limits.ladderWindowBits,
    );
    this.publisher = new MarketDataPublisher(this.id, this.book, this.ticker);
    this.events = new MarketEvents(this.id, ctx);
  }

  /** The market's event sequence number: the last event's marketSeq (O8). */
  get marketSeq(): number {
    return this.events.marketSeq;
  }
  set marketSeq(seq: number) {
    this.events.marketSeq = seq;
  }

  /** Trade quote amount: floor(q × price × 10^quoteDecimals / (10^baseDecimals × 10^PRICE_DECIMALS)). */
  quoteAmount(q: bigint, price: bigint): bigint {
    return (q * price * this.qMul) / this.qDiv;
  }

  // ================================================================ commands

  handlePlace(cmd: CommandRecord): void {
    const filters = this.filters;
    if (!filters.fieldsAllowed(cmd, this.state)) return this.rejectFiltered(cmd.seq !== 0 ? cmd.seq : cmd.orderId, cmd.account, cmd.side, cmd.clientId);
    const isLimit = cmd.orderType === OrderType.Limit;
    const tick = filters.placeTick(cmd, isLimit);
    if (tick < 0) return this.rejectFiltered(placeIdOf(cmd), cmd.account, cmd.side, cmd.clientId);
    const side = cmd.side;
    const tif = cmd.tif;
    const account = cmd.account;
    const clientId = cmd.clientId;
    const orderId = placeIdOf(cmd);
    const acct = this.accounts.indexOf(account);
    if (!this.placeHasRoom(cmd, acct, isLimit && tif === TimeInForce.GTC, tick)) return;
    const openQty = this.placeOpenQty(cmd);
    if (openQty < 0n) return;

    // ---- O4 price band (not for the engine's own orders, seq 0: a Q2 step's limit is Q2's mark bound), postOnly ----
    const K = EventKind.OrderRejected;
    if (isLimit && cmd.seq !== 0 && this.bands.outsidePriceBand(this.book, this.lastTick, this.lastPrice, tick)) {
      return this.events.reject(K, RejectCode.PriceBand, "PriceBand: limit price outside the active-price band", orderId, account, side, clientId);
    }
    const limitKey = isLimit ? (side === Side.Buy ? -tick : tick) : INT32_MIN;
    if ((cmd.flags & OrderFlag.PostOnly) !== 0 && this.crosses(side, limitKey)) {
      return this.events.reject(K, RejectCode.PostOnlyWouldTake, "PostOnlyWouldTake: post-only order would take", orderId, account, side, clientId);
    }

    const price = isLimit ? cmd.price : 0n;
    const qty = cmd.quantity;
    const quoteQty = cmd.quoteQuantity;
    this.events.accepted(orderId, account, side, price, qty, openQty === QUOTE_ONLY_QTY ? 0n : openQty, quoteQty, clientId);
    this.execute(orderId, account, side, tif, cmd.stp, cmd.flags, clientId, isLimit, tick, price, qty, openQty, quoteQty, acct);
  }

  /** Publishes the reject of the filter check that failed last (OrderFilters.code / why). */
  private rejectFiltered(orderId: number, account: number, side: number, clientId: bigint): void {
    this.events.reject(EventKind.OrderRejected, this.filters.code, this.filters.why, orderId, account, side, clientId);
  }

  /**
   * The order's identity and the limits it would hold: its clientId is not in use by an open order, and an order that
   * may rest finds room (the account's open orders in this market, the book's orders and levels). False after the reject.
   */
  private placeHasRoom(cmd: CommandRecord, acct: number, mayRest: boolean, tick: number): boolean {
    const side = cmd.side;
    const clientId = cmd.clientId;
    let code: number = RejectCode.DuplicateClientId;
    let why = "";
    if (clientId !== 0n && acct >= 0 && this.slotOfClientId(acct, clientId) !== NONE) {
      why = "DuplicateClientId: clientId is in use by an open order";
    } else if (mayRest && acct >= 0 && this.accounts.countAt(acct) >= this.limits.maxOpenOrdersPerAccountMarket) {
      code = RejectCode.TooManyOpenOrders;
      why = "TooManyOpenOrders: open-order limit per account and market";
    } else if (mayRest && (!this.book.hasOrderRoom() || !this.book.canRestAt(side, tick))) {
      code = RejectCode.Overloaded;
      why = "Overloaded: book capacity (orders or price levels)";
    }
    if (why === "") return true;
    this.events.reject(EventKind.OrderRejected, code, why, placeIdOf(cmd), cmd.account, side, clientId);
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
      return this.events.reject(EventKind.OrderRejected, RejectCode.UnknownOrder, "UnknownOrder: no such open order", cmd.seq, cmd.account, cmd.side, cmd.clientId);
    }
    this.removeResting(slot, DoneReason.Canceled);
  }

  /** Cancels every open order of `account` in this market (ascending order id) for `reason`; returns how many. */
  cancelAllOf(account: number, reason: DoneReason = DoneReason.CanceledByAll): number {
    const acct = this.accounts.indexOf(account);
    if (acct < 0 || this.accounts.countAt(acct) === 0) return 0;
    const book = this.book;
    const n = this.accounts.countAt(acct);
    if (this.cancelIds.length < n) this.cancelIds = new Float64Array(Math.max(n, this.cancelIds.length * 2));
    const ids = this.cancelIds;
    let k = 0;
    for (let slot = this.accounts.headAt(acct); slot !== NONE; slot = book.oANext[slot]) ids[k++] = book.oId[slot];
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
      return this.events.reject(K, RejectCode.MarketStateForbids, "MarketStateForbids: market takes no new orders", orderId, account, cmd.side, cmd.clientId);
    }
    const slot = this.findTarget(cmd);
    if (slot === NONE) {
      return this.events.reject(K, RejectCode.UnknownOrder, "UnknownOrder: no such open order", orderId, account, cmd.side, cmd.clientId);
    }
    const book = this.book;
    if ((cmd.flags & OrderFlag.TargetResolved) !== 0 && book.oId[slot] !== cmd.orderId) {
      // Risk funded the replacement of the order it knew by this clientId (pre-trade.ts replaceOrder): another one
      // rests under it now (the key changed hands earlier in the batch).
      return this.events.reject(K, RejectCode.UnknownOrder, "UnknownOrder: the order with this clientId changed within the batch", orderId, account, cmd.side, cmd.clientId);
    }
    const side = book.oSide[slot];
    const clientId = book.oClientId[slot];
    const price = cmd.price;
    const tick = this.filters.priceTick(price);
    if (tick < 0) return this.rejectFiltered(orderId, account, side, clientId);
    const qty = cmd.quantity;
    if (qty <= 0n) {
      return this.events.reject(K, RejectCode.InvalidQuantity, "InvalidQuantity: quantity must be > 0", orderId, account, side, clientId);
    }
    if (!this.filters.quantityOk(qty)) return this.rejectFiltered(orderId, account, side, clientId);
    if (this.filters.belowMinNotional(qty)) {
      return this.events.reject(K, RejectCode.MinNotional, "MinNotional: quantity × price below the minimum notional", orderId, account, side, clientId);
    }
    const flags = book.oFlags[slot];
    let openQty = qty;
    if ((flags & RestFlag.ReduceOnly) !== 0) {
      const cap = this.reduceOnlyCap(side, orderId, account, clientId);
      if (cap < 0n) return;
      if (cap < openQty) openQty = cap;
    }
    if (this.bands.outsidePriceBand(this.book, this.lastTick, this.lastPrice, tick)) {
      return this.events.reject(K, RejectCode.PriceBand, "PriceBand: limit price outside the active-price band", orderId, account, side, clientId);
    }
    const limitKey = side === Side.Buy ? -tick : tick;
    if (((flags & RestFlag.PostOnly) !== 0 || st === MarketState.PostOnly) && this.crosses(side, limitKey)) {
      return this.events.reject(K, RejectCode.PostOnlyWouldTake, "PostOnlyWouldTake: post-only order would take", orderId, account, side, clientId);
    }
    const oldLevel = book.oLevel[slot];
    const keepPriority = book.lTick[oldLevel] === tick && openQty <= book.oQty[slot];
    if (!keepPriority && !book.canRestAt(side, tick)) {
      return this.events.reject(K, RejectCode.Overloaded, "Overloaded: book capacity (price levels)", orderId, account, side, clientId);
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
    this.events.done(oldId, account, side, book.lPrice[oldLevel], book.oOrig[slot], book.oFilled[slot], clientId, DoneReason.Replaced);
    if (keepPriority) {
      book.rekey(slot, orderId);
      book.setOpenQty(slot, openQty);
      book.oOrig[slot] = qty;
      book.oFilled[slot] = 0n;
      this.events.accepted(orderId, account, side, price, qty, openQty, 0n, clientId);
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
      this.events.accepted(orderId, account, side, price, qty, openQty, 0n, clientId);
      return;
    }
    const stp = book.oStp[slot];
    const cmdFlags = ((flags & RestFlag.PostOnly) !== 0 ? OrderFlag.PostOnly : 0) | ((flags & RestFlag.ReduceOnly) !== 0 ? OrderFlag.ReduceOnly : 0);
    const acct = book.oAcct[slot];
    this.dropResting(slot, clientId);
    this.events.accepted(orderId, account, side, price, qty, openQty, 0n, clientId);
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
    return this.bands.setInputs(meanMark, meanPremium, indexPrice);
  }

  /** O6/O7 band inputs (PriceBands). */
  get hasBandInputs(): boolean {
    return this.bands.hasInputs;
  }
  get meanMark(): bigint {
    return this.bands.meanMark;
  }
  get meanPremium(): bigint {
    return this.bands.meanPremium;
  }
  get indexPrice(): bigint {
    return this.bands.indexPrice;
  }

  // ================================================================ validation helpers

  /**
   * Largest base quantity a reduceOnly order may fill (the part of the account's position it reduces, at this moment,
   * rounded down to the step), or −1 after a reject.
   */
  private reduceOnlyCap(side: number, orderId: number, account: number, clientId: bigint): bigint {
    const K = EventKind.OrderRejected;
    if (!this.isPerp) {
      this.events.reject(K, RejectCode.InvalidField, "InvalidField: reduceOnly is for perpetual markets", orderId, account, side, clientId);
      return -1n;
    }
    const cap = this.positions.reducible(account, side, this.stepSize);
    if (cap <= 0n) {
      this.events.reject(K, RejectCode.ReduceOnlyNotReducing, "ReduceOnlyNotReducing: the order would not reduce the position", orderId, account, side, clientId);
      return -1n;
    }
    return cap;
  }

  /** The best price of one side of the book (Side.Buy: best bid, Side.Sell: best ask), 0 when that side is empty. */
  bestPrice(side: number): bigint {
    const level = this.book.bestLevel(side);
    return level === NONE ? 0n : this.book.lPrice[level]!;
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

  /** @internal The slot of list `a`'s (AccountLists) resting order with `clientId` (≠ 0n) in this market, or NONE. */
  slotOfClientId(a: number, clientId: bigint): number {
    if (this.accounts.clientIdsIndexed(a)) return this.accounts.clientIdSlot(a, clientId);
    const ids = this.book.oClientId;
    const next = this.book.oANext;
    for (let s = this.accounts.headAt(a); s !== NONE; s = next[s]) if (ids[s] === clientId) return s;
    return NONE;
  }

  /** List `a`'s clientId index, from its order list (it passed CLIENT_ID_SCAN_MAX resting orders). */
  private indexClientIds(a: number): void {
    const lists = this.accounts;
    const ids = this.book.oClientId;
    lists.markClientIdsIndexed(a);
    for (let s = lists.headAt(a); s !== NONE; s = this.book.oANext[s]) if (ids[s] !== 0n) lists.indexClientId(a, ids[s], s);
  }

  /** The resting order a cancel/replace addresses (by order id or, with ByClientId, by clientId), if it is the account's. */
  private findTarget(cmd: CommandRecord): number {
    if ((cmd.flags & OrderFlag.ByClientId) !== 0) {
      if (cmd.clientId === 0n) return NONE;
      const acct = this.accounts.indexOf(cmd.account);
      return acct < 0 ? NONE : this.slotOfClientId(acct, cmd.clientId);
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
    acct: number,
  ): void {
    const limitKey = isLimit ? (side === Side.Buy ? -tick : tick) : INT32_MIN;
    this.tRemaining = openQty;
    this.tFilled = 0n;
    this.tQuoteCapped = quoteQty > 0n;
    this.tQuoteLeft = quoteQty;
    let stop = STOP_LIMIT;
    if (this.crosses(side, limitKey)) {
      const bandKey = this.bands.takerKey(this.book, side);
      if (tif === TimeInForce.FOK && !this.fokFillable(side, account, stp, limitKey, bandKey, openQty, quoteQty)) {
        this.events.done(orderId, account, side, price, qty, 0n, clientId, DoneReason.FokUnfilled);
        return;
      }
      stop = this.match(side, account, orderId, clientId, stp, limitKey, bandKey);
    } else if (tif === TimeInForce.FOK) {
      this.events.done(orderId, account, side, price, qty, 0n, clientId, DoneReason.FokUnfilled);
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
        reason = this.bands.stopReason(this.tStopKey);
        break;
      case STOP_BUDGET:
        reason = qty === 0n && filled > 0n ? DoneReason.Filled : DoneReason.Expired;
        break;
      case STOP_OPEN_INTEREST:
        reason = DoneReason.OpenInterestLimit;
        break;
      default:
        if (isLimit && tif === TimeInForce.GTC) {
          this.restNew(orderId, account, side, stp, flags, clientId, tick, price, qty, filled, this.tRemaining, acct);
          return;
        }
        reason = DoneReason.Expired;
    }
    this.events.done(orderId, account, side, price, qty, filled, clientId, reason);
  }

  /** The price-time matching loop. Mutates tRemaining/tFilled/tQuoteLeft; returns why it stopped. */
  private match(side: number, account: number, orderId: number, clientId: bigint, stp: number, limitKey: number, bandKey: number): number {
    const book = this.book;
    const o = side ^ 1;
    const ladder = book.ladders[o];
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
          q = this.affordable(q, price);
          if (q === 0n) return STOP_BUDGET;
        }
        // P1 at fill time: a fill that would raise open interest above the limit is cut to the room, and the taker ends
        // there (its rest would cross this maker); the maker stays for takers that reduce.
        const cap = this.openInterestLimit > 0n ? this.positions.openInterestCap(account, side, book.oAccount[slot], q, this.openInterestLimit, this.stepSize) : q;
        if (cap === 0n) return STOP_OPEN_INTEREST;
        const interestCut = cap < q;
        q = cap;
        const quote = (q * price * this.qMul) / this.qDiv;
        book.fill(slot, q);
        if (this.isPerp) this.positions.applyFill(account, side, book.oAccount[slot], q);
        this.tRemaining = remaining - q;
        this.tFilled += q;
        if (this.tQuoteCapped) this.tQuoteLeft -= quote;
        this.recordTrade(account, side, orderId, clientId, lvl, slot, price, q, quote);
        if (this.tRemaining === 0n || interestCut) {
          if (book.oQty[slot] === 0n) this.makerFilled(slot);
          return interestCut ? STOP_OPEN_INTEREST : STOP_FILLED;
        }
        // A fill cut by the quote budget or a reduceOnly cap leaves the maker in place: try it again (the budget left,
        // or the cap again, which removes it when nothing is left to reduce).
        if (book.oQty[slot] !== 0n) continue;
        this.makerFilled(slot);
        slot = next;
      }
    }
  }

  /** A fill of `q` at `price` (level `lvl`) between the taker and the maker in `slot`: trade number, last price, ticker,
   * the Fill event and the public trade. */
  private recordTrade(account: number, side: number, orderId: number, clientId: bigint, lvl: number, slot: number, price: bigint, q: bigint, quote: bigint): void {
    const book = this.book;
    const tradeId = ++this.tradeSeq;
    this.lastPrice = price;
    this.lastTick = book.lTick[lvl];
    this.ticker.onTrade(price, q, quote);
    this.tTraded = true;
    this.events.fill(account, side, orderId, clientId, price, q, quote, book.oAccount[slot], book.oId[slot], book.oClientId[slot], tradeId);
    const md = this.ctx.md;
    if (md !== null) md.trade(this.id, tradeId, price, q, quote, side ^ 1, this.ctx.timeMs);
  }

  /** The taker's quote budget's cut of a fill of `q` at `price`: the most steps, at most q, its budget left pays. */
  private affordable(q: bigint, price: bigint): bigint {
    let afford = ((this.tQuoteLeft + 1n) * this.qDiv - 1n) / (price * this.qMul);
    afford -= afford % this.stepSize;
    return afford < q ? afford : q;
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
        const reduceOnly = (book.oFlags[slot] & RestFlag.ReduceOnly) !== 0;
        if (reduceOnly) open = this.positions.fokReducible(book.oAccount[slot], o, this.stepSize, open);
        while (open > 0n) {
          let q = open < remaining ? open : remaining;
          if (capped) {
            let afford = ((quoteLeft + 1n) * this.qDiv - 1n) / (price * this.qMul);
            afford -= afford % this.stepSize;
            if (afford < q) q = afford;
            if (q === 0n) return false;
            quoteLeft -= (q * price * this.qMul) / this.qDiv;
          }
          if (this.openInterestLimit > 0n && this.positions.fokOpenInterestCap(account, side, book.oAccount[slot], q, this.openInterestLimit, this.stepSize) < q) return false;
          if (!reduceOnly) this.positions.fokMakerFilled(book.oAccount[slot], q);
          open -= q;
          remaining -= q;
          if (remaining === 0n) return true;
        }
      }
    }
    return false;
  }

  /**
   * @internal market-state.ts restores resting orders through it. `acct`: the account's list index (AccountLists)
   * when the caller has it, else NONE (found or made here).
   */
  restNew(
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
    acct: number,
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
    const lists = this.accounts;
    const a = acct >= 0 ? acct : lists.indexOrAdd(account);
    book.oAcct[slot] = a;
    const tail = lists.tailAt(a);
    book.oAPrev[slot] = tail;
    book.oANext[slot] = NONE;
    if (tail === NONE) lists.setHead(a, slot);
    else book.oANext[tail] = slot;
    lists.setTail(a, slot);
    const count = lists.addCount(a, 1);
    if (lists.clientIdsIndexed(a)) {
      if (clientId !== 0n) lists.indexClientId(a, clientId, slot);
    } else if (count > CLIENT_ID_SCAN_MAX) {
      this.indexClientIds(a);
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
    this.events.done(orderId, account, side, price, original, filled, clientId, reason);
  }

  private dropResting(slot: number, clientId: bigint): void {
    const book = this.book;
    book.unlink(slot);
    const lists = this.accounts;
    const a = book.oAcct[slot];
    const prev = book.oAPrev[slot];
    const next = book.oANext[slot];
    if (prev === NONE) lists.setHead(a, next);
    else book.oANext[prev] = next;
    if (next === NONE) lists.setTail(a, prev);
    else book.oAPrev[next] = prev;
    lists.addCount(a, -1);
    if (clientId !== 0n && lists.clientIdsIndexed(a)) lists.unindexClientId(a, clientId);
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
    const quantity = cmd.liquidationStep === LiquidationStep.OnAdl ? this.adlLegQuantity(cmd) : cmd.quantity;
    if (quantity === 0n) return;
    this.positions.applyFill(cmd.account, cmd.side, cmd.account2, quantity);
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
    ev.quantity = quantity;
    ev.price = cmd.price;
    ev.legMarkPrice = cmd.legMarkPrice;
    ev.timeMs = ctx.timeMs;
    ctx.evFill = true; // the next emit clears the maker fields again
    ctx.sink.publish(ev);
  }

  /**
   * Q4: what of an ADL leg may move now — no more than reduces each side's position as it stands at this command. The
   * leg was sized in phase 0 from the boundary positions, but seq-0 commands queued before it in this batch (another
   * account's book step filling the counterparty's resting order, a backstop takeover giving the backstop a position)
   * may have shrunk or flipped the counterparty's: the leg then moves only what still reduces it (0: nothing, no event),
   * never opening a position on the other side; the bankrupt account's remainder is deleveraged in a later batch.
   */
  private adlLegQuantity(cmd: CommandRecord): bigint {
    const giver = this.positions.positionOf(cmd.account);
    const taker = this.positions.positionOf(cmd.account2);
    // cmd.side is what the bankrupt account does: a sell reduces its long and buys back the counterparty's short.
    const giverRoom = cmd.side === Side.Sell ? giver : -giver;
    const takerRoom = cmd.side === Side.Sell ? -taker : taker;
    let q = cmd.quantity;
    if (giverRoom < q) q = giverRoom;
    if (takerRoom < q) q = takerRoom;
    return q > 0n ? q : 0n;
  }

  // ================================================================ market data

  beginCommand(): void {
    this.tTraded = false;
    if (this.ctx.md !== null) this.book.beginCommand();
  }

  /** Publishes the command's depth delta, BBO change and ticker (O8). */
  finishCommand(): void {
    const md = this.ctx.md;
    if (md !== null) this.publisher.finishCommand(md, this.ctx.timeMs, this.tTraded);
  }

  publishTicker(): void {
    const md = this.ctx.md;
    if (md !== null) this.publisher.publishTicker(md, this.ctx.timeMs);
  }

  /** Called when a market-data sink is attached: the BBO baseline is the current book. */
  resetMarketDataBaseline(): void {
    this.publisher.resetBaseline();
  }

  /** L2 depth, best levels first (market-state.ts). */
  depthSnapshot(maxLevels: number): DepthSnapshot {
    return marketDepthSnapshot(this, maxLevels);
  }

  /** Every resting order: bids best→worst, then asks best→worst, FIFO within a level (market-state.ts). */
  bookOrders(): RestingOrder[] {
    return marketBookOrders(this);
  }

  /** Throws if the book, the account lists or the position replica disagree (market-state.ts). */
  validate(): void {
    validateMarket(this);
  }

  /** X7: the market's whole state (market-state.ts). */
  writeSnapshot(w: SnapshotWriter): void {
    writeMarketSnapshot(this, w);
  }

  /** Restores a fresh market (no order yet) from writeSnapshot's bytes (market-state.ts). */
  restoreSnapshot(r: SnapshotReader): void {
    restoreMarketSnapshot(this, r);
  }

  hashInto(h: StateHasher): void {
    hashMarket(this, h);
  }
}

export { activePrice } from "./bands.ts";
export { ShardContext } from "./order-events.ts";
