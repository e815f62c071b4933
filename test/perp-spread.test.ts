// P4 and P5 spread over batches (engine.ts decision P5S, risk/passes.ts): a realization pass and an interval's funding
// payments visit at most PASS_VISITS_PER_BATCH_MAX holders per batch, from a cursor in account-id order — funding
// first, then realization at the marks of THAT batch; a fill of a holder the funding cursor has not reached pays its
// funding first, on the position it held at the interval end. The cursors are in the snapshot and the state hash:
// a snapshot taken mid-pass, restored, finishes the pass exactly as the original; a replay of the journal equals live.
import { afterEach, describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, LiquidationStep, OracleQuoteFlag, OrderType, Side, TimeInForce, type ExchangeConfig } from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { PASS_VISITS_PER_BATCH_MAX, riskShardOf, SettlementReason, SettlementStep, type RiskShard } from "../engine/risk/index.ts";
import { SortedIdSet } from "../engine/risk/sorted-ids.ts";
import { ClockTickPolicy } from "../gateway/clock-ticks.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_PERP = 3;
const USDC_UNIT = 1_000_000n;
const PRICE = 1_000_000_000n; // PRICE_DECIMALS = 9
const T0 = 1_767_225_600_000; // 2026-01-01 00:00 UTC: an hour and a 10 s mark
const HOUR = 3_600_000;
const K = PASS_VISITS_PER_BATCH_MAX; // 16
const PAIRS = (5 * K) / 4; // 2.5 K holders: a pass takes 3 batches of at most K visits
const QTY = 1_000_000n; // 0.01 BTC
/** Pair k: the short (sells first) is account SHORT(k), the long LONG(k) = SHORT(k) + 16: ids ascend short, long, … */
const SHORT = (k: number): number => (2 * k + 10) * 16;
const LONG = (k: number): number => (2 * k + 11) * 16;
const HOLDERS = Array.from({ length: 2 * PAIRS }, (_, i) => (i + 10) * 16);

const price = (n: number): bigint => BigInt(n) * PRICE;

function copy(e: EventRecord): EventRecord {
  const c = new EventRecord();
  c.copyFrom(e);
  return c;
}

const quote = (source: number, p: bigint, t: number): Partial<CommandRecord> => ({
  kind: CommandKind.OracleQuote, asset: BTC, oracleSource: source, bid: p, ask: p, last: p, sourceTimeMs: t, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
});
/** The clock to t and the BTC index (with an empty book, the BTC perp's mark: P3 (b)) to p. */
const marks = (p: bigint, t: number): Partial<CommandRecord>[] => [{ kind: CommandKind.AdvanceTime, timeMs: t }, ...[0, 1, 2].map((s) => quote(s, p, t))];
const tick = (t: number): Partial<CommandRecord>[] => [{ kind: CommandKind.AdvanceTime, timeMs: t }];

class Harness {
  readonly engine: Engine;
  seq = 0;
  readonly log: CommandRecord[][] = [];

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }, engine?: Engine, seq = 0, cfg: ExchangeConfig = config) {
    this.engine = engine ?? new Engine(cfg, topology);
    this.seq = seq;
    if (engine !== undefined) return;
    this.batch(marks(price(60_000), T0));
    this.batch(HOLDERS.map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: 10_000n * USDC_UNIT })));
    const orders: Partial<CommandRecord>[] = [];
    for (let k = 0; k < PAIRS; k++) {
      const order = { kind: CommandKind.PlaceOrder, market: BTC_PERP, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: price(60_000), quantity: QTY };
      orders.push({ ...order, account: SHORT(k), side: Side.Sell }, { ...order, account: LONG(k), side: Side.Buy });
    }
    this.batch(orders);
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    this.log.push(cmds.map((c) => Object.assign(new CommandRecord(), c)));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, { publish: (e) => got.push(copy(e)) });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  risk(account: number): RiskShard {
    return this.engine.risk[riskShardOf(account, this.engine.risk.length)]!;
  }

  insurance(): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.insuranceBalance(USDC), 0n);
  }
}

/** [account, reason, step, amount] of the Settlement rows among `events`, in their order. */
function rows(events: EventRecord[]): [number, number, number, bigint][] {
  return events.filter((e) => e.kind === EventKind.Settlement).map((e) => [e.account, e.settlementReason, e.settlementStep, e.settledAmount]);
}

const isLong = (id: number): boolean => ((id / 16 - 10) & 1) === 1;

/** Realization rows of a pass part (ids ascending): each long gains `longGain` (< 0: loses), each short the opposite. */
function realized(ids: number[], longGain: bigint): [number, number, number, bigint][] {
  return ids.map((id) => {
    const gain = isLong(id) ? longGain : -longGain;
    return [id, SettlementReason.Realization, gain > 0n ? SettlementStep.ToBalance : SettlementStep.FromBalance, gain > 0n ? gain : -gain];
  });
}

describe("P5S: the realization pass spread over batches", () => {
  it("P5, P5S: a 10 s mark realizes K = 16 holders per batch in account-id order, each batch at ITS marks; batches without a mark go on until the pass ends", () => {
    expect(K).toBe(16);
    const h = new Harness();
    h.batch(marks(price(60_060), T0 + 1_000)); // +0.6 USDC per 0.01 BTC
    const first = h.batch(tick(T0 + 10_000));
    expect(rows(first)).toEqual(realized(HOLDERS.slice(0, K), 600_000n));
    expect(h.engine.passesPending).toBe(true);
    // The mark moves before the pass's second batch: its holders realize at 60,120 (+1.2 USDC), the first ones do not.
    const second = h.batch(marks(price(60_120), T0 + 10_500));
    expect(rows(second)).toEqual(realized(HOLDERS.slice(K, 2 * K), 1_200_000n));
    const third = h.batch(tick(T0 + 10_600));
    expect(rows(third)).toEqual(realized(HOLDERS.slice(2 * K), 1_200_000n));
    expect(h.engine.passesPending).toBe(false);
    expect(rows(h.batch(tick(T0 + 10_700)))).toEqual([]); // nothing left
    // Pairs are adjacent ids, so each batch's part nets to 0 in the shard's insurance slice (D4).
    expect(h.insurance()).toBe(0n);
    // The first K stand at 60,060: the next pass (the 20 s mark) realizes their +0.6 and nothing for the others.
    const next = h.batch(tick(T0 + 20_000));
    expect(rows(next)).toEqual(realized(HOLDERS.slice(0, K), 600_000n));
    for (const id of [SHORT(0), LONG(0)]) expect(h.risk(id).perpPosition(id, BTC_PERP).entryPrice).toBe(price(60_120));
  });

  it("P5S, X4: a batch of one query goes on with the pass like any batch, so the engine says such a batch would act (idleBatchActs) until the pass ends; a replay that skips its number runs an empty batch for it: the same rows and state hash", () => {
    const h = new Harness();
    expect(h.engine.idleBatchActs).toBe(false);
    h.batch(marks(price(60_060), T0 + 1_000));
    expect(rows(h.batch(tick(T0 + 10_000)))).toEqual(realized(HOLDERS.slice(0, K), 600_000n));
    expect(h.engine.idleBatchActs).toBe(true);
    const queryBatch = h.log.length + 1;
    expect(rows(h.batch([{ kind: CommandKind.QueryPositions, account: LONG(0) }]))).toEqual(realized(HOLDERS.slice(K, 2 * K), 600_000n));
    expect(rows(h.batch(tick(T0 + 10_600)))).toEqual(realized(HOLDERS.slice(2 * K), 600_000n));
    expect(h.engine.idleBatchActs).toBe(false);
    // The journal: every batch but the query's (the gateway left it out only when the batch before said it would not
    // act; here it would have written it), each under its number.
    const replay = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const replayed: EventRecord[] = [];
    h.log.forEach((cmds, i) => {
      if (i + 1 !== queryBatch) replay.processJournalBatch(cmds, cmds.length, { publish: (e) => void replayed.push(copy(e)) }, i + 1);
    });
    expect(rows(replayed).filter(([, reason]) => reason === SettlementReason.Realization)).toEqual(realized(HOLDERS, 600_000n));
    expect(replay.stateHash()).toBe(h.engine.stateHash());
  });

  it("P5S: a 10 s mark crossed while a pass runs starts another once it ends (every holder at least once per mark)", () => {
    const h = new Harness();
    h.batch(marks(price(60_060), T0 + 1_000));
    expect(rows(h.batch(tick(T0 + 10_000))).length).toBe(K);
    // The mark back to 60,000: the pass's second batch finds holders K … 2K − 1 at their entry (60,000): nothing.
    expect(rows(h.batch(marks(price(60_000), T0 + 19_000)))).toEqual([]);
    // The 20 s mark while the pass runs: the last K/2 have nothing either, the pass ends and the next starts from the
    // lowest id in the same batch: holders 0 … K/2 − 1 (realized at 60,060 by the first) give the 0.6 back.
    const crossing = h.batch(tick(T0 + 20_000));
    expect(rows(crossing)).toEqual(realized(HOLDERS.slice(0, K / 2), -600_000n));
    expect(rows(h.batch(tick(T0 + 20_100)))).toEqual(realized(HOLDERS.slice(K / 2, K), -600_000n)); // visits K/2 … 3K/2 − 1
    expect(h.engine.passesPending).toBe(true);
    expect(rows(h.batch(tick(T0 + 20_200)))).toEqual([]); // the last K visits: the pass ends in this batch
    expect(h.engine.passesPending).toBe(false);
    expect(h.insurance()).toBe(0n);
  });
});

const NEW_SHORT = (2 * PAIRS + 10) * 16; // opens after the interval end, above every holder's id
const NEW_LONG = (2 * PAIRS + 11) * 16;
/** 1 bp over 64 (the interval's rate at a zero premium, RATE_SCALE 1e18): 0.01 BTC at 60,000 pays exactly 0.0009375. */
const RATE = 1_562_500_000_000n;
const LONG_PAYS = 938n; // payers round up (P4)
const SHORT_GETS = 937n; // receivers round down

/** Funding rows of a part of the interval (ids ascending): longs pay 938, shorts receive 937. */
function funded(ids: number[]): [number, number, number, bigint][] {
  return ids.map((id) => (isLong(id) ? [id, SettlementReason.Funding, SettlementStep.FromBalance, LONG_PAYS] : [id, SettlementReason.Funding, SettlementStep.ToBalance, SHORT_GETS]));
}
const fundingRows = (events: EventRecord[]): [number, number, number, bigint][] => rows(events).filter((r) => r[1] === SettlementReason.Funding);

/** The interval end at T0 + 1 h (a premium sample 5 s before; marks stay at 60,000): returns its batch's events. */
function intervalEnd(h: Harness): EventRecord[] {
  h.batch(marks(price(60_000), T0 + HOUR - 5_000));
  const end = h.batch(marks(price(60_000), T0 + HOUR));
  const rate = end.find((e) => e.kind === EventKind.FundingRate && e.market === BTC_PERP)!;
  expect([rate.fundingRate, rate.markPrice]).toEqual([RATE, price(60_000)]);
  return end;
}

/** After the interval end: the last pair closes against each other (a fill), a new pair opens (two fills' worth). */
function closeAndOpen(h: Harness): EventRecord[] {
  const order = { kind: CommandKind.PlaceOrder, market: BTC_PERP, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: price(60_000), quantity: QTY };
  return h.batch([
    { kind: CommandKind.Deposit, account: NEW_SHORT, asset: USDC, amount: 10_000n * USDC_UNIT },
    { kind: CommandKind.Deposit, account: NEW_LONG, asset: USDC, amount: 10_000n * USDC_UNIT },
    { ...order, account: LONG(PAIRS - 1), side: Side.Sell },
    { ...order, account: SHORT(PAIRS - 1), side: Side.Buy },
    { ...order, account: NEW_SHORT, side: Side.Sell },
    { ...order, account: NEW_LONG, side: Side.Buy },
  ]);
}

describe("P5S: an interval's funding spread over batches", () => {
  it("P4, P5S: the interval end pays K = 16 holders per batch in account-id order at the interval's rate and mark; payers round up, receivers down, the remainder to insurance", () => {
    const h = new Harness();
    const end = intervalEnd(h);
    expect(fundingRows(end)).toEqual(funded(HOLDERS.slice(0, K)));
    expect(h.insurance()).toBe(BigInt(K / 2)); // K/2 pairs × (938 − 937)
    // The rate and mark stay the interval's: a mark moved meanwhile changes no payment of it.
    const second = h.batch(marks(price(60_300), T0 + HOUR + 1_000));
    expect(fundingRows(second)).toEqual(funded(HOLDERS.slice(K, 2 * K)));
    expect(fundingRows(h.batch(tick(T0 + HOUR + 2_000)))).toEqual(funded(HOLDERS.slice(2 * K)));
    expect(h.insurance()).toBe(BigInt(PAIRS));
    for (const id of [SHORT(3), LONG(3)]) {
      expect(h.risk(id).perpPosition(id, BTC_PERP).cumulativeFundingPayment).toBe(isLong(id) ? LONG_PAYS : -SHORT_GETS);
    }
    // Every payment once: the rest of the batches pay nothing more.
    for (let i = 0; i < 4; i++) expect(fundingRows(h.batch(tick(T0 + HOUR + 3_000 + i)))).toEqual([]);
    expect(h.engine.passesPending).toBe(false);
  });

  it("P4, P5S: a holder the cursor has not reached pays before its fill, on the position it held at the interval end; one that opens after it pays nothing", () => {
    const h = new Harness();
    intervalEnd(h);
    const touched = closeAndOpen(h);
    // R2 first: the closing pair pays at its fill (taker, then maker), before the Fill; then phase 3b pays K … 2K − 1.
    const fillAt = touched.findIndex((e) => e.kind === EventKind.Fill);
    expect(fundingRows(touched.slice(0, fillAt))).toEqual([
      [SHORT(PAIRS - 1), SettlementReason.Funding, SettlementStep.ToBalance, SHORT_GETS],
      [LONG(PAIRS - 1), SettlementReason.Funding, SettlementStep.FromBalance, LONG_PAYS],
    ]);
    expect(fundingRows(touched)).toEqual([...fundingRows(touched.slice(0, fillAt)), ...funded(HOLDERS.slice(K, 2 * K))]);
    for (const id of [SHORT(PAIRS - 1), LONG(PAIRS - 1)]) expect(h.risk(id).perpPosition(id, BTC_PERP).netQuantity).toBe(0n);
    // The cursor skips the pair paid early and the new pair (they held nothing at the interval end).
    expect(fundingRows(h.batch(tick(T0 + HOUR + 2_000)))).toEqual(funded(HOLDERS.slice(2 * K, 2 * PAIRS - 2)));
    for (const id of [NEW_SHORT, NEW_LONG]) expect(h.risk(id).perpPosition(id, BTC_PERP).cumulativeFundingPayment).toBe(0n);
    expect(h.insurance()).toBe(BigInt(PAIRS));
  });

  it("P4, P5S, D4: 2 × 2 shards pay every holder once with the same amounts (each shard its own cursor and budget)", () => {
    const one = new Harness();
    const two = new Harness({ riskShards: 2, matchingShards: 2 });
    const paid = (h: Harness): [number, number, number, bigint][] => {
      const all = [...fundingRows(intervalEnd(h)), ...fundingRows(closeAndOpen(h))];
      for (let i = 0; i < 3; i++) all.push(...fundingRows(h.batch(tick(T0 + HOUR + 2_000 + i))));
      return all.sort((a, b) => a[0] - b[0]);
    };
    const expected = funded(HOLDERS);
    expect(paid(one)).toEqual(expected);
    expect(paid(two)).toEqual(expected);
    expect(two.insurance()).toBe(BigInt(PAIRS));
    expect(two.engine.risk.map((r) => r.insuranceBalance(USDC)).reduce((a, b) => a + b, 0n)).toBe(BigInt(PAIRS));
  });

  it("P4, P5S, Q3: a backstop takeover leg of a holder the cursor has not reached pays its funding first; the backstop, which held nothing at the interval end, pays nothing", () => {
    // The backstop's id is above every holder's, so the cursor would reach it after the takeover. Before, the leg moved
    // the last long's position first: the long paid nothing and the backstop paid its funding at its turn.
    const BACKSTOP = (2 * PAIRS + 12) * 16;
    const cfg = { ...config, liquidation: { ...config.liquidation, backstopAccount: BACKSTOP, backstopLimitUsd: price(1_000_000) } };
    const h = new Harness(undefined, undefined, 0, cfg);
    const last = LONG(PAIRS - 1);
    // The last long (9,999.4 USDC after its 0.6 taker fee) at leverage 50 keeps 13 (IM 2% of 600 = 12). Eight index
    // steps down (P2: at most 0.25% per update) take BTC to about 58,814: equity about 1.14 on 588 of notional —
    // under its MM (0.667%) and under ACMF (0.333%).
    h.batch([
      { kind: CommandKind.Deposit, account: BACKSTOP, asset: USDC, amount: 100_000n * USDC_UNIT },
      { kind: CommandKind.UpdateAccountSettings, account: last, leverageLimit: 50 },
      { kind: CommandKind.Withdraw, account: last, asset: USDC, amount: 9_986_400_000n },
    ]);
    expect(h.risk(last).balance(last, USDC).available).toBe(13n * USDC_UNIT);
    intervalEnd(h);
    h.batch([...marks(price(50_000), T0 + HOUR + 1_000), ...Array.from({ length: 7 }, () => [0, 1, 2].map((s) => quote(s, price(50_000), T0 + HOUR + 1_000))).flat()]);
    expect(h.engine.risk.flatMap((r) => r.liquidatingAccounts())).toEqual([last]);
    const events = h.batch(tick(T0 + HOUR + 2_000));
    const legAt = events.findIndex((e) => e.kind === EventKind.LiquidationTransfer);
    expect([events[legAt]!.liquidationStep, events[legAt]!.account, events[legAt]!.makerAccount, events[legAt]!.quantity]).toEqual([LiquidationStep.OnBackstop, last, BACKSTOP, QTY]);
    expect(fundingRows(events.slice(0, legAt))).toEqual([[last, SettlementReason.Funding, SettlementStep.FromBalance, LONG_PAYS]]);
    // Phase 3b pays the rest of the holders (2K … the pair before the last), not the last long again, not the backstop.
    expect(fundingRows(events.slice(legAt))).toEqual(funded(HOLDERS.slice(2 * K, 2 * PAIRS - 1)));
    expect(h.risk(BACKSTOP).perpPosition(BACKSTOP, BTC_PERP).cumulativeFundingPayment).toBe(0n);
    expect(h.risk(last).perpPosition(last, BTC_PERP).netQuantity).toBe(0n);
    expect(fundingRows(h.batch(tick(T0 + HOUR + 3_000)))).toEqual([]);
  });

  it("P5S, X7: a snapshot mid-pass (cursor at K, pending funding and realization) restores the cursors; the restored engine finishes both exactly as the original", () => {
    const h = new Harness();
    intervalEnd(h);
    expect(h.engine.passesPending).toBe(true);
    const restored = new Harness(undefined, Engine.fromSnapshot(config, h.engine.snapshot()), h.seq);
    expect(restored.engine.stateHash()).toBe(h.engine.stateHash());
    const script = (x: Harness): EventRecord[] => [
      ...closeAndOpen(x),
      ...x.batch(marks(price(60_060), T0 + HOUR + 5_000)),
      ...x.batch(tick(T0 + HOUR + 10_000)), // a 10 s mark: the realization pass restarts after the running one
      ...x.batch(tick(T0 + HOUR + 10_100)),
      ...x.batch(tick(T0 + HOUR + 10_200)),
      ...x.batch(tick(T0 + HOUR + 10_300)),
    ];
    const a = script(h);
    const b = script(restored);
    expect(rows(b)).toEqual(rows(a));
    expect(restored.engine.stateHash()).toBe(h.engine.stateHash());
    expect(fundingRows(a).length).toBe(2 * PAIRS - K); // every holder but the K paid in the interval end's batch
    // The realization pass of the interval end's 10 s mark got no visits there (funding first) and stood at holder K
    // (its first batch, the premium sample's, visited 0 … K − 1 at entry = mark): K … and the new pair realize first,
    // then the pass the T0 + 1 h + 10 s mark asked for realizes 0 … K − 1; all at 60,060 (+0.6 per long).
    const realizedIds = [...HOLDERS.slice(K, 2 * PAIRS - 2), NEW_SHORT, NEW_LONG, ...HOLDERS.slice(0, K)];
    expect(rows(a).filter((r) => r[1] === SettlementReason.Realization)).toEqual(realized(realizedIds, 600_000n));
    expect(h.engine.passesPending).toBe(false);
    // The state hash covers the cursors: the same state one batch later differs only by the cursor's move.
    const other = new Harness();
    intervalEnd(other);
    expect(other.engine.stateHash()).toBe(Engine.fromSnapshot(config, other.engine.snapshot()).stateHash());
  });
});

describe("P5S across live and replay (X4)", () => {
  const running: ThreadedPipeline[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });

  for (const topology of [{ riskShards: 1, matchingShards: 1 }, { riskShards: 2, matchingShards: 2 }]) {
    it(`P5S, X4: threaded ${topology.riskShards} × ${topology.matchingShards} runs the spread passes as in-process replay does (events, state hash); every batch end reports the passes pending`, async () => {
      const h = new Harness(topology);
      intervalEnd(h);
      closeAndOpen(h);
      h.batch(marks(price(60_060), T0 + HOUR + 5_000));
      for (let i = 0; i < 5; i++) h.batch(tick(T0 + HOUR + 10_000 + i * 100));
      const text = (e: EventRecord): string => `${e.kind}|${e.seq}|${e.account}|${e.settlementReason}|${e.settlementStep}|${e.settledAmount}|${e.available}|${e.netQuantity}|${e.entryPrice}`;
      const expected: string[] = [];
      const replay = new Engine(config, topology);
      const pending: boolean[] = [];
      for (const b of h.log) {
        replay.processBatch(b, b.length, { publish: (e) => expected.push(text(e)) });
        pending.push(replay.passesPending);
      }
      expect(replay.stateHash()).toBe(h.engine.stateHash());
      const got: string[] = [];
      const reported: boolean[] = [];
      const p = await ThreadedPipeline.start(config, { onEvent: (e) => got.push(text(e)), onBatchDone: (b, passes) => void (b > 0 && reported.push(passes)) }, { topology });
      running.push(p);
      let n = 0;
      for (const b of h.log) {
        await p.submitBatch(b, b.length, ++n);
        await p.waitForBatch(n);
      }
      expect(await p.stateHash()).toBe(h.engine.stateHash());
      if (topology.riskShards === 1) expect(got).toEqual(expected);
      else expect([...got].sort()).toEqual([...expected].sort());
      expect(reported).toEqual(pending);
      // The premium sample's batch (3) starts a realization pass, the interval end (4) funding, the 10 s mark (7)
      // another pass. One shard (2.5 K holders, K visits a batch) is done at batch 10; two (about half each) sooner.
      const F = false;
      const T = true;
      expect(pending).toEqual(topology.riskShards === 1 ? [F, F, F, T, T, T, T, T, T, T, F, F] : [F, F, F, T, T, T, F, T, F, F, F, F]);
    }, 120_000);
  }
});

describe("P5S building blocks", () => {
  it("P5S: SortedIdSet keeps ids ascending across chunk splits; ceiling finds the next holder from a cursor", () => {
    const set = new SortedIdSet();
    const ids: number[] = [];
    for (let i = 0; i < 3_000; i++) ids.push(((i * 7_919) % 3_001) * 16); // a permutation, inserted out of order
    for (const id of ids) expect(set.add(id)).toBe(true);
    expect(set.add(ids[5]!)).toBe(false);
    expect(set.size).toBe(3_000);
    const sorted = [...ids].sort((a, b) => a - b);
    expect([...set]).toEqual(sorted);
    expect(set.ceiling(0)).toBe(sorted[0]);
    expect(set.ceiling(sorted[1_000]! + 1)).toBe(sorted[1_001]);
    expect(set.ceiling(sorted[2_999]! + 1)).toBe(-1);
    for (let i = 0; i < 3_000; i += 2) expect(set.delete(sorted[i]!)).toBe(true);
    expect(set.delete(sorted[0]!)).toBe(false);
    expect(set.has(sorted[1]!)).toBe(true);
    expect(set.has(sorted[0]!)).toBe(false);
    expect([...set]).toEqual(sorted.filter((_, i) => i % 2 === 1));
    expect(set.ceiling(sorted[0]!)).toBe(sorted[1]);
  });

  it("P5S: the gateway journals a tick at once while a batch end reports passes pending (the held proposal's time, else the last tick's)", () => {
    const ticks = new ClockTickPolicy();
    expect(ticks.passes(true)).toBe(0); // no tick journaled since start: the timer's next proposal is taken instead
    expect(ticks.propose(T0)).toBe(true); // journaled because passes are pending
    expect(ticks.passes(true)).toBe(T0); // at once, at the last tick's time (an AdvanceTime to the same time is valid)
    expect(ticks.propose(T0 + 1_000)).toBe(true);
    ticks.passes(false);
    expect(ticks.propose(T0 + 2_000)).toBe(false); // nothing pending: held as before
    expect(ticks.passes(true)).toBe(T0 + 2_000); // the held proposal goes first
    expect(ticks.passes(false)).toBe(0);
  });
});
