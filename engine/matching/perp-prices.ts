// P3/P4 market-wide price state of the perpetuals a matching shard owns (engine.ts decision P3): the index replica,
// the premium EWMA, the mark, the 5-minute moving means of mark and premium (O6/O7 band inputs) and the funding
// interval's premium samples. Updated once per settlement batch (one with an AdvanceTime or an OracleQuote), after
// the shard's last command of the batch, from the shard's own tops (best bid, best ask, last trade): every input is
// journaled or derived from the journal, so replay and every pipeline layout give the same marks.
//
// One update of market m at engine time t (the shard's clock):
//   1. index = the base asset's index while fresh at t (OracleBook.freshIndex), else none (the clamp still uses the
//      last index);
//   2. with a fresh index and both sides of the book: EWMA sample of (mid − index) (once a second, mark-price.ts);
//   3. mark = computeMarkPrice (chain (a)–(e), post-only → index, clamp index × [0.95, 1.05]); no rule → the
//      previous mark stays (and nothing is published);
//   4. at a funding interval end (t ≥ nextFundingTimeMs): F = fundingRate(P̄ of the interval's samples), published
//      (FundingRate) and kept in the market's history; a new interval starts at that end;
//   5. once a second (the first update in a later engine second): the mark into the moving mean of marks; with a
//      fresh index the premium (mark − index) / index into the moving mean of premiums and into the funding samples;
//      then the band inputs (mean mark, mean premium, index) are set on the market for the next batch (O6, O7).
// A spot market takes step 5's mean of its mark alone (SpotMarkState: the base index in the quote's), its O6 input.
// A clock that jumps several seconds takes one sample (the rules' "once a second of engine time" is read as "at
// most once"; live ticks come every second).
import { EventKind, MarketState, PRICE_SCALE, Side, SnapshotTag, type EventRecord, type EventSink, type ExchangeConfig, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";
import {
  addFundingSample,
  computeMarkPrice,
  FUNDING_DIVISOR_DEFAULT,
  FUNDING_INTERVAL_HOURS_DEFAULT,
  FUNDING_RATE_LOWER_BPS_DEFAULT,
  FUNDING_RATE_UPPER_BPS_DEFAULT,
  FundingSamples,
  fundingRate,
  isNextSecond,
  MARK_CLAMP_LOWER_DEFAULT,
  MARK_CLAMP_UPPER_DEFAULT,
  MARK_EWMA_STALE_AFTER_MS_DEFAULT,
  MarkInputs,
  MarkResult,
  MarkSource,
  meanPremium,
  midPrice,
  MovingMean,
  OracleBook,
  premiumOf,
  PremiumEwma,
  sampleEwma,
  type MarkParams,
} from "../perps/index.ts";
import type { StateHasher } from "./hash.ts";
import type { Market } from "./market.ts";

const MS_PER_HOUR = 3_600_000;
/** Funding rates kept per market for the history query (a named bound: 30 days of hourly intervals). */
export const FUNDING_HISTORY_MAX = 720;

/** P3 defaults (SPEC): clamp to index × [0.95, 1.05]; the EWMA is data while its last sample is ≤ 10 s old. */
export const MARK_PARAMS: MarkParams = {
  clampLowerMultiplier: MARK_CLAMP_LOWER_DEFAULT,
  clampUpperMultiplier: MARK_CLAMP_UPPER_DEFAULT,
  ewmaStaleAfterMs: MARK_EWMA_STALE_AFTER_MS_DEFAULT,
};

/** One funding interval's outcome (P4), as published. */
export interface FundingHistoryEntry {
  readonly timeMs: number;
  readonly rate: bigint;
  readonly meanPremium: bigint;
  readonly samples: number;
}

/** P3/P4 state of one perpetual market. */
export class PerpPriceState {
  readonly ewma = new PremiumEwma();
  readonly meanMarks = new MovingMean();
  readonly meanPremiums = new MovingMean();
  readonly funding = new FundingSamples();
  /** The last mark (0 = none yet) and the rule that gave it. */
  mark = 0n;
  source: MarkSource = MarkSource.None;
  /** The index the last mark used (0 = none fresh). */
  index = 0n;
  /** Engine time of the last once-a-second step (moving means, funding sample); −1 before the first. */
  lastSecondMs = -1;
  secondSamples = 0;
  /** End of the running funding interval, engine ms; 0 = not started (the first update starts it). */
  nextFundingTimeMs = 0;
  readonly history: FundingHistoryEntry[] = [];
  readonly intervalMs: number;
  readonly lowerBps: number;
  readonly upperBps: number;
  readonly divisor: bigint;
  readonly intervalHours: number;

  constructor(readonly market: Market) {
    const f = market.cfg.funding;
    this.intervalHours = f?.intervalHours ?? FUNDING_INTERVAL_HOURS_DEFAULT;
    this.intervalMs = this.intervalHours * MS_PER_HOUR;
    this.lowerBps = f?.lowerBps ?? FUNDING_RATE_LOWER_BPS_DEFAULT;
    this.upperBps = f?.upperBps ?? FUNDING_RATE_UPPER_BPS_DEFAULT;
    this.divisor = f?.divisor ?? FUNDING_DIVISOR_DEFAULT;
  }

  /** The first interval end after `timeMs` (intervals are aligned to multiples of their length since the epoch). */
  intervalEndAfter(timeMs: number): number {
    return (timeMs - (timeMs % this.intervalMs)) + this.intervalMs;
  }

  /** P4's rate of the running interval so far (the predicted rate published with the mark). */
  predictedRate(): bigint {
    return fundingRate(meanPremium(this.funding), this.intervalHours, this.lowerBps, this.upperBps, this.divisor);
  }
}

/**
 * O6 on a spot market: its mark is the base asset's index in the quote asset's (the quote's index, else USD), and the
 * 5-minute moving mean of it, sampled once a second as a perpetual's (step 5), is the market's mean-mark band input.
 * Before, only the perpetuals were sampled: a spot market's band had no inputs and a market buy filled past
 * mean × 1.1 wherever O4/O5 let it (helper audit, 12-08).
 */
export class SpotMarkState {
  readonly meanMarks = new MovingMean();
  lastSecondMs = -1;
  secondSamples = 0;

  constructor(readonly market: Market) {}
}

/** The price state of every perpetual a matching shard owns, and the shard's replica of the oracle. */
export class PerpPriceBook {
  readonly oracle: OracleBook;
  readonly markets: PerpPriceState[];
  /** O6: the spot markets the shard owns (SpotMarkState). */
  readonly spots: SpotMarkState[];
  private readonly inputs = new MarkInputs();
  private readonly result = new MarkResult();
  /** A command of this batch moves time or the index: the batch has a settlement phase. */
  private due = false;

  constructor(config: ExchangeConfig, owned: readonly Market[]) {
    this.oracle = new OracleBook(config);
    this.markets = owned.filter((m) => m.isPerp).map((m) => new PerpPriceState(m));
    this.spots = owned.filter((m) => !m.isPerp).map((m) => new SpotMarkState(m));
  }

  /** Marks the running batch as a settlement batch (AdvanceTime, OracleQuote). */
  markDue(): void {
    this.due = true;
  }

  /** P2 replica: one OracleQuote that risk shard 0 passed (R1 checked every field). */
  applyQuote(asset: number, source: number, bid: bigint, ask: bigint, last: bigint, sourceTimeMs: number, apply: boolean, nowMs: number): void {
    this.oracle.setQuote(asset, source, bid, ask, last, sourceTimeMs);
    if (apply) this.oracle.update(asset, nowMs);
    this.due = true;
  }

  /** The settlement phase of a batch (see the file head): updates every perpetual and publishes to `sink`. */
  endBatch(nowMs: number, ev: EventRecord, sink: EventSink): void {
    if (!this.due) return;
    this.due = false;
    for (const p of this.markets) this.updateMarket(p, nowMs, ev, sink);
    for (const p of this.spots) this.updateSpot(p, nowMs);
  }

  /** O6: once a second, a spot market's mark (a fresh base index in the quote's) into its moving mean; the band input. */
  private updateSpot(p: SpotMarkState, nowMs: number): void {
    const base = this.oracle.freshIndex(p.market.cfg.baseAsset, nowMs);
    if (base === 0n || !isNextSecond(p.secondSamples, p.lastSecondMs, nowMs)) return;
    const quote = this.oracle.lastIndex(p.market.cfg.quoteAsset);
    const mark = quote > 0n ? (base * PRICE_SCALE) / quote : base;
    if (mark <= 0n) return;
    p.lastSecondMs = nowMs;
    p.secondSamples++;
    p.meanMarks.push(mark);
    p.market.setBandInputs(p.meanMarks.mean(), 0n, 0n);
  }

  private updateMarket(p: PerpPriceState, nowMs: number, ev: EventRecord, sink: EventSink): void {
    const m = p.market;
    const inp = this.inputs;
    const index = this.oracle.freshIndex(m.cfg.baseAsset, nowMs);
    // The last index, fresh or not: a silent oracle does not free the mark from its band (computeMarkPrice).
    inp.index = this.oracle.lastIndex(m.cfg.baseAsset);
    inp.indexStale = index === 0n;
    inp.bestBid = m.bestPrice(Side.Buy);
    inp.bestAsk = m.bestPrice(Side.Sell);
    inp.last = m.lastPrice;
    inp.postOnly = m.state === MarketState.PostOnly;
    inp.nowMs = nowMs;
    if (index > 0n && inp.bestBid > 0n && inp.bestAsk > 0n) sampleEwma(p.ewma, midPrice(inp.bestBid, inp.bestAsk) - index, nowMs);
    const r = computeMarkPrice(inp, p.ewma, MARK_PARAMS, this.result);
    if (r.source !== MarkSource.None) {
      p.mark = r.mark;
      p.source = r.source;
      p.index = index;
    }
    if (p.nextFundingTimeMs === 0) p.nextFundingTimeMs = p.intervalEndAfter(nowMs);
    else if (nowMs >= p.nextFundingTimeMs) this.endFundingInterval(p, nowMs, ev, sink);
    if (p.mark > 0n && isNextSecond(p.secondSamples, p.lastSecondMs, nowMs)) this.sampleSecond(p, index, nowMs);
    if (r.source !== MarkSource.None) publishMark(p, nowMs, ev, sink);
  }

  /** P4: the interval that ended at p.nextFundingTimeMs — its rate, published and kept; the next one starts. */
  private endFundingInterval(p: PerpPriceState, nowMs: number, ev: EventRecord, sink: EventSink): void {
    const entry: FundingHistoryEntry = {
      timeMs: p.nextFundingTimeMs,
      rate: p.predictedRate(),
      meanPremium: meanPremium(p.funding),
      samples: p.funding.count,
    };
    if (p.history.length === FUNDING_HISTORY_MAX) p.history.shift();
    p.history.push(entry);
    p.funding.clear();
    p.nextFundingTimeMs = p.intervalEndAfter(nowMs);
    ev.clear();
    ev.kind = EventKind.FundingRate;
    ev.market = p.market.id;
    ev.fundingRate = entry.rate;
    ev.meanPremium = entry.meanPremium;
    ev.fundingSamples = entry.samples;
    // The mark of this settlement phase (computed just before): P4's payments are F × position × this mark.
    ev.markPrice = p.mark;
    ev.timeMs = entry.timeMs;
    sink.publish(ev);
  }

  /** Once a second: the moving means (O6, O7), the funding sample (P4) and the market's band inputs. */
  private sampleSecond(p: PerpPriceState, index: bigint, nowMs: number): void {
    p.lastSecondMs = nowMs;
    p.secondSamples++;
    p.meanMarks.push(p.mark);
    if (index > 0n) {
      const premium = premiumOf(p.mark, index);
      p.meanPremiums.push(premium);
      addFundingSample(p.funding, premium, nowMs);
    }
    const meanPremiumRatio = p.meanPremiums.count > 0 ? p.meanPremiums.mean() : 0n;
    p.market.setBandInputs(p.meanMarks.mean(), meanPremiumRatio, index);
  }

  /** Digest of every market's price state and the oracle replica (the shard's stateHash). */
  hashInto(h: StateHasher): void {
    h.num(this.due ? 1 : 0);
    for (const o of this.oracle.assets) {
      if (o === null) continue;
      h.big(o.index);
      for (const q of o.quotes) {
        h.big(q.bid);
        h.big(q.ask);
        h.big(q.last);
        h.num(q.timeMs);
      }
    }
    for (const p of this.markets) {
      h.big(p.ewma.valueFine);
      h.num(p.ewma.sampleCount);
      h.num(p.ewma.lastSampleMs);
      h.big(p.mark);
      h.num(p.source);
      h.big(p.index);
      h.num(p.lastSecondMs);
      h.num(p.secondSamples);
      h.num(p.nextFundingTimeMs);
      h.big(p.funding.sum);
      h.num(p.funding.count);
      h.num(p.funding.lastSampleMs);
      for (const v of p.meanMarks.samples()) h.big(v);
      for (const v of p.meanPremiums.samples()) h.big(v);
      for (const e of p.history) {
        h.num(e.timeMs);
        h.big(e.rate);
      }
    }
    for (const p of this.spots) {
      h.num(p.lastSecondMs);
      h.num(p.secondSamples);
      for (const v of p.meanMarks.samples()) h.big(v);
    }
  }

  /** X7: the oracle replica, then every perpetual's price state, then every spot market's (owned order). */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.PerpPrices);
    this.oracle.writeSnapshot(w);
    for (const p of this.markets) {
      w.big(p.ewma.valueFine);
      w.uint(p.ewma.sampleCount);
      w.int(p.ewma.lastSampleMs);
      w.big(p.mark);
      w.uint(p.source);
      w.big(p.index);
      w.int(p.lastSecondMs);
      w.uint(p.secondSamples);
      w.uint(p.nextFundingTimeMs);
      w.big(p.funding.sum);
      w.uint(p.funding.count);
      w.int(p.funding.lastSampleMs);
      p.meanMarks.writeSnapshot(w);
      p.meanPremiums.writeSnapshot(w);
      w.uint(p.history.length);
      for (const e of p.history) {
        w.uint(e.timeMs);
        w.big(e.rate);
        w.big(e.meanPremium);
        w.uint(e.samples);
      }
    }
    for (const p of this.spots) {
      w.int(p.lastSecondMs);
      w.uint(p.secondSamples);
      p.meanMarks.writeSnapshot(w);
    }
    w.endSection();
  }

  restoreSnapshot(r: SnapshotReader): void {
    r.beginSection(SnapshotTag.PerpPrices, "perpetual prices");
    this.oracle.restoreSnapshot(r);
    for (const p of this.markets) {
      p.ewma.valueFine = r.big();
      p.ewma.sampleCount = r.uint();
      p.ewma.lastSampleMs = r.int();
      p.mark = r.big();
      const source = r.uint();
      if (source > MarkSource.PostOnlyIndex) r.fail(`market ${p.market.id}: mark source ${source} out of range`);
      p.source = source as MarkSource;
      p.index = r.big();
      p.lastSecondMs = r.int();
      p.secondSamples = r.uint();
      p.nextFundingTimeMs = r.uint();
      p.funding.sum = r.big();
      p.funding.count = r.uint();
      p.funding.lastSampleMs = r.int();
      p.meanMarks.restoreSnapshot(r);
      p.meanPremiums.restoreSnapshot(r);
      p.history.length = 0;
      const n = r.count(FUNDING_HISTORY_MAX, "funding history entries");
      for (let i = 0; i < n; i++) p.history.push({ timeMs: r.uint(), rate: r.big(), meanPremium: r.big(), samples: r.uint() });
    }
    for (const p of this.spots) {
      p.lastSecondMs = r.int();
      p.secondSamples = r.uint();
      p.meanMarks.restoreSnapshot(r);
    }
    r.endSection();
  }
}

/** MarkPrice (seq 0, account 0): to every risk shard, which sets the market's mark; shard 0 publishes it. */
function publishMark(p: PerpPriceState, nowMs: number, ev: EventRecord, sink: EventSink): void {
  ev.clear();
  ev.kind = EventKind.MarkPrice;
  ev.market = p.market.id;
  ev.markPrice = p.mark;
  ev.indexPrice = p.index;
  ev.markSource = p.source;
  ev.fundingRate = p.predictedRate();
  ev.nextFundingTimeMs = p.nextFundingTimeMs;
  ev.timeMs = nowMs;
  sink.publish(ev);
}
