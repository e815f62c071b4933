// Q4 (the lending half) and Q5 wired into the engine (engine/risk/liquidation-lenders.ts; decision "Q4/Q5 lenders (as
// built)" in engine/pipeline/engine.ts): a bankrupt borrower found at phase 0, resolved a batch later (withdrawals wait
// meanwhile on every shard); a borrow that cannot be repaid in kind pays its lenders its USD value in USDC pro rata to
// their lend shares while their claims are written down through the lend index (seed 004: "$100,000 rather than 1
// BTC"); lender ADL at the utilization limit (seed 004: each borrower's total value unchanged). Exact amounts.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, InsuranceReason, OrderFlag, RejectCode, SocializationKind } from "../engine/model/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../engine/pipeline/index.ts";

const config = loadConfig();
const USDC = 0;
const USDT = 1;
const BTC = 2;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const BTC_UNIT = 100_000_000n;
const T0 = 1_767_225_600_000;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;
const CAROL = 64;
const DAVE = 80;

function copy(e: EventRecord): EventRecord {
  const c = new EventRecord();
  c.copyFrom(e);
  return c;
}

class Harness {
  readonly engine: Engine;
  private seq = 0;
  private timeMs = T0;

  constructor(topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    this.engine = new Engine(config, topology);
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs: T0 }]);
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, { publish: (e) => got.push(copy(e)) });
    for (const r of this.engine.risk) r.validateInternalState();
    return got;
  }

  tick(extra: Partial<CommandRecord>[] = []): EventRecord[] {
    this.timeMs += 1000;
    return this.batch([{ kind: CommandKind.AdvanceTime, timeMs: this.timeMs }, ...extra]);
  }

  risk(account: number) {
    return this.engine.risk.find((r) => r.owns(account))!;
  }

  available(account: number, asset: number): bigint {
    return this.risk(account).balance(account, asset).available;
  }

  lent(account: number, asset: number): bigint {
    return this.risk(account).poolBalance(account, asset).lent;
  }

  borrowed(account: number, asset: number): bigint {
    return this.risk(account).poolBalance(account, asset).borrowed;
  }

  fund(asset: number): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.insuranceBalance(asset), 0n);
  }

  transit(): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.lenderTransit(), 0n);
  }
}

const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
const lend = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Lend, account, asset, amount });
const mark = (asset: number, price: bigint): Partial<CommandRecord> => ({ kind: CommandKind.SetMarkPrice, asset, price });
const withdraw = (account: number, asset: number, amount: bigint, flags = 0): Partial<CommandRecord> => ({ kind: CommandKind.Withdraw, account, asset, amount, flags });
const socializations = (events: EventRecord[]) =>
  events.filter((e) => e.kind === EventKind.Socialization).map((e) => [e.socializationKind, e.account, e.asset, e.socializedQuantity, e.socializedAmount, e.socializedLoss]);
const rejects = (events: EventRecord[]) => events.filter((e) => e.kind === EventKind.CommandRejected).map((e) => e.code);

/**
 * Seed 004's bankrupt BTC borrower: the lender (1.5 BTC) and Carol (0.5 BTC) lend 2 BTC; Alice puts up 100,000 USDT
 * (USDT has no spot market against USDC, so Q2 can never sell it), borrows 1 BTC on a margin withdrawal and takes it
 * out (no BTC left). BTC then marks $100,000 and USDT $0.01: Alice owes $100,000 against $1,000 of collateral nobody
 * can sell.
 */
function bankruptAlice(h: Harness, lentScale = 1n): void {
  h.batch([
    deposit(LENDER, BTC, 150_000_000n * lentScale), lend(LENDER, BTC, 150_000_000n * lentScale),
    deposit(CAROL, BTC, 50_000_000n * lentScale), lend(CAROL, BTC, 50_000_000n * lentScale),
    deposit(ALICE, USDT, 100_000n * USDC_UNIT),
  ]);
  const borrowed = h.batch([ // a batch later: with 2 risk shards a shard borrows from the room of the boundary (pools.ts)
    withdraw(ALICE, BTC, BTC_UNIT, OrderFlag.AutoBorrow),
    deposit(BOB, USDC, 1_000n * USDC_UNIT),
  ]);
  expect(borrowed.filter((e) => e.kind === EventKind.CommandRejected).map((e) => e.message)).toEqual([]);
  expect(h.borrowed(ALICE, BTC)).toBe(BTC_UNIT); // at U = 0 the hour's rate is minRate 0: no entry fee (L6)
  expect(h.available(ALICE, BTC)).toBe(0n);
  const started = h.batch([mark(BTC, 100_000n * USD), mark(USDT, USD / 100n)]);
  expect(started.filter((e) => e.kind === EventKind.LiquidationStarted).map((e) => e.account)).toEqual([ALICE]);
}

describe("Q4 bankruptcy of a borrow that cannot be repaid in kind (seed 004)", () => {
  it("Q4: the bankrupt borrower of 1 BTC at $100,000 pays its lenders $100,000 in USDC (75,000 and 25,000, pro rata) rather than 1 BTC; their claims fall to 0.75 and 0.25 BTC", () => {
    const h = new Harness();
    bankruptAlice(h);
    // Phase 0 of the next batch: nothing Q2 can step, net equity < 0 — bankrupt; resolved a batch later.
    const found = h.tick();
    expect(socializations(found)).toEqual([[SocializationKind.Bankrupt, ALICE, USDC, 0n, 0n, 0n]]);
    // Net equity: 100,000 USDT × $0.01 × weight 0.98 − 1 BTC × $100,000.
    expect(found.find((e) => e.kind === EventKind.Socialization)!.netEquityUsd).toBe(980n * USD - 100_000n * USD);
    expect(h.risk(ALICE).openBankruptcies()).toBe(1);
    expect(h.fund(USDC)).toBe(0n); // an empty fund cannot cover the 99,000 USDC deficit
    const resolved = h.tick();
    expect(socializations(resolved)).toEqual([
      // Alice's row: 1 BTC written off, 100,000 USDC owed to the lenders, all of it beyond the (empty) fund.
      [SocializationKind.LenderWriteDown, ALICE, BTC, BTC_UNIT, -100_000n * USDC_UNIT, 100_000n * USDC_UNIT],
      [SocializationKind.LenderPaid, LENDER, BTC, 75_000_000n, 75_000n * USDC_UNIT, 0n],
      [SocializationKind.LenderPaid, CAROL, BTC, 25_000_000n, 25_000n * USDC_UNIT, 0n],
    ]);
    expect([h.available(LENDER, USDC), h.available(CAROL, USDC)]).toEqual([75_000n * USDC_UNIT, 25_000n * USDC_UNIT]);
    expect([h.lent(LENDER, BTC), h.lent(CAROL, BTC)]).toEqual([75_000_000n, 25_000_000n]);
    expect([h.borrowed(ALICE, BTC), h.available(ALICE, USDT)]).toEqual([0n, 0n]);
    const pool = h.risk(ALICE).pools.pools[BTC]!;
    expect([pool.totalLent, pool.totalBorrowed, pool.cash]).toEqual([BTC_UNIT, 0n, BTC_UNIT]);
    // The fund paid the 100,000 USDC (a recorded socialized loss) and took Alice's unsellable 100,000 USDT in kind.
    expect([h.fund(USDC), h.fund(USDT), h.transit()]).toEqual([-100_000n * USDC_UNIT, 100_000n * USDC_UNIT, 0n]);
    const rows = h.risk(0).insuranceHistory(-1, 0, 100).filter((r) => r.reason === InsuranceReason.LenderPayout);
    expect(rows.map((r) => [r.asset, r.change])).toEqual([[USDC, -100_000n * USDC_UNIT], [USDT, 100_000n * USDC_UNIT]]);
    expect(h.risk(ALICE).openBankruptcies()).toBe(0);
    expect(h.risk(ALICE).liquidationHistoryCount(ALICE)).toBe(4); // Started, Bankrupt, LenderWriteDown, Ended (nothing left)
    expect(h.risk(ALICE).liquidatingAccounts()).toEqual([]);
  });

  it("Q4, issue 13 item 7: withdrawals and transfers out are refused with WithdrawalsPaused from the batch after the bankruptcy is found until it is resolved", () => {
    const h = new Harness();
    bankruptAlice(h);
    h.tick(); // found
    const paused = h.tick([withdraw(BOB, USDC, USDC_UNIT), { kind: CommandKind.Transfer, account: BOB, account2: BOB + 1, asset: USDC, amount: USDC_UNIT }]);
    expect(rejects(paused)).toEqual([RejectCode.WithdrawalsPaused, RejectCode.WithdrawalsPaused]);
    expect(h.available(BOB, USDC)).toBe(1_000n * USDC_UNIT);
    const open = h.tick([withdraw(BOB, USDC, USDC_UNIT)]);
    expect(rejects(open)).toEqual([]);
    expect(h.available(BOB, USDC)).toBe(999n * USDC_UNIT);
  });

  it("Q4: with 2 risk shards (lender and Carol on different shards) every shard pays its own lenders from its transit and learns the open bankruptcy at the same boundary: 75,000 and 25,000 USDC for 4 BTC lent 3:1", () => {
    const h = new Harness({ riskShards: 2, matchingShards: 1 });
    expect(h.risk(LENDER)).not.toBe(h.risk(CAROL));
    bankruptAlice(h, 2n); // 4 BTC lent: each shard may borrow half the room below the throttle (1.8 BTC) per batch
    h.tick();
    for (const r of h.engine.risk) expect(r.openBankruptcies()).toBe(1);
    h.tick();
    expect([h.available(LENDER, USDC), h.available(CAROL, USDC)]).toEqual([75_000n * USDC_UNIT, 25_000n * USDC_UNIT]);
    expect([h.lent(LENDER, BTC), h.lent(CAROL, BTC)]).toEqual([225_000_000n, 75_000_000n]);
    expect([h.fund(USDC), h.transit()]).toEqual([-100_000n * USDC_UNIT, 0n]);
    for (const r of h.engine.risk) expect([r.openBankruptcies(), r.pools.hashText()]).toEqual([0, h.engine.risk[0]!.pools.hashText()]);
  });
});
