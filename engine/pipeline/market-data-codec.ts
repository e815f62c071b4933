// Market data (O8) on its way from a matching worker to the gateway: a fixed 96-byte ring record per
// MarketDataSink call, written by RingMarketDataSink and replayed into any MarketDataSink by readMarketData. Each
// stage also closes every batch (journal and control alike) with a batch-end record, so the gateway can tell which
// batch a record belongs to and hold a batch's market data until its journal write is on disk (engine.ts X4P).
import type { MarketDataSink } from "../matching/index.ts";
import { readInt64Interned, type RecordViews } from "../model/index.ts";
import type { RingWriter } from "./ring-io.ts";

export const MARKET_DATA_RECORD_BYTES = 96;

const MD_TRADE = 1;
const MD_DEPTH_DELTA = 2;
const MD_DEPTH_LEVEL = 3;
const MD_BBO = 4;
const MD_TICKER = 5;
/** The end of one batch's market data (no sink call): every stage writes one per batch it finishes. */
const MD_BATCH_END = 6;

// int32 words: kind, market, side, tradeCount; float64 words (byte 16..39): a, b, timeMs; int64 words (40..87): v0..v5
const W_KIND = 0;
const W_MARKET = 1;
const W_SIDE = 2;
const W_COUNT = 3;
const D_A = 2;
const D_B = 3;
const D_TIME = 4;
const D_V = 5;

/** Writes every market-data call into a ring (matching worker side). Blocks only when the ring is full. */
export class RingMarketDataSink implements MarketDataSink {
  constructor(private readonly w: RingWriter) {}

  private slot(kind: number, market: number): number {
    const offset = this.w.slot();
    const v = this.w.ring;
    v.i32[(offset >> 2) + W_KIND] = kind;
    v.i32[(offset >> 2) + W_MARKET] = market;
    return offset;
  }

  trade(market: number, tradeId: number, price: bigint, quantity: bigint, quoteAmount: bigint, makerSide: number, timeMs: number): void {
    const o = this.slot(MD_TRADE, market);
    const v = this.w.ring;
    const d = o >> 3;
    v.i32[(o >> 2) + W_SIDE] = makerSide;
    v.f64[d + D_A] = tradeId;
    v.f64[d + D_TIME] = timeMs;
    v.i64[d + D_V] = price;
    v.i64[d + D_V + 1] = quantity;
    v.i64[d + D_V + 2] = quoteAmount;
  }

  depthDelta(market: number, firstUpdateId: number, lastUpdateId: number, timeMs: number): void {
    const o = this.slot(MD_DEPTH_DELTA, market);
    const v = this.w.ring;
    const d = o >> 3;
    v.f64[d + D_A] = firstUpdateId;
    v.f64[d + D_B] = lastUpdateId;
    v.f64[d + D_TIME] = timeMs;
  }

  depthLevel(market: number, side: number, price: bigint, quantity: bigint, updateId: number): void {
    const o = this.slot(MD_DEPTH_LEVEL, market);
    const v = this.w.ring;
    const d = o >> 3;
    v.i32[(o >> 2) + W_SIDE] = side;
    v.f64[d + D_A] = updateId;
    v.i64[d + D_V] = price;
    v.i64[d + D_V + 1] = quantity;
  }

  bbo(market: number, bidPrice: bigint, bidQuantity: bigint, askPrice: bigint, askQuantity: bigint, updateId: number, timeMs: number): void {
    const o = this.slot(MD_BBO, market);
    const v = this.w.ring;
    const d = o >> 3;
    v.f64[d + D_A] = updateId;
    v.f64[d + D_TIME] = timeMs;
    v.i64[d + D_V] = bidPrice;
    v.i64[d + D_V + 1] = bidQuantity;
    v.i64[d + D_V + 2] = askPrice;
    v.i64[d + D_V + 3] = askQuantity;
  }

  /** Closes the batch's market data (engine.ts X4P): written after the batch's last record, before its event batch end. */
  batchEnd(): void {
    this.slot(MD_BATCH_END, 0);
  }

  ticker(market: number, open: bigint, high: bigint, low: bigint, close: bigint, volume: bigint, quoteVolume: bigint, tradeCount: number, timeMs: number): void {
    const o = this.slot(MD_TICKER, market);
    const v = this.w.ring;
    const d = o >> 3;
    v.i32[(o >> 2) + W_COUNT] = tradeCount;
    v.f64[d + D_TIME] = timeMs;
    v.i64[d + D_V] = open;
    v.i64[d + D_V + 1] = high;
    v.i64[d + D_V + 2] = low;
    v.i64[d + D_V + 3] = close;
    v.i64[d + D_V + 4] = volume;
    v.i64[d + D_V + 5] = quoteVolume;
  }
}

/** A batch-end record (RingMarketDataSink.batchEnd), which readMarketData skips. */
export function isMarketDataBatchEnd(v: RecordViews, offset: number): boolean {
  return v.i32[(offset >> 2) + W_KIND] === MD_BATCH_END;
}

/** Replays one ring record into `sink` (gateway side); a batch end calls nothing. */
export function readMarketData(v: RecordViews, offset: number, sink: MarketDataSink): void {
  const w = offset >> 2;
  const d = offset >> 3;
  const market = v.i32[w + W_MARKET]!;
  switch (v.i32[w + W_KIND]) {
    case MD_BATCH_END:
      return;
    case MD_TRADE:
      sink.trade(market, v.f64[d + D_A]!, v.i64[d + D_V]!, v.i64[d + D_V + 1]!, v.i64[d + D_V + 2]!, v.i32[w + W_SIDE]!, v.f64[d + D_TIME]!);
      return;
    case MD_DEPTH_DELTA:
      sink.depthDelta(market, v.f64[d + D_A]!, v.f64[d + D_B]!, v.f64[d + D_TIME]!);
      return;
    case MD_DEPTH_LEVEL:
      // Prices and sizes repeat from update to update: read through the table of recent values (no bigint allocated).
      sink.depthLevel(market, v.i32[w + W_SIDE]!, readInt64Interned(v, d + D_V), readInt64Interned(v, d + D_V + 1), v.f64[d + D_A]!);
      return;
    case MD_BBO:
      sink.bbo(market, readInt64Interned(v, d + D_V), readInt64Interned(v, d + D_V + 1), readInt64Interned(v, d + D_V + 2), readInt64Interned(v, d + D_V + 3), v.f64[d + D_A]!, v.f64[d + D_TIME]!);
      return;
    case MD_TICKER:
      sink.ticker(market, v.i64[d + D_V]!, v.i64[d + D_V + 1]!, v.i64[d + D_V + 2]!, v.i64[d + D_V + 3]!, v.i64[d + D_V + 4]!, v.i64[d + D_V + 5]!, v.i32[w + W_COUNT]!, v.f64[d + D_TIME]!);
      return;
    default:
      throw new Error(`market-data ring: unknown record kind ${v.i32[w + W_KIND]}`);
  }
}
