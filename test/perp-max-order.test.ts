// C10 for perpetual markets: QueryMaxOrder answers the largest limit order checkPerpOrder accepts now — C8 on the full
// fill at the limit price with the taker fee in USDC (S5), the market's sqrt IMF (C5), every open order counted (C4),
// a reducing part first (P1) — and the open-interest limit's bound. Each figure is derived by hand in its comment, and
// the answer is checked against the real order: it is accepted, one step more is refused.
import { describe, expect, it } from "vitest";
import {
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  OrderType,
  RejectCode,
  Side,
  TimeInForce,
  type ExchangeConfig,
} from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_PERP = 3;
const USDC_UNIT = 1_000_000n;
const PRICE = 1_000_000_000n;
const STEP = 10_000n; // 0.0001 BTC
const T0 = 1_767_225_600_000;
const ALICE = 16;
const BOB = 32;

const usdc = (n: number): bigint => BigInt(n) * USDC_UNIT;
const price = (n: number): bigint => BigInt(n) * PRICE;

class Harness {
  readonly engine: Engine;
  seq = 0;

  constructor(cfg: ExchangeConfig = config) {
    this.engine = new Engine(cfg);
    this.run({ kind: CommandKind.AdvanceTime, timeMs: T0 });
  }

  run(fields: Partial<CommandRecord>): EventRecord[] {
    const cmd = Object.assign(new CommandRecord(), fields, { seq: ++this.seq });
    const got: EventRecord[] = [];
    this.engine.processBatch([cmd], 1, {
      publish: (e) => {
        const c = new EventRecord();
        c.copyFrom(e);
        got.push(c);
      },
    });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  max(account: number, side: Side, p: bigint): [bigint, bigint] {
    const answer = this.run({ kind: CommandKind.QueryMaxOrder, account, market: BTC_PERP, side, price: p });
    expect(answer.map((e) => e.kind)).toEqual([EventKind.MaxOrderQuantity]);
    return [answer[0]!.quantity, answer[0]!.marginLimit];
  }

  order(account: number, side: Side, p: bigint, quantity: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: p, quantity });
  }

  /** C10: the answer is the boundary of the real check — one step more is refused (nothing changes), it is accepted. */
  expectBoundary(account: number, side: Side, p: bigint, quantity: bigint): void {
    const over = this.order(account, side, p, quantity + STEP);
    expect(over.map((e) => [e.kind, e.code])).toEqual([[EventKind.OrderRejected, RejectCode.InsufficientMargin]]);
    expect(this.order(account, side, p, quantity).map((e) => e.kind)).toContain(EventKind.OrderAccepted);
  }
}

describe("QueryMaxOrder on a perpetual (C10, C8, C5, C4, S5)", () => {
  it("C10, C8, S5: 10,000 USDC at leverage 10 buys at most 1.6501 BTC at 60,000: IMF 0.1 and the 0.1% USDC fee, 10,000 − 60q ≥ 6,000q", () => {
    const h = new Harness();
    h.run({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) });
    // q ≤ 10,000 / 6,060 = 1.650165… → 1.6501 BTC (without the fee it would be 1.6666).
    expect(h.max(ALICE, Side.Buy, price(60_000))).toEqual([165_010_000n, 165_010_000n]);
    // A short is the same size: the fee and the IMF do not depend on the side.
    expect(h.max(ALICE, Side.Sell, price(60_000))).toEqual([165_010_000n, 165_010_000n]);
    // A buy limit above the mark fills at the limit: the fee grows (66q) and the fill's unrealized loss at the mark
    // (−6,000q) counts: 10,000 − 66q − 6,000q ≥ 6,000q → q ≤ 10,000 / 12,066 = 0.82877… → 0.8287.
    expect(h.max(ALICE, Side.Buy, price(66_000))[0]).toBe(82_870_000n);
    h.expectBoundary(ALICE, Side.Buy, price(60_000), 165_010_000n);
  });

  it("C4: a resting buy of 1 BTC leaves 0.66 more to buy (10,000 − 60q ≥ 6,000 (1 + q)), while a sell of up to 1.6501 only offsets it", () => {
    const h = new Harness();
    h.run({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) });
    expect(h.order(ALICE, Side.Buy, price(59_000), 100_000_000n).map((e) => e.kind)).toContain(EventKind.OrderAccepted);
    // Buy: q ≤ 4,000 / 6,060 = 0.660066 → 0.66. The resting order's own fee is not charged until it fills.
    expect(h.max(ALICE, Side.Buy, price(60_000))).toEqual([66_000_000n, 66_000_000n]);
    // Sell: exposure max(|0 + 1|, |0 − q|) — the open buy and the sell do not add: q ≤ 10,000 / 6,060 → 1.6501.
    expect(h.max(ALICE, Side.Sell, price(60_000))).toEqual([165_010_000n, 165_010_000n]);
    h.expectBoundary(ALICE, Side.Buy, price(60_000), 66_000_000n);
  });

  it("P1, C8: a long of 1 BTC (9,940 USDC after its 60 USDC fee) may sell 2.6303: the first 1 reduces, the rest opens (9,940 − 60q ≥ 6,000 (q − 1))", () => {
    const h = new Harness();
    h.run({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) });
    h.run({ kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(100_000) });
    h.order(BOB, Side.Sell, price(60_000), 100_000_000n);
    expect(h.order(ALICE, Side.Buy, price(60_000), 100_000_000n).map((e) => e.kind)).toContain(EventKind.Fill);
    // Sell: q ≤ 15,940 / 6,060 = 2.630363 → 2.6303. Buy more: 9,940 − 60q ≥ 6,000 (1 + q) → q ≤ 3,940 / 6,060 → 0.6501.
    expect(h.max(ALICE, Side.Sell, price(60_000))).toEqual([263_030_000n, 263_030_000n]);
    expect(h.max(ALICE, Side.Buy, price(60_000))).toEqual([65_010_000n, 65_010_000n]);
    h.expectBoundary(ALICE, Side.Sell, price(60_000), 263_030_000n);
  });

  it("C8: under its initial margin (BTC marked 52,000: equity 1,940, IM 5,200) a long may close and open only what IMR < 100% allows — sell 1.3594, buy nothing", () => {
    const h = new Harness();
    h.run({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) });
    h.run({ kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(100_000) });
    h.order(BOB, Side.Sell, price(60_000), 100_000_000n);
    h.order(ALICE, Side.Buy, price(60_000), 100_000_000n);
    h.run({ kind: CommandKind.SetMarkPrice, asset: BTC, price: price(52_000) });
    // Selling q ≤ 1 only reduces (accepted as risk-reducing whatever the IMR); beyond 1 it opens a short, which C8
    // takes only with IMR < 100%: 5,200 (q − 1) < 1,940 − 52q ⇔ q < 7,140 / 5,252 = 1.35948 → 1.3594.
    expect(h.max(ALICE, Side.Sell, price(52_000))).toEqual([135_940_000n, 135_940_000n]);
    expect(h.max(ALICE, Side.Buy, price(52_000))).toEqual([0n, 0n]);
    expect(h.order(ALICE, Side.Sell, price(52_000), 50_000_000n).map((e) => e.kind)).toContain(EventKind.OrderAccepted);
    h.run({ kind: CommandKind.CancelAll, account: ALICE, market: BTC_PERP });
    h.expectBoundary(ALICE, Side.Sell, price(52_000), 135_940_000n);
  });

  it("C5: at leverage 50 the sqrt IMF binds: 2,000,000 USDC buys 308.023 BTC at 60,000 (IMF = 0.00002494 × √18.48 M = 0.1072, above 1/50)", () => {
    const h = new Harness();
    h.run({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(2_000_000) });
    h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: 0, leverageLimit: 50 });
    // N = 60,000 q: 2,000,000 − 0.001 N ≥ 0.00002494 × N^1.5 holds up to q = 308.02305… → 308.0230 (step 0.0001).
    const [quantity, marginLimit] = h.max(ALICE, Side.Buy, price(60_000));
    expect([quantity, marginLimit]).toEqual([30_802_300_000n, 30_802_300_000n]);
    const short = (q: number): number => (q * 60_000) ** 1.5 * 0.00002494 + 0.001 * q * 60_000 - 2_000_000;
    expect([short(308.023) <= 0, short(308.0231) > 0]).toEqual([true, true]);
    h.expectBoundary(ALICE, Side.Buy, price(60_000), quantity);
  });

  it("P1: the open-interest limit bounds the opening part (marginLimit still says what margin alone allows); a zero price is refused", () => {
    const limited: ExchangeConfig = { ...config, markets: config.markets.map((m) => (m.id === BTC_PERP ? { ...m, openInterestLimit: 100_000_000n } : m)) };
    const h = new Harness(limited);
    h.run({ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) });
    h.run({ kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(10_000) });
    expect(h.max(ALICE, Side.Buy, price(60_000))).toEqual([100_000_000n, 165_010_000n]);
    // 0.4 BTC of open interest: 0.6 BTC of room; Bob (short 0.4) may buy back his 0.4 and open 0.6 more.
    h.order(BOB, Side.Sell, price(60_000), 40_000_000n);
    h.order(ALICE, Side.Buy, price(60_000), 40_000_000n);
    expect(h.max(ALICE, Side.Buy, price(60_000))[0]).toBe(60_000_000n);
    expect(h.max(BOB, Side.Buy, price(60_000))[0]).toBe(100_000_000n);
    const zero = h.run({ kind: CommandKind.QueryMaxOrder, account: ALICE, market: BTC_PERP, side: Side.Buy, price: 0n });
    expect(zero.map((e) => [e.kind, e.code])).toEqual([[EventKind.CommandRejected, RejectCode.InvalidPrice]]);
    // A never-funded account: 0.
    expect(h.max(64, Side.Buy, price(60_000))).toEqual([0n, 0n]);
  });
});
