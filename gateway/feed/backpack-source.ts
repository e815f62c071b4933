// `backpack` quote source: Backpack Exchange's public book-ticker stream, in its documented message format.
//
// Format (Backpack Exchange API docs, Streams → Public → Book ticker, https://docs.backpack.exchange/#tag/Streams;
// the same shapes in the exchange's AsyncAPI description of its streams and in backpack-exchange/bpx-api-client
// client/src/ws/mod.rs): one WebSocket (wss://ws.backpack.exchange/), streams managed by frames
//   {"method":"SUBSCRIBE","params":["bookTicker.SOL_USDC", …]}
// and every data message wrapped as {"stream":"<name>","data":<payload>}; a refused request answers {"error":{…}}.
// The bookTicker payload:
//   {"e":"bookTicker","E":1694687692980000,"s":"SOL_USDC","a":"18.70","A":"1.000","b":"18.67","B":"2.000",
//    "u":"111063070525358080","T":1694687692989999}
// e event type, E event time (µs), s symbol, a/A best ask price/quantity, b/B best bid price/quantity, u update id,
// T engine time (µs). All stream timestamps are microseconds.
//
// What this adapter makes of it: one FeedQuote per (symbol → asset) with bid = b, ask = a, sourceTimeMs =
// floor(T / 1000). The stream carries no last trade, so last = floor((b + a) / 2): P2 takes the median of
// {bid, ask, last}, which is then the mid — the fair price of a book ticker.
//
// Connection: connect, subscribe to every configured market, parse. A close, an error or a silent stream (no
// message for silenceReconnectMs) reconnects after initialBackoffMs × 2^attempt, capped at maxBackoffMs; after
// reconnectAttemptsMax consecutive attempts without a good message the source gives up (state "failed", onError).
// Stale handling: flush(nowMs) pushes the newest quote of each market not yet sent, but drops one whose
// sourceTimeMs is more than staleAfterMs before nowMs (the engine's own P2 step-1 test, isSourceFresh: it would drop it anyway) and
// counts it; staleMarkets(nowMs) names the markets without a fresh quote, for the feeder's log.

import { isSourceFresh } from "../../engine/perps/oracle-index.ts";
import { checkFeedName, type FeedQuote, parseQuotePrice, QuoteError, type QuoteSink, pushInBatches, FEED_ASSETS_MAX } from "./quote.ts";

/** Longest message the adapter parses, bytes; a longer one is counted bad and skipped. */
export const BACKPACK_MESSAGE_BYTES_MAX = 4096;
/** Backpack's public WebSocket endpoint (the default url). */
export const BACKPACK_WS_URL = "wss://ws.backpack.exchange/";
/** Longest symbol accepted from the stream or the configuration. */
const SYMBOL_LENGTH_MAX = 32;
/** Microseconds per millisecond. */
const US_PER_MS = 1000;

export interface BackpackMarket {
  /** Backpack's market symbol, e.g. "SOL_USDC". */
  readonly symbol: string;
  /** The engine asset whose index it feeds, e.g. "SOL". */
  readonly asset: string;
}

export interface BackpackSourceConfig {
  readonly url: string;
  /** The source name in the assets' index configuration (default "backpack"). */
  readonly sourceName: string;
  readonly markets: readonly BackpackMarket[];
  /** P2 staleAfterMs of the engine's index configuration: older quotes are not sent. */
  readonly staleAfterMs: number;
  /** No message for this long (clock ms) → reconnect. */
  readonly silenceReconnectMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly reconnectAttemptsMax: number;
  /** The clock staleness and silence are measured on (ms). */
  readonly clockMs: () => number;
}

/** A parsed bookTicker: the market's symbol, best bid and ask (PRICE_DECIMALS) and engine time (ms). */
export interface BackpackBookTicker {
  readonly symbol: string;
  readonly bid: bigint;
  readonly ask: bigint;
  readonly sourceTimeMs: number;
}

function checkTimeUs(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw new QuoteError(`${field} must be a positive integer (µs)`);
  return value;
}

/** Parses one stream message as a bookTicker; throws QuoteError naming what is wrong (length, JSON, fields). */
export function parseBackpackBookTicker(text: string): BackpackBookTicker {
  if (text.length > BACKPACK_MESSAGE_BYTES_MAX || Buffer.byteLength(text, "utf8") > BACKPACK_MESSAGE_BYTES_MAX) throw new QuoteError(`message longer than ${BACKPACK_MESSAGE_BYTES_MAX} bytes`);
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw new QuoteError("message is not JSON");
  }
  const envelope = message as { stream?: unknown; data?: unknown; error?: unknown } | null;
  if (typeof envelope !== "object" || envelope === null) throw new QuoteError("message is not an object");
  if (envelope.error !== undefined) throw new QuoteError(`stream error: ${JSON.stringify(envelope.error).slice(0, 200)}`);
  const data = envelope.data as Record<string, unknown> | undefined;
  if (typeof data !== "object" || data === null) throw new QuoteError("message has no data object");
  if (data.e !== "bookTicker") throw new QuoteError(`event type ${JSON.stringify(data.e)} is not bookTicker`);
  const symbol = data.s;
  if (typeof symbol !== "string" || symbol.length === 0 || symbol.length > SYMBOL_LENGTH_MAX) throw new QuoteError("s (symbol) must be a short string");
  if (envelope.stream !== `bookTicker.${symbol}`) throw new QuoteError(`stream ${JSON.stringify(envelope.stream)} does not match symbol ${symbol}`);
  const bid = parseQuotePrice("b", data.b);
  const ask = parseQuotePrice("a", data.a);
  if (bid > ask) throw new QuoteError("b (bid) above a (ask)");
  checkTimeUs("E", data.E);
  const engineTimeUs = checkTimeUs("T", data.T);
  return { symbol, bid, ask, sourceTimeMs: Math.floor(engineTimeUs / US_PER_MS) };
}

/** The SUBSCRIBE frame for the markets' bookTicker streams. */
export function backpackSubscribeMessage(markets: readonly BackpackMarket[]): string {
  return JSON.stringify({ method: "SUBSCRIBE", params: markets.map((m) => `bookTicker.${m.symbol}`) });
}

/** Why a configuration is refused, or null. */
export function checkBackpackConfig(c: BackpackSourceConfig): string | null {
  const nameError = checkFeedName("sourceName", c.sourceName);
  if (nameError !== null) return nameError;
  if (c.markets.length < 1 || c.markets.length > FEED_ASSETS_MAX) return `1 to ${FEED_ASSETS_MAX} markets`;
  const symbols = new Set<string>();
  const assets = new Set<string>();
  for (const m of c.markets) {
    if (typeof m.symbol !== "string" || !/^[A-Z0-9._]{1,32}$/.test(m.symbol)) return `market symbol ${JSON.stringify(m.symbol)} is not a Backpack symbol`;
    const assetError = checkFeedName("asset", m.asset);
    if (assetError !== null) return assetError;
    if (symbols.has(m.symbol) || assets.has(m.asset)) return `market ${m.symbol} / asset ${m.asset} twice (one source quote per asset)`;
    symbols.add(m.symbol);
    assets.add(m.asset);
  }
  for (const [field, v] of [["staleAfterMs", c.staleAfterMs], ["silenceReconnectMs", c.silenceReconnectMs], ["initialBackoffMs", c.initialBackoffMs], ["maxBackoffMs", c.maxBackoffMs], ["reconnectAttemptsMax", c.reconnectAttemptsMax]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) return `${field} must be a positive integer`;
  }
  if (c.maxBackoffMs < c.initialBackoffMs) return "maxBackoffMs must be at least initialBackoffMs";
  return null;
}

/** The delay before reconnect attempt `attempt` (0-based): initial × 2^attempt, at most maxBackoffMs. */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  const doublings = Math.min(attempt, 30);
  return Math.min(maxMs, initialMs * 2 ** doublings);
}

export type BackpackSourceState = "idle" | "connecting" | "open" | "waiting" | "failed" | "stopped";

export interface BackpackSourceStats {
  messages: number;
  badMessages: number;
  connects: number;
  staleDropped: number;
  /** Every reconnect delay taken, in order (ms). */
  readonly reconnectDelaysMs: number[];
  lastError: string;
}

interface MarketSlot {
  readonly market: BackpackMarket;
  latest: FeedQuote | null;
  sent: boolean;
}

/** The Backpack book-ticker source: start() connects; the feeder calls flush(sink) on its tick. */
export class BackpackTickerSource {
  readonly stats: BackpackSourceStats = { messages: 0, badMessages: 0, connects: 0, staleDropped: 0, reconnectDelaysMs: [], lastError: "" };
  private readonly slots = new Map<string, MarketSlot>();
  private ws: WebSocket | null = null;
  private currentState: BackpackSourceState = "idle";
  private attempt = 0;
  private lastMessageMs = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  /** Called when the source gives up (state "failed"). */
  onError: (message: string) => void = () => {};

  /** Throws RangeError on a configuration checkBackpackConfig refuses. */
  constructor(private readonly config: BackpackSourceConfig) {
    const error = checkBackpackConfig(config);
    if (error !== null) throw new RangeError(`backpack source: ${error}`);
    for (const market of config.markets) this.slots.set(market.symbol, { market, latest: null, sent: false });
  }

  get state(): BackpackSourceState {
    return this.currentState;
  }

  /** Opens the connection (and keeps reopening it, per the header). */
  start(): void {
    if (this.currentState !== "idle") throw new Error(`backpack source: start() in state ${this.currentState}`);
    if (typeof WebSocket === "undefined") throw new Error("this Node has no global WebSocket: run node with --experimental-websocket (Node 20)");
    this.silenceTimer = setInterval(() => this.checkSilence(), Math.max(1, Math.floor(this.config.silenceReconnectMs / 4)));
    this.connect();
  }

  /** Closes the connection and stops reconnecting. */
  stop(): void {
    this.currentState = "stopped";
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.silenceTimer !== null) clearInterval(this.silenceTimer);
    this.reconnectTimer = null;
    this.silenceTimer = null;
    this.ws?.close();
    this.ws = null;
  }

  /** The newest parsed quote of a market (sent or not), or null. */
  latest(symbol: string): FeedQuote | null {
    return this.slots.get(symbol)?.latest ?? null;
  }

  /** Markets whose newest quote is missing or older than staleAfterMs at nowMs (P2's stale sources). */
  staleMarkets(nowMs: number): string[] {
    const stale: string[] = [];
    for (const [symbol, slot] of this.slots) {
      if (slot.latest === null || !isSourceFresh(slot.latest.sourceTimeMs, nowMs, this.config.staleAfterMs)) stale.push(symbol);
    }
    return stale;
  }

  /** The unsent, fresh newest quotes at nowMs (stale ones are dropped and counted); each is returned once. */
  takeFresh(nowMs: number): FeedQuote[] {
    const fresh: FeedQuote[] = [];
    for (const slot of this.slots.values()) {
      if (slot.latest === null || slot.sent) continue;
      slot.sent = true;
      if (!isSourceFresh(slot.latest.sourceTimeMs, nowMs, this.config.staleAfterMs)) this.stats.staleDropped++;
      else fresh.push(slot.latest);
    }
    return fresh;
  }

  /** takeFresh at the clock's time, pushed to the sink in batches; returns the number of quotes pushed. */
  async flush(sink: QuoteSink): Promise<number> {
    const quotes = this.takeFresh(this.config.clockMs());
    await pushInBatches(sink, quotes);
    return quotes.length;
  }

  private connect(): void {
    this.currentState = "connecting";
    this.stats.connects++;
    this.lastMessageMs = this.config.clockMs();
    const ws = new WebSocket(this.config.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.currentState = "open";
      ws.send(backpackSubscribeMessage(this.config.markets));
    });
    ws.addEventListener("message", (m: MessageEvent) => {
      if (this.ws === ws) this.onMessage(m.data);
    });
    // A failed connection fires "error" without "close" in Node 20's WebSocket: either one reconnects, once.
    ws.addEventListener("error", () => {
      if (this.ws !== ws) return;
      this.stats.lastError = `connection to ${this.config.url} failed`;
      this.scheduleReconnect();
      ws.close();
    });
    ws.addEventListener("close", () => {
      if (this.ws === ws) this.scheduleReconnect();
    });
  }

  private onMessage(data: unknown): void {
    this.lastMessageMs = this.config.clockMs();
    try {
      if (typeof data !== "string") throw new QuoteError("binary frame (the stream sends text)");
      const ticker = parseBackpackBookTicker(data);
      const slot = this.slots.get(ticker.symbol);
      if (slot === undefined) throw new QuoteError(`symbol ${ticker.symbol} was not subscribed`);
      this.stats.messages++;
      this.attempt = 0;
      if (slot.latest !== null && ticker.sourceTimeMs < slot.latest.sourceTimeMs) return; // out of order: keep newer
      const last = (ticker.bid + ticker.ask) / 2n;
      slot.latest = { asset: slot.market.asset, source: this.config.sourceName, bid: ticker.bid, ask: ticker.ask, last, sourceTimeMs: ticker.sourceTimeMs };
      slot.sent = false;
    } catch (e) {
      if (!(e instanceof QuoteError)) throw e;
      this.stats.badMessages++;
      this.stats.lastError = e.message;
    }
  }

  private checkSilence(): void {
    if (this.currentState !== "open" && this.currentState !== "connecting") return;
    if (this.config.clockMs() - this.lastMessageMs <= this.config.silenceReconnectMs) return;
    this.stats.lastError = `no message for more than ${this.config.silenceReconnectMs} ms`;
    const ws = this.ws;
    this.scheduleReconnect();
    ws?.close();
  }

  private scheduleReconnect(): void {
    if (this.currentState === "stopped" || this.currentState === "failed" || this.currentState === "waiting") return;
    this.ws = null;
    if (this.attempt >= this.config.reconnectAttemptsMax) {
      this.currentState = "failed";
      if (this.silenceTimer !== null) clearInterval(this.silenceTimer);
      this.silenceTimer = null;
      this.onError(`backpack source gave up after ${this.attempt} reconnect attempts: ${this.stats.lastError}`);
      return;
    }
    const delayMs = backoffDelayMs(this.attempt, this.config.initialBackoffMs, this.config.maxBackoffMs);
    this.attempt++;
    this.stats.reconnectDelaysMs.push(delayMs);
    this.currentState = "waiting";
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.currentState === "waiting") this.connect();
    }, delayMs);
  }
}
