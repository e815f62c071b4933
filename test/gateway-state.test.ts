// The gateway's part of a snapshot (X7): the account view's balances (GET /balances reads them) and the market-data
// replicas round-trip exactly, including a ticker
// made before the first clock tick (its window opens at a negative time), and a payload of another layout is refused.
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord, SnapshotFormatError, SnapshotWriter } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { composeSnapshotPayload, restoreSnapshotPayload } from "../gateway/gateway-state.ts";
import { DepthSide, MarketDataHub } from "../gateway/market-data.ts";
import { AccountView } from "../gateway/account-catch-up.ts";
import { BalanceView } from "../gateway/server.ts";

const config = loadConfig();

function concat(chunks: Uint8Array[]): Uint8Array {
  return Uint8Array.from(chunks.flatMap((c) => [...c]));
}

describe("gateway snapshot state (X7)", () => {
  it("X7: balances and market-data replicas (depth, best bid/offer, a ticker made at engine time 0) round-trip with the engine's bytes", () => {
    const view = new AccountView(config);
    const balances = new BalanceView(view);
    const e = new EventRecord();
    e.kind = EventKind.Balance;
    e.account = 16;
    e.asset = 2;
    e.available = 123_456_789n;
    e.locked = -5n;
    view.apply(e);
    e.account = 4_294_967_280;
    e.asset = 0;
    e.available = (1n << 62n) - 1n;
    view.apply(e);
    const md = new MarketDataHub(config);
    md.depthDelta(0, 1, 2, 0);
    md.depthLevel(0, 0, 59_999_000_000_000n, 1_000n, 1);
    md.depthLevel(0, 1, 60_001_000_000_000n, 2_000n, 2);
    md.bbo(0, 59_999_000_000_000n, 1_000n, 60_001_000_000_000n, 2_000n, 2);
    md.ticker(0, 1n, 2n, 1n, 2n, 30n, 60n, 3, 0);
    const engine = Uint8Array.from([9, 8, 7]);
    const payload = concat(composeSnapshotPayload(engine, [view, md]));

    const view2 = new AccountView(config);
    const balances2 = new BalanceView(view2);
    const md2 = new MarketDataHub(config);
    expect([...restoreSnapshotPayload(payload, [view2, md2])]).toEqual([9, 8, 7]);
    expect(balances2.describe(16, config)).toEqual(balances.describe(16, config));
    expect(balances2.describe(4_294_967_280, config)).toEqual(balances.describe(4_294_967_280, config));
    expect(md2.snapshot(0)).toEqual({ lastUpdateId: 2, bids: [[59_999_000_000_000n, 1_000n]], asks: [[60_001_000_000_000n, 2_000n]] });
    // Written again, the restored views give the same bytes: nothing was lost (the ticker's -86,400,000 ms included).
    const btc = (balances2.describe(16, config) as { balances: { asset: string; available: string; locked: string }[] }).balances[2];
    expect(btc).toEqual({ asset: "BTC", available: "1.23456789", locked: "-0.00000005", lent: "0", borrowed: "0" });
    expect(concat(composeSnapshotPayload(engine, [view2, md2]))).toEqual(payload);
  });

  it("X7: a depth replica's emptied levels are kept at 0 and dropped in bulk; reads and snapshots see the live levels only, best first", () => {
    const side = new DepthSide();
    side.set(100n, 5n);
    side.set(101n, 6n);
    side.set(100n, 0n); // emptied: kept at 0, not a level
    side.set(99n, 0n); // never a level: nothing kept
    expect(side.size).toBe(1);
    expect(side.get(100n)).toBe(0n);
    expect(side.sorted(true)).toEqual([[101n, 6n]]);
    side.set(100n, 7n); // refilled in place
    expect(side.size).toBe(2);
    expect(side.sorted(true)).toEqual([[101n, 6n], [100n, 7n]]);
    expect(side.sorted(false)).toEqual([[100n, 7n], [101n, 6n]]);
    // 300 levels made and emptied: past 256 emptied ones (and more than the live ones) they are dropped.
    for (let p = 1_000n; p < 1_300n; p++) side.set(p, 1n);
    for (let p = 1_000n; p < 1_300n; p++) side.set(p, 0n);
    expect(side.size).toBe(2);
    expect(side.sorted(false)).toEqual([[100n, 7n], [101n, 6n]]);
    // Two replicas of one book whose levels came and went in different orders write the same bytes.
    const a = new MarketDataHub(config);
    const b = new MarketDataHub(config);
    a.depthDelta(0, 1, 3, 0);
    a.depthLevel(0, 0, 59_998_000_000_000n, 3n, 1);
    a.depthLevel(0, 0, 59_999_000_000_000n, 1n, 2);
    a.depthLevel(0, 0, 59_998_000_000_000n, 0n, 3);
    a.depthDelta(0, 4, 4, 0);
    a.depthLevel(0, 0, 59_998_000_000_000n, 2n, 4);
    b.depthDelta(0, 1, 4, 0);
    b.depthLevel(0, 0, 59_998_000_000_000n, 2n, 1);
    b.depthLevel(0, 0, 59_997_000_000_000n, 9n, 2);
    b.depthLevel(0, 0, 59_999_000_000_000n, 1n, 3);
    b.depthLevel(0, 0, 59_997_000_000_000n, 0n, 4);
    expect(a.snapshot(0)).toEqual({ lastUpdateId: 4, bids: [[59_999_000_000_000n, 1n], [59_998_000_000_000n, 2n]], asks: [] });
    expect(b.snapshot(0)).toEqual(a.snapshot(0));
    const engine = Uint8Array.from([1]);
    expect(concat(composeSnapshotPayload(engine, [b]))).toEqual(concat(composeSnapshotPayload(engine, [a])));
  });

  it("O8, X7: a depth side's ordered prices agree with a model after 20,000 random level changes (new, refilled, emptied; both sides' orders); best-first reads of the first N stop at N; a best-first load restores the same side", () => {
    for (const bestIsHighest of [true, false]) {
      const side = new DepthSide(bestIsHighest);
      const model = new Map<bigint, bigint>();
      let seed = 12345;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      for (let i = 0; i < 20_000; i++) {
        const price = BigInt(1_000 + rand(3_000)) * 1_000_000n;
        const quantity = rand(3) === 0 ? 0n : BigInt(1 + rand(50));
        side.set(price, quantity);
        if (quantity === 0n) model.delete(price);
        else model.set(price, quantity);
      }
      const desc = [...model.entries()].sort((a, b) => (a[0] > b[0] ? -1 : 1));
      expect(side.size).toBe(model.size);
      expect(side.sorted(true)).toEqual(desc);
      expect(side.sorted(false)).toEqual([...desc].reverse());
      expect(side.sorted(true, 10)).toEqual(desc.slice(0, 10));
      expect(side.sorted(false, 1)).toEqual([desc[desc.length - 1]]);
      expect(side.sorted(true, 0)).toEqual([]);
      const bestFirst = bestIsHighest ? desc : [...desc].reverse();
      const copy = new DepthSide(bestIsHighest);
      copy.loadBestFirst(bestFirst.map((l) => l[0]), bestFirst.map((l) => l[1]), bestFirst.length);
      expect(copy.sorted(true)).toEqual(desc);
      expect(copy.size).toBe(model.size);
    }
  });

  it("X7: a payload of another layout version is refused with a clear message", () => {
    const w = new SnapshotWriter();
    w.uint(1); // layout 1 had a balance table of its own (before balance-view.ts read the account view's)
    expect(() => restoreSnapshotPayload(w.bytes(), [])).toThrow(SnapshotFormatError);
    expect(() => restoreSnapshotPayload(w.bytes(), [])).toThrow("snapshot payload layout 1, this build reads 2 only");
  });
});
