// The fuzz's stuck lenders (Q5 lender ADL, engine.ts "Q5 lender ADL across shards (as built)"), run in every episode
// with `npm run fuzz -- --stuck-lenders 1` (FuzzRunOptions.stuckLenders; off by default: see below) — two lenders (208, 240:
// risk shard 1 of 2) lend USDT — a pool the traders reach only through auto-lend — and borrow BTC against it near their
// limit, and two borrowers (224, 256: shard 0 of 2) with plenty of USDC borrow the USDT pool up to its throttle,
// each batch what a shard's budget allows (floor(room / K) − 1, pools.ts) until they are within L / 10^5 of it, the
// hours of interest then taking U over it. Once the pool is throttled the lenders borrow BTC near their limit and
// take it out: a BTC pump or USDT's depeg (its mark at $0.70 now and then) makes a lender liquidating while its pool
// refuses the redemption — lender ADL, across shards
// at K = 2 (no USDT borrower on the lenders' shard). A lender whose claim is gone lends again. Its own Rng stream, so
// the main stream's draws are unchanged. Off by default because with K > 1 it also exposes a limitation of the pools'
// per-shard budgets (pools.ts): a liquidating lender whose pool sits just below the throttle redeems at most its
// shard's share of the room per batch, a few units when borrowers hold the pool at the edge, and makes no progress
// for more batches than Q2's bound (seed 3 at 2 × 2: a trader's auto-lent USDT, Q2 broken at step 2963).
import { CommandKind, CommandRecord, OrderFlag } from "../../engine/model/index.ts";
import type { Engine } from "../../engine/pipeline/index.ts";

const USDC = 0;
const USDT = 1;
const BTC = 2;
const RATIO_ONE = 1_000_000_000_000_000_000n;
export const STUCK_LENDERS = [208, 240];
export const USDT_BORROWERS = [224, 256];
const LEND_USDT = 100_000_000_000n; // 100,000 USDT
const BORROWER_USDC = 1_000_000_000_000n; // 1,000,000 USDC

export class StuckLenders {
  private started = false;
  private turn = 0;
  private depegged = false;

  constructor(
    private readonly engine: Engine,
    private readonly next: () => number,
    private readonly cmd: (fields: Partial<CommandRecord>) => CommandRecord,
  ) {}

  /** This step's commands of the scenario, appended to `out`. */
  step(out: CommandRecord[]): void {
    if (!this.started) {
      this.started = true;
      for (const l of STUCK_LENDERS) out.push(this.cmd({ kind: CommandKind.Deposit, account: l, asset: USDT, amount: LEND_USDT }), this.lend(l));
      for (const b of USDT_BORROWERS) out.push(this.cmd({ kind: CommandKind.Deposit, account: b, asset: USDC, amount: BORROWER_USDC }));
      return;
    }
    const pool = this.engine.risk[0]!.pools.pools[USDT]!;
    const throttled = pool.totalBorrowed * RATIO_ONE >= pool.config.throttleUtilizationThreshold * pool.totalLent;
    const liquidating = this.lenderLiquidating();
    if (!throttled && !liquidating) this.borrow(out);
    this.depeg(out, throttled, liquidating);
    for (const l of STUCK_LENDERS) {
      const risk = this.engine.risk.find((r) => r.owns(l))!;
      if (risk.liquidatingAccounts().includes(l)) continue;
      if (risk.poolBalance(l, USDT).lent === 0n && this.next() < 0.05) {
        out.push(this.cmd({ kind: CommandKind.Deposit, account: l, asset: USDT, amount: LEND_USDT }), this.lend(l));
      } else if (throttled && risk.poolBalance(l, USDT).lent > 0n && risk.poolBalance(l, BTC).borrowed === 0n && this.next() < 0.05) {
        const max = risk.maxWithdrawalQuantity(l, BTC, OrderFlag.AutoBorrow).quantity;
        const amount = (max * BigInt(90 + Math.floor(this.next() * 10))) / 100n;
        if (amount > 0n) out.push(this.cmd({ kind: CommandKind.Withdraw, account: l, asset: BTC, amount, flags: OrderFlag.AutoBorrow }));
      }
    }
  }

  /**
   * Is an account with USDT lent liquidating? The borrowers then wait: with K > 1 a liquidating lender redeems at most
   * its shard's share of the room below the throttle per batch (pools.ts), so borrowers holding the pool at the edge
   * starve it (fuzz seed 3 at 2 × 2: Q2 broken at step 2963, a trader's lent USDT redeemed a few units a batch).
   */
  private lenderLiquidating(): boolean {
    for (const r of this.engine.risk) for (const id of r.liquidatingAccounts()) if (r.poolBalance(id, USDT).lent > 0n) return true;
    return false;
  }

  /**
   * USDT's mark: at the throttle, with a lender holding a BTC debt, it sometimes drops to $0.70 (the operator's mark):
   * the lenders' collateral falls and they are liquidating while their pool refuses the redemption; back to $1 once no
   * USDT lender is liquidating.
   */
  private depeg(out: CommandRecord[], throttled: boolean, liquidating: boolean): void {
    const indebted = STUCK_LENDERS.some((l) => this.engine.risk.find((r) => r.owns(l))!.poolBalance(l, BTC).borrowed > 0n);
    if (!this.depegged && throttled && indebted && this.next() < 0.02) {
      this.depegged = true;
      out.push(this.cmd({ kind: CommandKind.SetMarkPrice, asset: USDT, price: 700_000_000n }));
    } else if (this.depegged && !liquidating && this.next() < 0.05) {
      this.depegged = false;
      out.push(this.cmd({ kind: CommandKind.SetMarkPrice, asset: USDT, price: 1_000_000_000n }));
    }
  }

  private lend(account: number): CommandRecord {
    return this.cmd({ kind: CommandKind.Lend, account, asset: USDT, amount: LEND_USDT });
  }

  /** One borrower takes what one shard's budget allows below the throttle; none within L / 10^5 of it (interest does the rest). */
  private borrow(out: CommandRecord[]): void {
    const pool = this.engine.risk[0]!.pools.pools[USDT]!;
    const line = (pool.config.throttleUtilizationThreshold * pool.totalLent + RATIO_ONE - 1n) / RATIO_ONE - 1n;
    const room = line - pool.totalBorrowed;
    if (room * 100_000n < pool.totalLent) return;
    const share = room / BigInt(this.engine.risk.length);
    const amount = share - share / 50n - 2n; // the entry fee and its unit inside the shard's budget
    if (amount <= 0n) return;
    const b = USDT_BORROWERS[this.turn++ % USDT_BORROWERS.length]!;
    out.push(this.cmd({ kind: CommandKind.Borrow, account: b, asset: USDT, amount }));
  }
}
