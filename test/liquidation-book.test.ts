// Q2 book liquidation wired into the engine (engine/risk/liquidation-steps.ts; decision D3 of engine/pipeline/engine.ts):
// phase 0 of each batch cancels a liquidating account's resting orders (DoneReason Liquidation), then places one IOC
// step per batch — CollateralConversion for a borrow, LiquidatePositionOnBook for a perpetual position — at most
// liquidationStepFraction, limit at the slippage bound; each liquidation fill pays 1% of its notional in USDC to the
// shard's insurance slice (Settlement rows, reason LiquidationFee); steps go on until the Q1 exit; a step the book cannot
// take is recorded as a stall (the Q3/Q4 hand-over). The threaded pipeline (fused, split, 2 × 2) gives the same events
// and state hash.
import { afterEach, describe, expect, it } from "vitest";
import {
  CommandKind,
  CommandRecord,
  DoneReason,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  RejectCode,
  Side,
  TimeInForce,
  type EventSink,
} from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { ENGINE_ORDER_ID_BASE, ENGINE_ORDERS_PER_BATCH_MAX, engineOrderId, firstServedIndex, NoStepReason } from "../engine/liquidation/index.ts";
import { SettlementReason, SettlementStep } from "../engine/risk/index.ts";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventPriceSlot, eventSideSlot } from "../engine/model/generated/records.ts";
import { runThreaded } from "./helpers/threaded-run.ts";
import { copyEvent, EngineHarness } from "./helpers/engine-harness.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const SOL = 4;
const SOL_USDC = 2;
const BTC_PERP = 3;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const BTC_UNIT = 100_000_000n;
const T0 = 1_767_225_600_000;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;
const CAROL = 64;

class Harness extends EngineHarness {
  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    super(config, { topology });
  }
}

const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
const mark = (asset: number, price: bigint): Partial<CommandRecord> => ({ kind: CommandKind.SetMarkPrice, asset, price });
const gtc = (account: number, market: number, side: number, price: bigint, quantity: bigint): Partial<CommandRecord> => ({
  kind: CommandKind.PlaceOrder, account, market, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price, quantity,
});
const kinds = (events: EventRecord[], kind: number) => events.filter((e) => e.kind === kind);
const feeRows = (events: EventRecord[]) =>
  kinds(events, EventKind.Settlement).filter((e) => e.settlementReason === SettlementReason.LiquidationFee).map((e) => [e.account, e.settlementStep, e.settledAmount]);

/** The lender funds the USDC pool; Alice deposits 10 SOL and withdraws 1,000 USDC on margin (a 1,000 USDC borrow). */
function leveredAlice(h: Harness): void {
  h.batch([
    deposit(LENDER, USDC, 10_000n * USDC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
    deposit(ALICE, SOL, 10n * SOL_UNIT),
    { kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
  ]);
  expect(h.risk(ALICE).poolBalance(ALICE, USDC).borrowed).toBe(1_000n * USDC_UNIT);
}

/** Bob bids `solQty` SOL at `price` on SOL_USDC. */
function bobBids(h: Harness, price: bigint, solQty: bigint): void {
  h.batch([deposit(BOB, USDC, 5_000n * USDC_UNIT), gtc(BOB, SOL_USDC, Side.Buy, price, solQty)]);
}

describe("Q2 book liquidation of a spot-margin account", () => {
  it("Q2, O4: a step is not refused by the active-price band — trades at $150 and an ask resting at $151 put 110.20 outside it, and the step still sells 0.91 SOL to Bob's $115", () => {
    const h = new Harness();
    leveredAlice(h);
    h.batch([deposit(CAROL, SOL, 10n * SOL_UNIT), gtc(CAROL, SOL_USDC, Side.Sell, 150n * USD, SOL_UNIT)]);
    bobBids(h, 150n * USD, SOL_UNIT); // trades: last price 150
    h.batch([gtc(CAROL, SOL_USDC, Side.Sell, 151n * USD, 2n * SOL_UNIT)]);
    bobBids(h, 115n * USD, 20n * SOL_UNIT);
    // Active price = median{115, 151, 150} = 150: a client's sell limit at 110.20 is outside the O4 band (PriceBand)…
    expect(kinds(h.batch([gtc(CAROL, SOL_USDC, Side.Sell, 110_200_000_000n, SOL_UNIT)]), EventKind.OrderRejected).map((e) => e.code)).toEqual([RejectCode.PriceBand]);
    expect(kinds(h.batch([mark(SOL, 116n * USD)]), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
    // …the engine's step is bounded by its own rule instead (mark × 0.95, Q2): it takes the bid at 115. Before, it was
    // refused with PriceBand every batch and the account stalled while the book could take it.
    const step = h.tick();
    expect(kinds(step, EventKind.OrderRejected)).toEqual([]);
    expect(kinds(step, EventKind.Fill).map((f) => [f.account, f.price, f.quantity])).toEqual([[ALICE, 115n * USD, 910_000_000n]]);
    expect(h.liquidating()).toEqual([]);
  });

  it("Q2: SOL collateral, USDC borrow: after the mark drop one CollateralConversion sells 0.91 SOL at Bob's $115, the 1% fee (1.0465 USDC) goes to the insurance fund, the borrow falls to 896.3965 USDC and the account exits", () => {
    const h = new Harness();
    leveredAlice(h);
    bobBids(h, 115n * USD, 20n * SOL_UNIT);
    // $116: collateral 10 × 116 × 0.9 = 1,044 ≤ 1,000 × 1.05: liquidating at this batch's end (batch 4).
    expect(kinds(h.batch([mark(SOL, 116n * USD)]), EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);

    // Batch 5, phase 0: the USDC borrow is the only item; 10% of it is 100 USDC, raised at the sell bound
    // 116 × 0.95 = 110.20: ceil(100 / 110.20) = 0.9075 → 0.91 SOL (step 0.01).
    const step = h.tick();
    const id = engineOrderId(5, 1, 0, 0);
    expect(id).toBe(ENGINE_ORDER_ID_BASE + 5 * ENGINE_ORDERS_PER_BATCH_MAX);
    const accepted = kinds(step, EventKind.OrderAccepted)[0]!;
    expect([accepted.seq, accepted.account, accepted.orderId, accepted.market, accepted.side, accepted.price, accepted.quantity]).toEqual([0, ALICE, id, SOL_USDC, Side.Sell, 110_200_000_000n, 910_000_000n]);
    const fill = kinds(step, EventKind.Fill)[0]!;
    expect([fill.seq, fill.orderId, fill.price, fill.quantity, fill.quoteQuantity, fill.takerFee]).toEqual([0, id, 115n * USD, 910_000_000n, 104_650_000n, 0n]);
    // 1% of 104.65 USDC = 1.0465 USDC, from the proceeds, to the insurance slice (the liquidation fee replaces the taker fee).
    expect(feeRows(step)).toEqual([[ALICE, SettlementStep.FromBalance, 1_046_500n]]);
    expect(h.insurance(USDC)).toBe(1_046_500n);
    // The rest of the proceeds, 104.65 − 1.0465 = 103.6035 USDC, repays the borrow.
    expect(h.risk(ALICE).poolBalance(ALICE, USDC).borrowed).toBe(1_000_000_000n - 103_603_500n);
    expect(h.risk(ALICE).balance(ALICE, SOL)).toEqual({ available: 9_090_000_000n, locked: 0n });
    expect(h.risk(ALICE).balance(ALICE, USDC)).toEqual({ available: 0n, locked: 0n });
    const done = kinds(step, EventKind.OrderDone)[0]!;
    expect([done.orderId, done.code, done.filledQuantity]).toEqual([id, DoneReason.Filled, 910_000_000n]);
    // Collateral 9.09 × 116 × 0.9 = 948.996, liability 896.3965, MM 5% = 44.819825: MMR 85.2% ≤ 98%: out.
    const ended = kinds(step, EventKind.LiquidationEnded);
    expect(ended.map((e) => [e.seq, e.account, e.netEquityUsd, e.mmr])).toEqual([[0, ALICE, 52_599_500_000n, (44_819_825_000n * USD) / 52_599_500_000n]]);
    expect(h.liquidating()).toEqual([]);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toBeNull();
    // No more steps.
    expect(kinds(h.tick(), EventKind.OrderAccepted)).toEqual([]);
  });

  it("Q6: the step's fill is a row of the account's liquidation history, between LiquidationStarted and LiquidationEnded (0.91 SOL at $115, 104.65 USDC)", () => {
    const h = new Harness();
    leveredAlice(h);
    bobBids(h, 115n * USD, 20n * SOL_UNIT);
    h.batch([mark(SOL, 116n * USD)]);
    h.tick();
    const got = h.batch([{ kind: CommandKind.QueryLiquidationHistory, account: ALICE }]);
    const seq = h.seq;
    expect(got.map((e) => e.kind)).toEqual([EventKind.LiquidationStarted, EventKind.Fill, EventKind.LiquidationEnded, EventKind.CommandAccepted]);
    const fill = got[1]!;
    expect([fill.seq, fill.account, fill.orderId, fill.market, fill.side, fill.price, fill.quantity, fill.quoteQuantity, fill.makerAccount, fill.timeMs]).toEqual([
      seq, ALICE, engineOrderId(5, 1, 0, 0), SOL_USDC, Side.Sell, 115n * USD, 910_000_000n, 104_650_000n, BOB, T0,
    ]);
    // T0: the step runs in phase 0 of the tick's batch, before its AdvanceTime (D3), at the engine time it found.
    // Bob's history (the maker) has no row: the fill was not his liquidation.
    expect(h.batch([{ kind: CommandKind.QueryLiquidationHistory, account: BOB }]).map((e) => e.kind)).toEqual([EventKind.CommandAccepted]);
    expect(Engine.fromSnapshot(config, h.engine.snapshot()).stateHash()).toBe(h.engine.stateHash());
  });

  it("Q2: entering liquidation first cancels the account's resting orders (OrderDone reason Liquidation, holds released); the first step comes the batch after", () => {
    const h = new Harness();
    leveredAlice(h);
    // Two resting buys of SOL (100 USDC deposited, 2 × 20 USDC held).
    h.batch([deposit(ALICE, USDC, 100n * USDC_UNIT), gtc(ALICE, SOL_USDC, Side.Buy, 100n * USD, SOL_UNIT / 5n), gtc(ALICE, SOL_USDC, Side.Buy, 80n * USD, SOL_UNIT / 4n)]);
    expect(h.risk(ALICE).balance(ALICE, USDC)).toEqual({ available: 60n * USDC_UNIT, locked: 40n * USDC_UNIT });
    bobBids(h, 100n * USD, 20n * SOL_UNIT);
    // $100: collateral 10 × 100 × 0.9 + 100 = 1,000 ≤ 1,000 × 1.05.
    h.batch([mark(SOL, 100n * USD)]);
    expect(h.liquidating()).toEqual([ALICE]);

    const cancel = h.tick();
    expect(kinds(cancel, EventKind.OrderDone).map((e) => [e.seq, e.account, e.code, e.price])).toEqual([
      [0, ALICE, DoneReason.Liquidation, 100n * USD],
      [0, ALICE, DoneReason.Liquidation, 80n * USD],
    ]);
    // One CancelAll per market (as a client's over ALL_MARKETS): accepted with the count each canceled.
    const accepted = kinds(cancel, EventKind.CommandAccepted);
    expect(accepted.length).toBe(config.markets.length);
    expect(accepted.every((e) => e.seq === 0 && e.account === ALICE && e.acceptedKind === CommandKind.CancelAll)).toBe(true);
    expect(accepted.map((e) => e.canceledOrders)).toEqual(config.markets.map((m) => (m.id === SOL_USDC ? 2n : 0n)));
    expect(kinds(cancel, EventKind.OrderAccepted)).toEqual([]);
    expect(h.risk(ALICE).balance(ALICE, USDC)).toEqual({ available: 100n * USDC_UNIT, locked: 0n });
    expect(h.liquidating()).toEqual([ALICE]);

    // The batch after (7): the step. 10% of the borrow, 100 USDC, at the bound 95.00: ceil(100 / 95) → 1.06 SOL, sold
    // to Bob at $100: 106 USDC, fee 1.06; 100 + 106 − 1.06 = 204.94 USDC repays the borrow.
    const step = h.tick();
    expect(kinds(step, EventKind.Fill).map((e) => [e.orderId, e.quantity, e.quoteQuantity])).toEqual([[engineOrderId(7, 1, 0, 0), 1_060_000_000n, 106_000_000n]]);
    expect(feeRows(step)).toEqual([[ALICE, SettlementStep.FromBalance, 1_060_000n]]);
    expect(h.risk(ALICE).poolBalance(ALICE, USDC).borrowed).toBe(1_000_000_000n - 204_940_000n);
    // 8.94 × 100 × 0.9 = 804.60 against 795.06 owed: still liquidating, the next batch takes the next step.
    expect(h.liquidating()).toEqual([ALICE]);
    expect(kinds(h.tick(), EventKind.Fill).map((e) => [e.orderId, e.quantity])).toEqual([[engineOrderId(8, 1, 0, 0), 840_000_000n]]);
  });

  it("Q2: a step the book cannot fill within the 5% bound is a recorded stall (Q3/Q4's hand-over), counted per batch, cleared by the next liquidation fill", () => {
    const h = new Harness();
    leveredAlice(h);
    // Bob bids only at $110: below the sell bound 110.20 at the $116 mark.
    bobBids(h, 110n * USD, 20n * SOL_UNIT);
    h.batch([mark(SOL, 116n * USD)]);
    const first = h.tick();
    expect(kinds(first, EventKind.Fill)).toEqual([]);
    expect(kinds(first, EventKind.OrderDone).map((e) => [e.seq, e.code, e.filledQuantity])).toEqual([[0, DoneReason.Expired, 0n]]);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toEqual({ batches: 1, reason: NoStepReason.NoFillWithinBound });
    h.tick();
    expect(h.risk(ALICE).liquidationStall(ALICE)).toEqual({ batches: 2, reason: NoStepReason.NoFillWithinBound });
    expect(h.risk(ALICE).balance(ALICE, SOL)).toEqual({ available: 10n * SOL_UNIT, locked: 0n });
    expect(h.insurance(USDC)).toBe(0n);
    // A bid inside the bound arrives: the next step fills and the stall ends with the liquidation.
    h.batch([gtc(BOB, SOL_USDC, Side.Buy, 112n * USD, 5n * SOL_UNIT)]);
    const filled = h.tick();
    expect(kinds(filled, EventKind.Fill).map((e) => [e.price, e.quantity, e.quoteQuantity])).toEqual([[112n * USD, 910_000_000n, 101_920_000n]]);
    expect(feeRows(filled)).toEqual([[ALICE, SettlementStep.FromBalance, 1_019_200n]]);
    expect(h.risk(ALICE).liquidationStall(ALICE)).toBeNull();
  });
});

describe("Q2 book liquidation of a perpetual position", () => {
  /** Alice (6,100 USDC) buys 1 BTC-PERP at 60,000 from Bob; Carol bids 3 BTC at 54,300; the mark falls to 54,300. */
  function longAlice(h: Harness): void {
    h.batch([deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(BOB, USDC, 100_000n * USDC_UNIT), deposit(CAROL, USDC, 100_000n * USDC_UNIT)]);
    h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT)]);
    h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(BTC_UNIT);
    h.batch([gtc(CAROL, BTC_PERP, Side.Buy, 54_300n * USD, 3n * BTC_UNIT)]);
    h.batch([mark(BTC, 54_300n * USD)]);
  }

  it("X4/D3: a batch of read-only queries alone (sequenced, never journaled) has its phase 0 live — a step of 0.09 BTC; a replay of the journal runs an empty batch for the number it skips: the same fills, order ids and state hash", () => {
    const live = new Harness();
    longAlice(live);
    live.tick();
    const queryBatch = live.journal.length + 1;
    const duringQuery = live.batch([{ kind: CommandKind.QueryCollateral, account: BOB }]);
    expect(kinds(duringQuery, EventKind.Fill).map((f) => [f.seq, f.orderId, f.quantity])).toEqual([[0, engineOrderId(queryBatch, 1, 0, 0), 9_000_000n]]);
    live.tick();
    const liveFills = (events: EventRecord[]) => kinds(events, EventKind.Fill).filter((f) => f.account === ALICE && f.orderId >= ENGINE_ORDER_ID_BASE).map((f) => [f.orderId, f.quantity]);
    // The journal: every batch but the query's, each under its number (the harness's batch i + 1 is journal[i]).
    const journaled = live.journal.map((cmds, i) => ({ cmds, number: i + 1 })).filter((b) => b.number !== queryBatch);
    const replay = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const replayed: EventRecord[] = [];
    for (const b of journaled) replay.processJournalBatch(b.cmds, b.cmds.length, { publish: (e) => void replayed.push(copyEvent(e)) }, b.number);
    expect(replay.stateHash()).toBe(live.engine.stateHash());
    expect(replay.batches).toBe(live.engine.batches);
    const firstStep = engineOrderId(queryBatch - 1, 1, 0, 0);
    expect(liveFills(replayed)).toEqual([[firstStep, 10_000_000n], [engineOrderId(queryBatch, 1, 0, 0), 9_000_000n], [engineOrderId(queryBatch + 1, 1, 0, 0), 8_100_000n]]);
    expect(live.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(72_900_000n);
    // Counting the journal's batches instead (what every replay did): one step fewer, and the last under another id.
    const counted = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const countedEvents: EventRecord[] = [];
    for (const b of journaled) counted.processBatch(b.cmds, b.cmds.length, { publish: (e) => void countedEvents.push(copyEvent(e)) });
    expect(liveFills(countedEvents)).toEqual([[firstStep, 10_000_000n], [engineOrderId(queryBatch, 1, 0, 0), 9_000_000n]]);
    expect(counted.stateHash()).not.toBe(live.engine.stateHash());
  });

  it("Q2: a perp long is reduced step by step (0.1, 0.09, 0.081 BTC: 10% of what is left, reduce-only IOC at the 5% bound), each fill paying 1% of its notional in USDC to the insurance fund", () => {
    const h = new Harness();
    longAlice(h);
    expect(h.liquidating()).toEqual([ALICE]);
    const steps: bigint[][] = [];
    let fees = 0n;
    for (let i = 0; i < 3; i++) {
      const events = h.tick();
      const accepted = kinds(events, EventKind.OrderAccepted)[0]!;
      // Sell bound: 54,300 × 0.95 = 51,585.0 (tick 0.1).
      expect([accepted.seq, accepted.side, accepted.price]).toEqual([0, Side.Sell, 51_585n * USD]);
      const fill = kinds(events, EventKind.Fill)[0]!;
      expect(fill.makerAccount).toBe(CAROL);
      const fee = (fill.quoteQuantity + 99n) / 100n;
      expect(feeRows(events)).toEqual([[ALICE, SettlementStep.FromBalance, fee]]);
      fees += fee;
      steps.push([fill.quantity, fill.price, fill.quoteQuantity, fee]);
    }
    expect(steps).toEqual([
      [10_000_000n, 54_300n * USD, 5_430_000_000n, 54_300_000n],
      [9_000_000n, 54_300n * USD, 4_887_000_000n, 48_870_000n],
      [8_100_000n, 54_300n * USD, 4_398_300_000n, 43_983_000n],
    ]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(72_900_000n);
    expect(fees).toBe(147_153_000n);
    // The fund holds the fees, and it is also the counterparty of realized PnL (P5, D4): the steps closed 0.271 BTC
    // 5,700 below Alice's entry (a 1,544.7 USDC loss realized); Carol's side is unrealized until the next 10 s mark.
    expect(h.insurance(USDC)).toBe(fees + 1_544_700_000n);
    // The BTC-PERP MMF (≈ 0.67%) is below the 1% fee, so these steps alone do not lower Alice's MMR: she stays
    // liquidating (the backstop, Q3, takes such an account over when it lands). A recovering mark lets her out.
    expect(h.liquidating()).toEqual([ALICE]);
    const out = h.batch([mark(BTC, 56_000n * USD)]);
    expect(kinds(out, EventKind.LiquidationEnded).map((e) => e.account)).toEqual([ALICE]);
    expect(kinds(h.tick(), EventKind.OrderAccepted)).toEqual([]);
  });
});

describe("D3 engine order ids", () => {
  it("Q2/D3: orderId = 2^52 + (B × riskShards + shard) × ENGINE_ORDERS_PER_BATCH_MAX + i; batches take turns through more than the per-batch maximum", () => {
    expect(engineOrderId(7, 2, 1, 3)).toBe(2 ** 52 + 15 * 256 + 3);
    expect(ENGINE_ORDERS_PER_BATCH_MAX).toBe(256);
    expect(firstServedIndex(9, 256, 256)).toBe(0);
    // 600 waiting: three turns of 256 (the last wraps around to the first accounts).
    expect([0, 1, 2, 3].map((b) => firstServedIndex(b, 600, 256))).toEqual([0, 256, 512, 0]);
  });
});

// ---------------------------------------------------------------- X4: threaded = in-process, with Q2 steps

function eventText(e: EventRecord): string {
  const text = `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${eventCodeSlot(e)}|${eventPriceSlot(e)}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.timeMs}`;
  const status = e.kind === EventKind.LiquidationStarted || e.kind === EventKind.LiquidationEnded;
  return status ? `${text}|${e.netEquityUsd}|${e.exposureUsd}|${e.mmf}|${e.mmr}` : text;
}

/** Both scenarios above in one journal, users on both risk shards of a 2 × 2 topology, a tick per batch after. */
function liquidationStream(): CommandRecord[][] {
  const stream: CommandRecord[][] = [];
  let seq = 0;
  let timeMs = T0;
  const add = (list: Partial<CommandRecord>[]) => stream.push(list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++seq })));
  add([{ kind: CommandKind.AdvanceTime, timeMs: T0 }]);
  const DAVE = 80; // a second spot-margin borrower, on the other risk shard of two
  add([
    deposit(LENDER, USDC, 20_000n * USDC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 20_000n * USDC_UNIT },
  ]);
  add([
    deposit(ALICE, SOL, 10n * SOL_UNIT),
    deposit(ALICE, USDC, 10n * USDC_UNIT),
    gtc(ALICE, SOL_USDC, Side.Buy, 110n * USD, SOL_UNIT / 20n),
    deposit(DAVE, SOL, 10n * SOL_UNIT),
    { kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
    { kind: CommandKind.Withdraw, account: DAVE, asset: USDC, amount: 1_020n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
    deposit(BOB, USDC, 100_000n * USDC_UNIT),
    deposit(CAROL, USDC, 100_000n * USDC_UNIT),
  ]);
  add([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT), deposit(CAROL + 1, USDC, 6_100n * USDC_UNIT)]);
  add([gtc(CAROL + 1, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
  add([gtc(CAROL, BTC_PERP, Side.Buy, 54_300n * USD, 3n * BTC_UNIT), gtc(BOB, SOL_USDC, Side.Buy, 116n * USD, 8n * SOL_UNIT)]);
  add([mark(SOL, 116n * USD), mark(BTC, 54_300n * USD)]);
  for (let i = 0; i < 6; i++) add([{ kind: CommandKind.AdvanceTime, timeMs: (timeMs += 1000) }]);
  add([mark(SOL, 112n * USD)]);
  for (let i = 0; i < 6; i++) add([{ kind: CommandKind.AdvanceTime, timeMs: (timeMs += 1000) }]);
  return stream;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("X4 with Q2 steps", () => {
  const stream = liquidationStream();

  function inProcess(topology: EngineTopology): { events: string[]; hash: string } {
    const engine = new Engine(config, topology);
    const events: string[] = [];
    const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
    for (const b of stream) engine.processBatch(b, b.length, sink);
    return { events, hash: engine.stateHash() };
  }

  it("Q2, X7: the stream liquidates on both shards of 2 × 2 (fills of engine orders on each) and a snapshot mid-liquidation restores into an engine that goes on identically", () => {
    const engine = new Engine(config, { riskShards: 2, matchingShards: 2 });
    const fills = new Set<number>();
    const canceled = new Set<number>();
    const sink: EventSink = {
      publish: (e) => {
        if (e.kind === EventKind.Fill && e.orderId >= ENGINE_ORDER_ID_BASE) fills.add(e.account);
        if (e.kind === EventKind.OrderDone && e.code === DoneReason.Liquidation) canceled.add(e.account);
      },
    };
    const half = 8;
    for (let i = 0; i < half; i++) engine.processBatch(stream[i]!, stream[i]!.length, sink);
    const restored = Engine.fromSnapshot(config, engine.snapshot());
    const a: string[] = [];
    const b: string[] = [];
    for (let i = half; i < stream.length; i++) {
      engine.processBatch(stream[i]!, stream[i]!.length, { publish: (e) => { sink.publish(e); a.push(eventText(e)); } });
      restored.processBatch(stream[i]!, stream[i]!.length, { publish: (e) => b.push(eventText(e)) });
    }
    // Alice's resting buy is canceled, then her borrow is stepped (shard 0), as are Dave's (shard 1) and Carol + 1's long (shard 0).
    expect([...canceled]).toEqual([ALICE]);
    expect([...fills].sort((x, y) => x - y)).toEqual([ALICE, CAROL + 1, 80]);
    expect(b).toEqual(a);
    expect(restored.stateHash()).toBe(engine.stateHash());
  });

  for (const [topology, stages] of [
    [{ riskShards: 1, matchingShards: 1 }, "fused"],
    [{ riskShards: 1, matchingShards: 1 }, "split"],
    [{ riskShards: 2, matchingShards: 2 }, "split"],
  ] as const) {
    it(`X4, Q2: threaded ${topology.riskShards}×${topology.matchingShards} ${stages} gives the in-process engine orders, fills, fees and hash`, async () => {
      const expected = inProcess(topology);
      expect(expected.events.filter((t) => t.startsWith(`${EventKind.Fill}|0|`)).length).toBeGreaterThan(4);
      const { events, fatal, hash } = await runThreaded(config, stream, eventText, { topology, stages }, running);
      expect(fatal).toEqual([]);
      expect(hash).toBe(expected.hash);
      if (topology.riskShards === 1) expect(events).toEqual(expected.events);
      else expect([...events].sort()).toEqual([...expected.events].sort());
    }, 60_000);
  }
});
