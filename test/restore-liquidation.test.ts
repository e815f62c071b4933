// Q1, X7: a restored engine liquidates as the live one does. Found by a helper's restore-differential audit (12-08):
// a restored engine missed liquidations the live engine started, two ways —
//   - rebuildLiquidationIndex gave bands only to accounts that borrow or have a borrowing order, so a perpetual holder
//     without a borrow (exposed through its position: Account.hasNoBorrows) was in no band list after a restore and a
//     crash of its mark reached it only in the live engine;
//   - an account whose margin state the batch end's evaluation made first (a restored account: Account.firstMargin
//     marks its assets changed, which touches it) kept its touched flag set past the emptied list, so no later batch
//     ever reached it again.
// Each case: the same stream into the live engine and into one restored from its snapshot after the first batch;
// every event (kind, seq, account, market, quantities) and every stage's state hash must agree.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, OrderType, Side, TimeInForce, type EventRecord } from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";

const config = loadConfig();
const T0 = 1_767_225_600_000;
const USD = 1_000_000_000n;
const BTC = 2;
const BTC_PERP = 3;
const A = 16;
const B = 32;
const TOPOLOGIES: [string, EngineTopology][] = [
  ["1×1", { riskShards: 1, matchingShards: 1 }],
  ["2×2", { riskShards: 2, matchingShards: 2 }],
];

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${e.orderId}|${e.price}|${e.quantity}|${e.makerAccount}|${e.takerFee}|${e.makerFee}|${e.timeMs}`;
}

function stageHashes(e: Engine): string {
  return [...e.risk.map((r) => r.stateHash()), ...e.matching.map((m) => m.stateHash()), e.settlement.stateHash()].join(" ");
}

/** The stream into a live engine and, from its snapshot after batch `cut`, into a restored one: what each did after. */
function liveVsRestored(topology: EngineTopology, stream: Partial<CommandRecord>[][], cut: number): { live: string[][]; restored: string[][]; liveHash: string[]; restoredHash: string[] } {
  let seq = 0;
  const batches = stream.map((b) => b.map((f) => Object.assign(new CommandRecord(), f, { seq: ++seq })));
  const live = new Engine(config, topology);
  let restored: Engine | null = null;
  const out = { live: [] as string[][], restored: [] as string[][], liveHash: [] as string[], restoredHash: [] as string[] };
  batches.forEach((b, i) => {
    const le: string[] = [];
    live.processBatch(b.map((c) => Object.assign(new CommandRecord(), c)), b.length, { publish: (e) => le.push(eventText(e)) });
    if (restored !== null) {
      const re: string[] = [];
      restored.processBatch(b.map((c) => Object.assign(new CommandRecord(), c)), b.length, { publish: (e) => re.push(eventText(e)) });
      out.live.push(le);
      out.restored.push(re);
      out.liveHash.push(stageHashes(live));
      out.restoredHash.push(stageHashes(restored));
    }
    if (i + 1 === cut) restored = Engine.fromSnapshot(config, live.snapshot(), topology);
  });
  return out;
}

/** A (16) deposits 10,000 USDC and buys 1 BTC perp at 60,000 (6× leverage, no borrow) from B (32), short. */
const OPEN_LONG: Partial<CommandRecord>[] = [
  { kind: CommandKind.AdvanceTime, timeMs: T0 },
  { kind: CommandKind.Deposit, account: A, asset: 0, amount: 10_000_000_000n },
  { kind: CommandKind.Deposit, account: B, asset: 0, amount: 1_000_000_000_000n },
  { kind: CommandKind.PlaceOrder, account: B, market: BTC_PERP, side: Side.Sell, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 60_000n * USD, quantity: 100_000_000n },
  { kind: CommandKind.PlaceOrder, account: A, market: BTC_PERP, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.IOC, price: 60_000n * USD, quantity: 100_000_000n },
];
const CRASH: Partial<CommandRecord>[] = [{ kind: CommandKind.SetMarkPrice, asset: BTC, price: 50_200n * USD }];

const liquidationsStarted = (batches: string[][]): string[][] =>
  batches.map((b) => b.filter((e) => e.startsWith(`${EventKind.LiquidationStarted}|`)).map((e) => e.split("|")[2]!));

describe("Q1, X7: a restored engine starts the liquidations the live one starts", () => {
  for (const [name, topology] of TOPOLOGIES) {
    it(`Q1, X7 (${name}): a perpetual holder without a borrow, restored from a snapshot, is liquidated at a crash of its mark (50,200) as in the live engine — before, the restored engine started nothing`, () => {
      const r = liveVsRestored(topology, [OPEN_LONG, CRASH], 1);
      expect(liquidationsStarted(r.live)).toEqual([["16"]]);
      expect(r.restored).toEqual(r.live);
      expect(r.restoredHash).toEqual(r.liveHash);
    });

    it(`Q1, X7 (${name}): a restored perpetual holder whose margin state the batch end's evaluation makes first (after a 1-unit deposit) still hears the crash a batch later — before, its touched flag stayed set and no batch reached it`, () => {
      const r = liveVsRestored(topology, [OPEN_LONG, [{ kind: CommandKind.Deposit, account: A, asset: 0, amount: 1n }], CRASH], 1);
      expect(liquidationsStarted(r.live)).toEqual([[], ["16"]]);
      expect(r.restored).toEqual(r.live);
      expect(r.restoredHash).toEqual(r.liveHash);
    });
  }
});
