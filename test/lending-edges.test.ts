// Lending edge cases found by a helper's audit (12-08), each a test that failed before its fix: the hour's rate (L5),
// a lend worth nothing (L1, L15), the state hash of a restored engine with spot-margin repay covers (X7, C4), and a
// settlement debit paid from lent USDC at high utilization (P6 (1)). Exact amounts.
import { describe, expect, it } from "vitest";
import { EngineHarness, HARNESS_T0 } from "./helpers/engine-harness.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { CommandKind, CommandRecord, EventKind, OrderType, rejectCodeName, Side, TimeInForce } from "../engine/model/index.ts";

const config = loadConfig();
const USDC = 0;
const SOL = 4;
const U = 1_000_000n;
const S = 1_000_000_000n;
const HOUR = 3_600_000;

function rejects(ev: { kind: number; code: number }[]): string[] {
  return ev.filter((e) => e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected).map((e) => rejectCodeName[e.code]!);
}

describe("lending edges (helper audit, 12-08)", () => {
  // L5: "hourly interest = borrowed × r_b / 365 / 24 (the rate of that hour's start)". The hour starting at T0+2h
  // must be priced at U at T0+2h (0.4: 40k of 100k borrowed). When the clock command that crosses the mark shares a
  // batch with a later borrow by ANOTHER account, the accrual at the batch end prices the hour at U after that
  // borrow (0.8), so an uninvolved borrower pays twice the rule's interest (and lenders receive it).
  it("L5: an hour is charged at the utilization of its start (the boundary before the batch that crosses the mark): a 40,000 USDC borrow sequenced after the tick in that batch leaves account 32's hour at 57,078 units (U 40%) — before, 114,156 (U 80%)", () => {
    function borrowerDebt(sameBatch: boolean): { before: bigint; after: bigint; rejected: string[] } {
      const h = new EngineHarness(config, { topology: { riskShards: 1, matchingShards: 1 } });
      const rejected: string[] = [];
      const b = (l: Partial<CommandRecord>[]) => rejected.push(...rejects(h.batch(l)));
      b([{ kind: CommandKind.Deposit, account: 16, asset: USDC, amount: 100_000n * U }]);
      b([{ kind: CommandKind.Lend, account: 16, asset: USDC, amount: 100_000n * U }]);
      b([{ kind: CommandKind.Deposit, account: 32, asset: SOL, amount: 1000n * S }]);
      b([{ kind: CommandKind.Deposit, account: 48, asset: SOL, amount: 1000n * S }]);
      b([{ kind: CommandKind.Borrow, account: 32, asset: USDC, amount: 10_000n * U }]);
      b([{ kind: CommandKind.Borrow, account: 48, asset: USDC, amount: 30_000n * U }]);
      b([{ kind: CommandKind.AdvanceTime, timeMs: HARNESS_T0 + HOUR }]);
      const before = h.borrowed(32, USDC);
      const t = HARNESS_T0 + 2 * HOUR + 1000; // one second after the mark
      const borrow = { kind: CommandKind.Borrow, account: 48, asset: USDC, amount: 40_000n * U };
      if (sameBatch) b([{ kind: CommandKind.AdvanceTime, timeMs: t }, borrow]);
      else {
        b([{ kind: CommandKind.AdvanceTime, timeMs: t }]);
        b([borrow]);
      }
      return { before, after: h.borrowed(32, USDC), rejected };
    }
    const separate = borrowerDebt(false);
    const together = borrowerDebt(true);
    expect(separate.rejected).toEqual([]);
    expect(together.rejected).toEqual([]);
    expect(separate.before).toBe(10_000_057_078n);
    // Hour at U = 0.4 (r_b = 5% APR): 10,000 USDC × 5% / 8760 ≈ 0.057078 USDC.
    expect(separate.after - separate.before).toBe(57_078n);
    // Same commands, same times, one batch: account 32 is charged 114,156 (U = 0.8, r_b = 10%) instead of 57,078.
    expect(together.after - together.before).toBe(57_078n);
  });

  // L15 / L1: once the lend index is above 1.0, a Lend of 1 unit is accepted (checkLend only refuses 0 shares) but is
  // worth floor(shares × index) = 0: the unit is gone, lent reads 0 — and the invisible lend shares then block every
  // borrow of the asset (manual Borrow and margin Withdraw → BorrowRequiresLendRedeem) although the account lends
  // nothing it can see. (planRedeem burns sub-unit remainders precisely so that "no invisible positions" block L15.)
  it("L1, L15: a lend that adds no unit to the claim (1 unit at a lend index above 1) is refused (InvalidAmount), so no position worth 0 bars the account's borrows — before, the unit was lost and every borrow refused BorrowRequiresLendRedeem", () => {
    const h = new EngineHarness(config, { topology: { riskShards: 1, matchingShards: 1 } });
    const ok = (l: Partial<CommandRecord>[]) => expect(rejects(h.batch(l))).toEqual([]);
    ok([{ kind: CommandKind.Deposit, account: 16, asset: USDC, amount: 1000n * U }]);
    ok([{ kind: CommandKind.Lend, account: 16, asset: USDC, amount: 1000n * U }]);
    ok([{ kind: CommandKind.Deposit, account: 32, asset: SOL, amount: 100n * S }]);
    ok([{ kind: CommandKind.Borrow, account: 32, asset: USDC, amount: 500n * U }]);
    ok([{ kind: CommandKind.AdvanceTime, timeMs: HARNESS_T0 + 2 * HOUR }]); // lend index > 1.0
    ok([{ kind: CommandKind.Deposit, account: 48, asset: USDC, amount: 10n * U }, { kind: CommandKind.Deposit, account: 48, asset: SOL, amount: 10n * S }]);
    const lendEv = h.batch([{ kind: CommandKind.Lend, account: 48, asset: USDC, amount: 1n }]);
    const lendRefused = rejects(lendEv).length > 0;
    expect(h.lent(48, USDC)).toBe(0n);
    expect(h.available(48, USDC)).toBe(lendRefused ? 10n * U : 10n * U - 1n); // accepted: 1 unit left for a 0-valued claim
    const borrow = rejects(h.batch([{ kind: CommandKind.Borrow, account: 48, asset: USDC, amount: 1n * U }]));
    expect(borrow).toEqual([]); // before: BorrowRequiresLendRedeem
  });

  // X7 (C4 open-order terms): a snapshot taken between batches and restored must run on with the live engine's state
  // hash. A fuzz history (21 batches, spot-margin orders with autoBorrowRepay/autoLend, a margin withdrawal, a perp
  // fill) restored before batch 18: after the last batch (a margin IOC sell by account 64, which owes USDC) the
  // restored engine holds account 64's repayCover[USDC] = 182,863,636 (and its sell part) where the live engine holds 0
  // — a raw C4 term that Account.repayCoverNow normalizes only when the asset is synced, so live and restored differ by
  // whether a sync happened (the risk shard's state hash hashes the raw value; snapshot.ts writes it only with open
  // orders). Balances, pools and holds agree; the hash does not.
  it("X7, C4: a restored engine keeps the live engine's state hash through spot-margin orders: the repay cover is hashed as every use sees it (shrunk to the borrow and the open credits) — before, batch 20 diverged (a live sync had shrunk it)", () => {
    const h = new EngineHarness(config, { topology: { riskShards: 1, matchingShards: 1 } });
    h.batch([{ kind: CommandKind.Deposit, account: 80, asset: USDC, amount: 10_000_000n * U }, { kind: CommandKind.Deposit, account: 80, asset: SOL, amount: 100_000n * S }]);
    h.batch([{ kind: CommandKind.Lend, account: 80, asset: USDC, amount: 10_000_000n * U }, { kind: CommandKind.Lend, account: 80, asset: SOL, amount: 100_000n * S }]);
    const batches: Partial<CommandRecord>[][] = [[{kind: 1,account: 16,asset: 4,amount: 82150000000n}],
      [{kind: 1,account: 64,asset: 4,amount: 88800000000n}],
      [{kind: 1,account: 32,asset: 0,amount: 6130000000n}],
      [{kind: 1,account: 33,asset: 4,amount: 93800000000n}],
      [{kind: 3,account: 33,market: 2,side: 0,orderType: 0,tif: 0,price: 139980000000n,quantity: 1220000000n,flags: 12}],
      [{kind: 3,account: 16,market: 5,side: 0,orderType: 0,tif: 0,price: 150330000000n,quantity: 800000000n}],
      [{kind: 1,account: 48,asset: 4,amount: 24200000000n}],
      [{kind: 3,account: 33,market: 2,side: 0,orderType: 0,tif: 0,price: 139380000000n,quantity: 2310000000n,flags: 52}],
      [{kind: 3,account: 16,market: 2,side: 1,orderType: 0,tif: 0,price: 139240000000n,quantity: 1930000000n,flags: 48}],
      [{kind: 1,account: 17,asset: 0,amount: 1140000000n},{kind: 3,account: 32,market: 2,side: 0,orderType: 0,tif: 0,price: 139480000000n,quantity: 1950000000n,flags: 4}],
      [{kind: 3,account: 32,market: 2,side: 0,orderType: 0,tif: 0,price: 139680000000n,quantity: 2710000000n,flags: 12}],
      [{kind: 2,account: 64,asset: 0,amount: 958000000n,flags: 4},{kind: 3,account: 48,market: 2,side: 1,orderType: 0,tif: 1,price: 139410000000n,quantity: 1470000000n,flags: 12}],
      [{kind: 3,account: 64,market: 5,side: 1,orderType: 1,tif: 0,price: 149460000000n,quantity: 3400000000n}],
      [{kind: 3,account: 64,market: 2,side: 1,orderType: 0,tif: 0,price: 139620000000n,quantity: 2570000000n,flags: 12}],
      [{kind: 3,account: 64,market: 2,side: 1,orderType: 0,tif: 1,price: 139300000000n,quantity: 2690000000n,flags: 12}],
      [{kind: 3,account: 64,market: 2,side: 1,orderType: 0,tif: 0,price: 139180000000n,quantity: 1930000000n,flags: 48}],
      [{kind: 3,account: 17,market: 2,side: 0,orderType: 0,tif: 1,price: 139910000000n,quantity: 1560000000n,flags: 0}],
      [{kind: 3,account: 48,market: 2,side: 0,orderType: 0,tif: 0,price: 140860000000n,quantity: 920000000n,flags: 52}],
      [{kind: 1,account: 64,asset: 4,amount: 1150000000n}],
      [{kind: 17,account: 64,asset: 0,amount: 219750000n}],
      [{kind: 3,account: 64,market: 2,side: 1,orderType: 0,tif: 1,price: 140690000000n,quantity: 1490000000n,flags: 12}]];
    const restoreAt = 18;
    let restored: Engine | null = null;
    const diverged: number[] = [];
    for (let i = 0; i < batches.length; i++) {
      if (i === restoreAt) restored = Engine.fromSnapshot(config, h.engine.snapshot());
      h.batch(batches[i]!);
      if (restored !== null) {
        const cmds = h.journal[h.journal.length - 1]!.map((c) => Object.assign(new CommandRecord(), c));
        restored.processBatch(cmds, cmds.length, { publish: () => {} });
        if (restored.stateHash() !== h.engine.stateHash()) diverged.push(i);
      }
    }
    expect(diverged).toEqual([]); // before: [20]
  });

  // P6 (1) / L11 (fixed with test/perp-waterfall-redeem.test.ts: the debit redeems what it needs; PoolBook.redeemable()
  // is 0 with one shard unless a redeem-ALL passes, which the debit no longer asks): a taker fee of 0.15 USDC on a perp fill of account 48 (0 available, 100 USDC lent) must be paid
  // by redeeming lent USDC; with the pool at U = 89.1% (a 0.15 redemption is well inside the pool's limits) nothing is
  // redeemed and the fee becomes unsettled USDC (a receivable) while 100 USDC stay lent. At U = 81.8% it is redeemed.
  it("P6 (1): a 0.15 USDC taker fee of an account with 100 USDC lent and none available is redeemed from the lend at U 89.1% as at 81.8% (one shard) — before, unsettled USDC at 89.1%", () => {
    const run = (borrowedUsdc: bigint) => {
      const h = new EngineHarness(config, { topology: { riskShards: 1, matchingShards: 1 } });
      const ok = (l: Partial<CommandRecord>[]) => expect(rejects(h.batch(l))).toEqual([]);
      ok([{ kind: CommandKind.Deposit, account: 16, asset: USDC, amount: 1000n * U }]);
      ok([{ kind: CommandKind.Lend, account: 16, asset: USDC, amount: 1000n * U }]);
      ok([{ kind: CommandKind.Deposit, account: 48, asset: USDC, amount: 100n * U }]);
      ok([{ kind: CommandKind.Lend, account: 48, asset: USDC, amount: 100n * U }]);
      ok([{ kind: CommandKind.Deposit, account: 32, asset: SOL, amount: 1000n * S }]);
      ok([{ kind: CommandKind.Borrow, account: 32, asset: USDC, amount: borrowedUsdc }]);
      ok([{ kind: CommandKind.PlaceOrder, account: 32, market: 5, side: Side.Sell, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 150n * 1_000_000_000n, quantity: 1n * S }]);
      ok([{ kind: CommandKind.PlaceOrder, account: 48, market: 5, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 150n * 1_000_000_000n, quantity: 1n * S }]);
      const unsettled = (h.risk(48) as unknown as { s: { accounts: { get(id: number): { unsettledUsdc: bigint } } } }).s.accounts.get(48).unsettledUsdc;
      return { lent: h.lent(48, USDC), unsettled };
    };
    expect(run(900n * U)).toEqual({ lent: 99_850_000n, unsettled: 0n });
    expect(run(980n * U)).toEqual({ lent: 99_850_000n, unsettled: 0n }); // before: lent 100,000,000 and unsettled 150,000
  });
});
