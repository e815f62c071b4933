// Q5 lender ADL across risk shards (engine/pipeline/engine.ts "Q5 lender ADL across shards (as built)";
// engine/risk/adl-lender-relay.ts and adl-lenders-across-shards.ts): with K > 1 a liquidating lender whose pool refuses
// the redemption and whose own shard's borrowers cannot take its claim posts a demand (batch B); its shard confirms it
// and every shard publishes its best-ranked borrowers of the asset (B+1); every shard runs the same allocation and
// executes its own accounts' halves (B+2) — one shard's legs, prices and balances to the last unit, two batches later.
// Accounts: user = id / 16, risk shard = user % K. Seed 004's stuck lender (liquidation-lenders.test.ts) with the lender
// Dave (80: shard 1 of 2, 2 of 3) and the borrowers Erin (96) and Hank (160) on other shards (0 of 2; 0 and 1 of 3).
// K > 1 never lets a borrow take U to the throttle (pools.ts budgets), so the borrows take it to 2,000 units below it
// and four hours of interest over it: the same commands in every topology.
import { afterEach, describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, OrderFlag, SocializationKind } from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { riskShardOf } from "../engine/risk/index.ts";
import { EngineHarness } from "./helpers/engine-harness.ts";
import { expectEveryBoundaryRestores, expectThreadedSplitMatchesInProcess, runInProcess } from "./helpers/threaded-run.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const LENDER = 16;
const BOB = 48;
const CAROL = 64;
const DAVE = 80;
const ERIN = 96;
const HANK = 160;
const RATIO_ONE = 1_000_000_000_000_000_000n;

const ONE: EngineTopology = { riskShards: 1, matchingShards: 1 };
const TWO: EngineTopology = { riskShards: 2, matchingShards: 1 };
const TWO_BY_TWO: EngineTopology = { riskShards: 2, matchingShards: 2 };
const THREE_BY_TWO: EngineTopology = { riskShards: 3, matchingShards: 2 };

class Harness extends EngineHarness {
  constructor(topology: EngineTopology = ONE) {
    super(config, { topology });
  }

  /** Every replica's [lent, borrowed, cash] of the pool (equal at a boundary). */
  pools(asset: number): bigint[][] {
    return this.engine.risk.map((r) => {
      const p = r.pools.pools[asset]!;
      return [p.totalLent, p.totalBorrowed, p.cash];
    });
  }

  /** The clock `ms` on (the interest of every hour mark crossed is charged at the batch end). */
  advance(ms: number): void {
    this.timeMs += ms;
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs: this.timeMs }]);
  }
}

const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
const lend = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Lend, account, asset, amount });
const mark = (asset: number, price: bigint): Partial<CommandRecord> => ({ kind: CommandKind.SetMarkPrice, asset, price });
const withdraw = (account: number, asset: number, amount: bigint, flags = 0): Partial<CommandRecord> => ({ kind: CommandKind.Withdraw, account, asset, amount, flags });
const rejects = (events: EventRecord[]) => events.filter((e) => e.kind === EventKind.CommandRejected).map((e) => [e.account, e.code, e.message]);
/** LenderAdl events: [account, asset, quantity, USDC (+ to the lender), counterparty], in a fixed order (K > 1: each shard publishes its own). */
const adlLegs = (events: EventRecord[]) =>
  events
    .filter((e) => e.kind === EventKind.Socialization && e.socializationKind === SocializationKind.LenderAdl)
    .map((e) => [e.account, e.asset, e.socializedQuantity, e.socializedAmount, e.counterpartyAccount])
    .sort((a, b) => (a[0] as number) - (b[0] as number) || (a[4] as number) - (b[4] as number));

/**
 * The borrowers of BTC (alternating) borrow floor(room / 3) − 1 a batch — what a shard's budget allows at K = 3 — until
 * the room below the 90% throttle is under 2,000 units; then 4 hours of interest take U over it. Same commands in
 * every topology (the pool replicas agree at every boundary, and each amount is read from one).
 */
function borrowToThrottle(h: Harness, borrowers: number[]): void {
  for (let i = 0; ; i++) {
    const pool = h.engine.risk[0]!.pools.pools[BTC]!;
    const line = (pool.config.throttleUtilizationThreshold * pool.totalLent + RATIO_ONE - 1n) / RATIO_ONE - 1n;
    const room = line - pool.totalBorrowed;
    if (room < 2_000n) break;
    expect(rejects(h.batch([withdraw(borrowers[i % borrowers.length]!, BTC, room / 3n - 1n, OrderFlag.AutoBorrow)]))).toEqual([]);
  }
  for (let i = 0; i < 4; i++) h.advance(3_600_000);
  const pool = h.engine.risk[0]!.pools.pools[BTC]!;
  expect(pool.totalBorrowed * 10n >= pool.totalLent * 9n).toBe(true); // at the throttle: no lender redeems
}

/**
 * Seed 004's stuck lender, as liquidation-lenders.test.ts: Dave's collateral is 1 BTC lent, he owes 30,000 USDC;
 * Erin (200,000 USDC) and Hank (100,000 USDC) borrow the BTC pool to its throttle; BTC marks $30,000: Dave is
 * liquidating and the pool refuses his redemption.
 */
function stuckLender(h: Harness): void {
  h.batch([
    deposit(CAROL, USDC, 100_000n * USDC_UNIT), lend(CAROL, USDC, 100_000n * USDC_UNIT),
    deposit(DAVE, BTC, BTC_UNIT), lend(DAVE, BTC, BTC_UNIT),
    deposit(ERIN, USDC, 200_000n * USDC_UNIT), deposit(HANK, USDC, 100_000n * USDC_UNIT),
  ]);
  for (let i = 0; i < 2; i++) expect(rejects(h.batch([withdraw(DAVE, USDC, 15_000n * USDC_UNIT, OrderFlag.AutoBorrow)]))).toEqual([]);
  borrowToThrottle(h, [ERIN, HANK]);
  const started = h.batch([mark(BTC, 30_000n * USD)]);
  expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([DAVE]);
}

/** A borrower's total value at the $30,000 mark: USDC − its BTC debt (USDC units; exact: 1 satoshi = 300 units). */
const value = (h: Harness, account: number) => h.available(account, USDC) - h.borrowed(account, BTC) * 300n;

interface Run {
  /** Ticks after the liquidation started until the legs went out (1 with one shard, 3 with K > 1). */
  batches: number;
  legs: unknown[][];
  balances: Record<string, unknown>;
}

function runStuck(t: EngineTopology): Run {
  const h = new Harness(t);
  stuckLender(h);
  if (t.riskShards > 1) expect([ERIN, HANK].every((b) => riskShardOf(b, t.riskShards) !== riskShardOf(DAVE, t.riskShards))).toBe(true);
  const totals = h.totals();
  const values = [value(h, ERIN), value(h, HANK)];
  let batches = 0;
  let legs: unknown[][] = [];
  while (batches < 5 && legs.length === 0) {
    legs = adlLegs(h.tick());
    batches++;
    expect(h.totals()).toEqual(totals); // X1 every batch: a demand, its confirmation and offers move nothing
  }
  expect([value(h, ERIN), value(h, HANK)]).toEqual(values); // seed 004: each borrower's total value unchanged
  const pools = h.pools(BTC);
  for (const p of pools) expect(p).toEqual(pools[0]); // the pair moved every replica's lent and borrowed together
  return {
    batches,
    legs,
    balances: {
      dave: [h.lent(DAVE, BTC), h.available(DAVE, USDC)],
      erin: [h.borrowed(ERIN, BTC), h.available(ERIN, USDC)],
      hank: [h.borrowed(HANK, BTC), h.available(HANK, USDC)],
      pool: pools[0],
      fund: h.insurance(USDC),
    },
  };
}

describe("Q5 lender ADL across risk shards: the one-shard result to the last unit", () => {
  it("Q5, X1: Dave's 1.00007626 BTC lent (shard 1 of 2, 2 of 3) at the throttle, his borrowers Erin and Hank elsewhere: at 1×1, 2×1, 2×2 and 3×2 Erin's 0.54004448 BTC borrow closes for 16,201.3344 USDC and Hank's 0.36002437 for 10,800.7311, each borrower's value unchanged, Dave's claim 0.10000741 BTC — as one shard, two batches later", () => {
    const runs = [ONE, TWO, TWO_BY_TWO, THREE_BY_TWO].map(runStuck);
    expect(runs[0]!.batches).toBe(1);
    expect(runs[0]!.legs).toEqual([
      [DAVE, BTC, 54_004_448n, 16_201_334_400n, ERIN],
      [DAVE, BTC, 36_002_437n, 10_800_731_100n, HANK],
      [ERIN, BTC, 54_004_448n, -16_201_334_400n, DAVE],
      [HANK, BTC, 36_002_437n, -10_800_731_100n, DAVE],
    ]);
    expect(runs[0]!.balances).toEqual({
      dave: [10_000_741n, 27_002_065_500n], // 100,007,626 − 54,004,448 − 36,002,437; 16,201.3344 + 10,800.7311 USDC
      erin: [0n, 183_798_665_600n],
      hank: [0n, 89_199_268_900n],
      pool: [10_000_741n, 0n, 10_001_589n], // the cash keeps the exchange's 848 units of the 4 hours' interest
      fund: 0n,
    });
    for (const r of runs.slice(1)) {
      expect(r.batches).toBe(3); // demand, confirmation and offers, decision
      expect(r.legs).toEqual(runs[0]!.legs);
      expect(r.balances).toEqual(runs[0]!.balances);
    }
  });

  it("Q5: what the relay carries at 2×2 — the demand (Dave, BTC, 1.00007626) on every shard after the first tick; a batch later confirmed with his 10^17 lend shares and shard 0's offers, Erin ranked before Hank; then nothing", () => {
    const h = new Harness(TWO_BY_TWO);
    stuckLender(h);
    h.tick();
    for (const r of h.engine.risk) expect(r.lenderAdlRelayed()).toEqual({ pending: [`${DAVE}:${BTC}:100007626`], ready: [], offers: [] });
    h.tick();
    const offers = [`${ERIN}:${BTC}:54004448:${200_000n * USDC_UNIT}`, `${HANK}:${BTC}:36002437:${100_000n * USDC_UNIT}`];
    for (const r of h.engine.risk) expect(r.lenderAdlRelayed()).toEqual({ pending: [], ready: [`${DAVE}:${BTC}:100007626:100000000000000000`], offers });
    expect(adlLegs(h.tick()).length).toBe(4);
    for (const r of h.engine.risk) expect(r.lenderAdlRelayed()).toEqual({ pending: [], ready: [], offers: [] });
  });
});

describe("Q5 lender ADL across risk shards: two lenders share the borrowers", () => {
  it("Q5, X1: the lender (16, shard 1 of 3) and Dave (80, shard 2) each lend 1 BTC and are stuck at once; the borrowers Bob and Erin (shard 0) are offered to both demands: at 3×2 the allocation in account order (largest borrow first) gives the lender 1.00007626 of Erin's 1.08009602 BTC, then Dave Bob's 0.72005933 and the 0.08001976 left of Erin's — as one shard, no unit twice", () => {
    const results = [ONE, THREE_BY_TWO].map((t) => {
      const h = new Harness(t);
      h.batch([
        deposit(CAROL, USDC, 100_000n * USDC_UNIT), lend(CAROL, USDC, 100_000n * USDC_UNIT),
        deposit(LENDER, BTC, BTC_UNIT), lend(LENDER, BTC, BTC_UNIT), deposit(DAVE, BTC, BTC_UNIT), lend(DAVE, BTC, BTC_UNIT),
        deposit(ERIN, USDC, 400_000n * USDC_UNIT), deposit(BOB, USDC, 200_000n * USDC_UNIT),
      ]);
      for (let i = 0; i < 2; i++) {
        expect(rejects(h.batch([withdraw(LENDER, USDC, 15_000n * USDC_UNIT, OrderFlag.AutoBorrow), withdraw(DAVE, USDC, 15_000n * USDC_UNIT, OrderFlag.AutoBorrow)]))).toEqual([]);
      }
      borrowToThrottle(h, [ERIN, BOB]);
      expect(h.batch([mark(BTC, 30_000n * USD)]).filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([LENDER, DAVE]);
      const totals = h.totals();
      const values = [value(h, ERIN), value(h, BOB)];
      const borrows = [h.borrowed(ERIN, BTC), h.borrowed(BOB, BTC)];
      const claims = [h.lent(LENDER, BTC), h.lent(DAVE, BTC)];
      const legs: unknown[][] = [];
      for (let i = 0; i < (t.riskShards === 1 ? 1 : 3); i++) legs.push(...adlLegs(h.tick()));
      expect(h.totals()).toEqual(totals);
      expect([value(h, ERIN), value(h, BOB)]).toEqual(values);
      return { legs: legs.sort(), borrows, claims, after: [h.borrowed(ERIN, BTC), h.borrowed(BOB, BTC), h.lent(LENDER, BTC), h.lent(DAVE, BTC)], pool: h.pools(BTC)[0] };
    });
    expect(results[0]).toEqual({
      legs: [
        [LENDER, BTC, 100_007_626n, 30_002_287_800n, ERIN],
        [BOB, BTC, 72_005_933n, -21_601_779_900n, DAVE],
        [DAVE, BTC, 72_005_933n, 21_601_779_900n, BOB],
        [DAVE, BTC, 8_001_976n, 2_400_592_800n, ERIN],
        [ERIN, BTC, 100_007_626n, -30_002_287_800n, LENDER],
        [ERIN, BTC, 8_001_976n, -2_400_592_800n, DAVE],
      ],
      borrows: [108_009_602n, 72_005_933n],
      claims: [100_007_626n, 100_007_626n],
      // Erin's 1.08009602 BTC = 1.00007626 to the lender + 0.08001976 to Dave; Dave's last 0.19999717 BTC waits for the pool.
      after: [0n, 0n, 0n, 19_999_717n],
      pool: [19_999_717n, 0n, 20_001_414n],
    });
    expect(results[1]).toEqual(results[0]);
  });
});

describe("Q5 lender ADL across risk shards: a borrower that repays meanwhile", () => {
  it("Q5: at 2×2 Erin repays her whole BTC borrow in the batch after Dave's demand is posted: she is not offered and uses no allocation — Hank's 0.36002437 BTC closes alone, Erin's USDC does not move, Dave's claim falls by Hank's part (and what the freed pool redeems)", () => {
    const h = new Harness(TWO_BY_TWO);
    stuckLender(h);
    h.tick(); // the demand is posted
    const owed = h.borrowed(ERIN, BTC);
    expect(rejects(h.tick([deposit(ERIN, BTC, owed), { kind: CommandKind.Repay, account: ERIN, asset: BTC, amount: owed }]))).toEqual([]);
    expect(h.borrowed(ERIN, BTC)).toBe(0n);
    const erinUsdc = h.available(ERIN, USDC);
    const legs = adlLegs(h.tick());
    expect(legs).toEqual([
      [DAVE, BTC, 36_002_437n, 10_800_731_100n, HANK],
      [HANK, BTC, 36_002_437n, -10_800_731_100n, DAVE],
    ]);
    expect(h.available(ERIN, USDC)).toBe(erinUsdc);
    expect(h.available(DAVE, USDC)).toBe(10_800_731_100n); // Hank's payment only
    // Dave's claim falls by Hank's part; the pool Erin's repayment freed then redeems what his shard's budget allows of
    // the rest in the same phase 0, after the legs (pools.ts redeemable): 0.27002212 BTC for Q2 to sell.
    expect([h.lent(DAVE, BTC), h.available(DAVE, BTC)]).toEqual([100_007_626n - 36_002_437n - 27_002_212n, 27_002_212n]);
  });
});

describe("Q5 with K > 1: a redemption the shard's budget cannot take at once", () => {
  it("Q5, L7: at 2×1 Dave's 0.9 BTC at 42.5% utilization (the pool takes it whole, his shard's budget half the room below the throttle): a part at once, the rest reserved out of every shard's budget for the next batch and redeemed then — never a lender ADL, never starved", () => {
    const h = new Harness(TWO);
    h.batch([
      deposit(LENDER, BTC, 110_000_000n), lend(LENDER, BTC, 110_000_000n),
      deposit(DAVE, BTC, 90_000_000n), lend(DAVE, BTC, 90_000_000n),
      deposit(CAROL, USDC, 100_000n * USDC_UNIT), lend(CAROL, USDC, 100_000n * USDC_UNIT),
      deposit(BOB, USDC, 200_000n * USDC_UNIT),
    ]);
    expect(rejects(h.batch([withdraw(DAVE, USDC, 30_000n * USDC_UNIT, OrderFlag.AutoBorrow), withdraw(BOB, BTC, 85_000_000n, OrderFlag.AutoBorrow)]))).toEqual([]);
    h.batch([mark(BTC, 30_000n * USD)]);
    expect(h.liquidating()).toEqual([DAVE]);
    const first = h.tick();
    expect(adlLegs(first)).toEqual([]);
    // Budget floor((ceil(0.9 × 2 BTC) − 1 − 0.85 BTC) / 2) = 47,499,999; the redemption takes amount + 1 of it.
    expect([h.lent(DAVE, BTC), h.available(DAVE, BTC)]).toEqual([90_000_000n - 47_499_998n, 47_499_998n]);
    for (const r of h.engine.risk) expect(r.lenderAdlRelayed().pending).toEqual([`${DAVE}:${BTC}:${90_000_000n - 47_499_998n}:redeem`]);
    expect(adlLegs(h.tick())).toEqual([]);
    expect([h.lent(DAVE, BTC), h.available(DAVE, BTC), h.borrowed(BOB, BTC)]).toEqual([0n, 90_000_000n, 85_000_000n]);
    for (const r of h.engine.risk) expect(r.lenderAdlRelayed()).toEqual({ pending: [], ready: [], offers: [] });
  });
});

describe("Q5 with K > 1: the pool refuses the whole claim, the shard's budget lets a part out", () => {
  it("Q5: at 2×2 Dave (shard 1) lends 1 BTC, Erin (shard 0) borrows 0.78749997 of it in three budgets: Dave's redemption is refused whole (U over 95% after it), his shard's budget lets 0.05625 BTC out, and the rest is lender ADL — against Erin's whole borrow two batches later — not a part a batch", () => {
    const h = new Harness(TWO_BY_TWO);
    h.batch([
      deposit(CAROL, USDC, 100_000n * USDC_UNIT), lend(CAROL, USDC, 100_000n * USDC_UNIT),
      deposit(DAVE, BTC, BTC_UNIT), lend(DAVE, BTC, BTC_UNIT), deposit(ERIN, USDC, 200_000n * USDC_UNIT),
    ]);
    for (let i = 0; i < 2; i++) expect(rejects(h.batch([withdraw(DAVE, USDC, 15_000n * USDC_UNIT, OrderFlag.AutoBorrow)]))).toEqual([]);
    for (let i = 0; i < 3; i++) {
      const pool = h.engine.risk[0]!.pools.pools[BTC]!;
      const room = (pool.config.throttleUtilizationThreshold * pool.totalLent + RATIO_ONE - 1n) / RATIO_ONE - 1n - pool.totalBorrowed;
      expect(rejects(h.batch([withdraw(ERIN, BTC, room / 2n - 1n, OrderFlag.AutoBorrow)]))).toEqual([]);
    }
    const erinBorrow = h.borrowed(ERIN, BTC);
    h.batch([mark(BTC, 30_000n * USD)]);
    expect(h.liquidating()).toEqual([DAVE]);
    h.tick();
    expect(erinBorrow).toBe(78_749_997n);
    // Budget floor((ceil(0.9 × 1 BTC) − 1 − 0.78749997 BTC) / 2) = 5,625,001: a part of 5,625,000; the rest is posted.
    expect([h.available(DAVE, BTC), h.lent(DAVE, BTC)]).toEqual([5_625_000n, 94_375_000n]);
    for (const r of h.engine.risk) expect(r.lenderAdlRelayed().pending).toEqual([`${DAVE}:${BTC}:94375000`]);
    expect(adlLegs(h.tick())).toEqual([]);
    expect(adlLegs(h.tick())).toEqual([
      [DAVE, BTC, 78_749_997n, 23_624_999_100n, ERIN],
      [ERIN, BTC, 78_749_997n, -23_624_999_100n, DAVE],
    ]);
    expect(h.borrowed(ERIN, BTC)).toBe(0n);
    // Dave's claim less the part and Erin's borrow; the freed pool's budget redeemed 4,795,312 more after the legs.
    expect([h.lent(DAVE, BTC), h.available(DAVE, BTC)]).toEqual([10_829_691n, 5_625_000n + 4_795_312n]);
  });
});

// ---------------------------------------------------------------- X4, X7: replay, snapshots, threads

function eventText(e: EventRecord): string {
  const base = `${e.kind}|${e.seq}|${e.account}|${e.asset}|${e.quantity}|${e.timeMs}`;
  return e.kind === EventKind.Socialization ? `${base}|${e.socializationKind}|${e.socializedQuantity}|${e.socializedAmount}|${e.counterpartyAccount}` : base;
}

function journal(): CommandRecord[][] {
  const h = new Harness(ONE);
  stuckLender(h);
  for (let i = 0; i < 6; i++) h.tick();
  return h.journal;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4, X7 through a lender ADL across shards", () => {
  const batches = journal();
  const run = (topology: EngineTopology, from = 0, engine?: Engine) => runInProcess(config, batches, eventText, topology, from, engine);
  const isLeg = (t: string) => t.startsWith(`${EventKind.Socialization}|0|`) && t.split("|")[6] === String(SocializationKind.LenderAdl);

  it("Q5, X4: at 2×2 the journal's cross-shard lender ADL replays to the same events and state hash", () => {
    const a = run(TWO_BY_TWO);
    expect(a.events.filter(isLeg).length).toBe(4);
    const b = run(TWO_BY_TWO);
    expect(b.events).toEqual(a.events);
    expect(b.hash).toBe(a.hash);
  });

  it("Q5, X7: a snapshot at every boundary (the demand, then the confirmed demand and offers) restores into a 2×2 engine that goes on identically", () => {
    const seen = { pending: false, ready: false };
    expectEveryBoundaryRestores(config, batches, eventText, TWO_BY_TWO, (e) => e.risk.map((r) => r.lenderAdlRelayed()), (relayed) => {
      seen.pending ||= relayed.pending.length !== 0;
      seen.ready ||= relayed.ready.length !== 0;
      return relayed.pending.length !== 0 || relayed.ready.length !== 0;
    });
    expect(seen).toEqual({ pending: true, ready: true });
  });

  it("Q5, Q4, O6, X7: the snapshot format version is 18 (16 added the lender ADL relay, 17 the ADL relay's funding held, 18 the spot markets' mean marks) and a version-17 file is refused with its version", () => {
    const bytes = new Engine(config, TWO_BY_TWO).snapshot();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(view.getUint16(8, true)).toBe(18);
    view.setUint16(8, 17, true);
    expect(() => Engine.fromSnapshot(config, bytes, TWO_BY_TWO)).toThrow(/version 17/);
  });

  it("Q5, X4: threaded 2×2 split gives the in-process events (as a set) and state hash", async () => {
    await expectThreadedSplitMatchesInProcess(config, batches, eventText, TWO_BY_TWO, running);
  }, 60_000);
});
