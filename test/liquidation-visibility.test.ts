// Q6 in the engine: each account's liquidation history (QueryLiquidationHistory: the rows as they were published, with
// the query's seq), the insurance fund's balance (Σ of the shard slices, D4) and history (each batch's change per
// asset and reason) as queries every shard answers alike; all of it in the snapshot and the state hash.
import { describe, expect, it } from "vitest";
import {
  ALL_ASSETS,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  InsuranceReason,
  LIQUIDATION_HISTORY_ENTRIES_MAX,
  OracleQuoteFlag,
  OrderFlag,
  OrderType,
  RejectCode,
  Side,
  TimeInForce,
} from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";
import { riskShardOf } from "../engine/risk/index.ts";
import { EngineHarness } from "./helpers/engine-harness.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const SOL = 4;
const BTC_PERP = 3;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const BTC_UNIT = 100_000_000n;
const T0 = 1_767_225_600_000; // 2026-01-01 00:00 UTC
const HOUR = 3_600_000;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;
const CAROL = 64;

class Harness extends EngineHarness {
  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    super(config, { topology });
  }
}

const mark = (asset: number, price: bigint): Partial<CommandRecord> => ({ kind: CommandKind.SetMarkPrice, asset, price });
const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
const usd = (whole: bigint, hundredths = 0n): bigint => whole * USD + hundredths * 10_000_000n;

/** Alice: 10 SOL, 1,000 USDC borrowed (the Q1 trigger test's account); starts liquidating at SOL $116.66, leaves at $116.80. */
function liquidatedAndBack(h: Harness): void {
  h.batch([
    deposit(LENDER, USDC, 10_000n * USDC_UNIT),
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
    deposit(ALICE, SOL, 10n * SOL_UNIT),
    { kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
  ]);
  h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 }, mark(SOL, usd(116n, 66n))]);
  h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 2_000 }, mark(SOL, usd(116n, 80n))]);
}

const rows = (events: EventRecord[]) =>
  events.filter((e) => e.kind === EventKind.LiquidationStarted || e.kind === EventKind.LiquidationEnded).map((e) => [e.kind, e.seq, e.account, e.netEquityUsd, e.exposureUsd, e.mmr, e.timeMs]);

describe("Q6: the account's liquidation history", () => {
  it("Q6: QueryLiquidationHistory returns the LiquidationStarted / LiquidationEnded rows as published (exact figures), with the query's seq; since and limit", () => {
    const h = new Harness();
    liquidatedAndBack(h);
    const q = (timeMs = 0, historyLimit = 0): Partial<CommandRecord> => ({ kind: CommandKind.QueryLiquidationHistory, account: ALICE, timeMs, historyLimit });
    const all = h.batch([q()]);
    const seq = h.seq;
    // $116.66: equity 1,049.94 − 1,000 = 49.94, MM 50 → MMR 1.001201441; $116.80: equity 51.20, MMR 0.976562500.
    expect(rows(all)).toEqual([
      [EventKind.LiquidationStarted, seq, ALICE, 49_940_000_000n, 1_000_000_000_000n, 1_001_201_441n, T0 + 1_000],
      [EventKind.LiquidationEnded, seq, ALICE, 51_200_000_000n, 1_000_000_000_000n, 976_562_500n, T0 + 2_000],
    ]);
    expect(all[all.length - 1]!.kind).toBe(EventKind.CommandAccepted);
    expect(rows(h.batch([q(0, 1)])).map((r) => r[0])).toEqual([EventKind.LiquidationStarted]);
    expect(rows(h.batch([q(T0 + 1_001)])).map((r) => r[0])).toEqual([EventKind.LiquidationEnded]);
    // Another account has none: only the acceptance.
    expect(h.batch([{ kind: CommandKind.QueryLiquidationHistory, account: LENDER }]).map((e) => e.kind)).toEqual([EventKind.CommandAccepted]);
  });

  it("Q6, X5: an invalid account is refused and nothing changes", () => {
    const h = new Harness();
    liquidatedAndBack(h);
    const before = h.engine.stateHash();
    const got = h.batch([{ kind: CommandKind.QueryLiquidationHistory, account: 0 }]);
    expect(got.map((e) => [e.kind, e.code])).toEqual([[EventKind.CommandRejected, RejectCode.InvalidAccount]]);
    expect(h.engine.stateHash()).toBe(before);
  });

  it("Q6, X7: the history is in the snapshot and the state hash; at most LIQUIDATION_HISTORY_ENTRIES_MAX rows are kept (the newest)", () => {
    const h = new Harness();
    liquidatedAndBack(h);
    const restored = Engine.fromSnapshot(config, h.engine.snapshot());
    expect(restored.stateHash()).toBe(h.engine.stateHash());
    const shard = h.engine.risk[0]!;
    expect(shard.liquidationHistoryCount(ALICE)).toBe(2);
    // A third row changes the hash.
    const before = h.engine.stateHash();
    h.batch([mark(SOL, usd(116n))]);
    expect(shard.liquidationHistoryCount(ALICE)).toBe(3);
    expect(h.engine.stateHash()).not.toBe(before);
    // Flapping far beyond the limit keeps the newest LIQUIDATION_HISTORY_ENTRIES_MAX rows.
    for (let i = 0; i < LIQUIDATION_HISTORY_ENTRIES_MAX / 2 + 1; i++) {
      h.batch([mark(SOL, usd(117n))]);
      h.batch([mark(SOL, usd(116n))]);
    }
    expect(shard.liquidationHistoryCount(ALICE)).toBe(LIQUIDATION_HISTORY_ENTRIES_MAX);
    const last = rows(h.batch([{ kind: CommandKind.QueryLiquidationHistory, account: ALICE }]));
    expect(last.length).toBe(LIQUIDATION_HISTORY_ENTRIES_MAX);
    expect(last[last.length - 1]![0]).toBe(EventKind.LiquidationStarted);
    expect(Engine.fromSnapshot(config, h.engine.snapshot()).stateHash()).toBe(h.engine.stateHash());
  });
});

describe("Q6/D4: the insurance fund's balance and history", () => {
  const quote = (source: number, p: bigint, t: number): Partial<CommandRecord> => ({
    kind: CommandKind.OracleQuote, asset: BTC, oracleSource: source, bid: p, ask: p, last: p, sourceTimeMs: t, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
  });
  const quotes = (p: bigint, t: number): Partial<CommandRecord>[] => [0, 1, 2].map((s) => quote(s, p, t));
  const order = (account: number, side: number, qty: bigint): Partial<CommandRecord> => ({
    kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 60_000n * USD, quantity: qty,
  });

  /** perp-funding.test.ts's scenario: one funding interval whose remainder is 1 USDC unit (slices +93,907 and −93,906
   * with two risk shards). */
  function scenario(topology: EngineTopology): Harness {
    const h = new Harness(topology);
    h.batch(quotes(60_000n * USD, T0));
    h.batch([ALICE, BOB, CAROL].map((account) => deposit(account, USDC, 100_000n * USDC_UNIT)));
    h.batch([order(BOB, Side.Sell, BTC_UNIT)]);
    h.batch([order(ALICE, Side.Buy, BTC_UNIT)]);
    h.batch([order(ALICE, Side.Sell, (3n * BTC_UNIT) / 10n)]);
    h.batch([order(CAROL, Side.Buy, (3n * BTC_UNIT) / 10n)]);
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 }, ...quotes(60_100n * USD, T0 + 1_000)]);
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + HOUR }, ...quotes(60_100n * USD, T0 + HOUR)]);
    return h;
  }

  const fund = (events: EventRecord[]) => events.filter((e) => e.kind === EventKind.InsuranceFund).map((e) => [e.seq, e.asset, e.insuranceBalance, e.timeMs]);
  const history = (events: EventRecord[]) =>
    events.filter((e) => e.kind === EventKind.InsuranceEntry).map((e) => [e.asset, e.insuranceReason, e.insuranceChange, e.insuranceBalance, e.timeMs]);

  it("Q6, D4, P4: the balance is Σ of the slices (1 USDC unit, slices +93,907 and −93,906 with two shards); the history has the funding remainder's row", () => {
    for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }]) {
      const h = scenario(topology);
      // The hour is also a 10 s mark: P5 realizes +70 and +30 USDC (Alice, Carol) against Bob's −100 at 60,100, each
      // shard's slice the counterparty of its own accounts (reason RealizedPnl, Σ 0: no history row).
      if (topology.riskShards === 2) expect(h.engine.risk.map((r) => r.insuranceBalance(USDC))).toEqual([93_907n - 100_000_000n, -93_906n + 100_000_000n]);
      // Every shard's replica agrees at the boundary.
      for (const r of h.engine.risk) expect(r.insuranceFund(USDC)).toBe(1n);
      const got = h.batch([{ kind: CommandKind.QueryInsuranceFund, asset: USDC }]);
      expect(fund(got)).toEqual([[h.seq, USDC, 1n, T0 + HOUR]]);
      expect(fund(h.batch([{ kind: CommandKind.QueryInsuranceFund, asset: ALL_ASSETS }])).map((r) => [r[1], r[2]])).toEqual(config.assets.map((a) => [a.id, a.id === USDC ? 1n : 0n]));
      const rowsGot = h.batch([{ kind: CommandKind.QueryInsuranceHistory, asset: ALL_ASSETS }]);
      expect(history(rowsGot)).toEqual([[USDC, InsuranceReason.FundingRemainder, 1n, 1n, T0 + HOUR]]);
      expect(rowsGot[rowsGot.length - 1]!.kind).toBe(EventKind.CommandAccepted);
      // Since after the row, or another asset: none.
      expect(history(h.batch([{ kind: CommandKind.QueryInsuranceHistory, asset: ALL_ASSETS, timeMs: T0 + HOUR + 1 }]))).toEqual([]);
      expect(history(h.batch([{ kind: CommandKind.QueryInsuranceHistory, asset: BTC }]))).toEqual([]);
      // X7: the replica and the history survive a snapshot.
      const restored = Engine.fromSnapshot(config, h.engine.snapshot());
      expect(restored.stateHash()).toBe(h.engine.stateHash());
      for (const r of restored.risk) expect(r.insuranceFund(USDC)).toBe(1n);
    }
  });

  it("Q6, X5: an unknown asset is refused by both insurance queries", () => {
    const h = new Harness();
    const n = config.assets.length;
    for (const kind of [CommandKind.QueryInsuranceFund, CommandKind.QueryInsuranceHistory]) {
      expect(h.batch([{ kind, asset: n }]).map((e) => [e.kind, e.code])).toEqual([[EventKind.CommandRejected, RejectCode.UnknownAsset]]);
    }
  });

  it("Q6: the same figures whichever shard owns the asking account (the replica answers at account 0's shard)", () => {
    const h = scenario({ riskShards: 2, matchingShards: 2 });
    expect(riskShardOf(0, 2)).toBe(0);
    expect(h.engine.risk[1]!.insuranceHistory(-1, 0, 10)).toEqual(h.engine.risk[0]!.insuranceHistory(-1, 0, 10));
  });
});
