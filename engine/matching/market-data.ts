// Market-data output of the matching engine (O8): the sink interface, depth snapshot shapes and the 24 h ticker window.

import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";
import { Side } from "../model/index.ts";
import { NONE, type Book } from "./book.ts";
import { NO_TICK } from "./ladder.ts";
import { TICKER_BUCKET_MS, TICKER_WINDOW_BUCKETS } from "./limits.ts";

/**
 * Receives a market's public data, synchronously and in order, during MatchingShard.handle / setTime.
 * Every argument is a scalar so that publishing allocates nothing; a fan-out implementation copies what it keeps.
 *
 * Per command that touched market m, the calls arrive in this order:
 *   trade*            one per fill, as it happens;
 *   depthDelta        once, if any level's total changed, followed by exactly
 *   depthLevel × k    k = lastUpdateId − firstUpdateId + 1 changed levels: bids best→worst, then asks best→worst;
 *   bbo               if the best bid or ask (price or quantity) changed;
 *   ticker            if the command traded.
 * Depth update ids count level changes per market: a delta's firstUpdateId is always the previous delta's
 * lastUpdateId + 1, so a subscriber detects a gap (`U == previous u + 1`). A depthSnapshot's lastUpdateId says which
 * deltas it already contains: apply the deltas with lastUpdateId > snapshot.lastUpdateId. Quantity 0 = level gone.
 * The ids count only changes seen while a sink is attached (they are a subscription sequence, not book state).
 */
export interface MarketDataSink {
  trade(
    market: number,
    tradeId: number,
    price: bigint,
    quantity: bigint,
    quoteAmount: bigint,
    /** Side of the resting (maker) order; the taker was on the other side. */
    makerSide: number,
    timeMs: number,
  ): void;
  depthDelta(market: number, firstUpdateId: number, lastUpdateId: number, timeMs: number): void;
  depthLevel(market: number, side: number, price: bigint, quantity: bigint, updateId: number): void;
  /** 0n price and quantity = that side is empty. */
  bbo(
    market: number,
    bidPrice: bigint,
    bidQuantity: bigint,
    askPrice: bigint,
    askQuantity: bigint,
    updateId: number,
    timeMs: number,
  ): void;
  ticker(
    market: number,
    open: bigint,
    high: bigint,
    low: bigint,
    close: bigint,
    volume: bigint,
    quoteVolume: bigint,
    tradeCount: number,
    timeMs: number,
  ): void;
}

export interface DepthLevel {
  readonly price: bigint;
  readonly quantity: bigint;
  readonly orderCount: number;
}

export interface DepthSnapshot {
  readonly market: number;
  /** The snapshot contains every depth delta up to and including this update id. */
  readonly lastUpdateId: number;
  readonly timeMs: number;
  /** Best first. */
  readonly bids: readonly DepthLevel[];
  readonly asks: readonly DepthLevel[];
}

export interface Ticker24h {
  readonly open: bigint;
  readonly high: bigint;
  readonly low: bigint;
  /** Last trade price (also when the window is empty; 0n if the market never traded). */
  readonly close: bigint;
  /** Base-asset units. */
  readonly volume: bigint;
  /** Quote-asset units. */
  readonly quoteVolume: bigint;
  readonly tradeCount: number;
}

/**
 * Rolling 24 h statistics over one-minute buckets, driven by engine time. The window at time t holds the trades whose
 * minute floor(tradeTime / 60 000) is within the last 1 440 minutes up to floor(t / 60 000). With no trade in the
 * window, open = high = low = close = the last trade price.
 */
export class TickerWindow {
  private readonly bMinute = new Float64Array(TICKER_WINDOW_BUCKETS).fill(-1);
  private readonly bOpen = new BigInt64Array(TICKER_WINDOW_BUCKETS);
  private readonly bHigh = new BigInt64Array(TICKER_WINDOW_BUCKETS);
  private readonly bLow = new BigInt64Array(TICKER_WINDOW_BUCKETS);
  private readonly bVolume = new BigInt64Array(TICKER_WINDOW_BUCKETS);
  private readonly bQuoteVolume = new BigInt64Array(TICKER_WINDOW_BUCKETS);
  private readonly bCount = new Float64Array(TICKER_WINDOW_BUCKETS);
  nowMinute = 0;
  volume = 0n;
  quoteVolume = 0n;
  tradeCount = 0;
  high = 0n;
  low = 0n;
  /** Minute of the oldest bucket in the window with trades (valid when tradeCount > 0). */
  private openMinute = 0;
  lastPrice = 0n;

  onTrade(price: bigint, quantity: bigint, quoteAmount: bigint): void {
    const m = this.nowMinute;
    const b = bucketOf(m);
    if (this.bMinute[b] !== m) {
      this.bMinute[b] = m;
      this.bOpen[b] = price;
      this.bHigh[b] = price;
      this.bLow[b] = price;
      this.bVolume[b] = 0n;
      this.bQuoteVolume[b] = 0n;
      this.bCount[b] = 0;
    } else {
      if (price > this.bHigh[b]) this.bHigh[b] = price;
      if (price < this.bLow[b]) this.bLow[b] = price;
    }
    this.bVolume[b] += quantity;
    this.bQuoteVolume[b] += quoteAmount;
    this.bCount[b]++;
    if (this.tradeCount === 0) {
      this.high = price;
      this.low = price;
      this.openMinute = m;
    } else {
      if (price > this.high) this.high = price;
      if (price < this.low) this.low = price;
    }
    this.volume += quantity;
    this.quoteVolume += quoteAmount;
    this.tradeCount++;
    this.lastPrice = price;
  }

  /** Moves the window to engine time timeMs (never backwards); true when trades left the window. */
  advance(timeMs: number): boolean {
    const minute = minuteOf(timeMs);
    if (minute <= this.nowMinute) return false;
    const oldNow = this.nowMinute;
    this.nowMinute = minute;
    if (this.tradeCount === 0) return false;
    let expired = false;
    if (minute - oldNow >= TICKER_WINDOW_BUCKETS) {
      // Every active minute (≤ oldNow ≤ minute − N) leaves the window.
      for (let b = 0; b < TICKER_WINDOW_BUCKETS; b++) {
        if (this.bMinute[b] === -1) continue;
        this.expireBucket(b);
        expired = true;
      }
    } else {
      // Minutes in (oldNow − N, minute − N] leave the window (fewer than N of them).
      const to = minute - TICKER_WINDOW_BUCKETS;
      for (let m = oldNow - TICKER_WINDOW_BUCKETS + 1; m <= to; m++) {
        const b = bucketOf(m);
        if (this.bMinute[b] !== m) continue;
        this.expireBucket(b);
        expired = true;
      }
    }
    if (expired) this.rescan();
    return expired;
  }

  private expireBucket(b: number): void {
    this.volume -= this.bVolume[b];
    this.quoteVolume -= this.bQuoteVolume[b];
    this.tradeCount -= this.bCount[b];
    this.bMinute[b] = -1;
  }

  private rescan(): void {
    if (this.tradeCount === 0) {
      this.high = 0n;
      this.low = 0n;
      return;
    }
    let first = true;
    for (let m = this.nowMinute - TICKER_WINDOW_BUCKETS + 1; m <= this.nowMinute; m++) {
      const b = bucketOf(m);
      if (this.bMinute[b] !== m) continue;
      if (first) {
        this.openMinute = m;
        this.high = this.bHigh[b];
        this.low = this.bLow[b];
        first = false;
      } else {
        if (this.bHigh[b] > this.high) this.high = this.bHigh[b];
        if (this.bLow[b] < this.low) this.low = this.bLow[b];
      }
    }
  }

  open(): bigint {
    return this.tradeCount === 0 ? this.lastPrice : this.bOpen[bucketOf(this.openMinute)];
  }
  highPrice(): bigint {
    return this.tradeCount === 0 ? this.lastPrice : this.high;
  }
  lowPrice(): bigint {
    return this.tradeCount === 0 ? this.lastPrice : this.low;
  }

  snapshot(): Ticker24h {
    return {
      open: this.open(),
      high: this.highPrice(),
      low: this.lowPrice(),
      close: this.lastPrice,
      volume: this.volume,
      quoteVolume: this.quoteVolume,
      tradeCount: this.tradeCount,
    };
  }

  /** X7: the window's whole state — totals, extremes and every bucket in use, by bucket index. */
  writeSnapshot(w: SnapshotWriter): void {
    w.int(this.nowMinute);
    w.big(this.volume);
    w.big(this.quoteVolume);
    w.uint(this.tradeCount);
    w.big(this.high);
    w.big(this.low);
    w.int(this.openMinute);
    w.big(this.lastPrice);
    let used = 0;
    for (let b = 0; b < TICKER_WINDOW_BUCKETS; b++) if (this.bMinute[b] !== -1) used++;
    w.uint(used);
    for (let b = 0; b < TICKER_WINDOW_BUCKETS; b++) {
      if (this.bMinute[b] === -1) continue;
      w.uint(b);
      w.int(this.bMinute[b]!);
      w.big(this.bOpen[b]!);
      w.big(this.bHigh[b]!);
      w.big(this.bLow[b]!);
      w.big(this.bVolume[b]!);
      w.big(this.bQuoteVolume[b]!);
      w.uint(this.bCount[b]!);
    }
  }

  /** Restores a fresh window from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    this.nowMinute = r.int();
    this.volume = r.big();
    this.quoteVolume = r.big();
    this.tradeCount = r.uint();
    this.high = r.big();
    this.low = r.big();
    this.openMinute = r.int();
    this.lastPrice = r.big();
    const used = r.count(TICKER_WINDOW_BUCKETS, "ticker buckets");
    for (let i = 0; i < used; i++) {
      const b = r.uint();
      if (b >= TICKER_WINDOW_BUCKETS) r.fail(`ticker bucket ${b} out of range`);
      this.bMinute[b] = r.int();
      this.bOpen[b] = r.big();
      this.bHigh[b] = r.big();
      this.bLow[b] = r.big();
      this.bVolume[b] = r.big();
      this.bQuoteVolume[b] = r.big();
      this.bCount[b] = r.uint();
    }
  }

  /** Feeds the window's full state to a hash (active buckets oldest first). */
  hashInto(h: { num(x: number): void; big(x: bigint): void }): void {
    h.num(this.nowMinute);
    h.num(this.tradeCount);
    h.big(this.volume);
    h.big(this.quoteVolume);
    h.big(this.lastPrice);
    for (let m = this.nowMinute - TICKER_WINDOW_BUCKETS + 1; m <= this.nowMinute; m++) {
      const b = bucketOf(m);
      if (this.bMinute[b] !== m) continue;
      h.num(m);
      h.big(this.bOpen[b]);
      h.big(this.bHigh[b]);
      h.big(this.bLow[b]);
      h.big(this.bVolume[b]);
      h.big(this.bQuoteVolume[b]);
      h.num(this.bCount[b]);
    }
  }
}

/** floor(timeMs / TICKER_BUCKET_MS) for a safe integer timeMs, in integer steps (the remainder taken off first). */
function minuteOf(timeMs: number): number {
  let r = timeMs % TICKER_BUCKET_MS;
  if (r < 0) r += TICKER_BUCKET_MS;
  return (timeMs - r) / TICKER_BUCKET_MS;
}

function bucketOf(minute: number): number {
  const r = minute % TICKER_WINDOW_BUCKETS;
  return r < 0 ? r + TICKER_WINDOW_BUCKETS : r;
}

/**
 * O8: what one market publishes after each command — the depth delta of the levels whose total changed, the best
 * bid/offer when it changed, the ticker when the command traded — and what it last published (the BBO baseline and
 * the depth update id, which the market's snapshot carries).
 */
export class MarketDataPublisher {
  depthUpdateId = 0;
  private bboBidTick = NO_TICK;
  private bboAskTick = NO_TICK;
  private bboBidPrice = 0n;
  private bboBidQty = 0n;
  private bboAskPrice = 0n;
  private bboAskQty = 0n;

  constructor(
    private readonly market: number,
    private readonly book: Book,
    private readonly ticker: TickerWindow,
  ) {}

  /** Publishes the command's depth delta, BBO change and (if it traded) ticker. */
  finishCommand(md: MarketDataSink, time: number, traded: boolean): void {
    const book = this.book;
    const n = book.dCount;
    const bidTick = book.ladders[Side.Buy].bestTick;
    const askTick = book.ladders[Side.Sell].bestTick;
    // The BBO can only have changed if a best tick moved or a changed level sits at a best tick.
    let touchChanged = bidTick !== this.bboBidTick || askTick !== this.bboAskTick;
    if (n > 0 && this.publishDepth(md, n, bidTick, askTick, time)) touchChanged = true;
    if (touchChanged) this.publishBbo(md, bidTick, askTick, time);
    if (traded) this.publishTicker(md, time);
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
      if (!book.totalChangedSince(i, lvl)) continue;
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
    md.depthDelta(this.market, first, this.depthUpdateId, time);
    for (let k = 0; k < changed; k++) {
      const i = order[k];
      const lvl = dLvl[i];
      md.depthLevel(this.market, book.dSide[i], book.dPrice[i], lvl === NONE ? 0n : book.levelTotal(lvl), first + k);
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
    const bq = bl === NONE ? 0n : book.levelTotal(bl);
    const ap = al === NONE ? 0n : book.lPrice[al];
    const aq = al === NONE ? 0n : book.levelTotal(al);
    if (bp !== this.bboBidPrice || bq !== this.bboBidQty || ap !== this.bboAskPrice || aq !== this.bboAskQty) {
      this.bboBidPrice = bp;
      this.bboBidQty = bq;
      this.bboAskPrice = ap;
      this.bboAskQty = aq;
      md.bbo(this.market, bp, bq, ap, aq, this.depthUpdateId, time);
    }
  }

  publishTicker(md: MarketDataSink, time: number): void {
    const t = this.ticker;
    md.ticker(this.market, t.open(), t.highPrice(), t.lowPrice(), t.lastPrice, t.volume, t.quoteVolume, t.tradeCount, time);
  }

  /** Called when a market-data sink is attached: the BBO baseline is the current book. */
  resetBaseline(): void {
    const book = this.book;
    const bl = book.bestLevel(Side.Buy);
    const al = book.bestLevel(Side.Sell);
    this.bboBidPrice = bl === NONE ? 0n : book.lPrice[bl];
    this.bboBidQty = bl === NONE ? 0n : book.levelTotal(bl);
    this.bboAskPrice = al === NONE ? 0n : book.lPrice[al];
    this.bboAskQty = al === NONE ? 0n : book.levelTotal(al);
    this.bboBidTick = book.ladders[Side.Buy].bestTick;
    this.bboAskTick = book.ladders[Side.Sell].bestTick;
    book.dCount = 0;
  }
}
