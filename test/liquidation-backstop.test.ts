// Q3 backstop takeover and Q4 perpetual bankruptcy wired into the engine (engine/risk/liquidation-transfers.ts;
// engine/pipeline/engine.ts "Q3/Q4 (as built)"): phase 0 hands an account below ACMF, or stalled on the book, to the
// configured backstop (positions at the mark through the market's matching shard, then its collateral, borrows and
// USDC in phase 3b); a bankrupt one gets the insurance fund's cover and, beyond it, ADL of the opposing positions at
// its bankruptcy price (LiquidatePositionOnAdl, a SocializedLoss each). Replay, snapshots and the threaded pipeline
// give the same state.
import { afterEach, describe, expect, it } from "vitest";
import {
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  LiquidationStep,
  OrderFlag,
  Side,
  TimeInForce,
  type EventSink,
  type ExchangeConfig,
} from "../engine/model/index.ts";
import { Engine, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { NoStepReason } from "../engine/liquidation/index.ts";
import { SettlementReason } from "../engine/risk/index.ts";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventPriceSlot, eventSideSlot } from "../engine/model/generated/records.ts";
import { runThreaded } from "./helpers/threaded-run.ts";
import {
  ALICE, BACKSTOP, BOB, BTC, BTC_PERP, BTC_UNIT, BackstopHarness as Harness, DAVE, ERIN, FRANK, LENDER, MAKER, SOL, SOL_UNIT, SOL_USDC, USD, USDC, USDC_UNIT,
  base, deposit, gtc, kinds, mark, quotes, withBackstop,
} from "./helpers/backstop-scenario.ts";

const legs = (events: EventRecord[]) =>
  kinds(events, EventKind.LiquidationTransfer).map((e) => [e.liquidationStep, e.account, e.makerAccount, e.market, e.asset, e.side, e.quantity, e.price, e.transferAmount]);

/** Alice (6,100 USDC) buys 1 BTC-PERP at 60,000 from Bob (taker fee 10 bps: 60 USDC, so 6,040 USDC left). */
function longAlice(h: Harness): void {
  h.batch([deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(BOB, USDC, 100_000n * USDC_UNIT), deposit(BACKSTOP, USDC, 50_000n * USDC_UNIT)]);
  h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT)]);
  h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
  expect(h.position(ALICE)).toEqual([BTC_UNIT, 60_000n * USD]);
  expect(h.usdc(ALICE)).toBe(6_040n * USDC_UNIT);
}

describe("Q3 backstop takeover", () => {
  it("Q3: below ACMF (mark 54,000: equity 40, MF 0.074% < ACMF 0.333%) the backstop takes the 1 BTC long at the mark and the 40 USDC left; Alice is flat, empty and out", () => {
    const h = new Harness(withBackstop(100_000n * USD));
    longAlice(h);
    expect(kinds(h.batch(quotes(50_000n * USD, 54_000n * USD)), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
    const fundBefore = h.fund();
    const totals = h.totals();
    const events = h.tick();
    expect(h.totals()).toEqual(totals); // X1: every unit moved has its counterparty (the fund for realized PnL)
    // No book step: the position leg through BTC-PERP's matching shard at the mark, then the USDC in phase 3b.
    expect(kinds(events, EventKind.OrderAccepted)).toEqual([]);
    expect(legs(events)).toEqual([
      [LiquidationStep.OnBackstop, ALICE, BACKSTOP, BTC_PERP, 0, Side.Sell, BTC_UNIT, 54_000n * USD, 0n],
      [LiquidationStep.OnBackstop, ALICE, BACKSTOP, 0, USDC, 0, 0n, 0n, 40n * USDC_UNIT],
    ]);
    expect(kinds(events, EventKind.LiquidationTransfer).every((e) => e.seq === 0)).toBe(true);
    // Alice realized 54,000 − 60,000 = −6,000 at the mark (the fund, D4, is the counterparty of realized PnL), then
    // handed over her 6,040 − 6,000 = 40 USDC; the backstop holds 1 BTC from 54,000 and 50,000 + 40 USDC.
    expect(h.position(ALICE)).toEqual([0n, 0n]);
    expect(h.usdc(ALICE)).toBe(0n);
    expect(h.position(BACKSTOP)).toEqual([BTC_UNIT, 54_000n * USD]);
    expect(h.usdc(BACKSTOP)).toBe(50_040n * USDC_UNIT);
    expect(h.fund() - fundBefore).toBe(6_000n * USDC_UNIT);
    expect(kinds(events, EventKind.LiquidationEnded).map((e) => e.account)).toEqual([ALICE]);
    expect(h.liquidating()).toEqual([]);
    // Fee 0: no Settlement row of a fee; both legs are rows of Alice's liquidation history (Started, 2 legs, Ended).
    expect(kinds(events, EventKind.Settlement).filter((e) => e.settlementReason === SettlementReason.Fee || e.settlementReason === SettlementReason.LiquidationFee)).toEqual([]);
    expect(h.risk(ALICE).liquidationHistoryCount(ALICE)).toBe(4);
  });

  it("Q3: a stalled book hands over: at mark 54,300 (MF 0.63% ≥ ACMF) the step finds no bid within 5%, and the next batch the backstop takes the position and the 340 USDC", () => {
    const h = new Harness(withBackstop(100_000n * USD));
    longAlice(h);
    expect(kinds(h.batch(quotes(50_000n * USD, 54_300n * USD)), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
    const step = h.tick();
    expect(kinds(step, EventKind.OrderAccepted).map((e) => [e.account, e.side, e.price, e.quantity])).toEqual([[ALICE, Side.Sell, 51_585n * USD, 10_000_000n]]);
    expect(kinds(step, EventKind.Fill)).toEqual([]);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toEqual({ batches: 1, reason: NoStepReason.NoFillWithinBound });
    const events = h.tick();
    expect(legs(events)).toEqual([
      [LiquidationStep.OnBackstop, ALICE, BACKSTOP, BTC_PERP, 0, Side.Sell, BTC_UNIT, 54_300n * USD, 0n],
      [LiquidationStep.OnBackstop, ALICE, BACKSTOP, 0, USDC, 0, 0n, 0n, 340n * USDC_UNIT],
    ]);
    expect(h.position(BACKSTOP)).toEqual([BTC_UNIT, 54_300n * USD]);
    expect(h.usdc(BACKSTOP)).toBe(50_340n * USDC_UNIT);
    expect(h.usdc(ALICE)).toBe(0n);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toBe(null);
    expect(h.liquidating()).toEqual([]);
  });

  it("Q3: a takeover over the backstop's limit does not happen: 54,000 of exposure against a 50,000 limit — Alice stays on the book", () => {
    const h = new Harness(withBackstop(50_000n * USD));
    longAlice(h);
    h.batch(quotes(50_000n * USD, 54_000n * USD));
    for (let i = 0; i < 3; i++) {
      const events = h.tick();
      expect(legs(events)).toEqual([]);
      expect(kinds(events, EventKind.OrderAccepted).map((e) => e.account)).toEqual([ALICE]);
    }
    expect(h.position(ALICE)).toEqual([BTC_UNIT, 60_000n * USD]);
    expect(h.position(BACKSTOP)).toEqual([0n, 0n]);
    expect(h.usdc(BACKSTOP)).toBe(50_000n * USDC_UNIT);
    expect(h.liquidating()).toEqual([ALICE]);
  });

  it("Q3 (K > 1, engine.ts \"Q3 across shards (as built)\"): with two risk shards the backstop (user 7, shard 1) takes over Dave (shard 1) and Alice (shard 0) below ACMF in the same batch, each within its shard's budget (200,000 / 2 ≥ 54,000)", () => {
    const h = new Harness(withBackstop(200_000n * USD), { riskShards: 2, matchingShards: 1 });
    h.batch([deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(DAVE, USDC, 6_100n * USDC_UNIT), deposit(BOB, USDC, 100_000n * USDC_UNIT), deposit(BACKSTOP, USDC, 50_000n * USDC_UNIT)]);
    h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, 2n * BTC_UNIT)]);
    h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(DAVE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
    expect(kinds(h.batch(quotes(50_000n * USD, 54_000n * USD)), EventKind.LiquidationStarted).map((e) => e.account).sort()).toEqual([ALICE, DAVE]);
    const totals = h.totals();
    const events = h.tick();
    expect(h.totals()).toEqual(totals); // X1 across the shards: Alice's 40 USDC left shard 0 and reached shard 1
    // Position legs through BTC-PERP's matching shard (shard 0's decision first), then each shard's phase 3b: Alice's
    // USDC leaves her into shard 0's transit slice, Dave's moves inside shard 1; the backstop gets Alice's at the merge.
    expect(legs(events)).toEqual([
      [LiquidationStep.OnBackstop, ALICE, BACKSTOP, BTC_PERP, 0, Side.Sell, BTC_UNIT, 54_000n * USD, 0n],
      [LiquidationStep.OnBackstop, DAVE, BACKSTOP, BTC_PERP, 0, Side.Sell, BTC_UNIT, 54_000n * USD, 0n],
      [LiquidationStep.OnBackstop, ALICE, BACKSTOP, 0, USDC, 0, 0n, 0n, 40n * USDC_UNIT],
      [LiquidationStep.OnBackstop, DAVE, BACKSTOP, 0, USDC, 0, 0n, 0n, 40n * USDC_UNIT],
    ]);
    expect(kinds(events, EventKind.OrderAccepted)).toEqual([]);
    expect(h.position(BACKSTOP)).toEqual([2n * BTC_UNIT, 54_000n * USD]);
    expect(h.usdc(BACKSTOP)).toBe(50_080n * USDC_UNIT);
    expect([h.usdc(ALICE), h.usdc(DAVE)]).toEqual([0n, 0n]);
    expect(h.liquidating()).toEqual([]);
  });

  it("Q3: the backstop takes a spot-margin account's borrow and collateral: 10 SOL and the 1,000 USDC borrow (its pool shares) move at the mark, the pool's totals unchanged", () => {
    const h = new Harness(withBackstop(100_000n * USD));
    h.batch([
      deposit(LENDER, USDC, 10_000n * USDC_UNIT),
      { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
      deposit(BACKSTOP, USDC, 50_000n * USDC_UNIT),
      deposit(FRANK, SOL, 10n * SOL_UNIT),
      { kind: CommandKind.Withdraw, account: FRANK, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
    ]);
    const owed = h.risk(FRANK).poolBalance(FRANK, USDC).borrowed;
    expect(owed).toBe(1_000n * USDC_UNIT);
    // SOL at 105: 10 × 105 × 0.9 = 945 against 1,000 owed — negative equity, below ACMF.
    expect(kinds(h.batch([mark(SOL, 105n * USD)]), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([FRANK]);
    const totals = h.totals();
    const events = h.tick();
    expect(h.totals()).toEqual(totals); // X1: the borrow's shares moved whole, the pool's totals untouched
    const moved = kinds(events, EventKind.LiquidationTransfer).map((e) => [e.asset, e.transferAmount, e.borrowed, e.transferBorrowShares > 0n]);
    expect(moved).toEqual([
      [USDC, 0n, 1_000n * USDC_UNIT, true],
      [SOL, 10n * SOL_UNIT, 0n, false],
    ]);
    // The plan's value 10 × 105 − 1,000 = 50 USD ≥ 0: no cover. Frank has nothing left; the backstop owes his borrow.
    expect(h.risk(FRANK).poolBalance(FRANK, USDC).borrowed).toBe(0n);
    expect(h.risk(BACKSTOP).poolBalance(BACKSTOP, USDC).borrowed).toBe(1_000n * USDC_UNIT);
    expect(h.risk(BACKSTOP).balance(BACKSTOP, SOL).available).toBe(10n * SOL_UNIT);
    expect(h.risk(FRANK).balance(FRANK, SOL).available).toBe(0n);
    expect(h.liquidating()).toEqual([]);
  });

  for (const [lends, available, lent] of [
    [40_000n, 9_000n, 40_000n],
    [50_000n, 0n, 49_000n],
  ] as const) {
    it(`Q3: L15: a backstop lending ${lends} of its 50,000 USDC takes Frank's 1,000 USDC borrow: it repays it from its available USDC, then from its lent USDC — never lends and borrows at once (left: ${available} available, ${lent} lent)`, () => {
      // Before, the backstop held the moved borrow beside its lend (X2 broke: fuzz seed 3270706892 with a backstop).
      const h = new Harness(withBackstop(100_000n * USD));
      h.batch([
        deposit(LENDER, USDC, 10_000n * USDC_UNIT),
        { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
        deposit(BACKSTOP, USDC, 50_000n * USDC_UNIT),
        { kind: CommandKind.Lend, account: BACKSTOP, asset: USDC, amount: lends * USDC_UNIT },
        deposit(FRANK, SOL, 10n * SOL_UNIT),
        { kind: CommandKind.Withdraw, account: FRANK, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
      ]);
      h.batch([mark(SOL, 105n * USD)]);
      const totals = h.totals();
      const events = h.tick();
      expect(h.totals()).toEqual(totals); // X1
      expect(kinds(events, EventKind.LiquidationTransfer).map((e) => [e.asset, e.borrowed])).toEqual([[USDC, 1_000n * USDC_UNIT], [SOL, 0n]]);
      expect(h.risk(BACKSTOP).poolBalance(BACKSTOP, USDC)).toMatchObject({ borrowed: 0n, lent: lent * USDC_UNIT });
      expect(h.risk(BACKSTOP).balance(BACKSTOP, USDC).available).toBe(available * USDC_UNIT);
      expect(h.risk(BACKSTOP).balance(BACKSTOP, SOL).available).toBe(10n * SOL_UNIT);
      expect(h.liquidating()).toEqual([]);
    });
  }
});

/**
 * The fund first gets Frank's 1% fee (a SOL step of 0.91 at 115: 1.0465 USDC, as in liquidation-book.test.ts); Bob
 * (100,000 USDC) shorts 1 BTC-PERP to Alice at 60,000; Dave (3,100 USDC) shorts 0.5 to Erin (50,000 USDC) at 60,000.
 */
function bankruptcySetup(h: Harness): void {
  h.batch([
    deposit(LENDER, USDC, 10_000n * USDC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
    deposit(FRANK, SOL, 10n * SOL_UNIT),
    { kind: CommandKind.Withdraw, account: FRANK, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
  ]);
  h.batch([deposit(BOB, USDC, 100_000n * USDC_UNIT), gtc(BOB, SOL_USDC, Side.Buy, 115n * USD, SOL_UNIT)]);
  h.batch([mark(SOL, 116n * USD)]);
  h.tick();
  expect(h.fund()).toBe(1_046_500n);
  h.batch([deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(DAVE, USDC, 3_100n * USDC_UNIT), deposit(ERIN, USDC, 50_000n * USDC_UNIT)]);
  h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT), gtc(DAVE, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT / 2n)]);
  h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(ERIN, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT / 2n)]);
  expect([h.position(ALICE)[0], h.position(BOB)[0], h.position(DAVE)[0], h.position(ERIN)[0]]).toEqual([BTC_UNIT, -BTC_UNIT, -BTC_UNIT / 2n, BTC_UNIT / 2n]);
}

describe("Q4 bankruptcy: the insurance fund, then perp ADL", () => {
  it("Q4: insurance covers a deficit: at mark 53,959.5 Alice's equity is −0.5 USDC; stalled on an empty book, the fund pays 0.5 of its 1.0465 USDC and nothing is socialized", () => {
    const h = new Harness(base);
    bankruptcySetup(h);
    h.batch(quotes(50_000n * USD, 53_959_500_000_000n));
    expect(h.liquidating()).toEqual([ALICE]);
    expect(kinds(h.tick(), EventKind.Fill)).toEqual([]); // the book step finds no bid: stalled
    const before = h.fund();
    expect(before).toBe(1_046_500n);
    const events = h.tick();
    const cover = kinds(events, EventKind.Settlement).filter((e) => e.settlementReason === SettlementReason.InsuranceCover);
    expect(cover.map((e) => [e.account, e.asset, e.settledAmount])).toEqual([[ALICE, USDC, 500_000n]]);
    expect(h.fund()).toBe(before - 500_000n);
    expect(kinds(events, EventKind.SocializedLoss)).toEqual([]);
    expect(legs(events)).toEqual([]);
    expect(h.usdc(ALICE)).toBe(6_040n * USDC_UNIT + 500_000n);
    expect(h.position(ALICE)).toEqual([BTC_UNIT, 60_000n * USD]);
  });

  it("Q4: a perp ADL at the bankruptcy price: equity −5 at mark 53,955; the fund pays its 1.0465, and Alice's 1 BTC closes at 53,958.9535 against Dave (ranked first: same profit %, higher leverage) then Bob, 0.5 each", () => {
    const h = new Harness(base);
    bankruptcySetup(h);
    h.batch(quotes(50_000n * USD, 53_955n * USD));
    h.tick(); // stalled
    const totals = h.totals();
    const events = h.tick();
    expect(h.totals()).toEqual(totals); // X1: the cover leaves the fund for Alice; the legs' PnL goes through the fund
    // E' = −5 + 1.0465 = −3.9535 USD; p = mark − E' / q = 53,955 + 3.9535 (one position: its share is all of E').
    const p = 53_958_953_500_000n;
    expect(legs(events)).toEqual([
      [LiquidationStep.OnAdl, ALICE, DAVE, BTC_PERP, 0, Side.Sell, BTC_UNIT / 2n, p, 0n],
      [LiquidationStep.OnAdl, ALICE, BOB, BTC_PERP, 0, Side.Sell, BTC_UNIT / 2n, p, 0n],
    ]);
    // Each counterparty buys 0.5 back 3.9535 above the mark: 1.97675 USDC socialized per leg, recorded and public.
    expect(kinds(events, EventKind.SocializedLoss).map((e) => [e.account, e.market, e.quantity, e.price, e.legMarkPrice, e.adlLoss])).toEqual([
      [ALICE, BTC_PERP, BTC_UNIT / 2n, p, 53_955n * USD, 1_976_750n],
      [ALICE, BTC_PERP, BTC_UNIT / 2n, p, 53_955n * USD, 1_976_750n],
    ]);
    expect(h.fund()).toBeLessThan(1_046_500n);
    // Alice: 6,040 + 1.0465 (cover) − 2 × 0.5 × (60,000 − 53,958.9535) = 0 exactly.
    expect(h.usdc(ALICE)).toBe(0n);
    expect(h.position(ALICE)).toEqual([0n, 0n]);
    expect(h.risk(ALICE).poolBalance(ALICE, USDC).borrowed).toBe(0n);
    // Dave and Bob each realize 0.5 × (60,000 − 53,958.9535) = 3,020.52325 USDC on the half they closed.
    expect(h.position(DAVE)).toEqual([0n, 0n]);
    expect(h.position(BOB)).toEqual([-BTC_UNIT / 2n, 60_000n * USD]);
    const daveFee = 24n * USDC_UNIT; // maker 8 bps of 30,000
    expect(h.usdc(DAVE)).toBe(3_100n * USDC_UNIT - daveFee + 3_020_523_250n);
    expect(h.liquidating()).toEqual([]);
  });

  it("Q4: covers spend the fund's capital, not the realized PnL it holds for open positions: Erin's 100 USDC loss on 0.01 BTC sold at 50,000 sits in the fund (101.0465), yet the cover is 1.0465 and the rest is ADL", () => {
    // D4: the fund is realization's counterparty. Erin closes 0.01 of her 60,000 long at 50,000 and pays 100 USDC into
    // it; the maker's new 0.01 long from 50,000 and the shorts' open gains are owed that money when they close. So the
    // fund's capital is still 1.0465. The trade makes the mark 50,000 (P3: median of bid 50,000, ask 53,955, last
    // 50,000): Alice's equity is 6,040 − 10,000 = −3,960; the fund covers 1.0465 and E' = −3,958.9535 closes at
    // p = 50,000 + 3,958.9535 against Dave and Bob. Before, the cover was 101.0465 — the 100 in transit with it — and
    // the fund's close-out value went below zero with less socialized (fuzz seed 3270706892).
    const h = new Harness(base);
    bankruptcySetup(h);
    h.batch([...quotes(50_000n * USD, 53_955n * USD), { ...gtc(ERIN, BTC_PERP, Side.Sell, 50_000n * USD, BTC_UNIT / 100n), tif: TimeInForce.IOC }]);
    expect(h.position(ERIN)).toEqual([BTC_UNIT / 2n - BTC_UNIT / 100n, 60_000n * USD]);
    h.tick(); // stalled
    expect(h.fund()).toBe(101_046_500n);
    expect(h.engine.risk[0]!.insuranceCapital(USDC)).toBe(1_046_500n);
    const events = h.tick();
    const cover = kinds(events, EventKind.Settlement).filter((e) => e.settlementReason === SettlementReason.InsuranceCover);
    expect(cover.map((e) => [e.account, e.settledAmount])).toEqual([[ALICE, 1_046_500n]]);
    const p = 53_958_953_500_000n;
    expect(legs(events)).toEqual([
      [LiquidationStep.OnAdl, ALICE, DAVE, BTC_PERP, 0, Side.Sell, BTC_UNIT / 2n, p, 0n],
      [LiquidationStep.OnAdl, ALICE, BOB, BTC_PERP, 0, Side.Sell, BTC_UNIT / 2n, p, 0n],
    ]);
    // Each counterparty buys 0.5 back 3,958.9535 above the 50,000 mark: 1,979.47675 USDC socialized per leg.
    expect(kinds(events, EventKind.SocializedLoss).map((e) => [e.legMarkPrice, e.adlLoss])).toEqual([[50_000n * USD, 1_979_476_750n], [50_000n * USD, 1_979_476_750n]]);
    // The legs' PnL nets out through the fund (Alice pays 6,041.0465, Dave and Bob get 3,020.52325 each): the 100 in
    // transit stays, and the capital is spent.
    expect([h.fund(), h.engine.risk[0]!.insuranceCapital(USDC)]).toEqual([100_000_000n, 0n]);
    expect(h.usdc(ALICE)).toBe(0n);
    expect(h.position(ALICE)).toEqual([0n, 0n]);
  });
});

// ---------------------------------------------------------------- X4, X7: replay, threads and snapshots

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${eventCodeSlot(e)}|${eventPriceSlot(e)}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.makerAccount}|${e.timeMs}`;
}

/**
 * A takeover (Alice, 1 BTC, below ACMF), a 10 s realization that pays Bob's gain out of the fund, then an ADL: Carl's
 * 1.5 BTC long from 54,000 (9,000 USDC) at mark 47,000 is stalled with negative equity (−1,581), over the backstop's
 * limit left (47,000 held + 70,500 > 100,000) and beyond the fund.
 */
function transferJournal(config: ExchangeConfig): CommandRecord[][] {
  const h = new Harness(config);
  longAlice(h);
  h.batch(quotes(50_000n * USD, 54_000n * USD));
  for (let i = 0; i < 10; i++) h.tick();
  const CARL = 160; // user 10: shard 0 of two, as the backstop (user 7) is shard 1, Bob (user 3) shard 1
  h.batch([deposit(CARL, USDC, 9_000n * USDC_UNIT), deposit(DAVE, USDC, 50_000n * USDC_UNIT), deposit(ERIN, USDC, 50_000n * USDC_UNIT)]);
  h.batch([gtc(DAVE, BTC_PERP, Side.Sell, 54_000n * USD, BTC_UNIT), gtc(ERIN, BTC_PERP, Side.Sell, 54_000n * USD, BTC_UNIT / 2n)]);
  h.batch([gtc(CARL, BTC_PERP, Side.Buy, 54_000n * USD, BTC_UNIT + BTC_UNIT / 2n)]);
  h.batch([
    { kind: CommandKind.CancelAll, account: MAKER, market: BTC_PERP },
    gtc(MAKER, BTC_PERP, Side.Sell, 47_000n * USD, BTC_UNIT / 100n),
    gtc(MAKER, BTC_PERP, Side.Buy, 44_500n * USD, BTC_UNIT / 100n),
    mark(BTC, 47_000n * USD),
  ]);
  for (let i = 0; i < 4; i++) h.tick();
  return h.journal;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4, X7 through a takeover and an ADL", () => {
  const config = withBackstop(100_000n * USD);
  const journal = transferJournal(config);

  function inProcess(topology: EngineTopology): { events: string[]; hash: string } {
    const engine = new Engine(config, topology);
    const events: string[] = [];
    const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
    for (const b of journal) engine.processBatch(b, b.length, sink);
    return { events, hash: engine.stateHash() };
  }

  it("Q3, Q4, X4: the journal has a takeover and an ADL, and replaying it gives the same events and state hash", () => {
    const a = inProcess({ riskShards: 1, matchingShards: 1 });
    const steps = a.events.filter((t) => t.startsWith(`${EventKind.LiquidationTransfer}|`)).map((t) => Number(t.split("|")[7]));
    expect(steps).toContain(LiquidationStep.OnBackstop);
    expect(steps).toContain(LiquidationStep.OnAdl);
    const b = inProcess({ riskShards: 1, matchingShards: 1 });
    expect(b).toEqual(a);
  });

  it("Q3, Q4, X7: a snapshot taken mid-liquidation (Carl stalled, before his ADL) restores into an engine that goes on identically", () => {
    const engine = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const cut = journal.length - 3; // after the stalled step, before the ADL batch
    for (let i = 0; i < cut; i++) engine.processBatch(journal[i]!, journal[i]!.length, { publish: () => {} });
    expect(engine.risk[0]!.liquidatingAccounts()).toEqual([160]);
    const restored = Engine.fromSnapshot(config, engine.snapshot());
    const a: string[] = [];
    const b: string[] = [];
    for (let i = cut; i < journal.length; i++) {
      engine.processBatch(journal[i]!, journal[i]!.length, { publish: (e) => a.push(eventText(e)) });
      restored.processBatch(journal[i]!, journal[i]!.length, { publish: (e) => b.push(eventText(e)) });
    }
    expect(a.some((t) => t.startsWith(`${EventKind.LiquidationTransfer}|`))).toBe(true);
    expect(b).toEqual(a);
    expect(restored.stateHash()).toBe(engine.stateHash());
  });

  for (const [topology, stages] of [
    [{ riskShards: 1, matchingShards: 1 }, "fused"],
    [{ riskShards: 1, matchingShards: 1 }, "split"],
    [{ riskShards: 2, matchingShards: 2 }, "split"],
  ] as const) {
    it(`Q3, Q4, X4: threaded ${topology.riskShards}×${topology.matchingShards} ${stages} gives the in-process legs, losses and state hash`, async () => {
      const expected = inProcess(topology);
      const { events, fatal, hash } = await runThreaded(config, journal, eventText, { topology, stages }, running);
      expect(fatal).toEqual([]);
      expect(hash).toBe(expected.hash);
      if (topology.riskShards === 1) expect(events).toEqual(expected.events);
      else expect([...events].sort()).toEqual([...expected.events].sort());
    }, 60_000);
  }
});
