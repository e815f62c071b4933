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
// P1 openInterestLimit at fill time: the replica also sums the longs (the market's open interest, exact at each fill),
// so a fill that would raise it above the limit is cut to the room left (openInterestCap): R1's check at acceptance
// reads risk's copy, which lags by the batch (two takers accepted in one batch, each under the limit, would together
// go over it) and, with several risk shards, sees only its own accounts' fills.
//
// State: in the market's snapshot section and state hash; an account whose position is zero has no entry (bounded by
// the accounts with positions in the market). The sum of the longs is derived (restore recomputes it).
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";
import { Side } from "../model/index.ts";
import type { StateHasher } from "./hash.ts";

export class PerpPositionReplica {
  private readonly positions = new Map<number, bigint>();
  /** Σ of the long positions: the market's open interest (P1), base units. */
  private longSum = 0n;
  /** fokReducible's per-account scratch (what earlier makers of the dry run already used), cleared per dry run. */
  private readonly dryRunUsed = new Map<number, bigint>();
  /** fokOpenInterestCap's scratch: the positions and the open interest as the dry run's fills left them. */
  private readonly dryRunPositions = new Map<number, bigint>();
  private dryRunLongSum = 0n;

  /** P1: the market's open interest now (Σ longs = Σ shorts), base units. */
  get openInterest(): bigint {
    return this.longSum;
  }

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

  /**
   * P1 at fill time: the largest part of a fill of `quantity` (taker on `takerSide` against `maker`) that leaves the
   * open interest at most `limit` — or where it is, when it is above the limit already — rounded down to the step.
   * The fill raises the longs by max(0, b + q) − max(0, b) + max(0, s − q) − max(0, s) (b, s: the buyer's and the
   * seller's positions), a convex function of q that is 0 at q = 0 and q − R past its last bend, R = max(0, −b) +
   * max(0, s) the part both sides reduce; so it stays within the room (limit − OI, or 0) exactly up to R + room. A
   * fill never raises the longs by more than q, so one with OI + q ≤ limit is whole without looking at positions.
   */
  openInterestCap(taker: number, takerSide: number, maker: number, quantity: bigint, limit: bigint, stepSize: bigint): bigint {
    if (this.longSum + quantity <= limit || taker === maker) return quantity;
    return capToRoom(this.positionOf(taker), this.positionOf(maker), takerSide, this.longSum, quantity, limit, stepSize);
  }

  /** Starts a dry run (FOK): fokReducible counts each account's makers against its position once; fokOpenInterestCap
   * sees the positions and open interest the run's earlier fills left. */
  beginDryRun(): void {
    this.dryRunUsed.clear();
    this.dryRunPositions.clear();
    this.dryRunLongSum = this.longSum;
  }

  /** In a dry run: openInterestCap at the run's positions, then that fill (the cap, ≤ quantity) applied to them. */
  fokOpenInterestCap(taker: number, takerSide: number, maker: number, quantity: bigint, limit: bigint, stepSize: bigint): bigint {
    if (taker === maker) return quantity;
    const takerPosition = this.dryRunPositions.get(taker) ?? this.positionOf(taker);
    const makerPosition = this.dryRunPositions.get(maker) ?? this.positionOf(maker);
    const cap = this.dryRunLongSum + quantity <= limit ? quantity : capToRoom(takerPosition, makerPosition, takerSide, this.dryRunLongSum, quantity, limit, stepSize);
    const delta = takerSide === Side.Buy ? cap : -cap;
    this.dryRunPositions.set(taker, takerPosition + delta);
    this.dryRunPositions.set(maker, makerPosition - delta);
    this.dryRunLongSum += longPart(takerPosition + delta) - longPart(takerPosition) + longPart(makerPosition - delta) - longPart(makerPosition);
    return cap;
  }

  /**
   * In a dry run: a maker of `account` that is not reduceOnly filled `quantity` on the run's side, so the account's
   * later reduceOnly makers of the run reduce that much less (the real match caps them at the position its earlier
   * fills left: ReduceOnlyCapped). Before, the dry run counted only reduceOnly makers, and a FOK filled in part
   * (matching differential, random seed 1678507197).
   */
  fokMakerFilled(account: number, quantity: bigint): void {
    this.dryRunUsed.set(account, (this.dryRunUsed.get(account) ?? 0n) + quantity);
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
    this.longSum = 0n;
    const n = r.count(maxAccounts, `${what} positions`);
    let last = -1;
    for (let i = 0; i < n; i++) {
      const account = r.uint();
      const position = r.big();
      if (account <= last) r.fail(`${what}: position accounts out of order (${account} after ${last})`);
      if (position === 0n) r.fail(`${what}: a zero position is not kept (account ${account})`);
      this.positions.set(account, position);
      this.longSum += longPart(position);
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

  /** Σ of the long positions counted from scratch — the invariant check's (openInterest keeps it incrementally). */
  longsSum(): bigint {
    let sum = 0n;
    for (const p of this.positions.values()) if (p > 0n) sum += p;
    return sum;
  }

  private move(account: number, delta: bigint): void {
    const before = this.positions.get(account) ?? 0n;
    const next = before + delta;
    if (next === 0n) this.positions.delete(account);
    else this.positions.set(account, next);
    if (before > 0n || next > 0n) this.longSum += longPart(next) - longPart(before);
  }

  private sortedAccounts(): number[] {
    return [...this.positions.keys()].sort((a, b) => a - b);
  }
}

function longPart(position: bigint): bigint {
  return position > 0n ? position : 0n;
}

/** openInterestCap's bound past the fast path: min(quantity, R + room) down to the step (see openInterestCap). */
function capToRoom(takerPosition: bigint, makerPosition: bigint, takerSide: number, longSum: bigint, quantity: bigint, limit: bigint, stepSize: bigint): bigint {
  const buyer = takerSide === Side.Buy ? takerPosition : makerPosition;
  const seller = takerSide === Side.Buy ? makerPosition : takerPosition;
  const reduced = (buyer < 0n ? -buyer : 0n) + (seller > 0n ? seller : 0n);
  let cap = reduced + (limit > longSum ? limit - longSum : 0n);
  cap -= cap % stepSize;
  return cap < quantity ? cap : quantity;
}
