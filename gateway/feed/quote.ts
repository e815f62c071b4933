// The price feeder's quote sources (issue 12, item 2): what `crossbook feed` will send to the engine's oracle.
//
// Design (how `crossbook feed --source sim|file|backpack` uses this module once the oracle command exists):
//   - The feeder is a process outside the engine. It opens ONE operator connection (CrossbookClient.connect with the
//     operator key) and implements QuoteSink on it: each pushQuotes(batch) becomes one oracle command carrying the
//     batch's per-source quotes {bid, ask, last, sourceTimeMs} for one or more assets (asset symbols mapped to ids
//     through GET /config). The sink is the only part that knows the wire; every source here only produces quotes.
//   - Batches per tick: `sim` emits one batch per tick of the clock it is given (one quote per asset × source);
//     `file` emits one batch per distinct recorded time (records of the same sourceTimeMs travel together), paced
//     relative to the first record or as fast as possible; `backpack` keeps the latest quote per stream and emits
//     the fresh ones on each flush(nowMs) the feeder calls on its tick. A batch never exceeds
//     FEED_QUOTES_PER_BATCH_MAX quotes (pushInBatches splits), and an asset never has more than
//     FEED_SOURCES_PER_ASSET_MAX sources (= the engine's INDEX_SOURCES_MAX).
//   - The P2 rules stay in the engine (engine/perps/oracle-index.ts computeIndexPrice): the median of {bid, ask,
//     last} per source, the ±30 bps clamp around the median, the weighted mean with the per-asset source weights,
//     the step limit and the staleness cut at staleAfterMs of ENGINE time. The feeder does not pre-clamp or
//     pre-average; it forwards raw per-source quotes, so the engine's journal holds what the sources said.
//     FeedQuote maps one-to-one onto the engine's IndexSourceQuote (bid, ask, last at PRICE_DECIMALS; timeMs =
//     sourceTimeMs) — toIndexSourceQuote below. The feeder only withholds quotes that are already stale by its own
//     clock (the backpack adapter's flush), which saves the engine work it would discard anyway (P2 step 1).
//   - Prices are bigint fixed point at PRICE_DECIMALS (engine/model), parsed from decimal text with the house's
//     strict parser (engine/fixed parseDecimal); no floats touch a price.

import { PRICE_DECIMALS, tryParseDecimal, type Price } from "../../engine/fixed/index.ts";
import { INDEX_SOURCES_MAX, type IndexSourceQuote } from "../../engine/perps/oracle-index.ts";

/** Most quotes in one batch handed to a QuoteSink (one oracle command): bounds the command the engine journals. */
export const FEED_QUOTES_PER_BATCH_MAX = 128;
/** Most sources one asset may be fed from: the engine's bound on an index's sources (P2). */
export const FEED_SOURCES_PER_ASSET_MAX = INDEX_SOURCES_MAX;
/** Most assets one feeder serves. */
export const FEED_ASSETS_MAX = 32;
/** Longest asset symbol or source name, characters. */
export const FEED_NAME_LENGTH_MAX = 32;

/** One source's quote for one asset: the input of one IndexSourceQuote of P2. */
export interface FeedQuote {
  /** The engine asset's symbol ("BTC"); the sink maps it to the asset id. */
  readonly asset: string;
  /** The source's name as configured for the asset's index ("backpack", "sim-a"). */
  readonly source: string;
  /** Best bid, best ask, last: USD per whole unit at PRICE_DECIMALS, each > 0. */
  readonly bid: Price;
  readonly ask: Price;
  readonly last: Price;
  /** The source's own time of the quote, ms since epoch (P2 staleness is measured from it). */
  readonly sourceTimeMs: number;
}

/** Where the feeder pushes quotes: the oracle-command sender implements it (one call = one command). */
export interface QuoteSink {
  /** batch.length is in [1, FEED_QUOTES_PER_BATCH_MAX]; the sink may keep the array. */
  pushQuotes(batch: readonly FeedQuote[]): void | Promise<void>;
}

/** A quote refused at the feeder's boundary, with the reason. */
export class QuoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuoteError";
  }
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why an asset symbol or source name is refused, or null. */
export function checkFeedName(kind: string, name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return `${kind} must be a non-empty string`;
  if (name.length > FEED_NAME_LENGTH_MAX) return `${kind} longer than ${FEED_NAME_LENGTH_MAX} characters`;
  if (!NAME_PATTERN.test(name)) return `${kind} ${JSON.stringify(name)} has characters outside [A-Za-z0-9._-]`;
  return null;
}

/** Why a quote is refused, or null: names valid, prices > 0, bid ≤ ask, time a non-negative safe integer (ms). */
export function checkFeedQuote(q: FeedQuote): string | null {
  const nameError = checkFeedName("asset", q.asset) ?? checkFeedName("source", q.source);
  if (nameError !== null) return nameError;
  if (q.bid <= 0n || q.ask <= 0n || q.last <= 0n) return "bid, ask and last must be positive";
  if (q.bid > q.ask) return "bid above ask (crossed quote)";
  if (!Number.isSafeInteger(q.sourceTimeMs) || q.sourceTimeMs < 0) return "sourceTimeMs must be a non-negative integer";
  return null;
}

const parseError = { message: "" };

/** A positive price from decimal text at PRICE_DECIMALS ("64250.5"), or throws QuoteError naming the field. */
export function parseQuotePrice(field: string, text: unknown): Price {
  if (typeof text !== "string") throw new QuoteError(`${field} must be a decimal string`);
  const value = tryParseDecimal(text, PRICE_DECIMALS, false, parseError);
  if (value === null) throw new QuoteError(`${field}: ${parseError.message}`);
  if (value === 0n) throw new QuoteError(`${field} must be positive`);
  return value;
}

/** The engine's P2 input for this quote (engine/perps/oracle-index.ts IndexSourceQuote). */
export function toIndexSourceQuote(q: FeedQuote): IndexSourceQuote {
  return { bid: q.bid, ask: q.ask, last: q.last, timeMs: q.sourceTimeMs };
}

/**
 * Why a batch is refused, or null: 1..FEED_QUOTES_PER_BATCH_MAX quotes, each valid, at most
 * FEED_SOURCES_PER_ASSET_MAX distinct sources per asset and one quote per (asset, source).
 */
export function checkQuoteBatch(batch: readonly FeedQuote[]): string | null {
  if (batch.length < 1 || batch.length > FEED_QUOTES_PER_BATCH_MAX) return `a batch holds 1 to ${FEED_QUOTES_PER_BATCH_MAX} quotes, got ${batch.length}`;
  const sourcesByAsset = new Map<string, Set<string>>();
  for (let i = 0; i < batch.length; i++) {
    const q = batch[i]!;
    const error = checkFeedQuote(q);
    if (error !== null) return `quote ${i}: ${error}`;
    let sources = sourcesByAsset.get(q.asset);
    if (sources === undefined) {
      sources = new Set();
      sourcesByAsset.set(q.asset, sources);
    }
    if (sources.has(q.source)) return `quote ${i}: a second quote from ${q.source} for ${q.asset} in one batch`;
    sources.add(q.source);
    if (sources.size > FEED_SOURCES_PER_ASSET_MAX) return `quote ${i}: more than ${FEED_SOURCES_PER_ASSET_MAX} sources for ${q.asset}`;
  }
  return null;
}

/**
 * Pushes quotes to the sink in order, in consecutive batches of at most FEED_QUOTES_PER_BATCH_MAX, awaiting each.
 * Returns the number of batches pushed (0 for no quotes).
 */
export async function pushInBatches(sink: QuoteSink, quotes: readonly FeedQuote[]): Promise<number> {
  let batches = 0;
  for (let start = 0; start < quotes.length; start += FEED_QUOTES_PER_BATCH_MAX) {
    await sink.pushQuotes(quotes.slice(start, start + FEED_QUOTES_PER_BATCH_MAX));
    batches++;
  }
  return batches;
}
