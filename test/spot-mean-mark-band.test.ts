// O6 on the spot markets (matching/perp-prices.ts SpotMarkState): the 5-minute moving mean of a spot market's mark
// (its base asset's index in the quote's) is sampled once a second as a perpetual's, and a taker stops at
// meanMark × maxMultiplier (buys) / × minMultiplier (sells). Found by a helper's audit (12-08): before, a spot market's
// band had no inputs and a market buy paid 70,000 against a mean mark of 60,000 (O4 and O5 let it).
import { describe, expect, it } from "vitest";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { CommandKind, CommandRecord, DoneReason, EventKind, EventRecord, OracleQuoteFlag, OrderType, Side, TimeInForce } from "../engine/model/index.ts";
import { EngineHarness, HARNESS_T0 } from "./helpers/engine-harness.ts";

const USDC = 0;
const BTC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const ALICE = 16;
const BOB = 32;
/** USD price, 9 decimals. */
const P = (usd: number): bigint => BigInt(Math.round(usd * 100)) * 10_000_000n;

function limit(account: number, market: number, side: number, price: bigint, quantity: bigint, extra: Partial<CommandRecord> = {}): Partial<CommandRecord> {
  return { kind: CommandKind.PlaceOrder, account, market, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price, quantity, ...extra };
}
function marketBuy(account: number, market: number, quantity: bigint): Partial<CommandRecord> {
  return { kind: CommandKind.PlaceOrder, account, market, side: Side.Buy, orderType: OrderType.Market, tif: TimeInForce.IOC, quantity };
}
function oracle(asset: number, usd: number, timeMs: number): Partial<CommandRecord>[] {
  return [0, 1, 2].map((source, i) => ({
    kind: CommandKind.OracleQuote, asset, oracleSource: source, bid: P(usd), ask: P(usd), last: P(usd), sourceTimeMs: timeMs,
    flags: i === 2 ? OracleQuoteFlag.Apply : 0,
  }));
}
function harness(): EngineHarness {
  return new EngineHarness(loadConfig(), { topology: { riskShards: 1, matchingShards: 1 }, validateMatching: true });
}
function fills(evs: EventRecord[], orderId: number): EventRecord[] {
  return evs.filter((e) => e.kind === EventKind.Fill && e.orderId === orderId);
}
function doneOf(evs: EventRecord[], orderId: number): EventRecord | undefined {
  return evs.find((e) => e.kind === EventKind.OrderDone && e.orderId === orderId);
}

describe("O6 mean-mark band on spot and perpetual markets", () => {
  // The BTC mark is 60,000 for minutes (oracle index at 60,000, a quote every second), so the 5-minute mean mark is
  // 60,000 and a buy may fill only up to 60,000 × 1.1 = 66,000 (meanMarkBand.maxMultiplier of both BTC markets).
  function markedAt60k(h: EngineHarness): void {
    for (let s = 1; s <= 10; s++) h.tick(oracle(BTC, 60_000, HARNESS_T0 + s * 1000));
  }

  it("O6: on BTC_USDC_PERP a market buy stops at meanMark × 1.1 = 66,000 (MeanMarkBand): no fill at 70,000", () => {
    const h = harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: 100_000_000_000n }, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: 100_000_000_000n }]);
    markedAt60k(h);
    h.tick([limit(BOB, BTC_PERP, Side.Sell, P(70_000), 1_000_000n)]); // 0.01 BTC at 70,000: one level, O4/O5 pass
    const evs = h.tick([marketBuy(ALICE, BTC_PERP, 1_000_000n)]);
    const id = h.journal[h.journal.length - 1]![1]!.seq;
    expect(fills(evs, id)).toHaveLength(0);
    expect(doneOf(evs, id)?.code).toBe(DoneReason.MeanMarkBand);
  });

  it("O6: on spot BTC_USDC a market buy stops at meanMark × 1.1 = 66,000 (MeanMarkBand): no fill at 70,000, Alice's 100,000 USDC untouched — before, one fill of 0.01 BTC at 70,000", () => {
    const h = harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: 100_000_000_000n }, { kind: CommandKind.Deposit, account: BOB, asset: BTC, amount: 1_000_000n }]);
    markedAt60k(h);
    h.tick([limit(BOB, BTC_USDC, Side.Sell, P(70_000), 1_000_000n)]);
    const evs = h.tick([marketBuy(ALICE, BTC_USDC, 1_000_000n)]);
    const id = h.journal[h.journal.length - 1]![1]!.seq;
    // Before: one fill of 0.01 BTC at 70,000 (700 USDC), 16.67% above the mean mark.
    expect(fills(evs, id).map((f) => f.price)).toEqual([]);
    expect(doneOf(evs, id)?.code).toBe(DoneReason.MeanMarkBand);
    expect(h.available(ALICE, USDC)).toBe(100_000_000_000n);
  });

  it("O6: on spot BTC_USDC at 2 × 2 a market sell stops at meanMark × 0.9 = 54,000: no fill against a bid at 50,000; a bid at 55,000 fills", () => {
    const h = new EngineHarness(loadConfig(), { topology: { riskShards: 2, matchingShards: 2 }, validateMatching: true });
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: BTC, amount: 2_000_000n }, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: 100_000_000_000n }]);
    markedAt60k(h);
    h.tick([limit(BOB, BTC_USDC, Side.Buy, P(50_000), 1_000_000n)]);
    const sell = { kind: CommandKind.PlaceOrder, account: ALICE, market: BTC_USDC, side: Side.Sell, orderType: OrderType.Market, tif: TimeInForce.IOC, quantity: 1_000_000n };
    let evs = h.tick([sell]);
    let id = h.journal[h.journal.length - 1]![1]!.seq;
    expect(fills(evs, id)).toHaveLength(0);
    expect(doneOf(evs, id)?.code).toBe(DoneReason.MeanMarkBand);
    h.tick([limit(BOB, BTC_USDC, Side.Buy, P(55_000), 1_000_000n)]);
    evs = h.tick([sell]);
    id = h.journal[h.journal.length - 1]![1]!.seq;
    expect([...new Set(fills(evs, id).map((f) => `${f.quantity}@${f.price}`))]).toEqual([`1000000@${P(55_000)}`]);
    expect(h.available(ALICE, BTC)).toBe(1_000_000n);
  });

  it("O6, X7: a spot market's moving mean survives a snapshot: restored after the marks, the engine stops the same market buy", () => {
    const h = harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: 100_000_000_000n }, { kind: CommandKind.Deposit, account: BOB, asset: BTC, amount: 1_000_000n }]);
    markedAt60k(h);
    h.tick([limit(BOB, BTC_USDC, Side.Sell, P(70_000), 1_000_000n)]);
    const restored = Engine.fromSnapshot(loadConfig(), h.engine.snapshot());
    expect(restored.stateHash()).toBe(h.engine.stateHash());
    const buy = Object.assign(new CommandRecord(), marketBuy(ALICE, BTC_USDC, 1_000_000n), { seq: 100_000 });
    const got: EventRecord[] = [];
    restored.processBatch([buy], 1, { publish: (e) => { if (e.kind === EventKind.OrderDone) got.push(Object.assign(new EventRecord(), e)); } });
    expect(got.map((e) => e.code)).toEqual([DoneReason.MeanMarkBand]);
  });
});
