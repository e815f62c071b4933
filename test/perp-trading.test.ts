// Perpetual trading through the engine (SPEC P1, C4, C5, C8, S5, O1 reduceOnly, P6, P8): perp orders go through R1 →
// matching → R2 like spot; positions, fees in USDC, the USDC settlement waterfall and the position report — with the
// seeds' examples in exact amounts.
import { afterEach, describe, expect, it } from "vitest";
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  CommandKind,
  CommandRecord,
  DoneReason,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  RATIO_SCALE,
  rejectCodeName,
  Side,
  TimeInForce,
  type ExchangeConfig,
} from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventSideSlot } from "../engine/model/generated/records.ts";
import { prng } from "./helpers/random-commands.ts";
import { riskShardOf, SettlementReason, SettlementStep, type RiskShard } from "../engine/risk/index.ts";

const config = loadConfig();
const USDC = 0;
const USDT = 1;
const BTC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const PRICE = 1_000_000_000n; // PRICE_DECIMALS = 9
const T0 = 1_767_225_600_000;
const ALICE = 16;
const BOB = 32;
const CAROL = 48;
const LENDER = 64;
const DAVE = 80;

class Harness {
  readonly engine: Engine;
  seq = 0;

  constructor(cfg: ExchangeConfig = config, topology: EngineTopology = { riskShards: 1, matchingShards: 1 }, restored: Engine | null = null) {
    this.engine = restored ?? new Engine(cfg, topology);
    if (restored === null) this.run({ kind: CommandKind.AdvanceTime, timeMs: T0 });
    else this.seq = restored.lastSeq;
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
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

  deposit(account: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.Deposit, account, asset, amount });
  }

  order(account: number, side: number, price: bigint, quantity: bigint, flags = 0, market = BTC_PERP): EventRecord[] {
    return this.run(orderFields(account, side, price, quantity, flags, market));
  }

  settings(account: number, on: number, off = 0): EventRecord[] {
    return this.run({ kind: CommandKind.UpdateAccountSettings, account, flags: on | off | (on << ACCOUNT_SETTING_VALUE_SHIFT) });
  }

  slots(account: number, asset: number): { available: bigint; locked: bigint; lent: bigint; borrowed: bigint } {
    const r = this.risk(account);
    return { ...r.balance(account, asset), ...r.poolBalance(account, asset) };
  }
}

function orderFields(account: number, side: number, price: bigint, quantity: bigint, flags = 0, market = BTC_PERP): Partial<CommandRecord> {
  const type = price === 0n ? OrderType.Market : OrderType.Limit;
  const tif = price === 0n ? TimeInForce.IOC : TimeInForce.GTC;
  return { kind: CommandKind.PlaceOrder, account, market, side, orderType: type, tif, price, quantity, flags };
}

function rejects(events: EventRecord[]): string[] {
  return events.filter((e) => e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected).map((e) => rejectCodeName[e.code]!);
}

function settlements(events: EventRecord[], account: number): [number, number, bigint][] {
  return events.filter((e) => e.kind === EventKind.Settlement && e.account === account).map((e) => [e.settlementReason, e.settlementStep, e.settledAmount]);
}

const usdc = (n: bigint | number): bigint => BigInt(n) * USDC_UNIT;
const btc = (n: number): bigint => BigInt(Math.round(n * 10_000)) * (BTC_UNIT / 10_000n);
const price = (n: number): bigint => BigInt(n) * PRICE;

/** Alice buys `qty` BTC perp from Bob at `p` (Bob rests, Alice takes). */
function cross(h: Harness, buyer: number, seller: number, p: number, qty: number): EventRecord[] {
  expect(rejects(h.order(seller, Side.Sell, price(p), btc(qty)))).toEqual([]);
  const events = h.order(buyer, Side.Buy, price(p), btc(qty));
  expect(rejects(events)).toEqual([]);
  return events;
}

describe("perpetual trading (P1, S5)", () => {
  it("P1/S5: a fill opens both positions at the trade price; fees are charged in USDC by tier (taker 10 bps, maker 8 bps); open interest = Σ longs", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, usdc(10_000));
    h.deposit(BOB, USDC, usdc(10_000));
    const events = cross(h, ALICE, BOB, 60_000, 1);
    const fill = events.find((e) => e.kind === EventKind.Fill)!;
    expect(fill.takerFee).toBe(usdc(60));
    expect(fill.makerFee).toBe(usdc(48));
    const a = h.risk(ALICE).perpPosition(ALICE, BTC_PERP);
    const b = h.risk(BOB).perpPosition(BOB, BTC_PERP);
    expect([a.netQuantity, a.entryPrice, a.pnlRealized]).toEqual([btc(1), price(60_000), 0n]);
    expect([b.netQuantity, b.entryPrice]).toEqual([-btc(1), price(60_000)]);
    // No spot-style hold: the whole balance stays available, less the fee.
    expect(h.slots(ALICE, USDC)).toEqual({ available: usdc(9_940), locked: 0n, lent: 0n, borrowed: 0n });
    expect(h.slots(BOB, USDC)).toEqual({ available: usdc(9_952), locked: 0n, lent: 0n, borrowed: 0n });
    expect(h.engine.risk[0]!.feeBalance(USDC)).toBe(usdc(108));
    expect(h.engine.risk[0]!.openInterest(BTC_PERP)).toBe(btc(1));
    expect(settlements(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.FromBalance, usdc(60)]]);
    expect(settlements(events, BOB)).toEqual([[SettlementReason.Fee, SettlementStep.FromBalance, usdc(48)]]);
    // Break-even: entry moved by the fee paid (60 USDC over 1 BTC).
    expect(a.breakEvenPrice).toBe(price(60_060));
    expect(b.breakEvenPrice).toBe(price(60_000 - 48));
  });

  it("P1: growing averages the entry (VWAP); reducing realizes at the entry; crossing zero closes, realizes, then opens at the trade price; pnlRealized is cumulative", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 1);
    cross(h, ALICE, BOB, 63_000, 0.5);
    let a = h.risk(ALICE).perpPosition(ALICE, BTC_PERP);
    expect([a.netQuantity, a.entryPrice]).toEqual([btc(1.5), price(61_000)]);
    // Alice sells 0.5 at 62,000 to Carol: +500 USDC realized at the 61,000 entry; fee 31 USDC.
    expect(rejects(h.order(CAROL, Side.Buy, price(62_000), btc(0.5)))).toEqual([]);
    const reduce = h.order(ALICE, Side.Sell, price(62_000), btc(0.5));
    a = h.risk(ALICE).perpPosition(ALICE, BTC_PERP);
    expect([a.netQuantity, a.entryPrice, a.pnlRealized]).toEqual([btc(1), price(61_000), usdc(500)]);
    expect(settlements(reduce, ALICE)).toEqual([
      [SettlementReason.RealizedPnl, SettlementStep.ToBalance, usdc(500)],
      [SettlementReason.Fee, SettlementStep.FromBalance, usdc(31)],
    ]);
    // Alice sells 3 at 59,000 to Carol: closes 1 (−2,000 realized), opens −2 at 59,000.
    expect(rejects(h.order(CAROL, Side.Buy, price(59_000), btc(3)))).toEqual([]);
    h.order(ALICE, Side.Sell, price(59_000), btc(3));
    a = h.risk(ALICE).perpPosition(ALICE, BTC_PERP);
    expect([a.netQuantity, a.entryPrice, a.pnlRealized]).toEqual([-btc(2), price(59_000), usdc(500 - 2_000)]);
    const c = h.risk(CAROL).perpPosition(CAROL, BTC_PERP);
    expect([c.netQuantity, c.entryPrice]).toEqual([btc(3.5), 0n + (btc(0.5) * price(62_000) + btc(3) * price(59_000)) / btc(3.5)]);
    // Fees: 60 + 31.5 (0.5 × 63,000 × 10 bps) + 31 + 177 (3 × 59,000 × 10 bps), all taker.
    expect(h.slots(ALICE, USDC).available).toBe(usdc(100_000) + usdc(500) - usdc(2_000) - usdc(60) - 31_500_000n - usdc(31) - usdc(177));
    // Open interest: longs are Carol 3.5 (Bob is short 1.5, Alice short 2).
    expect(h.engine.risk[0]!.openInterest(BTC_PERP)).toBe(btc(3.5));
    // X1 with perpetuals: Σ USDC (fee account and insurance slice included) = deposits exactly — the slice is the
    // counterparty of realized PnL (D4, risk/realization.ts): it holds −Σ realized until the other sides realize.
    const realized = [ALICE, BOB, CAROL].reduce((sum, acct) => sum + h.risk(acct).perpPosition(acct, BTC_PERP).pnlRealized, 0n);
    expect(realized).toBe(-usdc(1_500));
    expect(h.engine.risk[0]!.insuranceBalance(USDC)).toBe(-realized);
    expect(h.engine.risk[0]!.totals()[USDC]).toBe(usdc(300_000));
  });

  it("S5/P1: a perp order holds no asset: its margin is its open-order exposure (C4), released when it is cancelled", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, usdc(10_000));
    const placed = h.order(ALICE, Side.Buy, price(59_000), btc(1));
    const id = placed.find((e) => e.kind === EventKind.OrderAccepted)!.orderId;
    expect(h.slots(ALICE, USDC)).toEqual({ available: usdc(10_000), locked: 0n, lent: 0n, borrowed: 0n });
    const st = h.risk(ALICE).collateralStatement(ALICE);
    // C4: 1 BTC of open buys at the 60,000 mark is 60,000 USD of exposure, locking 10% (leverage 10).
    expect(st.exposureUsd).toBe(price(60_000));
    expect(st.netEquityLockedUsd).toBe(price(6_000));
    h.run({ kind: CommandKind.CancelOrder, account: ALICE, market: BTC_PERP, orderId: id });
    expect(h.risk(ALICE).collateralStatement(ALICE).exposureUsd).toBe(0n);
  });

  it("C8/C5: a perp order is refused at IMR ≥ 100% after its full fill with the USDC fee — to the step (6,060 USDC at leverage 10 buys < 1 BTC at 60,000)", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, usdc(6_060));
    // 1 BTC: IM = 6,000, equity after the 60 USDC fee = 6,000: IMR = 100% → refused.
    expect(rejects(h.order(ALICE, Side.Buy, price(60_000), btc(1)))).toEqual(["InsufficientMargin"]);
    // One step less (0.9999 BTC): IM 5,999.4 < equity 6,060 − 59.994 → accepted.
    expect(rejects(h.order(ALICE, Side.Buy, price(60_000), btc(0.9999)))).toEqual([]);
  });

  it("C4/C8: a perp order better than the mark is valued at the mark — its gain pays none of its own margin (1,000 USDC cannot rest 1 BTC at 66,000 / 54,000 while the mark is 60,000)", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, usdc(1_000));
    // Valued at its limit, the sell's fill would gain 6,000 USD against the 60,000 mark (equity 1,000 − 66 fee + 6,000
    // = 6,934 > IM 6,000) and pass; resting, it is 60,000 USD of exposure on 1,000 of equity: MMR ≥ 100% at once.
    // Valued at the mark: equity 1,000 − 66 = 934 < 6,000 → refused. The same for a buy below the mark.
    expect(rejects(h.order(ALICE, Side.Sell, price(66_000), btc(1)))).toEqual(["InsufficientMargin"]);
    expect(rejects(h.order(ALICE, Side.Buy, price(54_000), btc(1)))).toEqual(["InsufficientMargin"]);
    // 0.1 BTC at 66,000: IM 600 < equity 1,000 − 6.6 → accepted, and the account rests far from liquidation.
    expect(rejects(h.order(ALICE, Side.Sell, price(66_000), btc(0.1)))).toEqual([]);
    const st = h.risk(ALICE).collateralStatement(ALICE);
    expect(st.exposureUsd).toBe(price(6_000));
    expect(st.netEquityLockedUsd).toBe(price(600));
    expect(h.risk(ALICE).liquidatingAccounts()).toEqual([]);
  });

  it("O1/P1 reduceOnly: risk supplies the position; a reducing order is capped at it (ReduceOnlyCapped), a non-reducing one refused", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 1);
    expect(rejects(h.order(ALICE, Side.Buy, price(60_000), btc(1), OrderFlag.ReduceOnly))).toEqual(["ReduceOnlyNotReducing"]);
    h.order(BOB, Side.Buy, price(60_000), btc(3));
    const events = h.order(ALICE, Side.Sell, price(60_000), btc(3), OrderFlag.ReduceOnly);
    const done = events.find((e) => e.kind === EventKind.OrderDone && e.account === ALICE)!;
    expect(done.code).toBe(DoneReason.ReduceOnlyCapped);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
    expect(h.engine.risk[0]!.openInterest(BTC_PERP)).toBe(0n);
  });

  it("O1 FOK, P1 reduceOnly: Alice (long 1 BTC) rests a sell of 0.9 at 60,000 and a reduceOnly sell of 0.7 at 60,010; Carol's FOK buy of 1.1 is FokUnfilled — after the 0.9 only 0.1 of the reduceOnly sell still reduces — before, the FOK's dry run counted all 0.7 and it filled 1.0 of 1.1 (matching differential, random seed 1678507197)", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(200_000));
    cross(h, ALICE, BOB, 60_000, 1); // Alice long 1
    expect(rejects(h.order(ALICE, Side.Sell, price(60_000), btc(0.9)))).toEqual([]);
    expect(rejects(h.order(ALICE, Side.Sell, price(60_010), btc(0.7), OrderFlag.ReduceOnly))).toEqual([]);
    const events = h.run({ ...orderFields(CAROL, Side.Buy, price(60_100), btc(1.1)), tif: TimeInForce.FOK });
    expect(events.filter((e) => e.kind === EventKind.Fill)).toEqual([]);
    expect(events.filter((e) => e.kind === EventKind.OrderDone).map((e) => [e.account, e.code])).toEqual([[CAROL, DoneReason.FokUnfilled]]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(btc(1));
    // A FOK of 1.0 (what the book can give: 0.9 and the 0.1 the reduceOnly sell still reduces) fills whole.
    const filled = h.run({ ...orderFields(CAROL, Side.Buy, price(60_100), btc(1)), tif: TimeInForce.FOK });
    expect([...new Set(filled.filter((e) => e.kind === EventKind.Fill).map((e) => `${e.quantity}@${e.price}`))]).toEqual([`${btc(0.9)}@${price(60_000)}`, `${btc(0.1)}@${price(60_010)}`]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
  });

  it("O1/P1 reduceOnly at fill time: a resting reduceOnly sell whose long was closed meanwhile is removed when hit, opening no short", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 0.1); // Alice long 0.1
    expect(rejects(h.order(ALICE, Side.Sell, price(61_000), btc(0.1), OrderFlag.ReduceOnly))).toEqual([]); // rests
    // Alice closes the long with a plain sell that Carol takes.
    expect(rejects(h.order(ALICE, Side.Sell, price(60_500), btc(0.1)))).toEqual([]);
    expect(rejects(h.order(CAROL, Side.Buy, price(60_500), btc(0.1), 0, BTC_PERP))).toEqual([]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
    // Carol now lifts 61,000: the reduceOnly sell reduces nothing any more, so the book removes it and fills nothing
    // (before: it filled 0.1 and opened a 0.1 short that no margin check had judged).
    const events = h.order(CAROL, Side.Buy, price(61_000), btc(0.1), 0, BTC_PERP);
    expect(events.filter((e) => e.kind === EventKind.Fill)).toEqual([]);
    const done = events.find((e) => e.kind === EventKind.OrderDone && e.account === ALICE)!;
    expect([done.code, done.filledQuantity]).toEqual([DoneReason.ReduceOnlyCapped, 0n]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netExposureQuantity).toBe(0n); // no open order left either
  });

  it("O1/P1 reduceOnly at fill time: a resting reduceOnly sell fills only what is left of a long that shrank (0.04 of 0.1), then is done", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 0.1);
    expect(rejects(h.order(ALICE, Side.Sell, price(61_000), btc(0.1), OrderFlag.ReduceOnly))).toEqual([]);
    expect(rejects(h.order(ALICE, Side.Sell, price(60_500), btc(0.06)))).toEqual([]);
    expect(rejects(h.order(CAROL, Side.Buy, price(60_500), btc(0.06)))).toEqual([]); // long 0.04 left
    const events = h.order(CAROL, Side.Buy, price(61_000), btc(0.1));
    const fills = events.filter((e) => e.kind === EventKind.Fill);
    expect(fills.map((f) => [f.makerAccount, f.quantity])).toEqual([[ALICE, btc(0.04)]]);
    const done = events.find((e) => e.kind === EventKind.OrderDone && e.account === ALICE)!;
    expect([done.code, done.filledQuantity]).toEqual([DoneReason.ReduceOnlyCapped, btc(0.04)]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
    expect(h.risk(CAROL).perpPosition(CAROL, BTC_PERP).netQuantity).toBe(btc(0.1)); // 0.06 + 0.04; 0.06 of hers rests
  });

  it("X7/O1: the market's position replica survives snapshot and restore: the restored book caps the reduceOnly sell at the 0.04 left", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 0.1);
    expect(rejects(h.order(ALICE, Side.Sell, price(61_000), btc(0.1), OrderFlag.ReduceOnly))).toEqual([]);
    expect(rejects(h.order(ALICE, Side.Sell, price(60_500), btc(0.06)))).toEqual([]);
    expect(rejects(h.order(CAROL, Side.Buy, price(60_500), btc(0.06)))).toEqual([]);
    const restored = new Harness(config, { riskShards: 1, matchingShards: 1 }, Engine.fromSnapshot(config, h.engine.snapshot()));
    expect(restored.engine.stateHash()).toBe(h.engine.stateHash());
    for (const x of [h, restored]) {
      const events = x.order(CAROL, Side.Buy, price(61_000), btc(0.1));
      expect(events.filter((e) => e.kind === EventKind.Fill).map((f) => f.quantity)).toEqual([btc(0.04)]);
      expect(events.find((e) => e.kind === EventKind.OrderDone && e.account === ALICE)!.code).toBe(DoneReason.ReduceOnlyCapped);
    }
    expect(restored.engine.stateHash()).toBe(h.engine.stateHash());
  });

  it("O1/P1 reduceOnly within one batch: the cap is the position at that moment, not risk's view from before the batch", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 0.1);
    expect(rejects(h.order(CAROL, Side.Buy, price(60_000), btc(0.2)))).toEqual([]);
    // One batch: Alice's plain sell closes the long, then her reduceOnly sell — risk still sees the 0.1 long (it
    // applies the batch's fills after it), matching sees none: refused, and Alice ends flat, not short.
    const events = h.batch([orderFields(ALICE, Side.Sell, price(60_000), btc(0.1)), orderFields(ALICE, Side.Sell, price(60_000), btc(0.1), OrderFlag.ReduceOnly)]);
    expect(rejects(events)).toEqual(["ReduceOnlyNotReducing"]);
    expect(events.filter((e) => e.kind === EventKind.Fill).map((f) => f.quantity)).toEqual([btc(0.1)]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
  });

  it("O1/P1 FOK against reduceOnly makers: judged by what each may fill now, so a FOK the caps cannot fill is unfilled, not partly filled", () => {
    const h = new Harness();
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 0.1);
    // Two reduceOnly sells of 0.1 each rest on a 0.1 long: together they may fill 0.1, not 0.2.
    expect(rejects(h.order(ALICE, Side.Sell, price(61_000), btc(0.1), OrderFlag.ReduceOnly))).toEqual([]);
    expect(rejects(h.order(ALICE, Side.Sell, price(61_000), btc(0.1), OrderFlag.ReduceOnly))).toEqual([]);
    const fok = h.run({ ...orderFields(CAROL, Side.Buy, price(61_000), btc(0.15)), tif: TimeInForce.FOK });
    expect(fok.filter((e) => e.kind === EventKind.Fill)).toEqual([]);
    expect(fok.find((e) => e.kind === EventKind.OrderDone && e.account === CAROL)!.code).toBe(DoneReason.FokUnfilled);
    const ok = h.run({ ...orderFields(CAROL, Side.Buy, price(61_000), btc(0.1)), tif: TimeInForce.FOK });
    expect(ok.filter((e) => e.kind === EventKind.Fill).map((f) => f.quantity)).toEqual([btc(0.1)]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).netQuantity).toBe(0n);
  });

  it("P1 openInterestLimit: an order whose opening part would take open interest above the limit is refused; a reducing one passes", () => {
    const limited: ExchangeConfig = { ...config, markets: config.markets.map((m) => (m.id === BTC_PERP ? { ...m, openInterestLimit: btc(2) } : m)) };
    const h = new Harness(limited);
    for (const acct of [ALICE, BOB, CAROL]) h.deposit(acct, USDC, usdc(100_000));
    cross(h, ALICE, BOB, 60_000, 1.5);
    expect(h.engine.risk[0]!.openInterest(BTC_PERP)).toBe(btc(1.5));
    const refused = h.order(CAROL, Side.Buy, price(60_000), btc(0.6));
    expect(rejects(refused)).toEqual(["OpenInterestLimit"]);
    expect(refused.find((e) => e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected)!.message).toBe(
      "BTC_USDC_PERP: open interest 1.5 + 0.6 would exceed the openInterestLimit 2 (P1)",
    );
    expect(rejects(h.order(CAROL, Side.Buy, price(60_000), btc(0.5)))).toEqual([]);
    // Alice selling 1.5 only reduces her long: no opening part.
    expect(rejects(h.order(ALICE, Side.Sell, price(60_000), btc(1.5)))).toEqual([]);
  });

  /** BTC_USDC_PERP with an openInterestLimit of 2 BTC; Alice, Bob, Carol and Dave (80) hold 100,000 USDC each, and
   * Alice and Bob each rest a bid of 1.5 BTC at 60,000 (each passes R1 at open interest 0). */
  function twoBids(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }): Harness {
    const limited: ExchangeConfig = { ...config, markets: config.markets.map((m) => (m.id === BTC_PERP ? { ...m, openInterestLimit: btc(2) } : m)) };
    const h = new Harness(limited, topology);
    for (const acct of [ALICE, BOB, CAROL, DAVE]) h.deposit(acct, USDC, usdc(100_000));
    expect(rejects(h.order(ALICE, Side.Buy, price(60_000), btc(1.5)))).toEqual([]);
    expect(rejects(h.order(BOB, Side.Buy, price(60_000), btc(1.5)))).toEqual([]);
    return h;
  }

  for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }] as const) {
    it(`P1 openInterestLimit at fill time (${topology.riskShards}×${topology.matchingShards}): two takers accepted in one batch, each under the limit at R1, fill only up to it; the second's rest ends OpenInterestLimit`, () => {
      const h = twoBids(topology);
      // R1 sees open interest 0 for both (risk's copy lags the batch): each 1.5 passes. Before this rule was enforced at
      // fill time, both filled and open interest reached 3 with a limit of 2.
      const ioc = (account: number): Partial<CommandRecord> => ({ ...orderFields(account, Side.Sell, price(60_000), btc(1.5)), tif: TimeInForce.IOC });
      const events = h.batch([ioc(CAROL), ioc(DAVE)]);
      expect(rejects(events)).toEqual([]);
      const fills = new Map<number, bigint>();
      for (const e of events) if (e.kind === EventKind.Fill) fills.set(e.tradeId, e.quantity);
      expect([...fills.values()]).toEqual([btc(1.5), btc(0.5)]);
      const daveDone = events.find((e) => e.kind === EventKind.OrderDone && e.account === DAVE)!;
      expect([daveDone.code, daveDone.filledQuantity]).toEqual([DoneReason.OpenInterestLimit, btc(0.5)]);
      for (const r of h.engine.risk) expect(r.openInterest(BTC_PERP)).toBe(btc(2));
      expect(h.risk(DAVE).perpPosition(DAVE, BTC_PERP).netQuantity).toBe(-btc(0.5));
      // Bob's bid keeps its last 1 BTC; at the limit an opening taker is refused at R1 now (its copy has caught up)...
      expect(rejects(h.batch([ioc(CAROL)]))).toEqual(["OpenInterestLimit"]);
      // ...while a taker that reduces fills it (Alice sells 1 of her 1.5 long to Bob: open interest stays 2).
      const reducing = h.batch([{ ...orderFields(ALICE, Side.Sell, price(60_000), btc(1)), tif: TimeInForce.IOC }]);
      expect(reducing.filter((e) => e.kind === EventKind.Fill).map((e) => e.quantity).slice(0, 1)).toEqual([btc(1)]);
      for (const r of h.engine.risk) expect(r.openInterest(BTC_PERP)).toBe(btc(2));
    });
  }

  it("P1 openInterestLimit at fill time: a taker whose first fill would open past the limit fills nothing (OrderDone OpenInterestLimit, 0 filled); the maker stays", () => {
    const h = twoBids();
    const ioc = (account: number, q: bigint): Partial<CommandRecord> => ({ ...orderFields(account, Side.Sell, price(60_000), q), tif: TimeInForce.IOC });
    const events = h.batch([ioc(CAROL, btc(2)), ioc(DAVE, btc(1))]);
    expect(events.filter((e) => e.kind === EventKind.Fill && e.account === CAROL).map((e) => e.quantity)).toEqual([btc(1.5), btc(0.5)]);
    expect(events.filter((e) => e.kind === EventKind.Fill && e.account === DAVE)).toEqual([]);
    const daveDone = events.find((e) => e.kind === EventKind.OrderDone && e.account === DAVE)!;
    expect([daveDone.code, daveDone.filledQuantity]).toEqual([DoneReason.OpenInterestLimit, 0n]);
    expect(h.engine.risk[0]!.openInterest(BTC_PERP)).toBe(btc(2));
    // Bob's bid rests with 1 BTC left: Alice, reducing her long, sells it all to him.
    const reducing = h.batch([{ ...orderFields(ALICE, Side.Sell, price(60_000), btc(1)), tif: TimeInForce.IOC }]);
    expect(reducing.filter((e) => e.kind === EventKind.Fill && e.account === ALICE).map((e) => e.quantity)).toEqual([btc(1)]);
    expect(h.risk(BOB).perpPosition(BOB, BTC_PERP).netQuantity).toBe(btc(1.5));
  });

  it("P1 openInterestLimit at fill time: a FOK that could only fill past the limit does not fill at all (FokUnfilled)", () => {
    const h = twoBids();
    const fok = (account: number): Partial<CommandRecord> => ({ ...orderFields(account, Side.Sell, price(60_000), btc(1)), tif: TimeInForce.FOK });
    // In one batch: Carol's FOK of 1 fills (open interest 1); Dave's FOK of 1.5 would take it to 2.5: none of it fills.
    const events = h.batch([fok(CAROL), { ...fok(DAVE), quantity: btc(1.5) }]);
    expect(events.filter((e) => e.kind === EventKind.Fill && e.account === CAROL).map((e) => e.quantity)).toEqual([btc(1)]);
    expect(events.filter((e) => e.kind === EventKind.Fill && e.account === DAVE)).toEqual([]);
    expect(events.find((e) => e.kind === EventKind.OrderDone && e.account === DAVE)!.code).toBe(DoneReason.FokUnfilled);
    expect(h.engine.risk[0]!.openInterest(BTC_PERP)).toBe(btc(1));
  });
});

describe("USDC settlement waterfall (P6)", () => {
  /** A USDC pool with 100,000 lent by LENDER. */
  function withUsdcPool(h: Harness): void {
    h.deposit(LENDER, USDC, usdc(100_000));
    expect(rejects(h.run({ kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: usdc(100_000) }))).toEqual([]);
  }

  it("P6 seed 004: a 1 USDC opening fee on an account holding only BTC becomes a 1 USDC borrow; no BTC is sold", () => {
    const h = new Harness();
    withUsdcPool(h);
    h.deposit(ALICE, BTC, btc(1));
    h.deposit(BOB, USDC, usdc(10_000));
    // 0.02 BTC at 50,000 = 1,000 USDC of notional: a 10 bps taker fee of 1 USDC.
    expect(rejects(h.order(BOB, Side.Sell, price(50_000), btc(0.02)))).toEqual([]);
    const events = h.order(ALICE, Side.Buy, price(50_000), btc(0.02));
    expect(rejects(events)).toEqual([]);
    expect(events.find((e) => e.kind === EventKind.Fill)!.takerFee).toBe(usdc(1));
    expect(settlements(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.Borrow, usdc(1)]]);
    const slots = h.slots(ALICE, USDC);
    expect([slots.available, slots.lent]).toEqual([0n, 0n]);
    expect(slots.borrowed).toBeGreaterThanOrEqual(usdc(1)); // 1 USDC plus the L6 entry fee of the borrow
    expect(h.slots(ALICE, BTC)).toEqual({ available: btc(1), locked: 0n, lent: 0n, borrowed: 0n });
  });

  it("P6 seed 002: an account whose only collateral is USDT trades a perp; its fee becomes a USDC borrow and the USDT stays untouched", () => {
    const h = new Harness();
    withUsdcPool(h);
    h.deposit(ALICE, USDT, usdc(5_000));
    h.deposit(BOB, USDC, usdc(10_000));
    h.order(BOB, Side.Sell, price(60_000), btc(0.1));
    const events = h.order(ALICE, Side.Buy, price(60_000), btc(0.1));
    expect(rejects(events)).toEqual([]);
    expect(settlements(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.Borrow, usdc(6)]]);
    expect(h.slots(ALICE, USDT)).toEqual({ available: usdc(5_000), locked: 0n, lent: 0n, borrowed: 0n });
    expect(h.slots(ALICE, USDC).available).toBe(0n);
  });

  it("P6: lent USDC is redeemed before anything is borrowed, and the balance is used first", () => {
    const h = new Harness();
    withUsdcPool(h);
    h.deposit(ALICE, USDC, usdc(10_000));
    expect(rejects(h.run({ kind: CommandKind.Lend, account: ALICE, asset: USDC, amount: usdc(9_970) }))).toEqual([]);
    h.deposit(BOB, USDC, usdc(10_000));
    h.order(BOB, Side.Sell, price(60_000), btc(1));
    const events = h.order(ALICE, Side.Buy, price(60_000), btc(1));
    expect(settlements(events, ALICE)).toEqual([
      [SettlementReason.Fee, SettlementStep.FromBalance, usdc(30)],
      [SettlementReason.Fee, SettlementStep.RedeemLent, usdc(30)],
    ]);
    expect(h.slots(ALICE, USDC)).toEqual({ available: 0n, locked: 0n, lent: usdc(9_940), borrowed: 0n });
  });

  it("P6: with autoBorrowSettlements off, the fee is a borrow that ignores the setting's gate (forced), never a failed settlement", () => {
    const h = new Harness();
    withUsdcPool(h);
    h.deposit(ALICE, BTC, btc(1));
    h.settings(ALICE, 0, AccountSetting.AutoBorrowSettlements);
    h.deposit(BOB, USDC, usdc(10_000));
    h.order(BOB, Side.Sell, price(50_000), btc(0.02));
    const events = h.order(ALICE, Side.Buy, price(50_000), btc(0.02));
    expect(settlements(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.ForcedBorrow, usdc(1)]]);
  });

  /** P6 (3): Alice (1 BTC, autoBorrowSettlements off) opens 0.02 BTC of perp at 50,000; her 1 USDC fee is a borrow
   * due a conversion; Carol bids 59,000 for 0.001 BTC on the spot book. */
  function conversionDue(h: Harness): void {
    withUsdcPool(h);
    h.deposit(ALICE, BTC, btc(1));
    h.settings(ALICE, 0, AccountSetting.AutoBorrowSettlements);
    h.deposit(BOB, USDC, usdc(10_000));
    h.deposit(CAROL, USDC, usdc(10_000));
    h.order(CAROL, Side.Buy, price(59_000), btc(0.001), 0, BTC_USDC);
    h.order(BOB, Side.Sell, price(50_000), btc(0.02));
    h.order(ALICE, Side.Buy, price(50_000), btc(0.02));
  }

  it("P6 (3): with autoBorrowSettlements off, the next batch converts collateral through the book (CollateralConversion): 0.00002 BTC sold at Carol's 59,000 bid repays the 1 USDC borrow", () => {
    const h = new Harness();
    conversionDue(h);
    expect(h.slots(ALICE, USDC).borrowed).toBe(usdc(1));
    expect(h.engine.risk[0]!.passesPending).toBe(true); // a conversion is due: the clock policy keeps batches coming
    const events = h.run({ kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 });
    const fills = events.filter((e) => e.kind === EventKind.Fill);
    expect(fills.map((e) => [e.account, e.makerAccount, e.market, e.side, e.price, e.quantity, e.quoteQuantity, e.takerFee])).toEqual([
      [ALICE, CAROL, BTC_USDC, Side.Sell, price(59_000), 2_000n, 1_180_000n, 1_180n],
    ]);
    expect(settlements(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.Convert, 1_178_820n]]);
    // The 1 USDC borrow is repaid from the 1.17882 raised; 0.17882 stays available; 0.99998 BTC left.
    expect(h.slots(ALICE, USDC)).toEqual({ available: 178_820n, locked: 0n, lent: 0n, borrowed: 0n });
    expect(h.slots(ALICE, BTC).available).toBe(btc(1) - 2_000n);
    expect(h.engine.risk[0]!.passesPending).toBe(false);
  });

  it("P6 (3), X7: a conversion due at a snapshot is in it: the restored engine converts in the next batch as the live one does", () => {
    const live = new Harness();
    conversionDue(live);
    const restored = new Harness(config, undefined, Engine.fromSnapshot(config, live.engine.snapshot()));
    expect(restored.engine.stateHash()).toBe(live.engine.stateHash());
    const tick = { kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 };
    const a = live.run(tick);
    const b = restored.run(tick);
    expect(settlements(b, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.Convert, 1_178_820n]]);
    expect(b.map((e) => `${e.kind}/${e.account}/${e.orderId}/${e.quantity}`)).toEqual(a.map((e) => `${e.kind}/${e.account}/${e.orderId}/${e.quantity}`));
    expect(restored.engine.stateHash()).toBe(live.engine.stateHash());
  });

  it("P6: with no USDC in the pool at all, the fee is owed as unsettled USDC (C3 counts it) and the next credit pays it first", () => {
    const h = new Harness();
    h.deposit(ALICE, BTC, btc(1));
    h.deposit(BOB, USDC, usdc(10_000));
    h.order(BOB, Side.Sell, price(50_000), btc(0.02));
    const events = h.order(ALICE, Side.Buy, price(50_000), btc(0.02));
    expect(settlements(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.Unsettled, usdc(1)]]);
    expect(h.risk(ALICE).unsettledUsdc(ALICE)).toBe(usdc(1));
    const st = h.risk(ALICE).collateralStatement(ALICE);
    // C3: collateral + unrealized PnL (0.02 BTC bought at 50,000, marked at 60,000: +200) − the 1 USDC unsettled.
    expect(st.unrealizedPnlUsd).toBe(price(200));
    expect(st.netEquityUsd).toBe(st.collateralValueUsd + price(200) - price(1));
    // Alice closes at 51,000: +20 USDC realized pays the 1 USDC first, then her fee of 1.02 USDC.
    h.order(BOB, Side.Buy, price(51_000), btc(0.02));
    const close = h.order(ALICE, Side.Sell, price(51_000), btc(0.02));
    expect(settlements(close, ALICE)).toEqual([
      [SettlementReason.RealizedPnl, SettlementStep.PayUnsettled, usdc(1)],
      [SettlementReason.RealizedPnl, SettlementStep.ToBalance, usdc(19)],
      [SettlementReason.Fee, SettlementStep.FromBalance, 1_020_000n],
    ]);
    expect(h.risk(ALICE).unsettledUsdc(ALICE)).toBe(0n);
    expect(h.slots(ALICE, USDC).available).toBe(usdc(19) - 1_020_000n);
  });
});

describe("positions (P1, C4, C5, P8)", () => {
  it("P1/C5: the report carries every field; imf and mmf are the market's sqrt functions of the exposure notional", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, usdc(1_000_000));
    h.deposit(BOB, USDC, usdc(1_000_000));
    cross(h, ALICE, BOB, 60_000, 20);
    const r = h.risk(ALICE).perpPosition(ALICE, BTC_PERP);
    expect(r.netExposureQuantity).toBe(btc(20));
    expect(r.netExposureNotionalUsd).toBe(price(1_200_000));
    expect(r.markPrice).toBe(price(60_000));
    expect(r.pnlUnrealized).toBe(0n);
    expect(r.cumulativeFundingPayment).toBe(0n);
    // IMF = max(1/10, 0.01333333, 0.00002494 × sqrt(1,200,000) = 0.0273204) = 0.1; MMF = 0.00001496 × 1095.4451 = 0.016387858.
    expect(r.imf).toBe(RATIO_SCALE / 10n);
    expect(r.mmf / 1_000_000_000n).toBe(16_387_858n);
  });

  it("P8: the account's MMR crosses 100% at estLiquidationPrice and not one tick before (long and short)", () => {
    for (const [who, side] of [[ALICE, Side.Buy], [BOB, Side.Sell]] as const) {
      const h = new Harness();
      h.deposit(ALICE, USDC, usdc(7_000));
      h.deposit(BOB, USDC, usdc(7_000));
      cross(h, ALICE, BOB, 60_000, 1);
      const risk = h.risk(who);
      const liq = risk.perpPosition(who, BTC_PERP).estLiquidationPrice;
      const tick = config.markets[BTC_PERP]!.tickSize;
      const at = (p: bigint): boolean => {
        risk.marginContext.setMarketMark(BTC_PERP, p);
        return risk.accountMargin(who).isLiquidatable();
      };
      expect(at(liq)).toBe(true);
      expect(at(side === Side.Buy ? liq + tick : liq - tick)).toBe(false);
      // Long: ~60,000 − (7,000 − 60 fee) / 1 BTC and the 0.67% MMF; short: above 60,000 by about as much.
      if (side === Side.Buy) expect(liq > price(53_000) && liq < price(54_000)).toBe(true);
      else expect(liq > price(66_000) && liq < price(67_000)).toBe(true);
    }
  });
});

describe("positions over the account stream and queries (P1)", () => {
  it("P1: a fill publishes each side's Settlement rows and USDC Balance, and R2's end each side's Position (P1 position reports: once per batch); QueryPositions answers the same, then CommandAccepted", () => {
    const h = new Harness();
    h.deposit(ALICE, USDC, usdc(10_000));
    h.deposit(BOB, USDC, usdc(10_000));
    const events = cross(h, ALICE, BOB, 60_000, 1);
    const kinds = events.filter((e) => e.account === ALICE && e.kind !== EventKind.OrderAccepted).map((e) => e.kind);
    expect(kinds).toEqual([EventKind.Fill, EventKind.Settlement, EventKind.Balance, EventKind.OrderDone, EventKind.Position]);
    const p = events.find((e) => e.kind === EventKind.Position && e.account === ALICE)!;
    expect([p.market, p.netQuantity, p.entryPrice, p.breakEvenPrice, p.positionMarkPrice]).toEqual([BTC_PERP, btc(1), price(60_000), price(60_060), price(60_000)]);
    expect([p.pnlUnrealized, p.pnlRealized, p.cumulativeFundingPayment, p.netExposureQuantity, p.positionExposureUsd]).toEqual([0n, 0n, 0n, btc(1), price(60_000)]);
    // imf 0.1 (leverage 10) and mmf 0.00666667 at 1e-9; P8 for a 1 BTC long with 9,940 USDC: just under 50,000.
    expect([p.imf, p.mmf]).toEqual([100_000_000n, 6_666_670n]);
    expect(p.estLiquidationPrice).toBe(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).estLiquidationPrice);
    expect(p.estLiquidationPrice > price(50_000) && p.estLiquidationPrice < price(51_000)).toBe(true);
    const answer = h.run({ kind: CommandKind.QueryPositions, account: ALICE });
    expect(answer.map((e) => e.kind)).toEqual([EventKind.Position, EventKind.CommandAccepted]);
    expect(answer[0]!.netQuantity).toBe(btc(1));
    // The collateral statement lists the positions after its asset rows.
    const statement = h.run({ kind: CommandKind.QueryCollateral, account: BOB });
    expect(statement.at(-1)!.kind).toBe(EventKind.Position);
    expect(statement.at(-1)!.netQuantity).toBe(-btc(1));
    const oi = h.run({ kind: CommandKind.QueryOpenInterest, market: BTC_PERP });
    expect(oi.map((e) => [e.kind, e.market, e.openInterestQuantity])).toEqual([[EventKind.OpenInterest, BTC_PERP, btc(1)]]);
    expect(rejects(h.run({ kind: CommandKind.QueryOpenInterest, market: 0 }))).toEqual(["UnknownMarket"]);
  });
});

describe("open interest across risk shards", () => {
  it("P1: with two risk shards each replica of the open interest agrees at the batch boundary (deltas merged in phase 4)", () => {
    const h = new Harness(config, { riskShards: 2, matchingShards: 1 });
    // ALICE (user 1) and BOB (user 2) live on different shards.
    expect(riskShardOf(ALICE, 2)).not.toBe(riskShardOf(BOB, 2));
    h.deposit(ALICE, USDC, usdc(100_000));
    h.deposit(BOB, USDC, usdc(100_000));
    h.batch([orderFields(BOB, Side.Sell, price(60_000), btc(2)), orderFields(ALICE, Side.Buy, price(60_000), btc(2))]);
    expect(h.engine.risk.map((r) => r.openInterest(BTC_PERP))).toEqual([btc(2), btc(2)]);
    h.batch([orderFields(ALICE, Side.Sell, price(60_000), btc(0.5)), orderFields(BOB, Side.Buy, price(60_000), btc(0.5))]);
    expect(h.engine.risk.map((r) => r.openInterest(BTC_PERP))).toEqual([btc(1.5), btc(1.5)]);
    expect(h.engine.risk[0]!.stateHash()).not.toBe("");
  });
});

describe("snapshot (X7) with perpetual state", () => {
  it("X7/P1: positions, resting perp orders, unsettled USDC and the open-interest replicas survive a snapshot: same state hash, same events after", () => {
    const live = new Harness(config, { riskShards: 2, matchingShards: 1 });
    live.deposit(ALICE, BTC, btc(1));
    live.deposit(BOB, USDC, usdc(100_000));
    live.deposit(CAROL, USDC, usdc(100_000));
    live.order(BOB, Side.Sell, price(50_000), btc(0.02));
    live.order(ALICE, Side.Buy, price(50_000), btc(0.02)); // Alice's 1 USDC fee: unsettled (no USDC pool)
    live.order(CAROL, Side.Buy, price(49_000), btc(0.5)); // rests: open-order exposure
    expect(live.risk(ALICE).unsettledUsdc(ALICE)).toBe(usdc(1));
    const restored = new Harness(config, undefined, Engine.fromSnapshot(config, live.engine.snapshot()));
    expect(restored.engine.stateHash()).toBe(live.engine.stateHash());
    for (const r of restored.engine.risk) r.validateInternalState();
    expect(restored.risk(CAROL).collateralStatement(CAROL)).toEqual(live.risk(CAROL).collateralStatement(CAROL));
    expect(restored.risk(ALICE).perpPosition(ALICE, BTC_PERP)).toEqual(live.risk(ALICE).perpPosition(ALICE, BTC_PERP));
    const next = (h: Harness): string[] =>
      [
        ...h.order(BOB, Side.Sell, price(49_000), btc(0.5)),
        ...h.order(ALICE, Side.Sell, price(49_000), btc(0.02)),
        ...h.order(CAROL, Side.Buy, price(49_000), btc(0.5)),
      ].map((e) => `${e.kind} ${e.account} ${e.orderId} ${e.quantity} ${e.settledAmount} ${e.takerFee} ${e.makerFee} ${e.code}`);
    expect(next(restored)).toEqual(next(live));
    expect(restored.engine.stateHash()).toBe(live.engine.stateHash());
    // Carol 0.5 + 0.02 (Alice closed into her second order; Bob is short 0.52).
    expect(live.engine.risk.map((r) => r.openInterest(BTC_PERP))).toEqual([btc(0.52), btc(0.52)]);
  });
});

/** A seeded perp stream: USDC/BTC deposits of 8 accounts on 2 users' shards, then perp orders (some reduceOnly,
 * market and IOC), cancels, in batches of 1–40. */
function perpStream(seed: number, count: number): CommandRecord[][] {
  const rand = prng(seed);
  const accounts = [16, 17, 32, 33, 48, 49, 64, 65];
  let seq = 0;
  const make = (f: Partial<CommandRecord>): CommandRecord => Object.assign(new CommandRecord(), f, { seq: ++seq });
  const first = [make({ kind: CommandKind.AdvanceTime, timeMs: T0 }), make({ kind: CommandKind.Deposit, account: LENDER + 1, asset: USDC, amount: usdc(50_000) })];
  first.push(make({ kind: CommandKind.Lend, account: LENDER + 1, asset: USDC, amount: usdc(50_000) }));
  for (const a of accounts) first.push(make({ kind: CommandKind.Deposit, account: a, asset: a % 2 === 0 ? USDC : BTC, amount: a % 2 === 0 ? usdc(20_000) : btc(0.5) }));
  const out = [first];
  const placed: number[] = [];
  let left = count;
  while (left > 0) {
    const n = Math.min(left, 1 + Math.floor(rand() * 40));
    const b: CommandRecord[] = [];
    // Every 10th batch the clock moves 12 minutes: the stream crosses funding interval ends (P4, marks from the book).
    if (out.length % 10 === 0) b.push(make({ kind: CommandKind.AdvanceTime, timeMs: T0 + (out.length / 10) * 720_000 }));
    for (let i = 0; i < n; i++) {
      const account = accounts[Math.floor(rand() * accounts.length)]!;
      const r = rand();
      if (r < 0.1 && placed.length > 0) {
        b.push(make({ kind: CommandKind.CancelOrder, account, market: BTC_PERP, orderId: placed[Math.floor(rand() * placed.length)]! }));
        continue;
      }
      const side = rand() < 0.5 ? Side.Buy : Side.Sell;
      const p = r < 0.2 ? 0n : price(59_900 + Math.floor(rand() * 200));
      const flags = rand() < 0.15 ? OrderFlag.ReduceOnly : 0;
      const c = make(orderFields(account, side, p, btc(0.01 * (1 + Math.floor(rand() * 20))), flags));
      if (p !== 0n && rand() < 0.3) c.tif = TimeInForce.IOC;
      if (c.tif === TimeInForce.GTC) placed.push(c.seq);
      b.push(c);
    }
    out.push(b);
    left -= n;
  }
  return out;
}

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${eventCodeSlot(e)}|${e.message}|${e.price}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.makerAccount}|${e.makerFee}|${e.takerFee}|${e.timeMs}`;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

describe("determinism with perpetuals (X4)", () => {
  for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }]) {
    it(`X4/P1/P6/P4: 1,500 perp commands across funding interval ends, threaded ${topology.riskShards} × ${topology.matchingShards} = in-process: same events, same state hash`, async () => {
      const stream = perpStream(7, 1_500);
      const engine = new Engine(config, topology);
      const expected: string[] = [];
      for (const b of stream) engine.processBatch(b, b.length, { publish: (e) => expected.push(eventText(e)) });
      for (const r of engine.risk) r.validateInternalState();
      expect(expected.filter((t) => t.startsWith(`${EventKind.Fill}|`)).length).toBeGreaterThan(100);
      expect(expected.filter((t) => t.startsWith(`${EventKind.Settlement}|`)).length).toBeGreaterThan(100);
      // P4: funding rows (seq 0) at the interval ends the clock crossed.
      expect(expected.filter((t) => t.startsWith(`${EventKind.Settlement}|0|`)).length).toBeGreaterThan(4);
      const got: string[] = [];
      const fatal: string[] = [];
      const p = await ThreadedPipeline.start(config, { onEvent: (e) => got.push(eventText(e)), onFatal: (m) => fatal.push(m) }, { topology });
      running.push(p);
      let n = 0;
      for (const b of stream) await p.submitBatch(b, b.length, ++n);
      await p.waitForBatch(n);
      expect(fatal).toEqual([]);
      expect(await p.stateHash()).toBe(engine.stateHash());
      // With several risk shards the shards' streams interleave on the way out (each one ordered): compare the multiset.
      if (topology.riskShards === 1) expect(got).toEqual(expected);
      else expect([...got].sort()).toEqual([...expected].sort());
      const oi = engine.risk.map((r) => r.openInterest(BTC_PERP));
      expect(new Set(oi).size).toBe(1);
    }, 120_000);
  }
});
