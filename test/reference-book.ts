// Naive reference matching engine for differential tests: plain arrays of plain objects, re-sorted whenever needed,
// written from the semantics documented in engine/matching/index.ts without sharing any of its code.
//
// Deliberately simple rather than fast: the resting orders of a market are one array; "the book" is that array
// filtered by side and sorted by (price, arrival). FOK is decided by running the taker on a deep copy of the market.
// Bands and filters are evaluated by cross-multiplying exact rationals instead of precomputing tick bounds.

import {
  ALL_MARKETS,
  CommandKind,
  DoneReason,
  EventKind,
  EventRecord,
  MarketKind,
  MarketState,
  OrderFlag,
  OrderType,
  RATIO_SCALE,
  RejectCode,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type CommandRecord,
  type EventSink,
  type ExchangeConfig,
  type MarketConfig,
} from "../engine/model/index.ts";
import type { DepthLevel, DepthSnapshot, MarketDataSink, MatchingLimits, RestingOrder, Ticker24h } from "../engine/matching/index.ts";
import { DEFAULT_MATCHING_LIMITS } from "../engine/matching/index.ts";

interface RefOrder {
  id: number;
  account: number;
  side: number;
  price: bigint;
  open: bigint;
  filled: bigint;
  orig: bigint;
  clientId: bigint;
  stp: number;
  postOnly: boolean;
  reduceOnly: boolean;
  arrival: number;
}

interface RefTrade {
  minute: number;
  price: bigint;
  qty: bigint;
  quote: bigint;
}

interface Taker {
  id: number;
  account: number;
  side: number;
  isLimit: boolean;
  price: bigint;
  tif: number;
  stp: number;
  postOnly: boolean;
  reduceOnly: boolean;
  clientId: bigint;
  qty: bigint;
  /** null = by quote only. */
  maxBase: bigint | null;
  quote: bigint;
}

const S = RATIO_SCALE;

class RefMarket {
  orders: RefOrder[] = [];
  state: number = MarketState.Open;
  marketSeq = 0;
  tradeSeq = 0;
  depthUpdateId = 0;
  lastPrice = 0n;
  arrivals = 0;
  bandInputs: { meanMark: bigint; premium: bigint; index: bigint } | null = null;
  trades: RefTrade[] = [];
  traded = false;
  bbo = { bp: 0n, bq: 0n, ap: 0n, aq: 0n };
  muted = false;
  /** Perpetuals: each account's net position, moved by every fill (what reduceOnly caps read). */
  positions = new Map<number, bigint>();

  constructor(
    readonly cfg: MarketConfig,
    readonly baseDecimals: number,
    readonly quoteDecimals: number,
  ) {}

  clone(): RefMarket {
    const m = new RefMarket(this.cfg, this.baseDecimals, this.quoteDecimals);
    m.orders = this.orders.map((o) => ({ ...o }));
    m.state = this.state;
    m.marketSeq = this.marketSeq;
    m.tradeSeq = this.tradeSeq;
    m.lastPrice = this.lastPrice;
    m.arrivals = this.arrivals;
    m.bandInputs = this.bandInputs;
    m.trades = [...this.trades];
    m.positions = new Map(this.positions);
    m.muted = true;
    return m;
  }

  side(side: number): RefOrder[] {
    return this.orders
      .filter((o) => o.side === side)
      .sort((a, b) => {
        if (a.price !== b.price) return side === Side.Buy ? (a.price > b.price ? -1 : 1) : a.price < b.price ? -1 : 1;
        return a.arrival - b.arrival;
      });
  }

  quoteOf(q: bigint, price: bigint): bigint {
    return (q * price * 10n ** BigInt(this.quoteDecimals)) / (10n ** BigInt(this.baseDecimals) * 10n ** 9n);
  }

  depth(side: number): { price: bigint; qty: bigint; count: number }[] {
    const out: { price: bigint; qty: bigint; count: number }[] = [];
    for (const o of this.side(side)) {
      const last = out[out.length - 1];
      if (last !== undefined && last.price === o.price) {
        last.qty += o.open;
        last.count++;
      } else out.push({ price: o.price, qty: o.open, count: 1 });
    }
    return out;
  }

  windowTrades(nowMinute: number): RefTrade[] {
    return this.trades.filter((t) => t.minute > nowMinute - 1440);
  }
}

export class ReferenceShard {
  private readonly markets = new Map<number, RefMarket>();
  private readonly ids: number[];
  private md: MarketDataSink | null = null;
  private sink: EventSink = { publish() {} };
  private readonly ev = new EventRecord();
  private time = 0;
  private seq = 0;
  readonly limits: MatchingLimits;

  constructor(
    readonly config: ExchangeConfig,
    marketIds: readonly number[],
    options?: { limits?: Partial<MatchingLimits> },
  ) {
    this.limits = { ...DEFAULT_MATCHING_LIMITS, ...options?.limits };
    this.ids = [...new Set(marketIds)].sort((a, b) => a - b);
    for (const id of this.ids) {
      const cfg = config.markets[id]!;
      this.markets.set(id, new RefMarket(cfg, config.assets[cfg.baseAsset]!.decimals, config.assets[cfg.quoteAsset]!.decimals));
    }
  }

  setMarketDataSink(sink: MarketDataSink | null): void {
    this.md = sink;
    for (const m of this.markets.values()) {
      const b = m.depth(0)[0];
      const a = m.depth(1)[0];
      m.bbo = { bp: b?.price ?? 0n, bq: b?.qty ?? 0n, ap: a?.price ?? 0n, aq: a?.qty ?? 0n };
    }
  }

  setTime(ms: number): void {
    if (ms <= this.time) return;
    const oldMinute = Math.floor(this.time / 60000);
    this.time = ms;
    const minute = Math.floor(ms / 60000);
    for (const id of this.ids) {
      const m = this.markets.get(id)!;
      if (m.windowTrades(minute).length < m.windowTrades(oldMinute).length) this.emitTicker(m);
    }
  }

  validateInternalState(): void {}

  // ------------------------------------------------------------------ queries

  bookOrders(market: number): RestingOrder[] {
    const m = this.markets.get(market)!;
    return [...m.side(0), ...m.side(1)].map((o) => ({
      orderId: o.id,
      account: o.account,
      side: o.side,
      price: o.price,
      openQuantity: o.open,
      filledQuantity: o.filled,
      originalQuantity: o.orig,
      clientId: o.clientId,
      stp: o.stp,
      postOnly: o.postOnly,
      reduceOnly: o.reduceOnly,
    }));
  }

  depthSnapshot(market: number, maxLevels: number): DepthSnapshot {
    const m = this.markets.get(market)!;
    const lv = (side: number): DepthLevel[] =>
      m.depth(side).slice(0, maxLevels).map((l) => ({ price: l.price, quantity: l.qty, orderCount: l.count }));
    return { market, lastUpdateId: m.depthUpdateId, timeMs: this.time, bids: lv(0), asks: lv(1) };
  }

  ticker(market: number): Ticker24h {
    const m = this.markets.get(market)!;
    const w = m.windowTrades(Math.floor(this.time / 60000));
    if (w.length === 0) {
      return { open: m.lastPrice, high: m.lastPrice, low: m.lastPrice, close: m.lastPrice, volume: 0n, quoteVolume: 0n, tradeCount: 0 };
    }
    let high = w[0]!.price;
    let low = w[0]!.price;
    let volume = 0n;
    let quoteVolume = 0n;
    for (const t of w) {
      if (t.price > high) high = t.price;
      if (t.price < low) low = t.price;
      volume += t.qty;
      quoteVolume += t.quote;
    }
    return { open: w[0]!.price, high, low, close: m.lastPrice, volume, quoteVolume, tradeCount: w.length };
  }

  // ------------------------------------------------------------------ commands

  handle(cmd: CommandRecord, sink: EventSink): void {
    this.sink = sink;
    this.seq = cmd.seq;
    const m = this.markets.get(cmd.market);
    switch (cmd.kind) {
      case CommandKind.PlaceOrder:
        if (m === undefined) return this.unknownMarket(cmd, EventKind.OrderRejected);
        return this.withMarketData(m, () => this.place(m, cmd));
      case CommandKind.CancelOrder:
        if (m === undefined) return this.unknownMarket(cmd, EventKind.OrderRejected);
        return this.withMarketData(m, () => this.cancel(m, cmd));
      case CommandKind.ReplaceOrder:
        if (m === undefined) return this.unknownMarket(cmd, EventKind.OrderRejected);
        return this.withMarketData(m, () => this.replace(m, cmd));
      case CommandKind.CancelAll: {
        if (cmd.market === ALL_MARKETS) {
          let n = 0;
          for (const id of this.ids) {
            const mm = this.markets.get(id)!;
            this.withMarketData(mm, () => {
              n += this.cancelAll(mm, cmd.account);
            });
          }
          this.canceledAll(cmd, n);
          return;
        }
        if (m === undefined) return this.unknownMarket(cmd, EventKind.CommandRejected);
        return this.withMarketData(m, () => {
          const n = this.cancelAll(m, cmd.account);
          this.emit(m, { kind: EventKind.CommandAccepted, account: cmd.account, acceptedKind: CommandKind.CancelAll, canceledOrders: BigInt(n) });
        });
      }
      case CommandKind.SetMarketState: {
        if (m === undefined) return this.unknownMarket(cmd, EventKind.CommandRejected);
        if (![0, 1, 2, 3, 4].includes(cmd.marketState)) {
          this.emit(m, { kind: EventKind.CommandRejected, code: RejectCode.InvalidField, message: "InvalidField: market state", account: cmd.account });
          return;
        }
        return this.withMarketData(m, () => {
          m.state = cmd.marketState;
          if (cmd.marketState === MarketState.Closed) {
            for (const o of [...m.side(0), ...m.side(1)]) this.finish(m, o, DoneReason.CanceledByAll);
          }
          this.emit(m, { kind: EventKind.CommandAccepted, account: cmd.account, acceptedKind: CommandKind.SetMarketState, marketState: cmd.marketState });
        });
      }
      case CommandKind.MarketBandInputs: {
        if (m === undefined) return this.unknownMarket(cmd, EventKind.CommandRejected);
        let code: number = RejectCode.None;
        if (cmd.price <= 0n || cmd.indexPrice < 0n) code = RejectCode.InvalidPrice;
        else if (S + cmd.meanPremium <= 0n) code = RejectCode.InvalidField;
        if (code !== RejectCode.None) {
          this.emit(m, {
            kind: EventKind.CommandRejected,
            code,
            message: "MarketBandInputs: mean mark and index must be > 0, premium > −100%",
            account: cmd.account,
          });
          return;
        }
        m.bandInputs = { meanMark: cmd.price, premium: cmd.meanPremium, index: cmd.indexPrice };
        return;
      }
      case CommandKind.AdvanceTime:
        this.setTime(cmd.timeMs);
        return;
      default:
        this.plain(cmd, EventKind.CommandRejected, RejectCode.UnknownCommand, "UnknownCommand: not a matching command", 0n);
    }
  }

  // ------------------------------------------------------------------ events

  private emit(m: RefMarket, fields: Partial<EventRecord>): void {
    if (m.muted) return;
    const ev = this.ev;
    ev.clear();
    Object.assign(ev, fields);
    ev.seq = this.seq;
    ev.marketSeq = ++m.marketSeq;
    ev.market = m.cfg.id;
    ev.timeMs = this.time;
    this.sink.publish(ev);
  }

  private canceledAll(cmd: CommandRecord, n: number): void {
    const ev = this.ev;
    ev.clear();
    ev.kind = EventKind.CommandAccepted;
    ev.seq = cmd.seq;
    ev.market = cmd.market;
    ev.account = cmd.account;
    ev.acceptedKind = CommandKind.CancelAll;
    ev.canceledOrders = BigInt(n);
    ev.timeMs = this.time;
    this.sink.publish(ev);
  }

  private plain(cmd: CommandRecord, kind: EventKind, code: number, message: string, amount: bigint): void {
    const ev = this.ev;
    ev.clear();
    ev.kind = kind;
    ev.seq = cmd.seq;
    ev.market = cmd.market;
    ev.account = cmd.account;
    ev.code = code;
    ev.message = message;
    ev.commandAmount = amount;
    ev.timeMs = this.time;
    this.sink.publish(ev);
  }

  private unknownMarket(cmd: CommandRecord, kind: EventKind): void {
    const ev = this.ev;
    ev.clear();
    ev.kind = kind;
    ev.seq = cmd.seq;
    ev.market = cmd.market;
    ev.account = cmd.account;
    ev.side = cmd.side;
    ev.orderId = kind === EventKind.OrderRejected ? cmd.seq : 0;
    ev.clientId = cmd.clientId;
    ev.code = RejectCode.UnknownMarket;
    ev.message = "UnknownMarket: market is not served by this shard";
    ev.timeMs = this.time;
    this.sink.publish(ev);
  }

  private rejectOrder(m: RefMarket, cmd: CommandRecord, side: number, clientId: bigint, code: number, message: string): void {
    this.emit(m, { kind: EventKind.OrderRejected, code, message, orderId: cmd.seq, account: cmd.account, side, clientId });
  }

  private done(m: RefMarket, o: { id: number; account: number; side: number; price: bigint; orig: bigint; filled: bigint; clientId: bigint }, reason: number): void {
    this.emit(m, {
      kind: EventKind.OrderDone,
      orderId: o.id,
      account: o.account,
      side: o.side,
      price: o.price,
      quantity: o.orig,
      remainingQuantity: o.orig > o.filled ? o.orig - o.filled : 0n,
      filledQuantity: o.filled,
      clientId: o.clientId,
      code: reason,
    });
  }

  /** Removes a resting order and publishes its OrderDone. */
  private finish(m: RefMarket, o: RefOrder, reason: number): void {
    m.orders = m.orders.filter((x) => x !== o);
    this.done(m, o, reason);
  }

  /** Runs a command and then publishes its depth diff, BBO and ticker like the engine does. */
  private withMarketData(m: RefMarket, body: () => void): void {
    const before = [m.depth(0), m.depth(1)];
    m.traded = false;
    body();
    if (this.md === null) return;
    const md = this.md;
    const changes: { side: number; price: bigint; qty: bigint }[] = [];
    for (const side of [0, 1]) {
      const after = m.depth(side);
      const prices = new Set([...before[side]!.map((l) => l.price), ...after.map((l) => l.price)]);
      const sorted = [...prices].sort((a, b) => (side === 0 ? (a > b ? -1 : a < b ? 1 : 0) : a < b ? -1 : a > b ? 1 : 0));
      for (const p of sorted) {
        const was = before[side]!.find((l) => l.price === p)?.qty ?? 0n;
        const now = after.find((l) => l.price === p)?.qty ?? 0n;
        if (was !== now) changes.push({ side, price: p, qty: now });
      }
    }
    if (changes.length > 0) {
      const first = m.depthUpdateId + 1;
      m.depthUpdateId += changes.length;
      md.depthDelta(m.cfg.id, first, m.depthUpdateId, this.time);
      changes.forEach((c, i) => md.depthLevel(m.cfg.id, c.side, c.price, c.qty, first + i));
    }
    const b = m.depth(0)[0];
    const a = m.depth(1)[0];
    const bbo = { bp: b?.price ?? 0n, bq: b?.qty ?? 0n, ap: a?.price ?? 0n, aq: a?.qty ?? 0n };
    if (bbo.bp !== m.bbo.bp || bbo.bq !== m.bbo.bq || bbo.ap !== m.bbo.ap || bbo.aq !== m.bbo.aq) {
      m.bbo = bbo;
      md.bbo(m.cfg.id, bbo.bp, bbo.bq, bbo.ap, bbo.aq, m.depthUpdateId, this.time);
    }
    if (m.traded) this.emitTicker(m);
  }

  private emitTicker(m: RefMarket): void {
    if (this.md === null) return;
    const t = this.ticker(m.cfg.id);
    this.md.ticker(m.cfg.id, t.open, t.high, t.low, t.close, t.volume, t.quoteVolume, t.tradeCount, this.time);
  }

  // ------------------------------------------------------------------ validation pieces

  /** Returns a reject [code, message] or null. */
  private priceFilter(m: RefMarket, price: bigint): [number, string] | null {
    const c = m.cfg;
    if (price <= 0n) return [RejectCode.InvalidPrice, "InvalidPrice: price must be > 0"];
    if (price % c.tickSize !== 0n) return [RejectCode.TickSize, "TickSize: price is not a multiple of the tick size"];
    if (price < c.minPrice) return [RejectCode.MinPrice, "MinPrice: price below the market minimum"];
    if (price > c.maxPrice) return [RejectCode.MaxPrice, "MaxPrice: price above the market maximum"];
    return null;
  }

  private qtyFilter(m: RefMarket, qty: bigint): [number, string] | null {
    const c = m.cfg;
    if (qty % c.stepSize !== 0n) return [RejectCode.StepSize, "StepSize: quantity is not a multiple of the step size"];
    if (qty < c.minQuantity) return [RejectCode.MinQuantity, "MinQuantity: quantity below the market minimum"];
    if (qty > c.maxQuantity) return [RejectCode.MaxQuantity, "MaxQuantity: quantity above the market maximum"];
    return null;
  }

  /** The reduceOnly cap from the account's position now, or a reject. */
  private reduceCap(m: RefMarket, side: number, account: number): bigint | [number, string] {
    if (m.cfg.kind !== MarketKind.Perpetual) return [RejectCode.InvalidField, "InvalidField: reduceOnly is for perpetual markets"];
    const position = m.positions.get(account) ?? 0n;
    const abs = side === Side.Buy ? -position : position;
    if (abs <= 0n) return [RejectCode.ReduceOnlyNotReducing, "ReduceOnlyNotReducing: the order would not reduce the position"];
    const cap = (abs / m.cfg.stepSize) * m.cfg.stepSize;
    if (cap === 0n) return [RejectCode.ReduceOnlyNotReducing, "ReduceOnlyNotReducing: the order would not reduce the position"];
    return cap;
  }

  private outsidePriceBand(m: RefMarket, price: bigint): boolean {
    const vals: bigint[] = [];
    const b = m.depth(0)[0];
    const a = m.depth(1)[0];
    if (b) vals.push(b.price);
    if (a) vals.push(a.price);
    if (m.lastPrice > 0n) vals.push(m.lastPrice);
    if (vals.length === 0) return false;
    vals.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const active = vals.length === 3 ? vals[1]! : vals.length === 2 ? (vals[0]! + vals[1]!) / 2n : vals[0]!;
    const pb = m.cfg.priceBand;
    return price * S > active * pb.maxMultiplier || price * S < active * pb.minMultiplier;
  }

  private wouldTake(m: RefMarket, side: number, price: bigint): boolean {
    const best = m.side(side ^ 1)[0];
    if (best === undefined) return false;
    return side === Side.Buy ? best.price <= price : best.price >= price;
  }

  // ------------------------------------------------------------------ place

  private place(m: RefMarket, cmd: CommandRecord): void {
    const side = cmd.side;
    const rej = (code: number, msg: string) => this.rejectOrder(m, cmd, side, cmd.clientId, code, msg);
    if ((side !== 0 && side !== 1) || (cmd.orderType !== OrderType.Limit && cmd.orderType !== OrderType.Market)) {
      return rej(RejectCode.InvalidField, "InvalidField: side or orderType");
    }
    if (![0, 1, 2].includes(cmd.tif)) return rej(RejectCode.InvalidField, "InvalidField: timeInForce");
    if (![0, 1, 2, 3].includes(cmd.stp)) return rej(RejectCode.InvalidField, "InvalidField: selfTradePrevention");
    const postOnly = (cmd.flags & OrderFlag.PostOnly) !== 0;
    const reduceOnly = (cmd.flags & OrderFlag.ReduceOnly) !== 0;
    const isLimit = cmd.orderType === OrderType.Limit;
    if (postOnly && !(isLimit && cmd.tif === TimeInForce.GTC)) return rej(RejectCode.InvalidField, "InvalidField: postOnly needs a GTC limit order");
    if (m.state === MarketState.Closed || m.state === MarketState.CancelOnly) {
      return rej(RejectCode.MarketStateForbids, "MarketStateForbids: market takes no new orders");
    }
    if (m.state === MarketState.PostOnly && !postOnly) return rej(RejectCode.MarketStateForbids, "MarketStateForbids: market is post-only");
    if (m.state === MarketState.LimitOnly && !isLimit) return rej(RejectCode.MarketStateForbids, "MarketStateForbids: market is limit-only");
    const price = isLimit ? cmd.price : 0n;
    if (isLimit) {
      const r = this.priceFilter(m, price);
      if (r) return rej(...r);
    }
    const qty = cmd.quantity;
    const quote = cmd.quoteQuantity;
    if (quote !== 0n && (isLimit || side !== Side.Buy)) return rej(RejectCode.InvalidField, "InvalidField: quoteQuantity is for market buys");
    if (quote < 0n || qty < 0n) return rej(RejectCode.InvalidQuantity, "InvalidQuantity: negative quantity");
    if (qty === 0n) {
      if (quote === 0n) return rej(RejectCode.InvalidQuantity, "InvalidQuantity: quantity is zero");
      if (cmd.tif === TimeInForce.FOK) return rej(RejectCode.InvalidField, "InvalidField: FOK needs a base quantity");
    } else {
      const r = this.qtyFilter(m, qty);
      if (r) return rej(...r);
    }
    if (isLimit && m.quoteOf(qty, price) < m.cfg.minNotional) {
      return rej(RejectCode.MinNotional, "MinNotional: quantity × price below the minimum notional");
    }
    if (!isLimit && qty === 0n && quote < m.cfg.minNotional) {
      return rej(RejectCode.MinNotional, "MinNotional: quote quantity below the minimum notional");
    }
    const mine = m.orders.filter((o) => o.account === cmd.account);
    if (cmd.clientId !== 0n && mine.some((o) => o.clientId === cmd.clientId)) {
      return rej(RejectCode.DuplicateClientId, "DuplicateClientId: clientId is in use by an open order");
    }
    if (isLimit && cmd.tif === TimeInForce.GTC) {
      if (mine.length >= this.limits.maxOpenOrdersPerAccountMarket) {
        return rej(RejectCode.TooManyOpenOrders, "TooManyOpenOrders: open-order limit per account and market");
      }
      const levels = m.depth(side);
      if (m.orders.length >= this.limits.maxOrdersPerBook || (levels.length >= this.limits.maxLevelsPerSide && !levels.some((l) => l.price === price))) {
        return rej(RejectCode.Overloaded, "Overloaded: book capacity (orders or price levels)");
      }
    }
    let maxBase: bigint | null = qty === 0n ? null : qty;
    if (reduceOnly) {
      const cap = this.reduceCap(m, side, cmd.account);
      if (typeof cap !== "bigint") return rej(...cap);
      if (maxBase === null || cap < maxBase) maxBase = cap;
    }
    if (isLimit && this.outsidePriceBand(m, price)) return rej(RejectCode.PriceBand, "PriceBand: limit price outside the active-price band");
    if (postOnly && this.wouldTake(m, side, price)) return rej(RejectCode.PostOnlyWouldTake, "PostOnlyWouldTake: post-only order would take");

    const taker: Taker = {
      id: cmd.seq,
      account: cmd.account,
      side,
      isLimit,
      price,
      tif: cmd.tif,
      stp: cmd.stp,
      postOnly,
      reduceOnly,
      clientId: cmd.clientId,
      qty,
      maxBase,
      quote,
    };
    this.emit(m, {
      kind: EventKind.OrderAccepted,
      orderId: taker.id,
      account: taker.account,
      side,
      price,
      quantity: qty,
      openQuantity: maxBase ?? 0n,
      quoteQuantity: quote,
      clientId: taker.clientId,
    });
    this.execute(m, taker);
  }

  /** Matches, then rests or ends the taker. */
  private execute(m: RefMarket, t: Taker): void {
    if (t.tif === TimeInForce.FOK) {
      const sim = m.clone();
      const r = this.matchLoop(sim, t);
      if (r.filled !== t.maxBase) {
        this.done(m, { ...t, orig: t.qty, filled: 0n }, DoneReason.FokUnfilled);
        return;
      }
    }
    const r = this.matchLoop(m, t);
    const full = t.maxBase !== null && r.filled === t.maxBase;
    let reason: number;
    if (full) {
      reason = t.maxBase! < t.qty || t.qty === 0n ? DoneReason.ReduceOnlyCapped : DoneReason.Filled;
    } else if (r.stop === "stp") reason = DoneReason.SelfTradeTaker;
    else if (r.stop === "band") reason = r.band;
    else if (r.stop === "budget") reason = t.qty === 0n && r.filled > 0n ? DoneReason.Filled : DoneReason.Expired;
    else if (r.stop === "interest") reason = DoneReason.OpenInterestLimit;
    else if (t.isLimit && t.tif === TimeInForce.GTC) {
      m.orders.push({
        id: t.id,
        account: t.account,
        side: t.side,
        price: t.price,
        open: t.maxBase! - r.filled,
        filled: r.filled,
        orig: t.qty,
        clientId: t.clientId,
        stp: t.stp,
        postOnly: t.postOnly,
        reduceOnly: t.reduceOnly,
        arrival: ++m.arrivals,
      });
      return;
    } else reason = DoneReason.Expired;
    this.done(m, { ...t, orig: t.qty, filled: r.filled }, reason);
  }

  /** Band bounds in "max tick" (buy) / "min tick" (sell) form, each floor/ceil of the exact rational bound. */
  private bands(m: RefMarket, t: Taker, bestOpp: bigint): { impact: bigint | null; meanMark: bigint | null; premium: bigint | null } {
    const tick = m.cfg.tickSize;
    const buy = t.side === Side.Buy;
    const fl = (n: bigint, d: bigint) => {
      const q = n / d;
      return n % d !== 0n && n < 0n ? q - 1n : q;
    };
    const ce = (n: bigint, d: bigint) => -fl(-n, d);
    const bound = (n: bigint, d: bigint) => (buy ? fl(n, d * tick) : ce(n, d * tick));
    const impact = bound(bestOpp * (buy ? m.cfg.impactBand.maxMultiplier : m.cfg.impactBand.minMultiplier), S);
    let meanMark: bigint | null = null;
    let premium: bigint | null = null;
    const bi = m.bandInputs;
    if (bi !== null) {
      meanMark = bound(bi.meanMark * (buy ? m.cfg.meanMarkBand.maxMultiplier : m.cfg.meanMarkBand.minMultiplier), S);
      const tol = m.cfg.premiumTolerance;
      if (m.cfg.kind === MarketKind.Perpetual && tol !== null) {
        const f = buy ? S + bi.premium + tol : S + bi.premium - tol;
        if (buy || f > 0n) premium = bi.index > 0n ? bound(bi.index * f, S) : bound(bi.meanMark * f, S + bi.premium);
      }
    }
    return { impact, meanMark, premium };
  }

  /**
   * P1 at fill time, by brute force: the largest multiple of the step, at most q, whose fill between the taker and the
   * maker leaves Σ longs at most the limit (or where it is, when above it already).
   */
  private openInterestRoom(m: RefMarket, taker: number, takerSide: number, maker: number, q: bigint): bigint {
    const limit = m.cfg.openInterestLimit;
    if (m.cfg.kind !== MarketKind.Perpetual || limit <= 0n || taker === maker) return q;
    const longs = (p: Map<number, bigint>): bigint => [...p.values()].reduce((a, x) => (x > 0n ? a + x : a), 0n);
    const before = longs(m.positions);
    const allowed = before > limit ? before : limit;
    const step = m.cfg.stepSize;
    for (let k = q / step; k > 0n; k--) {
      const after = new Map(m.positions);
      const d = takerSide === Side.Buy ? k * step : -k * step;
      after.set(taker, (after.get(taker) ?? 0n) + d);
      after.set(maker, (after.get(maker) ?? 0n) - d);
      if (longs(after) <= allowed) return k * step;
    }
    return 0n;
  }

  private matchLoop(m: RefMarket, t: Taker): { filled: bigint; stop: "limit" | "band" | "stp" | "budget" | "full" | "interest"; band: number } {
    let filled = 0n;
    let quoteLeft = t.quote;
    const buy = t.side === Side.Buy;
    const tick = m.cfg.tickSize;
    let b: ReturnType<ReferenceShard["bands"]> | null = null;
    for (;;) {
      if (t.maxBase !== null && filled === t.maxBase) return { filled, stop: "full", band: 0 };
      const maker = m.side(t.side ^ 1)[0];
      if (maker === undefined) return { filled, stop: "limit", band: 0 };
      if (t.isLimit && (buy ? maker.price > t.price : maker.price < t.price)) return { filled, stop: "limit", band: 0 };
      b ??= this.bands(m, t, maker.price);
      const lt = maker.price / tick;
      const violates = (x: bigint | null) => x !== null && (buy ? lt > x : lt < x);
      if (violates(b.impact)) return { filled, stop: "band", band: DoneReason.ImpactBand };
      if (violates(b.meanMark)) return { filled, stop: "band", band: DoneReason.MeanMarkBand };
      if (violates(b.premium)) return { filled, stop: "band", band: DoneReason.PremiumBand };
      if (maker.account === t.account && t.stp !== SelfTradePrevention.Allow) {
        if (t.stp === SelfTradePrevention.RejectTaker) return { filled, stop: "stp", band: 0 };
        this.finish(m, maker, DoneReason.SelfTradeMaker);
        if (t.stp === SelfTradePrevention.RejectBoth) return { filled, stop: "stp", band: 0 };
        continue;
      }
      let q = maker.open;
      if (maker.reduceOnly) {
        // A resting reduceOnly order fills at most what is left of the position it reduces; nothing left: removed.
        const held = m.positions.get(maker.account) ?? 0n;
        const reducible = maker.side === Side.Buy ? -held : held;
        const cap = reducible <= 0n ? 0n : (reducible / m.cfg.stepSize) * m.cfg.stepSize;
        if (cap === 0n) {
          this.finish(m, maker, DoneReason.ReduceOnlyCapped);
          continue;
        }
        if (cap < q) q = cap;
      }
      if (t.maxBase !== null && t.maxBase - filled < q) q = t.maxBase - filled;
      if (t.quote > 0n) {
        // Largest multiple of the step whose quote amount fits the budget (binary search over steps).
        const step = m.cfg.stepSize;
        let lo = 0n;
        let hi = q / step;
        while (lo < hi) {
          const mid = (lo + hi + 1n) / 2n;
          if (m.quoteOf(mid * step, maker.price) <= quoteLeft) lo = mid;
          else hi = mid - 1n;
        }
        q = lo * step;
        if (q === 0n) return { filled, stop: "budget", band: 0 };
      }
      const room = this.openInterestRoom(m, t.account, t.side, maker.account, q);
      if (room === 0n) return { filled, stop: "interest", band: 0 };
      const interestCut = room < q;
      q = room;
      const quote = m.quoteOf(q, maker.price);
      maker.open -= q;
      maker.filled += q;
      if (m.cfg.kind === MarketKind.Perpetual) {
        const d = buy ? q : -q;
        m.positions.set(t.account, (m.positions.get(t.account) ?? 0n) + d);
        m.positions.set(maker.account, (m.positions.get(maker.account) ?? 0n) - d);
      }
      filled += q;
      quoteLeft -= quote;
      m.tradeSeq++;
      m.lastPrice = maker.price;
      m.traded = true;
      m.trades.push({ minute: Math.floor(this.time / 60000), price: maker.price, qty: q, quote });
      this.emit(m, {
        kind: EventKind.Fill,
        account: t.account,
        orderId: t.id,
        clientId: t.clientId,
        side: t.side,
        makerAccount: maker.account,
        makerOrderId: maker.id,
        makerClientId: maker.clientId,
        price: maker.price,
        quantity: q,
        quoteQuantity: quote,
        tradeId: m.tradeSeq,
      });
      if (!m.muted && this.md !== null) this.md.trade(m.cfg.id, m.tradeSeq, maker.price, q, quote, maker.side, this.time);
      if (maker.open === 0n) this.finish(m, maker, maker.filled < maker.orig ? DoneReason.ReduceOnlyCapped : DoneReason.Filled);
      if (interestCut && (t.maxBase === null || filled < t.maxBase)) return { filled, stop: "interest", band: 0 };
    }
  }

  // ------------------------------------------------------------------ cancel, replace

  private target(m: RefMarket, cmd: CommandRecord): RefOrder | undefined {
    if ((cmd.flags & OrderFlag.ByClientId) !== 0) {
      if (cmd.clientId === 0n) return undefined;
      return m.orders.find((o) => o.account === cmd.account && o.clientId === cmd.clientId);
    }
    return m.orders.find((o) => o.id === cmd.orderId && o.account === cmd.account);
  }

  private cancel(m: RefMarket, cmd: CommandRecord): void {
    const o = this.target(m, cmd);
    if (o === undefined) return this.rejectOrder(m, cmd, cmd.side, cmd.clientId, RejectCode.UnknownOrder, "UnknownOrder: no such open order");
    this.finish(m, o, DoneReason.Canceled);
  }

  private cancelAll(m: RefMarket, account: number): number {
    const mine = m.orders.filter((o) => o.account === account).sort((a, b) => a.id - b.id);
    for (const o of mine) this.finish(m, o, DoneReason.CanceledByAll);
    return mine.length;
  }

  private replace(m: RefMarket, cmd: CommandRecord): void {
    if (m.state === MarketState.Closed || m.state === MarketState.CancelOnly) {
      return this.rejectOrder(m, cmd, cmd.side, cmd.clientId, RejectCode.MarketStateForbids, "MarketStateForbids: market takes no new orders");
    }
    const old = this.target(m, cmd);
    if (old === undefined) return this.rejectOrder(m, cmd, cmd.side, cmd.clientId, RejectCode.UnknownOrder, "UnknownOrder: no such open order");
    const rej = (code: number, msg: string) => this.rejectOrder(m, cmd, old.side, old.clientId, code, msg);
    const price = cmd.price;
    const pr = this.priceFilter(m, price);
    if (pr) return rej(...pr);
    const qty = cmd.quantity;
    if (qty <= 0n) return rej(RejectCode.InvalidQuantity, "InvalidQuantity: quantity must be > 0");
    const qr = this.qtyFilter(m, qty);
    if (qr) return rej(...qr);
    if (m.quoteOf(qty, price) < m.cfg.minNotional) return rej(RejectCode.MinNotional, "MinNotional: quantity × price below the minimum notional");
    let open = qty;
    if (old.reduceOnly) {
      const cap = this.reduceCap(m, old.side, cmd.account);
      if (typeof cap !== "bigint") return rej(...cap);
      if (cap < open) open = cap;
    }
    if (this.outsidePriceBand(m, price)) return rej(RejectCode.PriceBand, "PriceBand: limit price outside the active-price band");
    if ((old.postOnly || m.state === MarketState.PostOnly) && this.wouldTake(m, old.side, price)) {
      return rej(RejectCode.PostOnlyWouldTake, "PostOnlyWouldTake: post-only order would take");
    }
    const keep = price === old.price && open <= old.open;
    const levels = m.depth(old.side);
    if (!keep && levels.length >= this.limits.maxLevelsPerSide && !levels.some((l) => l.price === price)) {
      return rej(RejectCode.Overloaded, "Overloaded: book capacity (price levels)");
    }
    this.done(m, old, DoneReason.Replaced);
    const accepted = () =>
      this.emit(m, {
        kind: EventKind.OrderAccepted,
        orderId: cmd.seq,
        account: old.account,
        side: old.side,
        price,
        quantity: qty,
        openQuantity: open,
        clientId: old.clientId,
      });
    if (keep) {
      old.id = cmd.seq;
      old.open = open;
      old.orig = qty;
      old.filled = 0n;
      accepted();
      return;
    }
    m.orders = m.orders.filter((o) => o !== old);
    accepted();
    this.execute(m, {
      id: cmd.seq,
      account: old.account,
      side: old.side,
      isLimit: true,
      price,
      tif: TimeInForce.GTC,
      stp: old.stp,
      postOnly: old.postOnly,
      reduceOnly: old.reduceOnly,
      clientId: old.clientId,
      qty,
      maxBase: open,
      quote: 0n,
    });
  }
}
