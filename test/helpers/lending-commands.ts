// A seeded command stream that exercises the whole risk state, not only the books: the random spot stream
// (random-commands.ts) with manual lend / redeem / borrow / repay, auto-lend and leverage settings, spot-margin
// orders (autoBorrow, autoBorrowRepay, autoLend), mark moves, clock jumps across hour marks (interest, L5/L14) and
// the queries that read margin, pools and interest history. For snapshot and replay tests (X4, X7).
import { AccountSetting, ACCOUNT_SETTING_VALUE_SHIFT, ALL_ASSETS, CommandKind, CommandRecord, OrderFlag } from "../../engine/model/index.ts";
import { CommandGenerator, GENERATOR_ACCOUNTS, prng } from "./random-commands.ts";

const MS_PER_HOUR = 3_600_000;
/** USD marks at start (PRICE_DECIMALS) of USDC, USDT, BTC, ETH, SOL (config/default.json). */
const INITIAL_MARKS = [1_000_000_000n, 1_000_000_000n, 60_000_000_000_000n, 3_000_000_000_000n, 150_000_000_000n];
const ASSETS = [0, 2, 3, 4];

export class LendingCommandGenerator {
  private readonly spot: CommandGenerator;
  private readonly rand: () => number;
  /** Added to the spot generator's clock: the hour jumps this generator makes. */
  private offsetMs = 0;
  /** The last clock time emitted (the spot generator starts at 2026-01-01). */
  private lastTimeMs = 1_767_225_600_000;
  /** Sequence numbers as the spot generator gave them → as re-numbered here (cancels and replaces name orders by seq). */
  private readonly renumbered = new Map<number, number>();
  private seq = 0;

  constructor(seed: number) {
    this.spot = new CommandGenerator(seed);
    this.rand = prng(seed ^ 0x1e4d);
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private number(c: CommandRecord): CommandRecord {
    const own = ++this.seq;
    if (c.seq !== 0) this.renumbered.set(c.seq, own);
    if ((c.kind === CommandKind.CancelOrder || c.kind === CommandKind.ReplaceOrder) && c.orderId !== 0) {
      c.orderId = this.renumbered.get(c.orderId) ?? c.orderId;
    }
    c.seq = own;
    return c;
  }

  funding(): CommandRecord[] {
    return this.spot.funding().map((c) => this.number(c));
  }

  next(): CommandRecord {
    if (this.rand() < 0.3) return this.number(this.lending());
    const c = this.spot.next();
    if (c.kind === CommandKind.AdvanceTime) {
      c.timeMs += this.offsetMs;
      this.lastTimeMs = Math.max(this.lastTimeMs, c.timeMs);
    } else if (c.kind === CommandKind.PlaceOrder && this.rand() < 0.2) {
      c.flags |= this.pick([OrderFlag.AutoBorrow, OrderFlag.AutoBorrow | OrderFlag.AutoBorrowRepay, OrderFlag.AutoLend, OrderFlag.AutoBorrowRepay]);
    }
    return this.number(c);
  }

  private command(kind: CommandKind, account: number): CommandRecord {
    const c = new CommandRecord();
    c.kind = kind;
    c.account = account;
    return c;
  }

  private lending(): CommandRecord {
    const account = this.pick(GENERATOR_ACCOUNTS);
    const r = this.rand();
    const asset = this.pick(ASSETS);
    if (r < 0.3) {
      const c = this.command(CommandKind.Lend, account);
      c.asset = asset;
      c.amount = BigInt(this.int(1, 2_000_000_000));
      return c;
    }
    if (r < 0.4) {
      const c = this.command(CommandKind.Redeem, account);
      c.asset = asset;
      c.amount = this.rand() < 0.3 ? 0n : BigInt(this.int(1, 500_000_000));
      return c;
    }
    if (r < 0.55) {
      const c = this.command(CommandKind.Borrow, account);
      c.asset = asset;
      c.amount = BigInt(this.int(1, 300_000_000));
      return c;
    }
    if (r < 0.62) {
      const c = this.command(CommandKind.Repay, account);
      c.asset = asset;
      c.amount = this.rand() < 0.4 ? 0n : BigInt(this.int(1, 100_000_000));
      return c;
    }
    if (r < 0.7) {
      const c = this.command(CommandKind.UpdateAccountSettings, account);
      const on = this.rand() < 0.4 ? AccountSetting.AutoLend : 0;
      c.flags = AccountSetting.AutoLend | (on << ACCOUNT_SETTING_VALUE_SHIFT);
      c.leverageLimit = this.rand() < 0.3 ? this.int(1, 20) : 0;
      return c;
    }
    if (r < 0.78) {
      const c = this.command(CommandKind.SetMarkPrice, 0);
      c.asset = this.pick([2, 3, 4]);
      c.price = (INITIAL_MARKS[c.asset]! * BigInt(this.int(900, 1100))) / 1000n;
      return c;
    }
    if (r < 0.84) {
      // Across one or two hour marks: the pools charge interest at the batch end (L5).
      const c = this.command(CommandKind.AdvanceTime, 0);
      const jumpMs = this.int(1, 2) * MS_PER_HOUR;
      this.offsetMs += jumpMs;
      this.lastTimeMs += jumpMs;
      c.timeMs = this.lastTimeMs;
      return c;
    }
    if (r < 0.9) return this.command(CommandKind.QueryCollateral, account);
    if (r < 0.95) {
      const c = this.command(CommandKind.QueryInterestHistory, account);
      c.asset = this.rand() < 0.5 ? ALL_ASSETS : asset;
      c.historyLimit = 20;
      return c;
    }
    const c = this.command(CommandKind.QueryMaxBorrow, account);
    c.asset = asset;
    return c;
  }
}
