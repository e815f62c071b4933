// Q4 perpetual ADL across risk shards (engine/pipeline/engine.ts "Q4 ADL across shards (as built)";
// engine/risk/adl-relay.ts and adl-across-shards.ts): with K > 1 a bankrupt account posts a demand (batch B), every
// shard publishes its top-ranked opposing holders (B+1), and every shard runs the same allocation over the replicated
// demands and offers (B+2), the deciding shard sending the legs through the market's matching shard at the bankruptcy
// price — the one-shard result to the last unit, two batches later. Accounts: user = id / 16, risk shard = user % K;
// with two shards Alice (32) and Erin (96) are on shard 0, Bob (48), Dave (80) and the lender (16) on shard 1: every
// position opposing Alice's long is on the other shard (before, she got a cover each batch and no ADL).
import { afterEach, describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, LiquidationStep, OrderFlag, Side, TimeInForce } from "../engine/model/index.ts";
import { Engine, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { SettlementReason } from "../engine/risk/index.ts";
import {
  ALICE, BOB, BTC_PERP, BTC_UNIT, BackstopHarness as Harness, DAVE, ERIN, FRANK, LENDER, SOL, SOL_UNIT, SOL_USDC, USD, USDC, USDC_UNIT,
  adlSetup, base, deposit, fundWithFrank, gtc, kinds, mark, quotes,
} from "./helpers/backstop-scenario.ts";
import { expectEveryBoundaryRestores, expectThreadedSplitMatchesInProcess, runInProcess } from "./helpers/threaded-run.ts";

const ONE: EngineTopology = { riskShards: 1, matchingShards: 1 };
const TWO: EngineTopology = { riskShards: 2, matchingShards: 1 };
const TWO_BY_TWO: EngineTopology = { riskShards: 2, matchingShards: 2 };
const THREE_BY_TWO: EngineTopology = { riskShards: 3, matchingShards: 2 };
/** 53,955 + 3.9535: Alice's equity −5 USD at mark 53,955, the fund's 1.0465 paid first (liquidation-backstop.test.ts). */
const P = 53_958_953_500_000n;

const legs = (events: EventRecord[]) =>
  kinds(events, EventKind.LiquidationTransfer).map((e) => [e.liquidationStep, e.account, e.makerAccount, e.market, e.side, e.quantity, e.price]);

interface AdlRun {
  /** Ticks after the stall until the legs went out (1 with one shard: the next batch; 3 with K > 1). */
  batches: number;
  legs: unknown[][];
  losses: unknown[][];
  covers: unknown[][];
  balances: Record<string, unknown>;
}

function runAdl(t: EngineTopology): AdlRun {
  const h = new Harness(base, t);
  adlSetup(h);
  h.batch(quotes(50_000n * USD, 53_955n * USD));
  expect(h.liquidating()).toEqual([ALICE]);
  if (t.riskShards === 2) expect([h.risk(BOB), h.risk(DAVE)].every((r) => r !== h.risk(ALICE))).toBe(true); // counterparties elsewhere
  expect(kinds(h.tick(), EventKind.Fill)).toEqual([]); // stalled: the book step finds no bid within the bound
  const totals = h.totals();
  const bobBefore = h.usdc(BOB);
  const erinBefore = h.usdc(ERIN);
  let batches = 0;
  let events: EventRecord[] = [];
  const covers: unknown[][] = [];
  while (batches < 5) {
    events = h.tick();
    batches++;
    for (const e of kinds(events, EventKind.Settlement)) if (e.settlementReason === SettlementReason.InsuranceCover) covers.push([e.account, e.settledAmount]);
    expect(h.totals()).toEqual(totals); // X1 in every batch: a demand and its offers move nothing
    if (legs(events).length !== 0) break;
  }
  return {
    batches,
    legs: legs(events),
    losses: kinds(events, EventKind.SocializedLoss).map((e) => [e.account, e.market, e.quantity, e.price, e.legMarkPrice, e.adlLoss]),
    covers,
    balances: {
      alice: [h.usdc(ALICE), ...h.position(ALICE)],
      bob: [h.usdc(BOB) - bobBefore, ...h.position(BOB)],
      dave: [h.usdc(DAVE), ...h.position(DAVE)],
      erin: [h.usdc(ERIN) - erinBefore, ...h.position(ERIN)],
      fund: h.fund(),
      liquidating: h.liquidating(),
    },
  };
}

describe("Q4 perp ADL across risk shards: the one-shard result to the last unit", () => {
  it("Q4, X1: Alice (shard 0) bankrupt with every opposing short on shard 1: at 2×1, 2×2 and 3×2 her 1 BTC closes at the bankruptcy price 53,958.9535 against Dave then Bob, 0.5 each, after the fund's whole 1.0465 — as one shard, two batches later", () => {
    const runs = [ONE, TWO, TWO_BY_TWO, THREE_BY_TWO].map(runAdl);
    expect(runs[0]!.batches).toBe(1);
    expect(runs[0]!.legs).toEqual([
      [LiquidationStep.OnAdl, ALICE, DAVE, BTC_PERP, Side.Sell, BTC_UNIT / 2n, P],
      [LiquidationStep.OnAdl, ALICE, BOB, BTC_PERP, Side.Sell, BTC_UNIT / 2n, P],
    ]);
    expect(runs[0]!.losses).toEqual([
      [ALICE, BTC_PERP, BTC_UNIT / 2n, P, 53_955n * USD, 1_976_750n],
      [ALICE, BTC_PERP, BTC_UNIT / 2n, P, 53_955n * USD, 1_976_750n],
    ]);
    expect(runs[0]!.covers).toEqual([[ALICE, 1_046_500n]]);
    expect(runs[0]!.balances).toEqual({
      alice: [0n, 0n, 0n],
      // Dave and Bob each realize 0.5 × (60,000 − 53,958.9535) = 3,020.52325 USDC on the half they closed.
      bob: [3_020_523_250n, -BTC_UNIT / 2n, 60_000n * USD],
      dave: [3_100n * USDC_UNIT - 24n * USDC_UNIT + 3_020_523_250n, 0n, 0n],
      erin: [0n, BTC_UNIT / 2n, 60_000n * USD],
      fund: 0n,
      liquidating: [],
    });
    for (const r of runs.slice(1)) {
      expect(r.batches).toBe(3); // demand, offers, decision
      expect(r.legs).toEqual(runs[0]!.legs);
      expect(r.losses).toEqual(runs[0]!.losses);
      expect(r.covers).toEqual(runs[0]!.covers); // the fund's whole capital, as one shard pays it (not floor(fund / K))
      expect(r.balances).toEqual(runs[0]!.balances);
    }
  });
});

describe("Q4 perp ADL across risk shards: no quantity allocated twice", () => {
  it("Q4, X1: Alice (shard 0) and Gina (176, shard 1) are bankrupt longs of 1 BTC in one batch; the shorts are Erin (shard 0, 50,000 USDC: ranked first) and Bob (shard 1): at 2×1 and 2×2 both shards allocate alike — Alice (lower id) gets the fund's 1.0465 and Erin's 1 BTC, Gina Bob's 1 BTC at her own bankruptcy price — as one shard does", () => {
    const GINA = 176;
    const results = [ONE, TWO, TWO_BY_TWO].map((t) => {
      const h = new Harness(base, t);
      fundWithFrank(h);
      h.batch([deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(GINA, USDC, 6_100n * USDC_UNIT), deposit(ERIN, USDC, 50_000n * USDC_UNIT)]);
      h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT), gtc(ERIN, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT)]);
      h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(GINA, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
      h.batch(quotes(50_000n * USD, 53_955n * USD));
      expect(h.liquidating()).toEqual([ALICE, GINA]);
      h.tick(); // stalled
      const totals = h.totals();
      const all: EventRecord[] = [];
      for (let i = 0; i < 3; i++) all.push(...h.tick());
      expect(h.totals()).toEqual(totals);
      return {
        legs: legs(all).sort(),
        positions: [ALICE, GINA, ERIN, BOB].map((a) => h.position(a)),
        usdc: [ALICE, GINA, ERIN, BOB].map((a) => h.usdc(a)),
        fund: h.fund(),
        liquidating: h.liquidating(),
      };
    });
    // Gina's equity is −5 as Alice's (6,040 − 6,045), but the fund went to Alice (lower id): p = 53,955 + 5 = 53,960.
    expect(results[0]!.legs).toEqual([
      [LiquidationStep.OnAdl, ALICE, ERIN, BTC_PERP, Side.Sell, BTC_UNIT, P],
      [LiquidationStep.OnAdl, GINA, BOB, BTC_PERP, Side.Sell, BTC_UNIT, 53_960n * USD],
    ].sort());
    expect(results[0]!.positions).toEqual([[0n, 0n], [0n, 0n], [0n, 0n], [0n, 0n]]);
    expect(results[0]!.usdc.slice(0, 2)).toEqual([0n, 0n]);
    expect(results[0]!.liquidating).toEqual([]);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

describe("Q4 perp ADL across risk shards: an allocation the account no longer needs", () => {
  it("Q4: at 2×2 Alice deposits 10 USDC while her demand waits (equity −5 → +5): two batches later she is not bankrupt, no leg goes out, Dave and Bob keep their shorts and the fund its 1.0465; she stays on the book", () => {
    const h = new Harness(base, TWO_BY_TWO);
    adlSetup(h);
    h.batch(quotes(50_000n * USD, 53_955n * USD));
    h.tick(); // stalled
    h.tick(); // the demand is posted
    expect(h.engine.risk[0]!.adlRelayed().pending.length).toBe(1);
    h.tick([deposit(ALICE, USDC, 10n * USDC_UNIT)]); // the offers go out; Alice's equity is +5 at the boundary
    expect(h.engine.risk[0]!.adlRelayed().ready.length).toBe(1);
    const events = h.tick();
    expect(legs(events)).toEqual([]);
    expect(kinds(events, EventKind.SocializedLoss)).toEqual([]);
    expect([h.position(DAVE)[0], h.position(BOB)[0], h.position(ALICE)[0]]).toEqual([-BTC_UNIT / 2n, -BTC_UNIT, BTC_UNIT]);
    expect(h.fund()).toBe(1_046_500n);
    expect(h.liquidating()).toEqual([ALICE]);
    for (const r of h.engine.risk) expect(r.adlRelayed()).toEqual({ pending: [], ready: [], offers: [] });
  });
});

describe("Q4 perp ADL across risk shards: never more than the position now", () => {
  it("Q4: at 2×2 Alice sells 0.01 BTC to Erin at 53,954 while her demand for 1 BTC waits: two batches later her legs close 0.99 — Dave's 0.5, then 0.49 of Bob's 0.5 — at the bankruptcy price of the position she holds then", () => {
    const h = new Harness(base, TWO_BY_TWO);
    adlSetup(h);
    h.batch(quotes(50_000n * USD, 53_955n * USD));
    h.tick(); // stalled
    h.tick(); // the demand is posted: 1 BTC
    h.tick([gtc(ERIN, BTC_PERP, Side.Buy, 53_954n * USD, BTC_UNIT / 100n), { ...gtc(ALICE, BTC_PERP, Side.Sell, 53_954n * USD, BTC_UNIT / 100n), tif: TimeInForce.IOC }]);
    expect(h.position(ALICE)[0]).toBe(BTC_UNIT - BTC_UNIT / 100n);
    const out = legs(h.tick());
    expect(out.map((l) => [l[2], l[5]])).toEqual([[DAVE, BTC_UNIT / 2n], [BOB, BTC_UNIT / 2n - BTC_UNIT / 100n]]);
    expect(new Set(out.map((l) => l[6])).size).toBe(1); // one bankruptcy price for the position
    expect([h.position(ALICE)[0], h.position(DAVE)[0], h.position(BOB)[0]]).toEqual([0n, 0n, -BTC_UNIT / 2n - BTC_UNIT / 100n]);
  });
});

describe("Q4 across shards: what the relay carries", () => {
  it("Q4: at 2×2 the demand (Alice's 1 BTC, deficit 5 USDC) is on every shard at the boundary after the stall's next batch; a batch later it is ready with shard 1's offers — Dave ranked before Bob — and the batch after it is gone", () => {
    const h = new Harness(base, TWO_BY_TWO);
    adlSetup(h);
    h.batch(quotes(50_000n * USD, 53_955n * USD));
    h.tick(); // stalled
    h.tick(); // bankrupt: the deficit (5 USDC) is over the shard's budget floor(1.0465 / 2): the demand is posted
    const demand = `${ALICE}:${BTC_PERP}:${BTC_UNIT}:${5n * USDC_UNIT}`;
    for (const r of h.engine.risk) expect(r.adlRelayed()).toEqual({ pending: [demand], ready: [], offers: [] });
    expect(h.fund()).toBe(1_046_500n); // nothing paid while the demand waits
    h.tick(); // every shard publishes its shorts of BTC-PERP (shard 0 has none)
    const dave = h.risk(DAVE).accountMargin(DAVE).netEquityUsd();
    const bob = h.risk(BOB).accountMargin(BOB).netEquityUsd();
    const offers = [`${DAVE}:${BTC_PERP}:${-BTC_UNIT / 2n}:${-30_000n * USD * BTC_UNIT}:${dave}`, `${BOB}:${BTC_PERP}:${-BTC_UNIT}:${-60_000n * USD * BTC_UNIT}:${bob}`];
    const relayed = h.engine.risk.map((r) => r.adlRelayed());
    expect(relayed[0]).toEqual({ pending: [], ready: [demand], offers: relayed[0]!.offers });
    expect(relayed[0]!.offers).toEqual(offers);
    expect(relayed[1]).toEqual(relayed[0]);
    expect(legs(h.tick()).length).toBe(2);
    for (const r of h.engine.risk) expect(r.adlRelayed()).toEqual({ pending: [], ready: [], offers: [] });
  });
});

// ---------------------------------------------------------------- X4, X7: replay, snapshots, threads

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.account}|${e.makerAccount}|${e.market}|${e.asset}|${e.side}|${e.quantity}|${e.price}|${e.timeMs}`;
}

function journal(): CommandRecord[][] {
  const h = new Harness(base, ONE);
  adlSetup(h);
  h.batch(quotes(50_000n * USD, 53_955n * USD));
  for (let i = 0; i < 6; i++) h.tick();
  return h.journal;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4, X7 through an ADL across shards", () => {
  const batches = journal();

  const run = (topology: EngineTopology, from = 0, engine?: Engine) => runInProcess(base, batches, eventText, topology, from, engine);

  it("Q4, X4: at 2×2 the journal's cross-shard ADL replays to the same events and state hash", () => {
    const a = run(TWO_BY_TWO);
    expect(a.events.filter((t) => t.startsWith(`${EventKind.LiquidationTransfer}|0|${ALICE}|`)).length).toBe(2);
    const b = run(TWO_BY_TWO);
    expect(b.events).toEqual(a.events);
    expect(b.hash).toBe(a.hash);
  });

  it("Q4, X7: a snapshot at every boundary (the demand, then the offers in it) restores into a 2×2 engine that goes on identically", () => {
    const seen = { pending: false, ready: false };
    expectEveryBoundaryRestores(base, batches, eventText, TWO_BY_TWO, (e) => e.risk.map((r) => r.adlRelayed()), (relayed) => {
      seen.pending ||= relayed.pending.length !== 0;
      seen.ready ||= relayed.ready.length !== 0;
      return relayed.pending.length !== 0 || relayed.ready.length !== 0;
    });
    expect(seen).toEqual({ pending: true, ready: true });
  });

  it("Q4, X7: a version-14 file (before the ADL relay: format 15) is refused with its version", () => {
    const bytes = new Engine(base, TWO_BY_TWO).snapshot();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(view.getUint16(8, true)).toBeGreaterThanOrEqual(15);
    view.setUint16(8, 14, true);
    expect(() => Engine.fromSnapshot(base, bytes, TWO_BY_TWO)).toThrow(/version 14/);
  });

  it("Q4, X4: threaded 2×2 split gives the in-process events (as a set) and state hash", async () => {
    await expectThreadedSplitMatchesInProcess(base, batches, eventText, TWO_BY_TWO, running);
  }, 60_000);
});
