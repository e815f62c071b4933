// The perpetual histories (P4, P6/P7; engine/risk/histories.ts, history-queries.ts): an account's settlement rows and
// funding payments, a market's funding rates — answered by QuerySettlementHistory, QueryFundingHistory and
// QueryFundingRateHistory with exact amounts, filtered by market and time, limited, bounded, the same on 1 and 2 risk
// shards and after a snapshot.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  FUNDING_RATE_HISTORY_MAX,
  OracleQuoteFlag,
  OrderType,
  RejectCode,
  SETTLEMENT_HISTORY_ROWS_MAX,
  Side,
  TimeInForce,
} from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { SettlementReason, SettlementStep } from "../engine/risk/index.ts";
import { FundingRateLog, SettlementLog } from "../engine/risk/histories.ts";
import { encodeCommand, decodeEvent, type CommandJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { decodeCommand, DecodeResult, encodeEvent } from "../gateway/codec/index.ts";
import { startServer } from "../gateway/server.ts";
import { connectUser } from "./helpers/auth.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const ETH_PERP = 4;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const PRICE = 1_000_000_000n;
const T0 = 1_767_225_600_000; // 2026-01-01 00:00 UTC, an hour boundary
const HOUR = 3_600_000;
const ALICE = 16; // user 1: risk shard 1 of 2
const BOB = 32; // user 2: risk shard 0 of 2
const CAROL = 48;

const usdc = (n: number): bigint => BigInt(n) * USDC_UNIT;
const btc = (tenThousandths: number): bigint => BigInt(tenThousandths) * (BTC_UNIT / 10_000n);
const price = (n: number): bigint => BigInt(n) * PRICE;

class Harness {
  readonly engine: Engine;
  seq = 0;

  constructor(topology: EngineTopology) {
    this.engine = new Engine(config, topology);
    this.run({ kind: CommandKind.AdvanceTime, timeMs: T0 });
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, {
      publish: (e) => {
        const c = new EventRecord();
        c.copyFrom(e);
        got.push(c);
      },
    });
    return got;
  }

  run(fields: Partial<CommandRecord>): EventRecord[] {
    return this.batch([fields]);
  }

  cross(buyer: number, seller: number, p: number, qty: number): void {
    const order = (account: number, side: number): Partial<CommandRecord> => ({
      kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: price(p), quantity: btc(qty),
    });
    this.run(order(seller, Side.Sell));
    this.run(order(buyer, Side.Buy));
  }
}

const quotes = (p: bigint, t: number): Partial<CommandRecord>[] =>
  [0, 1, 2].map((source) => ({
    kind: CommandKind.OracleQuote, asset: BTC, oracleSource: source, bid: p, ask: p, last: p, sourceTimeMs: t, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
  }));

/** Alice long 1 BTC from Bob, Carol long 0.3 from Alice, both at 60,000; then the first hour's funding at mark 60,100. */
function scenario(topology: EngineTopology): { h: Harness; funding: EventRecord[] } {
  const h = new Harness(topology);
  h.batch(quotes(price(60_000), T0));
  h.batch([ALICE, BOB, CAROL].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: usdc(100_000) })));
  h.cross(ALICE, BOB, 60_000, 10_000);
  h.cross(CAROL, ALICE, 60_000, 3_000);
  h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 }, ...quotes(price(60_100), T0 + 1_000)]);
  const funding = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + HOUR }, ...quotes(price(60_100), T0 + HOUR)]);
  return { h, funding };
}

const settlementRows = (events: EventRecord[]): [number, number, number, number, bigint, number][] =>
  events.filter((e) => e.kind === EventKind.Settlement).map((e) => [e.account, e.market, e.settlementReason, e.settlementStep, e.settledAmount, e.timeMs]);
const payments = (events: EventRecord[]): [number, number, bigint, bigint, bigint, bigint, number][] =>
  events.filter((e) => e.kind === EventKind.FundingPayment).map((e) => [e.account, e.market, e.fundingRate, e.markPrice, e.fundedQuantity, e.fundingPayment, e.timeMs]);
const rates = (events: EventRecord[]): [number, bigint, bigint, number, bigint, number][] =>
  events.filter((e) => e.kind === EventKind.FundingRate).map((e) => [e.market, e.fundingRate, e.meanPremium, e.fundingSamples, e.markPrice, e.timeMs]);
const kinds = (events: EventRecord[]): number[] => events.map((e) => e.kind);

/** F = I / 8 = 0.0000015625 (mark = index: premium 0), a Ratio at 1e18. */
const RATE = 1_562_500_000_000n;

describe("perpetual histories (P4, P6/P7)", () => {
  it("P6, P7, P4: QuerySettlementHistory answers every Settlement row of the account — fees and funding, with the waterfall step and time — oldest first, then CommandAccepted", () => {
    const { h } = scenario({ riskShards: 1, matchingShards: 1 });
    const q = (account: number, extra: Partial<CommandRecord> = {}): EventRecord[] =>
      h.run({ kind: CommandKind.QuerySettlementHistory, account, market: ALL_MARKETS, ...extra });
    const alice = q(ALICE);
    // Taker fee 10 bps of 60,000 = 60 USDC; maker fee 8 bps of 18,000 = 14.4 USDC; funding 0.7 × 60,100 × F = 0.065734375 → 65,735 (up).
    expect(settlementRows(alice)).toEqual([
      [ALICE, BTC_PERP, SettlementReason.Fee, SettlementStep.FromBalance, usdc(60), T0],
      [ALICE, BTC_PERP, SettlementReason.Fee, SettlementStep.FromBalance, 14_400_000n, T0],
      [ALICE, BTC_PERP, SettlementReason.Funding, SettlementStep.FromBalance, 65_735n, T0 + HOUR],
      // The hour is also a 10 s mark: P5 realizes the 0.7 long's +70 USDC at 60,100 after the funding.
      [ALICE, BTC_PERP, SettlementReason.Realization, SettlementStep.ToBalance, usdc(70), T0 + HOUR],
    ]);
    expect(alice.at(-1)!.kind).toBe(EventKind.CommandAccepted);
    expect(alice.every((e) => e.seq === h.seq)).toBe(true);
    // Bob: his maker fee 48 USDC, then he receives 93,906 (−1 × 60,100 × F = −0.09390625, rounded down).
    expect(settlementRows(q(BOB))).toEqual([
      [BOB, BTC_PERP, SettlementReason.Fee, SettlementStep.FromBalance, usdc(48), T0],
      [BOB, BTC_PERP, SettlementReason.Funding, SettlementStep.ToBalance, 93_906n, T0 + HOUR],
      [BOB, BTC_PERP, SettlementReason.Realization, SettlementStep.FromBalance, usdc(100), T0 + HOUR],
    ]);
    // From a time on, at most `limit`, one market only.
    expect(settlementRows(q(ALICE, { timeMs: T0 + 1 }))).toEqual([
      [ALICE, BTC_PERP, SettlementReason.Funding, SettlementStep.FromBalance, 65_735n, T0 + HOUR],
      [ALICE, BTC_PERP, SettlementReason.Realization, SettlementStep.ToBalance, usdc(70), T0 + HOUR],
    ]);
    expect(settlementRows(q(ALICE, { historyLimit: 1 }))).toEqual([[ALICE, BTC_PERP, SettlementReason.Fee, SettlementStep.FromBalance, usdc(60), T0]]);
    expect(kinds(q(ALICE, { market: ETH_PERP }))).toEqual([EventKind.CommandAccepted]);
    expect(kinds(q(ALICE, { market: BTC_USDC }))).toEqual([EventKind.CommandAccepted]);
    // Refused: not a client account, an unknown market.
    expect(q(0).map((e) => [e.kind, e.code])).toEqual([[EventKind.CommandRejected, RejectCode.InvalidAccount]]);
    expect(q(ALICE, { market: 99 }).map((e) => [e.kind, e.code])).toEqual([[EventKind.CommandRejected, RejectCode.UnknownMarket]]);
  });

  it("P4: QueryFundingHistory answers each funding payment of the account: rate, mark, the position funded and the payment (> 0 paid, < 0 received) at the interval end", () => {
    const { h } = scenario({ riskShards: 1, matchingShards: 1 });
    const q = (account: number, extra: Partial<CommandRecord> = {}): EventRecord[] =>
      h.run({ kind: CommandKind.QueryFundingHistory, account, market: ALL_MARKETS, ...extra });
    expect(payments(q(ALICE))).toEqual([[ALICE, BTC_PERP, RATE, price(60_100), btc(7_000), 65_735n, T0 + HOUR]]);
    expect(payments(q(BOB))).toEqual([[BOB, BTC_PERP, RATE, price(60_100), -btc(10_000), -93_906n, T0 + HOUR]]);
    expect(payments(q(CAROL))).toEqual([[CAROL, BTC_PERP, RATE, price(60_100), btc(3_000), 28_172n, T0 + HOUR]]);
    // P4: Σ payments = the insurance fund's remainder (1 unit), the position's cumulativeFundingPayment equals its rows.
    expect(65_735n - 93_906n + 28_172n).toBe(1n);
    expect(kinds(q(ALICE))).toEqual([EventKind.FundingPayment, EventKind.CommandAccepted]);
    expect(kinds(q(ALICE, { timeMs: T0 + HOUR + 1 }))).toEqual([EventKind.CommandAccepted]);
    expect(kinds(q(ALICE, { market: ETH_PERP }))).toEqual([EventKind.CommandAccepted]);
    expect(q(ALICE, { market: 99 }).map((e) => e.code)).toEqual([RejectCode.UnknownMarket]);
  });

  it("P4: QueryFundingRateHistory answers each interval end of a perpetual as the FundingRate it published (the query's seq); a spot market is refused", () => {
    const { h, funding } = scenario({ riskShards: 1, matchingShards: 1 });
    const live = rates(funding).filter((r) => r[0] === BTC_PERP);
    expect(live.map((r) => [r[1], r[2], r[4], r[5]])).toEqual([[RATE, 0n, price(60_100), T0 + HOUR]]);
    const answer = h.run({ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP });
    expect(rates(answer)).toEqual(live);
    expect(answer.map((e) => [e.kind, e.seq])).toEqual([[EventKind.FundingRate, h.seq], [EventKind.CommandAccepted, h.seq]]);
    // The next interval: a second entry; since filters, limit keeps the oldest.
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 2 * HOUR }, ...quotes(price(60_200), T0 + 2 * HOUR)]);
    const two = rates(h.run({ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP }));
    expect(two.map((r) => [r[4], r[5]])).toEqual([[price(60_100), T0 + HOUR], [price(60_200), T0 + 2 * HOUR]]);
    expect(rates(h.run({ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP, timeMs: T0 + HOUR + 1 }))).toEqual([two[1]]);
    expect(rates(h.run({ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP, historyLimit: 1 }))).toEqual([two[0]]);
    expect(h.run({ kind: CommandKind.QueryFundingRateHistory, market: BTC_USDC }).map((e) => e.code)).toEqual([RejectCode.UnknownMarket]);
  });

  it("X4, X7: two risk shards answer the same histories; a restored snapshot answers them too, with the same state hash", () => {
    const one = scenario({ riskShards: 1, matchingShards: 1 }).h;
    const two = scenario({ riskShards: 2, matchingShards: 2 }).h;
    const answers = (h: Harness | Engine): string[] => {
      const run = (f: Partial<CommandRecord>): EventRecord[] => (h instanceof Harness ? h.run(f) : runOn(h, f));
      const out: string[] = [];
      for (const account of [ALICE, BOB, CAROL]) {
        out.push(JSON.stringify(settlementRows(run({ kind: CommandKind.QuerySettlementHistory, account, market: ALL_MARKETS })), big));
        out.push(JSON.stringify(payments(run({ kind: CommandKind.QueryFundingHistory, account, market: ALL_MARKETS })), big));
      }
      out.push(JSON.stringify(rates(run({ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP })), big));
      return out;
    };
    const reference = answers(one);
    expect(answers(two)).toEqual(reference);
    const restored = Engine.fromSnapshot(config, two.engine.snapshot());
    expect(restored.stateHash()).toBe(two.engine.stateHash());
    expect(answers(restored)).toEqual(reference);
  });

  it("P1, C3: the collateral statement carries the unrealized PnL at the mark and is followed by each position", () => {
    const { h } = scenario({ riskShards: 1, matchingShards: 1 });
    // The hour's 10 s mark realized Alice's +70 at 60,100 (P5); a second later the mark is 60,150: long 0.7 → +35 USD.
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + HOUR + 1_000 }, ...quotes(price(60_150), T0 + HOUR + 1_000)]);
    const alice = h.run({ kind: CommandKind.QueryCollateral, account: ALICE });
    expect(alice[0]!.kind).toBe(EventKind.AccountCollateral);
    expect(alice[0]!.pnlUsd).toBe(price(35));
    const position = alice.filter((e) => e.kind === EventKind.Position);
    expect(position.map((e) => [e.market, e.netQuantity, e.positionMarkPrice, e.pnlUnrealized, e.cumulativeFundingPayment])).toEqual([[BTC_PERP, btc(7_000), price(60_150), usdc(35), 65_735n]]);
    expect(alice.at(-1)).toBe(position[0]);
    const bob = h.run({ kind: CommandKind.QueryCollateral, account: BOB });
    expect([bob[0]!.pnlUsd, bob.at(-1)!.pnlUnrealized]).toEqual([-price(50), -usdc(50)]); // short 1 from 60,100
  });

  it("X4: the threaded pipeline (2 × 2) answers the history queries as the in-process engine does, with the same state hash", async () => {
    // The scenario's commands as batches, then the queries: Alice's and Bob's histories and the market's rates.
    const batches: CommandRecord[][] = [];
    let seq = 0;
    const batch = (list: Partial<CommandRecord>[]): void => void batches.push(list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++seq })));
    const order = (account: number, side: number, qty: number): Partial<CommandRecord> => ({
      kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: price(60_000), quantity: btc(qty),
    });
    batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 }]);
    batch(quotes(price(60_000), T0));
    batch([ALICE, BOB, CAROL].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: usdc(100_000) })));
    for (const [buyer, seller, qty] of [[ALICE, BOB, 10_000], [CAROL, ALICE, 3_000]] as const) {
      batch([order(seller, Side.Sell, qty)]);
      batch([order(buyer, Side.Buy, qty)]);
    }
    batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 }, ...quotes(price(60_100), T0 + 1_000)]);
    batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + HOUR }, ...quotes(price(60_100), T0 + HOUR)]);
    batch([ALICE, BOB].flatMap((account): Partial<CommandRecord>[] => [
      { kind: CommandKind.QuerySettlementHistory, account, market: ALL_MARKETS },
      { kind: CommandKind.QueryFundingHistory, account, market: ALL_MARKETS },
    ]).concat([{ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP }]));
    const text = (e: EventRecord): string => `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.timeMs}|${e.settledAmount}|${e.fundingPayment}|${e.fundingRate}|${e.markPrice}`;
    const topology = { riskShards: 2, matchingShards: 2 };
    const engine = new Engine(config, topology);
    const expected: string[] = [];
    for (const b of batches) engine.processBatch(b, b.length, { publish: (e) => expected.push(text(e)) });
    const got: string[] = [];
    const fatal: string[] = [];
    const p = await ThreadedPipeline.start(config, { onEvent: (e) => got.push(text(e)), onFatal: (m) => fatal.push(m) }, { topology });
    try {
      let n = 0;
      for (const b of batches) await p.submitBatch(b, b.length, ++n);
      await p.waitForBatch(n);
      expect(fatal).toEqual([]);
      expect(await p.stateHash()).toBe(engine.stateHash());
    } finally {
      await p.stop();
    }
    const answers = (events: string[]): string[] => events.filter((t) => Number(t.split("|")[1]) > seq - 5).sort();
    // Alice: 4 settlement rows (fees, funding, the hour's P5 realization) + 1 payment, Bob: 3 + 1, the market: 1 rate,
    // and 5 CommandAccepted.
    expect(answers(expected)).toHaveLength(15);
    expect(answers(got)).toEqual(answers(expected));
  }, 60_000);

  it("P6: the settlement log's 32-byte rows keep every field of every row through its growth and its wrap (ALL_MARKETS, amounts to 2^63 − 1)", () => {
    const log = new SettlementLog(SETTLEMENT_HISTORY_ROWS_MAX);
    const model: [number, number, number, number, number, bigint][] = [];
    for (let i = 0; i < SETTLEMENT_HISTORY_ROWS_MAX * 2 + 3; i++) {
      const row: [number, number, number, number, number, bigint] = [T0 + i * 1_001, i % 3 === 0 ? ALL_MARKETS : BTC_PERP, i % 5, 1 + (i % 9), i % 7, i % 4 === 0 ? 2n ** 63n - 1n - BigInt(i) : BigInt(i + 1)];
      log.add(...row);
      model.push(row);
      const kept = model.slice(-SETTLEMENT_HISTORY_ROWS_MAX);
      if (i % 37 !== 0 && i < SETTLEMENT_HISTORY_ROWS_MAX * 2) continue; // checked in full now and then, and at the end
      expect(log.length).toBe(kept.length);
      for (let k = 0; k < kept.length; k++) {
        const j = log.slotOf(k);
        const [time, market, asset, reason, step, amount] = kept[k]!;
        expect([log.timeAt(j), log.marketAt(j), log.assetAt(j), log.reasonStepAt(j), log.amountAt(j)]).toEqual([time, market, asset, reason * 256 + step, amount]);
      }
    }
  });

  it("P6, P4: each history is a ring bounded by its named limit: the oldest entry goes first, the order stays", () => {
    const log = new SettlementLog(SETTLEMENT_HISTORY_ROWS_MAX);
    for (let i = 0; i < SETTLEMENT_HISTORY_ROWS_MAX + 5; i++) log.add(T0 + i, BTC_PERP, USDC, SettlementReason.Fee, SettlementStep.FromBalance, BigInt(i + 1));
    expect(log.length).toBe(SETTLEMENT_HISTORY_ROWS_MAX);
    expect(log.capacity).toBe(SETTLEMENT_HISTORY_ROWS_MAX);
    expect(log.amountAt(log.slotOf(0))).toBe(6n);
    expect(log.amountAt(log.slotOf(SETTLEMENT_HISTORY_ROWS_MAX - 1))).toBe(BigInt(SETTLEMENT_HISTORY_ROWS_MAX + 5));
    const rates = new FundingRateLog(FUNDING_RATE_HISTORY_MAX);
    for (let i = 0; i < FUNDING_RATE_HISTORY_MAX * 2; i++) rates.add(T0 + i * HOUR, BigInt(i), 0n, 1, PRICE);
    expect([rates.length, rates.timeMs[rates.slotOf(0)], rates.rate[rates.slotOf(FUNDING_RATE_HISTORY_MAX - 1)]]).toEqual([
      FUNDING_RATE_HISTORY_MAX, T0 + FUNDING_RATE_HISTORY_MAX * HOUR, BigInt(FUNDING_RATE_HISTORY_MAX * 2 - 1),
    ]);
  });
});

describe("perpetual histories on the wire (P4, P6/P7)", () => {
  it("P4, P6: the history queries decode from the client's JSON (market omitted = every market; limit 0 = the most kept); FundingPayment reaches the client", () => {
    const out = new CommandRecord();
    const result = new DecodeResult();
    const decoded = (cmd: CommandJson): CommandRecord | string => (decodeCommand(encodeCommand(1n, cmd), config, out, result) ? out : result.message);
    expect(decoded({ type: "QuerySettlementHistory", account: 17 })).toMatchObject({ kind: CommandKind.QuerySettlementHistory, account: 17, market: ALL_MARKETS, timeMs: 0, historyLimit: 0 });
    expect(decoded({ type: "QueryFundingHistory", account: 17, market: BTC_PERP, sinceMs: T0, limit: 5 })).toMatchObject({ kind: CommandKind.QueryFundingHistory, account: 17, market: BTC_PERP, timeMs: T0, historyLimit: 5 });
    expect(decoded({ type: "QueryFundingRateHistory", market: BTC_PERP, limit: 24 })).toMatchObject({ kind: CommandKind.QueryFundingRateHistory, market: BTC_PERP, historyLimit: 24 });
    expect(decoded({ type: "QueryFundingRateHistory", market: 99 })).toMatch(/market/);
    const e = Object.assign(new EventRecord(), { kind: EventKind.FundingPayment, account: 17, market: BTC_PERP, fundingRate: RATE, markPrice: price(60_100), fundedQuantity: -btc(10_000), fundingPayment: -93_906n, timeMs: T0 + HOUR });
    const { clientSeq: _c, seq: _s, marketSeq: _m, ...json } = decodeEvent(encodeEvent(e, 1n, config)) as unknown as Record<string, unknown>;
    expect(json).toEqual({ type: "FundingPayment", account: 17, market: BTC_PERP, rate: "0.0000015625", mark: "60100", quantity: "-1", amount: "-0.093906", timeMs: BigInt(T0 + HOUR) });
  });

  it("P4, P6: through a server: a user reads its settlement rows and funding payments, anyone a market's funding rates (a reply, not market data)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-perp-history-"));
    const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {} });
    const url = `ws://127.0.0.1:${server.port}`;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const alice = await connectUser(url, operator, 1);
    const bob = await connectUser(url, operator, 2);
    const anyone = await CrossbookClient.connect(url, {});
    const oracle = async (p: string, t: number): Promise<void> => {
      for (const source of [0, 1, 2]) await operator.request({ type: "OracleQuote", asset: BTC, source, bid: p, ask: p, last: p, sourceTimeMs: t, apply: source === 2 }, 20);
    };
    try {
      await operator.request({ type: "AdvanceTime", timeMs: T0 }, 20);
      await oracle("60000", T0);
      for (const account of [ALICE, BOB]) await operator.request({ type: "Deposit", account, asset: USDC, amount: "100000" }, 20);
      await bob.request({ type: "LimitOrder", account: BOB, market: BTC_PERP, side: "Sell", price: "60000", quantity: "1" }, 20);
      await alice.request({ type: "LimitOrder", account: ALICE, market: BTC_PERP, side: "Buy", price: "60000", quantity: "1" }, 50);
      await operator.request({ type: "AdvanceTime", timeMs: T0 + 1_000 }, 20);
      await oracle("60000", T0 + 1_000);
      await operator.request({ type: "AdvanceTime", timeMs: T0 + HOUR }, 20);
      // The interval end at mark 60,000: 1 × 60,000 × 0.0000015625 = 0.09375 USDC, paid by Alice (long).
      expect(await alice.request({ type: "QuerySettlementHistory", account: ALICE })).toMatchObject([
        { type: "Settlement", account: ALICE, market: BTC_PERP, asset: USDC, reason: "Fee", step: "FromBalance", amount: "60", timeMs: BigInt(T0) },
        { type: "Settlement", account: ALICE, market: BTC_PERP, asset: USDC, reason: "Funding", step: "FromBalance", amount: "0.09375", timeMs: BigInt(T0 + HOUR) },
        { type: "CommandAccepted", account: ALICE },
      ]);
      expect(await alice.request({ type: "QueryFundingHistory", account: ALICE, market: BTC_PERP })).toMatchObject([
        { type: "FundingPayment", account: ALICE, market: BTC_PERP, rate: "0.0000015625", mark: "60000", quantity: "1", amount: "0.09375", timeMs: BigInt(T0 + HOUR) },
        { type: "CommandAccepted", account: ALICE },
      ]);
      // X6: Alice's key reads only her user's accounts.
      expect(await alice.request({ type: "QueryFundingHistory", account: BOB })).toMatchObject([{ type: "CommandRejected" }]);
      expect(await anyone.request({ type: "QueryFundingRateHistory", market: BTC_PERP })).toMatchObject([
        { type: "FundingRate", market: BTC_PERP, rate: "0.0000015625", meanPremium: "0", mark: "60000", timeMs: BigInt(T0 + HOUR) },
        { type: "CommandAccepted" },
      ]);
    } finally {
      await Promise.all([alice.close(), bob.close(), anyone.close(), operator.close()]);
      await server.stop();
    }
  }, 60_000);
});

let restoredSeq = 1_000_000;
function runOn(engine: Engine, fields: Partial<CommandRecord>): EventRecord[] {
  const cmd = Object.assign(new CommandRecord(), fields, { seq: ++restoredSeq });
  const got: EventRecord[] = [];
  engine.processBatch([cmd], 1, {
    publish: (e) => {
      const c = new EventRecord();
      c.copyFrom(e);
      got.push(c);
    },
  });
  return got;
}

function big(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
