// Accounts (SPEC A1–A5) through the real engine: sub-accounts and their isolation, transfers and withdrawals with
// the margin check and the exact refusal reason, per-account settings with the leverage-change check, deposits.
// Borrow positions, which the lending issue will create from its pools, come from the risk shard's lending seam.
import { beforeEach, describe, expect, it } from "vitest";
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  CommandKind,
  CommandRecord,
  EVENT_RECORD_BYTES,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  RejectCode,
  rejectCodeName,
  Side,
  TimeInForce,
  viewsOf,
  writeEvent,
  writeEventBySlots,
  type EventSink,
} from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { PoolMovement, type RiskShard } from "../engine/risk/index.ts";
import { Account, PositionLog } from "../engine/risk/accounts.ts";
import { publishBalance } from "../engine/risk/replies.ts";
import type { RiskState } from "../engine/risk/state.ts";

const config = loadConfig();
const USDC = 0;
const SOL = 4;
const SOL_USDC = 2;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const USD = 1_000_000_000n;
const R = 1_000_000_000_000_000_000n;
const ALICE = 16; // user 1, main
const ALICE_SUB1 = 17;
const BOB = 32;

/** The in-process engine with a sequence counter; each command's events are returned as copies. */
class Harness {
  readonly engine = new Engine(config);
  private seq = 0;

  run(fields: Partial<CommandRecord>): EventRecord[] {
    const c = Object.assign(new CommandRecord(), fields);
    c.seq = ++this.seq;
    const got: EventRecord[] = [];
    this.engine.execute(c, {
      publish(e: EventRecord): void {
        const copy = new EventRecord();
        copy.copyFrom(e);
        got.push(copy);
      },
    });
    return got;
  }

  get risk(): RiskShard {
    return this.engine.risk[0]!;
  }

  deposit(account: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.Deposit, account, asset, amount });
  }

  withdraw(account: number, asset: number, amount: bigint, flags = 0): EventRecord[] {
    return this.run({ kind: CommandKind.Withdraw, account, asset, amount, flags });
  }

  transfer(from: number, to: number, asset: number, amount: bigint): EventRecord[] {
    return this.run({ kind: CommandKind.Transfer, account: from, account2: to, asset, amount });
  }

  settings(account: number, fields: { leverage?: number; on?: number; off?: number }): EventRecord[] {
    const on = fields.on ?? 0;
    const off = fields.off ?? 0;
    return this.run({
      kind: CommandKind.UpdateAccountSettings,
      account,
      leverageLimit: fields.leverage ?? 0,
      flags: on | off | (on << ACCOUNT_SETTING_VALUE_SHIFT),
    });
  }

  limit(account: number, side: number, price: bigint, quantity: bigint, flags = 0): EventRecord[] {
    return this.run({
      kind: CommandKind.PlaceOrder,
      account,
      market: SOL_USDC,
      side,
      orderType: OrderType.Limit,
      tif: TimeInForce.GTC,
      price,
      quantity,
      flags,
    });
  }
}

/** The one reject among the events, as [code name, message]. */
function rejectOf(events: EventRecord[]): [string, string] {
  const r = events.filter((e) => e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected);
  expect(r.length).toBe(1);
  return [rejectCodeName[r[0]!.code]!, r[0]!.message];
}

function accepted(events: EventRecord[]): boolean {
  return events.some((e) => e.kind === EventKind.CommandAccepted || e.kind === EventKind.OrderAccepted);
}

/**
 * The margin seed's account: 10 SOL (1,350 USD of collateral at weight 0.9) against a 1,000 USDC borrow (IMF 0.1):
 * net equity 350, initial margin 100. The borrow is taken through the lending seam and withdrawn, which is what a
 * margin withdrawal of 1,000 USDC will do once pools lend (A5, L9).
 */
function seedBorrower(h: Harness, account: number): void {
  expect(accepted(h.deposit(account, SOL, 10n * SOL_UNIT))).toBe(true);
  expect(h.risk.applyPoolMovement(account, USDC, PoolMovement.Borrow, 1000n * USDC_UNIT)).toBe(true);
  expect(accepted(h.withdraw(account, USDC, 1000n * USDC_UNIT))).toBe(true);
  const s = h.risk.collateralStatement(account);
  expect(s.netEquityUsd).toBe(350n * USD);
  expect(s.netEquityLockedUsd).toBe(100n * USD);
}

let h: Harness;
beforeEach(() => {
  h = new Harness();
});

describe("A1: sub-accounts", () => {
  it("A1: a user has its main account and sub-accounts 1…10; index 11…15 and the exchange's accounts are refused", () => {
    for (let sub = 0; sub <= 10; sub++) expect(accepted(h.deposit(ALICE + sub, USDC, 1n))).toBe(true);
    for (let sub = 11; sub <= 15; sub++) expect(rejectOf(h.deposit(ALICE + sub, USDC, 1n))[0]).toBe("InvalidAccount");
    expect(rejectOf(h.settings(5, { leverage: 5 }))[0]).toBe("InvalidAccount");
    expect(h.risk.accountIds()).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
  });

  it("A1: accounts are isolated — a sub-account's borrow, margin and settings never touch the main account", () => {
    h.deposit(ALICE, USDC, 500n * USDC_UNIT);
    seedBorrower(h, ALICE_SUB1);
    h.settings(ALICE_SUB1, { leverage: 3 });
    const main = h.risk.collateralStatement(ALICE);
    expect(main.exposureUsd).toBe(0n);
    expect(main.imr).toBe(0n);
    expect(main.leverageLimit).toBe(10);
    expect(main.netEquityUsd).toBe(500n * USD);
    // The main account can take everything out while its sub-account is held by margin.
    expect(h.risk.maxWithdrawalQuantity(ALICE, USDC, 0).quantity).toBe(500n * USDC_UNIT);
    expect(rejectOf(h.withdraw(ALICE_SUB1, SOL, 2n * SOL_UNIT))[0]).toBe("InsufficientMargin");
    expect(accepted(h.withdraw(ALICE, USDC, 500n * USDC_UNIT))).toBe(true);
    expect(h.risk.collateralStatement(ALICE_SUB1).netEquityUsd).toBe(350n * USD);
  });
});

describe("A2: transfers between a user's own accounts", () => {
  it("A2: instant, both balances change at once; never to another user or to itself", () => {
    h.deposit(ALICE, USDC, 100n * USDC_UNIT);
    const ev = h.transfer(ALICE, ALICE_SUB1, USDC, 40n * USDC_UNIT);
    expect(ev.map((e) => e.kind)).toEqual([EventKind.CommandAccepted, EventKind.Balance, EventKind.Balance]);
    expect(h.risk.balance(ALICE, USDC).available).toBe(60n * USDC_UNIT);
    expect(h.risk.balance(ALICE_SUB1, USDC).available).toBe(40n * USDC_UNIT);
    expect(h.risk.collateralStatement(ALICE_SUB1).netEquityUsd).toBe(40n * USD);
    expect(rejectOf(h.transfer(ALICE, BOB, USDC, 1n))[0]).toBe("InvalidTransfer");
    expect(rejectOf(h.transfer(ALICE, ALICE, USDC, 1n))[0]).toBe("InvalidTransfer");
  });

  it("A2: refused when it would leave the source's IMR ≥ 100% (INSUFFICIENT_MARGIN, nothing moves); the exact max passes", () => {
    seedBorrower(h, ALICE_SUB1);
    const before = h.engine.stateHash();
    expect(rejectOf(h.transfer(ALICE_SUB1, ALICE, SOL, 2n * SOL_UNIT))).toEqual([
      "InsufficientMargin",
      "transfer would leave the initial margin ratio at 125% (must stay below 100%, C8)",
    ]);
    // Over the balance: the balance is the reason, checked first.
    expect(rejectOf(h.transfer(ALICE_SUB1, ALICE, SOL, 10n * SOL_UNIT + 1n))[0]).toBe("InsufficientBalance");
    expect(h.engine.stateHash()).toBe(before);
    // 350 − 135 x > 100 ⇔ x < 1.851851851… SOL: the same limit as a withdrawal (A5).
    expect(rejectOf(h.transfer(ALICE_SUB1, ALICE, SOL, 1_851_851_852n))[0]).toBe("InsufficientMargin");
    expect(accepted(h.transfer(ALICE_SUB1, ALICE, SOL, 1_851_851_851n))).toBe(true);
    expect(h.risk.balance(ALICE, SOL).available).toBe(1_851_851_851n);
    expect(h.risk.collateralStatement(ALICE_SUB1).imr).toBeLessThan(R);
  });
});

describe("A3: account settings", () => {
  it("A3: defaults — leverage 10, autoLend off, autoRepayBorrows on, autoBorrowSettlements on, autoRealizePnl off, marginEnabled on", () => {
    h.deposit(ALICE, USDC, 1n);
    const { settings, leverageLimit } = h.risk.settingsOf(ALICE);
    expect(leverageLimit).toBe(10);
    expect(settings).toBe(AccountSetting.AutoRepayBorrows | AccountSetting.AutoBorrowSettlements | AccountSetting.MarginEnabled);
  });

  it("A3: an update changes exactly the named settings, per account, and answers with the settings after it", () => {
    h.deposit(ALICE, USDC, 1n);
    const ev = h.settings(ALICE, { on: AccountSetting.AutoLend | AccountSetting.AutoRealizePnl, off: AccountSetting.MarginEnabled, leverage: 25 });
    // L12: auto-lend on lends the 1 unit of USDC at once, and publishes the moved balance.
    expect(ev.map((e) => e.kind)).toEqual([EventKind.CommandAccepted, EventKind.AccountSettings, EventKind.Balance]);
    expect([ev[2]!.asset, ev[2]!.available, ev[2]!.lent]).toEqual([USDC, 0n, 1n]);
    const s = ev[1]!;
    expect(s.account).toBe(ALICE);
    expect(s.leverageLimit).toBe(25);
    expect(s.settings).toBe(
      AccountSetting.AutoLend | AccountSetting.AutoRepayBorrows | AccountSetting.AutoBorrowSettlements | AccountSetting.AutoRealizePnl,
    );
    // Another account of the same user keeps its defaults; it takes settings once funded (X5: only a deposit or a
    // transfer creates an account), and they are remembered.
    expect(h.risk.settingsOf(ALICE_SUB1).leverageLimit).toBe(10);
    expect(rejectOf(h.settings(ALICE_SUB1, { off: AccountSetting.AutoBorrowSettlements }))).toEqual(["InsufficientBalance", "account 17 has no balance"]);
    h.deposit(ALICE_SUB1, USDC, 1n);
    expect(accepted(h.settings(ALICE_SUB1, { off: AccountSetting.AutoBorrowSettlements }))).toBe(true);
    expect(h.risk.settingsOf(ALICE_SUB1).settings).toBe(AccountSetting.AutoRepayBorrows | AccountSetting.MarginEnabled);
    expect(h.risk.settingsOf(ALICE).leverageLimit).toBe(25);
  });

  it("A3: leverageLimit outside 1…50, unknown setting bits, or nothing to change → INVALID_SETTING, nothing changes", () => {
    h.deposit(ALICE, USDC, 1n);
    const before = h.engine.stateHash();
    expect(rejectOf(h.settings(ALICE, { leverage: 51 }))).toEqual(["InvalidSetting", "leverageLimit 51 is outside 1..50 (A3)"]);
    expect(rejectOf(h.settings(ALICE, {}))[0]).toBe("InvalidSetting");
    expect(rejectOf(h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: 64 }))[0]).toBe("InvalidSetting");
    // A value bit without its mask bit.
    expect(rejectOf(h.run({ kind: CommandKind.UpdateAccountSettings, account: ALICE, flags: 1 << ACCOUNT_SETTING_VALUE_SHIFT }))[0]).toBe("InvalidSetting");
    expect(h.engine.stateHash()).toBe(before);
    expect(accepted(h.settings(ALICE, { leverage: 1 }))).toBe(true);
    expect(accepted(h.settings(ALICE, { leverage: 50 }))).toBe(true);
  });

  it("A3: C5: changing leverageLimit re-prices the initial margin; refused when IMR would be ≥ 100% (nothing changes), raising always passes", () => {
    seedBorrower(h, ALICE);
    // Borrow IMF = max(1/leverage, 0.1, 0.00036 × √1000): at 3× it is 1/3 → 333.33 < 350; at 2× it is 0.5 → 500 ≥ 350.
    const before = h.engine.stateHash();
    expect(rejectOf(h.settings(ALICE, { leverage: 2 }))).toEqual([
      "InsufficientMargin",
      "leverageLimit 2: the initial margin of the open positions would reach the net equity (IMR >= 100%, A3); now IMR 28.57%",
    ]);
    expect(h.engine.stateHash()).toBe(before);
    expect(h.risk.settingsOf(ALICE).leverageLimit).toBe(10);
    expect(accepted(h.settings(ALICE, { leverage: 3 }))).toBe(true);
    const s = h.risk.collateralStatement(ALICE);
    expect(s.netEquityLockedUsd).toBe(333_333_333_334n); // 1000 × ⌈1/3⌉ at 1e-18, rounded up: 333.333333334 USD
    // C6: account IMF = Σ notional × IMF / TEN from the rounded-up margin: 333.333333334 / 1000.
    expect(s.imf).toBe(333_333_333_334_000_000n);
    // The leverage now bounds the max withdrawal: 350 − 135 x > 333.333333334 ⇔ x < 0.123456790…
    expect(h.risk.maxWithdrawalQuantity(ALICE, SOL, 0).quantity).toBe(123_456_790n);
    expect(accepted(h.settings(ALICE, { leverage: 50 }))).toBe(true);
    expect(h.risk.collateralStatement(ALICE).netEquityLockedUsd).toBe(100n * USD);
  });

  it("A3: S2: marginEnabled off refuses orders with a spot-margin flag (INVALID_SETTING); plain orders still trade", () => {
    h.deposit(ALICE, USDC, 1000n * USDC_UNIT);
    h.settings(ALICE, { off: AccountSetting.MarginEnabled });
    for (const flag of [OrderFlag.AutoBorrow, OrderFlag.AutoBorrowRepay, OrderFlag.AutoLend, OrderFlag.AutoLendRedeem]) {
      const [code, message] = rejectOf(h.limit(ALICE, Side.Buy, 150n * USD, SOL_UNIT, flag));
      expect(code).toBe("InvalidSetting");
      expect(message).toBe("account 16 has spot margin off (A3 marginEnabled): send the order without margin flags");
    }
    expect(accepted(h.limit(ALICE, Side.Buy, 150n * USD, SOL_UNIT))).toBe(true);
    expect(h.risk.maxOrderQuantity(ALICE, SOL_USDC, Side.Buy, 150n * USD, OrderFlag.AutoBorrow).quantity).toBe(0n);
  });

  it("A3: settings are state — two engines that differ only in a setting have different state hashes", () => {
    const other = new Harness();
    for (const x of [h, other]) x.deposit(ALICE, USDC, 1n);
    expect(other.engine.stateHash()).toBe(h.engine.stateHash());
    other.settings(ALICE, { on: AccountSetting.AutoLend });
    expect(other.engine.stateHash()).not.toBe(h.engine.stateHash());
    h.settings(ALICE, { on: AccountSetting.AutoLend });
    expect(other.engine.stateHash()).toBe(h.engine.stateHash());
    h.settings(ALICE, { leverage: 9 });
    expect(other.engine.stateHash()).not.toBe(h.engine.stateHash());
  });
});

describe("A4, A5: deposits and withdrawals", () => {
  it("A4: a deposit credits the available balance at once and raises the net equity by its collateral value", () => {
    const ev = h.deposit(ALICE, SOL, 2n * SOL_UNIT);
    expect(ev.map((e) => e.kind)).toEqual([EventKind.CommandAccepted, EventKind.Balance]);
    expect(ev[1]!.available).toBe(2n * SOL_UNIT);
    expect(ev[1]!.lent).toBe(0n);
    expect(ev[1]!.borrowed).toBe(0n);
    expect(h.risk.collateralStatement(ALICE).netEquityUsd).toBe(270n * USD); // 2 × 150 × 0.9
  });

  it("A5: a withdrawal that would put IMR ≥ 100% is refused with INSUFFICIENT_MARGIN and the IMR it would leave; nothing is debited", () => {
    seedBorrower(h, ALICE);
    const before = h.engine.stateHash();
    expect(rejectOf(h.withdraw(ALICE, SOL, 2n * SOL_UNIT))).toEqual([
      "InsufficientMargin",
      "withdrawal would leave the initial margin ratio at 125% (must stay below 100%, C8)",
    ]);
    expect(h.engine.stateHash()).toBe(before);
    expect(h.risk.balance(ALICE, SOL).available).toBe(10n * SOL_UNIT);
  });

  it("A5: beyond the available balance the reason is INSUFFICIENT_BALANCE (checked first), with the exact shortfall", () => {
    seedBorrower(h, ALICE);
    expect(rejectOf(h.withdraw(ALICE, SOL, 10n * SOL_UNIT + 1n))).toEqual([
      "InsufficientBalance",
      "insufficient SOL to withdraw: needs 10.000000001, available 10",
    ]);
  });

  it("A5: C10: the max withdrawal passes and one unit more is refused by margin (the seed's 1.851851851 SOL)", () => {
    seedBorrower(h, ALICE);
    expect(h.risk.maxWithdrawalQuantity(ALICE, SOL, 0)).toEqual({ quantity: 1_851_851_851n, marginLimit: 1_851_851_851n });
    expect(rejectOf(h.withdraw(ALICE, SOL, 1_851_851_852n))[0]).toBe("InsufficientMargin");
    expect(accepted(h.withdraw(ALICE, SOL, 1_851_851_851n))).toBe(true);
    expect(h.risk.balance(ALICE, SOL).available).toBe(10n * SOL_UNIT - 1_851_851_851n);
    expect(h.risk.maxWithdrawalQuantity(ALICE, SOL, 0).quantity).toBe(0n);
  });

  it("A5: a margin withdrawal is judged by margin first; the part beyond the balance would be borrowed (BORROW_UNAVAILABLE while the pool has nothing lent)", () => {
    seedBorrower(h, ALICE);
    h.deposit(ALICE, USDC, 10n * USDC_UNIT);
    // 11 SOL: beyond the balance and beyond the margin → the margin is the reason.
    expect(rejectOf(h.withdraw(ALICE, SOL, 11n * SOL_UNIT, OrderFlag.AutoBorrow))[0]).toBe("InsufficientMargin");
    // 20 USDC with 10 available: the margin passes (the account could carry a 1,010 USDC borrow), the borrow cannot happen yet.
    expect(rejectOf(h.withdraw(ALICE, USDC, 20n * USDC_UNIT, OrderFlag.AutoBorrow))).toEqual([
      "BorrowUnavailable",
      "withdraw needs 20 USDC, own 10 USDC: the USDC pool cannot lend the shortfall now (nothing lent, or not enough)",
    ]);
    // Margin-only limit: 350 + 10 − 1.1 y > … ; the answer the query gives is what C8 alone allows.
    const max = h.risk.maxWithdrawalQuantity(ALICE, USDC, OrderFlag.AutoBorrow);
    expect(max.quantity).toBe(10n * USDC_UNIT);
    // NE 360 − y ≥ IM (1000 + y − 10) × 0.1 … : 360 − y > 0.1 (990 + y) ⇔ y < 237.272727…
    expect(max.marginLimit).toBe(237_272_727n);
    expect(accepted(h.withdraw(ALICE, USDC, 10n * USDC_UNIT, OrderFlag.AutoBorrow))).toBe(true);
  });
});

describe("A4: X1: money in and out", () => {
  it("X1: totals over the shard's accounts equal deposits − withdrawals (borrowed counted against)", () => {
    seedBorrower(h, ALICE);
    h.deposit(BOB, USDC, 5n * USDC_UNIT);
    // USDC: 5 deposited, 1,000 withdrawn — borrowed through the seam (a pool's units once lending lands), so the
    // account's net is −1,000; SOL: 10 deposited.
    expect(h.risk.totals()).toEqual([5n * USDC_UNIT - 1000n * USDC_UNIT, 0n, 0n, 0n, 10n * SOL_UNIT]);
    h.risk.validateInternalState();
  });
});

describe("L14: the position log keeps the last changes, oldest first", () => {
  it("L14: 300 changes into a log of 256: the 45th to the 300th remain, in order, in reused records", () => {
    const log = new PositionLog(256);
    const first = log.append();
    for (let n = 1; n <= 300; n++) {
      const e = n === 1 ? first : log.append();
      e.stamp = n;
      e.borrowShares = BigInt(n) * 1_000n;
    }
    expect(log.length).toBe(256);
    expect(log.at(0).stamp).toBe(45);
    expect(log.at(0).borrowShares).toBe(45_000n);
    expect(log.at(255).stamp).toBe(300);
    const stamps = Array.from({ length: 256 }, (_, i) => log.at(i).stamp);
    expect(stamps).toEqual(Array.from({ length: 256 }, (_, i) => 45 + i));
    // The 257th append reused the first record (no allocation once full).
    expect(first.stamp).toBe(257);
  });
});

describe("X5: accounts come into existence only by a deposit or a transfer", () => {
  it("X5: 300,000 UpdateAccountSettings on never-funded ids (and withdrawals, borrows, lends, repays, redeems, cancels) are refused and create no account", () => {
    const engine = new Engine(config);
    // The risk state of an engine that processed one refused command (a batch end sets the pools' accrual hour).
    const reference = new Engine(config);
    reference.execute(Object.assign(new CommandRecord(), { seq: 1, kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 1n }), { publish: () => {} });
    const BATCH = 1024;
    const batch: CommandRecord[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(new CommandRecord());
    const rejects = new Map<string, number>();
    let other = 0;
    const sink = {
      publish(e: EventRecord): void {
        if (e.kind === EventKind.CommandRejected || e.kind === EventKind.OrderRejected) {
          const key = `${rejectCodeName[e.code]}: ${e.message.replace(/\d+/g, "N")}`;
          rejects.set(key, (rejects.get(key) ?? 0) + 1);
        } else {
          other++;
        }
      },
    };
    const SETTINGS = 300_000;
    let seq = 0;
    for (let sent = 0; sent < SETTINGS; ) {
      const n = Math.min(BATCH, SETTINGS - sent);
      for (let i = 0; i < n; i++) {
        const c = batch[i]!;
        c.clear();
        c.seq = ++seq;
        c.kind = CommandKind.UpdateAccountSettings;
        c.account = (100 + sent + i) * 16;
        c.leverageLimit = 1 + ((sent + i) % 50);
        c.flags = AccountSetting.AutoLend | (AccountSetting.AutoLend << ACCOUNT_SETTING_VALUE_SHIFT);
      }
      engine.processBatch(batch, n, sink);
      sent += n;
    }
    // CancelAll is accepted (nothing to cancel, idempotent) and must create nothing either.
    const kinds = [CommandKind.Withdraw, CommandKind.Borrow, CommandKind.Lend, CommandKind.Repay, CommandKind.Redeem, CommandKind.CancelAll];
    for (let k = 0; k < kinds.length; k++) {
      for (let i = 0; i < BATCH; i++) {
        const c = batch[i]!;
        c.clear();
        c.seq = ++seq;
        c.kind = kinds[k]!;
        c.account = (1_000_000 + k * BATCH + i) * 16;
        c.asset = USDC;
        c.amount = USDC_UNIT;
        c.market = kinds[k] === CommandKind.CancelAll ? SOL_USDC : 0;
      }
      engine.processBatch(batch, BATCH, sink);
    }
    expect(Object.fromEntries(rejects)).toEqual({
      "InsufficientBalance: account N has no balance": SETTINGS + (kinds.length - 1) * BATCH,
    });
    expect(other).toBe(BATCH);
    expect(engine.risk[0]!.accountIds()).toEqual([]);
    expect(engine.risk[0]!.stateHash()).toBe(reference.risk[0]!.stateHash());
  }, 120_000);
});

describe("A4: an account's zero slot arrays are shared until written (X7 restart: fewer restored objects)", () => {
  it("A4: C4: locked, lent, borrowed and the open-order terms start as one frozen zero array; a write gives that account its own, the others keep reading zeros", () => {
    const assets = config.assets.length;
    const a = new Account(ALICE, assets, null, null);
    const b = new Account(BOB, assets, null, null);
    for (const slots of [a.locked, a.lent, a.borrowed, a.openBorrow, a.openInflow, a.openRepay, a.repayCover]) {
      expect(slots).toBe(b.lent);
      expect(Object.isFrozen(slots)).toBe(true);
      expect(slots).toEqual(new Array(assets).fill(0n));
    }
    expect(() => {
      (a.lent as bigint[])[SOL] = 1n;
    }).toThrow(TypeError);
    // Zero written into a shared array keeps it shared; any other value swaps in the account's own.
    a.setBorrowed(SOL, 0n);
    expect(a.borrowed).toBe(b.borrowed);
    a.setLent(SOL, 7n * SOL_UNIT);
    a.setBorrowed(USDC, 3n * USDC_UNIT);
    a.addLocked(SOL, Side.Sell, 2n * SOL_UNIT);
    a.addOpenBorrow(USDC, Side.Buy, 5n * USDC_UNIT);
    a.addOpenCredit(SOL, Side.Sell, true, 4n);
    a.addOpenCredit(USDC, Side.Buy, false, 6n);
    a.setRepayCover(USDC, 1n);
    expect([a.lent[SOL], a.borrowed[USDC], a.locked[SOL], a.openBorrow[USDC], a.openRepay[SOL], a.openInflow[USDC], a.repayCover[USDC]]).toEqual([
      7n * SOL_UNIT, 3n * USDC_UNIT, 2n * SOL_UNIT, 5n * USDC_UNIT, 4n, 6n, 1n,
    ]);
    expect([a.sellTerms!.locked[SOL], a.sellTerms!.openRepay[SOL], a.sellTerms!.openBorrow[SOL]]).toEqual([2n * SOL_UNIT, 4n, 0n]);
    expect(a.sellTerms!.openBorrow).toBe(b.lent);
    for (const slots of [a.locked, a.lent, a.borrowed, a.openBorrow, a.openInflow, a.openRepay, a.repayCover]) {
      expect(slots).not.toBe(b.lent);
      expect(Object.isFrozen(slots)).toBe(false);
    }
    for (const slots of [b.locked, b.lent, b.borrowed, b.openBorrow, b.openInflow, b.openRepay, b.repayCover]) expect(slots).toEqual(new Array(assets).fill(0n));
    expect(a.netBalance(SOL)).toBe(9n * SOL_UNIT);
    expect(a.netBalance(USDC)).toBe(-3n * USDC_UNIT);
  });
});

describe("S1: an account's available and locked units in int64 columns (accounts.ts BalanceSlots)", () => {
  const EDGES = [1n, 7n, (1n << 62n) - 1n, 1n << 62n, (1n << 62n) + 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) + 5n];

  it("S1: C4: add/sub/set of available and locked (total and sell part) give the exact bigint sums at and past 2^62 and 2^63, column and exact fallback alike", () => {
    const assets = config.assets.length;
    let seed = 15;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let run = 0; run < 40; run++) {
      const a = new Account(ALICE, assets, null, null);
      const total = new Array<bigint>(assets).fill(0n);
      const sell = new Array<bigint>(assets).fill(0n);
      const available = new Array<bigint>(assets).fill(0n);
      for (let step = 0; step < 60; step++) {
        const asset = rand(assets);
        const side = rand(2) === 0 ? Side.Buy : Side.Sell;
        const units = EDGES[rand(EDGES.length)]!;
        const op = rand(8);
        if (op === 5) {
          a.addAvailable(asset, units);
          available[asset] += units;
        } else if (op === 6) {
          a.subAvailable(asset, units);
          available[asset] -= units;
        } else if (op === 7) {
          a.setAvailable(asset, -units);
          available[asset] = -units;
        } else if (op < 2) {
          a.addLocked(asset, side, units);
          total[asset] += units;
          if (side === Side.Sell) sell[asset] += units;
        } else if (op < 4) {
          a.subLocked(asset, side, units);
          total[asset] -= units;
          if (side === Side.Sell) sell[asset] -= units;
        } else {
          a.setLocked(asset, units);
          total[asset] = units;
        }
        for (let i = 0; i < assets; i++) {
          expect(a.locked[i]).toBe(total[i]);
          expect(a.available[i]).toBe(available[i]);
          expect(a.sellTerms === null ? 0n : a.sellTerms.locked[i]).toBe(sell[i]);
        }
      }
      expectBalanceColumnAsFields(a);
      // The state hash's text of the slots is the same whichever form holds them.
      expect(Array.prototype.join.call(a.locked, ",")).toBe(total.join(","));
      expect(Array.prototype.join.call(a.available, ",")).toBe(available.join(","));
    }
  });

  it("S1: X5: a Balance published into the record's int64 column (EventSink.unitColumns) writes the bytes of the fields' path, at and past the int64 range's ends", () => {
    const assets = config.assets.length;
    const a = new Account(ALICE, assets, null, null);
    expectBalanceColumnAsFields(a); // the shared zero arrays
    const ends = [0n, 1n, -1n, (1n << 62n) - 1n, -(1n << 62n) + 1n, (1n << 63n) - 1n, -(1n << 63n), 1n << 63n, -(1n << 63n) - 1n, (1n << 64n) + 5n];
    for (const x of ends) {
      for (const y of ends) {
        a.setAvailable(0, x);
        a.setLocked(0, y);
        a.setAvailable(1, y);
        expectBalanceColumnAsFields(a);
      }
    }
  });
});

/**
 * publishBalance of every asset of `a` through a sink that takes the record's column and one that takes the fields:
 * the same bytes by writeEvent and writeEventBySlots, the column taken exactly while both values fit an int64, and a
 * copy of the column's record carries the exact fields.
 */
function expectBalanceColumnAsFields(a: Account): void {
  // publishBalance reads only the state's reused Balance record.
  const state = { balanceOut: Object.assign(new EventRecord(), { kind: EventKind.Balance }) } as unknown as RiskState;
  const v = viewsOf(new ArrayBuffer(EVENT_RECORD_BYTES));
  const written: Uint8Array[] = [];
  const copy = new EventRecord();
  const sink = (unitColumns: boolean): EventSink => ({
    publish(e: EventRecord): void {
      for (const write of [writeEvent, writeEventBySlots]) {
        v.u8.fill(0);
        write(v, 0, e);
        written.push(v.u8.slice());
      }
      const fits = [a.available[e.asset]!, a.locked[e.asset]!].every((x) => x >= -(1n << 63n) && x < 1n << 63n);
      expect(e.unitsInColumn).toBe(unitColumns && fits);
      copy.copyFrom(e);
      expect([copy.available, copy.locked]).toEqual([a.available[e.asset], a.locked[e.asset]]);
    },
    unitColumns,
  });
  for (let asset = 0; asset < a.available.length; asset++) {
    written.length = 0;
    publishBalance(state, 1, a, asset, sink(true));
    publishBalance(state, 1, a, asset, sink(false));
    expect(written[0]).toEqual(written[2]);
    expect(written[1]).toEqual(written[3]);
    expect(written[0]).toEqual(written[1]);
  }
}
