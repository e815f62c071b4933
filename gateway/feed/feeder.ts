// `crossbook feed` (issue 12 item 2): the price feeder, a process outside the engine. It reads the server's public
// config (which assets have an oracle, their sources by index), opens one operator session (oracle-sender.ts), and
// drives one quote source:
//   - sim: the seeded walk of sim-source.ts, one walk step per tick of --interval-ms, feeding each asset's sources
//     whose name starts with "sim" (default config: sim-a, sim-b). The walk is a function of the seed and the
//     number of ticks; the quotes are stamped with the wall clock at the tick (the engine's staleness clock).
//   - file: replays a JSONL quote file (file-source.ts) at its recorded pace, re-stamped so its first record is
//     "now" (recorded times are in the past and the engine would read them as stale); the feeder ends with the file.
//   - backpack: Backpack's public book-ticker stream (backpack-source.ts), market <ASSET>_USDC feeding the source
//     named "backpack"; the fresh quotes of each tick are sent.
// A tick that overruns its interval skips the ticks it missed (counted), so quotes never queue up behind a slow
// server. A summary line is printed every FEED_LOG_EVERY_MS.
import type { KeyObject } from "node:crypto";
import type { OracleQuoteCommand } from "../client/codec.ts";
import type { PublicConfig } from "../client/ws-client.ts";
import { BACKPACK_WS_URL, BackpackTickerSource } from "./backpack-source.ts";
import { QuoteFileError, readQuoteFile, replayQuoteFile } from "./file-source.ts";
import { FeedError, FEED_INFLIGHT_MAX, OracleSender, oracleTargets, type OracleTarget } from "./oracle-sender.ts";
import { checkFeedName, FEED_ASSETS_MAX, pushInBatches, type FeedQuote, type QuoteSink } from "./quote.ts";
import { SimQuoteSource, type SimAssetConfig, type SimConfig } from "./sim-source.ts";

export const FEED_SOURCE_KINDS = ["sim", "file", "backpack"] as const;
export type FeedSourceKind = (typeof FEED_SOURCE_KINDS)[number];
/** Default tick: every 2 s (see README "Prices: the oracle and the feeder" for what it journals). */
export const FEED_INTERVAL_MS_DEFAULT = 2000;
export const FEED_INTERVAL_MS_MIN = 100;
export const FEED_INTERVAL_MS_MAX = 60_000;
/** A summary line at most this often, ms. */
export const FEED_LOG_EVERY_MS = 10_000;
/** How long stop() waits for the commands in flight to be answered, ms. */
const FEED_DRAIN_MS = 3000;

export interface FeederOptions {
  /** The crossbook server, ws://HOST:PORT. */
  readonly url: string;
  readonly operatorKey: KeyObject;
  readonly source: FeedSourceKind;
  /** sim: the walk's seed, an integer in [0, 2^32). */
  readonly seed: number;
  /** file: the JSONL quote file. */
  readonly file?: string;
  /** backpack: the stream's url (default Backpack's public endpoint). */
  readonly sourceUrl?: string;
  /** Asset symbols to feed; default every asset with an oracle source of this kind. */
  readonly assets?: readonly string[];
  /** sim and backpack: ms between ticks. */
  readonly intervalMs: number;
  readonly inflightMax: number;
  readonly log: (line: string) => void;
  /** Called with every command just before it is sent. */
  readonly onCommand?: (cmd: OracleQuoteCommand) => void;
}

/** Throws FeedError naming the first option out of bounds. */
export function checkFeederOptions(o: FeederOptions): void {
  if (!(FEED_SOURCE_KINDS as readonly string[]).includes(o.source)) throw new FeedError(`--source must be one of ${FEED_SOURCE_KINDS.join(", ")}, got ${JSON.stringify(o.source)}`);
  if (!/^wss?:\/\/[^/\s]+/.test(o.url)) throw new FeedError(`--url must be ws://HOST:PORT, got ${JSON.stringify(o.url)}`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffff_ffff) throw new FeedError(`--seed must be an integer in [0, 4294967295], got ${o.seed}`);
  if (!Number.isInteger(o.intervalMs) || o.intervalMs < FEED_INTERVAL_MS_MIN || o.intervalMs > FEED_INTERVAL_MS_MAX) {
    throw new FeedError(`--interval-ms must be an integer in [${FEED_INTERVAL_MS_MIN}, ${FEED_INTERVAL_MS_MAX}], got ${o.intervalMs}`);
  }
  if (!Number.isInteger(o.inflightMax) || o.inflightMax < 1 || o.inflightMax > FEED_INFLIGHT_MAX) throw new FeedError(`--inflight must be an integer in [1, ${FEED_INFLIGHT_MAX}]`);
  if ((o.source === "file") !== (o.file !== undefined)) throw new FeedError(o.source === "file" ? "--source file needs --file QUOTES.jsonl" : "--file goes with --source file");
  if (o.sourceUrl !== undefined && (o.source !== "backpack" || !/^wss?:\/\//.test(o.sourceUrl))) throw new FeedError("--source-url takes a ws:// or wss:// url and goes with --source backpack");
  if (o.assets === undefined) return;
  if (o.assets.length < 1 || o.assets.length > FEED_ASSETS_MAX) throw new FeedError(`--assets names 1 to ${FEED_ASSETS_MAX} assets`);
  for (const a of o.assets) {
    const error = checkFeedName("asset", a);
    if (error !== null) throw new FeedError(`--assets: ${error}`);
  }
  if (new Set(o.assets).size !== o.assets.length) throw new FeedError("--assets names an asset twice");
}

/** The source names a kind feeds for an asset (file: whatever its records name). */
function fedSources(kind: FeedSourceKind, target: OracleTarget): readonly string[] {
  if (kind === "sim") return target.sources.filter((s) => s.startsWith("sim"));
  if (kind === "backpack") return target.sources.filter((s) => s === "backpack");
  return target.sources;
}

/** The assets fed: the ones named (each must have an oracle source of this kind), else every one that has one. */
export function selectTargets(pub: PublicConfig, kind: FeedSourceKind, assets: readonly string[] | undefined): OracleTarget[] {
  const targets = oracleTargets(pub);
  if (assets === undefined) {
    const all = [...targets.values()].filter((t) => fedSources(kind, t).length > 0);
    if (all.length === 0) throw new FeedError(`no asset on this server has an oracle source for --source ${kind}`);
    return all;
  }
  return assets.map((symbol) => {
    const t = targets.get(symbol.toUpperCase());
    if (t === undefined) throw new FeedError(`--assets: ${symbol} is not an asset with an oracle (those are: ${[...targets.keys()].join(", ")})`);
    if (fedSources(kind, t).length === 0) throw new FeedError(`--assets: ${t.symbol}'s oracle has no ${kind} source (its sources: ${t.sources.join(", ")})`);
    return t;
  });
}

/** The demo walk of one asset: ~0.025% a step, a 0.5% jump about once in 2,000 steps; stablecoins barely move. */
function simAsset(t: OracleTarget): SimAssetConfig {
  const stable = t.symbol.startsWith("USD");
  return {
    asset: t.symbol,
    startMid: t.initialMark,
    driftPpm: 0,
    volatilityPpm: stable ? 10 : 250,
    jumpProbabilityPpm: stable ? 0 : 500,
    jumpPpm: 5000,
    sources: fedSources("sim", t).map((name) => ({ name, weight: 1_000_000_000_000_000_000n, noisePpm: stable ? 5 : 100, offsetMaxPpm: stable ? 50 : 1500, spreadPpm: stable ? 20 : 100 })),
  };
}

/** The sim source's configuration for these assets: one walk step per tick. */
export function simConfigFor(targets: readonly OracleTarget[], seed: number, stepMs: number): SimConfig {
  return { seed, stepMs, assets: targets.map(simAsset) };
}

/** A replay stopped by stop(): not an error. */
class FeedStopped extends Error {}

export class Feeder {
  readonly sender: OracleSender;
  ticks = 0;
  skippedTicks = 0;
  /** Why the feeder stopped on its own (a refused login, a failed source, a bad quote), or null. */
  error: Error | null = null;
  /** Resolves when the feeder has stopped (stop(), the file's end, or an error). */
  readonly done: Promise<void>;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private lastLogMs = 0;
  private backpack: BackpackTickerSource | null = null;
  private readonly symbols: Map<number, string>;

  private constructor(
    private readonly options: FeederOptions,
    private readonly targets: readonly OracleTarget[],
  ) {
    this.symbols = new Map(targets.map((t) => [t.assetId, t.symbol]));
    this.sender = new OracleSender({
      url: options.url,
      operatorKey: options.operatorKey,
      inflightMax: options.inflightMax,
      targets: new Map(targets.map((t) => [t.symbol, t])),
      log: options.log,
      ...(options.onCommand !== undefined ? { onCommand: options.onCommand } : {}),
      onFatal: (e) => this.fail(e),
    });
    this.done = Promise.resolve().then(() => this.run());
  }

  /** Checks the options against the server's config (FeedError), connects and starts ticking. */
  static async start(options: FeederOptions, pub: PublicConfig): Promise<Feeder> {
    checkFeederOptions(options);
    const targets = selectTargets(pub, options.source, options.assets);
    if (options.file !== undefined) await checkQuoteFileTargets(options.file, targets);
    return new Feeder(options, targets);
  }

  /** What the feeder does, one line (the start-up log). */
  describe(): string {
    const assets = this.targets.map((t) => t.symbol).join(", ");
    switch (this.options.source) {
      case "sim":
        return `sim (seed ${this.options.seed}) every ${this.options.intervalMs} ms for ${assets} — prices are simulated`;
      case "file":
        return `file ${this.options.file} for ${assets} — recorded quotes, re-stamped to now`;
      default:
        return `backpack ${this.options.sourceUrl ?? BACKPACK_WS_URL} every ${this.options.intervalMs} ms for ${assets}`;
    }
  }

  /** Stops ticking, waits (bounded) for the answers in flight, closes the session; prints the summary. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.backpack?.stop();
      if (this.timer !== null) clearTimeout(this.timer);
      this.wake?.();
    }
    await this.done;
  }

  private fail(e: Error): void {
    if (this.error === null) this.error = e;
    void this.stop();
  }

  private async run(): Promise<void> {
    this.sender.start();
    try {
      // The first tick waits for the session (or stop()): quotes before it would only be dropped.
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void this.sender.whenConnected().then(resolve);
      });
      if (this.options.source === "sim") await this.runSim();
      else if (this.options.source === "backpack") await this.runBackpack();
      else await this.runFile();
    } catch (e) {
      if (!(e instanceof FeedStopped) && this.error === null) this.error = e instanceof Error ? e : new Error(String(e));
    }
    this.stopping = true;
    await this.sender.drain(FEED_DRAIN_MS);
    await this.sender.stop();
    this.options.log(`stopped: ${this.summary()}`);
  }

  private async runSim(): Promise<void> {
    let simClockMs = 0;
    const sim = new SimQuoteSource(simConfigFor(this.targets, this.options.seed, this.options.intervalMs), () => simClockMs);
    await this.tickLoop(() => {
      simClockMs += this.options.intervalMs;
      const nowMs = Date.now();
      return sim.poll().map((q) => ({ ...q, sourceTimeMs: nowMs }));
    });
  }

  private async runBackpack(): Promise<void> {
    const source = new BackpackTickerSource({
      url: this.options.sourceUrl ?? BACKPACK_WS_URL,
      sourceName: "backpack",
      markets: this.targets.map((t) => ({ symbol: `${t.symbol}_USDC`, asset: t.symbol })),
      staleAfterMs: Math.min(...this.targets.map((t) => t.staleAfterMs)),
      silenceReconnectMs: 30_000,
      initialBackoffMs: 500,
      maxBackoffMs: 30_000,
      reconnectAttemptsMax: 1000,
      clockMs: Date.now,
    });
    source.onError = (message) => this.fail(new FeedError(`backpack source: ${message}`));
    this.backpack = source;
    source.start();
    await this.tickLoop(() => source.takeFresh(Date.now()));
  }

  private async runFile(): Promise<void> {
    let firstMs = -1;
    let startMs = 0;
    const restamped: QuoteSink = {
      pushQuotes: async (batch: readonly FeedQuote[]): Promise<void> => {
        if (this.stopping) throw new FeedStopped();
        if (firstMs < 0) [firstMs, startMs] = [batch[0]!.sourceTimeMs, Date.now()];
        await this.sender.pushQuotes(batch.map((q) => ({ ...q, sourceTimeMs: startMs + q.sourceTimeMs - firstMs })));
        this.ticks++;
        this.maybeLog();
      },
    };
    const result = await replayQuoteFile(this.options.file!, restamped, { pace: "recorded", sleep: (ms) => this.sleep(ms) });
    this.options.log(`${this.options.file}: replayed ${result.records} quotes in ${result.batches} updates`);
  }

  /** Every interval: produce the tick's quotes and send them; missed ticks are skipped, not caught up. */
  private async tickLoop(produce: () => FeedQuote[]): Promise<void> {
    const intervalMs = this.options.intervalMs;
    let nextMs = Date.now();
    while (!this.stopping) {
      const quotes = produce();
      if (quotes.length > 0) await pushInBatches(this.sender, quotes);
      this.ticks++;
      this.maybeLog();
      nextMs += intervalMs;
      const lateMs = Date.now() - nextMs;
      if (lateMs > 0) {
        const missed = Math.ceil(lateMs / intervalMs);
        this.skippedTicks += missed;
        nextMs += missed * intervalMs;
      }
      await this.sleep(nextMs - Date.now());
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) return resolve();
      this.wake = resolve;
      this.timer = setTimeout(resolve, Math.max(0, ms));
    });
  }

  private maybeLog(): void {
    const nowMs = Date.now();
    if (nowMs - this.lastLogMs < FEED_LOG_EVERY_MS) return;
    this.lastLogMs = nowMs;
    this.options.log(this.summary());
  }

  /** "tick 12: BTC 60012.5 (2 sources), … | sent …, accepted …, refused …, dropped …". */
  summary(): string {
    const s = this.sender.stats;
    const prices: string[] = [];
    for (const [asset, seen] of s.indexes) {
      prices.push(`${this.symbols.get(asset) ?? asset} ${seen.stale ? "stale" : seen.index}${seen.stepLimited ? " (step-limited)" : ""}`);
    }
    const skipped = this.skippedTicks > 0 ? `, ${this.skippedTicks} ticks skipped` : "";
    return `tick ${this.ticks}: ${prices.length > 0 ? prices.join(", ") : "no index yet"} | sent ${s.sent}, accepted ${s.accepted}, refused ${s.rejected}, dropped ${s.dropped}${skipped}`;
  }
}

/** Every record of the quote file names an asset fed here and one of its sources (FeedError naming the line). */
async function checkQuoteFileTargets(path: string, targets: readonly OracleTarget[]): Promise<void> {
  const bySymbol = new Map(targets.map((t) => [t.symbol, t]));
  let line = 0;
  try {
    for await (const q of readQuoteFile(path)) {
      line++;
      const t = bySymbol.get(q.asset);
      if (t === undefined) throw new FeedError(`${path} line ${line}: asset ${q.asset} is not fed here (fed: ${[...bySymbol.keys()].join(", ")})`);
      if (!t.sources.includes(q.source)) throw new FeedError(`${path} line ${line}: ${q.asset} has no oracle source ${q.source} (its sources: ${t.sources.join(", ")})`);
    }
  } catch (e) {
    if (e instanceof QuoteFileError) throw new FeedError(`${path}: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code !== undefined) throw new FeedError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code}`);
    throw e;
  }
}
