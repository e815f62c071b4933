// gateway/feed: the price feeder's quote sources (issue 12 item 2) — the quote record and its limits, the seeded sim
// walk (exact sequences), JSONL replay (line-numbered errors, pacing), and the Backpack bookTicker adapter against a
// stand-in uWebSockets.js server on loopback (subscription, parsing, P2 staleness, bounded reconnect backoff).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RATIO_SCALE } from "../engine/model/index.ts";
import {
  computeIndexPrice,
  INDEX_CLAMP_BPS_DEFAULT,
  INDEX_STALE_AFTER_MS_DEFAULT,
  IndexResult,
  MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT,
} from "../engine/perps/oracle-index.ts";
import {
  backoffDelayMs,
  backpackSubscribeMessage,
  BackpackTickerSource,
  checkBackpackConfig,
  checkQuoteBatch,
  checkSimConfig,
  FEED_QUOTES_PER_BATCH_MAX,
  FEED_SOURCES_PER_ASSET_MAX,
  type FeedQuote,
  Mulberry32,
  parseBackpackBookTicker,
  parseQuoteLine,
  parseQuotePrice,
  pushInBatches,
  QuoteError,
  QuoteFileError,
  type QuoteSink,
  replayQuoteFile,
  type SimConfig,
  SimQuoteSource,
  toIndexSourceQuote,
  type BackpackSourceConfig,
} from "../gateway/feed/index.ts";

const ONE = RATIO_SCALE;
const T0 = 1_700_000_000_000;

/** A sink that keeps every batch it is given. */
class CollectingSink implements QuoteSink {
  readonly batches: FeedQuote[][] = [];
  pushQuotes(batch: readonly FeedQuote[]): void {
    this.batches.push([...batch]);
  }
  get quotes(): FeedQuote[] {
    return this.batches.flat();
  }
}

function quote(asset: string, source: string, bid: bigint, ask: bigint, last: bigint, sourceTimeMs: number): FeedQuote {
  return { asset, source, bid, ask, last, sourceTimeMs };
}

/** Polls cond every 5 ms until true; fails after timeoutMs. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("feed quote record and limits", () => {
  it("P2: prices parse at PRICE_DECIMALS with the house parser — exact units, no floats, over-scale and exponents refused", () => {
    expect(parseQuotePrice("bid", "64000.5")).toBe(64_000_500_000_000n);
    expect(parseQuotePrice("bid", "0.000000001")).toBe(1n);
    expect(() => parseQuotePrice("bid", "0.0000000001")).toThrow(/bid: over-scale/);
    expect(() => parseQuotePrice("ask", "6.4e4")).toThrow(/ask: exponent notation not allowed/);
    expect(() => parseQuotePrice("last", 64000.5)).toThrow(/last must be a decimal string/);
    expect(() => parseQuotePrice("last", "0")).toThrow(/last must be positive/);
    expect(() => parseQuotePrice("last", "-1")).toThrow(QuoteError);
  });

  it("P2: a batch holds at most FEED_QUOTES_PER_BATCH_MAX quotes, one per (asset, source), at most FEED_SOURCES_PER_ASSET_MAX sources per asset", async () => {
    expect(FEED_QUOTES_PER_BATCH_MAX).toBe(128);
    expect(FEED_SOURCES_PER_ASSET_MAX).toBe(16);
    const q = quote("BTC", "s0", 10n, 11n, 10n, T0);
    expect(checkQuoteBatch([q])).toBeNull();
    expect(checkQuoteBatch([])).toBe("a batch holds 1 to 128 quotes, got 0");
    expect(checkQuoteBatch([q, { ...q }])).toBe("quote 1: a second quote from s0 for BTC in one batch");
    const seventeen = Array.from({ length: 17 }, (_, i) => quote("BTC", `s${i}`, 10n, 11n, 10n, T0));
    expect(checkQuoteBatch(seventeen)).toBe("quote 16: more than 16 sources for BTC");
    expect(checkQuoteBatch([quote("BTC", "s0", 12n, 11n, 11n, T0)])).toBe("quote 0: bid above ask (crossed quote)");
    expect(checkQuoteBatch([quote("BTC", "s0", 10n, 11n, 10n, -1)])).toBe("quote 0: sourceTimeMs must be a non-negative integer");
    expect(checkQuoteBatch([quote("B TC", "s0", 10n, 11n, 10n, T0)])).toBe('quote 0: asset "B TC" has characters outside [A-Za-z0-9._-]');

    const many = Array.from({ length: 300 }, (_, i) => quote(`A${i}`, "s0", 10n, 11n, 10n, T0));
    const sink = new CollectingSink();
    expect(await pushInBatches(sink, many)).toBe(3);
    expect(sink.batches.map((b) => b.length)).toEqual([128, 128, 44]);
    expect(sink.quotes).toEqual(many);
  });

  it("P2: a FeedQuote maps one-to-one onto the engine's IndexSourceQuote", () => {
    expect(toIndexSourceQuote(quote("BTC", "s0", 10n, 12n, 11n, T0))).toEqual({ bid: 10n, ask: 12n, last: 11n, timeMs: T0 });
  });
});

const SIM: SimConfig = {
  seed: 7,
  stepMs: 1000,
  assets: [
    {
      asset: "BTC",
      startMid: 64_000_000_000_000n,
      driftPpm: 0,
      volatilityPpm: 200,
      jumpProbabilityPpm: 50_000,
      jumpPpm: 5_000,
      sources: [
        { name: "sim-a", weight: ONE, noisePpm: 50, offsetMaxPpm: 500, spreadPpm: 100 },
        { name: "sim-b", weight: 2n * ONE, noisePpm: 50, offsetMaxPpm: 500, spreadPpm: 100 },
      ],
    },
    {
      asset: "SOL",
      startMid: 150_000_000_000n,
      driftPpm: 10,
      volatilityPpm: 500,
      jumpProbabilityPpm: 0,
      jumpPpm: 0,
      sources: [{ name: "sim-a", weight: ONE, noisePpm: 100, offsetMaxPpm: 1000, spreadPpm: 300 }],
    },
  ],
};

describe("sim source", () => {
  it("mulberry32 gives the published reference sequence (seed 42 → 0.6011037519201636 × 2^32 first)", () => {
    const r = new Mulberry32(42);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([2581720956, 1925393290, 3661312704]);
  });

  it("P2: a seed gives an exact quote sequence, driven by the clock passed in (no sleeping)", () => {
    let now = T0;
    const sim = new SimQuoteSource(SIM, () => now);
    const first = sim.poll();
    // Starting state: offsets 0, so bid/ask = mid ∓ mid × 100 ppm exactly; last drawn inside the spread.
    expect(first).toEqual([
      quote("BTC", "sim-a", 63_993_600_000_000n, 64_006_400_000_000n, 63_993_749_820_840n, T0),
      quote("BTC", "sim-b", 63_993_600_000_000n, 64_006_400_000_000n, 63_994_393_065_696n, T0),
      quote("SOL", "sim-a", 149_955_000_000n, 150_045_000_000n, 150_042_921_686n, T0),
    ]);
    expect(sim.poll()).toEqual([]); // no step elapsed on the clock
    now += 999;
    expect(sim.poll()).toEqual([]);
    now += 1;
    expect(sim.poll()).toEqual([
      quote("BTC", "sim-a", 64_002_878_598_448n, 64_015_680_454_352n, 64_012_221_675_678n, T0 + 1000),
      quote("BTC", "sim-b", 64_004_350_723_541n, 64_017_152_873_899n, 64_007_651_317_117n, T0 + 1000),
      quote("SOL", "sim-a", 149_941_503_832n, 150_031_495_730n, 149_955_537_921n, T0 + 1000),
    ]);
    now += 1000;
    sim.poll();
    now += 61_000; // 61 steps in one poll, two of them jumps
    expect(sim.poll()).toEqual([
      quote("BTC", "sim-a", 64_587_552_516_713n, 64_600_471_319_095n, 64_595_749_760_332n, T0 + 63_000),
      quote("BTC", "sim-b", 64_619_592_524_482n, 64_632_517_735_506n, 64_621_131_259_510n, T0 + 63_000),
      quote("SOL", "sim-a", 150_224_639_989n, 150_314_801_821n, 150_273_940_754n, T0 + 63_000),
    ]);
    expect(sim.jumps).toBe(2);
    expect(sim.midOf("BTC")).toBe(64_603_250_182_680n);
  });

  it("the same seed and clock readings give identical sequences; another seed does not", () => {
    const run = (seed: number): FeedQuote[][] => {
      let now = T0;
      const sim = new SimQuoteSource({ ...SIM, seed }, () => now);
      const out: FeedQuote[][] = [];
      for (let i = 0; i < 500; i++) {
        out.push(sim.poll());
        now += 1000 + (i % 3) * 1000;
      }
      return out;
    };
    const a = run(12345);
    expect(run(12345)).toEqual(a);
    expect(run(12346)).not.toEqual(a);
    for (const batch of a) expect(checkQuoteBatch(batch)).toBeNull();
  });

  it("drift without noise compounds exactly: mid × (1 + 100 ppm) per step, truncated", () => {
    let now = T0;
    const sim = new SimQuoteSource(
      {
        seed: 1,
        stepMs: 500,
        assets: [
          {
            asset: "ETH",
            startMid: 100_000_000_000n,
            driftPpm: 100,
            volatilityPpm: 0,
            jumpProbabilityPpm: 0,
            jumpPpm: 0,
            sources: [{ name: "x", weight: ONE, noisePpm: 0, offsetMaxPpm: 0, spreadPpm: 0 }],
          },
        ],
      },
      () => now,
    );
    sim.poll();
    now += 1500; // three steps
    // 100e9 → 100_010_000_000 → 100_020_001_000 → 100_030_003_000 (100_020_001_000 × 100 / 1e6 = 10_002_000.1 → 10_002_000)
    expect(sim.poll()).toEqual([quote("ETH", "x", 100_030_003_000n, 100_030_003_000n, 100_030_003_000n, T0 + 1500)]);
  });

  it("jumps: with probability 1 every step moves the mid by exactly ± jumpPpm", () => {
    let now = T0;
    const sim = new SimQuoteSource(
      {
        seed: 99,
        stepMs: 1000,
        assets: [
          {
            asset: "SOL",
            startMid: 100_000_000_000n,
            driftPpm: 0,
            volatilityPpm: 0,
            jumpProbabilityPpm: 1_000_000,
            jumpPpm: 10_000,
            sources: [{ name: "x", weight: ONE, noisePpm: 0, offsetMaxPpm: 0, spreadPpm: 0 }],
          },
        ],
      },
      () => now,
    );
    sim.poll();
    let mid = 100_000_000_000n;
    for (let i = 0; i < 20; i++) {
      now += 1000;
      const [q] = sim.poll();
      const up = mid + mid / 100n;
      const down = mid - mid / 100n;
      expect([up, down]).toContain(q!.last);
      mid = q!.last;
    }
    expect(sim.jumps).toBe(20);
  });

  it("P2: sim quotes are the engine's index inputs — weighted mean of source prices, stale after staleAfterMs of engine time", () => {
    const now = T0;
    const sim = new SimQuoteSource(SIM, () => now);
    const btc = sim.poll().filter((q) => q.asset === "BTC");
    const weights = SIM.assets[0]!.sources.map((s) => s.weight);
    const params = { clampBps: INDEX_CLAMP_BPS_DEFAULT, staleAfterMs: INDEX_STALE_AFTER_MS_DEFAULT, maxPriceUpdateMultiplier: MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT };
    const out = new IndexResult();
    // Source prices = last (inside the spread): 63_993_749_820_840 and 63_994_393_065_696, weights 1 and 2:
    // (63_993_749_820_840 + 2 × 63_994_393_065_696) / 3 = 63_994_178_650_744 exactly.
    computeIndexPrice(btc.map(toIndexSourceQuote), weights, 2, params, 0n, now + INDEX_STALE_AFTER_MS_DEFAULT, out);
    expect(out.stale).toBe(false);
    expect(out.medianSourcePrice).toBe(63_994_071_443_268n);
    expect(out.index).toBe(63_994_178_650_744n);
    computeIndexPrice(btc.map(toIndexSourceQuote), weights, 2, params, 63_994_178_650_744n, now + INDEX_STALE_AFTER_MS_DEFAULT + 1, out);
    expect(out.stale).toBe(true);
    expect(out.index).toBe(63_994_178_650_744n);
  });

  it("refuses a bad configuration with a reason", () => {
    expect(checkSimConfig(SIM)).toBeNull();
    expect(checkSimConfig({ ...SIM, seed: -1 })).toBe("seed must be an integer in [0, 2^32)");
    expect(checkSimConfig({ ...SIM, stepMs: 0 })).toBe("stepMs must be a positive integer");
    const tooMany = Array.from({ length: 17 }, (_, i) => ({ name: `s${i}`, weight: ONE, noisePpm: 0, offsetMaxPpm: 0, spreadPpm: 0 }));
    expect(checkSimConfig({ ...SIM, assets: [{ ...SIM.assets[0]!, sources: tooMany }] })).toBe("BTC: 1 to 16 sources");
    expect(checkSimConfig({ ...SIM, assets: [{ ...SIM.assets[0]!, volatilityPpm: 100_001 }] })).toBe("BTC: volatilityPpm must be an integer in [0, 100000] (ppm)");
    expect(checkSimConfig({ ...SIM, assets: [{ ...SIM.assets[0]!, sources: [{ ...SIM.assets[0]!.sources[0]!, weight: 0n }] }] })).toBe(
      'BTC source "sim-a" weight must be in (0, 1000]',
    );
    expect(() => new SimQuoteSource({ ...SIM, assets: [SIM.assets[0]!, SIM.assets[0]!] }, () => T0)).toThrow("sim source: asset BTC twice");
  });
});

describe("file source", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "crossbook-feed-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const line = (asset: string, source: string, bid: string, ask: string, last: string, t: number): string =>
    JSON.stringify({ asset, source, bid, ask, last, sourceTimeMs: t });
  const write = (name: string, lines: string[]): string => {
    const path = join(dir, name);
    writeFileSync(path, lines.join("\n") + "\n");
    return path;
  };

  it("P2: replays with timing preserved relative to the first record; same-time records form one batch", async () => {
    const path = write("good.jsonl", [
      line("BTC", "a", "64000.5", "64001", "64000.7", T0),
      line("BTC", "b", "64000.25", "64001.25", "64000.75", T0),
      line("BTC", "a", "64002", "64003", "64002.5", T0 + 250),
      line("SOL", "a", "150.123456789", "150.2", "150.15", T0 + 1000),
    ]);
    let clock = 5_000;
    const sleeps: number[] = [];
    const sink = new CollectingSink();
    const result = await replayQuoteFile(path, sink, {
      pace: "recorded",
      nowMs: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    expect(result).toEqual({ records: 4, batches: 3 });
    expect(sleeps).toEqual([250, 750]);
    expect(sink.batches).toEqual([
      [quote("BTC", "a", 64_000_500_000_000n, 64_001_000_000_000n, 64_000_700_000_000n, T0), quote("BTC", "b", 64_000_250_000_000n, 64_001_250_000_000n, 64_000_750_000_000n, T0)],
      [quote("BTC", "a", 64_002_000_000_000n, 64_003_000_000_000n, 64_002_500_000_000n, T0 + 250)],
      [quote("SOL", "a", 150_123_456_789n, 150_200_000_000n, 150_150_000_000n, T0 + 1000)],
    ]);

    const fast = new CollectingSink();
    const fastSleeps: number[] = [];
    await replayQuoteFile(path, fast, { pace: "fast", nowMs: () => 0, sleep: async (ms) => void fastSleeps.push(ms) });
    expect(fastSleeps).toEqual([]);
    expect(fast.batches).toEqual(sink.batches);
  });

  it("a slow sink is not waited for twice: a batch already due goes out at once", async () => {
    const path = write("slow.jsonl", [line("BTC", "a", "1", "2", "1.5", T0), line("BTC", "a", "1", "2", "1.5", T0 + 100), line("BTC", "a", "1", "2", "1.5", T0 + 300)]);
    let clock = 0;
    const sleeps: number[] = [];
    const slowSink: QuoteSink = { pushQuotes: () => void (clock += 150) };
    await replayQuoteFile(path, slowSink, { pace: "recorded", nowMs: () => clock, sleep: async (ms) => void (sleeps.push(ms), (clock += ms)) });
    // batch 1 at 0 (sink takes to 150); batch 2 due at 100: no wait (to 300); batch 3 due at 300: no wait.
    expect(sleeps).toEqual([]);
    expect(clock).toBe(450);
  });

  it("batches split at FEED_QUOTES_PER_BATCH_MAX and where a source repeats at one time", async () => {
    const lines = Array.from({ length: 130 }, (_, i) => line(`A${i}`, "s", "1", "1", "1", T0));
    lines.push(line("A0", "s", "2", "2", "2", T0 + 1), line("A0", "s", "3", "3", "3", T0 + 1));
    const sink = new CollectingSink();
    await replayQuoteFile(write("split.jsonl", lines), sink, { pace: "fast" });
    expect(sink.batches.map((b) => b.length)).toEqual([128, 2, 1, 1]);
    for (const b of sink.batches) expect(checkQuoteBatch(b)).toBeNull();
  });

  it("every bad line is a QuoteFileError naming its line number, and nothing of a bad file is sent", async () => {
    const good = line("BTC", "a", "1", "2", "1.5", T0);
    const cases: [string, string][] = [
      ["{not json", "quote file line 2: not valid JSON"],
      ["[1,2]", "quote file line 2: not a JSON object"],
      [JSON.stringify({ asset: "BTC", source: "a", bid: 1.5, ask: "2", last: "1.5", sourceTimeMs: T0 }), "quote file line 2: bid must be a decimal string"],
      [line("BTC", "a", "1.5e0", "2", "1.5", T0), 'quote file line 2: bid: exponent notation not allowed: "1.5e0"'],
      [line("BTC", "a", "1.0000000001", "2", "1.5", T0), 'quote file line 2: bid: over-scale: "1.0000000001" has 10 decimals, at most 9 allowed'],
      [line("BTC", "a", "3", "2", "2.5", T0), "quote file line 2: bid above ask (crossed quote)"],
      [line("BTC", "a", "1", "2", "1.5", T0 - 1), `quote file line 2: sourceTimeMs ${T0 - 1} before the previous line's ${T0}`],
      [JSON.stringify({ asset: "BTC", source: "a", bid: "1", ask: "2", last: "1.5", sourceTimeMs: T0, extra: 1 }), 'quote file line 2: unknown field "extra"'],
      [JSON.stringify({ asset: "BTC", source: "a", bid: "1", ask: "2", sourceTimeMs: T0 }), "quote file line 2: missing field last"],
      [JSON.stringify({ asset: "BTC", source: "a", bid: "1", ask: "2", last: "1.5", sourceTimeMs: 1.5 }), "quote file line 2: sourceTimeMs must be a non-negative integer"],
      ["", "quote file line 2: empty line"],
      [" ".repeat(1025), "quote file line 2: longer than 1024 bytes"],
    ];
    for (const [bad, message] of cases) {
      const sink = new CollectingSink();
      const path = write("bad.jsonl", [good, bad, good]);
      const error = await replayQuoteFile(path, sink, { pace: "fast" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QuoteFileError);
      expect((error as QuoteFileError).lineNumber).toBe(2);
      expect((error as Error).message).toBe(message);
      expect(sink.batches).toEqual([]);
    }
    // A line far beyond the bound is refused without being held whole (no newline at all).
    const hugePath = join(dir, "huge.jsonl");
    writeFileSync(hugePath, good + "\n" + "x".repeat(200_000));
    await expect(replayQuoteFile(hugePath, new CollectingSink(), { pace: "fast" })).rejects.toThrow("quote file line 2: longer than 1024 bytes");
    expect(() => parseQuoteLine(line("BTC", "a", "1", "2", "1.5", T0), 7)).not.toThrow();
  });
});

// --- Backpack bookTicker adapter against a stand-in server -------------------------------------------------------

type UwsModule = typeof import("uWebSockets.js");
const uWS = createRequire(import.meta.url)("uWebSockets.js") as UwsModule;

interface StandIn {
  readonly port: number;
  readonly received: string[];
  readonly sockets: Set<import("uWebSockets.js").WebSocket<unknown>>;
  connections: number;
  broadcast(text: string): void;
  dropAll(): void;
  close(): void;
}

/** A loopback server speaking Backpack's stream protocol far enough for the adapter: it records frames, we push. */
function startStandIn(): Promise<StandIn> {
  return new Promise((resolve, reject) => {
    const received: string[] = [];
    const sockets = new Set<import("uWebSockets.js").WebSocket<unknown>>();
    let listenSocket: unknown = null;
    const server: StandIn = {
      port: 0,
      received,
      sockets,
      connections: 0,
      broadcast: (text) => {
        for (const s of sockets) s.send(text, false);
      },
      dropAll: () => {
        for (const s of [...sockets]) s.end(1001, "going away");
      },
      close: () => {
        for (const s of [...sockets]) s.close();
        if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket as never);
      },
    };
    const app = uWS.App().ws("/*", {
      open: (ws) => {
        sockets.add(ws);
        server.connections++;
      },
      message: (_ws, message) => void received.push(Buffer.from(message).toString()),
      close: (ws) => void sockets.delete(ws),
    });
    app.listen("127.0.0.1", 0, (socket) => {
      if (!socket) return reject(new Error("stand-in server cannot listen"));
      listenSocket = socket;
      resolve(Object.assign(server, { port: uWS.us_socket_local_port(socket as never) }));
    });
  });
}

function tickerMessage(symbol: string, bid: string, ask: string, engineTimeUs: number): string {
  return JSON.stringify({ stream: `bookTicker.${symbol}`, data: { e: "bookTicker", E: engineTimeUs + 5, s: symbol, a: ask, A: "1.000", b: bid, B: "2.000", u: "111063070525358080", T: engineTimeUs } });
}

const MARKETS = [
  { symbol: "SOL_USDC", asset: "SOL" },
  { symbol: "BTC_USDC", asset: "BTC" },
];

describe("backpack bookTicker source", () => {
  const sources: BackpackTickerSource[] = [];
  let server: StandIn | null = null;
  afterEach(() => {
    for (const s of sources.splice(0)) s.stop();
    server?.close();
    server = null;
  });

  const configFor = (port: number, clockMs: () => number, over: Partial<BackpackSourceConfig> = {}): BackpackSourceConfig => ({
    url: `ws://127.0.0.1:${port}/`,
    sourceName: "backpack",
    markets: MARKETS,
    staleAfterMs: INDEX_STALE_AFTER_MS_DEFAULT,
    silenceReconnectMs: 60_000,
    initialBackoffMs: 10,
    maxBackoffMs: 1000,
    reconnectAttemptsMax: 5,
    clockMs,
    ...over,
  });

  it("parses the documented bookTicker message exactly (µs times, decimal strings) and refuses malformed ones", () => {
    const doc =
      '{"stream":"bookTicker.SOL_USDC","data":{"e":"bookTicker","E":1694687692980000,"s":"SOL_USDC","a":"18.70","A":"1.000","b":"18.67","B":"2.000","u":"111063070525358080","T":1694687692989999}}';
    expect(parseBackpackBookTicker(doc)).toEqual({ symbol: "SOL_USDC", bid: 18_670_000_000n, ask: 18_700_000_000n, sourceTimeMs: 1_694_687_692_989 });
    const bad: [string, string][] = [
      ["nope", "message is not JSON"],
      ['{"error":{"code":4005,"message":"Invalid stream"}}', 'stream error: {"code":4005,"message":"Invalid stream"}'],
      [doc.replace('"stream":"bookTicker.SOL_USDC"', '"stream":"bookTicker.BTC_USDC"'), 'stream "bookTicker.BTC_USDC" does not match symbol SOL_USDC'],
      [doc.replace('"e":"bookTicker"', '"e":"trade"'), 'event type "trade" is not bookTicker'],
      [doc.replace('"b":"18.67"', '"b":"18.6700000001"'), 'b: over-scale: "18.6700000001" has 10 decimals, at most 9 allowed'],
      [doc.replace('"b":"18.67"', '"b":18.67'), "b must be a decimal string"],
      [doc.replace('"b":"18.67"', '"b":"18.71"'), "b (bid) above a (ask)"],
      [doc.replace('"T":1694687692989999', '"T":"1694687692989999"'), "T must be a positive integer (µs)"],
      [doc.replace("}}", `,"pad":"${"x".repeat(4096)}"}}`), "message longer than 4096 bytes"],
    ];
    for (const [text, message] of bad) expect(() => parseBackpackBookTicker(text)).toThrow(new QuoteError(message));
  });

  it("subscription frame, backoff schedule and configuration limits", () => {
    expect(backpackSubscribeMessage(MARKETS)).toBe('{"method":"SUBSCRIBE","params":["bookTicker.SOL_USDC","bookTicker.BTC_USDC"]}');
    expect([0, 1, 2, 3, 4, 5, 40].map((a) => backoffDelayMs(a, 10, 250))).toEqual([10, 20, 40, 80, 160, 250, 250]);
    expect(checkBackpackConfig(configFor(1, () => 0))).toBeNull();
    expect(checkBackpackConfig(configFor(1, () => 0, { markets: [MARKETS[0]!, { symbol: "SOL_USDT", asset: "SOL" }] }))).toBe(
      "market SOL_USDT / asset SOL twice (one source quote per asset)",
    );
    expect(checkBackpackConfig(configFor(1, () => 0, { maxBackoffMs: 5 }))).toBe("maxBackoffMs must be at least initialBackoffMs");
    expect(checkBackpackConfig(configFor(1, () => 0, { reconnectAttemptsMax: 0 }))).toBe("reconnectAttemptsMax must be a positive integer");
  });

  it("P2: subscribes, turns tickers into quotes (last = mid), sends each once, and drops quotes older than staleAfterMs", async () => {
    server = await startStandIn();
    let clock = T0;
    const source = new BackpackTickerSource(configFor(server.port, () => clock));
    sources.push(source);
    source.start();
    await until(() => server!.received.length === 1, "the subscription");
    expect(server.received).toEqual(['{"method":"SUBSCRIBE","params":["bookTicker.SOL_USDC","bookTicker.BTC_USDC"]}']);
    expect(source.state).toBe("open");
    expect(source.staleMarkets(clock)).toEqual(["SOL_USDC", "BTC_USDC"]);

    // SOL exactly staleAfterMs old at the flush (still fresh, P2 step 1); BTC one ms older (stale, not sent).
    server.broadcast(tickerMessage("SOL_USDC", "150.01", "150.04", (T0 - 10_000) * 1000 + 999));
    server.broadcast(tickerMessage("BTC_USDC", "64000.1", "64000.4", (T0 - 10_001) * 1000));
    server.broadcast('{"stream":"bookTicker.ETH_USDC","data":{}}');
    await until(() => source.stats.messages + source.stats.badMessages === 3, "three messages");
    expect(source.stats.badMessages).toBe(1);
    expect(source.stats.lastError).toBe('event type undefined is not bookTicker');

    const sink = new CollectingSink();
    expect(await source.flush(sink)).toBe(1);
    expect(sink.batches).toEqual([[quote("SOL", "backpack", 150_010_000_000n, 150_040_000_000n, 150_025_000_000n, T0 - 10_000)]]);
    expect(source.stats.staleDropped).toBe(1);
    expect(source.staleMarkets(clock)).toEqual(["BTC_USDC"]);
    expect(await source.flush(sink)).toBe(0); // nothing new: nothing resent

    // A newer ticker is sent; an older one arriving after it is ignored (out of order).
    server.broadcast(tickerMessage("BTC_USDC", "64001", "64002.000000001", T0 * 1000));
    server.broadcast(tickerMessage("BTC_USDC", "63000", "63001", (T0 - 1) * 1000));
    await until(() => source.stats.messages === 4, "the BTC tickers");
    clock += 1;
    expect(await source.flush(sink)).toBe(1);
    expect(sink.batches[1]).toEqual([quote("BTC", "backpack", 64_001_000_000_000n, 64_002_000_000_001n, 64_001_500_000_000n, T0)]);
    expect(checkQuoteBatch(sink.batches[1]!)).toBeNull();
    expect(source.staleMarkets(clock)).toEqual(["SOL_USDC"]); // now 10_001 ms old
    clock += 10_000;
    expect(source.staleMarkets(clock)).toEqual(["SOL_USDC", "BTC_USDC"]);
  });

  it("reconnects after the server drops it, with backoff, and subscribes again", async () => {
    server = await startStandIn();
    const source = new BackpackTickerSource(configFor(server.port, () => T0));
    sources.push(source);
    source.start();
    await until(() => server!.received.length === 1, "the first subscription");
    server.dropAll();
    await until(() => server!.received.length === 2, "the second subscription");
    expect(server.connections).toBe(2);
    expect(source.stats.connects).toBe(2);
    expect(source.stats.reconnectDelaysMs).toEqual([10]);
    // A good message resets the backoff: the next drop waits the initial delay again.
    server.broadcast(tickerMessage("SOL_USDC", "1", "2", T0 * 1000));
    await until(() => source.stats.messages === 1, "a ticker");
    server.dropAll();
    await until(() => server!.received.length === 3, "the third subscription");
    expect(source.stats.reconnectDelaysMs).toEqual([10, 10]);
    expect(server.received[2]).toBe(backpackSubscribeMessage(MARKETS));
  });

  it("gives up after reconnectAttemptsMax attempts, each delay doubling up to maxBackoffMs", async () => {
    const closed = await startStandIn();
    const port = closed.port;
    closed.close(); // nothing listens on the port now
    const source = new BackpackTickerSource(configFor(port, () => T0, { initialBackoffMs: 5, maxBackoffMs: 30, reconnectAttemptsMax: 4 }));
    sources.push(source);
    const errors: string[] = [];
    source.onError = (m) => errors.push(m);
    source.start();
    await until(() => source.state === "failed", "the source to give up");
    expect(source.stats.reconnectDelaysMs).toEqual([5, 10, 20, 30]);
    expect(source.stats.connects).toBe(5);
    expect(errors).toEqual([`backpack source gave up after 4 reconnect attempts: connection to ws://127.0.0.1:${port}/ failed`]);
  });

  it("P2: a silent stream (no message for silenceReconnectMs) is reconnected rather than left to go stale", async () => {
    server = await startStandIn();
    const source = new BackpackTickerSource(configFor(server.port, Date.now, { silenceReconnectMs: 300 }));
    sources.push(source);
    source.start();
    await until(() => server!.received.length === 2, "a resubscription after silence");
    expect(source.stats.lastError).toBe("no message for more than 300 ms");
    expect(source.stats.reconnectDelaysMs[0]).toBe(10);
    expect(server.connections).toBeGreaterThanOrEqual(2);
  });
});
