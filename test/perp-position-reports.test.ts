// P1 position reports (engine.ts "P1 position reports (as built)"): R2 publishes one Position per account and
// perpetual market its fills changed, once per batch — at the end of R2, or before R2 applies a mark, a funding rate
// or a liquidation transfer — carrying the state after the position's last fill and that fill's seq. The Fill,
// Settlement and Balance events still come per fill.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, OracleQuoteFlag, OrderType, Side, TimeInForce } from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_PERP = 3;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const PRICE = 1_000_000_000n;
const T0 = 1_767_225_600_000;
const ALICE = 16;
const BOB = 32;
const CAROL = 48;

const price = (n: number): bigint => BigInt(n) * PRICE;
const btc = (tenThousandths: number): bigint => BigInt(tenThousandths) * (BTC_UNIT / 10_000n);
const quote = (source: number, p: bigint, t: number): Partial<CommandRecord> => ({
  kind: CommandKind.OracleQuote, asset: BTC, oracleSource: source, bid: p, ask: p, last: p, sourceTimeMs: t, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
});
const place = (account: number, side: number, p: number, qty: number, tif: number = TimeInForce.GTC): Partial<CommandRecord> => ({
  kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif, price: price(p), quantity: btc(qty),
});

class Harness {
  readonly engine: Engine;
  seq = 0;

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    this.engine = new Engine(config, topology);
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 }, ...[0, 1, 2].map((s) => quote(s, price(60_000), T0))]);
    this.batch([ALICE, BOB, CAROL].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: 100_000n * USDC_UNIT })));
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, {
      publish(e: EventRecord): void {
        const c = new EventRecord();
        c.copyFrom(e);
        got.push(c);
      },
    });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }
}

/** Every field of a Position event but its seq. */
function fields(e: EventRecord): unknown[] {
  return [e.account, e.market, e.netQuantity, e.entryPrice, e.breakEvenPrice, e.positionMarkPrice, e.pnlUnrealized, e.pnlRealized,
    e.cumulativeFundingPayment, e.netExposureQuantity, e.positionExposureUsd, e.imf, e.mmf, e.estLiquidationPrice, e.timeMs];
}

const positions = (events: EventRecord[]): EventRecord[] => events.filter((e) => e.kind === EventKind.Position);

describe("P1 position reports: one per account and market per batch", () => {
  it("P1: three fills of Alice against Bob in one batch give one Position each, after every fill, with the last fill's seq and the state after it — the state three one-fill batches end with", () => {
    for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }]) {
      // One batch per fill: each ends with both sides' Position, the last one after the third fill.
      const single = new Harness(topology);
      single.batch([place(BOB, Side.Sell, 60_000, 1_000), place(BOB, Side.Sell, 60_010, 2_000), place(BOB, Side.Sell, 60_020, 3_000)]);
      let last: EventRecord[] = [];
      for (const [p, q] of [[60_000, 1_000], [60_010, 2_000], [60_020, 3_000]] as const) {
        last = positions(single.batch([place(ALICE, Side.Buy, p, q, TimeInForce.IOC)]));
        expect(last.map((e) => e.account).sort()).toEqual([ALICE, BOB]);
      }
      // The same three fills in one batch.
      const batched = new Harness(topology);
      batched.batch([place(BOB, Side.Sell, 60_000, 1_000), place(BOB, Side.Sell, 60_010, 2_000), place(BOB, Side.Sell, 60_020, 3_000)]);
      const events = batched.batch([60_000, 60_010, 60_020].map((p, i) => place(ALICE, Side.Buy, p, [1_000, 2_000, 3_000][i]!, TimeInForce.IOC)));
      const lastBuySeq = batched.seq;
      expect(new Set(events.filter((e) => e.kind === EventKind.Fill).map((e) => e.seq)).size).toBe(3); // each risk shard publishes a Fill its accounts are in
      const reports = positions(events);
      expect(reports.map((e) => [e.account, e.seq])).toEqual(
        topology.riskShards === 1 ? [[ALICE, lastBuySeq], [BOB, lastBuySeq]] : [[BOB, lastBuySeq], [ALICE, lastBuySeq]], // shard 0 (Bob) first at K = 2
      );
      // Alice long 0.6 BTC at the VWAP (60,000 × 0.1 + 60,010 × 0.2 + 60,020 × 0.3) / 0.6 = 60,013.333333333.
      const alice = reports.find((e) => e.account === ALICE)!;
      expect([alice.netQuantity, alice.entryPrice]).toEqual([btc(6_000), 60_013_333_333_333n]);
      for (const r of reports) {
        expect(fields(r)).toEqual(fields(last.find((e) => e.account === r.account)!));
        // After every Fill, Settlement and Balance of its account in the batch.
        const at = events.indexOf(r);
        expect(events.slice(at + 1).some((e) => e.account === r.account && (e.kind === EventKind.Fill || e.kind === EventKind.Balance || e.kind === EventKind.Settlement))).toBe(false);
      }
    }
  });

  it("P1: a batch that fills and moves the mark reports each position before the MarkPrice, at the mark its fills were made under", () => {
    const h = new Harness();
    h.batch([place(BOB, Side.Sell, 60_000, 10_000)]);
    const t = T0 + 1_000;
    const events = h.batch([place(ALICE, Side.Buy, 60_000, 10_000, TimeInForce.IOC), { kind: CommandKind.AdvanceTime, timeMs: t }, ...[0, 1, 2].map((s) => quote(s, price(61_000), t))]);
    const kinds = events.filter((e) => e.kind === EventKind.Position || e.kind === EventKind.MarkPrice).map((e) => [e.kind, e.account]);
    expect(kinds).toEqual([[EventKind.Position, ALICE], [EventKind.Position, BOB], [EventKind.MarkPrice, 0]]);
    const alice = positions(events)[0]!;
    expect([alice.netQuantity, alice.positionMarkPrice, alice.pnlUnrealized]).toEqual([btc(10_000), price(60_000), 0n]);
    // A query after the batch sees the new mark.
    const mark = events.find((e) => e.kind === EventKind.MarkPrice)!.markPrice;
    const answer = positions(h.batch([{ kind: CommandKind.QueryPositions, account: ALICE }]));
    expect([answer[0]!.netQuantity, answer[0]!.positionMarkPrice]).toEqual([btc(10_000), mark]);
  });

  it("P1: a maker filled by two takers' commands in one batch is reported once, with the later seq, in the order the positions first changed; a batch without fills reports none", () => {
    const h = new Harness();
    h.batch([place(BOB, Side.Sell, 60_000, 1_000), place(BOB, Side.Sell, 60_000, 1_000)]);
    // Carol and Alice each take one of Bob's orders in one batch: Bob is reported once, with the later seq.
    const events = h.batch([place(CAROL, Side.Buy, 60_000, 1_000, TimeInForce.IOC), place(ALICE, Side.Buy, 60_000, 1_000, TimeInForce.IOC)]);
    expect(positions(events).map((e) => [e.account, e.seq, e.netQuantity])).toEqual([[CAROL, h.seq - 1, btc(1_000)], [BOB, h.seq, -btc(2_000)], [ALICE, h.seq, btc(1_000)]]);
    expect(positions(h.batch([{ kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: USDC_UNIT }]))).toEqual([]);
  });
});
