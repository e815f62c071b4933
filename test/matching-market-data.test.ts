// O8 market data of the matching engine: L2 depth snapshot + gap-detectable deltas, trades, BBO, 24 h ticker.

import { describe, expect, it } from "vitest";
import { MatchingShard } from "../engine/matching/index.ts";
import { OrderType, Side, TimeInForce } from "../engine/model/index.ts";
import { Harness, P, PERP, Q, SPOT, SPOT2, testConfig, type MdCall } from "./matching-helpers.ts";

const BUY = Side.Buy;
const SELL = Side.Sell;
const H = 3_600_000;

function harness(): Harness<MatchingShard> {
  return new Harness(new MatchingShard(testConfig(), [SPOT, PERP, SPOT2]));
}

const only = <T extends MdCall["t"]>(calls: readonly MdCall[], t: T) => calls.filter((c): c is Extract<MdCall, { t: T }> => c.t === t);

/** A deterministic churn of places, crossing orders, cancels and replaces (xorshift-driven). */
function churn(h: Harness<MatchingShard>, n: number, seed: number): void {
  let x = seed;
  const rnd = (m: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % m;
  };
  const live: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd(10);
    if (r < 6 || live.length === 0) {
      const side = rnd(2);
      const evs = h.place({ account: 1 + rnd(5), side, price: P(String(100 + (side === BUY ? -1 : 1) * (rnd(8) - 2))), qty: Q(`0.${1 + rnd(9)}`) });
      if (evs.every((e) => e.kind !== 4 || e.orderId !== evs[0]!.orderId)) live.push(evs[0]!.orderId);
    } else if (r < 8) {
      const id = live.splice(rnd(live.length), 1)[0]!;
      const o = h.shard.bookOrders(SPOT).find((b) => b.orderId === id);
      if (o) h.cancel(o.account, id);
    } else {
      const id = live.splice(rnd(live.length), 1)[0]!;
      const o = h.shard.bookOrders(SPOT).find((b) => b.orderId === id);
      if (o) {
        const evs = h.replace(o.account, id, o.price + (rnd(3) === 0 ? P("1") : 0n), Q(`0.${1 + rnd(9)}`));
        if (evs.length > 1) live.push(evs[1]!.orderId);
      }
    }
  }
}

describe("O8: L2 depth", () => {
  it("O8: every delta starts at the previous delta's last update id + 1", () => {
    const h = harness();
    churn(h, 400, 12345);
    const deltas = only(h.md.calls, "depth");
    expect(deltas.length).toBeGreaterThan(100);
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]!.first).toBe(deltas[i - 1]!.last + 1);
    // Each delta is followed by exactly last − first + 1 levels carrying the ids in order.
    const calls = h.md.calls;
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i]!;
      if (c.t !== "depth") continue;
      const levels = calls.slice(i + 1, i + 1 + (c.last - c.first + 1));
      expect(levels.map((l) => (l.t === "level" ? l.updateId : -1))).toEqual(
        Array.from({ length: c.last - c.first + 1 }, (_, k) => c.first + k),
      );
    }
  });

  it("O8: a snapshot plus the deltas after its lastUpdateId rebuild the book exactly", () => {
    const h = harness();
    churn(h, 150, 777);
    const snap = h.shard.depthSnapshot(SPOT, 1000);
    const book = new Map<string, bigint>();
    for (const l of snap.bids) book.set(`0:${l.price}`, l.quantity);
    for (const l of snap.asks) book.set(`1:${l.price}`, l.quantity);
    const from = h.md.calls.length;
    churn(h, 300, 4242);
    for (const c of h.md.calls.slice(from)) {
      if (c.t !== "level" || c.market !== SPOT || c.updateId <= snap.lastUpdateId) continue;
      if (c.quantity === 0n) book.delete(`${c.side}:${c.price}`);
      else book.set(`${c.side}:${c.price}`, c.quantity);
    }
    const now = h.shard.depthSnapshot(SPOT, 1000);
    const want = new Map<string, bigint>();
    for (const l of now.bids) want.set(`0:${l.price}`, l.quantity);
    for (const l of now.asks) want.set(`1:${l.price}`, l.quantity);
    expect(book).toEqual(want);
  });

  it("O8: levels are reported bids best→worst then asks best→worst; a removed level has quantity 0", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("102"), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("99"), qty: Q("1") });
    const from = h.md.calls.length;
    h.place({ account: 3, side: BUY, price: P("101.5"), qty: Q("1.5") }); // takes 101, rests 0.5 at 101.5
    const calls = h.md.calls.slice(from).filter((c) => c.t === "depth" || c.t === "level");
    expect(calls).toEqual([
      { t: "depth", market: SPOT, first: 4, last: 5, timeMs: 0 },
      { t: "level", market: SPOT, side: BUY, price: P("101.5"), quantity: Q("0.5"), updateId: 4 },
      { t: "level", market: SPOT, side: SELL, price: P("101"), quantity: 0n, updateId: 5 },
    ]);
  });

  it("O8: a command that leaves every level total unchanged publishes no depth delta", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    const from = h.md.calls.length;
    h.replace(1, 1, P("101"), Q("1")); // keeps priority, same quantity
    h.place({ account: 2, side: BUY, price: P("100"), qty: Q("1"), tif: TimeInForce.IOC }); // rests nothing
    expect(h.md.calls.slice(from)).toEqual([]);
  });

  it("O8: depthSnapshot limits the levels and reports order counts", () => {
    const h = harness();
    for (let i = 0; i < 5; i++) h.place({ account: 1, side: BUY, price: P(String(95 + i)), qty: Q("1") });
    h.place({ account: 2, side: BUY, price: P("99"), qty: Q("0.5") });
    const snap = h.shard.depthSnapshot(SPOT, 2);
    expect(snap.bids).toEqual([
      { price: P("99"), quantity: Q("1.5"), orderCount: 2 },
      { price: P("98"), quantity: Q("1"), orderCount: 1 },
    ]);
    expect(snap.asks).toEqual([]);
    expect(snap.lastUpdateId).toBe(6);
  });
});

describe("O8: trades and best bid/offer", () => {
  it("O8: one trade per fill with price, quantity, quote amount, maker side and consecutive trade ids per market", () => {
    const h = harness();
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    h.place({ account: 2, side: BUY, type: OrderType.Market, qty: Q("1.5") });
    h.place({ market: SPOT2, account: 1, side: BUY, price: P("50"), qty: Q("1") });
    h.place({ market: SPOT2, account: 2, side: SELL, price: P("50"), qty: Q("1") });
    expect(only(h.md.calls, "trade")).toEqual([
      { t: "trade", market: SPOT, tradeId: 1, price: P("100"), quantity: Q("1"), quote: 100_000_000n, makerSide: SELL, timeMs: 0 },
      { t: "trade", market: SPOT, tradeId: 2, price: P("101"), quantity: Q("0.5"), quote: 50_500_000n, makerSide: SELL, timeMs: 0 },
      { t: "trade", market: SPOT2, tradeId: 1, price: P("50"), quantity: Q("1"), quote: 50_000_000n, makerSide: BUY, timeMs: 0 },
    ]);
  });

  it("O8: BBO is published when the best bid or offer changes, and only then", () => {
    const h = harness();
    h.place({ account: 1, side: BUY, price: P("99"), qty: Q("1") });
    h.place({ account: 1, side: BUY, price: P("98"), qty: Q("1") }); // not at the touch
    h.place({ account: 2, side: SELL, price: P("101"), qty: Q("2") });
    h.place({ account: 3, side: BUY, price: P("99"), qty: Q("0.5") }); // bid size changes
    expect(only(h.md.calls, "bbo").map((b) => [b.bidPrice, b.bidQty, b.askPrice, b.askQty, b.updateId])).toEqual([
      [P("99"), Q("1"), 0n, 0n, 1],
      [P("99"), Q("1"), P("101"), Q("2"), 3],
      [P("99"), Q("1.5"), P("101"), Q("2"), 4],
    ]);
  });
});

describe("O8: 24 h ticker on engine time", () => {
  it("O8: open/high/low/close/volume/quote volume/count over the trailing 24 h, rolled by AdvanceTime", () => {
    const h = harness();
    const t0 = 1_700_000_000_000;
    const trade = (price: string, qty: string) => {
      h.place({ account: 1, side: SELL, price: P(price), qty: Q(qty) });
      h.place({ account: 2, side: BUY, price: P(price), qty: Q(qty) });
    };
    h.advance(t0);
    trade("100", "1");
    h.advance(t0 + H);
    trade("110", "0.5");
    h.advance(t0 + 2 * H);
    trade("90", "2");
    const tick = (c: MdCall) => (c.t === "ticker" ? [c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.count, c.timeMs] : []);
    expect(tick(only(h.md.calls, "ticker").at(-1)!)).toEqual([P("100"), P("110"), P("90"), P("90"), Q("3.5"), 100_000_000n + 55_000_000n + 180_000_000n, 3, t0 + 2 * H]);
    // 24 h after the first trade's minute ends, it leaves the window: the ticker comes from the time change.
    const from = h.md.calls.length;
    h.advance(t0 + 24 * H + 60_000);
    expect(h.md.calls.slice(from).map(tick)).toEqual([[P("110"), P("110"), P("90"), P("90"), Q("2.5"), 235_000_000n, 2, t0 + 24 * H + 60_000]]);
    expect(h.shard.ticker(SPOT)).toEqual({ open: P("110"), high: P("110"), low: P("90"), close: P("90"), volume: Q("2.5"), quoteVolume: 235_000_000n, tradeCount: 2 });
    h.advance(t0 + 30 * H);
    expect(h.shard.ticker(SPOT)).toEqual({ open: P("90"), high: P("90"), low: P("90"), close: P("90"), volume: 0n, quoteVolume: 0n, tradeCount: 0 });
    // A time change that drops nothing publishes nothing; time never goes back.
    const n = h.md.calls.length;
    h.advance(t0 + 31 * H);
    h.advance(t0);
    expect(h.md.calls.length).toBe(n);
    expect(h.shard.timeMs).toBe(t0 + 31 * H);
  });

  it("O8: trades and events are stamped with engine time", () => {
    const h = harness();
    h.advance(1_700_000_123_456);
    h.place({ account: 1, side: SELL, price: P("100"), qty: Q("1") });
    const evs = h.place({ account: 2, side: BUY, price: P("100"), qty: Q("1") });
    expect(evs.every((e) => e.timeMs === 1_700_000_123_456)).toBe(true);
    expect(only(h.md.calls, "trade")[0]!.timeMs).toBe(1_700_000_123_456);
  });
});

describe("O8: subscribing late", () => {
  it("O8: a sink attached to a running book sees deltas continuing from the snapshot's lastUpdateId", () => {
    const shard = new MatchingShard(testConfig(), [SPOT]);
    const h = new Harness(shard);
    h.place({ account: 1, side: SELL, price: P("101"), qty: Q("1") });
    shard.setMarketDataSink(null);
    h.place({ account: 1, side: SELL, price: P("102"), qty: Q("1") }); // unseen: no ids consumed
    const snap = shard.depthSnapshot(SPOT, 10);
    expect(snap.lastUpdateId).toBe(1);
    expect(snap.asks.map((l) => l.price)).toEqual([P("101"), P("102")]);
    shard.setMarketDataSink(h.md);
    const from = h.md.calls.length;
    h.place({ account: 1, side: SELL, price: P("103"), qty: Q("1") });
    expect(h.md.calls.slice(from)).toEqual([
      { t: "depth", market: SPOT, first: 2, last: 2, timeMs: 0 },
      { t: "level", market: SPOT, side: SELL, price: P("103"), quantity: Q("1"), updateId: 2 },
    ]);
  });
});
