// The oracle command through the engine (SPEC P2, C1): per-source quotes, the index with the ±30 bps clamp, the
// per-update step limit, stale sources dropped and a visible stale state, the index as the asset's collateral mark,
// typed rejects that change nothing, SetMarkPrice as a flagged override, snapshots, and replay = live (X4) with
// oracle commands in the stream on every threaded topology.
import { afterEach, describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, IndexFlag, OracleQuoteFlag, rejectCodeName, type EventSink } from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import {
  eventAmount2Slot,
  eventAmountSlot,
  eventCodeSlot,
  eventPriceSlot,
  eventSideSlot,
} from "../engine/model/generated/records.ts";
import { CommandGenerator, prng } from "./helpers/random-commands.ts";
import { DecodeResult, decodeCommand, encodeEvent } from "../gateway/codec/index.ts";
import { decodeEvent, encodeCommand, type CommandJson } from "../gateway/client/codec.ts";
import { EVENT_RECORD_BYTES, readEvent, viewsOf, writeEvent } from "../engine/model/record-layout.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_PERP = 3;
const USD = 1_000_000_000n;
const BTC_UNIT = 100_000_000n;
/** 2026-01-01 00:00 UTC. */
const T0 = 1_767_225_600_000;
const ALICE = 32;
/** BTC's configured sources (config/default.json): backpack (weight 2), sim-a (1), sim-b (1). */
const BACKPACK = 0;
const SIM_A = 1;
const SIM_B = 2;

/** A price in USD at PRICE_DECIMALS from decimal text (test input only). */
function usd(text: string): bigint {
  const [whole, frac = ""] = text.split(".");
  return BigInt(whole!) * USD + BigInt((frac + "000000000").slice(0, 9));
}

function quote(asset: number, source: number, bid: string, ask: string, last: string, sourceTimeMs: number, apply = false): Partial<CommandRecord> {
  return {
    kind: CommandKind.OracleQuote,
    asset,
    oracleSource: source,
    bid: usd(bid),
    ask: usd(ask),
    last: usd(last),
    sourceTimeMs,
    flags: apply ? OracleQuoteFlag.Apply : 0,
  };
}

class Harness {
  readonly engine: Engine;
  private seq = 0;

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    this.engine = new Engine(config, topology);
    this.at(T0);
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => {
      const c = Object.assign(new CommandRecord(), f);
      c.seq = ++this.seq;
      return c;
    });
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, {
      publish(e: EventRecord): void {
        const copy = new EventRecord();
        copy.copyFrom(e);
        got.push(copy);
      },
    });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  at(timeMs: number): void {
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs }]);
  }

  index(events: EventRecord[]): EventRecord {
    const found = events.filter((e) => e.kind === EventKind.IndexPrice);
    expect(found.length).toBe(1);
    return found[0]!;
  }

  marks(): { asset: bigint[]; perp: bigint[] } {
    return {
      asset: this.engine.risk.map((r) => r.marginContext.assetMark[BTC]!),
      perp: this.engine.risk.map((r) => r.marginContext.marketMark[BTC_PERP]!),
    };
  }
}

function rejects(events: EventRecord[]): string[] {
  return events.filter((e) => e.kind === EventKind.CommandRejected).map((e) => `${rejectCodeName[e.code]}: ${e.message}`);
}

/** The first update of the P2 example: sim-b is 91 bps above the median and is clamped to median × 1.003. */
function firstUpdate(h: Harness): EventRecord[] {
  return h.batch([
    quote(BTC, BACKPACK, "60000", "60010", "60005", T0),
    quote(BTC, SIM_A, "59990", "60000", "59995", T0),
    quote(BTC, SIM_B, "60500", "60600", "60550", T0, true),
  ]);
}

describe("oracle command (P2) and the index as collateral mark (C1)", () => {
  it("P2: source price = median of bid/ask/last, clamp to median ± 30 bps, weighted mean: 60,047.50375 from three sources", () => {
    const h = new Harness();
    const events = firstUpdate(h);
    expect(rejects(events)).toEqual([]);
    const e = h.index(events);
    // Sources 60,005 (w 2), 59,995 (w 1), 60,550 → clamped to 60,005 × 1.003 = 60,185.015 (w 1):
    // (2 × 60,005 + 59,995 + 60,185.015) / 4 = 60,047.50375.
    expect(e.asset).toBe(BTC);
    expect(e.indexPrice).toBe(60_047_503_750_000n);
    expect(e.indexFlags).toBe(0);
    expect(e.sourcesUsed).toBe(3);
    expect(e.timeMs).toBe(T0);
    // Each quote is acknowledged; only the one with Apply publishes an index.
    expect(events.filter((x) => x.kind === EventKind.CommandAccepted).length).toBe(3);
  });

  it("C1: the index becomes the asset's collateral mark (and the mark of its perpetual): 1 BTC is worth 60,047.50375 × 0.95", () => {
    const h = new Harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: BTC, amount: BTC_UNIT }]);
    firstUpdate(h);
    expect(h.marks()).toEqual({ asset: [60_047_503_750_000n], perp: [60_047_503_750_000n] });
    const events = h.batch([{ kind: CommandKind.QueryCollateral, account: ALICE }]);
    const btc = events.find((e) => e.kind === EventKind.AssetCollateral && e.asset === BTC)!;
    expect(btc.price).toBe(60_047_503_750_000n);
    expect(btc.collateralValueUsd).toBe(57_045_128_562_500n);
  });

  it("P2: one update moves the index at most × 1.0025: 60,047.50375 → 60,197.622509375 (wanted 61,000), then on", () => {
    const h = new Harness();
    firstUpdate(h);
    h.at(T0 + 1000);
    const all61k = (apply: boolean): Partial<CommandRecord>[] => [
      quote(BTC, BACKPACK, "60990", "61010", "61000", T0 + 1000),
      quote(BTC, SIM_A, "60990", "61010", "61000", T0 + 1000),
      quote(BTC, SIM_B, "60990", "61010", "61000", T0 + 1000, apply),
    ];
    const e = h.index(h.batch(all61k(true)));
    expect(e.indexPrice).toBe(60_197_622_509_375n);
    expect(e.indexFlags).toBe(IndexFlag.StepLimited);
    expect(h.marks().asset).toEqual([60_197_622_509_375n]);
    // The next update goes on from there: 60,197.622509375 × 1.0025 = 60,348.116565648 (rounded down).
    const next = h.index(h.batch(all61k(true)));
    expect(next.indexPrice).toBe(60_348_116_565_648n);
  });

  it("P2: a source older than staleAfterMs (10 s) drops out; age exactly 10 s is still fresh", () => {
    const h = new Harness();
    firstUpdate(h);
    h.at(T0 + 10_000);
    // sim-b re-quotes now; backpack and sim-a (age 10,000 ms) still count.
    const fresh = h.index(h.batch([quote(BTC, SIM_B, "60000", "60010", "60005", T0 + 10_000, true)]));
    expect(fresh.sourcesUsed).toBe(3);
    // Sources 60,005 (w 2), 59,995, 60,005: (120,010 + 59,995 + 60,005) / 4 = 60,002.5.
    expect(fresh.indexPrice).toBe(60_002_500_000_000n);
    h.at(T0 + 10_001);
    const two = h.index(h.batch([quote(BTC, SIM_A, "59990", "60000", "59995", T0 + 10_001, true)]));
    // backpack (T0) is 10,001 ms old: out. sim-a 59,995 and sim-b 60,005 (T0 + 10 s): m = 60,000, mean 60,000.
    expect(two.sourcesUsed).toBe(2);
    expect(two.indexPrice).toBe(60_000_000_000_000n);
  });

  it("P2: with no fresh source the index is stale, says so, and the mark stays", () => {
    const h = new Harness();
    firstUpdate(h);
    h.at(T0 + 20_000);
    const e = h.index(h.batch([quote(BTC, SIM_A, "70000", "70000", "70000", T0 + 5_000, true)]));
    expect(e.indexFlags).toBe(IndexFlag.Stale);
    expect(e.sourcesUsed).toBe(0);
    expect(e.indexPrice).toBe(60_047_503_750_000n);
    expect(h.marks()).toEqual({ asset: [60_047_503_750_000n], perp: [60_047_503_750_000n] });
  });

  it("P2: bad quotes are refused with typed rejects and change nothing", () => {
    const h = new Harness();
    firstUpdate(h);
    const before = h.engine.stateHash();
    const events = h.batch([
      quote(99, 0, "1", "1", "1", T0, true),
      quote(USDC, 0, "1", "1", "1", T0, true),
      quote(BTC, 3, "1", "1", "1", T0, true),
      quote(BTC, SIM_A, "60010", "60000", "60005", T0, true),
      quote(BTC, SIM_A, "60000", "60010", "0", T0, true),
      quote(BTC, SIM_A, "60000", "60010", "60005", T0 + 60_001, true),
      { ...quote(BTC, SIM_A, "60000", "60010", "60005", T0), flags: 2 },
    ]);
    expect(rejects(events)).toEqual([
      "UnknownAsset: unknown asset 99",
      "InvalidField: asset 0 has no oracle sources configured",
      "InvalidField: oracle source 3 of asset 2: the asset has sources 0..2",
      "InvalidPrice: an oracle quote needs bid, ask and last > 0 and bid <= ask",
      "InvalidPrice: an oracle quote needs bid, ask and last > 0 and bid <= ask",
      `InvalidTime: oracle quote time ${T0 + 60_001} must be a non-negative integer (ms) at most 60000 ms after engine time ${T0}`,
      "InvalidField: oracle quote flags 2: only Apply (1) is defined",
    ]);
    expect(events.filter((e) => e.kind !== EventKind.CommandRejected)).toEqual([]);
    expect(h.engine.stateHash()).toBe(before);
  });

  it("P2: SetMarkPrice stays an operator override: answered as SetMarkPrice (no IndexPrice), the oracle's next update replaces it", () => {
    const h = new Harness();
    firstUpdate(h);
    const events = h.batch([{ kind: CommandKind.SetMarkPrice, asset: BTC, price: usd("50000") }]);
    expect(events.map((e) => [e.kind, e.acceptedKind, e.price])).toEqual([[EventKind.CommandAccepted, CommandKind.SetMarkPrice, 50_000n * USD]]);
    expect(h.marks().asset).toEqual([50_000n * USD]);
    // The next oracle update steps from the oracle's own last index, not from the override.
    h.at(T0 + 1000);
    const next = h.index(h.batch([quote(BTC, SIM_B, "60000", "60010", "60005", T0 + 1000, true)]));
    expect(next.indexFlags).toBe(0);
    expect(next.indexPrice).toBe(60_002_500_000_000n);
    expect(h.marks().asset).toEqual([60_002_500_000_000n]);
  });

  it("P2, C1: every risk shard applies the quotes as a replica: 2 risk × 2 matching shards hold the same marks", () => {
    const h = new Harness({ riskShards: 2, matchingShards: 2 });
    const events = firstUpdate(h);
    expect(h.index(events).indexPrice).toBe(60_047_503_750_000n);
    expect(events.filter((x) => x.kind === EventKind.CommandAccepted).length).toBe(3);
    expect(h.marks()).toEqual({ asset: [60_047_503_750_000n, 60_047_503_750_000n], perp: [60_047_503_750_000n, 60_047_503_750_000n] });
  });

  it("X7, P2: a snapshot keeps the sources' quotes and the last index: the restored engine steps on identically", () => {
    const h = new Harness();
    firstUpdate(h);
    const restored = Engine.fromSnapshot(config, h.engine.snapshot());
    expect(restored.stateHash()).toBe(h.engine.stateHash());
    const next = [quote(BTC, SIM_A, "61000", "61000", "61000", T0, true)];
    const live = h.index(h.batch(next));
    const cmd = Object.assign(new CommandRecord(), next[0], { seq: 99 });
    const got: EventRecord[] = [];
    restored.execute(cmd, { publish: (e) => got.push(Object.assign(new EventRecord(), e)) });
    const replayed = got.find((e) => e.kind === EventKind.IndexPrice)!;
    expect(replayed.indexPrice).toBe(live.indexPrice);
    expect(replayed.sourcesUsed).toBe(3);
  });

  it("X1: oracle moves change no balance: every asset's total is the same before and after", () => {
    const h = new Harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: BTC, amount: BTC_UNIT }]);
    const before = h.engine.risk[0]!.totals();
    firstUpdate(h);
    expect(h.engine.risk[0]!.totals()).toEqual(before);
  });
});

// ---------------------------------------------------------------- the wire (gateway decode, SDK encode/decode)

describe("OracleQuote and IndexPrice on the wire (P2)", () => {
  const out = new CommandRecord();
  const result = new DecodeResult();
  const decoded = (cmd: CommandJson): CommandRecord | string =>
    decodeCommand(encodeCommand(1n, cmd), config, out, result) ? out : `${rejectCodeName[result.code]}: ${result.message}`;
  const ok: CommandJson = { type: "OracleQuote", asset: BTC, source: SIM_B, bid: "60500", ask: "60600.5", last: "60550", sourceTimeMs: T0, apply: true };

  it("P2: the SDK's OracleQuote decodes at the gateway into the record the engine reads (operator only)", () => {
    const c = decoded(ok);
    expect(typeof c).toBe("object");
    const r = c as CommandRecord;
    expect([r.kind, r.asset, r.oracleSource, r.bid, r.ask, r.last, r.sourceTimeMs, r.flags]).toEqual([
      CommandKind.OracleQuote, BTC, SIM_B, 60_500n * USD, 60_600_500_000_000n, 60_550n * USD, T0, OracleQuoteFlag.Apply,
    ]);
    expect(result.privileged).toBe(true);
    const noApply = decoded({ ...ok, apply: false }) as CommandRecord;
    expect(noApply.flags).toBe(0);
  });

  it("P2: the gateway refuses a bad quote before the journal, with a typed reject", () => {
    expect(decoded({ ...ok, asset: 9 })).toBe("UnknownAsset: unknown asset 9");
    expect(decoded({ ...ok, asset: USDC })).toBe("InvalidField: asset 0 has no oracle sources configured");
    expect(decoded({ ...ok, source: 3 })).toBe("InvalidField: source 3: asset 2 has oracle sources 0..2");
    expect(decoded({ ...ok, bid: "60700" })).toBe("InvalidPrice: bid 60700000000000 above ask 60600500000000 (crossed quote)");
    expect(decoded({ ...ok, last: "0" })).toBe("InvalidPrice: zero last");
    expect(decoded({ ...ok, ask: "1.0000000001" })).toBe("InvalidPrice: over-scale: ask has scale 10, at most 9 decimal places allowed");
    expect(decoded({ ...ok, sourceTimeMs: 2n ** 60n })).toBe(`InvalidTime: source_time_ms ${2n ** 60n} is beyond ${Number.MAX_SAFE_INTEGER}`);
  });

  it("P2: IndexPrice crosses the ring and the wire and reads back in the SDK", () => {
    const e = Object.assign(new EventRecord(), { kind: EventKind.IndexPrice, seq: 7, asset: BTC, indexPrice: 60_197_622_509_375n, indexFlags: IndexFlag.StepLimited, sourcesUsed: 3, timeMs: T0 });
    const views = viewsOf(new SharedArrayBuffer(EVENT_RECORD_BYTES));
    writeEvent(views, 0, e);
    const back = new EventRecord();
    readEvent(views, 0, back);
    expect(decodeEvent(encodeEvent(back, 2n, config))).toEqual({
      clientSeq: 2n,
      seq: 7n,
      marketSeq: 0n,
      type: "IndexPrice",
      asset: BTC,
      index: "60197.622509375",
      stale: false,
      sourcesUsed: 3,
      stepLimited: true,
      timeMs: BigInt(T0),
    });
  });
});

// ---------------------------------------------------------------- X4 over the threaded pipeline

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.marketSeq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${e.clientId}|${eventCodeSlot(e)}|${e.message}|${eventPriceSlot(e)}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.makerFee}|${e.takerFee}|${e.tradeId}|${e.timeMs}`;
}

/** Random commands in random batches with an oracle update for BTC (3 quotes, sometimes a bad one) every few batches. */
function streamWithOracle(seed: number, count: number): CommandRecord[][] {
  const gen = new CommandGenerator(seed);
  const rand = prng(seed ^ 0x0a1e);
  const out: CommandRecord[][] = [gen.funding()];
  let left = count;
  let timeMs = T0;
  let mid = 60_000n * USD;
  while (left > 0) {
    const n = Math.min(left, 1 + Math.floor(rand() * 200));
    const b: CommandRecord[] = [];
    for (let i = 0; i < n; i++) b.push(gen.next());
    timeMs += 1000;
    b.push(Object.assign(new CommandRecord(), { kind: CommandKind.AdvanceTime, timeMs }));
    mid += BigInt(Math.floor(rand() * 400) - 200) * USD;
    for (let s = 0; s < 3; s++) {
      const age = Math.floor(rand() * 14_000);
      const p = mid + BigInt(s * 50) * USD;
      const q = { kind: CommandKind.OracleQuote, asset: BTC, oracleSource: s, bid: p - USD, ask: p + USD, last: p, sourceTimeMs: timeMs - age, flags: s === 2 ? OracleQuoteFlag.Apply : 0 };
      if (rand() < 0.1) q.bid = p + 2n * USD; // crossed: refused
      b.push(Object.assign(new CommandRecord(), q));
    }
    out.push(b);
    left -= n;
  }
  let seq = 0;
  for (const b of out) for (const c of b) c.seq = ++seq;
  return out;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4 with oracle commands", () => {
  const stream = streamWithOracle(12, 3_000);

  function inProcess(topology: EngineTopology): { events: string[]; hash: string } {
    const engine = new Engine(config, topology);
    const events: string[] = [];
    const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
    for (const b of stream) engine.processBatch(b, b.length, sink);
    return { events, hash: engine.stateHash() };
  }

  for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }]) {
    it(`X4, P2: replay equals live with oracle updates in the stream, ${topology.riskShards} risk × ${topology.matchingShards} matching (threaded)`, async () => {
      const expected = inProcess(topology);
      expect(expected.events.filter((t) => t.startsWith(`${EventKind.IndexPrice}|`)).length).toBeGreaterThan(10);
      const events: string[] = [];
      const fatal: string[] = [];
      const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)), onFatal: (m) => fatal.push(m) }, { topology });
      running.push(p);
      let n = 0;
      for (const b of stream) await p.submitBatch(b, b.length, ++n);
      await p.waitForBatch(n);
      const hash = await p.stateHash();
      expect(fatal).toEqual([]);
      expect(hash).toBe(expected.hash);
      if (topology.riskShards === 1) expect(events).toEqual(expected.events);
      else expect([...events].sort()).toEqual([...expected.events].sort());
    }, 60_000);
  }
});
