// Q3 across risk shards (engine/pipeline/engine.ts "Q3 across shards (as built)"; engine/risk/backstop-relay.ts and
// backstop-transit.ts): with K > 1 risk shards the configured backstop takes over an account on any shard — its
// headroom replicated at each boundary through the phase-4 merge (each shard's takeovers use at most
// floor((limit − used) / K) per batch), position legs through the market's matching shard, the other legs out of the
// liquidated account into its shard's transit slice and into the backstop from the merged deltas — and the result is
// the one-shard result to the last unit. Accounts: user = id / 16, risk shard = user % K; the backstop (112, user 7)
// is on shard 1 of two, Alice (32), Frank (128) and Carl (160) on shard 0, Dave (80) and the lender (16) on shard 1.
import { afterEach, describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, OrderFlag, Side, type ExchangeConfig } from "../engine/model/index.ts";
import { Engine, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import {
  ALICE, BACKSTOP, BOB, BTC, BTC_PERP, BTC_UNIT, BackstopHarness, CARL, DAVE, ERIN, FRANK, LENDER, SOL, SOL_UNIT, USD, USDC, USDC_UNIT,
  deposit, gtc, kinds, mark, quotes, withBackstop,
} from "./helpers/backstop-scenario.ts";
import { expectEveryBoundaryRestores, expectThreadedSplitMatchesInProcess, runInProcess } from "./helpers/threaded-run.ts";

const ONE: EngineTopology = { riskShards: 1, matchingShards: 1 };
const TWO: EngineTopology = { riskShards: 2, matchingShards: 1 };
const TWO_BY_TWO: EngineTopology = { riskShards: 2, matchingShards: 2 };
const TOPOLOGIES = [ONE, TWO, TWO_BY_TWO] as const;

class Harness extends BackstopHarness {

  /** Every balance of the account the takeover touches: per asset available, lent, borrowed; its position; its unsettled USDC. */
  account(id: number): string {
    const r = this.risk(id);
    const assets = [USDC, BTC, SOL].map((a) => `${r.balance(id, a).available}/${r.poolBalance(id, a).lent}/${r.poolBalance(id, a).borrowed}`);
    return `${assets.join(" ")} pos ${this.position(id).join("@")} u ${r.unsettledUsdc(id)}`;
  }

  /** Every risk shard's pool replicas (they must agree with each other, and with one shard's). */
  pools(): string[] {
    return this.engine.risk.map((r) => r.pools.hashText());
  }
}

/** Each of `longs` (6,100 USDC) buys 1 BTC-PERP at 60,000 from Bob; the backstop holds 50,000 USDC. */
function longs(h: Harness, accounts: readonly number[]): void {
  h.batch([deposit(BOB, USDC, 1_000_000n * USDC_UNIT), deposit(BACKSTOP, USDC, 50_000n * USDC_UNIT), ...accounts.map((a) => deposit(a, USDC, 6_100n * USDC_UNIT))]);
  h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BigInt(accounts.length) * BTC_UNIT)]);
  h.batch(accounts.map((a) => gtc(a, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)));
}

/**
 * Frank borrows 1,000 USDC against 10 SOL (the lender's 10,000 USDC); the backstop lends `backstopLends` of its 50,000.
 * The lends come a batch before the borrow: with K > 1 Frank's shard sees another shard's lend only after the merge.
 */
function frankBorrows(h: Harness, backstopLends: bigint): void {
  h.batch([
    deposit(LENDER, USDC, 10_000n * USDC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
    deposit(BACKSTOP, USDC, 50_000n * USDC_UNIT),
    ...(backstopLends > 0n ? [{ kind: CommandKind.Lend, account: BACKSTOP, asset: USDC, amount: backstopLends * USDC_UNIT }] : []),
    deposit(FRANK, SOL, 10n * SOL_UNIT),
  ]);
  h.batch([{ kind: CommandKind.Withdraw, account: FRANK, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow }]);
  expect(h.risk(FRANK).poolBalance(FRANK, USDC).borrowed).toBe(1_000n * USDC_UNIT);
}

describe("Q3 across risk shards: the one-shard result to the last unit", () => {
  it("Q3, X1: Alice (shard 0) below ACMF is taken over by the backstop (shard 1): at 1×1, 2×1 and 2×2 her 1 BTC long moves at 54,000 and her 40 USDC follow — the same balances for Alice, the backstop, Bob and the fund", () => {
    const results = TOPOLOGIES.map((t) => {
      const h = new Harness(withBackstop(120_000n * USD), t); // K = 2: 60,000 a shard a batch
      longs(h, [ALICE]);
      expect(kinds(h.batch(quotes(50_000n * USD, 54_000n * USD)), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
      const totals = h.totals();
      const events = h.tick();
      expect(h.totals()).toEqual(totals); // X1 over every shard: the transit slices are 0 again at the boundary
      expect(kinds(events, EventKind.LiquidationTransfer).map((e) => [e.account, e.makerAccount, e.market, e.asset, e.quantity, e.transferAmount])).toEqual([
        [ALICE, BACKSTOP, BTC_PERP, 0, BTC_UNIT, 0n],
        [ALICE, BACKSTOP, 0, USDC, 0n, 40n * USDC_UNIT],
      ]);
      expect(kinds(events, EventKind.OrderAccepted)).toEqual([]);
      expect(h.liquidating()).toEqual([]);
      return { alice: h.account(ALICE), backstop: h.account(BACKSTOP), bob: h.account(BOB), fund: h.fund(), history: h.risk(ALICE).liquidationHistoryCount(ALICE) };
    });
    expect(results[0]).toEqual({
      alice: "0/0/0 0/0/0 0/0/0 pos 0@0 u 0",
      backstop: `${50_040n * USDC_UNIT}/0/0 0/0/0 0/0/0 pos ${BTC_UNIT}@${54_000n * USD} u 0`,
      bob: results[0]!.bob,
      fund: 6_000n * USDC_UNIT, // Alice's realized −6,000 at the mark, the fund the counterparty (D4); no fee (Q3)
      history: 4,
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  for (const lends of [0n, 40_000n, 50_000n]) {
    it(`Q3, X1, L15: Frank (shard 0) with 10 SOL and a 1,000 USDC borrow at SOL 105 is taken over by the backstop (shard 1, lending ${lends} of its 50,000 USDC): the SOL, the borrow's shares and the netting give the one-shard balances and pool replicas at 2×1 and 2×2`, () => {
      const results = TOPOLOGIES.map((t) => {
        const h = new Harness(withBackstop(120_000n * USD), t);
        frankBorrows(h, lends);
        expect(kinds(h.batch([mark(SOL, 105n * USD)]), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([FRANK]);
        const totals = h.totals();
        const events = h.tick();
        expect(h.totals()).toEqual(totals); // X1: the borrow's shares crossed the shards whole
        expect(kinds(events, EventKind.LiquidationTransfer).map((e) => [e.account, e.makerAccount, e.asset, e.transferAmount, e.borrowed])).toEqual([
          [FRANK, BACKSTOP, USDC, 0n, 1_000n * USDC_UNIT],
          [FRANK, BACKSTOP, SOL, 10n * SOL_UNIT, 0n],
        ]);
        const pools = h.pools();
        for (const p of pools) expect(p).toBe(pools[0]); // every replica moved alike (the netting replayed off its owner)
        expect(h.liquidating()).toEqual([]);
        return { frank: h.account(FRANK), backstop: h.account(BACKSTOP), lender: h.account(LENDER), pools: pools[0], fund: h.fund() };
      });
      // One shard (liquidation-backstop.test.ts): the backstop owes Frank's borrow, or repays it from what it lends.
      const [available, lent, borrowed] = lends === 0n ? [50_000n, 0n, 1_000n] : lends === 40_000n ? [9_000n, 40_000n, 0n] : [0n, 49_000n, 0n];
      expect(results[0]!.backstop).toBe(`${available * USDC_UNIT}/${lent * USDC_UNIT}/${borrowed * USDC_UNIT} 0/0/0 ${10n * SOL_UNIT}/0/0 pos 0@0 u 0`);
      expect(results[0]!.frank).toBe("0/0/0 0/0/0 0/0/0 pos 0@0 u 0");
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    });
  }
});

describe("Q3 across three risk shards", () => {
  it("Q3, X1: at 3×1 and 3×2 Alice (shard 2) and Erin (shard 0) are taken over in one batch by the backstop (shard 1): their 40 USDC reach it at the merge from two transit slices, and every balance and the pools are the one-shard ones", () => {
    const results = [ONE, { riskShards: 3, matchingShards: 1 }, { riskShards: 3, matchingShards: 2 }].map((t) => {
      const h = new Harness(withBackstop(180_000n * USD), t); // K = 3: 60,000 a shard a batch
      longs(h, [ALICE, ERIN]);
      expect(kinds(h.batch(quotes(50_000n * USD, 54_000n * USD)), EventKind.LiquidationStarted).map((e) => e.account).sort((a, b) => a - b)).toEqual([ALICE, ERIN]);
      const totals = h.totals();
      const events = h.tick();
      expect(h.totals()).toEqual(totals);
      expect(kinds(events, EventKind.LiquidationTransfer).map((e) => [e.account, e.makerAccount, e.market, e.transferAmount]).sort()).toEqual([
        [ALICE, BACKSTOP, 0, 40n * USDC_UNIT],
        [ALICE, BACKSTOP, BTC_PERP, 0n],
        [ERIN, BACKSTOP, 0, 40n * USDC_UNIT],
        [ERIN, BACKSTOP, BTC_PERP, 0n],
      ].sort());
      expect(h.liquidating()).toEqual([]);
      return { alice: h.account(ALICE), erin: h.account(ERIN), backstop: h.account(BACKSTOP), bob: h.account(BOB), fund: h.fund(), pools: h.pools()[0] };
    });
    expect(results[0]!.backstop).toBe(`${50_080n * USDC_UNIT}/0/0 0/0/0 0/0/0 pos ${2n * BTC_UNIT}@${54_000n * USD} u 0`);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

describe("Q3 across risk shards: the backstop's limit", () => {
  it("Q3: limit 110,000 — at 2×1 each shard may hand over 55,000 a batch: Alice (shard 0) and Dave (shard 1) go to the backstop in one batch (108,000), Carl (shard 0) never does (1,000 left a shard), and the backstop's exposure stays within its limit — as one shard decides", () => {
    const exposures: bigint[] = [];
    const taken = [ONE, TWO].map((t) => {
      const h = new Harness(withBackstop(110_000n * USD), t);
      longs(h, [ALICE, DAVE, CARL]);
      expect(kinds(h.batch(quotes(50_000n * USD, 54_000n * USD)), EventKind.LiquidationStarted).map((e) => e.account).sort((a, b) => a - b)).toEqual([ALICE, DAVE, CARL]);
      const takenOver: number[] = [];
      for (let i = 0; i < 4; i++) {
        const events = h.tick();
        for (const e of kinds(events, EventKind.LiquidationTransfer)) if (e.market === BTC_PERP && e.asset === 0) takenOver.push(e.account);
        const exposure = h.risk(BACKSTOP).accountMargin(BACKSTOP).totalExposureNotionalUsd();
        expect(exposure).toBeLessThanOrEqual(110_000n * USD);
        exposures.push(exposure);
      }
      expect(h.position(BACKSTOP)).toEqual([2n * BTC_UNIT, 54_000n * USD]);
      return takenOver;
    });
    expect(taken).toEqual([[ALICE, DAVE], [ALICE, DAVE]]);
    expect(Math.max(...exposures.map(Number))).toBe(Number(108_000n * USD));
  });

  it("Q3 (K > 1 budget): limit 100,000 — one shard takes Alice (54,000); at 2×1 each shard's 50,000 a batch takes neither, and both stay on the book", () => {
    for (const [t, expected] of [[ONE, [ALICE]], [TWO, []]] as const) {
      const h = new Harness(withBackstop(100_000n * USD), t);
      longs(h, [ALICE, DAVE]);
      h.batch(quotes(50_000n * USD, 54_000n * USD));
      const events = h.tick();
      expect(kinds(events, EventKind.LiquidationTransfer).filter((e) => e.market === BTC_PERP).map((e) => e.account)).toEqual(expected);
      expect(kinds(events, EventKind.OrderAccepted).map((e) => e.account).sort((a, b) => a - b)).toEqual(t === ONE ? [DAVE] : [ALICE, DAVE]);
    }
  });
});

describe("Q3 across risk shards: a liquidating backstop", () => {
  it("Q3: the backstop (shard 1) itself goes liquidating at mark 54,000 in the same batch as Alice (shard 0): the next batch nobody hands it Alice — one shard knows at once, two shards from the backstop's status at the end of phase 3b — and both step on the book", () => {
    for (const t of TOPOLOGIES) {
      const h = new Harness(withBackstop(200_000n * USD), t);
      // The backstop holds only 6,100 USDC here and buys 1 BTC-PERP at 60,000 as Alice does.
      h.batch([deposit(BOB, USDC, 1_000_000n * USDC_UNIT), deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(BACKSTOP, USDC, 6_100n * USDC_UNIT)]);
      h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, 2n * BTC_UNIT)]);
      h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(BACKSTOP, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
      expect(kinds(h.batch(quotes(50_000n * USD, 54_000n * USD)), EventKind.LiquidationStarted).map((e) => e.account).sort((a, b) => a - b)).toEqual([ALICE, BACKSTOP]);
      const events = h.tick();
      expect(kinds(events, EventKind.LiquidationTransfer)).toEqual([]);
      expect(kinds(events, EventKind.OrderAccepted).map((e) => e.account).sort((a, b) => a - b)).toEqual([ALICE, BACKSTOP]);
      expect(h.position(BACKSTOP)).toEqual([BTC_UNIT, 60_000n * USD]);
      if (t.riskShards > 1) expect(h.engine.risk.map((r) => r.backstopRelayed().liquidating)).toEqual([true, true]);
    }
  });
});

// ---------------------------------------------------------------- X4, X7: replay, snapshots, threads

function eventText(e: EventRecord): string {
  const leg = e.kind === EventKind.LiquidationTransfer ? `${e.transferAmount}|${e.borrowed}` : "";
  return `${e.kind}|${e.seq}|${e.account}|${e.makerAccount}|${e.market}|${e.asset}|${e.quantity}|${e.price}|${leg}|${e.timeMs}`;
}

/** Frank's takeover with the L15 netting (backstop lends 40,000), then Alice's and Dave's (limit 110,000), then ticks. */
function journal(config: ExchangeConfig): CommandRecord[][] {
  const h = new Harness(config, ONE);
  frankBorrows(h, 40_000n);
  h.batch([mark(SOL, 105n * USD)]);
  h.tick();
  longs(h, [ALICE, DAVE, CARL]);
  h.batch(quotes(50_000n * USD, 54_000n * USD));
  for (let i = 0; i < 4; i++) h.tick();
  return h.journal;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4, X7 through cross-shard takeovers", () => {
  const config = withBackstop(110_000n * USD);
  const batches = journal(config);

  const run = (topology: EngineTopology, from = 0, engine?: Engine) => runInProcess(config, batches, eventText, topology, from, engine);

  it("Q3, X4: at 2×2 the journal's cross-shard takeovers replay to the same events and state hash", () => {
    const a = run(TWO_BY_TWO);
    expect(a.events.filter((t) => t.startsWith(`${EventKind.LiquidationTransfer}|0|${ALICE}|${BACKSTOP}|`)).length).toBe(2);
    expect(a.events.filter((t) => t.startsWith(`${EventKind.LiquidationTransfer}|0|${FRANK}|${BACKSTOP}|`)).length).toBe(2);
    const b = run(TWO_BY_TWO);
    expect(b.events).toEqual(a.events);
    expect(b.hash).toBe(a.hash);
  });

  it("Q3, X7: a snapshot at every boundary (the replicated headroom in it; nothing in transit) restores into a 2×2 engine that goes on identically", () => {
    let sawHeadroom = false;
    expectEveryBoundaryRestores(config, batches, eventText, TWO_BY_TWO, (e) => e.risk.map((r) => r.backstopRelayed()), (relayed, cut) => {
      sawHeadroom ||= relayed.usedUsd !== 0n;
      return cut === batches.length - 2;
    });
    expect(sawHeadroom).toBe(true);
  });

  it("Q3, X4: threaded 2×2 split gives the in-process events (as a set) and state hash", async () => {
    await expectThreadedSplitMatchesInProcess(config, batches, eventText, TWO_BY_TWO, running);
  }, 60_000);
});
