// The risk shard's spot accounting: deposits, withdrawals, transfers, order holds, fills with fees, releases —
// every balance exact to the unit, and every unit accounted for (X1).
import { beforeEach, describe, expect, it } from "vitest";
import { DoneReason, EventKind, EventRecord, FEE_ACCOUNT, RejectCode, Side, type EventSink } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { RiskShard } from "../engine/risk/index.ts";
import { deposit, limit, marketOrder, resetSeq, transfer, withdraw } from "./helpers/commands.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_USDC = 0;
const ALICE = 16; // user 1, main account
const ALICE_SUB = 17; // user 1, sub-account 1
const BOB = 32; // user 2

class Collect implements EventSink {
  events: EventRecord[] = [];
  publish(e: EventRecord): void {
    const c = new EventRecord();
    c.copyFrom(e);
    this.events.push(c);
  }
  last(): EventRecord {
    return this.events[this.events.length - 1]!;
  }
  kinds(): number[] {
    return this.events.map((e) => e.kind);
  }
}

function fill(taker: number, takerOrder: number, takerSide: number, maker: number, makerOrder: number, price: bigint, qty: bigint, quote: bigint): EventRecord {
  const e = new EventRecord();
  e.kind = EventKind.Fill;
  e.seq = takerOrder;
  e.account = taker;
  e.orderId = takerOrder;
  e.side = takerSide;
  e.market = BTC_USDC;
  e.makerAccount = maker;
  e.makerOrderId = makerOrder;
  e.price = price;
  e.quantity = qty;
  e.quoteQuantity = quote;
  return e;
}

function done(account: number, orderId: number, reason: number): EventRecord {
  const e = new EventRecord();
  e.kind = EventKind.OrderDone;
  e.seq = orderId;
  e.account = account;
  e.orderId = orderId;
  e.market = BTC_USDC;
  e.code = reason;
  return e;
}

let risk: RiskShard;
let out: Collect;

beforeEach(() => {
  resetSeq();
  risk = new RiskShard(config);
  out = new Collect();
});

function totalsWith(deposited: bigint[]): void {
  // X1: Σ balances of all accounts, fee account included, equals what came in minus what went out.
  expect(risk.totals()).toEqual(deposited);
}

describe("deposits, withdrawals, transfers", () => {
  it("A4: a deposit credits the available balance at once", () => {
    expect(risk.preTrade(deposit(ALICE, USDC, 1_000_000_000n), out)).toBe(false);
    expect(out.kinds()).toEqual([EventKind.CommandAccepted, EventKind.Balance]);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 1_000_000_000n, locked: 0n });
    expect(out.last().available).toBe(1_000_000_000n);
  });

  it("X5: deposits to the exchange's own accounts, to a sub-account index over 10, of unknown assets or of nothing are refused and change nothing", () => {
    const cases: [ReturnType<typeof deposit>, number][] = [
      [deposit(0, USDC, 1n), RejectCode.InvalidAccount],
      [deposit(FEE_ACCOUNT, USDC, 1n), RejectCode.InvalidAccount],
      [deposit(16 + 11, USDC, 1n), RejectCode.InvalidAccount],
      [deposit(ALICE, 99, 1n), RejectCode.UnknownAsset],
      [deposit(ALICE, USDC, 0n), RejectCode.InvalidAmount],
      [deposit(ALICE, USDC, -5n), RejectCode.InvalidAmount],
    ];
    const before = risk.stateHash();
    for (const [cmd, code] of cases) {
      out.events = [];
      risk.preTrade(cmd, out);
      expect(out.kinds()).toEqual([EventKind.CommandRejected]);
      expect(out.last().code).toBe(code);
    }
    expect(risk.stateHash()).toBe(before);
  });

  it("A5: a withdrawal beyond the available balance is refused with the exact shortfall and debits nothing", () => {
    risk.preTrade(deposit(ALICE, USDC, 100_000_000n), out);
    out.events = [];
    risk.preTrade(withdraw(ALICE, USDC, 100_000_001n), out);
    expect(out.last().kind).toBe(EventKind.CommandRejected);
    expect(out.last().code).toBe(RejectCode.InsufficientBalance);
    expect(out.last().message).toBe("insufficient USDC to withdraw: needs 100.000001, available 100");
    expect(risk.balance(ALICE, USDC).available).toBe(100_000_000n);
    risk.preTrade(withdraw(ALICE, USDC, 40_000_000n), out);
    expect(risk.balance(ALICE, USDC).available).toBe(60_000_000n);
    totalsWith([60_000_000n, 0n, 0n, 0n, 0n]);
  });

  it("A2: transfers move funds between a user's own accounts at once; never to another user", () => {
    risk.preTrade(deposit(ALICE, BTC, 300_000_000n), out);
    risk.preTrade(transfer(ALICE, ALICE_SUB, BTC, 100_000_000n), out);
    expect(risk.balance(ALICE, BTC).available).toBe(200_000_000n);
    expect(risk.balance(ALICE_SUB, BTC).available).toBe(100_000_000n);
    out.events = [];
    risk.preTrade(transfer(ALICE, BOB, BTC, 1n), out);
    expect(out.last().code).toBe(RejectCode.InvalidTransfer);
    risk.preTrade(transfer(ALICE_SUB, ALICE, BTC, 100_000_001n), out);
    expect(out.last().code).toBe(RejectCode.InsufficientBalance);
    totalsWith([0n, 0n, 300_000_000n, 0n, 0n]);
  });
});

describe("spot orders: holds, fills, fees", () => {
  it("S1: a limit buy holds quantity × price of quote, rounded up; a sell holds the base quantity", () => {
    risk.preTrade(deposit(ALICE, USDC, 100_000_000_000n), out); // 100,000 USDC
    risk.preTrade(deposit(BOB, BTC, 100_000_000n), out); // 1 BTC
    // 0.00001 BTC at 60,000.01: 0.6000001 USDC → 600,001 units (rounded up from 600,000.1)
    expect(risk.preTrade(limit(ALICE, BTC_USDC, Side.Buy, 60_000_010_000_000n, 1_000n), out)).toBe(true);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 100_000_000_000n - 600_001n, locked: 600_001n });
    expect(risk.preTrade(limit(BOB, BTC_USDC, Side.Sell, 60_000_000_000_000n, 40_000_000n), out)).toBe(true);
    expect(risk.balance(BOB, BTC)).toEqual({ available: 60_000_000n, locked: 40_000_000n });
  });

  it("S1: an order beyond the balance is refused and holds nothing", () => {
    risk.preTrade(deposit(ALICE, USDC, 1_000_000n), out);
    out.events = [];
    expect(risk.preTrade(limit(ALICE, BTC_USDC, Side.Buy, 60_000_000_000_000n, 100_000n), out)).toBe(false);
    expect(out.last().kind).toBe(EventKind.OrderRejected);
    expect(out.last().code).toBe(RejectCode.InsufficientBalance);
    expect(out.last().message).toBe("insufficient USDC to buy: needs 60, available 1");
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 1_000_000n, locked: 0n });
  });

  it("S5: a fill moves base and quote between the two sides, the taker pays 10 bps and the maker 8 bps of what each receives, and the rest of the hold comes back", () => {
    risk.preTrade(deposit(ALICE, USDC, 50_000_000_000n), out); // 50,000 USDC
    risk.preTrade(deposit(BOB, BTC, 100_000_000n), out); // 1 BTC
    const sell = limit(BOB, BTC_USDC, Side.Sell, 60_000_000_000_000n, 50_000_000n); // maker: 0.5 BTC @ 60,000
    risk.preTrade(sell, out);
    const buy = limit(ALICE, BTC_USDC, Side.Buy, 61_000_000_000_000n, 50_000_000n); // taker: 0.5 BTC up to 61,000
    risk.preTrade(buy, out);
    expect(risk.balance(ALICE, USDC).locked).toBe(30_500_000_000n);
    out.events = [];
    risk.postTrade(fill(ALICE, buy.seq, Side.Buy, BOB, sell.seq, 60_000_000_000_000n, 50_000_000n, 30_000_000_000n), out);
    const f = out.events[0]!;
    expect(f.kind).toBe(EventKind.Fill);
    expect(f.takerFee).toBe(50_000n); // 0.0005 BTC = 10 bps of 0.5 BTC
    expect(f.makerFee).toBe(24_000_000n); // 24 USDC = 8 bps of 30,000 USDC
    risk.postTrade(done(ALICE, buy.seq, DoneReason.Filled), out);
    risk.postTrade(done(BOB, sell.seq, DoneReason.Filled), out);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 20_000_000_000n, locked: 0n });
    expect(risk.balance(ALICE, BTC)).toEqual({ available: 49_950_000n, locked: 0n });
    expect(risk.balance(BOB, BTC)).toEqual({ available: 50_000_000n, locked: 0n });
    expect(risk.balance(BOB, USDC)).toEqual({ available: 29_976_000_000n, locked: 0n });
    expect(risk.feeBalance(BTC)).toBe(50_000n);
    expect(risk.feeBalance(USDC)).toBe(24_000_000n);
    totalsWith([50_000_000_000n, 0n, 100_000_000n, 0n, 0n]);
  });

  it("S5: fees round up to the unit (the exchange is owed them)", () => {
    risk.preTrade(deposit(ALICE, USDC, 1_000_000_000n), out);
    risk.preTrade(deposit(BOB, BTC, 100_000_000n), out);
    const sell = limit(BOB, BTC_USDC, Side.Sell, 60_000_000_000_000n, 1_000n);
    risk.preTrade(sell, out);
    const buy = limit(ALICE, BTC_USDC, Side.Buy, 60_000_000_000_000n, 1_000n);
    risk.preTrade(buy, out);
    out.events = [];
    // 0.00001 BTC for 0.6 USDC: taker fee 10 bps of 1,000 units = 1 unit; maker fee 8 bps of 600,000 = 480.
    risk.postTrade(fill(ALICE, buy.seq, Side.Buy, BOB, sell.seq, 60_000_000_000_000n, 1_000n, 600_000n), out);
    expect(out.events[0]!.takerFee).toBe(1n);
    expect(out.events[0]!.makerFee).toBe(480n);
    const sell2 = limit(BOB, BTC_USDC, Side.Sell, 60_000_000_000_000n, 1_001n);
    risk.preTrade(sell2, out);
    const buy2 = limit(ALICE, BTC_USDC, Side.Buy, 60_000_000_000_000n, 1_001n);
    risk.preTrade(buy2, out);
    out.events = [];
    // 1,001 units × 10 bps = 1.001 → 2; 600,600 × 8 bps = 480.48 → 481
    risk.postTrade(fill(ALICE, buy2.seq, Side.Buy, BOB, sell2.seq, 60_000_000_000_000n, 1_001n, 600_600n), out);
    expect(out.events[0]!.takerFee).toBe(2n);
    expect(out.events[0]!.makerFee).toBe(481n);
  });

  it("S1: a canceled order releases exactly what it still holds", () => {
    risk.preTrade(deposit(ALICE, USDC, 10_000_000_000n), out);
    const buy = limit(ALICE, BTC_USDC, Side.Buy, 50_000_000_000_000n, 10_000_000n); // 0.1 BTC @ 50,000 = 5,000 USDC
    risk.preTrade(buy, out);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 5_000_000_000n, locked: 5_000_000_000n });
    risk.postTrade(done(ALICE, buy.seq, DoneReason.Canceled), out);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 10_000_000_000n, locked: 0n });
  });

  it("S1: a market buy by quantity holds the whole available quote as its spend cap and hands the cap to matching", () => {
    risk.preTrade(deposit(ALICE, USDC, 7_000_000n), out);
    const m = marketOrder(ALICE, BTC_USDC, Side.Buy, 1_000n);
    expect(risk.preTrade(m, out)).toBe(true);
    expect(m.quoteQuantity).toBe(7_000_000n);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 0n, locked: 7_000_000n });
  });

  it("P1/S5: a perpetual order passes R1 without a spot hold (its margin is judged by C8; no asset is locked)", () => {
    risk.preTrade(deposit(ALICE, USDC, 7_000_000n), out);
    out.events = [];
    const perp = limit(ALICE, 3, Side.Buy, 60_000_000_000_000n, 10_000n);
    expect(risk.preTrade(perp, out)).toBe(true);
    expect(perp.positionQuantity).toBe(0n);
    expect(out.events).toEqual([]);
    expect(risk.balance(ALICE, USDC)).toEqual({ available: 7_000_000n, locked: 0n });
  });
});
