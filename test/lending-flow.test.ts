// Borrowing and lending through the engine (SPEC L1–L15, S2–S4, A4, A5): manual borrow / repay / lend / redeem, the
// auto paths, spot-margin fills, hourly interest from the clock, the queries, and pools shared by two risk shards —
// with the seeds' examples in exact amounts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { borrowRate, entryFee, owedAmount, poolStats, validatePoolState } from "../engine/lending/index.ts";
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  ALL_ASSETS,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  RATIO_SCALE,
  rejectCodeName,
  Side,
  TimeInForce,
} from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";
import { riskShardOf, type RiskShard } from "../engine/risk/index.ts";

const config = loadConfig();
const USDC = 0;
const SOL = 4;
const SOL_USDC = 2;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const USD = 1_000_000_000n;
const HOUR = 3_600_000;
/** 2026-01-01 00:00 UTC: an hour mark. */
const T0 = 1_767_225_600_000;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;
const CAROL = 64;

class Harness {
  readonly engine: Engine;
  private seq = 0;
  timeMs = T0;

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    this.engine = new Engine(config, topology);
    this.run({ kind: CommandKind.AdvanceTime, timeMs: T0 });
  }

  cmd(fields: Partial<CommandRecord>): CommandRecord {
    const c = Object.assign(new CommandRecord(), fields);
    c.seq = ++this.seq;
    return c;
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => this.cmd(f));
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

  run(fields: Partial<CommandRecord>): EventRecord[] {
    return this.batch([fields]);
  }

  risk(account: number): RiskShard {
    return this.engine.risk[riskShardOf(account, this.engine.risk.length)]!;
  }

  at(timeMs: number): EventRecord[] {
    this.timeMs = timeMs;
    return this.run({ kind: CommandKind.AdvanceTime, timeMs });
  }

  deposit(account: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.Deposit, account, asset, amount });
  }

  pool(kind: CommandKind, account: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind, account, asset, amount });
  }

  settings(account: number, on: number, off = 0): EventRecord[] {
    const mask = on | off;
    return this.run({ kind: CommandKind.UpdateAccountSettings, account, flags: mask | (on << ACCOUNT_SETTING_VALUE_SHIFT) });
  }

  limit(account: number, side: number, price: bigint, quantity: bigint, flags = 0): EventRecord[] {
    return this.run({ kind: CommandKind.PlaceOrder, account, market: SOL_USDC, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price, quantity, flags });
  }

  mark(asset: number, price: bigint): void {
    this.run({ kind: CommandKind.SetMarkPrice, asset, price });
  }

  slots(account: number, asset: number): { available: bigint; locked: bigint; lent: bigint; borrowed: bigint } {
    const r = this.risk(account);
    return { ...r.balance(account, asset), ...r.poolBalance(account, asset) };
  }

  poolOf(asset: number) {
    return this.engine.risk[0]!.pools.pools[asset]!;
  }
}

function rejects(events: EventRecord[]): string[] {
  return events.filter((e) => e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected).map((e) => rejectCodeName[e.code]!);
}

function accepted(events: EventRecord[]): boolean {
  return rejects(events).length === 0 && events.some((e) => e.kind === EventKind.CommandAccepted || e.kind === EventKind.OrderAccepted);
}

/** A USDC pool with 10,000 lent and 4,000 borrowed (U = 0.4, r_b = 5% APR), charged at T0 + 1 h. */
function usdcPoolAt40Percent(h: Harness): void {
  h.deposit(LENDER, USDC, 10_000n * USDC_UNIT);
  expect(accepted(h.pool(CommandKind.Lend, LENDER, USDC, 10_000n * USDC_UNIT))).toBe(true);
  h.deposit(CAROL, SOL, 100n * SOL_UNIT);
  expect(accepted(h.pool(CommandKind.Borrow, CAROL, USDC, 4_000n * USDC_UNIT))).toBe(true);
  h.at(T0 + HOUR);
}

describe("the seeds' borrowing examples, exact", () => {
  it("S2: L6: (seed 003) 1,000 USDC buying 2,000 USDC of SOL with margin borrows exactly 1,000 USDC plus the entry fee for the rest of the hour", () => {
    const h = new Harness();
    usdcPoolAt40Percent(h);
    // L5: the hour from T0 + 1 h is charged at r_b(0.4) = 0.1 × 0.4 / 0.8 = 5% APR, fixed at its start.
    expect(h.poolOf(USDC).hourBorrowRate).toBe(50_000_000_000_000_000n);
    h.mark(SOL, 100n * USD);
    h.deposit(BOB, SOL, 20n * SOL_UNIT);
    h.limit(BOB, Side.Sell, 100n * USD, 20n * SOL_UNIT);
    h.deposit(ALICE, USDC, 1_000n * USDC_UNIT);
    // 12:50 in the seed: 10 minutes before the next hour mark.
    h.at(T0 + HOUR + 50 * 60_000);
    const events = h.limit(ALICE, Side.Buy, 100n * USD, 20n * SOL_UNIT, OrderFlag.AutoBorrow);
    expect(rejects(events)).toEqual([]);
    expect(events.filter((e) => e.kind === EventKind.Fill)).toHaveLength(1);
    // Entry fee = ceil(1,000 USDC × 5% × 10 min / (365 × 24 h)) = ceil(951.29…) = 952 units (0.000952 USDC).
    const fee = entryFee(1_000n * USDC_UNIT, 50_000_000_000_000_000n, 10 * 60_000);
    expect(fee).toBe(952n);
    // The debt: 1,000 USDC + the 952 fee, in shares at the hour's borrow index (> 1.0), which rounds up by one unit:
    // 1,000.000953 USDC owed. L14: the EntryFee history entry is the L6 fee, 952; the rounding unit is the pool's
    // (share rounding, exchangeRoundingTotal), not interest.
    const alice = h.slots(ALICE, USDC);
    expect(alice).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 1_000n * USDC_UNIT + 953n });
    // The SOL bought, less the 10 bps taker fee.
    expect(h.slots(ALICE, SOL).available).toBe(19_980_000_000n);
    const history = h.risk(ALICE).interestHistory(ALICE, USDC, 0, 100);
    expect(history).toEqual([{ asset: USDC, kind: 0, amount: 952n, rate: 50_000_000_000_000_000n, timeMs: T0 + HOUR + 50 * 60_000 }]);
  });

  it("S3: L10: (seed 000) owing 1 SOL, a margin buy of 1 SOL repays the debt with what it receives", () => {
    const h = new Harness();
    h.deposit(LENDER, SOL, 100n * SOL_UNIT);
    h.pool(CommandKind.Lend, LENDER, SOL, 100n * SOL_UNIT);
    h.deposit(ALICE, USDC, 1_000n * USDC_UNIT);
    expect(accepted(h.pool(CommandKind.Borrow, ALICE, SOL, SOL_UNIT))).toBe(true);
    expect(accepted(h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: SOL, amount: SOL_UNIT }))).toBe(true);
    expect(h.slots(ALICE, SOL)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: SOL_UNIT });
    h.deposit(BOB, SOL, 10n * SOL_UNIT);
    h.limit(BOB, Side.Sell, 150n * USD, 2n * SOL_UNIT);
    expect(rejects(h.limit(ALICE, Side.Buy, 150n * USD, SOL_UNIT, OrderFlag.AutoBorrow))).toEqual([]);
    // 1 SOL less the 10 bps taker fee = 0.999 SOL arrives and repays the debt first: 0.001 SOL is still owed.
    expect(h.slots(ALICE, SOL)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 1_000_000n });
    expect(h.slots(ALICE, USDC).available).toBe(850n * USDC_UNIT);
    // Another 0.01 SOL with margin: 0.00999 arrives, 0.001 repays the rest, 0.00899 stays.
    h.limit(ALICE, Side.Buy, 150n * USD, 10_000_000n, OrderFlag.AutoBorrow);
    expect(h.slots(ALICE, SOL)).toEqual({ available: 8_990_000n, locked: 0n, lent: 0n, borrowed: 0n });
  });

  it("A4: L10: L12: (seed 000) owing 1 SOL with auto-lend on, a deposit of 1 SOL repays the debt; the rest of a deposit is lent", () => {
    const h = new Harness();
    h.deposit(LENDER, SOL, 100n * SOL_UNIT);
    h.pool(CommandKind.Lend, LENDER, SOL, 100n * SOL_UNIT);
    h.deposit(ALICE, USDC, 1_000n * USDC_UNIT);
    h.pool(CommandKind.Borrow, ALICE, SOL, SOL_UNIT);
    h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: SOL, amount: SOL_UNIT });
    const on = h.settings(ALICE, AccountSetting.AutoLend);
    expect(accepted(on)).toBe(true);
    // L12: turning auto-lend on lends every available balance at once (it stays collateral), and publishes it.
    expect(h.slots(ALICE, USDC)).toEqual({ available: 0n, locked: 0n, lent: 1_000n * USDC_UNIT, borrowed: 0n });
    expect(on.filter((e) => e.kind === EventKind.Balance).map((e) => [e.account, e.asset, e.available, e.locked, e.lent, e.borrowed])).toEqual([
      [ALICE, USDC, 0n, 0n, 1_000n * USDC_UNIT, 0n],
    ]);
    h.deposit(ALICE, SOL, SOL_UNIT);
    expect(h.slots(ALICE, SOL)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 0n });
    h.deposit(ALICE, SOL, 2n * SOL_UNIT);
    expect(h.slots(ALICE, SOL)).toEqual({ available: 0n, locked: 0n, lent: 2n * SOL_UNIT, borrowed: 0n });
  });
});

describe("L rules through the engine", () => {
  it("L1: L2: L4: L13: a borrower needs no deposit in the pool; U = borrowed / lent; the stats and the rate curve answer", () => {
    const h = new Harness();
    usdcPoolAt40Percent(h);
    // Borrowed at T0 (no entry fee before the first mark: r_min = 0), then one hour at 5%: 4,000 × 0.05 / 8760, up.
    expect(h.slots(CAROL, USDC)).toEqual({ available: 4_000n * USDC_UNIT, locked: 0n, lent: 0n, borrowed: 4_000_022_832n });
    const stats = h.run({ kind: CommandKind.QueryPoolStats, asset: USDC, account: ALICE });
    expect(stats).toHaveLength(1);
    const s = stats[0]!;
    expect(s.kind).toBe(EventKind.PoolStats);
    // After the hour at 5%: debt 4,000 × (1 + 0.05 / 8760) rounded up; lenders get 90% of it (fee 10%).
    expect(s.borrowed).toBe(4_000_022_832n);
    expect(s.lent).toBe(10_000_020_548n);
    expect(s.freeLiquidity).toBe(s.lent - s.borrowed);
    expect(s.hourBorrowRate).toBe(50_000_000n); // 5% at 1e-9
    expect(s.optimalUtilization).toBe(800_000_000n);
    expect(s.throttleUtilization).toBe(900_000_000n);
    expect(s.maxUtilization).toBe(950_000_000n);
    expect(s.poolFee).toBe(100_000_000n);
    const u = (s.borrowed * RATIO_SCALE + s.lent - 1n) / s.lent;
    expect(s.utilization).toBe(u / 1_000_000_000n);
    // L4: lend rate = borrow rate × U.
    const curve = h.run({ kind: CommandKind.QueryRateCurve, asset: USDC, curvePoints: 5 });
    expect(curve.map((e) => [e.utilization, e.borrowRate, e.lendRate])).toEqual([
      [0n, 0n, 0n],
      [250_000_000n, 31_250_000n, 7_812_500n],
      [500_000_000n, 62_500_000n, 31_250_000n],
      [750_000_000n, 93_750_000n, 70_312_500n],
      [1_000_000_000n, 1_500_000_000n, 1_500_000_000n],
    ]);
    const all = h.run({ kind: CommandKind.QueryPoolStats, asset: ALL_ASSETS, account: ALICE });
    expect(all.map((e) => e.asset)).toEqual([0, 1, 2, 3, 4]);
  });

  it("L5: L14: interest is charged on the hour from the clock (at the end of the batch that crosses the mark); history sums to the debt", () => {
    const h = new Harness();
    usdcPoolAt40Percent(h);
    const pool = h.poolOf(USDC);
    const owed1 = h.slots(CAROL, USDC).borrowed;
    // Within the hour nothing is charged.
    h.at(T0 + HOUR + 59 * 60_000);
    expect(h.slots(CAROL, USDC).borrowed).toBe(owed1);
    // Three marks crossed in one step: three hours charged, each at the rate of its start.
    h.at(T0 + 4 * HOUR + 1);
    expect(pool.lastAccrualHourMs).toBe(T0 + 4 * HOUR);
    const owed4 = h.slots(CAROL, USDC).borrowed;
    expect(owed4).toBeGreaterThan(owed1);
    expect(owed4).toBe(owedAmount(h.risk(CAROL).positionOf(CAROL, USDC).borrowShares, pool.borrowIndex));
    const history = h.risk(CAROL).interestHistory(CAROL, USDC, 0, 100);
    expect(history.map((x) => x.timeMs)).toEqual([T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]);
    expect(history.every((x) => x.kind === 1)).toBe(true);
    expect(history.reduce((a, x) => a + x.amount, 0n)).toBe(owed4 - 4_000n * USDC_UNIT);
    const lenderHistory = h.risk(LENDER).interestHistory(LENDER, USDC, 0, 100);
    expect(lenderHistory.reduce((a, x) => a + x.amount, 0n)).toBe(h.slots(LENDER, USDC).lent - 10_000n * USDC_UNIT);
    // The wire query answers the same entries, then CommandAccepted.
    const events = h.run({ kind: CommandKind.QueryInterestHistory, account: CAROL, asset: USDC, timeMs: 0, historyLimit: 0 });
    expect(events.filter((e) => e.kind === EventKind.InterestEntry).map((e) => e.interest)).toEqual(history.map((x) => x.amount));
    // L5: Σ borrower interest = Σ lender interest + exchange share, at the pool, exactly.
    expect(pool.borrowInterestTotal).toBe(pool.lendInterestTotal + pool.exchangeInterestTotal);
  });

  it("L10: L5: repaying all of a debt that interest has grown past the balance is refused naming the whole debt; a deposit of the interest lets it through", () => {
    const h = new Harness();
    usdcPoolAt40Percent(h); // Carol borrowed 4,000 USDC at T0 and holds them; the hour at T0 + 1 h charged interest
    const owed = h.slots(CAROL, USDC).borrowed;
    expect(owed).toBe(4_000_022_832n); // 4,000 USDC and an hour at 5% APR: 4,000 × 0.05 / 8,760 = 0.0228310… rounded up
    expect(h.slots(CAROL, USDC).available).toBe(4_000n * USDC_UNIT);
    const refused = h.pool(CommandKind.Repay, CAROL, USDC, 0n);
    expect(rejects(refused)).toEqual(["InsufficientBalance"]);
    expect(refused[0]!.message).toBe("insufficient USDC to repay: needs 4000.022832, available 4000");
    expect(h.slots(CAROL, USDC)).toEqual({ available: 4_000n * USDC_UNIT, locked: 0n, lent: 0n, borrowed: owed });
    h.deposit(CAROL, USDC, owed - 4_000n * USDC_UNIT);
    expect(accepted(h.pool(CommandKind.Repay, CAROL, USDC, 0n))).toBe(true);
    expect(h.slots(CAROL, USDC)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 0n });
  });

  it("L6: a borrow between an hour mark and its accrual pays no entry fee (the accrual charges the whole hour from the mark)", () => {
    const h = new Harness();
    usdcPoolAt40Percent(h);
    h.deposit(ALICE, SOL, 10n * SOL_UNIT);
    const events = h.batch([
      { kind: CommandKind.AdvanceTime, timeMs: T0 + 2 * HOUR + 30 * 60_000 },
      { kind: CommandKind.Borrow, account: ALICE, asset: USDC, amount: 100n * USDC_UNIT },
    ]);
    expect(rejects(events)).toEqual([]);
    const pool = h.poolOf(USDC);
    expect(pool.lastAccrualHourMs).toBe(T0 + 2 * HOUR);
    const rate = pool.hourBorrowRate;
    // 100 USDC charged the hour from T0 + 2 h at that hour's rate: ceil(shares × index).
    const history = h.risk(ALICE).interestHistory(ALICE, USDC, 0, 10);
    // Borrow (stamped with the mark): the whole hour from the mark, 100 × r / 8760 (± 1 unit of rounding); no
    // EntryFee row (no fee; the share rounding, ≤ 1 unit, is the pool's).
    expect(history.map((x) => x.kind)).toEqual([1]);
    expect(history[0]!.rate).toBe(rate);
    const hour = entryFee(100n * USDC_UNIT, rate, HOUR);
    expect([hour - 1n, hour, hour + 1n]).toContain(history[0]!.amount); // per-position rounding of the index method
    const rounding = h.slots(ALICE, USDC).borrowed - 100n * USDC_UNIT - history[0]!.amount;
    expect(rounding === 0n || rounding === 1n).toBe(true);
  });

  it("L7: at or above the throttle, borrows and redemptions are refused with their own codes; repay and lend still work", () => {
    const h = new Harness();
    h.deposit(LENDER, USDC, 10_000n * USDC_UNIT);
    h.pool(CommandKind.Lend, LENDER, USDC, 10_000n * USDC_UNIT);
    h.deposit(CAROL, SOL, 1_000n * SOL_UNIT);
    // One borrow may take U from below the throttle (90%) up to maxUtilization (95%), not past it (L13).
    expect(rejects(h.pool(CommandKind.Borrow, CAROL, USDC, 9_500n * USDC_UNIT + 1n))).toEqual(["MaxUtilization"]);
    expect(accepted(h.pool(CommandKind.Borrow, CAROL, USDC, 9_200n * USDC_UNIT))).toBe(true);
    expect(rejects(h.pool(CommandKind.Borrow, CAROL, USDC, USDC_UNIT))).toEqual(["BorrowThrottled"]);
    expect(rejects(h.pool(CommandKind.Redeem, LENDER, USDC, USDC_UNIT))).toEqual(["RedeemThrottled"]);
    h.deposit(BOB, USDC, 1_000n * USDC_UNIT);
    expect(accepted(h.pool(CommandKind.Lend, BOB, USDC, 300n * USDC_UNIT))).toBe(true); // U = 9200/10300 = 89.3%
    expect(accepted(h.pool(CommandKind.Repay, CAROL, USDC, 100n * USDC_UNIT))).toBe(true);
    expect(accepted(h.pool(CommandKind.Redeem, LENDER, USDC, USDC_UNIT))).toBe(true);
  });

  it("L13: maxUtilization is a bound a borrow may reach but not exceed: a borrow to exactly 95% is accepted, one unit more is refused", () => {
    const h = new Harness();
    h.deposit(LENDER, USDC, 10_000n * USDC_UNIT);
    h.pool(CommandKind.Lend, LENDER, USDC, 10_000n * USDC_UNIT);
    h.deposit(CAROL, SOL, 1_000n * SOL_UNIT);
    // At T0 the hour's rate is r_min = 0: no entry fee, so the debt is the amount.
    expect(h.risk(CAROL).maxBorrowQuantity(CAROL, USDC).poolLimit).toBe(9_500n * USDC_UNIT);
    expect(rejects(h.pool(CommandKind.Borrow, CAROL, USDC, 9_500n * USDC_UNIT + 1n))).toEqual(["MaxUtilization"]);
    expect(accepted(h.pool(CommandKind.Borrow, CAROL, USDC, 9_500n * USDC_UNIT))).toBe(true);
    expect(poolStats(h.poolOf(USDC)).utilization).toBe(950_000_000_000_000_000n);
    expect(rejects(h.pool(CommandKind.Borrow, CAROL, USDC, 1n))).toEqual(["BorrowThrottled"]);
  });

  it("L8: the max-borrow answer is exactly what the borrow check accepts (property over deposits, marks, leverage and pool size)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 60, max: 300 }),
        fc.constantFrom(1, 2, 5, 10, 20),
        fc.constantFrom(USDC, SOL),
        (collateralSol, lentUsdc, markSol, leverage, asset) => {
          const h = new Harness();
          h.mark(SOL, BigInt(markSol) * USD);
          h.deposit(LENDER, USDC, BigInt(lentUsdc) * USDC_UNIT);
          h.pool(CommandKind.Lend, LENDER, USDC, BigInt(lentUsdc) * USDC_UNIT);
          h.deposit(BOB, SOL, 50n * SOL_UNIT);
          h.pool(CommandKind.Lend, BOB, SOL, 50n * SOL_UNIT);
          h.deposit(ALICE, SOL, (BigInt(collateralSol) * SOL_UNIT) / 100n);
          h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, leverageLimit: leverage });
          const answer = h.run({ kind: CommandKind.QueryMaxBorrow, account: ALICE, asset });
          const max = answer[0]!.quantity;
          if (max > 0n) expect(rejects(h.batch([{ kind: CommandKind.Borrow, account: ALICE, asset, amount: max }]))).toEqual([]);
          const h2 = new Harness();
          h2.mark(SOL, BigInt(markSol) * USD);
          h2.deposit(LENDER, USDC, BigInt(lentUsdc) * USDC_UNIT);
          h2.pool(CommandKind.Lend, LENDER, USDC, BigInt(lentUsdc) * USDC_UNIT);
          h2.deposit(BOB, SOL, 50n * SOL_UNIT);
          h2.pool(CommandKind.Lend, BOB, SOL, 50n * SOL_UNIT);
          h2.deposit(ALICE, SOL, (BigInt(collateralSol) * SOL_UNIT) / 100n);
          h2.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, leverageLimit: leverage });
          expect(rejects(h2.pool(CommandKind.Borrow, ALICE, asset, max + 1n))).toHaveLength(1);
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });

  it("L9: L10: L11: manual borrow, repay, lend and redeem are refused with a clear reason while auto-lend is on", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, 100n * USDC_UNIT);
    h.settings(ALICE, AccountSetting.AutoLend);
    for (const kind of [CommandKind.Borrow, CommandKind.Repay, CommandKind.Lend, CommandKind.Redeem]) {
      const events = h.pool(kind, ALICE, USDC, USDC_UNIT);
      expect(rejects(events)).toEqual(["AutoLendOn"]);
      expect(events[0]!.message).toMatch(/is off while auto-lend is on/);
    }
  });

  it("L11: S4: A5: A2: a spot trade, a withdrawal and a transfer redeem lent units of the asset they spend, with or without the margin flag", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, 1_000n * USDC_UNIT);
    h.pool(CommandKind.Lend, ALICE, USDC, 1_000n * USDC_UNIT);
    expect(rejects(h.limit(ALICE, Side.Buy, 150n * USD, 2n * SOL_UNIT))).toEqual([]);
    // 300 USDC redeemed into the order's hold.
    expect(h.slots(ALICE, USDC)).toEqual({ available: 0n, locked: 300n * USDC_UNIT, lent: 700n * USDC_UNIT, borrowed: 0n });
    expect(accepted(h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 200n * USDC_UNIT }))).toBe(true);
    expect(h.slots(ALICE, USDC)).toEqual({ available: 0n, locked: 300n * USDC_UNIT, lent: 500n * USDC_UNIT, borrowed: 0n });
    expect(rejects(h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 501n * USDC_UNIT }))).toEqual(["InsufficientBalance"]);
    // A2: a transfer out is funded as a plain withdrawal: the lent units are redeemed (it was InsufficientBalance
    // with nothing available, while max-withdrawal said 500).
    expect(h.risk(ALICE).maxWithdrawalQuantity(ALICE, USDC, 0).quantity).toBe(500n * USDC_UNIT);
    expect(accepted(h.run({ kind: CommandKind.Transfer, account: ALICE, account2: ALICE + 1, asset: USDC, amount: 10n * USDC_UNIT }))).toBe(true);
    expect(h.slots(ALICE, USDC)).toEqual({ available: 0n, locked: 300n * USDC_UNIT, lent: 490n * USDC_UNIT, borrowed: 0n });
    expect(h.slots(ALICE + 1, USDC).available).toBe(10n * USDC_UNIT);
    expect(rejects(h.run({ kind: CommandKind.Transfer, account: ALICE, account2: ALICE + 1, asset: USDC, amount: 491n * USDC_UNIT }))).toEqual(["InsufficientBalance"]);
  });

  it("L12: S2: with auto-lend on, trade proceeds and a cancelled order's hold are lent at once; the order flag autoLend lends proceeds", () => {
    const h = new Harness();
    h.deposit(BOB, SOL, 10n * SOL_UNIT);
    h.settings(BOB, AccountSetting.AutoLend);
    expect(h.slots(BOB, SOL).lent).toBe(10n * SOL_UNIT);
    h.limit(BOB, Side.Sell, 150n * USD, SOL_UNIT); // redeems 1 SOL into the hold (S4)
    expect(h.slots(BOB, SOL)).toEqual({ available: 0n, locked: SOL_UNIT, lent: 9n * SOL_UNIT, borrowed: 0n });
    h.deposit(ALICE, USDC, 1_000n * USDC_UNIT);
    h.limit(ALICE, Side.Buy, 150n * USD, SOL_UNIT, OrderFlag.AutoLend);
    // Bob's proceeds 150 USDC less the 8 bps maker fee: lent; Alice's 0.999 SOL: lent by the order's flag.
    expect(h.slots(BOB, USDC)).toEqual({ available: 0n, locked: 0n, lent: 149_880_000n, borrowed: 0n });
    expect(h.slots(ALICE, SOL)).toEqual({ available: 0n, locked: 0n, lent: 999_000_000n, borrowed: 0n });
    const order = h.limit(BOB, Side.Sell, 170n * USD, SOL_UNIT);
    const id = order.find((e) => e.kind === EventKind.OrderAccepted)!.orderId;
    h.run({ kind: CommandKind.CancelOrder, account: BOB, market: SOL_USDC, orderId: id });
    expect(h.slots(BOB, SOL)).toEqual({ available: 0n, locked: 0n, lent: 9n * SOL_UNIT, borrowed: 0n });
  });

  it("L13: L15: lending while owing and borrowing while lending are refused; a lend above openBorrowLendLimit is PoolLendLimit", () => {
    const h = new Harness();
    h.deposit(LENDER, USDC, 10_000n * USDC_UNIT);
    h.pool(CommandKind.Lend, LENDER, USDC, 10_000n * USDC_UNIT);
    expect(rejects(h.pool(CommandKind.Borrow, LENDER, USDC, USDC_UNIT))).toEqual(["BorrowRequiresLendRedeem"]);
    h.deposit(ALICE, SOL, 10n * SOL_UNIT);
    h.pool(CommandKind.Borrow, ALICE, USDC, 100n * USDC_UNIT);
    expect(rejects(h.pool(CommandKind.Lend, ALICE, USDC, USDC_UNIT))).toEqual(["LendRequiresBorrowRepay"]);
    h.deposit(BOB, SOL, 6_000_000n * SOL_UNIT);
    expect(rejects(h.pool(CommandKind.Lend, BOB, SOL, 5_000_001n * SOL_UNIT))).toEqual(["PoolLendLimit"]);
    expect(poolStats(h.poolOf(SOL)).openBorrowLendLimit).toBe(5_000_000n * SOL_UNIT);
  });

  it("S2: a margin sell short borrows the base at fill time, exactly the filled part; the unfilled rest borrows nothing", () => {
    const h = new Harness();
    h.deposit(LENDER, SOL, 100n * SOL_UNIT);
    h.pool(CommandKind.Lend, LENDER, SOL, 100n * SOL_UNIT);
    h.deposit(ALICE, USDC, 1_000n * USDC_UNIT);
    const order = h.limit(ALICE, Side.Sell, 150n * USD, 2n * SOL_UNIT, OrderFlag.AutoBorrow);
    expect(rejects(order)).toEqual([]);
    // Nothing borrowed while it rests; the capacity is reserved in the pool.
    expect(h.slots(ALICE, SOL).borrowed).toBe(0n);
    expect(h.engine.risk[0]!.pools.reserved[SOL]).toBeGreaterThan(2n * SOL_UNIT);
    h.deposit(BOB, USDC, 1_000n * USDC_UNIT);
    h.limit(BOB, Side.Buy, 150n * USD, 500_000_000n);
    expect(h.slots(ALICE, SOL)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 500_000_000n });
    const id = order.find((e) => e.kind === EventKind.OrderAccepted)!.orderId;
    h.run({ kind: CommandKind.CancelOrder, account: ALICE, market: SOL_USDC, orderId: id });
    expect(h.slots(ALICE, SOL).borrowed).toBe(500_000_000n);
    expect(h.engine.risk[0]!.pools.reserved[SOL]).toBe(0n);
    expect(borrowRate(config.assets[SOL]!.pool, 0n)).toBe(0n);
  });

  it("A5: L9: a margin withdrawal borrows the part beyond the balance", () => {
    const h = new Harness();
    h.deposit(LENDER, USDC, 10_000n * USDC_UNIT);
    h.pool(CommandKind.Lend, LENDER, USDC, 10_000n * USDC_UNIT);
    h.deposit(ALICE, SOL, 10n * SOL_UNIT);
    h.deposit(ALICE, USDC, 10n * USDC_UNIT);
    expect(accepted(h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 110n * USDC_UNIT, flags: OrderFlag.AutoBorrow }))).toBe(true);
    expect(h.slots(ALICE, USDC)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 100n * USDC_UNIT });
  });
});

describe("one pool, two risk shards (L7, L13 with K = 2)", () => {
  it("L7: L13: two shards borrowing from the same pool in one batch never take it to the throttle (each uses at most half of the room)", () => {
    const h = new Harness({ riskShards: 2, matchingShards: 1 });
    expect(riskShardOf(ALICE, 2)).not.toBe(riskShardOf(BOB, 2));
    h.deposit(LENDER, USDC, 10_000n * USDC_UNIT);
    h.pool(CommandKind.Lend, LENDER, USDC, 10_000n * USDC_UNIT);
    h.deposit(ALICE, SOL, 1_000n * SOL_UNIT);
    h.deposit(BOB, SOL, 1_000n * SOL_UNIT);
    // 4,600 + 4,600 would be 92% (one shard alone would allow the second: 46% < 90% before it).
    const events = h.batch([
      { kind: CommandKind.Borrow, account: ALICE, asset: USDC, amount: 4_600n * USDC_UNIT },
      { kind: CommandKind.Borrow, account: BOB, asset: USDC, amount: 4_600n * USDC_UNIT },
    ]);
    expect(rejects(events)).toEqual(["MaxUtilization", "MaxUtilization"]);
    const ok = h.batch([
      { kind: CommandKind.Borrow, account: ALICE, asset: USDC, amount: 4_400n * USDC_UNIT },
      { kind: CommandKind.Borrow, account: BOB, asset: USDC, amount: 4_400n * USDC_UNIT },
    ]);
    expect(rejects(ok)).toEqual([]);
    for (const r of h.engine.risk) expect(r.pools.pools[USDC]!.totalBorrowed).toBe(8_800n * USDC_UNIT);
  });

  it("L7: L13: a redemption consumes the shard's batch budget even in a pool nobody borrows from: redeem-all on one shard and a margin withdrawal's borrow on the other never overdraw the pool's cash", () => {
    // The X1/X2 model's counterexample (seed 1679151173), reduced: account 33 (user 2, shard 0) lends all the pool
    // has; in one batch it redeems everything while account 18 (user 1, shard 1) borrows through a margin withdrawal.
    // With nothing borrowed at the boundary a redemption used to skip the budget: 80 redeemed + 30 borrowed from 80.
    const h = new Harness({ riskShards: 2, matchingShards: 1 });
    const LENDER33 = 33;
    const BORROWER18 = 18;
    expect([riskShardOf(LENDER33, 2), riskShardOf(BORROWER18, 2)]).toEqual([0, 1]);
    h.deposit(LENDER33, USDC, 80n * USDC_UNIT);
    expect(accepted(h.pool(CommandKind.Lend, LENDER33, USDC, 80n * USDC_UNIT))).toBe(true);
    h.deposit(BORROWER18, SOL, 100n * SOL_UNIT);
    // Room below the throttle: ceil(0.9 × 80,000,000) − 1 = 71,999,999; each shard's share ⌊/2⌋.
    for (const r of h.engine.risk) expect(r.pools.budget[USDC]).toBe(35_999_999n);
    const events = h.batch([
      { kind: CommandKind.Redeem, account: LENDER33, asset: USDC, amount: 0n },
      { kind: CommandKind.Withdraw, account: BORROWER18, asset: USDC, amount: 30n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
    ]);
    // Redeem-all takes 80,000,000 + 1 > 35,999,999: refused; the borrow (30,000,000 + entry fee 0 at U = 0 + 1) fits.
    expect(rejects(events)).toEqual(["MaxUtilization"]);
    expect(h.slots(LENDER33, USDC)).toEqual({ available: 0n, locked: 0n, lent: 80n * USDC_UNIT, borrowed: 0n });
    expect(h.slots(BORROWER18, USDC)).toEqual({ available: 0n, locked: 0n, lent: 0n, borrowed: 30n * USDC_UNIT });
    const expectPool = (cash: bigint, borrowed: bigint, budget: bigint): void => {
      for (const r of h.engine.risk) {
        const p = r.pools.pools[USDC]!;
        expect([p.cash, p.totalBorrowed, r.pools.budget[USDC]]).toEqual([cash, borrowed, budget]);
        expect(validatePoolState(p)).toBeNull();
        expect(p.totalBorrowed * RATIO_SCALE < p.config.throttleUtilizationThreshold * p.totalLent).toBe(true);
      }
      expect(h.engine.risk[1]!.pools.hashText()).toBe(h.engine.risk[0]!.pools.hashText());
    };
    // Before the fix: cash 80 − 80 − 30 = −30 USDC on the merged replicas.
    expectPool(50n * USDC_UNIT, 30n * USDC_UNIT, (71_999_999n - 30_000_000n) / 2n);
    // The auto-redeem of a plain withdrawal is held to the same share: 40,000,001 > 20,999,999; the borrow fits.
    const second = h.batch([
      { kind: CommandKind.Withdraw, account: LENDER33, asset: USDC, amount: 40n * USDC_UNIT },
      { kind: CommandKind.Withdraw, account: BORROWER18, asset: USDC, amount: 20n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
    ]);
    expect(rejects(second)).toEqual(["MaxUtilization"]);
    expect(h.slots(LENDER33, USDC).lent).toBe(80n * USDC_UNIT);
    expectPool(30n * USDC_UNIT, 50n * USDC_UNIT, (71_999_999n - 50_000_000n) / 2n);
    // Within the shares (10,000,001 ≤ 10,999,999 each) a redemption and a borrow go through side by side.
    const third = h.batch([
      { kind: CommandKind.Redeem, account: LENDER33, asset: USDC, amount: 10n * USDC_UNIT },
      { kind: CommandKind.Borrow, account: BORROWER18, asset: USDC, amount: 10n * USDC_UNIT },
    ]);
    expect(rejects(third)).toEqual([]);
    expect(h.slots(LENDER33, USDC)).toEqual({ available: 10n * USDC_UNIT, locked: 0n, lent: 70n * USDC_UNIT, borrowed: 0n });
    expect(h.slots(BORROWER18, USDC).available).toBe(10n * USDC_UNIT);
    expect(h.poolOf(USDC).cash).toBe(10n * USDC_UNIT);
  });

  it("L7: L13: random borrows, redemptions and margin orders from two shards in random batches: U stays below the throttle, replicas agree", () => {
    const step = fc.record({
      who: fc.constantFrom(ALICE, BOB, CAROL, 80),
      what: fc.constantFrom("borrow", "redeem", "repay", "time"),
      amount: fc.integer({ min: 1, max: 3_000 }),
    });
    let checked = 0;
    fc.assert(
      fc.property(fc.array(fc.array(step, { minLength: 1, maxLength: 6 }), { minLength: 5, maxLength: 25 }), (batches) => {
        const h = new Harness({ riskShards: 2, matchingShards: 1 });
        for (const lender of [ALICE, BOB, CAROL, 80]) {
          h.deposit(lender + 1, USDC, 3_000n * USDC_UNIT);
          h.pool(CommandKind.Lend, lender + 1, USDC, 3_000n * USDC_UNIT);
          h.deposit(lender, SOL, 1_000n * SOL_UNIT);
        }
        let t = T0;
        for (const b of batches) {
          const cmds: Partial<CommandRecord>[] = [];
          for (const s of b) {
            const amount = BigInt(s.amount) * USDC_UNIT;
            if (s.what === "borrow") cmds.push({ kind: CommandKind.Borrow, account: s.who, asset: USDC, amount });
            else if (s.what === "redeem") cmds.push({ kind: CommandKind.Redeem, account: s.who + 1, asset: USDC, amount });
            else if (s.what === "repay") cmds.push({ kind: CommandKind.Repay, account: s.who, asset: USDC, amount: 0n });
            else cmds.push({ kind: CommandKind.AdvanceTime, timeMs: (t += 40 * 60_000) });
          }
          const p = h.engine.risk[0]!.pools.pools[USDC]!;
          const sharesBefore = p.borrowShares;
          const lendBefore = p.lendShares;
          h.batch(cmds);
          expect(h.engine.risk[1]!.pools.hashText()).toBe(h.engine.risk[0]!.pools.hashText());
          // Interest may grow debts past the line at an hour mark; borrows and redemptions never take U to it.
          const tookLiquidity = p.borrowShares > sharesBefore || p.lendShares < lendBefore;
          if (tookLiquidity && !b.some((s) => s.what === "time")) {
            expect(p.totalBorrowed * RATIO_SCALE < p.config.throttleUtilizationThreshold * p.totalLent).toBe(true);
            checked++;
          }
        }
      }),
      { numRuns: 30, seed: 7 },
    );
    expect(checked).toBeGreaterThan(30);
  });
});
