// The gateway's part of a snapshot (X7): the account view's balances (GET /balances reads them) and the market-data
// replicas round-trip exactly, including a ticker
// made before the first clock tick (its window opens at a negative time), and a payload of another layout is refused.
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord, SnapshotFormatError, SnapshotWriter } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { composeSnapshotPayload, restoreSnapshotPayload } from "../gateway/gateway-state.ts";
import { MarketDataHub } from "../gateway/market-data.ts";
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

  it("X7: a payload of another layout version is refused with a clear message", () => {
    const w = new SnapshotWriter();
    w.uint(1); // layout 1 had a balance table of its own (before balance-view.ts read the account view's)
    expect(() => restoreSnapshotPayload(w.bytes(), [])).toThrow(SnapshotFormatError);
    expect(() => restoreSnapshotPayload(w.bytes(), [])).toThrow("snapshot payload layout 1, this build reads 2 only");
  });
});
