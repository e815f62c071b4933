// P3 marks, the O6/O7 band inputs and P4 funding rates, computed by each matching shard for its perpetuals at the end
// of a settlement batch (engine.ts decision P3): exact values of the EWMA, the fallback chain, the clamp, the moving
// means, the interval's rate; the marks reach every risk shard's margin context; snapshots and replay keep them.
import { describe, expect, it } from "vitest";
import { MatchingShard } from "../engine/matching/index.ts";
import { CommandKind, CommandRecord, EventKind, EventRecord, MarketState, OracleQuoteFlag, Side, SnapshotReader, SnapshotWriter, type ExchangeConfig } from "../engine/model/index.ts";
import { MarkSource } from "../engine/perps/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { P, PERP, Q, R, RecordingSink, testConfig } from "./matching-helpers.ts";

/** 2026-01-01 00:00 UTC, an hour boundary. */
const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;
const BTC = 1;

/** testConfig with one oracle source on BTC (index = that source's median of bid, ask, last). */
function oracleConfig(): ExchangeConfig {
  const base = testConfig();
  const btc = { ...base.assets[BTC]!, oracle: { sources: [{ name: "s", weight: R("1") }], clampBps: 30, staleAfterMs: 10_000, maxPriceUpdateMultiplier: R("1.0025") } };
  return { ...base, assets: [base.assets[0]!, btc] };
}

class PerpShard {
  readonly shard: MatchingShard;
  readonly sink = new RecordingSink();
  private readonly cmd = new CommandRecord();
  seq = 0;

  constructor(readonly config: ExchangeConfig = oracleConfig()) {
    this.shard = new MatchingShard(config, [0, 1, 2]);
  }

  private send(fill: (c: CommandRecord) => void): void {
    const c = this.cmd;
    c.clear();
    c.seq = ++this.seq;
    fill(c);
    this.shard.handle(c, this.sink);
  }

  at(timeMs: number): this {
    this.send((c) => {
      c.kind = CommandKind.AdvanceTime;
      c.timeMs = timeMs;
    });
    return this;
  }

  /** One source quote with Apply at bid = ask = last = price: the index is the price. */
  index(price: bigint, timeMs: number): this {
    this.send((c) => {
      c.kind = CommandKind.OracleQuote;
      c.asset = BTC;
      c.oracleSource = 0;
      c.bid = price;
      c.ask = price;
      c.last = price;
      c.sourceTimeMs = timeMs;
      c.flags = OracleQuoteFlag.Apply;
    });
    return this;
  }

  order(account: number, side: number, price: bigint, qty = Q("1")): this {
    this.send((c) => {
      c.kind = CommandKind.PlaceOrder;
      c.market = PERP;
      c.account = account;
      c.side = side;
      c.price = price;
      c.quantity = qty;
    });
    return this;
  }

  cancel(account: number, orderId: number): this {
    this.send((c) => {
      c.kind = CommandKind.CancelOrder;
      c.market = PERP;
      c.account = account;
      c.orderId = orderId;
    });
    return this;
  }

  state(s: number): this {
    this.send((c) => {
      c.kind = CommandKind.SetMarketState;
      c.market = PERP;
      c.marketState = s;
    });
    return this;
  }

  /** The batch's settlement phase; returns its MarkPrice and FundingRate events as plain objects. */
  end(): { kind: number; market: number; mark: bigint; index: bigint; source: number; rate: bigint; next: number; meanPremium: bigint; samples: number; timeMs: number }[] {
    const got: EventRecord[] = [];
    this.shard.endBatch({
      publish: (e) => {
        const copy = new EventRecord();
        copy.copyFrom(e);
        got.push(copy);
      },
    });
    return got.map((e) => ({
      kind: e.kind,
      market: e.market,
      mark: e.markPrice,
      index: e.indexPrice,
      source: e.markSource,
      rate: e.fundingRate,
      next: e.nextFundingTimeMs,
      meanPremium: e.meanPremium,
      samples: e.fundingSamples,
      timeMs: e.timeMs,
    }));
  }

  perp() {
    return this.shard.perpPrices.markets.find((p) => p.market.id === PERP)!;
  }
}

describe("P3 mark, O6/O7 band inputs, P4 funding rate (matching's settlement phase)", () => {
  it("P3 (a): index + EWMA of (mid − index), alpha 2/301, one sample a second: 60,150 then 60,150.996677741", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("60100")).order(2, Side.Sell, P("60200"));
    // First sample sets e = mid − index = 60,150 − 60,000 = 150.
    expect(h.end()).toEqual([
      { kind: EventKind.MarkPrice, market: PERP, mark: P("60150"), index: P("60000"), source: MarkSource.IndexPlusEwma, rate: expect.any(BigInt), next: T0 + HOUR, meanPremium: 0n, samples: 0, timeMs: T0 },
    ]);
    // Next second, mid 60,300: e = 150 + (300 − 150) × 2/301 = 150.996677740863787375 (1e-18) → 150.996677741.
    h.at(T0 + 1000).cancel(2, 4).order(2, Side.Sell, P("60500"));
    const [mark] = h.end();
    expect(mark!.mark).toBe(60_150_996_677_741n);
    expect(h.perp().ewma.valueFine).toBe(150_996_677_740_863_787_375n);
    // A second batch in the same engine second takes no sample: the mark stays.
    h.at(T0 + 1999);
    expect(h.end()[0]!.mark).toBe(60_150_996_677_741n);
  });

  it("P3: the mark is clamped to index × [0.95, 1.05]: a mid of 70,000 over an index of 60,000 gives 63,000", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("69900")).order(2, Side.Sell, P("70100"));
    const [mark] = h.end();
    expect([mark!.mark, mark!.source]).toEqual([P("63000"), MarkSource.IndexPlusEwma]);
    // And below: a mid of 50,000 → 57,000.
    const low = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("49900")).order(2, Side.Sell, P("50100"));
    expect(low.end()[0]!.mark).toBe(P("57000"));
  });

  it("P3 (b)–(e): index without a book; median of bid/ask/last; mid; last; post-only uses the index", () => {
    // (b) a fresh index, no book.
    expect(new PerpShard().at(T0).index(P("60000"), T0).end()[0]).toMatchObject({ mark: P("60000"), source: MarkSource.Index });
    // (d) no index, both sides, no trade: mid = (59,000 + 61,000) / 2.
    const d = new PerpShard().at(T0).order(1, Side.Buy, P("59000")).order(2, Side.Sell, P("61000"));
    expect(d.end()[0]).toMatchObject({ mark: P("60000"), index: 0n, source: MarkSource.Mid });
    // (c) after a trade at 61,000 and a new ask at 61,500: median{59,000, 61,500, 61,000} = 61,000.
    d.order(3, Side.Buy, P("61000")).order(2, Side.Sell, P("61500")).at(T0 + 1000);
    expect(d.end()[0]).toMatchObject({ mark: P("61000"), source: MarkSource.BookMedian });
    // (e) only the last trade: the bid taken by a sell of its size, the ask canceled.
    d.order(4, Side.Sell, P("59000")).cancel(2, 5).at(T0 + 2000);
    expect(d.end()[0]).toMatchObject({ mark: P("59000"), source: MarkSource.Last });
    // Post-only: the index, whatever the book says.
    const post = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("60100")).order(2, Side.Sell, P("60200")).state(MarketState.PostOnly);
    expect(post.end()[0]).toMatchObject({ mark: P("60000"), source: MarkSource.PostOnlyIndex });
  });

  it("P3: an index whose sources are older than staleAfterMs is no index: the mark falls back to the book", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("60100")).order(2, Side.Sell, P("60300"));
    expect(h.end()[0]).toMatchObject({ mark: P("60200"), source: MarkSource.IndexPlusEwma });
    // 10 s later the quote is exactly staleAfterMs old: still fresh, EWMA still data.
    h.at(T0 + 10_000);
    expect(h.end()[0]).toMatchObject({ mark: P("60200"), index: P("60000"), source: MarkSource.IndexPlusEwma });
    // 1 ms more: no fresh source → (d) mid = 60,200, published with index 0 (none fresh).
    h.at(T0 + 10_001);
    expect(h.end()[0]).toMatchObject({ mark: P("60200"), index: 0n, source: MarkSource.Mid });
    // The clamp still holds the mark to the last index's band: an ask of 70,000 → mid 65,050 → 63,000.
    h.cancel(2, 4).order(2, Side.Sell, P("70000")).at(T0 + 11_000);
    expect(h.end()[0]).toMatchObject({ mark: P("63000"), index: 0n, source: MarkSource.Mid });
  });

  it("O6, O7: the moving means of mark and premium become the market's band inputs once a second", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("60100")).order(2, Side.Sell, P("60200"));
    h.end();
    const market = h.perp().market;
    // One sample: mean mark 60,150, premium 150 / 60,000 = 0.0025.
    expect([market.hasBandInputs, market.meanMark, market.meanPremium, market.indexPrice]).toEqual([true, P("60150"), R("0.0025"), P("60000")]);
    h.at(T0 + 1000).cancel(2, 4).order(2, Side.Sell, P("60500"));
    h.end();
    // Marks 60,150 and 60,150.996677741: mean 60,150.4983388705 → half-even 60,150.498338870.
    expect(market.meanMark).toBe(60_150_498_338_870n);
    // Premiums 0.0025 and 150.996677741 / 60,000 = 0.002516611295683333(.3): mean 0.0025083056478416665 → …666 (half-even).
    expect(market.meanPremium).toBe(2_508_305_647_841_666n);
  });

  it("P4: at the interval end F = clamp((P̄ + clamp(I − P̄, ±0.05%)) / 8, ±1%): P̄ 0.2508…% gives 0.0251038205980208%", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("60100")).order(2, Side.Sell, P("60200"));
    h.end();
    h.at(T0 + 1000).cancel(2, 4).order(2, Side.Sell, P("60500"));
    const [mark] = h.end();
    // Predicted with the mark: I = 0.0003 / 24 = 0.0000125; I − P̄ clamps to −0.0005; (P̄ − 0.0005) / 8.
    expect(mark!.rate).toBe(251_038_205_980_208n);
    expect(mark!.next).toBe(T0 + HOUR);
    h.at(T0 + HOUR);
    const events = h.end();
    // The payments' mark is this phase's: no fresh index at T0 + 1 h → (d) mid of 60,100 / 60,500 = 60,300.
    expect(events[0]).toEqual({ kind: EventKind.FundingRate, market: PERP, mark: P("60300"), index: 0n, source: 0, rate: 251_038_205_980_208n, next: 0, meanPremium: 2_508_305_647_841_666n, samples: 2, timeMs: T0 + HOUR });
    // The next interval starts empty (no fresh index at T0 + 1 h: no premium sample): F = I / 8 clamped → 0.0000125 / 8.
    expect(events[1]).toMatchObject({ kind: EventKind.MarkPrice, rate: 1_562_500_000_000n, next: T0 + 2 * HOUR });
    expect(h.perp().history).toEqual([{ timeMs: T0 + HOUR, rate: 251_038_205_980_208n, meanPremium: 2_508_305_647_841_666n, samples: 2 }]);
  });

  it("P4: the rate is held to the market's bounds (±100 bps): a mean premium of +5% gives +1%", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("69900")).order(2, Side.Sell, P("70100"));
    // Mark clamped to 63,000: premium 0.05; (0.05 − 0.0005) / 8 = 0.0061875 < 0.01.
    expect(h.end()[0]!.rate).toBe(R("0.0061875"));
    const wide = new PerpShard(withFunding(oracleConfig(), { lowerBps: -100, upperBps: 100, divisor: R("1"), intervalHours: 1 }));
    wide.at(T0).index(P("60000"), T0).order(1, Side.Buy, P("69900")).order(2, Side.Sell, P("70100"));
    // D = 1: 0.0495 → clamped to 0.01.
    expect(wide.end()[0]!.rate).toBe(R("0.01"));
  });

  it("X7, P3: a matching snapshot keeps the oracle replica, EWMA, moving means, funding samples: the restored shard goes on identically", () => {
    const h = new PerpShard().at(T0).index(P("60000"), T0).order(1, Side.Buy, P("60100")).order(2, Side.Sell, P("60200"));
    h.end();
    const w = new SnapshotWriter();
    h.shard.writeSnapshot(w);
    const restored = new PerpShard();
    restored.shard.restoreSnapshot(new SnapshotReader(w.bytes()));
    restored.seq = h.seq;
    expect(restored.shard.stateHash()).toBe(h.shard.stateHash());
    for (const x of [h, restored]) x.at(T0 + 1000).cancel(2, 4).order(2, Side.Sell, P("60500"));
    expect(restored.end()).toEqual(h.end());
    expect(restored.shard.stateHash()).toBe(h.shard.stateHash());
  });
});

function withFunding(config: ExchangeConfig, funding: NonNullable<ExchangeConfig["markets"][number]["funding"]>): ExchangeConfig {
  return { ...config, markets: config.markets.map((m) => (m.id === PERP ? { ...m, funding } : m)) };
}

describe("P3 marks through the engine (every risk shard, the journal)", () => {
  const config = loadConfig();
  const BTC_ASSET = 2;
  const BTC_PERP = 3;

  function run(engine: Engine, batches: Partial<CommandRecord>[][]): EventRecord[] {
    let seq = 0;
    const got: EventRecord[] = [];
    for (const list of batches) {
      const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++seq }));
      engine.processBatch(cmds, cmds.length, {
        publish(e) {
          const copy = new EventRecord();
          copy.copyFrom(e);
          got.push(copy);
        },
      });
    }
    return got;
  }

  const quote = (source: number, price: bigint, t: number, apply: boolean): Partial<CommandRecord> => ({
    kind: CommandKind.OracleQuote,
    asset: BTC_ASSET,
    oracleSource: source,
    bid: price,
    ask: price,
    last: price,
    sourceTimeMs: t,
    flags: apply ? OracleQuoteFlag.Apply : 0,
  });
  const batches: Partial<CommandRecord>[][] = [
    [{ kind: CommandKind.AdvanceTime, timeMs: T0 }],
    [quote(0, P("60000"), T0, false), quote(1, P("60000"), T0, false), quote(2, P("60000"), T0, true)],
    [{ kind: CommandKind.AdvanceTime, timeMs: T0 + 1000 }, quote(0, P("60100"), T0 + 1000, false), quote(1, P("60100"), T0 + 1000, false), quote(2, P("60100"), T0 + 1000, true)],
  ];

  it("P3: each risk shard (2 × 2) sets the perp's mark from MarkPrice; shard 0 alone publishes it; the same on replay", () => {
    const engine = new Engine(config, { riskShards: 2, matchingShards: 2 });
    const events = run(engine, batches);
    const marks = events.filter((e) => e.kind === EventKind.MarkPrice && e.market === BTC_PERP);
    // One MarkPrice per settlement batch (3), index as mark (b): 60,000 twice, then 60,100 (step limit 1.0025 allows it).
    // The first batch has neither index nor book: no mark (none published).
    expect(marks.map((e) => [e.markPrice, e.markSource, e.seq, e.account])).toEqual([
      [P("60000"), MarkSource.Index, 0, 0],
      [P("60100"), MarkSource.Index, 0, 0],
    ]);
    expect(engine.risk.map((r) => r.marginContext.marketMark[BTC_PERP])).toEqual([P("60100"), P("60100")]);
    const replay = new Engine(config, { riskShards: 2, matchingShards: 2 });
    run(replay, batches);
    expect(replay.stateHash()).toBe(engine.stateHash());
    const restored = Engine.fromSnapshot(config, engine.snapshot());
    expect(restored.stateHash()).toBe(engine.stateHash());
  });

  it("P4, D2(b): at the interval end one FundingRate per perpetual reaches every risk shard and is published once, with the payments' mark", () => {
    const engine = new Engine(config, { riskShards: 2, matchingShards: 2 });
    const events = run(engine, [...batches, [{ kind: CommandKind.AdvanceTime, timeMs: T0 + 3_600_000 }]]);
    const rates = events.filter((e) => e.kind === EventKind.FundingRate);
    // BTC perp: two premium samples of 0 (mark = index): F = (0 + 0.0000125) / 8; its last mark 60,100 stays (the
    // index is stale at T0 + 1 h, the book empty). ETH and SOL perps never had a mark: no sample, mark 0.
    // In matching shard order: shard 0 owns ETH perp (4), shard 1 BTC (3) and SOL (5) perps.
    expect(rates.map((e) => [e.market, e.fundingRate, e.meanPremium, e.fundingSamples, e.markPrice, e.timeMs, e.seq])).toEqual([
      [4, 1_562_500_000_000n, 0n, 0, 0n, T0 + 3_600_000, 0],
      [3, 1_562_500_000_000n, 0n, 2, P("60100"), T0 + 3_600_000, 0],
      [5, 1_562_500_000_000n, 0n, 0, 0n, T0 + 3_600_000, 0],
    ]);
  });
});
