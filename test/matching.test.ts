// Matching engine scenarios, one per SPEC O rule: order types, filters, STP, bands, cancel/replace, market states,
// limits. Every command is followed by validateInternalState() (Harness), so X3 is checked throughout.

import { describe, expect, it } from "vitest";
import { formatDecimal } from "../engine/fixed/index.ts";
import { MatchingShard, type MatchingLimits } from "../engine/matching/index.ts";
import {
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  DoneReason,
  EventKind,
  MarketState,
  OrderFlag,
  OrderType,
  RejectCode,
  SelfTradePrevention,
  Side,
  TimeInForce,
  rejectCodeName,
  type EventRecord,
  type ExchangeConfig,
} from "../engine/model/index.ts";
import { CLIENT_ID_SCAN_MAX } from "../engine/matching/market.ts";
import { Harness, P, PERP, Q, R, SPOT, SPOT2, U, testConfig, type Ev } from "./matching-helpers.ts";

const BUY = Side.Buy;
const SELL = Side.Sell;
const doneName = (c: number) => Object.entries(DoneReason).find(([, v]) => v === c)![0];
const px = (p: bigint) => formatDecimal(p, 9);
const qx = (q: bigint) => formatDecimal(q, 8);
const ux = (u: bigint) => formatDecimal(u, 6);

/** One line per event, exact values in decimal units: reads like the expected tape. */
function tape(evs: readonly Ev[]): string[] {
  return evs.map((e) => {
    switch (e.kind) {
      case EventKind.OrderAccepted:
        return `accepted #${e.orderId} ${e.side === BUY ? "buy" : "sell"} ${qx(e.quantity)}@${px(e.price)} open=${qx(e.openQuantity)}`;
      case EventKind.OrderRejected:
        return `rejected ${rejectCodeName[e.code]}`;
      case EventKind.Fill:
        return `fill #${e.orderId}<-#${e.makerOrderId} ${qx(e.quantity)}@${px(e.price)} quote=${ux(e.quoteQuantity)}`;
      case EventKind.OrderDone:
        return `done #${e.orderId} ${doneName(e.code)} unfilled=${qx(e.remainingQuantity)} filled=${qx(e.filledQuantity)}`;
      case EventKind.CommandAccepted:
        return `command accepted code=${e.marketState} amount=${e.canceledOrders}`;
      case EventKind.CommandRejected:
        return `command rejected ${rejectCodeName[e.code]}`;
      default:
        return `kind ${e.kind}`;
    }
  });
}

function harness(config: ExchangeConfig = testConfig(), limits?: Partial<MatchingLimits>): Harness<MatchingShard> {
  return new Harness(new MatchingShard(config, [SPOT, PERP, SPOT2], { limits }));
}

/** Resting orders as "#id side open@price". */
function book(h: Harness<MatchingShard>, market = SPOT): string[] {
  return h.shard.bookOrders(market).map((o) => `#${o.orderId} ${o.side === BUY ? "bid" : "ask"} ${qx(o.openQuantity)}@${px(o.price)}`);
}

describe("O1: price-time priority and order types", () => {
  it("O1: better price first, then earlier arrival; fills at the makers' prices; the remainder rests", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") }); // #1
    h.place({ account: 2, side: SELL, price: P("100"), qty: Q("1") }); // #2
    h.place({ account: 3, side: SELL, price: P("100"), qty: Q("0.5") }); // #3
    expect(tape(h.place({ account: 4, side: BUY, price: P("101"), qty: Q("3") }))).toEqual([
      "accepted #4 buy 3@101 open=3",
      "fill #4<-#2 1@100 quote=100",
      "done #2 Filled unfilled=0 filled=1",
      "fill #4<-#3 0.5@100 quote=50",
      "done #3 Filled unfilled=0 filled=0.5",
      "fill #4<-#1 1@101 quote=101",
      "done #1 Filled unfilled=0 filled=1",
    ]);
    expect(book(h)).toEqual(["#4 bid 0.5@101"]);
  });

  it("O1: Fill carries taker and maker identity, clientIds echoed, tradeId per market, quote = floor(q × p)", () => {
    const cfg = testConfig({ tickSize: P("0.001"), minPrice: P("0.001"), stepSize: Q("0.00001"), minQuantity: Q("0.00001") });
    const h = harness(cfg);
    h.place({ account: 7, side: SELL, price: P("98.765"), qty: Q("1"), clientId: 70n });
    const evs = h.place({ account: 8, side: BUY, price: P("98.765"), qty: Q("0.12345"), clientId: 80n, tif: TimeInForce.IOC });
    const fill = evs.find((e) => e.kind === EventKind.Fill)!;
    expect(fill).toMatchObject({
      account: 8,
      orderId: 2,
      clientId: 80n,
      side: BUY,
      makerAccount: 7,
      makerOrderId: 1,
      makerClientId: 70n,
      price: P("98.765"),
      quantity: Q("0.12345"),
      quoteQuantity: 12_192_539n, // 12.19253925 USDC rounded down
      tradeId: 1,
      makerFee: 0n,
      takerFee: 0n,
    });
    expect(evs[0]).toMatchObject({ kind: EventKind.OrderAccepted, clientId: 80n });
    expect(evs.at(-1)).toMatchObject({ kind: EventKind.OrderDone, clientId: 80n, code: DoneReason.Filled });
  });

  it("O1: IOC fills what it can and the remainder expires (Expired); nothing rests", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: BUY, price: P("100"), qty: Q("1.5"), tif: TimeInForce.IOC }))).toEqual([
      "accepted #2 buy 1.5@100 open=1.5",
      "fill #2<-#1 1@100 quote=100",
      "done #1 Filled unfilled=0 filled=1",
      "done #2 Expired unfilled=0.5 filled=1",
    ]);
    expect(book(h)).toEqual([]);
  });

  it("O1: FOK fills completely or not at all (FokUnfilled leaves the book untouched)", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: BUY, price: P("100"), qty: Q("1.5"), tif: TimeInForce.FOK }))).toEqual([
      "accepted #3 buy 1.5@100 open=1.5",
      "done #3 FokUnfilled unfilled=1.5 filled=0",
    ]);
    expect(book(h)).toEqual(["#1 ask 1@100", "#2 ask 1@101"]);
    expect(tape(h.place({ account: 2, side: BUY, price: P("101"), qty: Q("1.5"), tif: TimeInForce.FOK }))).toEqual([
      "accepted #4 buy 1.5@101 open=1.5",
      "fill #4<-#1 1@100 quote=100",
      "done #1 Filled unfilled=0 filled=1",
      "fill #4<-#2 0.5@101 quote=50.5",
      "done #4 Filled unfilled=0 filled=1.5",
    ]);
  });

  it("O1: a market order sweeps by quantity and its remainder expires on an empty book", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: SELL, type: OrderType.Market, qty: Q("2.5") }))).toEqual([
      "accepted #3 sell 2.5@0 open=2.5",
      "fill #3<-#1 1@100 quote=100",
      "done #1 Filled unfilled=0 filled=1",
      "fill #3<-#2 1@99 quote=99",
      "done #2 Filled unfilled=0 filled=1",
      "done #3 Expired unfilled=0.5 filled=2",
    ]);
  });

  it("O1: a market buy by quote quantity spends at most its budget (step-rounded fills) and ends Filled", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    const evs = h.place({ account: 2, side: BUY, type: OrderType.Market, quote: U("150") });
    expect(tape(evs)).toEqual([
      "accepted #3 buy 0@0 open=0",
      "fill #3<-#1 1@100 quote=100",
      "done #1 Filled unfilled=0 filled=1",
      "fill #3<-#2 0.495@101 quote=49.995", // 0.4950 BTC is the most 50 USDC buys at 101 in 0.0001 steps
      "done #3 Filled unfilled=0 filled=1.495",
    ]);
    expect(evs[0]!.quoteQuantity).toBe(U("150"));
    expect(book(h)).toEqual(["#2 ask 0.505@101"]);
  });

  it("O1: a market buy with quantity and quoteQuantity stops at whichever limit binds first", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("5") });
    // quote binds: 150 USDC buys 1.495 of the 2 requested
    expect(tape(h.place({ account: 2, side: BUY, type: OrderType.Market, qty: Q("2"), quote: U("150") })).at(-1)).toBe(
      "done #3 Expired unfilled=0.505 filled=1.495",
    );
    // quantity binds: 1.2 for far less than 1000 USDC
    expect(tape(h.place({ account: 2, side: BUY, type: OrderType.Market, qty: Q("1.2"), quote: U("1000") }))).toEqual([
      "accepted #4 buy 1.2@0 open=1.2",
      "fill #4<-#2 1.2@101 quote=121.2",
      "done #4 Filled unfilled=0 filled=1.2",
    ]);
  });

  it("O1: postOnly rests when it would not take and is rejected (PostOnlyWouldTake) when it would", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: BUY, price: P("100"), qty: Q("1"), flags: OrderFlag.PostOnly }))).toEqual([
      "rejected PostOnlyWouldTake",
    ]);
    expect(tape(h.place({ account: 2, side: BUY, price: P("99.99"), qty: Q("1"), flags: OrderFlag.PostOnly }))).toEqual([
      "accepted #3 buy 1@99.99 open=1",
    ]);
    expect(tape(h.place({ account: 2, side: BUY, price: P("99"), qty: Q("1"), flags: OrderFlag.PostOnly, tif: TimeInForce.IOC }))).toEqual([
      "rejected InvalidField",
    ]);
  });

  /** Gives `account` a position in PERP through a fill with account 9 (the book's own replica moves with it). */
  function position(h: ReturnType<typeof harness>, account: number, qty: bigint): void {
    const long = qty > 0n;
    const abs = long ? qty : -qty;
    h.place({ market: PERP, account: 9, side: long ? SELL : BUY, price: P("100"), qty: abs });
    h.place({ market: PERP, account, side: long ? BUY : SELL, price: P("100"), qty: abs });
  }

  it("O1: reduceOnly fills at most |position| and the excess expires (ReduceOnlyCapped)", () => {
    const h = harness();
    position(h, 2, Q("0.75")); // #1, #2
    h.place({ market: PERP, account: 1, side: BUY, price: P("100"), qty: Q("5") });
    const evs = h.place({ market: PERP, account: 2, side: SELL, type: OrderType.Market, qty: Q("2"), flags: OrderFlag.ReduceOnly });
    expect(tape(evs)).toEqual([
      "accepted #4 sell 2@0 open=0.75",
      "fill #4<-#3 0.75@100 quote=75",
      "done #4 ReduceOnlyCapped unfilled=1.25 filled=0.75",
    ]);
  });

  it("O1: a reduceOnly GTC order rests capped at |position|; its Done reports requested − filled", () => {
    const h = harness();
    position(h, 2, -Q("1")); // #1, #2
    h.place({ market: PERP, account: 1, side: SELL, price: P("100"), qty: Q("0.25") });
    h.place({ market: PERP, account: 2, side: BUY, price: P("100"), qty: Q("2"), flags: OrderFlag.ReduceOnly });
    expect(book(h, PERP)).toEqual(["#4 bid 0.75@100"]);
    expect(tape(h.place({ market: PERP, account: 3, side: SELL, price: P("100"), qty: Q("3") }))).toEqual([
      "accepted #5 sell 3@100 open=3",
      "fill #5<-#4 0.75@100 quote=75",
      "done #4 ReduceOnlyCapped unfilled=1 filled=1",
    ]);
  });

  it("O1: a resting reduceOnly order is capped again when hit: the position shrank by other fills, it fills only the rest", () => {
    const h = harness();
    position(h, 2, Q("1")); // #1, #2
    h.place({ market: PERP, account: 2, side: SELL, price: P("101"), qty: Q("1"), flags: OrderFlag.ReduceOnly }); // #3
    h.place({ market: PERP, account: 3, side: BUY, price: P("100"), qty: Q("0.6") }); // #4
    h.place({ market: PERP, account: 2, side: SELL, price: P("100"), qty: Q("0.6") }); // #5: long 0.4 left
    expect(tape(h.place({ market: PERP, account: 4, side: BUY, price: P("101"), qty: Q("1") }))).toEqual([
      "accepted #6 buy 1@101 open=1",
      "fill #6<-#3 0.4@101 quote=40.4",
      "done #3 ReduceOnlyCapped unfilled=0.6 filled=0.4",
    ]);
    expect(book(h, PERP)).toEqual(["#6 bid 0.6@101"]);
  });

  it("O1: reduceOnly that cannot reduce is rejected (ReduceOnlyNotReducing); spot markets refuse reduceOnly", () => {
    const h = harness();
    const ro = { side: BUY, price: P("100"), qty: Q("1"), flags: OrderFlag.ReduceOnly } as const;
    expect(tape(h.place({ ...ro, market: PERP, account: 1 }))).toEqual(["rejected ReduceOnlyNotReducing"]); // flat
    position(h, 1, Q("1"));
    expect(tape(h.place({ ...ro, market: PERP, account: 1 }))).toEqual(["rejected ReduceOnlyNotReducing"]); // a buy on a long
    expect(tape(h.place({ ...ro, market: SPOT, account: 1 }))).toEqual(["rejected InvalidField"]);
  });

  it("O1: clientId is unique per account and market among open orders (DuplicateClientId), free again once done", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1"), clientId: 5n });
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1"), clientId: 5n }))).toEqual(["rejected DuplicateClientId"]);
    expect(tape(h.place({ account: 2, side: BUY, price: P("98"), qty: Q("1"), clientId: 5n }))).toEqual(["accepted #3 buy 1@98 open=1"]);
    expect(tape(h.place({ market: SPOT2, account: 1, side: BUY, price: P("98"), qty: Q("1"), clientId: 5n }))).toEqual(["accepted #4 buy 1@98 open=1"]);
    h.cancel(1, 1);
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1"), clientId: 5n }))).toEqual(["accepted #6 buy 1@98 open=1"]);
  });

  it("O1/O8: past CLIENT_ID_SCAN_MAX resting orders an account's clientIds are indexed — duplicates still refused, cancel by clientId still finds them, below it again too", () => {
    const h = harness();
    const n = CLIENT_ID_SCAN_MAX + 4;
    for (let i = 1; i <= n; i++) {
      expect(tape(h.place({ account: 1, side: BUY, price: P(String(90 - i)), qty: Q("1"), clientId: BigInt(100 + i) }))).toEqual([`accepted #${2 * i - 1} buy 1@${90 - i} open=1`]);
      // Walked (first orders) and then indexed: the first order's clientId is in use either way.
      expect(tape(h.place({ account: 1, side: SELL, price: P("120"), qty: Q("1"), clientId: 101n }))).toEqual(["rejected DuplicateClientId"]);
    }
    let next = 2 * n + 1;
    for (let i = n; i >= 2; i--) {
      expect(tape(h.cancelByClientId(1, BigInt(100 + i), OrderFlag.ByClientId))).toEqual([`done #${2 * i - 1} Canceled unfilled=1 filled=0`]);
      next++;
      expect(tape(h.cancelByClientId(1, BigInt(100 + i), OrderFlag.ByClientId))).toEqual(["rejected UnknownOrder"]);
      next++;
    }
    // One order left (clientId 101): its clientId is still in use, the others are free again.
    expect(tape(h.place({ account: 1, side: BUY, price: P("80"), qty: Q("1"), clientId: 101n }))).toEqual(["rejected DuplicateClientId"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("80"), qty: Q("1"), clientId: 105n }))).toEqual([`accepted #${next + 1} buy 1@80 open=1`]);
  });

  it("O1/O8: 600 accounts' order lists (past the lists' first capacity of 256): each account's cancel by clientId and CancelAll find exactly its own orders", () => {
    const h = harness();
    const accounts = 600;
    for (let a = 1; a <= accounts; a++) {
      expect(tape(h.place({ account: a, side: BUY, price: P(String(95 + (a % 5))), qty: Q("1"), clientId: 7n }))[0]).toMatch(/^accepted/);
      expect(tape(h.place({ account: a, side: SELL, price: P(String(101 + (a % 5))), qty: Q("1"), clientId: 8n }))[0]).toMatch(/^accepted/);
    }
    h.shard.validateInternalState();
    // Order ids: account a's are 2a − 1 (clientId 7) and 2a (clientId 8).
    expect(tape(h.cancelByClientId(599, 8n, OrderFlag.ByClientId))).toEqual(["done #1198 Canceled unfilled=1 filled=0"]);
    expect(tape(h.cancelAll(300)).sort()).toEqual(["command accepted code=0 amount=2", "done #599 CanceledByAll unfilled=1 filled=0", "done #600 CanceledByAll unfilled=1 filled=0"]);
    expect(tape(h.place({ account: 300, side: BUY, price: P("96"), qty: Q("1"), clientId: 8n }))).toEqual(["accepted #1203 buy 1@96 open=1"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("96"), qty: Q("1"), clientId: 7n }))).toEqual(["rejected DuplicateClientId"]);
    h.shard.validateInternalState();
  });
});

describe("O2: market filters", () => {
  const cases: [string, Parameters<Harness["place"]>[0], string][] = [
    ["TickSize", { account: 1, side: BUY, price: P("100.005"), qty: Q("1") }, "TickSize"],
    ["InvalidPrice", { account: 1, side: BUY, price: 0n, qty: Q("1") }, "InvalidPrice"],
    ["MaxPrice", { account: 1, side: SELL, price: P("1000000.01"), qty: Q("1") }, "MaxPrice"],
    ["StepSize", { account: 1, side: BUY, price: P("100"), qty: Q("1.00001") }, "StepSize"],
    ["MaxQuantity", { account: 1, side: BUY, price: P("100"), qty: Q("1000.0001") }, "MaxQuantity"],
    ["InvalidQuantity", { account: 1, side: BUY, price: P("100"), qty: 0n }, "InvalidQuantity"],
    ["MinNotional", { account: 1, side: BUY, price: P("100"), qty: Q("0.0099") }, "MinNotional"],
    ["MinNotional (quote)", { account: 1, side: BUY, type: OrderType.Market, quote: U("0.99") }, "MinNotional"],
  ];
  for (const [name, args, code] of cases) {
    it(`O2: ${name} violation is a typed reject naming the filter and changes nothing`, () => {
      const h = harness();
      h.place({ account: 9, side: SELL, price: P("200"), qty: Q("1") });
      const depth = h.shard.depthSnapshot(SPOT, 10);
      const evs = h.place(args);
      expect(tape(evs)).toEqual([`rejected ${code}`]);
      expect(evs[0]!.message.startsWith(code)).toBe(true);
      expect(evs[0]!.orderId).toBe(2);
      expect(book(h)).toEqual(["#1 ask 1@200"]);
      expect(h.shard.depthSnapshot(SPOT, 10)).toEqual(depth);
    });
  }

  it("O2: MinPrice and MinQuantity are checked against the market's own minimums", () => {
    const h = harness(testConfig({ minPrice: P("1"), minQuantity: Q("0.01") }));
    expect(tape(h.place({ account: 1, side: BUY, price: P("0.99"), qty: Q("1") }))).toEqual(["rejected MinPrice"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("100"), qty: Q("0.0099") }))).toEqual(["rejected MinQuantity"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("100"), qty: Q("0.01") }))).toEqual(["accepted #3 buy 0.01@100 open=0.01"]);
  });

  it("O2: min notional is exact at the boundary (1 USDC = 0.01 BTC at 100)", () => {
    const h = harness();
    expect(tape(h.place({ account: 1, side: BUY, price: P("100"), qty: Q("0.01") }))).toEqual(["accepted #1 buy 0.01@100 open=0.01"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("99.99"), qty: Q("0.01") }))).toEqual(["rejected MinNotional"]);
  });
});

describe("O3: self-trade prevention (the taker's mode decides)", () => {
  const modes = Object.entries(SelfTradePrevention) as [string, number][];
  for (const [takerName, taker] of modes) {
    for (const [makerName, maker] of modes) {
      it(`O3: taker ${takerName} × maker ${makerName}`, () => {
        const h = harness();
        h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1"), stp: maker }); // own order, first in the queue
        h.place({ account: 2, side: SELL, price: P("100"), qty: Q("1") }); // someone else's, behind it
        const evs = tape(h.place({ account: 1, side: BUY, price: P("100"), qty: Q("2"), stp: taker }));
        const expected: Record<string, string[]> = {
          Allow: [
            "accepted #3 buy 2@100 open=2",
            "fill #3<-#1 1@100 quote=100",
            "done #1 Filled unfilled=0 filled=1",
            "fill #3<-#2 1@100 quote=100",
            "done #2 Filled unfilled=0 filled=1",
            "done #3 Filled unfilled=0 filled=2",
          ],
          RejectTaker: ["accepted #3 buy 2@100 open=2", "done #3 SelfTradeTaker unfilled=2 filled=0"],
          RejectMaker: [
            "accepted #3 buy 2@100 open=2",
            "done #1 SelfTradeMaker unfilled=1 filled=0",
            "fill #3<-#2 1@100 quote=100",
            "done #2 Filled unfilled=0 filled=1",
          ],
          RejectBoth: [
            "accepted #3 buy 2@100 open=2",
            "done #1 SelfTradeMaker unfilled=1 filled=0",
            "done #3 SelfTradeTaker unfilled=2 filled=0",
          ],
        };
        expect(evs).toEqual(expected[takerName]);
        const rest: Record<string, string[]> = {
          Allow: [],
          RejectTaker: ["#1 ask 1@100", "#2 ask 1@100"],
          RejectMaker: ["#3 bid 1@100"],
          RejectBoth: ["#2 ask 1@100"],
        };
        expect(book(h)).toEqual(rest[takerName]);
      });
    }
  }

  it("O3: sub-accounts of one user are different accounts (no STP between them)", () => {
    const h = harness();
    const main = 5 << 4;
    h.place({ account: main, side: SELL, price: P("100"), qty: Q("1") });
    expect(tape(h.place({ account: main | 1, side: BUY, price: P("100"), qty: Q("1"), stp: SelfTradePrevention.RejectBoth }))[1]).toBe(
      "fill #2<-#1 1@100 quote=100",
    );
  });

  it("O3: FOK counts RejectMaker self-orders out of the fillable quantity and stops at RejectTaker", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 2, side: SELL, price: P("100"), qty: Q("1") });
    const fok = { account: 1, side: BUY, price: P("100"), qty: Q("1.5"), tif: TimeInForce.FOK } as const;
    expect(tape(h.place({ ...fok, stp: SelfTradePrevention.RejectMaker })).at(-1)).toBe("done #3 FokUnfilled unfilled=1.5 filled=0");
    expect(book(h)).toEqual(["#1 ask 1@100", "#2 ask 1@100"]);
    expect(tape(h.place({ ...fok, qty: Q("1"), stp: SelfTradePrevention.RejectMaker }))).toEqual([
      "accepted #4 buy 1@100 open=1",
      "done #1 SelfTradeMaker unfilled=1 filled=0",
      "fill #4<-#2 1@100 quote=100",
      "done #2 Filled unfilled=0 filled=1",
      "done #4 Filled unfilled=0 filled=1",
    ]);
  });
});

describe("O4: limit price band around the active price", () => {
  it("O4: active price is the median of best bid, best ask and last trade; bounds are inclusive", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("120"), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("120"), qty: Q("1") }); // last = 120
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    // active = median(99, 101, 120) = 101 → [75.75, 126.25]
    expect(tape(h.place({ account: 3, side: SELL, price: P("126.26"), qty: Q("1") }))).toEqual(["rejected PriceBand"]);
    expect(tape(h.place({ account: 3, side: SELL, price: P("126.25"), qty: Q("1") }))).toEqual(["accepted #6 sell 1@126.25 open=1"]);
    expect(tape(h.place({ account: 3, side: BUY, price: P("75.74"), qty: Q("1") }))).toEqual(["rejected PriceBand"]);
    expect(tape(h.place({ account: 3, side: BUY, price: P("75.75"), qty: Q("1") }))).toEqual(["accepted #8 buy 1@75.75 open=1"]);
  });

  it("O4: with two reference prices the band is around their mean; with none there is no band", () => {
    const h = harness();
    expect(tape(h.place({ account: 1, side: BUY, price: P("90"), qty: Q("1") }))).toEqual(["accepted #1 buy 1@90 open=1"]);
    h.place({ account: 1, side: SELL, price: P("110"), qty: Q("1") });
    // active = (90 + 110) / 2 = 100 → max 125
    expect(tape(h.place({ account: 2, side: SELL, price: P("125.01"), qty: Q("1") }))).toEqual(["rejected PriceBand"]);
    const empty = harness();
    expect(tape(empty.place({ account: 1, side: SELL, price: P("999999"), qty: Q("1") }))).toEqual(["accepted #1 sell 1@999999 open=1"]);
  });

  it("O4: market orders are not subject to the limit price band", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: BUY, type: OrderType.Market, qty: Q("0.5") })).at(-1)).toBe("done #2 Filled unfilled=0 filled=0.5");
  });
});

describe("O5: impact band", () => {
  it("O5: a buy fills only up to best ask × maxImpactMultiplier; the rest expires (ImpactBand), even for GTC", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("105"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("105.01"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: BUY, price: P("110"), qty: Q("3") }))).toEqual([
      "accepted #4 buy 3@110 open=3",
      "fill #4<-#1 1@100 quote=100",
      "done #1 Filled unfilled=0 filled=1",
      "fill #4<-#2 1@105 quote=105",
      "done #2 Filled unfilled=0 filled=1",
      "done #4 ImpactBand unfilled=1 filled=2",
    ]);
    expect(book(h)).toEqual(["#3 ask 1@105.01"]);
  });

  it("O5: a sell fills only down to best bid × minImpactMultiplier", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("95"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("94.99"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: SELL, type: OrderType.Market, qty: Q("3") })).at(-1)).toBe(
      "done #4 ImpactBand unfilled=1 filled=2",
    );
  });
});

describe("O6: mean-mark band", () => {
  it("O6: inactive until the first MarketBandInputs; then fills stop at meanMark × maxMultiplier (MeanMarkBand)", () => {
    const setup = (h: Harness<MatchingShard>) => {
      h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
      h.place({ account: 1, side: SELL, price: P("104"), qty: Q("1") });
      h.place({ account: 1, side: SELL, price: P("104.9"), qty: Q("1") });
    };
    const before = harness();
    setup(before);
    expect(tape(before.place({ account: 2, side: BUY, price: P("110"), qty: Q("3") })).at(-1)).toBe("done #4 Filled unfilled=0 filled=3");

    const h = harness();
    setup(h);
    expect(h.bandInputs(P("95"), 0n)).toEqual([]); // publishes nothing
    // meanMark 95 × 1.1 = 104.5 binds before the impact band (105)
    expect(tape(h.place({ account: 2, side: BUY, price: P("110"), qty: Q("3") })).at(-1)).toBe("done #5 MeanMarkBand unfilled=1 filled=2");
  });

  it("O6: sells stop at meanMark × minMultiplier", () => {
    const h = harness();
    h.bandInputs(P("110"), 0n); // sells stop at 110 × 0.9 = 99, before the impact band (95)
    h.place({ account: 1, side: BUY, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("98.99"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: SELL, type: OrderType.Market, qty: Q("3") })).at(-1)).toBe(
      "done #5 MeanMarkBand unfilled=1 filled=2",
    );
  });

  it("O6: bad band inputs are rejected and change nothing", () => {
    const h = harness();
    expect(tape(h.bandInputs(0n, 0n))).toEqual(["command rejected InvalidPrice"]);
    expect(tape(h.bandInputs(P("100"), R("-1")))).toEqual(["command rejected InvalidField"]);
  });
});

describe("O7: perpetual mean-premium band", () => {
  it("O7: a buy fills only while the premium stays ≤ p̄ + t (index implied by mean mark and premium)", () => {
    const h = harness();
    h.bandInputs(P("100"), R("0.01"), PERP); // index = 100 / 1.01; bound = 100 × 1.06 / 1.01 = 104.9504…
    h.place({ market: PERP, account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ market: PERP, account: 1, side: SELL, price: P("104.95"), qty: Q("1") });
    h.place({ market: PERP, account: 1, side: SELL, price: P("104.96"), qty: Q("1") });
    expect(tape(h.place({ market: PERP, account: 2, side: BUY, price: P("110"), qty: Q("3") })).at(-1)).toBe(
      "done #5 PremiumBand unfilled=1 filled=2",
    );
  });

  it("O7: with an explicit index price the premium is measured against it", () => {
    const h = harness();
    h.bandInputs(P("100"), R("0.01"), PERP, P("100")); // bound = 100 × 1.06 = 106 → the impact band (105) binds first
    h.place({ market: PERP, account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ market: PERP, account: 1, side: SELL, price: P("104.96"), qty: Q("1") });
    h.place({ market: PERP, account: 1, side: SELL, price: P("105.5"), qty: Q("1") });
    expect(tape(h.place({ market: PERP, account: 2, side: BUY, price: P("110"), qty: Q("3") })).at(-1)).toBe(
      "done #5 ImpactBand unfilled=1 filled=2",
    );
  });

  it("O7: a sell fills only while the premium stays ≥ p̄ − t", () => {
    const h = harness();
    h.bandInputs(P("100"), R("0.02"), PERP); // bound = 100 × 0.97 / 1.02 = 95.098… → 95.10
    h.place({ market: PERP, account: 1, side: BUY, price: P("100"), qty: Q("1") });
    h.place({ market: PERP, account: 1, side: BUY, price: P("95.1"), qty: Q("1") });
    h.place({ market: PERP, account: 1, side: BUY, price: P("95.09"), qty: Q("1") });
    expect(tape(h.place({ market: PERP, account: 2, side: SELL, type: OrderType.Market, qty: Q("3") })).at(-1)).toBe(
      "done #5 PremiumBand unfilled=1 filled=2",
    );
  });

  it("O7: spot markets have no premium band", () => {
    const h = harness();
    h.bandInputs(P("100"), R("0.01"), SPOT);
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("104.96"), qty: Q("1") });
    expect(tape(h.place({ account: 2, side: BUY, price: P("110"), qty: Q("2") })).at(-1)).toBe("done #4 Filled unfilled=0 filled=2");
  });
});

describe("O8: cancel one, cancel all, market sequence", () => {
  it("O8: cancel by order id; another account's order is UnknownOrder; the reject names the command", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    expect(tape(h.cancel(2, 1))).toEqual(["rejected UnknownOrder"]);
    expect(h.sink.events.at(-1)!.orderId).toBe(2);
    expect(tape(h.cancel(1, 1))).toEqual(["done #1 Canceled unfilled=1 filled=0"]);
    expect(tape(h.cancel(1, 1))).toEqual(["rejected UnknownOrder"]);
  });

  it("O8: cancel by clientId (ByClientId flag)", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1"), clientId: 42n });
    expect(tape(h.cancelByClientId(1, 43n, OrderFlag.ByClientId))).toEqual(["rejected UnknownOrder"]);
    const evs = h.cancelByClientId(1, 42n, OrderFlag.ByClientId);
    expect(tape(evs)).toEqual(["done #1 Canceled unfilled=1 filled=0"]);
    expect(evs[0]!.clientId).toBe(42n);
  });

  it("O8: cancel all of one market (ascending order id), then across all markets of the shard", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("98"), qty: Q("1") });
    h.place({ market: SPOT2, account: 1, side: BUY, price: P("98"), qty: Q("1") });
    expect(tape(h.cancelAll(1))).toEqual([
      "done #1 CanceledByAll unfilled=1 filled=0",
      "done #2 CanceledByAll unfilled=1 filled=0",
      "command accepted code=0 amount=2",
    ]);
    h.place({ account: 1, side: BUY, price: P("97"), qty: Q("1") });
    const all = h.cancelAll(1, ALL_MARKETS);
    expect(tape(all)).toEqual([
      "done #6 CanceledByAll unfilled=1 filled=0",
      "done #4 CanceledByAll unfilled=1 filled=0",
      "command accepted code=0 amount=2",
    ]);
    expect(all.map((e) => e.market)).toEqual([SPOT, SPOT2, ALL_MARKETS]);
    expect(all[2]!.marketSeq).toBe(0);
    expect(book(h)).toEqual(["#3 bid 1@98"]);
  });

  it("O8: cancel all after cancel-replaces (moved and kept in place) still reports ascending order ids", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("97"), qty: Q("2") }); // #1
    h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") }); // #2
    h.place({ account: 1, side: SELL, price: P("105"), qty: Q("1") }); // #3
    h.replace(1, 1, P("97"), Q("1")); // #4: same price, smaller → keeps its place
    h.replace(1, 2, P("96"), Q("1")); // #5: moved
    h.place({ account: 1, side: SELL, price: P("104"), qty: Q("1") }); // #6
    h.replace(1, 3, P("103"), Q("1")); // #7: moved
    expect(tape(h.cancelAll(1))).toEqual([
      "done #4 CanceledByAll unfilled=1 filled=0",
      "done #5 CanceledByAll unfilled=1 filled=0",
      "done #6 CanceledByAll unfilled=1 filled=0",
      "done #7 CanceledByAll unfilled=1 filled=0",
      "command accepted code=0 amount=4",
    ]);
    expect(book(h)).toEqual([]);
  });

  it("O8: every event of a market carries the market's sequence number, +1 per event, per market", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ market: SPOT2, account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("100"), qty: Q("2") });
    h.place({ account: 2, side: BUY, price: P("0.001"), qty: Q("2") }); // reject
    h.place({ market: 9, account: 2, side: BUY, price: P("1"), qty: Q("2") }); // unknown market
    const seqs = h.sink.events.map((e) => [e.market, e.marketSeq]);
    expect(seqs).toEqual([
      [SPOT, 1],
      [SPOT2, 1],
      [SPOT, 2],
      [SPOT, 3],
      [SPOT, 4],
      [SPOT, 5],
      [9, 0],
    ]);
    expect(h.sink.events.at(-1)!.code).toBe(RejectCode.UnknownMarket);
  });
});

describe("O8: the reused event record", () => {
  it("O8: fees a consumer sets on a Fill and the Fill's maker fields do not leak into the events after it", () => {
    const shard = new MatchingShard(testConfig(), [SPOT]);
    const seen: { kind: number; makerAccount: number; makerOrderId: number; makerClientId: bigint; makerFee: bigint; takerFee: bigint; tradeId: number; asset: number }[] = [];
    const sink = {
      publish(e: EventRecord): void {
        seen.push({ kind: e.kind, makerAccount: e.makerAccount, makerOrderId: e.makerOrderId, makerClientId: e.makerClientId, makerFee: e.makerFee, takerFee: e.takerFee, tradeId: e.tradeId, asset: e.asset });
        if (e.kind === EventKind.Fill) {
          e.makerFee = 5n; // risk writes the fees of a Fill into the record
          e.takerFee = 7n;
        }
      },
    };
    const c = new CommandRecord();
    const place = (seq: number, account: number, side: number, qty: bigint, clientId: bigint) => {
      c.clear();
      c.kind = CommandKind.PlaceOrder;
      c.seq = seq;
      c.market = SPOT;
      c.account = account;
      c.side = side;
      c.orderType = OrderType.Limit;
      c.tif = TimeInForce.GTC;
      c.stp = SelfTradePrevention.Allow;
      c.price = P("100");
      c.quantity = qty;
      c.clientId = clientId;
      shard.handle(c, sink);
    };
    place(1, 1, SELL, Q("2"), 11n);
    place(2, 2, BUY, Q("1"), 22n); // accepted, fill, done(taker)
    place(3, 3, BUY, Q("1"), 0n); // accepted, fill, done(maker), done(taker)
    const zero = { makerAccount: 0, makerOrderId: 0, makerClientId: 0n, makerFee: 0n, takerFee: 0n, tradeId: 0, asset: 0 };
    const fill = (tradeId: number) => ({ kind: EventKind.Fill, makerAccount: 1, makerOrderId: 1, makerClientId: 11n, makerFee: 0n, takerFee: 0n, tradeId, asset: 0 });
    expect(seen).toEqual([
      { kind: EventKind.OrderAccepted, ...zero },
      { kind: EventKind.OrderAccepted, ...zero },
      fill(1),
      { kind: EventKind.OrderDone, ...zero },
      { kind: EventKind.OrderAccepted, ...zero },
      fill(2),
      { kind: EventKind.OrderDone, ...zero },
      { kind: EventKind.OrderDone, ...zero },
    ]);
  });
});

describe("cancel-replace (O1, O8)", () => {
  it("O1: replace keeps time priority when the price is unchanged and the quantity shrinks", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1"), clientId: 11n });
    h.place({ account: 2, side: SELL, price: P("100"), qty: Q("1") });
    const evs = h.replace(1, 1, P("100"), Q("0.5"));
    expect(tape(evs)).toEqual(["done #1 Replaced unfilled=1 filled=0", "accepted #3 sell 0.5@100 open=0.5"]);
    expect(evs[1]!.clientId).toBe(11n);
    expect(book(h)).toEqual(["#3 ask 0.5@100", "#2 ask 1@100"]);
  });

  it("O1: replace goes to the back of the queue when the quantity grows", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 2, side: SELL, price: P("100"), qty: Q("1") });
    h.replace(1, 1, P("100"), Q("1.5"));
    expect(book(h)).toEqual(["#2 ask 1@100", "#3 ask 1.5@100"]);
  });

  it("O1: a replaced (moved) order that crosses trades as a GTC taker", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("99"), qty: Q("0.4") });
    expect(tape(h.replace(1, 1, P("99"), Q("1")))).toEqual([
      "done #1 Replaced unfilled=1 filled=0",
      "accepted #3 sell 1@99 open=1",
      "fill #3<-#2 0.4@99 quote=39.6",
      "done #2 Filled unfilled=0 filled=0.4",
    ]);
    expect(book(h)).toEqual(["#3 ask 0.6@99"]);
  });

  it("O1: a partly filled order's replacement is a fresh order; Replaced reports the old fill", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("100"), qty: Q("0.3") });
    expect(tape(h.replace(1, 1, P("100"), Q("0.5")))).toEqual(["done #1 Replaced unfilled=0.7 filled=0.3", "accepted #3 sell 0.5@100 open=0.5"]);
  });

  it("O1: a rejected replace leaves the old order untouched (filters, band, postOnly, unknown target)", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1"), flags: OrderFlag.PostOnly, clientId: 3n });
    h.place({ account: 2, side: BUY, price: P("100"), qty: Q("1") });
    expect(tape(h.replace(1, 1, P("100.005"), Q("1")))).toEqual(["rejected TickSize"]);
    expect(tape(h.replace(1, 1, P("101"), Q("0.00001")))).toEqual(["rejected StepSize"]);
    expect(tape(h.replace(1, 1, P("200"), Q("1")))).toEqual(["rejected PriceBand"]);
    expect(tape(h.replace(1, 1, P("100"), Q("1")))).toEqual(["rejected PostOnlyWouldTake"]);
    expect(tape(h.replace(2, 1, P("102"), Q("1")))).toEqual(["rejected UnknownOrder"]);
    expect(book(h)).toEqual(["#2 bid 1@100", "#1 ask 1@101"]);
    expect(tape(h.replace(1, 0, P("102"), Q("1"), { clientId: 3n, flags: OrderFlag.ByClientId }))).toEqual([
      "done #1 Replaced unfilled=1 filled=0",
      "accepted #8 sell 1@102 open=1",
    ]);
  });
});

describe("market states", () => {
  it("PostOnly state: only postOnly limit orders; cancels work", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    expect(tape(h.setState(MarketState.PostOnly))).toEqual([`command accepted code=${MarketState.PostOnly} amount=0`]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") }))).toEqual(["rejected MarketStateForbids"]);
    expect(tape(h.place({ account: 1, side: SELL, type: OrderType.Market, qty: Q("1") }))).toEqual(["rejected MarketStateForbids"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1"), flags: OrderFlag.PostOnly }))).toEqual(["accepted #5 buy 1@98 open=1"]);
    expect(tape(h.place({ account: 2, side: SELL, price: P("99"), qty: Q("1"), flags: OrderFlag.PostOnly }))).toEqual(["rejected PostOnlyWouldTake"]);
    expect(tape(h.replace(1, 1, P("101"), Q("1")))).toEqual(["done #1 Replaced unfilled=1 filled=0", "accepted #7 buy 1@101 open=1"]);
    expect(tape(h.cancel(1, 7))).toEqual(["done #7 Canceled unfilled=1 filled=0"]);
  });

  it("LimitOnly state: market orders are refused, limit IOC/GTC are fine", () => {
    const h = harness();
    h.setState(MarketState.LimitOnly);
    expect(tape(h.place({ account: 1, side: SELL, type: OrderType.Market, qty: Q("1") }))).toEqual(["rejected MarketStateForbids"]);
    expect(tape(h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1"), tif: TimeInForce.IOC }))).toEqual([
      "accepted #3 sell 1@100 open=1",
      "done #3 Expired unfilled=1 filled=0",
    ]);
  });

  it("CancelOnly state: places and replaces are refused, cancels work", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.setState(MarketState.CancelOnly);
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") }))).toEqual(["rejected MarketStateForbids"]);
    expect(tape(h.replace(1, 1, P("98"), Q("1")))).toEqual(["rejected MarketStateForbids"]);
    expect(tape(h.cancel(1, 1))).toEqual(["done #1 Canceled unfilled=1 filled=0"]);
  });

  it("Closed state: entering it cancels every resting order (bids then asks, best first); orders are refused", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("102"), qty: Q("1") });
    h.place({ account: 2, side: SELL, price: P("101"), qty: Q("1") });
    h.place({ account: 3, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 4, side: BUY, price: P("100"), qty: Q("1") });
    expect(tape(h.setState(MarketState.Closed))).toEqual([
      "done #4 CanceledByAll unfilled=1 filled=0",
      "done #3 CanceledByAll unfilled=1 filled=0",
      "done #2 CanceledByAll unfilled=1 filled=0",
      "done #1 CanceledByAll unfilled=1 filled=0",
      `command accepted code=${MarketState.Closed} amount=0`,
    ]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") }))).toEqual(["rejected MarketStateForbids"]);
    h.setState(MarketState.Open);
    expect(tape(h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") }))).toEqual(["accepted #8 buy 1@98 open=1"]);
  });

  it("an unknown market state is a typed reject", () => {
    const h = harness();
    expect(tape(h.setState(7))).toEqual(["command rejected InvalidField"]);
    expect(h.shard.marketState(SPOT)).toBe(MarketState.Open);
  });
});

describe("limits and storage", () => {
  it("open orders per account and market are limited (TooManyOpenOrders); IOC orders are not counted", () => {
    const h = harness(testConfig(), { maxOpenOrdersPerAccountMarket: 2 });
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") });
    expect(tape(h.place({ account: 1, side: BUY, price: P("97"), qty: Q("1") }))).toEqual(["rejected TooManyOpenOrders"]);
    expect(tape(h.place({ account: 1, side: BUY, price: P("97"), qty: Q("1"), tif: TimeInForce.IOC }))[1]).toBe("done #4 Expired unfilled=1 filled=0");
    expect(tape(h.place({ account: 2, side: BUY, price: P("97"), qty: Q("1") }))).toEqual(["accepted #5 buy 1@97 open=1"]);
  });

  it("price levels per side are limited (Overloaded); joining an existing level is fine", () => {
    const h = harness(testConfig(), { maxLevelsPerSide: 2 });
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") });
    expect(tape(h.place({ account: 1, side: BUY, price: P("97"), qty: Q("1") }))).toEqual(["rejected Overloaded"]);
    expect(tape(h.place({ account: 2, side: BUY, price: P("98"), qty: Q("1") }))).toEqual(["accepted #4 buy 1@98 open=1"]);
    expect(tape(h.place({ account: 2, side: SELL, price: P("101"), qty: Q("1") }))).toEqual(["accepted #5 sell 1@101 open=1"]);
  });

  it("storage grows in steps past its initial capacity without losing orders", () => {
    const h = harness(testConfig(), { initialOrderCapacity: 16, initialLevelCapacity: 16 });
    const cents = (c: number) => P(`${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`);
    for (let i = 0; i < 600; i++) {
      const k = (i >> 1) % 50;
      h.place({ account: 1 + (i % 7), side: i % 2, price: cents(i % 2 === 0 ? 9000 - k * 10 : 11000 + k * 10), qty: Q("0.1") });
    }
    expect(h.shard.bookOrders(SPOT)).toHaveLength(600);
    const d = h.shard.depthSnapshot(SPOT, 1000);
    expect([d.bids.length, d.asks.length]).toEqual([50, 50]);
    expect(d.bids[0]).toEqual({ price: P("90"), quantity: Q("0.6"), orderCount: 6 });
    for (let a = 1; a <= 7; a++) h.cancelAll(a);
    expect(h.shard.bookOrders(SPOT)).toEqual([]);
  });

  it("a config whose price range exceeds the tick index range is refused at start-up", () => {
    expect(() => new MatchingShard(testConfig({ tickSize: 1n, minPrice: 1n, maxPrice: 10n ** 12n }), [SPOT])).toThrow(/TICK_INDEX_MAX/);
  });
});

describe("X4: determinism", () => {
  it("X4: the same commands give the same state hash; the hash covers the book contents", () => {
    const run = (qty: string) => {
      const h = harness();
      h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
      h.place({ account: 2, side: BUY, price: P("99"), qty: Q(qty) });
      h.advance(1_700_000_000_000);
      return h.shard.stateHash();
    };
    expect(run("1")).toBe(run("1"));
    expect(run("1")).not.toBe(run("2"));
    expect(run("1")).toMatch(/^[0-9a-f]{16}$/);
  });
});
