// Q4 (the lending half) and Q5 wired into the engine (engine/risk/liquidation-lenders.ts; decision "Q4/Q5 lenders (as
// built)" in engine/pipeline/engine.ts): a bankrupt borrower found at phase 0, resolved a batch later (withdrawals wait
// meanwhile on every shard); a borrow that cannot be repaid in kind pays its lenders its USD value in USDC pro rata to
// their lend shares while their claims are written down through the lend index (seed 004: "$100,000 rather than 1
// BTC"); lender ADL at the utilization limit (seed 004: each borrower's total value unchanged). Exact amounts.
import { afterEach, describe, expect, it } from "vitest";
import { ACCOUNT_SETTING_VALUE_SHIFT, AccountSetting, ALL_ASSETS, CommandKind, CommandRecord, EventKind, EventRecord, InsuranceReason, OrderFlag, OrderType, RejectCode, Side, SocializationKind, TimeInForce } from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { NoStepReason, planLenderPayoutByShares } from "../engine/liquidation/index.ts";
import { runStress } from "../engine/pipeline/what-if.ts";
import { RATIO_SCALE } from "../engine/fixed/index.ts";
import { runThreaded } from "./helpers/threaded-run.ts";
import { EngineHarness } from "./helpers/engine-harness.ts";

const config = loadConfig();
const USDC = 0;
const USDT = 1;
const BTC = 2;
const SOL = 4;
const SOL_USDC = 2;
const SOL_UNIT = 1_000_000_000n;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;
const CAROL = 64;
const DAVE = 80;

class Harness extends EngineHarness {
  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    super(config, { topology });
  }

  transit(): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.lenderTransit(), 0n);
  }
}

const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
const lend = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Lend, account, asset, amount });
const mark = (asset: number, price: bigint): Partial<CommandRecord> => ({ kind: CommandKind.SetMarkPrice, asset, price });
const withdraw = (account: number, asset: number, amount: bigint, flags = 0): Partial<CommandRecord> => ({ kind: CommandKind.Withdraw, account, asset, amount, flags });
const socializations = (events: EventRecord[]) =>
  events.filter((e) => e.kind === EventKind.Socialization).map((e) => [e.socializationKind, e.account, e.asset, e.socializedQuantity, e.socializedAmount, e.socializedLoss]);
const rejects = (events: EventRecord[]) => events.filter((e) => e.kind === EventKind.CommandRejected).map((e) => e.code);

/**
 * Seed 004's bankrupt BTC borrower: the lender (1.5 BTC) and Carol (0.5 BTC) lend 2 BTC; Alice puts up 100,000 USDT
 * (USDT has no spot market against USDC, so Q2 can never sell it), borrows 1 BTC on a margin withdrawal and takes it
 * out (no BTC left). BTC then marks $100,000 and USDT $0.01: Alice owes $100,000 against $1,000 of collateral nobody
 * can sell.
 */
function bankruptAlice(h: Harness, lentScale = 1n): void {
  h.batch([
    deposit(LENDER, BTC, 150_000_000n * lentScale), lend(LENDER, BTC, 150_000_000n * lentScale),
    deposit(CAROL, BTC, 50_000_000n * lentScale), lend(CAROL, BTC, 50_000_000n * lentScale),
    deposit(ALICE, USDT, 100_000n * USDC_UNIT),
  ]);
  const borrowed = h.batch([ // a batch later: with 2 risk shards a shard borrows from the room of the boundary (pools.ts)
    withdraw(ALICE, BTC, BTC_UNIT, OrderFlag.AutoBorrow),
    deposit(BOB, USDC, 1_000n * USDC_UNIT),
  ]);
  expect(borrowed.filter((e) => e.kind === EventKind.CommandRejected).map((e) => e.message)).toEqual([]);
  expect(h.borrowed(ALICE, BTC)).toBe(BTC_UNIT); // at U = 0 the hour's rate is minRate 0: no entry fee (L6)
  expect(h.available(ALICE, BTC)).toBe(0n);
  const started = h.batch([mark(BTC, 100_000n * USD), mark(USDT, USD / 100n)]);
  expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
}

describe("Q4 bankruptcy of a borrow that cannot be repaid in kind (seed 004)", () => {
  it("Q4: the bankrupt borrower of 1 BTC at $100,000 pays its lenders $100,000 in USDC (75,000 and 25,000, pro rata) rather than 1 BTC; their claims fall to 0.75 and 0.25 BTC", () => {
    const h = new Harness();
    bankruptAlice(h);
    // Phase 0 of the next batch: nothing Q2 can step, net equity < 0 — bankrupt; resolved a batch later.
    const found = h.tick();
    expect(socializations(found)).toEqual([[SocializationKind.Bankrupt, ALICE, USDC, 0n, 0n, 0n]]);
    // Net equity: 100,000 USDT × $0.01 × weight 0.98 − 1 BTC × $100,000.
    expect(found.find((e) => e.kind === EventKind.Socialization)!.netEquityUsd).toBe(980n * USD - 100_000n * USD);
    expect(h.risk(ALICE).openBankruptcies()).toBe(1);
    expect(h.insurance(USDC)).toBe(0n); // an empty fund cannot cover the 99,000 USDC deficit
    const resolved = h.tick();
    expect(socializations(resolved)).toEqual([
      // Alice's row: 1 BTC written off, 100,000 USDC owed to the lenders, all of it beyond the (empty) fund.
      [SocializationKind.LenderWriteDown, ALICE, BTC, BTC_UNIT, -100_000n * USDC_UNIT, 100_000n * USDC_UNIT],
      [SocializationKind.LenderPaid, LENDER, BTC, 75_000_000n, 75_000n * USDC_UNIT, 0n],
      [SocializationKind.LenderPaid, CAROL, BTC, 25_000_000n, 25_000n * USDC_UNIT, 0n],
    ]);
    expect([h.available(LENDER, USDC), h.available(CAROL, USDC)]).toEqual([75_000n * USDC_UNIT, 25_000n * USDC_UNIT]);
    expect([h.lent(LENDER, BTC), h.lent(CAROL, BTC)]).toEqual([75_000_000n, 25_000_000n]);
    expect([h.borrowed(ALICE, BTC), h.available(ALICE, USDT)]).toEqual([0n, 0n]);
    const pool = h.risk(ALICE).pools.pools[BTC]!;
    expect([pool.totalLent, pool.totalBorrowed, pool.cash]).toEqual([BTC_UNIT, 0n, BTC_UNIT]);
    // The fund paid the 100,000 USDC (a recorded socialized loss) and took Alice's unsellable 100,000 USDT in kind.
    expect([h.insurance(USDC), h.insurance(USDT), h.transit()]).toEqual([-100_000n * USDC_UNIT, 100_000n * USDC_UNIT, 0n]);
    const rows = h.risk(0).insuranceHistory(-1, 0, 100).filter((r) => r.reason === InsuranceReason.LenderPayout);
    expect(rows.map((r) => [r.asset, r.change])).toEqual([[USDC, -100_000n * USDC_UNIT], [USDT, 100_000n * USDC_UNIT]]);
    expect(h.risk(ALICE).openBankruptcies()).toBe(0);
    // QueryLenderLosses: the exchange's report, one row (account 0) for the batch, on every shard's replica.
    const report = h.batch([{ kind: CommandKind.QueryLenderLosses, asset: ALL_ASSETS }]);
    expect(socializations(report)).toEqual([[SocializationKind.LenderWriteDown, 0, BTC, BTC_UNIT, -100_000n * USDC_UNIT, 100_000n * USDC_UNIT]]);
    expect(socializations(h.batch([{ kind: CommandKind.QueryLenderLosses, asset: USDT }]))).toEqual([]);
    expect(rejects(h.batch([{ kind: CommandKind.QueryLenderLosses, asset: 9 }]))).toEqual([RejectCode.UnknownAsset]);
    expect(h.risk(ALICE).liquidationHistoryCount(ALICE)).toBe(4); // Started, Bankrupt, LenderWriteDown, Ended (nothing left)
    expect(h.risk(ALICE).liquidatingAccounts()).toEqual([]);
  });

  it("Q4, issue 13 item 7: withdrawals and transfers out are refused with WithdrawalsPaused from the batch after the bankruptcy is found until it is resolved", () => {
    const h = new Harness();
    bankruptAlice(h);
    h.tick(); // found
    const paused = h.tick([withdraw(BOB, USDC, USDC_UNIT), { kind: CommandKind.Transfer, account: BOB, account2: BOB + 1, asset: USDC, amount: USDC_UNIT }]);
    expect(rejects(paused)).toEqual([RejectCode.WithdrawalsPaused, RejectCode.WithdrawalsPaused]);
    expect(h.available(BOB, USDC)).toBe(1_000n * USDC_UNIT);
    const open = h.tick([withdraw(BOB, USDC, USDC_UNIT)]);
    expect(rejects(open)).toEqual([]);
    expect(h.available(BOB, USDC)).toBe(999n * USDC_UNIT);
  });

  it("Q4: with 2 risk shards (lender and Carol on different shards) every shard pays its own lenders from its transit and learns the open bankruptcy at the same boundary: 75,000 and 25,000 USDC for 4 BTC lent 3:1", () => {
    const h = new Harness({ riskShards: 2, matchingShards: 1 });
    expect(h.risk(LENDER)).not.toBe(h.risk(CAROL));
    bankruptAlice(h, 2n); // 4 BTC lent: each shard may borrow half the room below the throttle (1.8 BTC) per batch
    h.tick();
    for (const r of h.engine.risk) expect(r.openBankruptcies()).toBe(1);
    h.tick();
    expect([h.available(LENDER, USDC), h.available(CAROL, USDC)]).toEqual([75_000n * USDC_UNIT, 25_000n * USDC_UNIT]);
    expect([h.lent(LENDER, BTC), h.lent(CAROL, BTC)]).toEqual([225_000_000n, 75_000_000n]);
    expect([h.insurance(USDC), h.transit()]).toEqual([-100_000n * USDC_UNIT, 0n]);
    for (const r of h.engine.risk) expect([r.openBankruptcies(), r.pools.hashText()]).toEqual([0, h.engine.risk[0]!.pools.hashText()]);
  });
});

describe("Q4 bankruptcy of a borrower the book cannot step", () => {
  it.each([[1, 1], [2, 2]])("Q4: a borrower under water whose Q2 step fills nothing within the bound (an empty BTC book) and whom the backstop cannot take (an empty fund) is bankrupt — before, it stepped unfilled every batch for ever (2 × 2 fuzz seed 1732241180, step 1187); %i × %i", (riskShards, matchingShards) => {
    const h = new Harness({ riskShards, matchingShards });
    h.batch([ // 4 BTC lent 3:1: with 2 risk shards a shard borrows from its share of the pool's room (pools.ts)
      deposit(LENDER, BTC, 300_000_000n), lend(LENDER, BTC, 300_000_000n),
      deposit(CAROL, BTC, 100_000_000n), lend(CAROL, BTC, 100_000_000n),
      deposit(ALICE, USDC, 100_000n * USDC_UNIT),
    ]);
    expect(rejects(h.batch([withdraw(ALICE, BTC, BTC_UNIT, OrderFlag.AutoBorrow)]))).toEqual([]);
    // BTC at $110,000: Alice owes $110,000 against 100,000 USDC that Q2 could sell for BTC — but no one offers BTC.
    const started = h.batch([mark(BTC, 110_000n * USD)]);
    expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
    const stepped = h.tick(); // Q2's step: a CollateralConversion buy of 0.1 BTC, IOC, fills nothing
    expect(socializations(stepped)).toEqual([]);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toEqual({ batches: 1, reason: NoStepReason.NoFillWithinBound });
    // Stalled, the fund empty (no takeover, no cover): nothing to liquidate — bankrupt, resolved a batch later.
    const found = h.tick();
    expect(socializations(found)).toEqual([[SocializationKind.Bankrupt, ALICE, USDC, 0n, 0n, 0n]]);
    expect(found.find((e) => e.kind === EventKind.Socialization)!.netEquityUsd).toBe(100_000n * USD - 110_000n * USD);
    const resolved = h.tick();
    // Her 100,000 USDC and 10,000 USDC beyond the (empty) fund pay the lenders the borrow's $110,000, pro rata.
    // (By account: with 2 risk shards each shard publishes its own lenders' rows.)
    expect(socializations(resolved).sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([
      [SocializationKind.LenderPaid, LENDER, BTC, 75_000_000n, 82_500n * USDC_UNIT, 0n],
      [SocializationKind.LenderWriteDown, ALICE, BTC, BTC_UNIT, -110_000n * USDC_UNIT, 10_000n * USDC_UNIT],
      [SocializationKind.LenderPaid, CAROL, BTC, 25_000_000n, 27_500n * USDC_UNIT, 0n],
    ]);
    expect([h.available(LENDER, USDC), h.available(CAROL, USDC), h.available(ALICE, USDC), h.borrowed(ALICE, BTC)]).toEqual([82_500n * USDC_UNIT, 27_500n * USDC_UNIT, 0n, 0n]);
    expect([h.lent(LENDER, BTC), h.lent(CAROL, BTC)]).toEqual([225_000_000n, 75_000_000n]); // claims written down by 1 BTC, 3:1
    expect(h.insurance(USDC)).toBe(-10_000n * USDC_UNIT);
    expect(h.risk(ALICE).liquidatingAccounts()).toEqual([]);
  });
});

describe("Q2 with autoLend on: the redeemed collateral is not lent again", () => {
  it.each([[1, 1], [2, 2]])("Q2, Q4, L12: Alice (autoLend on) lends her 100 SOL and borrows 8,000 USDC; SOL falls to 50 USD and no one bids: her SOL is redeemed for the step and stays available when the step fills nothing — she is then bankrupt (before, the unfilled step's SOL was lent again and redeemed again every batch, never bankrupt: fuzz seed 3732411254, 2 × 2); %i × %i", (riskShards, matchingShards) => {
    const h = new Harness({ riskShards, matchingShards });
    h.batch([
      deposit(LENDER, USDC, 100_000n * USDC_UNIT), lend(LENDER, USDC, 100_000n * USDC_UNIT),
      mark(SOL, 150n * USD), deposit(ALICE, SOL, 100n * SOL_UNIT),
    ]);
    const on = h.batch([{ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: AccountSetting.AutoLend | (AccountSetting.AutoLend << ACCOUNT_SETTING_VALUE_SHIFT) }]);
    expect(rejects(on)).toEqual([]); // autoLend on: every balance lent at once (L12)
    expect([h.available(ALICE, SOL), h.lent(ALICE, SOL)]).toEqual([0n, 100n * SOL_UNIT]);
    expect(rejects(h.batch([withdraw(ALICE, USDC, 8_000n * USDC_UNIT, OrderFlag.AutoBorrow)]))).toEqual([]);
    const started = h.batch([mark(SOL, 50n * USD)]);
    expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
    // Phase 0: the SOL is redeemed (Q2 sells collateral; with 2 risk shards over two batches, each shard's budget
    // its part), the step (sell SOL for USDC, IOC) finds no bid — and what it held stays available.
    const redeemed: bigint[] = [];
    for (let i = 0; i < riskShards; i++) {
      h.tick();
      redeemed.push(h.available(ALICE, SOL));
    }
    expect(redeemed).toEqual(riskShards === 1 ? [100n * SOL_UNIT] : [44_999_999_998n, 100n * SOL_UNIT]);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toEqual({ batches: riskShards, reason: NoStepReason.NoFillWithinBound });
    expect([h.available(ALICE, SOL), h.lent(ALICE, SOL)]).toEqual([100n * SOL_UNIT, 0n]);
    // Stalled, under water (100 SOL × $50 × its weight against 8,000 USDC), the fund empty: bankrupt.
    const found = h.tick();
    expect(socializations(found)).toEqual([[SocializationKind.Bankrupt, ALICE, USDC, 0n, 0n, 0n]]);
    expect([h.available(ALICE, SOL), h.lent(ALICE, SOL)]).toEqual([100n * SOL_UNIT, 0n]);
  });
});

describe("Q4 write-down below one unit", () => {
  it("Q4, L15: Dave's 1 satoshi lent beside seed 004's 2 BTC is written down to 0 units (shares left, lent 0); his margin sell of 0.01 BTC then borrows at its fill — the worthless shares leave the pool first (before, the fill threw: BorrowRequiresLendRedeem; fuzz seed 361279826, 2 × 2)", () => {
    const h = new Harness();
    bankruptAlice(h);
    h.batch([deposit(DAVE, BTC, 1n), lend(DAVE, BTC, 1n), deposit(DAVE, USDC, 10_000n * USDC_UNIT), deposit(BOB, USDC, 9_000n * USDC_UNIT)]);
    h.tick(); // resolved: the lend index falls by half (1 of 2 BTC written down)
    const shares = h.risk(DAVE).positionOf(DAVE, BTC).lendShares;
    expect(shares > 0n).toBe(true);
    expect(h.lent(DAVE, BTC)).toBe(0n);
    const placed = h.batch([{ kind: CommandKind.PlaceOrder, account: DAVE, market: 0, side: Side.Sell, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 100_000n * USD, quantity: BTC_UNIT / 100n, flags: OrderFlag.AutoBorrow }]);
    expect(placed.filter((e) => e.kind === EventKind.OrderRejected).map((e) => e.code)).toEqual([]);
    const pool = h.risk(DAVE).pools.pools[BTC]!;
    const lendSharesBefore = pool.lendShares;
    const filled = h.batch([{ kind: CommandKind.PlaceOrder, account: BOB, market: 0, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.IOC, price: 100_000n * USD, quantity: BTC_UNIT / 100n }]);
    expect(filled.filter((e) => e.kind === EventKind.Fill).map((e) => [e.account, e.makerAccount, e.quantity])).toEqual([[BOB, DAVE, BTC_UNIT / 100n]]);
    expect(h.risk(DAVE).positionOf(DAVE, BTC).lendShares).toBe(0n);
    expect(pool.lendShares).toBe(lendSharesBefore - shares);
    expect(h.borrowed(DAVE, BTC)).toBe(BTC_UNIT / 100n); // no entry fee at this pool's rate (L6: minRate 0)
    expect(h.available(DAVE, BTC)).toBe(0n);
  });
});

describe("P6 after a Q4 write-down below one unit", () => {
  it("P6, L15, Q4: Dave's 1 micro-USDC lent is written down to 0 units by a bankrupt USDC borrower (shares left, lent 0); his perp buy's 0.6 USDC taker fee, with no USDC available, is then borrowed under autoBorrowSettlements (step 2) — the worthless shares leave the pool first (before: the borrow was skipped as 'lends USDC' and the fee went unsettled)", () => {
    const h = new Harness();
    const BTC_PERP = 3;
    h.batch([
      deposit(LENDER, USDC, 100_000n * USDC_UNIT), lend(LENDER, USDC, 100_000n * USDC_UNIT),
      deposit(DAVE, USDC, 1n), lend(DAVE, USDC, 1n),
      deposit(ALICE, USDT, 100_000n * USDC_UNIT),
      deposit(BOB, USDC, 10_000n * USDC_UNIT),
    ]);
    const borrowed = h.batch([withdraw(ALICE, USDC, 50_000n * USDC_UNIT, OrderFlag.AutoBorrow)]);
    expect(rejects(borrowed)).toEqual([]);
    expect(h.borrowed(ALICE, USDC)).toBe(50_000n * USDC_UNIT);
    const started = h.batch([mark(USDT, USD / 100n)]);
    expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
    h.tick(); // found bankrupt: nothing Q2 can sell (USDT has no market), net equity < 0
    const resolved = h.tick(); // the USDC borrow is forgiven: the lend index falls to about half
    expect(socializations(resolved).filter((r) => r[0] === SocializationKind.LenderWriteDown).map((r) => [r[1], r[2], r[3]])).toEqual([[ALICE, USDC, 50_000n * USDC_UNIT]]);
    const shares = h.risk(DAVE).positionOf(DAVE, USDC).lendShares;
    expect(shares > 0n).toBe(true);
    expect([h.lent(DAVE, USDC), h.available(DAVE, USDC)]).toEqual([0n, 0n]);
    h.batch([deposit(DAVE, SOL, 10n * SOL_UNIT), mark(SOL, 100n * USD), mark(BTC, 60_000n * USD)]);
    const pool = h.risk(DAVE).pools.pools[USDC]!;
    const lendSharesBefore = pool.lendShares;
    h.batch([{ kind: CommandKind.PlaceOrder, account: BOB, market: BTC_PERP, side: Side.Sell, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 60_000n * USD, quantity: BTC_UNIT / 100n }]);
    const filled = h.batch([{ kind: CommandKind.PlaceOrder, account: DAVE, market: BTC_PERP, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.IOC, price: 60_000n * USD, quantity: BTC_UNIT / 100n }]);
    expect(filled.filter((e) => e.kind === EventKind.Fill).map((e) => [e.account, e.makerAccount, e.quantity])).toEqual([[DAVE, BOB, BTC_UNIT / 100n]]);
    // The taker fee, 10 bps of 600 USDC, settled by P6 step (2): a USDC borrow, nothing unsettled.
    const rows = filled.filter((e) => e.kind === EventKind.Settlement && e.account === DAVE).map((e) => [e.settlementStep, e.settledAmount]);
    expect(rows).toEqual([[2, 600_000n]]);
    expect(h.risk(DAVE).unsettledUsdc(DAVE)).toBe(0n);
    expect(h.risk(DAVE).positionOf(DAVE, USDC).lendShares).toBe(0n);
    expect(pool.lendShares).toBe(lendSharesBefore - shares);
    expect(h.borrowed(DAVE, USDC)).toBe(600_000n); // no entry fee at this pool's rate now (L6)
    expect(h.available(DAVE, USDC)).toBe(0n);
  });
});

describe("Q4 the insurance fund first", () => {
  it("Q4: a deficit the fund can cover is covered: 0.980400 USDC from the fund (its 1.0465 USDC of Q2 fees) to the bankrupt account, a Cover entry; no write-down, the lenders keep their BTC claim", () => {
    const h = new Harness();
    // Q2 fills the fund first (test/liquidation-book.test.ts's figures): Dave's 10 SOL against a 1,000 USDC borrow,
    // SOL marked $116, one step sells 0.91 SOL at Bob's $115 and pays 1.0465 USDC to the fund.
    h.batch([deposit(CAROL, USDC, 10_000n * USDC_UNIT), lend(CAROL, USDC, 10_000n * USDC_UNIT), deposit(DAVE, SOL, 10n * SOL_UNIT), deposit(LENDER, BTC, BTC_UNIT), lend(LENDER, BTC, BTC_UNIT)]);
    h.batch([withdraw(DAVE, USDC, 1_000n * USDC_UNIT, OrderFlag.AutoBorrow)]);
    h.batch([deposit(BOB, USDC, 5_000n * USDC_UNIT), { kind: CommandKind.PlaceOrder, account: BOB, market: SOL_USDC, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 115n * USD, quantity: 20n * SOL_UNIT }]);
    h.batch([mark(SOL, 116n * USD)]);
    h.tick();
    expect(h.insurance(USDC)).toBe(1_046_500n);
    // Alice: 2 USDT, 0.00001 BTC borrowed and taken out; BTC to $100,000 and USDT to $0.01: net equity
    // 2 × 0.01 × 0.98 − 1 = −0.9804 USD.
    h.batch([deposit(ALICE, USDT, 2n * USDC_UNIT)]);
    h.batch([withdraw(ALICE, BTC, 1_000n, OrderFlag.AutoBorrow)]);
    h.batch([mark(BTC, 100_000n * USD), mark(USDT, USD / 100n)]);
    expect(socializations(h.tick())).toEqual([[SocializationKind.Bankrupt, ALICE, USDC, 0n, 0n, 0n]]);
    const covered = h.tick();
    expect(socializations(covered)).toEqual([[SocializationKind.InsuranceCover, ALICE, USDC, 0n, 980_400n, 0n]]);
    expect([h.insurance(USDC), h.available(ALICE, USDC), h.borrowed(ALICE, BTC), h.lent(LENDER, BTC)]).toEqual([66_100n, 980_400n, 1_000n, BTC_UNIT]);
    const last = h.risk(0).insuranceHistory(USDC, 0, 100).at(-1)!;
    expect([last.reason, last.change, last.balance]).toEqual([InsuranceReason.Cover, -980_400n, 66_100n]);
    expect(h.risk(ALICE).openBankruptcies()).toBe(0);
  });
});

describe("Q5 lender ADL at the utilization limit (seed 004)", () => {
  /**
   * Dave's collateral is 1 BTC lent; he owes 30,000 USDC (a margin withdrawal). Bob holds 200,000 USDC and borrowed
   * 0.95 BTC (taken out): the BTC pool is at 95% utilization, above its 90% throttle, so no lender can redeem. BTC
   * then marks $30,000: Dave is liquidating and his lent BTC cannot be redeemed.
   */
  function stuckLender(h: Harness): void {
    h.batch([
      deposit(CAROL, USDC, 100_000n * USDC_UNIT), lend(CAROL, USDC, 100_000n * USDC_UNIT),
      deposit(DAVE, BTC, BTC_UNIT), lend(DAVE, BTC, BTC_UNIT),
      deposit(BOB, USDC, 200_000n * USDC_UNIT),
    ]);
    const borrows = h.batch([withdraw(DAVE, USDC, 30_000n * USDC_UNIT, OrderFlag.AutoBorrow), withdraw(BOB, BTC, 95_000_000n, OrderFlag.AutoBorrow)]);
    expect(rejects(borrows)).toEqual([]);
    expect([h.borrowed(DAVE, USDC), h.borrowed(BOB, BTC)]).toEqual([30_000n * USDC_UNIT, 95_000_000n]);
    const started = h.batch([mark(BTC, 30_000n * USD)]);
    expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([DAVE]);
  }

  it("Q5: Dave's 1 BTC lent at 95% utilization: Bob's 0.95 BTC borrow is closed by moving 28,500 USDC (0.95 × $30,000) from Bob to Dave; Bob's total value stays 171,500 USDC, Dave's claim falls to 0.05 BTC", () => {
    const h = new Harness();
    stuckLender(h);
    const bobValueBefore = h.available(BOB, USDC) - (h.borrowed(BOB, BTC) * 30_000n * USDC_UNIT) / BTC_UNIT;
    expect(bobValueBefore).toBe(171_500n * USDC_UNIT);
    const adl = h.tick();
    expect(socializations(adl)).toEqual([
      [SocializationKind.LenderAdl, DAVE, BTC, 95_000_000n, 28_500n * USDC_UNIT, 0n],
      [SocializationKind.LenderAdl, BOB, BTC, 95_000_000n, -28_500n * USDC_UNIT, 0n],
    ]);
    expect(adl.filter((e) => e.kind === EventKind.Socialization).map((e) => e.counterpartyAccount)).toEqual([BOB, DAVE]);
    expect([h.borrowed(BOB, BTC), h.available(BOB, USDC)]).toEqual([0n, 171_500n * USDC_UNIT]); // value unchanged
    expect(h.lent(DAVE, BTC)).toBe(5_000_000n);
    const pool = h.risk(DAVE).pools.pools[BTC]!;
    expect([pool.totalLent, pool.totalBorrowed, pool.cash]).toEqual([5_000_000n, 0n, 5_000_000n]);
    // The pool can redeem again: the next phase 0 redeems Dave's last 0.05 BTC for Q2 to sell.
    h.tick();
    expect(h.lent(DAVE, BTC)).toBe(0n);
  });
});

describe("Q5 with 2 risk shards", () => {
  it("Q5: a redemption the pool takes but the shard's per-batch budget does not is made in part (redeemable), never a lender ADL: Dave's 0.9 BTC at 42.5% utilization", () => {
    const h = new Harness({ riskShards: 2, matchingShards: 1 });
    expect(h.risk(DAVE)).toBe(h.risk(BOB)); // a borrower on the lender's own shard: the ADL would be allowed
    h.batch([
      deposit(LENDER, BTC, 110_000_000n), lend(LENDER, BTC, 110_000_000n),
      deposit(DAVE, BTC, 90_000_000n), lend(DAVE, BTC, 90_000_000n),
      deposit(CAROL, USDC, 100_000n * USDC_UNIT), lend(CAROL, USDC, 100_000n * USDC_UNIT),
      deposit(BOB, USDC, 200_000n * USDC_UNIT),
    ]);
    expect(rejects(h.batch([withdraw(DAVE, USDC, 30_000n * USDC_UNIT, OrderFlag.AutoBorrow), withdraw(BOB, BTC, 85_000_000n, OrderFlag.AutoBorrow)]))).toEqual([]);
    h.batch([mark(BTC, 30_000n * USD)]);
    expect(h.risk(DAVE).liquidatingAccounts()).toContain(DAVE);
    // Redeeming all 0.9 BTC leaves U = 0.85 / 1.1 < 95%: the pool takes it; this shard's budget (half the room below
    // the 90% throttle) does not, so part is redeemed now and Bob's borrow is left alone.
    const step = h.tick();
    expect(socializations(step)).toEqual([]);
    expect(h.borrowed(BOB, BTC)).toBe(85_000_000n);
    const lent = h.lent(DAVE, BTC);
    expect(lent > 0n && lent < 90_000_000n).toBe(true);
  });
});

describe("Q4 rounding and X4", () => {
  it("Q4: payouts are floor(total × shares / pool shares): three lenders of 1 BTC get 33,333.333333 USDC each, Σ is 1 unit short of 100,000 USDC and that unit returns to the insurance fund at the next batch (LenderPayout row)", () => {
    const h = new Harness();
    h.batch([
      deposit(LENDER, BTC, BTC_UNIT), lend(LENDER, BTC, BTC_UNIT),
      deposit(CAROL, BTC, BTC_UNIT), lend(CAROL, BTC, BTC_UNIT),
      deposit(DAVE, BTC, BTC_UNIT), lend(DAVE, BTC, BTC_UNIT),
      deposit(ALICE, USDT, 100_000n * USDC_UNIT),
    ]);
    h.batch([withdraw(ALICE, BTC, BTC_UNIT, OrderFlag.AutoBorrow)]);
    h.batch([mark(BTC, 100_000n * USD), mark(USDT, USD / 100n)]);
    h.tick();
    const paid = socializations(h.tick()).filter((r) => r[0] === SocializationKind.LenderPaid);
    expect(paid.map((r) => r[4])).toEqual([33_333_333_333n, 33_333_333_333n, 33_333_333_333n]);
    expect(paid.map((r) => r[3])).toEqual([33_333_334n, 33_333_334n, 33_333_334n]); // claims 1 → 0.66666666 BTC (the pool keeps the rounding)
    expect([h.transit(), h.insurance(USDC)]).toEqual([1n, -100_000n * USDC_UNIT]);
    h.tick();
    expect([h.transit(), h.insurance(USDC)]).toEqual([0n, -100_000n * USDC_UNIT + 1n]);
    const last = h.risk(0).insuranceHistory(USDC, 0, 100).at(-1)!;
    expect([last.reason, last.change]).toEqual([InsuranceReason.LenderPayout, 1n]);
  });

  it("Q4: planLenderPayoutByShares never pays more than the total, whatever the split of the shares over shards", () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    for (let run = 0; run < 500; run++) {
      const count = 1 + rand(12);
      const shares = Array.from({ length: count }, () => BigInt(1 + rand(1_000_000_007)));
      const pool = shares.reduce((a, b) => a + b, 0n);
      const total = BigInt(rand(2_000_000_000)) * 1000n + BigInt(rand(1000));
      const cut = rand(count + 1); // two shards: [0, cut) and [cut, count)
      const out: bigint[] = [];
      const a = planLenderPayoutByShares(total, shares.slice(0, cut), cut, pool, out);
      const b = planLenderPayoutByShares(total, shares.slice(cut), count - cut, pool, out);
      expect(a + b <= total && total - (a + b) < BigInt(count)).toBe(true);
    }
  });
});

describe("Q7 with Q4", () => {
  it("Q7, Q4: a what-if of BTC +100% and USDT −99% on a copy reports Alice liquidating (stage 0), found bankrupt (stage 1) and the lenders' 100,000 USDC beyond the fund (stage 2); the engine itself is unchanged", () => {
    const h = new Harness();
    h.batch([mark(BTC, 50_000n * USD), deposit(LENDER, BTC, 2n * BTC_UNIT), lend(LENDER, BTC, 2n * BTC_UNIT), deposit(ALICE, USDT, 100_000n * USDC_UNIT)]);
    h.batch([withdraw(ALICE, BTC, BTC_UNIT, OrderFlag.AutoBorrow)]);
    const hash = h.engine.stateHash();
    const pct = RATIO_SCALE / 100n;
    const r = runStress(config, h.engine.snapshot(), [{ asset: BTC, change: 100n * pct }, { asset: USDT, change: -99n * pct }]);
    expect(r.stages.map((st) => [st.stage, st.started.map((a) => a.account), st.ended.map((a) => a.account), st.bankrupt, st.socializedLossQuote])).toEqual([
      [0, [ALICE], [], [], 0n],
      [1, [], [], [ALICE], 0n],
      [2, [], [ALICE], [], 100_000n * USDC_UNIT],
    ]);
    expect([r.insuranceFundAfter[USDC], r.insuranceFundAfter[USDT]]).toEqual([-100_000n * USDC_UNIT, 100_000n * USDC_UNIT]);
    expect(h.engine.stateHash()).toBe(hash);
  });
});

const text = (e: EventRecord): string => JSON.stringify(e, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4, X7 with Q4/Q5", () => {
  function story(topology: EngineTopology): Harness {
    const h = new Harness(topology);
    bankruptAlice(h, 2n);
    h.tick();
    h.tick([withdraw(BOB, USDC, USDC_UNIT)]);
    h.tick([withdraw(BOB, USDC, USDC_UNIT)]);
    return h;
  }

  it("Q4, X7: a snapshot taken while the bankruptcy is open restores into an engine that resolves it identically (events and state hash)", () => {
    const h = story({ riskShards: 2, matchingShards: 1 });
    const live = new Engine(config, { riskShards: 2, matchingShards: 1 });
    const cut = h.journal.length - 2; // after the batch that found Alice bankrupt
    for (let i = 0; i < cut; i++) live.processBatch(h.journal[i]!, h.journal[i]!.length, { publish: () => {} });
    expect(live.risk.map((r) => r.openBankruptcies())).toEqual([1, 1]);
    const restored = Engine.fromSnapshot(config, live.snapshot());
    const a: string[] = [];
    const b: string[] = [];
    for (let i = cut; i < h.journal.length; i++) {
      live.processBatch(h.journal[i]!, h.journal[i]!.length, { publish: (e) => a.push(text(e)) });
      restored.processBatch(h.journal[i]!, h.journal[i]!.length, { publish: (e) => b.push(text(e)) });
    }
    expect(a.length).toBeGreaterThan(4);
    expect(b).toEqual(a);
    expect(restored.stateHash()).toBe(live.stateHash());
    expect(live.stateHash()).toBe(h.engine.stateHash());
  });

  for (const [topology, stages] of [
    [{ riskShards: 1, matchingShards: 1 }, "fused"],
    [{ riskShards: 2, matchingShards: 1 }, "split"],
  ] as const) {
    it(`Q4, X4: threaded ${topology.riskShards}×${topology.matchingShards} ${stages} replays the bankruptcy, the payouts and the paused withdrawal to the in-process state hash`, async () => {
      const h = story(topology);
      const { events, fatal, hash } = await runThreaded(config, h.journal, text, { topology, stages }, running);
      expect(fatal).toEqual([]);
      expect(hash).toBe(h.engine.stateHash());
      expect(events.some((t) => t.includes(`"kind":${EventKind.Socialization}`))).toBe(true);
    }, 60_000);
  }
});
