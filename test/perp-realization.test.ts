// P5 realization every 10 s of engine time (engine.ts decision D2(c), risk/realization.ts): each risk shard realizes
// its own positions at the batch's marks through the P6/P7 USDC waterfall — Settlement rows (reason Realization), the
// USDC Balance, the Position — the entry resets to the mark, the size stays, pnlRealized grows, and the shard's
// insurance slice is the counterparty (D4). The seeds' examples (002, 004) with exact amounts, autoRealizePnl, and
// the same events and state in-process and threaded, 1 × 1 and 2 × 2, and across a snapshot.
import { afterEach, describe, expect, it } from "vitest";
import { ACCOUNT_SETTING_VALUE_SHIFT, AccountSetting, CommandKind, InsuranceReason, CommandRecord, EventKind, EventRecord, OracleQuoteFlag, OrderType, Side, TimeInForce } from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { crossesRealizationMark } from "../engine/perps/index.ts";
import { riskShardOf, SettlementReason, SettlementStep, type RiskShard } from "../engine/risk/index.ts";
import { InterestKind } from "../engine/lending/index.ts";

const config = loadConfig();
const USDC = 0;
const USDT = 1;
const BTC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const PRICE = 1_000_000_000n; // PRICE_DECIMALS = 9
const T0 = 1_767_225_600_000; // 2026-01-01 00:00 UTC: an hour and a 10 s mark
const HOUR = 3_600_000;
const EARNED_HOUR_1 = 42_592n; // L5: the hour priced at the utilization of the boundary before the batch that crosses it (42,593 when the funding redeemed in that batch raised it first)
const FUNDING_HOUR_1 = 939_063n;
const FUNDING_HOUR_1B = 935_938n;
const OWED_BEFORE_HOUR = 1_600_000_000n;
const PAID_HOUR_1 = 4_606n;
const ALICE = 16; // user 1: risk shard 1 of 2
const BOB = 32; // user 2: risk shard 0 of 2
const CAROL = 48; // user 3: risk shard 1 of 2
const LENDER = 64; // user 4: risk shard 0 of 2

const usdc = (n: number): bigint => BigInt(n) * USDC_UNIT;
const btc = (tenThousandths: number): bigint => BigInt(tenThousandths) * (BTC_UNIT / 10_000n);
const price = (n: number): bigint => BigInt(n) * PRICE;
const setting = (bit: number, on: boolean): number => bit | (on ? bit << ACCOUNT_SETTING_VALUE_SHIFT : 0);

function copy(e: EventRecord): EventRecord {
  const c = new EventRecord();
  c.copyFrom(e);
  return c;
}

const quote = (source: number, p: bigint, t: number): Partial<CommandRecord> => ({
  kind: CommandKind.OracleQuote, asset: BTC, oracleSource: source, bid: p, ask: p, last: p, sourceTimeMs: t, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
});
/** The BTC index (and so, with an empty book, the BTC perp's mark: P3 (b)) moves to p at engine time t. */
const marks = (p: bigint, t: number): Partial<CommandRecord>[] => [{ kind: CommandKind.AdvanceTime, timeMs: t }, ...[0, 1, 2].map((s) => quote(s, p, t))];

class Harness {
  readonly engine: Engine;
  seq = 0;
  /** Copies of every batch processed, for a replay. */
  readonly log: CommandRecord[][] = [];

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    this.engine = new Engine(config, topology);
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 }, ...[0, 1, 2].map((s) => quote(s, price(60_000), T0))]);
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    this.log.push(cmds.map((c) => Object.assign(new CommandRecord(), c)));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, { publish: (e) => got.push(copy(e)) });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  run(fields: Partial<CommandRecord>): EventRecord[] {
    return this.batch([fields]);
  }

  risk(account: number): RiskShard {
    return this.engine.risk[riskShardOf(account, this.engine.risk.length)]!;
  }

  order(account: number, market: number, side: number, p: number, quantity: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.PlaceOrder, account, market, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: price(p), quantity });
  }

  /** `buyer` takes `qty` BTC perp (ten-thousandths) from `seller`'s resting order at `p`. */
  cross(buyer: number, seller: number, p: number, qty: number): void {
    this.order(seller, BTC_PERP, Side.Sell, p, btc(qty));
    const fills = this.order(buyer, BTC_PERP, Side.Buy, p, btc(qty)).filter((e) => e.kind === EventKind.Fill);
    expect(fills.length).toBeGreaterThan(0);
  }

  lendPool(amount: bigint): void {
    this.run({ kind: CommandKind.Deposit, account: LENDER, asset: USDC, amount });
    this.run({ kind: CommandKind.Lend, account: LENDER, asset: USDC, amount });
  }

  slots(account: number, asset = USDC): { available: bigint; lent: bigint; borrowed: bigint } {
    const r = this.risk(account);
    return { available: r.balance(account, asset).available, ...r.poolBalance(account, asset) };
  }

  position(account: number): [bigint, bigint, bigint, bigint] {
    const p = this.risk(account).perpPosition(account, BTC_PERP);
    return [p.netQuantity, p.entryPrice, p.pnlUnrealized, p.pnlRealized];
  }

  insurance(): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.insuranceBalance(USDC), 0n);
  }

  totals(): bigint[] {
    const sums = config.assets.map(() => 0n);
    for (const r of this.engine.risk) r.totals().forEach((t, i) => (sums[i] = sums[i]! + t));
    return sums;
  }
}

/** [reason, step, amount] of the account's Settlement rows among `events`. */
function rows(events: EventRecord[], account: number): [number, number, bigint][] {
  return events.filter((e) => e.kind === EventKind.Settlement && e.account === account).map((e) => [e.settlementReason, e.settlementStep, e.settledAmount]);
}

const rejected = (events: EventRecord[]): boolean => events.some((e) => e.kind === EventKind.CommandRejected);

describe("P5: the 10-second mark", () => {
  it("P5, D2(c): crossesRealizationMark — a batch crosses a mark when its end lies in a later 10 s period than its start", () => {
    const table: [number, number, boolean][] = [
      [0, 9_999, false], [0, 10_000, true], [10_000, 10_000, false], [10_000, 19_999, false], [9_999, 10_000, true],
      [15_000, 35_000, true], [T0, T0 + 9_999, false], [T0 - 1, T0, true], [T0 + 1, T0 + 10_001, true],
    ];
    for (const [from, to, crosses] of table) expect([from, to, crossesRealizationMark(from, to)]).toEqual([from, to, crosses]);
  });
});

describe("P5 realization (risk, D2(c), D4)", () => {
  /** Alice long 10 BTC from Bob at 60,000 (fees: Alice 600 taker, Bob 480 maker); then the mark moves to `to`. */
  function opened(alice: Partial<CommandRecord>[], to: number, topology?: EngineTopology): Harness {
    const h = new Harness(topology);
    h.lendPool(usdc(1_000_000));
    h.batch([...alice, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(100_000) }]);
    h.cross(ALICE, BOB, 60_000, 100_000);
    const moved = h.batch(marks(price(to), T0 + 1_000));
    expect(moved.filter((e) => e.kind === EventKind.Settlement)).toEqual([]); // no 10 s mark crossed yet
    return h;
  }

  it("P5, seed 004: +1,000 USDC of unrealized profit is realized within 10 s and can be withdrawn or spent on spot without closing the position", () => {
    const h = opened([
      { kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: usdc(100_000) },
      { kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(600) }, // exactly the opening fee
    ], 60_100);
    expect(h.slots(ALICE).available).toBe(0n);
    expect(h.position(ALICE)).toEqual([btc(100_000), price(60_000), usdc(1_000), 0n]);
    // Before the 10 s mark the profit is unrealized: a plain withdrawal of it is refused.
    expect(rejected(h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: usdc(400) }))).toBe(true);
    const totalsBefore = h.totals();
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect(rows(tick, ALICE)).toEqual([[SettlementReason.Realization, SettlementStep.ToBalance, usdc(1_000)]]);
    expect(rows(tick, BOB)).toEqual([[SettlementReason.Realization, SettlementStep.FromBalance, usdc(1_000)]]);
    // Per account, in account-id order: its Settlement rows, its USDC Balance, its Position — all seq 0.
    expect(tick.filter((e) => e.account === ALICE || e.account === BOB).map((e) => [e.kind, e.account, e.seq])).toEqual([
      [EventKind.Settlement, ALICE, 0], [EventKind.Balance, ALICE, 0], [EventKind.Position, ALICE, 0],
      [EventKind.Settlement, BOB, 0], [EventKind.Balance, BOB, 0], [EventKind.Position, BOB, 0],
    ]);
    const pos = tick.find((e) => e.kind === EventKind.Position && e.account === ALICE)!;
    expect([pos.netQuantity, pos.entryPrice, pos.pnlUnrealized, pos.pnlRealized]).toEqual([btc(100_000), price(60_100), 0n, usdc(1_000)]);
    expect(h.position(ALICE)).toEqual([btc(100_000), price(60_100), 0n, usdc(1_000)]);
    expect(h.position(BOB)).toEqual([-btc(100_000), price(60_100), 0n, -usdc(1_000)]);
    expect([h.slots(ALICE).available, h.slots(BOB).available]).toEqual([usdc(1_000), usdc(100_000 - 480 - 1_000)]);
    expect(h.insurance()).toBe(0n);
    expect(h.totals()).toEqual(totalsBefore); // X1: realization moved USDC, created none
    // The realized USDC is spendable while the 10 BTC position stays open: 400 withdrawn, 600 buy 0.01 BTC spot.
    expect(rejected(h.run({ kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: usdc(400) }))).toBe(false);
    h.run({ kind: CommandKind.Deposit, account: CAROL, asset: BTC, amount: btc(100) });
    h.order(CAROL, BTC_USDC, Side.Sell, 60_000, btc(100));
    const spot = h.order(ALICE, BTC_USDC, Side.Buy, 60_000, btc(100));
    expect(spot.filter((e) => e.kind === EventKind.Fill).map((e) => e.quantity)).toEqual([btc(100)]);
    expect(h.slots(ALICE).available).toBe(0n);
    expect(h.slots(ALICE, BTC).available).toBe(btc(100) - 1_000n); // less the 10 bps taker fee in BTC (S5)
    expect(h.position(ALICE)).toEqual([btc(100_000), price(60_100), 0n, usdc(1_000)]);
    expect(h.slots(ALICE, USDT).available).toBe(usdc(100_000));
  });

  it("P5, P7, seed 004: with autoLend on, realized profit is lent and still counts fully as collateral", () => {
    const h = opened([
      { kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(100_000) },
      { kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoLend, true) },
    ], 60_100);
    // The opening fee came from the lent USDC (P6 (1)); the rest stays lent.
    expect(h.slots(ALICE)).toEqual({ available: 0n, lent: usdc(99_400), borrowed: 0n });
    const before = h.risk(ALICE).collateralStatement(ALICE);
    expect(before.unrealizedPnlUsd).toBe(price(1_000));
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect(rows(tick, ALICE)).toEqual([[SettlementReason.Realization, SettlementStep.Lend, usdc(1_000)]]);
    expect(h.slots(ALICE)).toEqual({ available: 0n, lent: usdc(100_400), borrowed: 0n });
    const after = h.risk(ALICE).collateralStatement(ALICE);
    // The 1,000 USD left unrealized PnL and arrived as lent USDC at weight 1: net equity and collateral unchanged.
    expect(after.unrealizedPnlUsd).toBe(0n);
    expect(after.netEquityUsd).toBe(before.netEquityUsd);
    expect(after.collateralValueUsd - before.collateralValueUsd).toBe(price(1_000));
  });

  it("P5, P7: with autoLend on, realized profit first repays the USDC borrow its fee made, then is lent", () => {
    const h = opened([
      { kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: usdc(100_000) },
      { kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoLend, true) },
    ], 60_100);
    const owed = h.slots(ALICE).borrowed;
    expect(owed).toBeGreaterThanOrEqual(usdc(600)); // the 600 fee borrowed, with its L6 opening fee
    expect(owed).toBeLessThan(usdc(601));
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect(rows(tick, ALICE)).toEqual([
      [SettlementReason.Realization, SettlementStep.RepayBorrow, owed],
      [SettlementReason.Realization, SettlementStep.Lend, usdc(1_000) - owed],
    ]);
    expect(h.slots(ALICE)).toEqual({ available: 0n, lent: usdc(1_000) - owed, borrowed: 0n });
    expect(h.slots(ALICE, USDT)).toEqual({ available: 0n, lent: usdc(100_000), borrowed: 0n }); // autoLend lent it; untouched
  });

  it("P5, P6, seed 002: a USDT-only account's losses become a USDC borrow while the USDT stays untouched", () => {
    const h = opened([{ kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: usdc(100_000) }], 59_900);
    const feeBorrow = h.slots(ALICE).borrowed; // the 600 USDC opening fee, borrowed (seed 002)
    expect(h.position(ALICE)).toEqual([btc(100_000), price(60_000), -usdc(1_000), 0n]);
    const totalsBefore = h.totals();
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect(rows(tick, ALICE)).toEqual([[SettlementReason.Realization, SettlementStep.Borrow, usdc(1_000)]]);
    expect(rows(tick, BOB)).toEqual([[SettlementReason.Realization, SettlementStep.ToBalance, usdc(1_000)]]);
    const slots = h.slots(ALICE);
    expect(slots.available).toBe(0n);
    // 1,000 borrowed, plus the L6 opening fee of that borrow (interest to the next hour mark, 3,590 s away).
    expect(slots.borrowed - feeBorrow).toBeGreaterThanOrEqual(usdc(1_000));
    expect(slots.borrowed - feeBorrow).toBeLessThan(usdc(1_001));
    expect(h.slots(ALICE, USDT).available).toBe(usdc(100_000));
    expect(h.position(ALICE)).toEqual([btc(100_000), price(59_900), 0n, -usdc(1_000)]);
    expect(h.slots(BOB).available).toBe(usdc(100_000 - 480 + 1_000));
    expect(h.insurance()).toBe(0n);
    expect(h.totals()).toEqual(totalsBefore);
  });

  it("P5, D4: the floor of each realization stays with the exchange: Σ realized ≤ 0 and the insurance fund holds exactly −Σ", () => {
    const h = new Harness();
    h.batch([ALICE, BOB, CAROL].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: usdc(1_000) })));
    h.cross(ALICE, BOB, 60_000, 1); // Alice long 0.0001 from Bob
    h.cross(ALICE, CAROL, 60_000, 2); // and 0.0002 from Carol
    const totalsBefore = h.totals();
    // At mark 60,000.0123 the exact PnL is +0.00000369, −0.00000123 and −0.00000246 USDC: floors 3, −2, −3 units.
    h.batch(marks(60_000_012_300_000n, T0 + 1_000));
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect([rows(tick, ALICE), rows(tick, BOB), rows(tick, CAROL)]).toEqual([
      [[SettlementReason.Realization, SettlementStep.ToBalance, 3n]],
      [[SettlementReason.Realization, SettlementStep.FromBalance, 2n]],
      [[SettlementReason.Realization, SettlementStep.FromBalance, 3n]],
    ]);
    expect(h.insurance()).toBe(2n);
    expect(h.totals()).toEqual(totalsBefore);
    // Q6: the fund's history has the tick's row (reason RealizedPnl: Σ over the accounts' realizations, negated).
    const entries = h.run({ kind: CommandKind.QueryInsuranceHistory, asset: USDC }).filter((e) => e.kind === EventKind.InsuranceEntry);
    expect(entries.map((e) => [e.insuranceReason, e.insuranceChange, e.insuranceBalance, e.timeMs])).toEqual([[InsuranceReason.RealizedPnl, 2n, 2n, T0 + 10_000]]);
    for (const a of [ALICE, BOB, CAROL]) expect(h.position(a)[1]).toBe(60_000_012_300_000n); // entry = the mark
  });

  it("P5: a gain under one USDC unit realizes 0: the entry still moves to the mark and only the Position is published; the short's loss rounds up to 1 unit", () => {
    const h = new Harness();
    h.batch([ALICE, BOB].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: usdc(1_000) })));
    h.cross(ALICE, BOB, 60_000, 1); // 0.0001 BTC
    h.batch(marks(60_000_001_000_000n, T0 + 1_000)); // +0.001 USD: ±0.1 of a USDC unit
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect(tick.filter((e) => e.account === ALICE).map((e) => [e.kind, e.entryPrice, e.pnlRealized])).toEqual([[EventKind.Position, 60_000_001_000_000n, 0n]]);
    expect(rows(tick, BOB)).toEqual([[SettlementReason.Realization, SettlementStep.FromBalance, 1n]]);
    expect(h.insurance()).toBe(1n);
  });

  it("P5: a batch that crosses no 10 s mark realizes nothing; one that jumps several marks realizes once", () => {
    const h = opened([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(100_000) }], 60_100);
    expect(h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 9_999 }]).filter((e) => e.kind === EventKind.Settlement)).toEqual([]);
    const jump = h.batch(marks(price(60_050), T0 + 35_000));
    expect([rows(jump, ALICE), rows(jump, BOB)]).toEqual([
      [[SettlementReason.Realization, SettlementStep.ToBalance, usdc(500)]],
      [[SettlementReason.Realization, SettlementStep.FromBalance, usdc(500)]],
    ]);
    // The mark did not move since: the next mark realizes nothing and publishes nothing.
    expect(h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 40_000 }]).filter((e) => e.account === ALICE || e.account === BOB)).toEqual([]);
  });

  /** L14: the account's interest rows at hour marks from T0 on (kind, amount), and the USDC pool's hour rows. */
  function hourRows(h: Harness, account: number): [number, number, bigint][] {
    return h.risk(account).interestHistory(account, USDC, T0 + 1, 100).map((x) => [x.timeMs - T0, x.kind, x.amount]);
  }

  /** Carol borrows 200,000 USDC against 10 BTC, so the USDC pool pays interest. */
  const carolBorrows: Partial<CommandRecord>[] = [
    { kind: CommandKind.Deposit, account: CAROL, asset: BTC, amount: 10n * BTC_UNIT },
    { kind: CommandKind.Borrow, account: CAROL, asset: USDC, amount: usdc(200_000) },
  ];

  it("L14, P5, P7: realized profit lent while its position is open earns UnrealizedPositivePnl; once it closes, the lend earns Lend", () => {
    const h = opened([
      { kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(100_000) },
      { kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoLend, true) },
      ...carolBorrows,
    ], 60_100);
    expect(h.slots(CAROL).borrowed).toBe(usdc(200_000));
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect(h.slots(ALICE)).toEqual({ available: 0n, lent: usdc(100_400), borrowed: 0n });
    // The hour mark, the quotes kept fresh at the same price; the long's funding payment at the interval end is
    // redeemed from the lend, so the interest earned is the lend's growth plus it.
    const hour = h.batch(marks(price(60_100), T0 + HOUR + 1));
    const funding = rows(hour, ALICE).filter(([reason]) => reason === SettlementReason.Funding).reduce((sum, [, , amount]) => sum + amount, 0n);
    expect(funding).toBe(FUNDING_HOUR_1);
    const earned = h.slots(ALICE).lent - usdc(100_400) + funding;
    // The hour's interest on the lent USDC in force at the accrual (100,400 less the funding, paid first at the
    // interval end), split by the 1,000 of it that the open long's realized PnL makes up: floor(earned × 1,000 /
    // lent) as UnrealizedPositivePnl, the rest as Lend.
    const onPnl = (earned * usdc(1_000)) / (usdc(100_400) - funding);
    expect(earned).toBe(EARNED_HOUR_1);
    expect(hourRows(h, ALICE)).toEqual([
      [HOUR, InterestKind.Lend, EARNED_HOUR_1 - onPnl],
      [HOUR, InterestKind.UnrealizedPositivePnl, onPnl],
    ]);
    // Alice closes at the mark, her 480.8 USDC maker fee paid from a fresh deposit kept in her balance (auto-lend off),
    // so her lend does not change: the close itself tells the log that the PnL is no longer of an open position, and
    // the next hour is all Lend.
    h.batch([
      { kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoLend, false) },
      { kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(1_000) },
      { kind: CommandKind.Deposit, account: CAROL, asset: USDC, amount: usdc(1_000_000) },
    ]);
    const lentBeforeClose = h.slots(ALICE).lent;
    h.cross(CAROL, ALICE, 60_100, 100_000);
    const lentAfterClose = h.slots(ALICE).lent;
    expect([lentAfterClose - lentBeforeClose, h.slots(ALICE).available]).toEqual([0n, usdc(1_000) - 480_800_000n]);
    h.batch(marks(price(60_100), T0 + 2 * HOUR + 1));
    const rows2 = hourRows(h, ALICE).filter(([t]) => t === 2 * HOUR);
    expect(rows2).toEqual([[2 * HOUR, InterestKind.Lend, h.slots(ALICE).lent - lentAfterClose]]);
    // X7: the log's open PnL survives a snapshot: the restored engine answers the same history.
    const restored = Engine.fromSnapshot(config, h.engine.snapshot());
    expect(restored.risk[0]!.interestHistory(ALICE, USDC, T0 + 1, 100)).toEqual(h.risk(ALICE).interestHistory(ALICE, USDC, T0 + 1, 100));
  });

  it("L14, P6, seed 002: a USDC borrow that a loss of an open position made pays UnrealizedNegativePnl on that part, Borrow on the fee's", () => {
    const h = opened([{ kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: usdc(100_000) }, ...carolBorrows], 59_900);
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    const owed = h.slots(ALICE).borrowed; // the 600 fee and the 1,000 loss, each with its L6 opening fee
    const hour = h.batch(marks(price(59_900), T0 + HOUR + 1));
    const funding = rows(hour, ALICE).filter(([reason]) => reason === SettlementReason.Funding).reduce((sum, [, , amount]) => sum + amount, 0n);
    expect(funding).toBe(FUNDING_HOUR_1B);
    const paid = h.slots(ALICE).borrowed - owed - funding; // the funding payment is borrowed too
    const onPnl = (paid * usdc(1_000)) / (owed + funding); // the debt in force at the accrual: funding is paid first
    expect([owed, paid]).toEqual([OWED_BEFORE_HOUR, PAID_HOUR_1]);
    expect(hourRows(h, ALICE).filter(([t]) => t === HOUR)).toEqual([
      [HOUR, InterestKind.Borrow, PAID_HOUR_1 - onPnl],
      [HOUR, InterestKind.UnrealizedNegativePnl, onPnl],
    ]);
  });

  it("L14: changes between two hour marks share one log entry, so two hours of 10 s realizations (720 lends) keep the first hour's history", () => {
    const h = opened([
      { kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(100_000) },
      { kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoLend, true) },
    ], 60_100);
    // The mark rises 1 USD every 10 s: each tick realizes +10 USDC and lends it (720 lend changes).
    for (let k = 1; k <= 720; k++) h.batch(marks(price(60_100 + k), T0 + k * 10_000));
    h.batch(marks(price(60_820), T0 + 2 * HOUR + 1));
    const kinds = hourRows(h, ALICE).map(([t, kind]) => [t, kind]);
    expect(kinds).toEqual([
      [HOUR, InterestKind.Lend], [HOUR, InterestKind.UnrealizedPositivePnl],
      [2 * HOUR, InterestKind.Lend], [2 * HOUR, InterestKind.UnrealizedPositivePnl],
    ]);
  });
});

describe("P5 autoRealizePnl", () => {
  it("P5: with autoRealizePnl on, a gain is realized at the mark update itself; a loss waits for the 10 s mark", () => {
    const h = new Harness();
    h.batch([
      { kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(100_000) },
      { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(100_000) },
      { kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoRealizePnl, true) },
    ]);
    h.cross(ALICE, BOB, 60_000, 100_000);
    const up = h.batch(marks(price(60_100), T0 + 1_000));
    expect(rows(up, ALICE)).toEqual([[SettlementReason.Realization, SettlementStep.ToBalance, usdc(1_000)]]);
    expect(rows(up, BOB)).toEqual([]); // Bob's setting is off (A3 default)
    expect(h.insurance()).toBe(-usdc(1_000)); // the fund waits for Bob's side
    const tick = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 10_000 }]);
    expect([rows(tick, ALICE), rows(tick, BOB)]).toEqual([[], [[SettlementReason.Realization, SettlementStep.FromBalance, usdc(1_000)]]]);
    expect(h.insurance()).toBe(0n);
    const down = h.batch(marks(price(60_000), T0 + 11_000));
    expect(rows(down, ALICE)).toEqual([]); // a loss is not realized early
    expect(h.position(ALICE)).toEqual([btc(100_000), price(60_100), -usdc(1_000), usdc(1_000)]);
    h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoRealizePnl, false) });
    expect(rows(h.batch(marks(price(60_120), T0 + 12_000)), ALICE)).toEqual([]); // off again: gains wait too
    // X7: the setting (and so the list of autoRealizePnl accounts) survives a snapshot.
    h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: setting(AccountSetting.AutoRealizePnl, true) });
    const restored = Engine.fromSnapshot(config, h.engine.snapshot());
    expect(restored.stateHash()).toBe(h.engine.stateHash());
    const again: EventRecord[] = [];
    const cmds = marks(price(60_130), T0 + 13_000).map((f, i) => Object.assign(new CommandRecord(), f, { seq: h.seq + 1 + i }));
    restored.processBatch(cmds, cmds.length, { publish: (e) => again.push(copy(e)) });
    expect(rows(again, ALICE)).toEqual([[SettlementReason.Realization, SettlementStep.ToBalance, usdc(300)]]);
    // The operator's SetMarkPrice override is a mark update too: on the original engine (entry still 60,100), BTC to
    // 60,150 realizes Alice's +500 at once.
    const override = h.run({ kind: CommandKind.SetMarkPrice, asset: BTC, price: price(60_150) });
    expect(rows(override, ALICE)).toEqual([[SettlementReason.Realization, SettlementStep.ToBalance, usdc(500)]]);
    expect(h.position(ALICE)).toEqual([btc(100_000), price(60_150), 0n, usdc(1_500)]);
  });
});

/** Deterministic scenario: three accounts, marks moving across several 10 s marks, one of them with autoLend. */
function scenario(topology: EngineTopology): Harness {
  const h = new Harness(topology);
  h.lendPool(usdc(500_000));
  h.batch([
    { kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: usdc(100_000) },
    { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(100_000) },
    { kind: CommandKind.Deposit, account: CAROL, asset: USDC, amount: usdc(100_000) },
    { kind: CommandKind.UpdateAccountSettings, account: CAROL, flags: setting(AccountSetting.AutoLend, true) },
  ]);
  h.cross(ALICE, BOB, 60_000, 20_000); // Alice long 2, Bob short 2
  h.cross(CAROL, ALICE, 60_000, 5_000); // Carol long 0.5, Alice long 1.5
  const path = [60_090, 60_150, 60_020, 59_900, 59_950, 60_010];
  path.forEach((p, i) => h.batch(marks(price(p), T0 + 4_000 * (i + 1))));
  return h;
}

describe("P5 across topologies (X4, X7)", () => {
  const running: ThreadedPipeline[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });

  it("P5, D4: 1 × 1 and 2 × 2 risk/matching shards realize the same amounts; each shard's slice is its accounts' counterparty", () => {
    const one = scenario({ riskShards: 1, matchingShards: 1 });
    const two = scenario({ riskShards: 2, matchingShards: 2 });
    for (const a of [ALICE, BOB, CAROL]) {
      expect(two.slots(a)).toEqual(one.slots(a));
      expect(two.risk(a).perpPosition(a, BTC_PERP)).toEqual(one.risk(a).perpPosition(a, BTC_PERP));
    }
    // The last tick (T0 + 20 s) realized at 59,950: every position stands at it, so the fund holds only roundings (0).
    expect(one.position(ALICE)).toEqual([btc(15_000), price(59_950), usdc(90), -usdc(75)]);
    expect(one.position(BOB)).toEqual([-btc(20_000), price(59_950), -usdc(120), usdc(100)]);
    expect(one.insurance()).toBe(0n); // −Σ realized: Alice −75, Bob +100, Carol −25
    expect(two.insurance()).toBe(one.insurance());
    expect(two.totals()).toEqual(one.totals());
    // X1: Σ USDC over every account, the fee account and the insurance slices = the USDC deposited, to the unit.
    expect(one.totals()[USDC]).toBe(usdc(500_000 + 100_000 + 100_000));
    // Shard 0 holds Bob (and the lender), shard 1 Alice and Carol: the slices are the negated realized PnL of each.
    expect(two.engine.risk.map((r) => r.insuranceBalance(USDC))).toEqual([-usdc(100), usdc(100)]);
  });

  for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }]) {
    it(`P5, X4, X7: threaded ${topology.riskShards} × ${topology.matchingShards} gives the in-process events and state hash; a restored snapshot goes on the same`, async () => {
      const h = scenario(topology);
      const text = (e: EventRecord): string => {
        const head = `${e.kind}|${e.seq}|${e.account}|${e.market}`;
        if (e.kind === EventKind.Settlement) return `${head}|${e.asset}|${e.settlementReason}|${e.settlementStep}|${e.settledAmount}`;
        if (e.kind === EventKind.Balance) return `${head}|${e.asset}|${e.available}|${e.locked}|${e.lent}|${e.borrowed}`;
        if (e.kind === EventKind.Position) return `${head}|${e.netQuantity}|${e.entryPrice}|${e.pnlUnrealized}|${e.pnlRealized}|${e.breakEvenPrice}`;
        return head;
      };
      const expected: string[] = [];
      const replay = new Engine(config, topology);
      const batches = h.log;
      for (const b of batches) replay.processBatch(b, b.length, { publish: (e) => expected.push(text(e)) });
      expect(replay.stateHash()).toBe(h.engine.stateHash());
      expect(expected.filter((t) => t.startsWith(`${EventKind.Settlement}|0|`) && t.split("|")[5] === `${SettlementReason.Realization}`).length).toBe(6);
      const got: string[] = [];
      const fatal: string[] = [];
      const p = await ThreadedPipeline.start(config, { onEvent: (e) => got.push(text(e)), onFatal: (m) => fatal.push(m) }, { topology });
      running.push(p);
      let n = 0;
      for (const b of batches) await p.submitBatch(b, b.length, ++n);
      await p.waitForBatch(n);
      expect(fatal).toEqual([]);
      expect(await p.stateHash()).toBe(h.engine.stateHash());
      if (topology.riskShards === 1) expect(got).toEqual(expected);
      else expect([...got].sort()).toEqual([...expected].sort());
      // X7: a snapshot taken between ticks, restored, realizes the next tick exactly as the original.
      const restored = Engine.fromSnapshot(config, h.engine.snapshot());
      const next = marks(price(60_200), T0 + 30_000).map((f, i) => Object.assign(new CommandRecord(), f, { seq: h.seq + 1 + i }));
      const a: string[] = [];
      const b: string[] = [];
      h.engine.processBatch(next, next.length, { publish: (e) => a.push(text(e)) });
      restored.processBatch(next, next.length, { publish: (e) => b.push(text(e)) });
      expect(b).toEqual(a);
      // The index moves at most × 1.0025 per update (P2): 60,010 → 60,160.025, the mark realized at. Alice (+315.0375)
      // repays her 219 USDC borrow (fees 144, −30 repaid, +105 borrowed) and keeps the rest; Bob pays 420.05; Carol's
      // +105.0125 is lent (autoLend).
      const R = SettlementReason.Realization;
      // (With 2 risk shards, shard 0 — Bob's — speaks first: compare in account order.)
      expect(a.filter((t) => t.startsWith(`${EventKind.Settlement}|`)).sort()).toEqual([
        `${EventKind.Settlement}|0|${ALICE}|${BTC_PERP}|${USDC}|${R}|${SettlementStep.RepayBorrow}|219000000`,
        `${EventKind.Settlement}|0|${ALICE}|${BTC_PERP}|${USDC}|${R}|${SettlementStep.ToBalance}|96037500`,
        `${EventKind.Settlement}|0|${BOB}|${BTC_PERP}|${USDC}|${R}|${SettlementStep.FromBalance}|420050000`,
        `${EventKind.Settlement}|0|${CAROL}|${BTC_PERP}|${USDC}|${R}|${SettlementStep.Lend}|105012500`,
      ].sort());
      expect(restored.stateHash()).toBe(h.engine.stateHash());
    }, 120_000);
  }
});
