// `file` quote source: replays a JSONL of recorded quotes, one FeedQuote per line:
//   {"asset":"BTC","source":"binance","bid":"64000.5","ask":"64001","last":"64000.7","sourceTimeMs":1700000000000}
// Prices are decimal strings at most PRICE_DECIMALS fraction digits (the house parser: no exponent, no float);
// exactly these six keys; lines of at most FEED_FILE_LINE_BYTES_MAX bytes; sourceTimeMs never decreasing from one
// line to the next. A file ending in a newline is fine; any other empty line is an error. Every error is a
// QuoteFileError naming the 1-based line number.
//
// Replay reads the whole file once to validate it (nothing is sent from a bad file), then streams it again: records
// of the same sourceTimeMs go out as one batch (split at FEED_QUOTES_PER_BATCH_MAX, or where a source repeats for
// an asset), each batch pushed once (its time − the first record's time) has passed since the replay began —
// timing preserved — or back to back with pace "fast".

import { createReadStream } from "node:fs";
import { checkFeedQuote, FEED_QUOTES_PER_BATCH_MAX, parseQuotePrice, QuoteError, type FeedQuote, type QuoteSink } from "./quote.ts";

/** Longest line of a quote file, bytes (without the newline). */
export const FEED_FILE_LINE_BYTES_MAX = 1024;
/** Most records one file may hold: bounds a replay's length. */
export const FEED_FILE_RECORDS_MAX = 10_000_000;

const RECORD_KEYS = ["asset", "source", "bid", "ask", "last", "sourceTimeMs"] as const;

/** A line of a quote file refused, with its 1-based number. */
export class QuoteFileError extends Error {
  constructor(
    readonly lineNumber: number,
    readonly reason: string,
  ) {
    super(`quote file line ${lineNumber}: ${reason}`);
    this.name = "QuoteFileError";
  }
}

function parseRecord(line: string): FeedQuote {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new QuoteError("not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new QuoteError("not a JSON object");
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(RECORD_KEYS as readonly string[]).includes(key)) throw new QuoteError(`unknown field ${JSON.stringify(key)}`);
  }
  for (const key of RECORD_KEYS) if (!(key in record)) throw new QuoteError(`missing field ${key}`);
  const quote: FeedQuote = {
    asset: record.asset as string,
    source: record.source as string,
    bid: parseQuotePrice("bid", record.bid),
    ask: parseQuotePrice("ask", record.ask),
    last: parseQuotePrice("last", record.last),
    sourceTimeMs: record.sourceTimeMs as number,
  };
  if (typeof quote.sourceTimeMs !== "number") throw new QuoteError("sourceTimeMs must be an integer (ms)");
  const error = checkFeedQuote(quote);
  if (error !== null) throw new QuoteError(error);
  return quote;
}

/** One line of a quote file as a FeedQuote, or throws QuoteFileError naming lineNumber. */
export function parseQuoteLine(line: string, lineNumber: number): FeedQuote {
  if (Buffer.byteLength(line, "utf8") > FEED_FILE_LINE_BYTES_MAX) throw new QuoteFileError(lineNumber, `longer than ${FEED_FILE_LINE_BYTES_MAX} bytes`);
  if (line.length === 0) throw new QuoteFileError(lineNumber, "empty line");
  try {
    return parseRecord(line);
  } catch (e) {
    if (e instanceof QuoteError) throw new QuoteFileError(lineNumber, e.message);
    throw e;
  }
}

/** The lines of a file, never holding more than FEED_FILE_LINE_BYTES_MAX bytes of one line (QuoteFileError beyond). */
async function* readBoundedLines(path: string): AsyncGenerator<string> {
  let pending = Buffer.alloc(0);
  let lineNumber = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let newline = data.indexOf(10);
    while (newline !== -1) {
      lineNumber++;
      if (newline > FEED_FILE_LINE_BYTES_MAX) throw new QuoteFileError(lineNumber, `longer than ${FEED_FILE_LINE_BYTES_MAX} bytes`);
      yield data.toString("utf8", 0, newline);
      data = data.subarray(newline + 1);
      newline = data.indexOf(10);
    }
    if (data.length > FEED_FILE_LINE_BYTES_MAX) throw new QuoteFileError(lineNumber + 1, `longer than ${FEED_FILE_LINE_BYTES_MAX} bytes`);
    pending = Buffer.from(data);
  }
  if (pending.length > 0) yield pending.toString("utf8");
}

/** Every record of a quote file in order, validated (QuoteFileError at the first bad line). */
export async function* readQuoteFile(path: string): AsyncGenerator<FeedQuote> {
  let lineNumber = 0;
  let previousTimeMs = -1;
  for await (const line of readBoundedLines(path)) {
    lineNumber++;
    if (lineNumber > FEED_FILE_RECORDS_MAX) throw new QuoteFileError(lineNumber, `more than ${FEED_FILE_RECORDS_MAX} records`);
    const quote = parseQuoteLine(line, lineNumber);
    if (quote.sourceTimeMs < previousTimeMs) {
      throw new QuoteFileError(lineNumber, `sourceTimeMs ${quote.sourceTimeMs} before the previous line's ${previousTimeMs}`);
    }
    previousTimeMs = quote.sourceTimeMs;
    yield quote;
  }
}

/** Reads and validates a whole quote file without keeping it; returns its record count (QuoteFileError if bad). */
export async function validateQuoteFile(path: string): Promise<number> {
  let count = 0;
  for await (const _ of readQuoteFile(path)) count++;
  return count;
}

export interface ReplayOptions {
  /** "recorded": each batch waits until its offset from the first record; "fast": back to back. */
  readonly pace: "recorded" | "fast";
  /** The clock the pacing follows (ms); default Date.now. */
  readonly nowMs?: () => number;
  /** Waits ms; default a timer. Tests pass one that advances their clock. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ReplayResult {
  readonly records: number;
  readonly batches: number;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether quote q can join the batch being gathered (same time, room left, no repeat of its asset and source). */
function fitsBatch(batch: readonly FeedQuote[], q: FeedQuote): boolean {
  if (batch.length === 0) return true;
  if (batch.length >= FEED_QUOTES_PER_BATCH_MAX || batch[0]!.sourceTimeMs !== q.sourceTimeMs) return false;
  for (const b of batch) if (b.asset === q.asset && b.source === q.source) return false;
  return true;
}

/** Replays a quote file into the sink (see the header); validates it whole first (QuoteFileError, nothing sent). */
export async function replayQuoteFile(path: string, sink: QuoteSink, options: ReplayOptions): Promise<ReplayResult> {
  const records = await validateQuoteFile(path);
  const nowMs = options.nowMs ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const startMs = nowMs();
  let firstTimeMs = -1;
  let batches = 0;
  let batch: FeedQuote[] = [];
  const send = async (): Promise<void> => {
    if (options.pace === "recorded") {
      const waitMs = startMs + (batch[0]!.sourceTimeMs - firstTimeMs) - nowMs();
      if (waitMs > 0) await sleep(waitMs);
    }
    await sink.pushQuotes(batch);
    batches++;
    batch = [];
  };
  for await (const q of readQuoteFile(path)) {
    if (firstTimeMs < 0) firstTimeMs = q.sourceTimeMs;
    if (!fitsBatch(batch, q)) await send();
    batch.push(q);
  }
  if (batch.length > 0) await send();
  return { records, batches };
}
