// Market-data fan-out (O8): keeps an L2 replica of every book from the matching engine's depth deltas, serves a
// snapshot on subscribe, and forwards deltas, trades, best bid/offer and the 24 h ticker to subscribers.
//
// A subscriber whose socket falls behind (more than MARKET_DATA_BACKLOG_MAX bytes buffered) stops receiving
// deltas and gets a fresh snapshot once it drained: never an unbounded queue.
import { SortedEdges } from "../engine/collections/index.ts";
import type { MarketDataSink } from "../engine/matching/index.ts";
import { ALL_MARKETS, EventKind, EventRecord, type ExchangeConfig } from "../engine/model/index.ts";
import { encodeBookTicker, encodeDepthDelta, encodeDepthSnapshot, encodeEvent, encodeTicker, encodeTrade, type TickerStats } from "./codec/index.ts";
import { SNAPSHOT_COUNT_MAX, type SnapshotReader, type SnapshotWriter } from "../engine/model/index.ts";
import type { SnapshotPart } from "./gateway-state.ts";
import type { Session } from "./sessions.ts";

/** Mark: P3 MarkPrice (about once a second per perpetual) and P4 FundingRate at each interval end. Liquidation: the
 * public liquidation stream (Q6, LIQUIDATION_STREAM). */
export const Channel = { Depth: 1, Trades: 2, Bbo: 4, Ticker: 8, Mark: 16, Liquidation: 32 } as const;

/**
 * Q6: the engine events the public `liquidation` stream carries (live ones: seq 0), each sent without its account, and
 * whether it names a market — then only that market's Liquidation subscribers get it, else every session subscribed to
 * Liquidation on any market.
 */
export const LIQUIDATION_STREAM: ReadonlyMap<number, { readonly byMarket: boolean }> = new Map([
  [EventKind.LiquidationStarted, { byMarket: false }],
  [EventKind.LiquidationEnded, { byMarket: false }],
  // Q4/Q5: bankruptcies, insurance covers, lender write-downs and payouts, lender ADL (every socialized loss).
  [EventKind.Socialization, { byMarket: false }],
  // Q2: a fill with seq 0 is a book-liquidation step's (only engine orders carry seq 0), public on its market.
  [EventKind.Fill, { byMarket: true }],
  // Q3/Q4: a backstop takeover's or an ADL's legs and each loss socialized beyond the insurance fund (account-wide: a
  // takeover's asset legs name no market).
  [EventKind.LiquidationTransfer, { byMarket: false }],
  [EventKind.SocializedLoss, { byMarket: false }],
]);
/** Bytes buffered on a socket beyond which its market data is paused and later resynchronised by a snapshot. */
export const MARKET_DATA_BACKLOG_MAX = 1 << 20;
/** Levels per side in a snapshot. */
export const SNAPSHOT_LEVELS_MAX = 1000;
/** Levels one delta may carry per side (a delta is bounded by what one command can change). */
const DELTA_LEVELS_MAX = 1 << 16;

/** Emptied levels a side keeps at quantity 0 (DepthSide) before it drops them, at least; at most as many as it has live. */
const EMPTY_LEVELS_KEPT_MIN = 256;

/**
 * One side of a book replica: quantity by price. A level that empties is kept at 0 rather than deleted, and dropped
 * in bulk once the emptied ones outnumber the live ones (and EMPTY_LEVELS_KEPT_MIN): a Map's delete leaves a hole that
 * its next insert's rehash pays for, and the Map of a side with a few thousand levels runs with few free entries, so a
 * level made and emptied by every order (a place + cancel away from the others) rehashed the whole side every few
 * dozen deltas (~5 µs a delta at 2,000 levels; X7 restart, engine.ts). Reads skip the emptied levels; the snapshot
 * writes the live ones in price order, so its bytes do not depend on which levels emptied when.
 *
 * The prices are also kept in order, in chunks (engine/collections SortedEdges: a new price costs a binary search and
 * a move within one chunk of at most 512), so a depth snapshot reads the best SNAPSHOT_LEVELS_MAX levels without
 * sorting the side. Before, every Depth subscription sorted the whole side: ~10 ms at 100,000 levels, for a public
 * command any connection may send 20,000 times a second (an unsubscribe and a subscribe make a snapshot).
 */
export class DepthSide {
  private readonly levels = new Map<bigint, bigint>();
  /** Every price of `levels` (the emptied ones too, until dropEmpty), ascending. */
  private readonly prices = new SortedEdges();
  /** Entries of `levels` at 0n. */
  private empty = 0;
  /** sorted()'s output and its limit while it reads (the visitor is made once). */
  private out: [bigint, bigint][] = [];
  private max = 0;
  private readonly take = (price: bigint): boolean => {
    const quantity = this.levels.get(price)!;
    if (quantity !== 0n) this.out.push([price, quantity]);
    return this.out.length < this.max;
  };

  /** `bestIsHighest`: a bid side (loadBestFirst's order; reads may ask for either order). */
  constructor(private readonly bestIsHighest = true) {}

  /** Live levels. */
  get size(): number {
    return this.levels.size - this.empty;
  }

  /** The quantity at `price` (0n = no level). */
  get(price: bigint): bigint {
    return this.levels.get(price) ?? 0n;
  }

  /** Sets the level at `price` (quantity 0n empties it). */
  set(price: bigint, quantity: bigint): void {
    const before = this.levels.get(price);
    if (quantity === 0n) {
      if (before === undefined || before === 0n) return;
      this.levels.set(price, 0n);
      if (++this.empty > EMPTY_LEVELS_KEPT_MIN && this.empty > this.size) this.dropEmpty();
      return;
    }
    if (before === undefined) this.prices.insert(price, 0);
    else if (before === 0n) this.empty--;
    this.levels.set(price, quantity);
  }

  clear(): void {
    this.levels.clear();
    this.prices.clear();
    this.empty = 0;
  }

  /** Replaces the side with `count` levels given best first (a snapshot's order: X7 restore), inserted ascending. */
  loadBestFirst(prices: readonly bigint[], quantities: readonly bigint[], count: number): void {
    this.clear();
    const reversed = this.bestIsHighest;
    for (let k = 0; k < count; k++) {
      const i = reversed ? count - 1 - k : k;
      this.set(prices[i]!, quantities[i]!);
    }
  }

  private dropEmpty(): void {
    for (const [price, quantity] of this.levels) {
      if (quantity !== 0n) continue;
      this.levels.delete(price);
      this.prices.remove(price, 0);
    }
    this.empty = 0;
  }

  /**
   * The live levels as [price, quantity], best first (bids: highest price first; asks: lowest first), at most `max`
   * of them: the ordered prices read from the best end, never a sort.
   */
  sorted(bids: boolean, max = Number.MAX_SAFE_INTEGER): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    if (max <= 0) return out;
    this.out = out;
    this.max = max;
    this.prices.forEachEdge(bids, this.take);
    this.out = [];
    return out;
  }
}

class BookReplica {
  readonly bids = new DepthSide(true);
  readonly asks = new DepthSide(false);
  lastUpdateId = 0;
  /** The last depth snapshot frame sent (a copy) and the update it stands after: the next subscriber's while the
   * book has not changed (a flood of subscriptions between two batches encodes one snapshot). */
  snapshotFrame: Uint8Array | null = null;
  snapshotUpdateId = -1;
  bbo: [bigint, bigint, bigint, bigint, number] = [0n, 0n, 0n, 0n, 0];
  ticker: TickerStats | null = null;
  /** The last MarkPrice frame (P3), sent to a new Mark subscriber at once: the marks query. */
  mark: Uint8Array | null = null;
}

class Subscription {
  readonly channels: Uint8Array;
  /** Depth paused for this market until a snapshot resynchronises it. */
  readonly stale: Uint8Array;

  constructor(
    readonly session: Session,
    markets: number,
  ) {
    this.channels = new Uint8Array(markets);
    this.stale = new Uint8Array(markets);
  }
}

export class MarketDataHub implements MarketDataSink, SnapshotPart {
  private readonly books: BookReplica[];
  private readonly subscribers: Subscription[][];
  private readonly bySession = new Map<Session, Subscription>();
  /** Sessions subscribed to Liquidation on at least one market (Q6's market-wide events go to each once). */
  private readonly liquidationWatchers = new Set<Subscription>();
  /** The public copy of a liquidation event (its account cleared), reused. */
  private readonly publicCopy = new EventRecord();
  // The delta being assembled from depthDelta + depthLevel calls.
  private deltaMarket = -1;
  private deltaFirst = 0;
  private deltaLast = 0;
  private deltaLeft = 0;
  private readonly deltaBids = new BigInt64Array(2 * DELTA_LEVELS_MAX);
  private readonly deltaAsks = new BigInt64Array(2 * DELTA_LEVELS_MAX);
  private deltaBidCount = 0;
  private deltaAskCount = 0;
  private readonly snapBids = new BigInt64Array(2 * SNAPSHOT_LEVELS_MAX);
  private readonly snapAsks = new BigInt64Array(2 * SNAPSHOT_LEVELS_MAX);
  /** readState's levels of one side, before DepthSide.loadBestFirst takes them (restore only). */
  private readonly restorePrices: bigint[] = [];
  private readonly restoreQuantities: bigint[] = [];

  constructor(private readonly config: ExchangeConfig) {
    this.books = config.markets.map(() => new BookReplica());
    this.subscribers = config.markets.map(() => []);
  }

  // ---- subscriptions ----

  subscribe(session: Session, market: number, channels: number): void {
    let sub = this.bySession.get(session);
    if (sub === undefined) {
      sub = new Subscription(session, this.books.length);
      this.bySession.set(session, sub);
    }
    for (const m of market === ALL_MARKETS ? this.config.markets.map((x) => x.id) : [market]) {
      const added = channels & ~sub.channels[m]!;
      if (sub.channels[m] === 0) this.subscribers[m]!.push(sub);
      sub.channels[m] = sub.channels[m]! | channels;
      if ((added & Channel.Depth) !== 0) this.sendSnapshot(sub, m);
      const book = this.books[m]!;
      if ((added & Channel.Bbo) !== 0 && book.bbo[4] > 0) {
        const [bp, bq, ap, aq, id] = book.bbo;
        session.socket.send(encodeBookTicker(m, id, bp, bq, ap, aq, this.config));
      }
      if ((added & Channel.Ticker) !== 0 && book.ticker !== null) session.socket.send(encodeTicker(m, book.ticker, this.config));
      if ((added & Channel.Mark) !== 0 && book.mark !== null) session.socket.send(book.mark);
    }
    if ((channels & Channel.Liquidation) !== 0) this.liquidationWatchers.add(sub);
  }

  /**
   * Q6: a live liquidation event (LIQUIDATION_STREAM) on the public stream, without its account: to the market's
   * Liquidation subscribers, or (an account-wide event) to every session subscribed to Liquidation anywhere.
   */
  liquidationEvent(e: EventRecord): void {
    const route = LIQUIDATION_STREAM.get(e.kind);
    if (route === undefined || e.seq !== 0 || this.liquidationWatchers.size === 0) return;
    const copy = this.publicCopy;
    copy.copyFrom(e);
    copy.account = 0;
    copy.makerAccount = 0; // a liquidation fill names neither side's account nor the maker's client id
    copy.makerClientId = 0n;
    copy.counterpartyAccount = 0; // Q5: a lender ADL row names neither side either
    const bytes = encodeEvent(copy, 0n, this.config);
    if (route.byMarket) {
      this.fanOut(e.market, Channel.Liquidation, bytes);
      return;
    }
    for (const sub of this.liquidationWatchers) {
      if (sub.session.closed || sub.session.socket.bufferedAmount() > MARKET_DATA_BACKLOG_MAX) continue;
      sub.session.socket.send(bytes);
    }
  }

  /**
   * P3/P4 public prices from the engine (MarkPrice, FundingRate; seq 0): kept (the last mark per market, for new
   * subscribers) and fanned out on the Mark channel. Called during recovery too, so the last mark survives a restart.
   */
  priceEvent(e: EventRecord): void {
    const bytes = encodeEvent(e, 0n, this.config);
    if (e.kind === EventKind.MarkPrice) this.books[e.market]!.mark = bytes.slice();
    if (this.subscribers[e.market]!.length > 0) this.fanOut(e.market, Channel.Mark, bytes);
  }

  unsubscribe(session: Session, market: number, channels: number): void {
    const sub = this.bySession.get(session);
    if (sub === undefined) return;
    for (const m of market === ALL_MARKETS ? this.config.markets.map((x) => x.id) : [market]) {
      if (sub.channels[m] === 0) continue;
      sub.channels[m] = sub.channels[m]! & ~channels;
      if (sub.channels[m] === 0) this.remove(m, sub);
    }
    if (!sub.channels.some((c) => (c & Channel.Liquidation) !== 0)) this.liquidationWatchers.delete(sub);
  }

  close(session: Session): void {
    const sub = this.bySession.get(session);
    if (sub === undefined) return;
    this.bySession.delete(session);
    this.liquidationWatchers.delete(sub);
    for (let m = 0; m < this.books.length; m++) if (sub.channels[m] !== 0) this.remove(m, sub);
  }

  /** The socket drained: resynchronise every market whose depth was paused. */
  drained(session: Session): void {
    const sub = this.bySession.get(session);
    if (sub === undefined || session.socket.bufferedAmount() > MARKET_DATA_BACKLOG_MAX / 2) return;
    for (let m = 0; m < this.books.length; m++) {
      if (sub.stale[m] === 1 && (sub.channels[m]! & Channel.Depth) !== 0) {
        sub.stale[m] = 0;
        this.sendSnapshot(sub, m);
      }
    }
  }

  private remove(market: number, sub: Subscription): void {
    const list = this.subscribers[market]!;
    const i = list.indexOf(sub);
    if (i >= 0) list.splice(i, 1);
    sub.stale[market] = 0;
  }

  /** L2 snapshot of a market from the replica, best first, as it stands after update `lastUpdateId`. */
  snapshot(market: number): { lastUpdateId: number; bids: [bigint, bigint][]; asks: [bigint, bigint][] } {
    const book = this.books[market]!;
    const bids = book.bids.sorted(true, SNAPSHOT_LEVELS_MAX);
    const asks = book.asks.sorted(false, SNAPSHOT_LEVELS_MAX);
    return { lastUpdateId: book.lastUpdateId, bids, asks };
  }

  private sendSnapshot(sub: Subscription, market: number): void {
    const book = this.books[market]!;
    if (book.snapshotFrame === null || book.snapshotUpdateId !== book.lastUpdateId) {
      book.snapshotFrame = this.encodeSnapshot(market).slice(); // the encoder's view is valid until its next encode
      book.snapshotUpdateId = book.lastUpdateId;
    }
    sub.session.socket.send(book.snapshotFrame);
  }

  private encodeSnapshot(market: number): Uint8Array {
    const s = this.snapshot(market);
    s.bids.forEach(([p, q], i) => {
      this.snapBids[2 * i] = p;
      this.snapBids[2 * i + 1] = q;
    });
    s.asks.forEach(([p, q], i) => {
      this.snapAsks[2 * i] = p;
      this.snapAsks[2 * i + 1] = q;
    });
    return encodeDepthSnapshot(market, s.lastUpdateId, this.snapBids, s.bids.length, this.snapAsks, s.asks.length, this.config);
  }

  /** Sends one encoded frame to every subscriber of `channel` on `market` that is keeping up. */
  private fanOut(market: number, channel: number, bytes: Uint8Array): void {
    const list = this.subscribers[market]!;
    for (let i = 0; i < list.length; i++) {
      const sub = list[i]!;
      if ((sub.channels[market]! & channel) === 0 || sub.session.closed) continue;
      if (sub.session.socket.bufferedAmount() > MARKET_DATA_BACKLOG_MAX) {
        // Behind: drop this update; depth resumes with a snapshot once the socket drains.
        if ((sub.channels[market]! & Channel.Depth) !== 0) sub.stale[market] = 1;
        continue;
      }
      if (channel === Channel.Depth && sub.stale[market] === 1) continue;
      sub.session.socket.send(bytes);
    }
  }

  // ---- MarketDataSink: called in matching order ----

  trade(market: number, tradeId: number, price: bigint, quantity: bigint, quoteAmount: bigint, makerSide: number, timeMs: number): void {
    if (this.subscribers[market]!.length === 0) return;
    this.fanOut(market, Channel.Trades, encodeTrade(market, tradeId, price, quantity, quoteAmount, makerSide === 0 ? 1 : 0, timeMs, this.config));
  }

  depthDelta(market: number, firstUpdateId: number, lastUpdateId: number, _timeMs: number): void {
    this.deltaMarket = market;
    this.deltaFirst = firstUpdateId;
    this.deltaLast = lastUpdateId;
    this.deltaLeft = lastUpdateId - firstUpdateId + 1;
    this.deltaBidCount = 0;
    this.deltaAskCount = 0;
  }

  depthLevel(market: number, side: number, price: bigint, quantity: bigint, updateId: number): void {
    const book = this.books[market]!;
    const levels = side === 0 ? book.bids : book.asks;
    levels.set(price, quantity);
    book.lastUpdateId = updateId;
    if (market !== this.deltaMarket || this.deltaLeft <= 0) throw new Error(`market data: depth level of ${market} outside a delta`);
    if (side === 0 && this.deltaBidCount < DELTA_LEVELS_MAX) {
      this.deltaBids[2 * this.deltaBidCount] = price;
      this.deltaBids[2 * this.deltaBidCount + 1] = quantity;
      this.deltaBidCount++;
    } else if (side !== 0 && this.deltaAskCount < DELTA_LEVELS_MAX) {
      this.deltaAsks[2 * this.deltaAskCount] = price;
      this.deltaAsks[2 * this.deltaAskCount + 1] = quantity;
      this.deltaAskCount++;
    }
    if (--this.deltaLeft === 0 && this.subscribers[market]!.length > 0) {
      this.fanOut(market, Channel.Depth, encodeDepthDelta(market, this.deltaFirst, this.deltaLast, this.deltaBids, this.deltaBidCount, this.deltaAsks, this.deltaAskCount, this.config));
    }
  }

  bbo(market: number, bidPrice: bigint, bidQuantity: bigint, askPrice: bigint, askQuantity: bigint, updateId: number): void {
    const b = this.books[market]!.bbo;
    b[0] = bidPrice;
    b[1] = bidQuantity;
    b[2] = askPrice;
    b[3] = askQuantity;
    b[4] = updateId;
    if (this.subscribers[market]!.length === 0) return;
    this.fanOut(market, Channel.Bbo, encodeBookTicker(market, updateId, bidPrice, bidQuantity, askPrice, askQuantity, this.config));
  }

  ticker(market: number, open: bigint, high: bigint, low: bigint, close: bigint, volume: bigint, quoteVolume: bigint, tradeCount: number, timeMs: number): void {
    const book = this.books[market]!;
    const t = book.ticker ?? { openTimeMs: 0, closeTimeMs: 0, open: 0n, high: 0n, low: 0n, close: 0n, volume: 0n, quoteVolume: 0n, tradeCount: 0 };
    t.openTimeMs = timeMs - 86_400_000;
    t.closeTimeMs = timeMs;
    t.open = open;
    t.high = high;
    t.low = low;
    t.close = close;
    t.volume = volume;
    t.quoteVolume = quoteVolume;
    t.tradeCount = tradeCount;
    book.ticker = t;
    if (this.subscribers[market]!.length === 0) return;
    this.fanOut(market, Channel.Ticker, encodeTicker(market, t, this.config));
  }

  /** Engine time of the latest ticker update of a market whose 24 h window holds trades (0 = none holds any). */
  latestTradeWindowMs(): number {
    let latest = 0;
    for (const book of this.books) {
      const t = book.ticker;
      if (t !== null && t.tradeCount > 0 && t.closeTimeMs > latest) latest = t.closeTimeMs;
    }
    return latest;
  }

  // ---- snapshots (X7): the replicas, as they stand at the snapshot's batch boundary ----

  writeState(w: SnapshotWriter): void {
    w.uint(this.books.length);
    for (const book of this.books) {
      w.uint(book.lastUpdateId);
      for (const side of [book.bids, book.asks]) {
        // Best first, whatever order the levels came and went in: replicas of one book write the same bytes.
        const levels = side.sorted(side === book.bids);
        w.uint(levels.length);
        for (const [price, quantity] of levels) {
          w.big(price);
          w.big(quantity);
        }
      }
      for (let i = 0; i < 4; i++) w.big(book.bbo[i] as bigint);
      w.uint(book.bbo[4]);
      const t = book.ticker;
      w.bool(t !== null);
      if (t !== null) {
        // The window opens 24 h before the engine time: before the first clock tick that is negative.
        w.int(t.openTimeMs);
        w.int(t.closeTimeMs);
        for (const v of [t.open, t.high, t.low, t.close, t.volume, t.quoteVolume]) w.big(v);
        w.uint(t.tradeCount);
      }
    }
  }

  readState(r: SnapshotReader): void {
    const markets = r.uint();
    if (markets !== this.books.length) r.fail(`market data of ${markets} markets, the config has ${this.books.length}`);
    for (const book of this.books) {
      book.lastUpdateId = r.uint();
      book.snapshotFrame = null;
      for (const side of [book.bids, book.asks]) {
        const count = r.count(SNAPSHOT_COUNT_MAX, "depth levels");
        const prices = this.restorePrices;
        const quantities = this.restoreQuantities;
        for (let i = 0; i < count; i++) {
          prices[i] = r.big();
          quantities[i] = r.big();
        }
        side.loadBestFirst(prices, quantities, count);
      }
      book.bbo = [r.big(), r.big(), r.big(), r.big(), r.uint()];
      book.ticker = !r.bool() ? null : {
        openTimeMs: r.int(),
        closeTimeMs: r.int(),
        open: r.big(),
        high: r.big(),
        low: r.big(),
        close: r.big(),
        volume: r.big(),
        quoteVolume: r.big(),
        tradeCount: r.uint(),
      };
    }
  }
}
