// P6 step (1): a USDC debit the balance lacks redeems the account's lent USDC, as much as it needs, whatever the pool's
// utilization gates (the debt is owed now: pools.redeemForced, as a fill's), bounded by the pool's cash. Found by an audit:
// before, only a redemption the gates let whole was taken (K > 1: the shard's budget), so a debit of an account whose
// USDC was all lent became Unsettled USDC beside its lend — differently on 1 and 2 risk shards.
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, OrderType, Side, TimeInForce, type EventRecord } from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { SettlementReason, SettlementStep } from "../engine/risk/index.ts";
import { EngineHarness } from "./helpers/engine-harness.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_PERP = 3;
const U = 1_000_000n;
const B = 100_000_000n;
const P = 1_000_000_000n;
const ALICE = 16;
const BOB = 32;
const CAROL = 48;
const LENDER = 64;
const BORROWER = 80;

const deposit = (account: number, asset: number, amount: bigint) => ({ kind: CommandKind.Deposit, account, asset, amount });
const order = (account: number, side: number, price: bigint, quantity: bigint) => ({
  kind: CommandKind.PlaceOrder, account, market: BTC_PERP, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price, quantity,
});
const rows = (events: EventRecord[], account: number): [number, number, bigint][] =>
  events.filter((e) => e.kind === EventKind.Settlement && e.account === account).map((e) => [e.settlementReason, e.settlementStep, e.settledAmount]);
const usdcOf = (h: EngineHarness, account: number) => {
  const r = h.risk(account);
  return { available: r.balance(account, USDC).available, lent: r.poolBalance(account, USDC).lent, borrowed: r.poolBalance(account, USDC).borrowed, unsettled: r.unsettledUsdc(account) };
};

describe("P6 (1): lent USDC pays a USDC debit", () => {
  it("P6 (1): Alice's 60 USDC perp fee is paid by redeeming 60 of her 20,000 USDC lent (U 89.2%: a redemption of all of it would pass the 95% limit) — before, 60 USDC Unsettled beside her lend", () => {
    const h = new EngineHarness(config);
    h.batch([
      deposit(LENDER, USDC, 100_000n * U),
      deposit(ALICE, USDC, 20_000n * U),
      deposit(ALICE, BTC, 2n * B),
      deposit(BORROWER, BTC, 4n * B),
      deposit(BOB, USDC, 100_000n * U),
    ]);
    h.batch([{ kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 100_000n * U }, { kind: CommandKind.Lend, account: ALICE, asset: USDC, amount: 20_000n * U }]);
    // U = 107,000 / 120,000 = 89.2%: below the 90% throttle; redeeming all 20,000 would exceed maxUtilization 95%.
    h.batch([{ kind: CommandKind.Borrow, account: BORROWER, asset: USDC, amount: 107_000n * U }]);
    h.batch([order(BOB, Side.Sell, 60_000n * P, B)]);
    // Control: the pool accepts a 60 USDC redemption of Alice's lend now (U after = 89.6%).
    const twin = Engine.fromSnapshot(config, h.engine.snapshot());
    const got: EventRecord[] = [];
    twin.processBatch([Object.assign(new CommandRecord(), { kind: CommandKind.Redeem, account: ALICE, asset: USDC, amount: 60n * U, seq: h.seq + 1 })], 1, { publish: (e) => got.push(e) });
    expect(got.filter((e) => e.kind === EventKind.CommandRejected)).toEqual([]);
    expect(twin.risk[0]!.poolBalance(ALICE, USDC).lent).toBe(19_940n * U);
    // Alice takes 1 BTC at 60,000: a 60 USDC taker fee, her USDC all lent.
    const events = h.batch([order(ALICE, Side.Buy, 60_000n * P, B)]);
    // P6: (1) redeem lent USDC — 60 redeemed and paid; nothing unsettled.
    expect(rows(events, ALICE)).toEqual([[SettlementReason.Fee, SettlementStep.RedeemLent, 60n * U]]); // before: [[Fee, Unsettled, 60 USDC]]
    expect(usdcOf(h, ALICE)).toEqual({ available: 0n, lent: 19_940n * U, borrowed: 0n, unsettled: 0n }); // before: lent 20,000, unsettled 60
  });

  it("P6 (1), X4: 1 and 2 risk shards settle the same stream alike: Alice's −600 realized and 59.4 fee redeem 659.4 of her 5,000 USDC lent — before, on 2 shards 236.400002 USDC Unsettled beside a lend of 4,517.000002", () => {
    const run = (riskShards: number) => {
      const h = new EngineHarness(config, { topology: { riskShards, matchingShards: 1 } });
      h.batch([deposit(LENDER, USDC, 100_000n * U)]);
      h.batch([{ kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 100_000n * U }]);
      h.batch([
        deposit(ALICE, USDC, 5_000n * U),
        deposit(ALICE, BTC, 2n * B),
        deposit(BORROWER, BTC, 3n * B),
        deposit(BOB, USDC, 100_000n * U),
        deposit(CAROL, USDC, 100_000n * U),
      ]);
      h.batch([{ kind: CommandKind.Lend, account: ALICE, asset: USDC, amount: 5_000n * U }]);
      for (const n of [45_000n, 22_000n, 11_000n, 5_500n, 2_700n, 1_300n, 600n, 300n, 3_000n, 1_500n, 700n]) {
        h.batch([{ kind: CommandKind.Borrow, account: BORROWER, asset: USDC, amount: n * U }]);
      }
      expect(h.borrowed(BORROWER, USDC)).toBe(93_600n * U); // U = 89.1%
      h.batch([order(BOB, Side.Sell, 60_000n * P, B)]);
      h.batch([order(ALICE, Side.Buy, 60_000n * P, B)]);
      h.batch([order(CAROL, Side.Buy, 59_400n * P, B)]);
      const events = h.batch([order(ALICE, Side.Sell, 59_400n * P, B)]); // realizes −600, fee 59.4
      h.tick();
      return { rows: rows(events, ALICE), usdc: usdcOf(h, ALICE) };
    };
    const one = run(1);
    const two = run(2);
    expect(one.usdc).toEqual({ available: 0n, lent: 4_280_600_000n, borrowed: 0n, unsettled: 0n });
    // 2 shards: RedeemLent 422.999998, then Unsettled 177.000002 and 59.4 — the pool had the cash, Alice the lend.
    expect(two.rows).toEqual(one.rows); // before (2 shards): [[RealizedPnl, RedeemLent, 422999998], [RealizedPnl, Unsettled, 177000002], [Fee, Unsettled, 59400000]]
    expect(two.usdc).toEqual(one.usdc); // before (2 shards): lent 4,517.000002, unsettled 236.400002
  });
});
