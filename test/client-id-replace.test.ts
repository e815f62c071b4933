// O3 cancel-replace by clientId and the risk stage's clientId index (engine/risk/funds.ts indexClientId): a new order
// takes its key in R1, before matching judges it. Before this fix, a refused duplicate or a refused replacement took
// the key and then removed it when it ended, so risk forgot the order still resting under that clientId; the next
// Replace by clientId went to matching without a hold ("an unknown target is matching's to refuse"), matching
// replaced the resting order, and the replacement's first fill threw in R2 ("fill without a hold"): an engine crash
// that the journal's replay repeated at every restart. A trading user could do it with four ordinary commands.
import { describe, expect, it } from "vitest";
import {
  CommandKind,
  CommandRecord,
  DoneReason,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  rejectCodeName,
  Side,
  TimeInForce,
} from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";
import { riskShardOf } from "../engine/risk/index.ts";
import { prng } from "./helpers/random-commands.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const ALICE = 16;
const BOB = 32;
const PRICE = 1_000_000_000n; // PRICE_DECIMALS = 9
const usdc = (x: number): bigint => BigInt(Math.round(x * 1e6));
const btc = (x: number): bigint => BigInt(Math.round(x * 1e8));
const price = (x: number): bigint => BigInt(x) * PRICE;
const TOPOLOGIES: readonly EngineTopology[] = [
  { riskShards: 1, matchingShards: 1 },
  { riskShards: 2, matchingShards: 2 },
];

class Harness {
  readonly engine: Engine;
  seq = 0;

  constructor(topology: EngineTopology) {
    this.engine = new Engine(config, topology);
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 }]);
  }

  /** One batch; every shard's invariants hold after it (the clientId index's included). */
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
    for (const m of this.engine.matching) m.validateInternalState();
    return got;
  }

  balance(account: number, asset: number): { available: bigint; locked: bigint } {
    return this.engine.risk[riskShardOf(account, this.engine.risk.length)]!.balance(account, asset);
  }
}

function limit(account: number, market: number, side: number, p: bigint, quantity: bigint, clientId = 0n): Partial<CommandRecord> {
  return { kind: CommandKind.PlaceOrder, account, market, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: p, quantity, clientId };
}

function replaceByClientId(account: number, market: number, clientId: bigint, p: bigint, quantity: bigint): Partial<CommandRecord> {
  return { kind: CommandKind.ReplaceOrder, account, market, clientId, flags: OrderFlag.ByClientId, price: p, quantity };
}

/** The reject codes among the events, by name. */
function rejects(events: EventRecord[]): string[] {
  return events.filter((e) => e.kind === EventKind.OrderRejected || e.kind === EventKind.CommandRejected).map((e) => rejectCodeName[e.code]!);
}

/** [quantity, price] of each fill, once (with several risk shards each side's shard publishes it). */
function fills(events: EventRecord[]): [bigint, bigint][] {
  const seen = new Set<number>();
  const out: [bigint, bigint][] = [];
  for (const e of events) {
    if (e.kind !== EventKind.Fill || seen.has(e.tradeId)) continue;
    seen.add(e.tradeId);
    out.push([e.quantity, e.price]);
  }
  return out;
}

function done(events: EventRecord[], orderId: number): EventRecord | undefined {
  return events.find((e) => e.kind === EventKind.OrderDone && e.orderId === orderId);
}

describe("Replace by clientId after a refused order took the key (O3, risk's clientId index)", () => {
  for (const topology of TOPOLOGIES) {
    const layout = `${topology.riskShards}×${topology.matchingShards}`;

    it(`O3 (${layout}): after a refused duplicate clientId, a Replace by it is checked and funded against the resting order; its fill settles`, () => {
      const h = new Harness(topology);
      h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(1000) }, { kind: CommandKind.Deposit, account: BOB, asset: BTC, amount: btc(1) }]);
      expect(rejects(h.batch([limit(BOB, BTC_USDC, Side.Sell, price(60_000), btc(0.5))]))).toEqual([]);
      expect(rejects(h.batch([limit(ALICE, BTC_USDC, Side.Buy, price(50_000), btc(0.01), 7n)]))).toEqual([]);
      const resting = h.seq;
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(500), locked: usdc(500) });
      expect(rejects(h.batch([limit(ALICE, BTC_USDC, Side.Buy, price(50_000), btc(0.001), 7n)]))).toEqual(["DuplicateClientId"]);
      // 30,000 USDC of bid on an account with 1,000: risk refuses it (before the fix it reached matching unfunded).
      expect(rejects(h.batch([replaceByClientId(ALICE, BTC_USDC, 7n, price(60_000), btc(0.5))]))).toEqual(["InsufficientBalance"]);
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(500), locked: usdc(500) });
      // A funded one (the replacement holds its own funds beside the old hold until matching reports it Replaced)
      // replaces the order that rests under clientId 7: 450 USDC held instead of 500.
      const replaced = h.batch([replaceByClientId(ALICE, BTC_USDC, 7n, price(45_000), btc(0.01))]);
      expect(rejects(replaced)).toEqual([]);
      expect(done(replaced, resting)!.code).toBe(DoneReason.Replaced);
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(550), locked: usdc(450) });
      // Bob sells into it: Alice's 450 USDC go, she receives 0.01 BTC less the maker's 8 bps (800 units).
      const fill = h.batch([{ ...limit(BOB, BTC_USDC, Side.Sell, price(45_000), btc(0.01)), tif: TimeInForce.IOC }]);
      expect(fills(fill)).toEqual([[btc(0.01), price(45_000)]]);
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(550), locked: 0n });
      expect(h.balance(ALICE, BTC)).toEqual({ available: btc(0.01) - 800n, locked: 0n });
    });

    it(`O3 (${layout}): after a Replace by clientId that matching refused (StepSize), the next Replace by it replaces the resting order`, () => {
      const h = new Harness(topology);
      h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(1000) }]);
      h.batch([limit(ALICE, BTC_USDC, Side.Buy, price(50_000), btc(0.01), 7n)]);
      const resting = h.seq;
      // 0.000001 BTC is not a multiple of the 0.00001 step.
      expect(rejects(h.batch([replaceByClientId(ALICE, BTC_USDC, 7n, price(50_000), 100n)]))).toEqual(["StepSize"]);
      expect(rejects(h.batch([replaceByClientId(ALICE, BTC_USDC, 7n, price(60_000), btc(0.5))]))).toEqual(["InsufficientBalance"]);
      const replaced = h.batch([replaceByClientId(ALICE, BTC_USDC, 7n, price(40_000), btc(0.01))]);
      expect(done(replaced, resting)!.code).toBe(DoneReason.Replaced);
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(600), locked: usdc(400) });
    });

    it(`O3 (${layout}): a duplicate and a Replace by the same clientId in one batch: the replace is refused (the key changed hands), the resting order keeps it`, () => {
      const h = new Harness(topology);
      h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(1000) }]);
      h.batch([limit(ALICE, BTC_USDC, Side.Buy, price(50_000), btc(0.01), 7n)]);
      const resting = h.seq;
      const both = h.batch([limit(ALICE, BTC_USDC, Side.Buy, price(50_000), btc(0.001), 7n), replaceByClientId(ALICE, BTC_USDC, 7n, price(45_000), btc(0.001))]);
      expect(rejects(both)).toEqual(["DuplicateClientId", "UnknownOrder"]);
      expect(both.find((e) => e.kind === EventKind.OrderRejected && e.seq === h.seq)!.message).toBe("UnknownOrder: the order with this clientId changed within the batch");
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(500), locked: usdc(500) });
      const replaced = h.batch([replaceByClientId(ALICE, BTC_USDC, 7n, price(45_000), btc(0.001))]);
      expect(done(replaced, resting)!.code).toBe(DoneReason.Replaced);
      expect(h.balance(ALICE, USDC)).toEqual({ available: usdc(955), locked: usdc(45) });
    });

    it(`O3/P1 (${layout}): the same on a perpetual market: after a refused duplicate, a Replace by clientId is margin-checked and its fill settles`, () => {
      const h = new Harness(topology);
      h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(1000) }, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(100_000) }]);
      h.batch([limit(ALICE, BTC_PERP, Side.Buy, price(50_000), btc(0.01), 7n)]);
      const resting = h.seq;
      expect(rejects(h.batch([limit(ALICE, BTC_PERP, Side.Buy, price(50_000), btc(0.001), 7n)]))).toEqual(["DuplicateClientId"]);
      // 10 BTC of long (600,000 USDC of notional) on 1,000 USDC: refused by C8.
      expect(rejects(h.batch([replaceByClientId(ALICE, BTC_PERP, 7n, price(60_000), btc(10))]))).toEqual(["InsufficientMargin"]);
      const replaced = h.batch([replaceByClientId(ALICE, BTC_PERP, 7n, price(55_000), btc(0.01))]);
      expect(done(replaced, resting)!.code).toBe(DoneReason.Replaced);
      const fill = h.batch([{ ...limit(BOB, BTC_PERP, Side.Sell, price(55_000), btc(0.01)), tif: TimeInForce.IOC }]);
      expect(fills(fill)).toEqual([[btc(0.01), price(55_000)]]);
      expect(h.engine.risk[riskShardOf(ALICE, h.engine.risk.length)]!.perpPosition(ALICE, BTC_PERP).netQuantity).toBe(btc(0.01));
    });
  }

  it("O3: random churn of clientIds (duplicates, IOC and GTC orders, cancels and replaces by clientId, refused replacements) keeps every invariant and gives the same events at 1×1 and 2×2", () => {
    const digests = TOPOLOGIES.map((topology) => {
      const h = new Harness(topology);
      const rand = prng(20261207);
      const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
      h.batch([ALICE, BOB].flatMap((a) => [{ kind: CommandKind.Deposit, account: a, asset: USDC, amount: usdc(1_000_000) }, { kind: CommandKind.Deposit, account: a, asset: BTC, amount: btc(10) }]));
      const trades = new Set<number>();
      for (let b = 0; b < 300; b++) {
        const list: Partial<CommandRecord>[] = [];
        for (let i = int(1, 6); i > 0; i--) {
          const account = rand() < 0.5 ? ALICE : BOB;
          const market = rand() < 0.5 ? BTC_USDC : BTC_PERP;
          const clientId = BigInt(int(1, 3));
          const side = rand() < 0.5 ? Side.Buy : Side.Sell;
          const p = price(60_000 + int(-5, 5) * 10);
          const q = btc(0.001) * BigInt(int(1, 5));
          const r = rand();
          if (r < 0.45) list.push({ ...limit(account, market, side, p, q, clientId), tif: rand() < 0.25 ? TimeInForce.IOC : TimeInForce.GTC });
          else if (r < 0.85) list.push(replaceByClientId(account, market, clientId, p, rand() < 0.15 ? 7n : q)); // 7 units: off the step
          else list.push({ kind: CommandKind.CancelOrder, account, market, clientId, flags: OrderFlag.ByClientId });
        }
        for (const e of h.batch(list)) if (e.kind === EventKind.Fill) trades.add(e.tradeId * 8 + e.market);
      }
      expect(trades.size).toBeGreaterThan(50);
      const state = [ALICE, BOB].map((a) => {
        const risk = h.engine.risk[riskShardOf(a, h.engine.risk.length)]!;
        return [h.balance(a, USDC), h.balance(a, BTC), risk.perpPosition(a, BTC_PERP).netQuantity];
      });
      return `${trades.size} trades; ${JSON.stringify(state, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`;
    });
    expect(digests[1]).toBe(digests[0]);
  });
});
