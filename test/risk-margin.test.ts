// Cross margin and spot trading in the order flow (SPEC C1–C10, S1, S2, S5) through the real risk shard and engine:
// the collateral statement, marks that move, the pre-trade IMR check of every order, the seeds' worked examples with
// exact amounts, the max-order / max-withdrawal answers against the real check (property), and fee tiers by 30-day
// volume. Borrow positions come from the risk shard's lending seam (the lending issue will drive it from pools).
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import {
  AccountSetting,
  ACCOUNT_SETTING_VALUE_SHIFT,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  rejectCodeName,
  Side,
  TimeInForce,
  type EventSink,
} from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { DAY_MS, PoolMovement, RiskShard } from "../engine/risk/index.ts";
import { UNBOUNDED } from "../engine/risk/margin/index.ts";
import { decodeEvent, type EventJson } from "../gateway/client/codec.ts";
import { encodeEvent } from "../gateway/codec/index.ts";

const config = loadConfig();
const USDC = 0;
const USDT = 1;
const BTC = 2;
const ETH = 3;
const SOL = 4;
const BTC_USDC = 0;
const SOL_USDC = 2;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const SOL_UNIT = 1_000_000_000n;
const USD = 1_000_000_000n;
const R = 1_000_000_000_000_000_000n;
const ALICE = 16;
const ALICE_SUB1 = 17;
const BOB = 32;

class Harness {
  readonly engine = new Engine(config);
  private seq = 0;

  run(fields: Partial<CommandRecord>): EventRecord[] {
    const c = Object.assign(new CommandRecord(), fields);
    c.seq = ++this.seq;
    const got: EventRecord[] = [];
    this.engine.execute(c, {
      publish(e: EventRecord): void {
        const copy = new EventRecord();
        copy.copyFrom(e);
        got.push(copy);
      },
    });
    return got;
  }

  get risk(): RiskShard {
    return this.engine.risk[0]!;
  }

  deposit(account: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.Deposit, account, asset, amount });
  }

  withdraw(account: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.Withdraw, account, asset, amount });
  }

  mark(asset: number, priceUsd: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.SetMarkPrice, asset, price: priceUsd });
  }

  limit(account: number, market: number, side: number, price: bigint, quantity: bigint, flags = 0): EventRecord[] {
    return this.run({
      kind: CommandKind.PlaceOrder,
      account,
      market,
      side,
      orderType: OrderType.Limit,
      tif: TimeInForce.GTC,
      price,
      quantity,
      flags,
    });
  }

  /** A short: borrow `qty` of `asset` through the lending seam and withdraw it (a pool's units, once pools lend). */
  short(account: number, asset: number, qty: bigint): void {
    expect(this.risk.applyPoolMovement(account, asset, PoolMovement.Borrow, qty)).toBe(true);
    expect(accepted(this.withdraw(account, asset, qty))).toBe(true);
  }
}

function rejectOf(events: EventRecord[]): [string, string] {
  const r = events.filter((e) => e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected);
  expect(r.length).toBe(1);
  return [rejectCodeName[r[0]!.code]!, r[0]!.message];
}

function accepted(events: EventRecord[]): boolean {
  return events.some((e) => e.kind === EventKind.CommandAccepted || e.kind === EventKind.OrderAccepted);
}

function wire(events: EventRecord[]): EventJson[] {
  return events.map((e) => decodeEvent(encodeEvent(e, 0n, config)));
}

let h: Harness;
beforeEach(() => {
  h = new Harness();
});

describe("the collateral statement (C1–C7)", () => {
  it("C1: C2: the guide's collateral table — assets worth 120,000 USD give 108,656.957612628 USD of collateral after haircuts", () => {
    for (const [asset, qty] of [
      [USDC, 3_600n * USDC_UNIT],
      [USDT, 3_000n * USDC_UNIT],
      [BTC, BTC_UNIT / 10n],
      [ETH, BTC_UNIT],
      [SOL, 696n * SOL_UNIT],
    ] as const) {
      h.deposit(ALICE, asset, qty);
    }
    const s = h.risk.collateralStatement(ALICE);
    expect(s.assets.map((a) => [a.asset, a.notionalUsd, a.weight, a.collateralValueUsd])).toEqual([
      [USDC, 3_600n * USD, R, 3_600n * USD],
      [USDT, 3_000n * USD, 980_000_000_000_000_000n, 2_940n * USD],
      [BTC, 6_000n * USD, 950_000_000_000_000_000n, 5_700n * USD],
      [ETH, 3_000n * USD, 920_000_000_000_000_000n, 2_760n * USD],
      // 104,400 USD of SOL is past its flat region: 1.1 / (1 + 0.0007 × √104400) = 0.897097295…
      [SOL, 104_400n * USD, 897_097_295_140_122_201n, 93_656_957_612_628n],
    ]);
    expect(s.assets.reduce((sum, a) => sum + a.notionalUsd, 0n)).toBe(120_000n * USD);
    expect(s.collateralValueUsd).toBe(108_656_957_612_628n);
    expect(s.netEquityUsd).toBe(108_656_957_612_628n);
    // The same statement on the wire (QueryCollateral → AccountCollateral + one AssetCollateral per asset).
    const [account, ...rows] = wire(h.run({ kind: CommandKind.QueryCollateral, account: ALICE }));
    expect(account).toMatchObject({
      type: "AccountCollateral",
      account: ALICE,
      netEquity: "108656.957612628",
      netEquityAvailable: "108656.957612628",
      netEquityLocked: "0",
      collateralValue: "108656.957612628",
      borrowLiability: "0",
      exposureNotional: "0",
      imf: "0.1",
      mmf: "0",
      marginFraction: "unbounded",
      imr: "0",
      mmr: "0",
      liquidatable: false,
      leverageLimit: 10,
      marginEnabled: true,
      feeTier: 0,
      makerFeeBps: 8,
      takerFeeBps: 10,
      volume30d: "0",
    });
    expect(rows[4]).toMatchObject({
      type: "AssetCollateral",
      asset: SOL,
      quantity: "696",
      available: "696",
      openOrderQuantity: "0",
      lent: "0",
      borrowed: "0",
      markPrice: "150",
      weight: "0.897097295",
      notional: "104400",
      collateralValue: "93656.957612628",
      liability: "0",
    });
  });

  it("C2: units held by open orders stay collateral (available + locked); lent units count at the holding's weight (C1)", () => {
    h.deposit(ALICE, SOL, 696n * SOL_UNIT);
    const before = h.risk.collateralStatement(ALICE).collateralValueUsd;
    expect(accepted(h.limit(ALICE, SOL_USDC, Side.Sell, 200n * USD, 100n * SOL_UNIT))).toBe(true);
    expect(h.risk.applyPoolMovement(ALICE, SOL, PoolMovement.Lend, 96n * SOL_UNIT)).toBe(true);
    const s = h.risk.collateralStatement(ALICE);
    expect(s.assets[0]).toMatchObject({ quantity: 696n * SOL_UNIT, available: 500n * SOL_UNIT, locked: 100n * SOL_UNIT, lent: 96n * SOL_UNIT });
    expect(s.collateralValueUsd).toBe(before);
  });

  it("C3: C4: C6: C7: a borrow is a position — liability, TEN, IMF/MMF, locked and available equity, MF, IMR, MMR exact", () => {
    h.deposit(ALICE, SOL, 10n * SOL_UNIT);
    h.short(ALICE, USDC, 1000n * USDC_UNIT);
    const s = h.risk.collateralStatement(ALICE);
    expect(s.collateralValueUsd).toBe(1350n * USD); // 10 × 150 × 0.9
    expect(s.liabilityUsd).toBe(1000n * USD);
    expect(s.netEquityUsd).toBe(350n * USD); // C3: collateral − liability
    expect(s.exposureUsd).toBe(1000n * USD); // C4: the borrow's notional
    expect(s.imf).toBe(R / 10n); // C5/C6: max(1/10, 0.1, 0.00036 × √1000)
    expect(s.mmf).toBe(R / 20n); // max(0.05, 0.000216 × √1000)
    expect(s.netEquityLockedUsd).toBe(100n * USD);
    expect(s.netEquityAvailableUsd).toBe(250n * USD);
    expect(s.marginFraction).toBe(350_000_000_000_000_000n); // C7: 350 / 1000
    expect(s.imr).toBe(285_714_285_714_285_714n); // 100 / 350, rounded down
    expect(s.mmr).toBe(142_857_142_857_142_857n); // 50 / 350
    expect(s.liquidatable).toBe(false);
    expect(s.assets.map((a) => [a.asset, a.quantity, a.borrowed, a.liabilityUsd])).toEqual([
      [USDC, -1000n * USDC_UNIT, 1000n * USDC_UNIT, 1000n * USD],
      [SOL, 10n * SOL_UNIT, 0n, 0n],
    ]);
  });

  it("C5: a borrow beyond the flat region pays the sqrt IMF: 0.00036 × √100,000 = 0.11384199576612", () => {
    h.deposit(ALICE, USDC, 500_000n * USDC_UNIT);
    h.short(ALICE, USDT, 100_000n * USDC_UNIT);
    const s = h.risk.collateralStatement(ALICE);
    // ⌈√(100000) at 1e-9⌉ = 316.227766017; × 0.00036 rounded up; margin = 100,000 × that.
    expect(s.imf).toBe(113_841_995_766_120_000n);
    expect(s.netEquityLockedUsd).toBe(11_384_199_576_612n);
    // MMF 0.000216 × 316.227766017 = 0.068305197459672 > 0.05; margin 6,830.519745967.2 rounded up, so the
    // account MMF (C6: Σ margin / TEN) is 0.06830519745968.
    expect(s.mmf).toBe(68_305_197_459_680_000n);
  });

  it("C7: with no exposure IMR and MMR are 0 and the margin fraction is unbounded (left out on the wire)", () => {
    h.deposit(ALICE, USDC, 5n * USDC_UNIT);
    const s = h.risk.collateralStatement(ALICE);
    expect([s.imr, s.mmr, s.marginFraction]).toEqual([0n, 0n, UNBOUNDED]);
    const [account] = wire(h.run({ kind: CommandKind.QueryCollateral, account: ALICE }));
    expect(account).toMatchObject({ marginFraction: "unbounded", imr: "0", mmr: "0" });
    // An account never seen: an empty statement with the default settings, and nothing created.
    const [empty, ...rows] = wire(h.run({ kind: CommandKind.QueryCollateral, account: BOB }));
    expect(empty).toMatchObject({ type: "AccountCollateral", account: BOB, netEquity: "0", leverageLimit: 10 });
    expect(rows).toEqual([]);
    expect(h.risk.accountIds()).toEqual([ALICE]);
  });

  it("C: SetMarkPrice moves the mark (privileged, journaled); accounts revalue at once; unknown asset or price ≤ 0 is refused", () => {
    h.deposit(ALICE, SOL, 10n * SOL_UNIT);
    h.short(ALICE, USDC, 1000n * USDC_UNIT);
    expect(h.mark(SOL, 120n * USD).map((e) => e.kind)).toEqual([EventKind.CommandAccepted]);
    expect(h.risk.markOf(SOL)).toBe(120n * USD);
    const s = h.risk.collateralStatement(ALICE);
    expect(s.collateralValueUsd).toBe(1080n * USD); // 10 × 120 × 0.9
    expect(s.netEquityUsd).toBe(80n * USD);
    expect(s.imr).toBe(1_250_000_000_000_000_000n); // 100 / 80
    expect(rejectOf(h.mark(99, USD))[0]).toBe("UnknownAsset");
    expect(rejectOf(h.mark(SOL, 0n))[0]).toBe("InvalidPrice");
    expect(h.risk.markOf(SOL)).toBe(120n * USD);
  });

  it("C9: a mark move that takes MMR to 100% puts the account in liquidation range (reported; liquidation is Q)", () => {
    h.deposit(ALICE, SOL, 10n * SOL_UNIT);
    h.short(ALICE, USDC, 1000n * USDC_UNIT);
    h.mark(SOL, 117n * USD); // collateral 1053 → NE 53, MM 50: MMR 94%
    expect(h.risk.collateralStatement(ALICE).liquidatable).toBe(false);
    h.mark(SOL, 116_666_666_667n); // collateral 1050.000000003 → NE 50.000000003: MMR just below 100%
    expect(h.risk.collateralStatement(ALICE).liquidatable).toBe(false);
    h.mark(SOL, 116_666_666_666n); // collateral 1049.999999994 → NE 49.999999994 ≤ MM 50
    const s = h.risk.collateralStatement(ALICE);
    expect(s.liquidatable).toBe(true);
    expect(s.mmr).toBe(1_000_000_000_120_000_000n); // 50 / 49.999999994, rounded down
    const [account] = wire(h.run({ kind: CommandKind.QueryCollateral, account: ALICE }));
    // On the wire ratios are at 1e-9, rounded down: 1.00000000012 reads 1 — and liquidatable says which side it is.
    expect(account).toMatchObject({ liquidatable: true, mmr: "1" });
  });
});

describe("C8: the pre-trade IMR check of every risk-increasing action", () => {
  /** 3,000 USDC against a 10 SOL short at 270: liability 2,700, IM 270, NE 300 → IMR 90%. */
  function nearTheEdge(): void {
    h.deposit(ALICE, USDC, 3000n * USDC_UNIT);
    h.short(ALICE, SOL, 10n * SOL_UNIT);
    h.mark(SOL, 270n * USD);
    expect(h.risk.collateralStatement(ALICE).imr).toBe(900_000_000_000_000_000n);
  }

  it("C8: S1: a fully funded plain order that would leave IMR ≥ 100% is refused with INSUFFICIENT_MARGIN and holds nothing", () => {
    nearTheEdge();
    // 0.048 BTC for 2,880 USDC: the collateral turns into BTC at weight 0.95 (−144 USD) and pays the fee in BTC.
    const before = h.engine.stateHash();
    expect(rejectOf(h.limit(ALICE, BTC_USDC, Side.Buy, 60_000n * USD, 4_800_000n))).toEqual([
      "InsufficientMargin",
      "order would leave the initial margin ratio at 176.16% (must stay below 100%, C8)",
    ]);
    expect(h.engine.stateHash()).toBe(before);
    // A small one keeps IMR below 100% and is accepted (funded, so it holds its cost: S1).
    expect(accepted(h.limit(ALICE, BTC_USDC, Side.Buy, 60_000n * USD, 100_000n))).toBe(true);
    expect(h.risk.balance(ALICE, USDC)).toEqual({ available: 2940n * USDC_UNIT, locked: 60n * USDC_UNIT });
  });

  it("C8: at IMR ≥ 100% risk-increasing actions are refused, an order that only reduces risk is accepted", () => {
    nearTheEdge();
    // liability 2,800, IM 280, NE 200: IMR 140% — but MM 140 < NE, MMR 70%: not liquidating (at 290 the account would be,
    // C9, and its risk-increasing commands would be refused as AccountLiquidating instead: liquidation-trigger.test.ts).
    h.mark(SOL, 280n * USD);
    expect(rejectOf(h.withdraw(ALICE, USDC, 1n))[0]).toBe("InsufficientMargin");
    expect(rejectOf(h.limit(ALICE, BTC_USDC, Side.Buy, 60_000n * USD, 1_000n))[0]).toBe("InsufficientMargin");
    // A plain buy of 1 SOL does not repay (its proceeds are held: auto-lend is off, no margin flag, S3/L10): the
    // borrow stays and 290 USDC become 1 SOL (252 USD at weight 0.9) — worse, refused.
    expect(rejectOf(h.limit(ALICE, SOL_USDC, Side.Buy, 290n * USD, SOL_UNIT))[0]).toBe("InsufficientMargin");
    // With the margin flag its proceeds repay the borrow (S3): IMR after ≈ 133% — still ≥ 100%, but not worse: allowed.
    expect(accepted(h.limit(ALICE, SOL_USDC, Side.Buy, 290n * USD, SOL_UNIT, OrderFlag.AutoBorrowRepay))).toBe(true);
  });
});

describe("C10 and S2: the spot-margin seed (100 USDC at 10× cannot buy 1,000 USDC of SOL)", () => {
  beforeEach(() => {
    h.deposit(ALICE, USDC, 100n * USDC_UNIT);
  });

  it("C10: the max order answer — 0.66 SOL can be bought now, the margin check alone allows 3.65 SOL (549 USDC at 0 fee: 3.66)", () => {
    const [answer] = wire(h.run({ kind: CommandKind.QueryMaxOrder, account: ALICE, market: SOL_USDC, side: Side.Buy, price: 150n * USD, flags: OrderFlag.AutoBorrow }));
    expect(answer).toMatchObject({ type: "MaxOrderQuantity", account: ALICE, market: SOL_USDC, side: "Buy", price: "150", quantity: "0.66", marginLimit: "3.65" });
    // The margin limit does not depend on the flags; what is accepted now does not either while nothing can be borrowed.
    expect(h.risk.maxOrderQuantity(ALICE, SOL_USDC, Side.Buy, 150n * USD, 0)).toEqual({ quantity: 660_000_000n, marginLimit: 3_650_000_000n });
  });

  it("C10: S2: 1,000 USDC of SOL (6.66) and 3.66 SOL are refused by margin; 3.65 passes it and would borrow; 0.66 is funded and rests", () => {
    const buy = (q: bigint, flags: number): EventRecord[] => h.limit(ALICE, SOL_USDC, Side.Buy, 150n * USD, q, flags);
    expect(rejectOf(buy(6_660_000_000n, OrderFlag.AutoBorrow))).toEqual([
      "InsufficientMargin",
      "order would leave the initial margin ratio at unbounded (net equity <= 0) (must stay below 100%, C8)",
    ]);
    expect(rejectOf(buy(3_660_000_000n, OrderFlag.AutoBorrow))).toEqual([
      "InsufficientMargin",
      "order would leave the initial margin ratio at 100.65% (must stay below 100%, C8)",
    ]);
    expect(rejectOf(buy(3_650_000_000n, OrderFlag.AutoBorrow))).toEqual([
      "BorrowUnavailable",
      "buy needs 547.5 USDC, own 100 USDC: the USDC pool cannot lend the shortfall now (nothing lent, or not enough)",
    ]);
    // Without autoBorrow the balance is the first reason (S1).
    expect(rejectOf(buy(670_000_000n, 0))).toEqual(["InsufficientBalance", "insufficient USDC to buy: needs 100.5, available 100"]);
    expect(rejectOf(buy(670_000_000n, OrderFlag.AutoLend))[0]).toBe("InsufficientBalance");
    const ok = buy(660_000_000n, OrderFlag.AutoBorrow);
    expect(accepted(ok)).toBe(true);
    // S2 now: an accepted margin order holds what it spends, like a plain one (no borrow until pools lend).
    expect(h.risk.balance(ALICE, USDC)).toEqual({ available: 1n * USDC_UNIT, locked: 99n * USDC_UNIT });
  });

  it("O2: S1: a cancel-replace publishes one Balance of the held asset, after the old hold came back (never the double hold)", () => {
    const placed = h.limit(ALICE, SOL_USDC, Side.Buy, 140n * USD, 200_000_000n);
    const orderId = placed.find((e) => e.kind === EventKind.OrderAccepted)!.orderId;
    const events = h.run({ kind: CommandKind.ReplaceOrder, account: ALICE, market: SOL_USDC, orderId, price: 141n * USD, quantity: 200_000_000n });
    expect(events.map((e) => e.kind)).toEqual([EventKind.OrderDone, EventKind.Balance, EventKind.OrderAccepted]);
    const balance = events[1]!;
    expect([balance.account, balance.asset, balance.available, balance.locked]).toEqual([ALICE, USDC, 71_800_000n, 28_200_000n]);
  });

  it("O2: S1: a replacement matching refuses (its target was canceled earlier in the batch) publishes one Balance: its own hold back", () => {
    const placed = h.limit(ALICE, SOL_USDC, Side.Buy, 140n * USD, 200_000_000n);
    const orderId = placed.find((e) => e.kind === EventKind.OrderAccepted)!.orderId;
    const cancel = Object.assign(new CommandRecord(), { kind: CommandKind.CancelOrder, seq: 1000, account: ALICE, market: SOL_USDC, orderId });
    const replace = Object.assign(new CommandRecord(), { kind: CommandKind.ReplaceOrder, seq: 1001, account: ALICE, market: SOL_USDC, orderId, price: 141n * USD, quantity: 200_000_000n });
    const events: EventRecord[] = [];
    h.engine.processBatch([cancel, replace], 2, { publish: (e) => events.push(Object.assign(new EventRecord(), e)) });
    const ofReplace = events.filter((e) => e.seq === 1001);
    expect(ofReplace.map((e) => [e.kind, rejectCodeName[e.code]])).toEqual([[EventKind.OrderRejected, "UnknownOrder"], [EventKind.Balance, "None"]]);
    expect([ofReplace[1]!.available, ofReplace[1]!.locked]).toEqual([100n * USDC_UNIT, 0n]);
    expect(h.risk.balance(ALICE, USDC)).toEqual({ available: 100n * USDC_UNIT, locked: 0n });
  });

  it("S2: a cancel-replace keeps the order's margin flags (refused once marginEnabled is off)", () => {
    // 0.2 SOL: the replacement holds its own 28.2 USDC on top of the old 28 until the old hold comes back.
    const placed = h.limit(ALICE, SOL_USDC, Side.Buy, 140n * USD, 200_000_000n, OrderFlag.AutoLend);
    const orderId = placed.find((e) => e.kind === EventKind.OrderAccepted)!.orderId;
    h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: AccountSetting.MarginEnabled });
    const replaced = h.run({ kind: CommandKind.ReplaceOrder, account: ALICE, market: SOL_USDC, orderId, price: 141n * USD, quantity: 200_000_000n });
    expect(rejectOf(replaced)[0]).toBe("InvalidSetting");
    h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: AccountSetting.MarginEnabled | (AccountSetting.MarginEnabled << ACCOUNT_SETTING_VALUE_SHIFT) });
    const again = h.run({ kind: CommandKind.ReplaceOrder, account: ALICE, market: SOL_USDC, orderId, price: 141n * USD, quantity: 200_000_000n });
    expect(again.some((e) => e.kind === EventKind.OrderDone && e.orderId === orderId)).toBe(true);
    expect(h.risk.balance(ALICE, USDC)).toEqual({ available: 71_800_000n, locked: 28_200_000n });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// C10 property: the answers equal the real check's boundary.

class Sink implements EventSink {
  last = new EventRecord();
  /** Set by a reject; cleared by the caller before each command. */
  rejected = false;
  publish(e: EventRecord): void {
    this.last.copyFrom(e);
    if (e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected) this.rejected = true;
  }
}

const MARKETS = [
  { id: BTC_USDC, base: BTC, mark: 60_000n },
  { id: 1, base: ETH, mark: 3_000n },
  { id: SOL_USDC, base: SOL, mark: 150n },
];

const stateArb = fc.record({
  usdc: fc.bigInt({ min: 0n, max: 200_000n * USDC_UNIT }),
  btc: fc.bigInt({ min: 0n, max: 5n * BTC_UNIT }),
  sol: fc.bigInt({ min: 0n, max: 2_000n * SOL_UNIT }),
  /** A short of one asset, in units of its whole: [asset, whole units]. */
  short: fc.option(fc.tuple(fc.constantFrom(USDC, BTC, SOL), fc.integer({ min: 1, max: 80_000 })), { nil: null }),
  solMarkPct: fc.integer({ min: 60, max: 160 }),
  leverage: fc.integer({ min: 1, max: 50 }),
  restingSol: fc.bigInt({ min: 0n, max: 50n }),
});

const queryArb = fc.record({
  market: fc.constantFrom(...MARKETS),
  side: fc.constantFrom(Side.Buy, Side.Sell),
  pricePct: fc.integer({ min: 70, max: 130 }),
  flags: fc.constantFrom(0, OrderFlag.AutoBorrow, OrderFlag.AutoLend | OrderFlag.AutoBorrowRepay),
  asset: fc.constantFrom(USDC, USDT, BTC, SOL),
});

type State = typeof stateArb extends fc.Arbitrary<infer T> ? T : never;

function build(s: State): RiskShard {
  const risk = new RiskShard(config);
  const sink = new Sink();
  let seq = 0;
  const cmd = (fields: Partial<CommandRecord>): boolean => risk.preTrade(Object.assign(new CommandRecord(), fields, { seq: ++seq }), sink);
  if (s.usdc > 0n) cmd({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: s.usdc });
  if (s.btc > 0n) cmd({ kind: CommandKind.Deposit, account: ALICE, asset: BTC, amount: s.btc });
  if (s.sol > 0n) cmd({ kind: CommandKind.Deposit, account: ALICE, asset: SOL, amount: s.sol });
  cmd({ kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: 1n });
  if (s.short !== null) {
    const [asset, whole] = s.short;
    const units = BigInt(whole) * (asset === USDC ? USDC_UNIT : asset === BTC ? BTC_UNIT / 1000n : SOL_UNIT / 10n);
    risk.applyPoolMovement(ALICE, asset, PoolMovement.Borrow, units);
    // Withdraw what margin allows of it (a short), possibly nothing.
    const w = risk.maxWithdrawalQuantity(ALICE, asset, 0).quantity;
    if (w > 0n) expect(cmd({ kind: CommandKind.Withdraw, account: ALICE, asset, amount: w })).toBe(false);
  }
  cmd({ kind: CommandKind.UpdateAccountSettings, account: ALICE, leverageLimit: s.leverage });
  cmd({ kind: CommandKind.SetMarkPrice, asset: SOL, price: (150n * USD * BigInt(s.solMarkPct)) / 100n });
  if (s.restingSol > 0n && risk.balance(ALICE, SOL).available >= s.restingSol * SOL_UNIT) {
    cmd({ kind: CommandKind.PlaceOrder, account: ALICE, market: SOL_USDC, side: Side.Sell, orderType: OrderType.Limit, price: 400n * USD, quantity: s.restingSol * SOL_UNIT });
  }
  risk.validateInternalState();
  return risk;
}

describe("C10 properties: the max answers are the real check's boundary", () => {
  it("C10: max order — the max passes the real pre-trade check, one step more is refused; the margin limit passes C8, one step more fails it", () => {
    fc.assert(
      fc.property(stateArb, queryArb, (state, q) => {
        const risk = build(state);
        const market = config.markets[q.market.id]!;
        const step = market.stepSize;
        const tick = market.tickSize;
        const refUsd = q.market.base === SOL ? (150n * BigInt(state.solMarkPct)) / 100n : q.market.mark;
        const price = ((refUsd * USD * BigInt(q.pricePct)) / 100n / tick) * tick;
        const max = risk.maxOrderQuantity(ALICE, q.market.id, q.side, price, q.flags);
        const sink = new Sink();
        let seq = 1000;
        const order = (quantity: bigint, flags: number): boolean =>
          risk.preTrade(
            Object.assign(new CommandRecord(), {
              kind: CommandKind.PlaceOrder,
              seq: ++seq,
              account: ALICE,
              market: q.market.id,
              side: q.side,
              orderType: OrderType.Limit,
              tif: TimeInForce.GTC,
              price,
              quantity,
              flags,
            }),
            sink,
          );
        const marketMax = market.maxQuantity;
        // The margin limit, by the reject reason (it does not depend on funding).
        if (max.marginLimit + step <= marketMax) {
          expect(order(max.marginLimit + step, OrderFlag.AutoBorrow)).toBe(false);
          expect(rejectCodeName[sink.last.code]).toBe("InsufficientMargin");
        }
        if (max.marginLimit > 0n) {
          const ok = order(max.marginLimit, OrderFlag.AutoBorrow);
          if (!ok) expect(rejectCodeName[sink.last.code]).toBe("BorrowUnavailable");
          else {
            // Accepted (funded): release the hold so the state is as before.
            risk.postTrade(Object.assign(new EventRecord(), { kind: EventKind.OrderDone, account: ALICE, orderId: seq, seq }), sink);
          }
        }
        // What is accepted now: one step more first (a refusal changes nothing), then the max itself.
        if (max.quantity + step <= marketMax) expect(order(max.quantity + step, q.flags)).toBe(false);
        if (max.quantity > 0n) expect(order(max.quantity, q.flags)).toBe(true);
        else expect(order(step, q.flags)).toBe(false);
        risk.validateInternalState();
      }),
      { numRuns: 150, seed: 20261122 },
    );
  });

  it("C8 shortcut: for an account that owes nothing the full evaluation accepts every funded order and withdrawal, as the O(1) shortcut does", () => {
    fc.assert(
      fc.property(stateArb, queryArb, (state, q) => {
        const risk = build({ ...state, short: null });
        const market = config.markets[q.market.id]!;
        const step = market.stepSize;
        const refUsd = q.market.base === SOL ? (150n * BigInt(state.solMarkPct)) / 100n : q.market.mark;
        const price = ((refUsd * USD * BigInt(q.pricePct)) / 100n / market.tickSize) * market.tickSize;
        const base = config.assets[market.baseAsset]!;
        const quote = config.assets[market.quoteAsset]!;
        // The funded bound, independently: what the available balance pays for at the limit price (S1).
        let funded =
          q.side === Side.Sell
            ? risk.balance(ALICE, base.id).available
            : (risk.balance(ALICE, quote.id).available * base.unit * USD) / (price * quote.unit);
        funded = (funded / step) * step;
        if (funded > market.maxQuantity) funded = (market.maxQuantity / step) * step;
        // quantity = the solver's answer over [0, funded] with the full C8 evaluation: funded itself passes.
        expect(risk.maxOrderQuantity(ALICE, q.market.id, q.side, price, 0).quantity).toBe(funded);
        expect(risk.maxWithdrawalQuantity(ALICE, q.asset, 0).quantity).toBe(risk.balance(ALICE, q.asset).available);
      }),
      { numRuns: 200, seed: 20261124 },
    );
  });

  it("C10: A5: max withdrawal — the max passes, one unit more is refused (plain and margin withdrawal)", () => {
    fc.assert(
      fc.property(stateArb, queryArb, (state, q) => {
        const risk = build(state);
        const sink = new Sink();
        let seq = 1000;
        /** True when accepted (a withdrawal completes in R1: preTrade returns false either way). */
        const withdraw = (amount: bigint, flags: number): boolean => {
          sink.rejected = false;
          risk.preTrade(Object.assign(new CommandRecord(), { kind: CommandKind.Withdraw, seq: ++seq, account: ALICE, asset: q.asset, amount, flags }), sink);
          return !sink.rejected;
        };
        const flags = q.flags & OrderFlag.AutoBorrow;
        const max = risk.maxWithdrawalQuantity(ALICE, q.asset, flags);
        expect(withdraw(max.marginLimit + 1n, OrderFlag.AutoBorrow)).toBe(false);
        expect(rejectCodeName[sink.last.code]).toBe("InsufficientMargin");
        expect(withdraw(max.quantity + 1n, flags)).toBe(false);
        if (max.quantity > 0n) expect(withdraw(max.quantity, flags)).toBe(true);
        else expect(withdraw(1n, flags)).toBe(false);
        risk.validateInternalState();
      }),
      { numRuns: 150, seed: 20261123 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// S5: fee tiers by 30-day volume.

describe("S5: fees by 30-day traded volume tier", () => {
  /** BOB rests a sell of `qty` BTC at 60,000, `taker` buys it: returns the fill as each side sees it. */
  function trade(taker: number, qty: bigint): EventRecord {
    expect(accepted(h.limit(BOB, BTC_USDC, Side.Sell, 60_000n * USD, qty))).toBe(true);
    const ev = h.limit(taker, BTC_USDC, Side.Buy, 60_000n * USD, qty);
    const fill = ev.find((e) => e.kind === EventKind.Fill);
    expect(fill).toBeDefined();
    return fill!;
  }

  beforeEach(() => {
    h.deposit(BOB, BTC, 100n * BTC_UNIT);
    h.deposit(ALICE, USDC, 3_000_000n * USDC_UNIT);
    h.deposit(ALICE_SUB1, USDC, 1_000_000n * USDC_UNIT);
  });

  it("S5: VIP0 until the user's 30-day volume reaches 1,000,000 USD; then VIP1 (maker 6, taker 9 bps) for every account of the user", () => {
    const first = trade(ALICE, 17n * BTC_UNIT); // 1,020,000 USDC
    expect(first.takerFee).toBe(1_700_000n); // 10 bps of 17 BTC
    expect(first.makerFee).toBe(816n * USDC_UNIT); // 8 bps of 1,020,000 USDC
    expect(h.risk.feeTierOf(ALICE)).toEqual({ tier: 1, volumeUsd: 1_020_000n * USD });
    expect(h.risk.feeTierOf(ALICE_SUB1)).toEqual({ tier: 1, volumeUsd: 1_020_000n * USD });
    expect(h.risk.feeTierOf(BOB).tier).toBe(1);
    // The same user's sub-account now pays VIP1; the maker too.
    const second = trade(ALICE_SUB1, BTC_UNIT);
    expect(second.takerFee).toBe(90_000n); // 9 bps of 1 BTC
    expect(second.makerFee).toBe(36n * USDC_UNIT); // 6 bps of 60,000
    expect(h.risk.collateralStatement(ALICE_SUB1)).toMatchObject({ feeTier: 1, makerFeeBps: 6, takerFeeBps: 9, volume30dUsd: 1_080_000n * USD });
  });

  it("S5: the window is 30 engine days of daily buckets — a day's volume leaves it 30 days later", () => {
    h.run({ kind: CommandKind.AdvanceTime, timeMs: 5 * DAY_MS + 1000 });
    trade(ALICE, 17n * BTC_UNIT);
    h.run({ kind: CommandKind.AdvanceTime, timeMs: 34 * DAY_MS + 86_399_999 }); // day 34: days 5…34
    expect(h.risk.feeTierOf(ALICE)).toEqual({ tier: 1, volumeUsd: 1_020_000n * USD });
    h.run({ kind: CommandKind.AdvanceTime, timeMs: 35 * DAY_MS }); // day 35: days 6…35
    expect(h.risk.feeTierOf(ALICE)).toEqual({ tier: 0, volumeUsd: 0n });
    expect(trade(ALICE, BTC_UNIT).takerFee).toBe(100_000n);
  });

  it("S5: volume is valued in USD at the quote asset's mark", () => {
    h.mark(USDC, 500_000_000n); // 1 USDC = 0.5 USD
    const first = trade(ALICE, 17n * BTC_UNIT); // 1,020,000 USDC = 510,000 USD
    expect(first.takerFee).toBe(1_700_000n);
    expect(h.risk.feeTierOf(ALICE)).toEqual({ tier: 0, volumeUsd: 510_000n * USD });
    expect(trade(ALICE, 17n * BTC_UNIT).takerFee).toBe(1_700_000n); // still VIP0 before this one counts
    expect(h.risk.feeTierOf(ALICE)).toEqual({ tier: 1, volumeUsd: 1_020_000n * USD });
  });
});
