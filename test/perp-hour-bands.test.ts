// Q1 with perpetual positions at the hour (L5): a position's band on its base asset sends the account to
// re-evaluation at every move of that asset's mark (or its perpetual's), and at an accrual of the asset's borrow index
// only when the account owes the asset — an hour mark no longer re-evaluates every holder (perp.funding-100k's
// ~0.5 s batch at 100,000 positions). Pinned two ways: the index's visits after a mark move and after an accrual
// alone, and a random run with perpetual positions, borrows of their base asset, marks and hours whose liquidating
// set equals a naive full scan after every batch.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, OrderType, Side, TimeInForce, type EventSink } from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { prng } from "./helpers/random-commands.ts";
import { naiveLiquidatingScan } from "./helpers/threaded-run.ts";
import { EngineHarness, HARNESS_T0 } from "./helpers/engine-harness.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_PERP = 3;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const HOUR = 3_600_000;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;

const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
const perp = (account: number, side: number, tif: number, price: bigint, quantity: bigint): Partial<CommandRecord> => ({
  kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif, price, quantity,
});

/** Alice (holding `aliceUsdcUnits`) buys `quantity` of BTC_PERP at 60,000 from Bob's resting sell (Bob holds 10,000
 * USDC): the harness and Alice's risk shard. */
function aliceLongOfBob(aliceUsdcUnits: bigint, quantity: bigint): { h: EngineHarness; shard: ReturnType<EngineHarness["risk"]> } {
  const h = new EngineHarness(config);
  h.batch([deposit(ALICE, USDC, aliceUsdcUnits), deposit(BOB, USDC, 10_000n * USDC_UNIT)]);
  h.batch([perp(BOB, Side.Sell, TimeInForce.GTC, 60_000n * USD, quantity)]);
  h.batch([perp(ALICE, Side.Buy, TimeInForce.IOC, 60_000n * USD, quantity)]);
  return { h, shard: h.risk(ALICE) };
}

describe("Q1, L5: a perpetual position's band on its base asset", () => {
  it("Q1, L5: an accrual of BTC's borrow index alone visits the BTC-perp holder who owes BTC, not the one who does not; a mark move visits both", () => {
    const h = new EngineHarness(config);
    h.batch([
      deposit(LENDER, BTC, 10n * BTC_UNIT),
      { kind: CommandKind.Lend, account: LENDER, asset: BTC, amount: 10n * BTC_UNIT },
      deposit(ALICE, USDC, 10_000n * USDC_UNIT),
      deposit(BOB, USDC, 10_000n * USDC_UNIT),
    ]);
    h.batch([perp(BOB, Side.Sell, TimeInForce.GTC, 60_000n * USD, BTC_UNIT / 100n)]);
    h.batch([perp(ALICE, Side.Buy, TimeInForce.IOC, 60_000n * USD, BTC_UNIT / 100n)]);
    h.batch([{ kind: CommandKind.Borrow, account: BOB, asset: BTC, amount: BTC_UNIT / 1000n }]);
    const shard = h.risk(ALICE);
    expect(shard.perpPosition(ALICE, BTC_PERP).netQuantity).toBe(BTC_UNIT / 100n);
    expect(shard.perpPosition(BOB, BTC_PERP).netQuantity).toBe(-BTC_UNIT / 100n);
    expect(shard.poolBalance(BOB, BTC).borrowed).toBe(BTC_UNIT / 1000n);
    const mark = 60_000n * USD;
    expect(shard.liquidationIndexVisits(BTC, mark, true)).toEqual([ALICE, BOB]);
    expect(shard.liquidationIndexVisits(BTC, mark, false)).toEqual([BOB]);
    // Bob repays: he owes no BTC, and an accrual alone visits nobody.
    h.batch([deposit(BOB, BTC, 1_000n), { kind: CommandKind.Repay, account: BOB, asset: BTC, amount: 0n }]);
    expect(shard.poolBalance(BOB, BTC).borrowed).toBe(0n);
    expect(shard.liquidationIndexVisits(BTC, mark, false)).toEqual([]);
    expect(shard.liquidationIndexVisits(BTC, mark, true)).toEqual([ALICE, BOB]);
  });

  it("Q1: a perpetual holder's USDC (identity haircut, no oracle, not owed) has the position's band: any USDC mark visits it, a USDC accrual does not", () => {
    const { h, shard } = aliceLongOfBob(10_000n * USDC_UNIT, BTC_UNIT / 100n);
    expect(shard.perpPosition(ALICE, BTC_PERP).netQuantity).toBe(BTC_UNIT / 100n);
    // The unchanged mark itself (1 USD) is outside their USDC band: a move of it, even to itself, re-evaluates them.
    expect(shard.liquidationIndexVisits(USDC, USD, true)).toEqual([ALICE, BOB]);
    expect(shard.liquidationIndexVisits(USDC, USD, false)).toEqual([]);
    // Bob's short is closed: without a position his USDC has no band at all (no exposure), as before.
    h.batch([perp(ALICE, Side.Sell, TimeInForce.GTC, 60_000n * USD, BTC_UNIT / 100n)]);
    h.batch([perp(BOB, Side.Buy, TimeInForce.IOC, 60_000n * USD, BTC_UNIT / 100n)]);
    expect(shard.perpPosition(BOB, BTC_PERP).netQuantity).toBe(0n);
    expect(shard.liquidationIndexVisits(USDC, USD, true)).toEqual([]);
  });

  it("Q1: an operator's USDC mark alone (no BTC move, no fill) that takes a perpetual holder under its maintenance margin starts its liquidation", () => {
    const { h, shard } = aliceLongOfBob(1_000n * USDC_UNIT, BTC_UNIT / 10n);
    expect(shard.perpPosition(ALICE, BTC_PERP).netQuantity).toBe(BTC_UNIT / 10n);
    expect(shard.liquidatingAccounts()).toEqual([]);
    h.batch([{ kind: CommandKind.SetMarkPrice, asset: USDC, price: USD / 50n }]);
    expect(shard.liquidatingAccounts()).toEqual([ALICE]);
  });
});


/** Batches of perpetual orders, borrows and repays of BTC, BTC marks and hours (each hour accrues BTC's borrow index). */
function randomRun(seed: number, batches: number, usdc = false): Partial<CommandRecord>[][] {
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const accounts = Array.from({ length: 10 }, (_, i) => (i + 3) * 16);
  const out: Partial<CommandRecord>[][] = [[
    deposit(LENDER, BTC, 100n * BTC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: BTC, amount: 100n * BTC_UNIT },
    deposit(LENDER, USDC, 10_000_000n * USDC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000_000n * USDC_UNIT },
    ...accounts.map((a) => deposit(a, USDC, BigInt(int(200, 1_500)) * USDC_UNIT)),
  ]];
  let btc = 60_000;
  let time = HARNESS_T0;
  for (let b = 0; b < batches; b++) {
    const batch: Partial<CommandRecord>[] = [];
    for (let i = int(1, 5); i > 0; i--) {
      const account = accounts[int(0, accounts.length - 1)]!;
      const r = rand();
      const price = BigInt(btc + int(-200, 200)) * USD;
      if (r < 0.4) batch.push(perp(account, (account / 16) % 2 === 0 ? Side.Buy : Side.Sell, rand() < 0.5 ? TimeInForce.GTC : TimeInForce.IOC, price, BigInt(int(1, 8)) * BTC_UNIT / 100n));
      else if (r < 0.5) batch.push({ kind: CommandKind.CancelAll, account, market: BTC_PERP });
      else if (usdc && r < 0.5) {
        // With `usdc`: USDC borrows and operator marks of USDC (an oracle-less identity asset: edge-banded when held and
        // not owed beside a position, liquidation-trigger.ts markEdgeBandedStables).
        if (rand() < 0.5) batch.push({ kind: CommandKind.Borrow, account, asset: USDC, amount: BigInt(int(10, 400)) * USDC_UNIT });
        else batch.push({ kind: CommandKind.SetMarkPrice, asset: USDC, price: BigInt(int(50, 1_040)) * USD / 1_000n });
      } else if (r < 0.65) batch.push({ kind: CommandKind.Borrow, account, asset: BTC, amount: BigInt(int(1, 20)) * BTC_UNIT / 1000n });
      else if (r < 0.72) batch.push({ kind: CommandKind.Repay, account, asset: BTC, amount: 0n });
      else if (r < 0.9) {
        const trend = Math.floor(b / 100) % 2 === 0 ? 1 : -1; // trends of 100 batches: positions lose for long
        btc = Math.max(20_000, Math.min(120_000, btc + trend * int(-600, 1_500)));
        batch.push({ kind: CommandKind.SetMarkPrice, asset: BTC, price: BigInt(btc) * USD });
      } else batch.push(deposit(account, USDC, BigInt(int(50, 500)) * USDC_UNIT));
    }
    time += rand() < 0.3 ? int(1, 48) * HOUR : 1_000;
    batch.push({ kind: CommandKind.AdvanceTime, timeMs: time });
    out.push(batch);
  }
  return out;
}

function runAgainstScan(seed: number, batches: number, riskShards: number, usdc = false): { entered: number; borrowedHours: number; fills: number } {
  const engine = new Engine(config, { riskShards, matchingShards: 1 });
  let seq = 0;
  let naive = new Set<number>();
  let entered = 0;
  let borrowedHours = 0;
  let lastHour = Math.floor(HARNESS_T0 / HOUR);
  let fills = 0;
  const sink: EventSink = { publish: (e) => void (e.kind === EventKind.LiquidationStarted && entered++, e.kind === EventKind.Fill && fills++) };
  const start = Object.assign(new CommandRecord(), { kind: CommandKind.AdvanceTime, timeMs: HARNESS_T0, seq: ++seq });
  engine.processBatch([start], 1, sink);
  const run = randomRun(seed, batches, usdc);
  for (let b = 0; b < run.length; b++) {
    const cmds = run[b]!.map((f) => Object.assign(new CommandRecord(), f, { seq: ++seq }));
    engine.processBatch(cmds, cmds.length, sink);
    for (const r of engine.risk) r.validateInternalState();
    naive = naiveLiquidatingScan(engine, naive);
    const got = engine.risk.flatMap((r) => r.liquidatingAccounts()).sort((x, y) => x - y);
    const want = [...naive].sort((x, y) => x - y);
    if (got.join(",") !== want.join(",")) throw new Error(`seed ${seed}, batch ${b}: liquidating [${got}] but a full scan finds [${want}]`);
    // Hours in which some holder of a BTC perpetual owed BTC (the accrual must reach it).
    const hour = Math.floor(cmds[cmds.length - 1]!.timeMs / HOUR);
    if (hour !== lastHour) {
      lastHour = hour;
      for (const r of engine.risk) {
        for (const id of r.accountIds()) if (id !== LENDER && r.poolBalance(id, BTC).borrowed > 0n && r.perpPosition(id, BTC_PERP).netQuantity !== 0n) borrowedHours++;
      }
    }
  }
  return { entered, borrowedHours, fills };
}

describe("Q1, L5: the liquidating set equals a naive full scan with perpetual positions, borrows of their base asset and hours", () => {
  it("Q1, L5: fixed seed 0x5eed, 1 risk shard", () => {
    const { entered, borrowedHours, fills } = runAgainstScan(0x5eed, 800, 1);
    expect(fills).toBe(102); // the generator trades (a changed count means the fixed run changed; 76 before C8 valued a perp fill better than the mark at the mark, 84 before a borrower stalled under water was found bankrupt: five more bankruptcies found, their accounts out of liquidation and trading again)
    expect(entered).toBeGreaterThan(3);
    expect(borrowedHours).toBeGreaterThan(20);
  }, 120_000);

  it("Q1, L5: fixed seed 0x5eed with USDC borrows and operator USDC marks beside the positions (edge-banded USDC), 1 risk shard", () => {
    const { entered, fills } = runAgainstScan(0x5eed, 800, 1, true);
    expect(fills).toBeGreaterThan(0);
    expect(entered).toBeGreaterThan(3);
  }, 120_000);

  const randomSeed = (Date.now() ^ (process.pid << 8)) >>> 0;
  it(`Q1, L5: random seed ${randomSeed} (printed), 2 risk shards`, () => {
    console.log(`perp-hour-bands property: random seed ${randomSeed}`);
    // The property is the equality above, batch by batch; a random run trades (76–146 fills in 24 sampled seeds,
    // 40 seen once), so only "it traded" is asserted of the generator here.
    expect(runAgainstScan(randomSeed, 400, 2).fills).toBeGreaterThan(0);
  }, 120_000);
});
