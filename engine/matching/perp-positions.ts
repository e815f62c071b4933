// P1 / O1 reduceOnly at fill time: a perpetual market's replica of every account's net position, kept by the matching
// shard that owns the market.
//
// Every change of a perpetual position is a fill in its market, and every fill of a market is made by the one matching
// shard that owns it, in sequence order: so this replica, moved by each fill as the fill is made, is the position at
// that very moment, exact within a batch (risk's own copy lags by the batch: it applies the fills in R2). A reduceOnly
// order is capped by it when it is placed or replaced (the taker) and again each time the book fills it (a resting
// maker): it never fills more than the position it reduces, and a resting reduceOnly order whose position has shrunk,
// closed or flipped since it was placed fills at most what is left of it, or is removed (ReduceOnlyCapped) when
// nothing is. The rule for what comes later (Q3 backstop takeovers, Q4 perp ADL): a position that moves other than by
// a fill of this book must reach this replica too (engine/pipeline/engine.ts, decision RO).
//
// State: in the market's snapshot section and state hash; an account whose position is zero has no entry (bounded by
// the accounts with positions in the market).
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";
import { Side } from "../model/index.ts";
import type { StateHasher } from "./hash.ts";

export class PerpPositionReplica {
  private readonly positions = new Map<number, bigint>();
  /** fokReducible's per-account scratch (what earlier makers of the dry run already used), cleared per dry run. */
  private readonly dryRunUsed = new Map<number, bigint>();

  /** The account's signed net position in base units (0 when none). */
  positionOf(account: number): bigint {
    return this.positions.get(account) ?? 0n;
  }

  /** A fill of `quantity` base units: the taker on `takerSide` against the maker. */
  applyFill(taker: number, takerSide: number, maker: number, quantity: bigint): void {
    const delta = takerSide === Side.Buy ? quantity : -quantity;
    this.move(taker, delta);
    this.move(maker, -delta);
  }

  /**
   * What a reduceOnly order of `account` on `side` may fill now: the part of the position it reduces (a sell reduces
   * a long, a buy a short), rounded down to the step; ≤ 0 when it reduces nothing.
   */
  reducible(account: number, side: number, stepSize: bigint): bigint {
    const position = this.positionOf(account);
    const cap = side === Side.Buy ? -position : position;
    return cap - (cap % stepSize);
  }

  /** Starts a dry run (FOK): fokReducible counts each account's makers against its position once. */
  beginDryRun(): void {
    this.dryRunUsed.clear();
  }

  /** In a dry run: what this reduceOnly maker may fill of `open`, after the account's earlier makers of the run. */
  fokReducible(account: number, side: number, stepSize: bigint, open: bigint): bigint {
    const used = this.dryRunUsed.get(account) ?? 0n;
    let left = this.reducible(account, side, stepSize) - used;
    if (left <= 0n) return 0n;
    if (left > open) left = open;
    this.dryRunUsed.set(account, used + left);
    return left;
  }

  writeSnapshot(w: SnapshotWriter): void {
    const accounts = this.sortedAccounts();
    w.uint(accounts.length);
    for (const a of accounts) {
      w.uint(a);
      w.big(this.positions.get(a)!);
    }
  }

  restoreSnapshot(r: SnapshotReader, maxAccounts: number, what: string): void {
    this.positions.clear();
    const n = r.count(maxAccounts, `${what} positions`);
    let last = -1;
    for (let i = 0; i < n; i++) {
      const account = r.uint();
      const position = r.big();
      if (account <= last) r.fail(`${what}: position accounts out of order (${account} after ${last})`);
      if (position === 0n) r.fail(`${what}: a zero position is not kept (account ${account})`);
      this.positions.set(account, position);
      last = account;
    }
  }

  hashInto(h: StateHasher): void {
    const accounts = this.sortedAccounts();
    h.num(accounts.length);
    for (const a of accounts) {
      h.num(a);
      h.big(this.positions.get(a)!);
    }
  }

  /** Σ of the positions (0: every long has its shorts) — the invariant check's. */
  netSum(): bigint {
    let sum = 0n;
    for (const p of this.positions.values()) sum += p;
    return sum;
  }

  private move(account: number, delta: bigint): void {
    const next = (this.positions.get(account) ?? 0n) + delta;
    if (next === 0n) this.positions.delete(account);
    else this.positions.set(account, next);
  }

  private sortedAccounts(): number[] {
    return [...this.positions.keys()].sort((a, b) => a - b);
  }
}
