// Server-side event encoding: engine EventRecords and market-data updates → EventEnvelope frames.
//
// One flatbuffers Builder per thread is reused for every frame, so every encoder here returns a VIEW into the
// builder's buffer that is valid only until the next call of any encoder in this module: hand it to uWS `send`
// (which copies) at once, or `.slice()` it to keep it. Values are written with scale = the asset's decimals
// (PRICE_DECIMALS for prices), so a client prints them without config.
import { REPORTED_RATIO_DECIMALS, REPORTED_RATIO_UNBOUNDED, type EventRecord, type ExchangeConfig } from "../../engine/model/index.ts";
import type { StressAccount, StressFills, StressReport, StressStage } from "../../engine/pipeline/what-if.ts";
import {
  AccountSnapshot,
  OpenOrder,
  ResumeDone,
  BookTicker,
  DepthDelta,
  DepthSnapshot,
  Event,
  EventEnvelope,
  Level,
  SnapshotTaken,
  Ticker,
  Trade,
  WhatIfAccount,
  WhatIfDone,
  WhatIfFills,
  WhatIfStage,
} from "../../schemas/index.ts";
import { encodeHotEvent } from "./event-writer.ts";
import { encodeEventBody, WIRE_EVENT_TYPE } from "./generated/encode-events.ts";
import { decimal as decimalWith, decimalsOf, EventBuilder, marketOf, PRICE_DECIMALS } from "./wire-values.ts";

export { feeAssetOf } from "./wire-values.ts";

const builder = new EventBuilder(1024);
/** Field slots of EventEnvelope (schemas/crossbook.fbs: client_seq, seq, market_seq, event_type, event). */
const ENVELOPE_SEQ_SLOT = 1;
const ENVELOPE_MARKET_SEQ_SLOT = 2;

/** Writes a Decimal struct inline with the module's builder. */
function decimal(value: bigint, scale: number): number {
  return decimalWith(builder, value, scale);
}

function finish(type: number, body: number, clientSeq: bigint, seq: number, marketSeq: number): Uint8Array {
  EventEnvelope.startEventEnvelope(builder);
  // client_seq is written even when 0, so that withClientSeq can set it in the encoded bytes (one encode per event
  // for the sender and the other watchers alike).
  builder.forceDefaults(true);
  EventEnvelope.addClientSeq(builder, clientSeq);
  builder.forceDefaults(false);
  // EventEnvelope.addSeq / addMarketSeq (slots 1 and 2) without a BigInt per field: the same bytes.
  builder.addFieldInt64Number(ENVELOPE_SEQ_SLOT, seq);
  builder.addFieldInt64Number(ENVELOPE_MARKET_SEQ_SLOT, marketSeq);
  EventEnvelope.addEventType(builder, type);
  EventEnvelope.addEvent(builder, body);
  builder.finish(EventEnvelope.endEventEnvelope(builder));
  return builder.asUint8Array();
}

/**
 * Encodes one engine event for the client that caused it (clientSeq = its command's client_seq, 0 otherwise). The
 * hot kinds (OrderAccepted, OrderDone, Balance, Fill) are written by event-writer.ts in the same bytes.
 * Envelope seq = e.seq (global sequence of the causing command), market_seq = e.marketSeq. The kind's wire table is
 * written by its generated encoder (gateway/codec/wire-map.ts → generated/encode-events.ts).
 * A Fill is addressed to one of its accounts: `asMaker` picks the maker's view (fee = makerFee, is_maker = true,
 * fee asset of the maker's side) instead of the taker's. Returns a view valid until the next encode.
 * Throws only on an impossible record (unknown kind, market or asset; a value beyond int64).
 */
export function encodeEvent(e: EventRecord, clientSeq: bigint, config: ExchangeConfig, asMaker = false): Uint8Array {
  return encodeHotEvent(e, clientSeq, config, asMaker) ?? encodeEventWithBuilder(e, clientSeq, config, asMaker);
}

/**
 * encodeEvent through the FlatBuffers Builder for every kind: what event-writer.ts's hot kinds are pinned against
 * (test/event-writer.test.ts), and every other kind's path.
 */
export function encodeEventWithBuilder(e: EventRecord, clientSeq: bigint, config: ExchangeConfig, asMaker = false): Uint8Array {
  builder.clear();
  const body = encodeEventBody(builder, e, config, asMaker);
  return finish(WIRE_EVENT_TYPE[e.kind]!, body, clientSeq, e.seq, e.marketSeq);
}

/** Bytes of the largest event frame withClientSeq patches in place; a larger one is copied (events are ~100–300 B). */
const CLIENT_SEQ_SCRATCH_BYTES = 4096;
const clientSeqScratch = new Uint8Array(CLIENT_SEQ_SCRATCH_BYTES);
const clientSeqView = new DataView(clientSeqScratch.buffer);

/**
 * The frame `frame` (an encodeEvent result, client_seq 0) with its envelope's client_seq set to `clientSeq`: the
 * same bytes but those 8, without encoding again. Returns a view of a reused buffer valid until the next call (hand
 * it to uWS `send`, which copies).
 */
export function withClientSeq(frame: Uint8Array, clientSeq: bigint): Uint8Array {
  const n = frame.length;
  const out = n <= CLIENT_SEQ_SCRATCH_BYTES ? clientSeqScratch.subarray(0, n) : new Uint8Array(n);
  out.set(frame);
  setClientSeq(n <= CLIENT_SEQ_SCRATCH_BYTES ? clientSeqView : new DataView(out.buffer), 0, clientSeq);
  return out;
}

/**
 * Sets the envelope's client_seq of the encodeEvent frame that starts at byte `frameAt` of `view`, in place (a copy
 * of a frame already queued: gateway/sessions.ts BatchedSocket.sendWithClientSeq). The envelope is the root table;
 * its vtable's first slot (client_seq, always written by finish) gives the field's offset.
 */
export function setClientSeq(view: DataView, frameAt: number, clientSeq: bigint): void {
  const table = frameAt + view.getUint32(frameAt, true);
  const vtable = table - view.getInt32(table, true);
  const field = view.getUint16(vtable + 4, true);
  if (field === 0) throw new RangeError("withClientSeq: the frame has no client_seq field (not an encodeEvent frame)");
  view.setBigUint64(table + field, clientSeq, true);
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

// ---- Q7: the answer to QueryWhatIf (gateway-only tables; each returns a view valid until the next encode) ----

/** One stage of a what-if cascade; `fundAsset` is the asset whose insurance fund is reported (USDC). */
export function encodeWhatIfStage(config: ExchangeConfig, st: StressStage, fundAsset: number, clientSeq: bigint, seq: number): Uint8Array {
  builder.clear();
  let fills = 0;
  for (const f of st.fills) fills += f.fills;
  WhatIfStage.startWhatIfStage(builder);
  WhatIfStage.addStage(builder, st.stage);
  WhatIfStage.addStarted(builder, st.started.length);
  WhatIfStage.addEnded(builder, st.ended.length);
  WhatIfStage.addFills(builder, fills);
  WhatIfStage.addInsuranceFund(builder, decimal(st.insuranceFund[fundAsset]!, decimalsOf(config, fundAsset)));
  return finish(Event.WhatIfStage, WhatIfStage.endWhatIfStage(builder), clientSeq, seq, 0);
}

/** A stage's engine fills in one market. */
export function encodeWhatIfFills(config: ExchangeConfig, stage: number, f: StressFills, clientSeq: bigint, seq: number): Uint8Array {
  builder.clear();
  const m = marketOf(config, f.market);
  WhatIfFills.startWhatIfFills(builder);
  WhatIfFills.addStage(builder, stage);
  WhatIfFills.addMarket(builder, f.market);
  WhatIfFills.addFills(builder, f.fills);
  WhatIfFills.addQuantity(builder, decimal(f.quantity, decimalsOf(config, m.baseAsset)));
  WhatIfFills.addQuoteQuantity(builder, decimal(f.quoteQuantity, decimalsOf(config, m.quoteAsset)));
  return finish(Event.WhatIfFills, WhatIfFills.endWhatIfFills(builder), clientSeq, seq, 0);
}

/** An account that started (or ended) liquidating in a stage; an unbounded MMR is left out. */
export function encodeWhatIfAccount(stage: number, a: StressAccount, started: boolean, clientSeq: bigint, seq: number): Uint8Array {
  builder.clear();
  WhatIfAccount.startWhatIfAccount(builder);
  WhatIfAccount.addStage(builder, stage);
  WhatIfAccount.addAccount(builder, a.account);
  WhatIfAccount.addStarted(builder, started);
  WhatIfAccount.addNetEquity(builder, decimal(a.netEquityUsd, PRICE_DECIMALS));
  WhatIfAccount.addExposure(builder, decimal(a.exposureUsd, PRICE_DECIMALS));
  if (a.mmr !== REPORTED_RATIO_UNBOUNDED) WhatIfAccount.addMmr(builder, decimal(a.mmr, REPORTED_RATIO_DECIMALS));
  return finish(Event.WhatIfAccount, WhatIfAccount.endWhatIfAccount(builder), clientSeq, seq, 0);
}

/** The end of a what-if answer (see the table's comment in crossbook.fbs). */
export function encodeWhatIfDone(config: ExchangeConfig, r: StressReport, fundAsset: number, accountsLeftOut: number, clientSeq: bigint, seq: number): Uint8Array {
  builder.clear();
  const fundDecimals = decimalsOf(config, fundAsset);
  WhatIfDone.startWhatIfDone(builder);
  WhatIfDone.addSeq(builder, BigInt(seq));
  WhatIfDone.addStages(builder, r.stages.length);
  WhatIfDone.addLiquidatingBefore(builder, r.liquidatingBefore.length);
  WhatIfDone.addLiquidatingAfter(builder, r.liquidatingAfter.length);
  WhatIfDone.addLiquidatingExposure(builder, decimal(r.liquidatingExposureUsd, PRICE_DECIMALS));
  WhatIfDone.addInsuranceFundBefore(builder, decimal(r.insuranceFundBefore[fundAsset]!, fundDecimals));
  WhatIfDone.addInsuranceFundAfter(builder, decimal(r.insuranceFundAfter[fundAsset]!, fundDecimals));
  WhatIfDone.addCutShort(builder, r.cutShort);
  WhatIfDone.addAccountsLeftOut(builder, accountsLeftOut);
  return finish(Event.WhatIfDone, WhatIfDone.endWhatIfDone(builder), clientSeq, seq, 0);
}
