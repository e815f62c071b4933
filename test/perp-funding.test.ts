// P4 funding payments through the risk shards (engine.ts decisions D2(b), D4, P3): at each interval end the
// FundingRate event pays and charges every position of the market — payers round up, receivers round down, the
// shard's remainder to its slice of the insurance fund — through the P6/P7 USDC waterfall, with Settlement rows
// (reason Funding), the USDC Balance and the Position (cumulativeFundingPayment, breakEvenPrice) of each account.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, OracleQuoteFlag, OrderType, Side, TimeInForce, type EventSink } from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";
import { riskShardOf, SettlementReason, SettlementStep, type RiskShard } from "../engine/risk/index.ts";

const config = loadConfig();
const USDC = 0;
const USDT = 1;
const BTC = 2;
const BTC_PERP = 3;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const PRICE = 1_000_000_000n; // PRICE_DECIMALS = 9
const T0 = 1_767_225_600_000; // 2026-01-01 00:00 UTC, an hour boundary
const HOUR = 3_600_000;
const ALICE = 16; // user 1: risk shard 1 of 2
const BOB = 32; // user 2: risk shard 0 of 2
const CAROL = 48; // user 3: risk shard 1 of 2
const LENDER = 64;
/** 0.0001 = 1 bp as a Ratio (RATIO_DECIMALS = 18). */
const RATE_1BP = 100_000_000_000_000n;

const usdc = (n: number): bigint => BigInt(n) * USDC_UNIT;
const btc = (tenThousandths: number): bigint => BigInt(tenThousandths) * (BTC_UNIT / 10_000n);
const price = (n: number): bigint => BigInt(n) * PRICE;

function copy(e: EventRecord): EventRecord {
  const c = new EventRecord();
  c.copyFrom(e);
  return c;
}

class Harness {
  readonly engine: Engine;
  seq = 0;

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    this.engine = new Engine(config, topology);
    this.run({ kind: CommandKind.AdvanceTime, timeMs: T0 });
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, { publish: (e) => got.push(copy(e)) });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  run(fields: Partial<CommandRecord>): EventRecord[] {
    return this.batch([fields]);
  }

  risk(account: number): RiskShard {
    return this.engine.risk[riskShardOf(account, this.engine.risk.length)]!;
  }

  /** `buyer` takes `qty` BTC perp (ten-thousandths) from `seller`'s resting order at `p`. */
  cross(buyer: number, seller: number, p: number, qty: number): void {
    const order = (account: number, side: number): Partial<CommandRecord> => ({
      kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: price(p), quantity: btc(qty),
    });
    this.run(order(seller, Side.Sell));
    const events = this.run(order(buyer, Side.Buy));
    // With several risk shards each side's shard publishes the Fill: the same fill, once per shard involved.
    expect(new Set(events.filter((e) => e.kind === EventKind.Fill).map((e) => `${e.account} ${e.makerAccount} ${e.quantity}`))).toEqual(new Set([`${buyer} ${seller} ${btc(qty)}`]));
  }

  /** Phase 3 of an interval end fed directly: the FundingRate event to every risk shard, then each one's batch end. */
  fund(rate: bigint, mark: bigint, market = BTC_PERP): EventRecord[] {
    const e = new EventRecord();
    e.kind = EventKind.FundingRate;
    e.market = market;
    e.fundingRate = rate;
    e.markPrice = mark;
    e.timeMs = T0 + HOUR;
    const got: EventRecord[] = [];
    const sink: EventSink = { publish: (x) => got.push(copy(x)) };
    for (const r of this.engine.risk) r.postTrade(e, sink);
    for (const r of this.engine.risk) r.settle(sink); // phase 3b: the payments (P5S)
    for (const r of this.engine.risk) r.endBatch(sink);
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  usdcSlots(account: number): { available: bigint; lent: bigint; borrowed: bigint } {
    const r = this.risk(account);
    return { available: r.balance(account, USDC).available, ...r.poolBalance(account, USDC) };
  }

  insurance(): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.insuranceBalance(USDC), 0n);
  }

  totals(): bigint[] {
    const sums = config.assets.map(() => 0n);
    for (const r of this.engine.risk) r.totals().forEach((t, i) => (sums[i] = sums[i]! + t));
    return sums;
  }
}

function fundingRows(events: EventRecord[], account: number): [number, bigint][] {
  return events.filter((e) => e.kind === EventKind.Settlement && e.account === account).map((e) => {
    expect(e.settlementReason).toBe(SettlementReason.Funding);
    return [e.settlementStep, e.settledAmount];
  });
}

describe("P4 funding payments (risk, D2(b), D4)", () => {
  it("P4: a long and a short of 1 BTC at mark 60,000, rate 0.0001: the long pays exactly 6 USDC, the short receives 6; positions and events follow", () => {
    const h = new Harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) }, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(10_000) }]);
    h.cross(ALICE, BOB, 60_000, 10_000);
    // Fees: Alice takes (10 bps = 60 USDC), Bob makes (8 bps = 48 USDC).
    expect([h.usdcSlots(ALICE).available, h.usdcSlots(BOB).available]).toEqual([usdc(9_940), usdc(9_952)]);
    const totalsBefore = h.totals();
    const events = h.fund(RATE_1BP, price(60_000));
    expect(fundingRows(events, ALICE)).toEqual([[SettlementStep.FromBalance, usdc(6)]]);
    expect(fundingRows(events, BOB)).toEqual([[SettlementStep.ToBalance, usdc(6)]]);
    expect([h.usdcSlots(ALICE).available, h.usdcSlots(BOB).available]).toEqual([usdc(9_934), usdc(9_958)]);
    // Per account, in account-id order: its Settlement rows, its USDC Balance, its Position — all seq 0.
    expect(events.map((e) => [e.kind, e.account, e.seq])).toEqual([
      [EventKind.FundingRate, 0, 0],
      [EventKind.Settlement, ALICE, 0], [EventKind.Balance, ALICE, 0], [EventKind.Position, ALICE, 0],
      [EventKind.Settlement, BOB, 0], [EventKind.Balance, BOB, 0], [EventKind.Position, BOB, 0],
    ]);
    const positions = events.filter((e) => e.kind === EventKind.Position).map((e) => [e.account, e.cumulativeFundingPayment, e.breakEvenPrice]);
    // Break-even = entry + (fees + funding) per unit: the long 60,000 + 66, the short 60,000 − (48 − 6).
    expect(positions).toEqual([[ALICE, usdc(6), price(60_066)], [BOB, -usdc(6), price(59_958)]]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).cumulativeFundingPayment).toBe(usdc(6));
    expect(h.insurance()).toBe(0n);
    expect(h.totals()).toEqual(totalsBefore); // X1: funding moved money, created none
  });

  it("P4, X1, D4: payers round up, receivers round down, the remainder goes to the insurance fund: Σ accounts + insurance = 0 exactly", () => {
    const h = new Harness();
    h.batch([ALICE, BOB, CAROL].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: usdc(1_000) })));
    h.cross(ALICE, BOB, 60_000, 1); // Alice long 0.0001 from Bob
    h.cross(ALICE, CAROL, 60_000, 2); // and 0.0002 from Carol: long 0.0003, shorts 0.0001 and 0.0002
    const before = [ALICE, BOB, CAROL].map((a) => h.usdcSlots(a).available);
    const totalsBefore = h.totals();
    // At mark 60,000.01 and 1 bp the exact payments are 1.8000003, −0.6000001 and −1.2000002 USDC.
    const events = h.fund(RATE_1BP, 60_000_010_000_000n);
    expect(fundingRows(events, ALICE)).toEqual([[SettlementStep.FromBalance, 1_801n]]);
    expect(fundingRows(events, BOB)).toEqual([[SettlementStep.ToBalance, 600n]]);
    expect(fundingRows(events, CAROL)).toEqual([[SettlementStep.ToBalance, 1_200n]]);
    const deltas = [ALICE, BOB, CAROL].map((a, i) => h.usdcSlots(a).available - before[i]!);
    expect(deltas).toEqual([-1_801n, 600n, 1_200n]);
    expect(h.insurance()).toBe(1n);
    expect(deltas.reduce((x, y) => x + y, 0n) + h.insurance()).toBe(0n);
    expect(h.totals()).toEqual(totalsBefore);
    // A negative rate: shorts pay longs. −1 bp: Bob and Carol pay 601 and 1,201 (up), Alice receives 1,800 (down).
    const back = h.fund(-RATE_1BP, 60_000_010_000_000n);
    expect([fundingRows(back, ALICE), fundingRows(back, BOB), fundingRows(back, CAROL)]).toEqual([
      [[SettlementStep.ToBalance, 1_800n]], [[SettlementStep.FromBalance, 601n]], [[SettlementStep.FromBalance, 1_201n]],
    ]);
    expect(h.insurance()).toBe(3n);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).cumulativeFundingPayment).toBe(1n);
    expect(h.totals()).toEqual(totalsBefore);
  });

  it("P4, P6: a payer without USDC borrows its funding (seed 002: the USDT stays untouched)", () => {
    const h = new Harness();
    h.batch([{ kind: CommandKind.Deposit, account: LENDER, asset: USDC, amount: usdc(100_000) }]);
    h.run({ kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: usdc(100_000) });
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDT, amount: usdc(20_000) }, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(10_000) }]);
    h.cross(ALICE, BOB, 60_000, 10_000); // Alice's 60 USDC fee is already a borrow
    const borrowedBefore = h.usdcSlots(ALICE).borrowed;
    const events = h.fund(RATE_1BP, price(60_000));
    expect(fundingRows(events, ALICE)).toEqual([[SettlementStep.Borrow, usdc(6)]]);
    expect(h.usdcSlots(ALICE).available).toBe(0n);
    expect(h.usdcSlots(ALICE).borrowed - borrowedBefore).toBeGreaterThanOrEqual(usdc(6)); // 6 plus the L6 entry fee
    expect(h.risk(ALICE).balance(ALICE, USDT).available).toBe(usdc(20_000));
  });

  it("P4: a FundingRate without a mark (markPrice 0) or for a market nobody holds pays nothing", () => {
    const h = new Harness();
    h.batch([{ kind: CommandKind.Deposit, account: ALICE, asset: USDC, amount: usdc(10_000) }, { kind: CommandKind.Deposit, account: BOB, asset: USDC, amount: usdc(10_000) }]);
    h.cross(ALICE, BOB, 60_000, 10_000);
    expect(h.fund(RATE_1BP, 0n).map((e) => e.kind)).toEqual([EventKind.FundingRate]);
    expect(h.fund(RATE_1BP, price(3_000), 4).map((e) => e.kind)).toEqual([EventKind.FundingRate]);
    expect(h.risk(ALICE).perpPosition(ALICE, BTC_PERP).cumulativeFundingPayment).toBe(0n);
  });
});

describe("P4 through the engine: AdvanceTime across the hour with oracle marks", () => {
  const quote = (source: number, p: bigint, t: number): Partial<CommandRecord> => ({
    kind: CommandKind.OracleQuote, asset: BTC, oracleSource: source, bid: p, ask: p, last: p, sourceTimeMs: t, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
  });
  const quotes = (p: bigint, t: number): Partial<CommandRecord>[] => [0, 1, 2].map((s) => quote(s, p, t));

  function scenario(topology: EngineTopology): { h: Harness; events: EventRecord[] } {
    const h = new Harness(topology);
    h.batch(quotes(price(60_000), T0));
    h.batch([ALICE, BOB, CAROL].map((account) => ({ kind: CommandKind.Deposit, account, asset: USDC, amount: usdc(100_000) })));
    h.cross(ALICE, BOB, 60_000, 10_000); // Alice long 1 BTC, Bob short 1
    h.cross(CAROL, ALICE, 60_000, 3_000); // Carol long 0.3, Alice long 0.7
    h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + 1_000 }, ...quotes(price(60_100), T0 + 1_000)]);
    const events = h.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 + HOUR }, ...quotes(price(60_100), T0 + HOUR)]);
    return { h, events };
  }

  it("P4, D2(b): the interval end's FundingRate pays every position at its mark (one risk shard); 2 risk shards give the same payments, totals and insurance fund", () => {
    const one = scenario({ riskShards: 1, matchingShards: 1 });
    const rate = one.events.filter((e) => e.kind === EventKind.FundingRate && e.market === BTC_PERP);
    // Mark = index (book empty): premium 0, F = I / 8 = 0.0000015625; at 60,100 the exact payments are 0.06573…:
    // Alice 0.7 → 65,734.375, Bob −1 → −93,906.25, Carol 0.3 → 28,171.875 (USDC units).
    expect(rate.map((e) => [e.fundingRate, e.markPrice])).toEqual([[1_562_500_000_000n, price(60_100)]]);
    const paid = (events: EventRecord[]): [number, number, bigint][] =>
      events.filter((e) => e.kind === EventKind.Settlement && e.settlementReason === SettlementReason.Funding).map((e) => [e.account, e.settlementStep, e.settledAmount]);
    expect(paid(one.events)).toEqual([
      [ALICE, SettlementStep.FromBalance, 65_735n],
      [BOB, SettlementStep.ToBalance, 93_906n],
      [CAROL, SettlementStep.FromBalance, 28_172n],
    ]);
    expect(one.h.insurance()).toBe(1n);
    const two = scenario({ riskShards: 2, matchingShards: 2 });
    // Shards 0 (Bob) and 1 (Alice, Carol) each pay their own: slices −93,906 + 93,907 = 1. The hour is also a 10 s
    // mark: P5 then realizes Bob's −100 USDC and Alice's and Carol's +70 and +30 at 60,100 against the same slices.
    expect(two.h.engine.risk.map((r) => r.insuranceBalance(USDC))).toEqual([-93_906n + usdc(100), 93_907n - usdc(100)]);
    expect([...paid(two.events)].sort()).toEqual([...paid(one.events)].sort());
    expect(two.h.insurance()).toBe(1n);
    expect(two.h.totals()).toEqual(one.h.totals());
    for (const a of [ALICE, BOB, CAROL]) {
      expect(two.h.usdcSlots(a)).toEqual(one.h.usdcSlots(a));
      expect(two.h.risk(a).perpPosition(a, BTC_PERP)).toEqual(one.h.risk(a).perpPosition(a, BTC_PERP));
    }
    // X7: the insurance slices and holder sets survive a snapshot.
    const restored = Engine.fromSnapshot(config, two.h.engine.snapshot());
    expect(restored.stateHash()).toBe(two.h.engine.stateHash());
    expect(restored.risk.map((r) => r.insuranceBalance(USDC))).toEqual([-93_906n + usdc(100), 93_907n - usdc(100)]);
    for (const r of restored.risk) r.validateInternalState();
  });
});
