// Issue 13 item 8: the model-based liquidation fuzz (test/fuzz/model.ts has the model and every check) — random price
// paths with crashes and recoveries over spot-margin and perpetual accounts through the in-process Engine; after every
// step X1 (per asset, insurance slices and fee account counted), X2, Q2's progress bound and Q4's "the insurance fund
// is never negative without a recorded socialized loss". 20,000 steps with a fixed seed, and a random seed (printed;
// CROSSBOOK_FUZZ_SEED=S reruns it) over 2 risk × 2 matching shards. `npm run fuzz` runs 1,000,000 steps.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind } from "../engine/model/index.ts";
import { SettlementReason } from "../engine/risk/index.ts";
import { FuzzFailure, FuzzModel, formatFuzzReport, runFuzz, type FuzzRunOptions } from "./fuzz/model.ts";

/** What a run must have exercised, so a degenerate generator fails here rather than passing quietly. */
function expectCoverage(o: FuzzRunOptions, r: ReturnType<typeof runFuzz>): void {
  const s = r.stats;
  const report = formatFuzzReport(o, r).join("\n");
  for (const [what, n] of Object.entries({
    crashes: s.crashes, pumps: s.pumps, fills: s.fills, borrows: s.borrows, fundingRates: s.fundingRates, realizations: s.realizations,
    liquidationsStarted: s.liquidationsStarted, liquidationsEnded: s.liquidationsEnded, liquidationFills: s.liquidationFills,
  })) {
    expect(n, `${what} never happened:\n${report}`).toBeGreaterThan(0);
  }
  expect(s.liquidationFeesUsdc, `no liquidation fee reached the insurance fund:\n${report}`).toBeGreaterThan(0n);
}

describe("X1, X2, Q2, Q4: model-based liquidation fuzz", () => {
  it("X1: X2: Q2: Q4: 20,000 steps (fixed seed) of crashes and recoveries — conservation, progress and the insurance fund after every step", () => {
    const o: FuzzRunOptions = { seed: 20261206, steps: 20_000, episodeSteps: 5_000 };
    const r = runFuzz(o);
    for (const line of formatFuzzReport(o, r)) console.log(line);
    expect(r.failures.map((f) => f.message)).toEqual([]);
    expect(r.stats.steps).toBe(20_000);
    expectCoverage(o, r);
  }, 900_000);

  it("Q2: Q4: Q3: L15: the seeds the 1M run and the backstop found (each failed before its fix), to their failing step and beyond", () => {
    // 3270706892: a cover out of realized PnL in transit (Q4), then the backstop lending and borrowing one asset
    // (L15); 4153617179: funding still to collect under P5S (the model's close-out); 1921724582: three bankrupt
    // accounts with one opposing holder, which took one ADL leg a batch (Q2's progress bound).
    for (const [seed, steps] of [[3270706892, 1_000], [4153617179, 300], [1921724582, 1_400]] as const) {
      const r = runFuzz({ seed, steps, episodeSteps: steps });
      expect(r.failures.map((f) => f.message), `seed ${seed}`).toEqual([]);
    }
  });

  it("Q2: Q4: seed 1062833690 at 2 × 2 — a cover of the deficit an ADL demand posted two batches earlier is progress; the next round's legs follow", () => {
    // Failed before (CI's random 2 × 2 seed, old): "account 96 liquidating 5 batches without progress" at step 1527.
    // Account 96 (risk shard 0) is stalled on the book at 1523 (a crash of market 5: nothing within the slippage bound)
    // with a deficit of 689,140,070 USDC units; its shard's cover budget (capital 759,125,996 / 2) cannot pay it, so
    // it posts its ADL demand at 1524 (engine.ts "Q4 ADL across shards (as built)"). At 1526 the decision covers the
    // deficit posted, whole, from the fund's capital — so no legs —, while the mark moved on meanwhile (deficit now
    // 5,756.6 USD): the account stays bankrupt and posts again at 1527; at 1529 the fund's last 69,985,926 and four ADL
    // legs. The cover at 1526 is a Q4 step (the fund paid the account); the fuzz's Q2 did not count it.
    const model = new FuzzModel(1062833690, { riskShards: 2, matchingShards: 2 });
    const seen: string[] = [];
    model.onEvent = (e, step) => {
      if (e.account !== 96 || step < 1520) return;
      if (e.kind === EventKind.Settlement && e.settlementReason === SettlementReason.InsuranceCover) seen.push(`${step} cover ${e.settledAmount}`);
      else if (e.kind === EventKind.LiquidationTransfer) seen.push(`${step} leg ${e.market} ${e.side} ${e.quantity} to ${e.makerAccount} at ${e.price}`);
      else if (e.kind === EventKind.LiquidationStarted || e.kind === EventKind.LiquidationEnded) seen.push(`${step} ${e.kind === EventKind.LiquidationStarted ? "started" : "ended"}`);
    };
    const relayed: string[] = [];
    for (let step = 1; step <= 1531; step++) {
      model.step(); // the checks run after each step: the Q2 bound too
      if (step >= 1523 && step <= 1528) relayed.push(`${step} ${model.engine.risk[1]!.adlRelayed().pending.join(",")} | ${model.engine.risk[1]!.adlRelayed().ready.join(",")}`);
    }
    expect(relayed).toEqual([
      "1523  | ",
      "1524 96:3:-110840000:689140070,96:5:502440000000:689140070 | ",
      "1525  | 96:3:-110840000:689140070,96:5:502440000000:689140070",
      "1526  | ",
      "1527 96:3:-110840000:5066434794,96:5:502440000000:5066434794 | ",
      "1528  | 96:3:-110840000:5066434794,96:5:502440000000:5066434794",
    ]);
    expect(seen).toEqual([
      "1522 started",
      "1526 cover 689140070",
      // (Figures of 12-08's second session: an hour of interest is priced at the utilization of the boundary before
      // the batch that crosses it (L5), which moved the fund by a unit and the bankruptcy prices by a few.)
      "1529 cover 69985925",
      "1529 leg 3 0 11470000 to 144 at 35656605642285",
      "1529 leg 3 0 99370000 to 176 at 35656605642285",
      "1529 leg 5 1 18460000000 to 144 at 199585198684",
      "1529 leg 5 1 483980000000 to 128 at 199585198684",
      "1531 ended",
    ]);
    expect(model.stats.maxBatchesWithoutProgress).toBe(3);
  }, 120_000);

  it("X1: X2: Q2: Q4: a random seed (printed) over 2 risk × 2 matching shards", () => {
    const seed = Number(process.env.CROSSBOOK_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`liquidation-fuzz: random seed ${seed} (rerun with CROSSBOOK_FUZZ_SEED=${seed}, or npm run fuzz -- --seed ${seed} --steps 2000 --risk-shards 2 --matching-shards 2)`);
    const o: FuzzRunOptions = { seed, steps: 2_000, episodeSteps: 2_000, topology: { riskShards: 2, matchingShards: 2 } };
    const r = runFuzz(o);
    for (const line of formatFuzzReport(o, r)) console.log(line);
    expect(r.failures.map((f) => f.message)).toEqual([]);
  }, 300_000);

  it("X1: the model's check fails on a unit it did not see come in (the checks can fail)", () => {
    const model = new FuzzModel(1);
    for (let i = 0; i < 20; i++) model.step();
    const sneaked = Object.assign(new CommandRecord(), { kind: CommandKind.Deposit, seq: 1_000_000, account: 32, asset: 0, amount: 1n });
    model.engine.processBatch([sneaked], 1, { publish: () => {} });
    expect(() => model.check()).toThrow(FuzzFailure);
    expect(() => model.check()).toThrow(/X1 broken at step 20 of seed 1: units of asset 0/);
  });
});
